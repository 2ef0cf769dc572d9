#!/bin/sh
# Dayu model-switch-detection (stand-in)
cat /opt/dayu/model-switch-detection/BUILD_INFO
