#!/bin/sh
# Dayu age-classification (stand-in)
cat /opt/dayu/age-classification/BUILD_INFO
