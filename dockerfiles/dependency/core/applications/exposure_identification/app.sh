#!/bin/sh
# exposure-identification application (stand-in)
echo exposure-identification
