#!/bin/sh
# Dayu processor entry point (stand-in), shared by every processor
cat /opt/dayu/*/BUILD_INFO
