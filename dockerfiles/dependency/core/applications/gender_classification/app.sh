#!/bin/sh
# gender-classification application (stand-in)
echo gender-classification
