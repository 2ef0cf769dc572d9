#!/bin/sh
# Dayu face-detection (stand-in)
cat /opt/dayu/face-detection/BUILD_INFO
