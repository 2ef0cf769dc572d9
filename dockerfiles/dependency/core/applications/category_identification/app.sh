#!/bin/sh
# category-identification application (stand-in)
echo category-identification
