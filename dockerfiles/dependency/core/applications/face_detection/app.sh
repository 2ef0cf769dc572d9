#!/bin/sh
# face-detection application (stand-in)
echo face-detection
