#!/bin/sh
# Dayu car-detection (stand-in)
cat /opt/dayu/car-detection/BUILD_INFO
