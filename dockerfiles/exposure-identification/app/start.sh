#!/bin/sh
# Dayu exposure-identification (stand-in)
cat /opt/dayu/exposure-identification/BUILD_INFO
