#!/bin/sh
# car-detection application (stand-in)
echo car-detection
