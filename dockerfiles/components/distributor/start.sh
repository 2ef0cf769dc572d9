#!/bin/sh
# Dayu distributor (stand-in)
cat /opt/dayu/distributor/BUILD_INFO
