#!/bin/sh
# pedestrian-detection application (stand-in)
echo pedestrian-detection
