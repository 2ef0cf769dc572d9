#!/bin/sh
# monitor application (stand-in)
echo monitor
