#!/bin/sh
# Dayu generator (stand-in)
cat /opt/dayu/generator/BUILD_INFO
