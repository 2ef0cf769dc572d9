#!/bin/sh
# Dayu gender-classification (stand-in)
cat /opt/dayu/gender-classification/BUILD_INFO
