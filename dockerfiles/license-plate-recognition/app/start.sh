#!/bin/sh
# Dayu license-plate-recognition (stand-in)
cat /opt/dayu/license-plate-recognition/BUILD_INFO
