#!/bin/sh
# age-classification application (stand-in)
echo age-classification
