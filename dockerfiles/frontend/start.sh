#!/bin/sh
# Dayu frontend (stand-in)
cat /opt/dayu/frontend/BUILD_INFO
