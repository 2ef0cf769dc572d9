#!/bin/sh
# Dayu vehicle-detection (stand-in)
cat /opt/dayu/vehicle-detection/BUILD_INFO
