#!/bin/sh
# vehicle-detection application (stand-in)
echo vehicle-detection
