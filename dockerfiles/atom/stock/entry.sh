#!/bin/sh
# Stand-in entry point of the Atom-style chain image: prints what each step left behind.
cat /opt/dayu/base /opt/atom/10-base /opt/atom/20-python /opt/atom/30-atom
