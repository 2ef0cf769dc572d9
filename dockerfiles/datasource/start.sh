#!/bin/sh
# Dayu datasource (stand-in)
cat /opt/dayu/datasource/BUILD_INFO
