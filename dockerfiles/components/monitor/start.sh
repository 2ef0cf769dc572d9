#!/bin/sh
# Dayu monitor (stand-in)
cat /opt/dayu/monitor/BUILD_INFO
