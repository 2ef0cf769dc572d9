#!/bin/sh
# Dayu pedestrian-detection (stand-in)
cat /opt/dayu/pedestrian-detection/BUILD_INFO
