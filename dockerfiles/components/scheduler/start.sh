#!/bin/sh
# Dayu scheduler (stand-in)
cat /opt/dayu/scheduler/BUILD_INFO
