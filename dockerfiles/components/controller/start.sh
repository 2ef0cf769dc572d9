#!/bin/sh
# Dayu controller (stand-in)
cat /opt/dayu/controller/BUILD_INFO
