#!/bin/sh
# model-switch-detection application (stand-in)
echo model-switch-detection
