#!/bin/sh
# Dayu category-identification (stand-in)
cat /opt/dayu/category-identification/BUILD_INFO
