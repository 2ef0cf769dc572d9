#!/bin/sh
# license-plate-recognition application (stand-in)
echo license-plate-recognition
