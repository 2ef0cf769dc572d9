#!/bin/sh
# Dayu backend (stand-in)
cat /opt/dayu/backend/BUILD_INFO
