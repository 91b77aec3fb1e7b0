#!/bin/sh
# quickstart.sh - from a fresh Debian 12 checkout to a running FTPS server:
# installs the dependencies, builds mod_ftps, and starts proftpd with it on
# 127.0.0.1 (see contrib/demo.sh for what the demo sets up).
set -eu
cd "$(dirname "$0")/.."
sh contrib/deps.sh
./configure
make
sh contrib/demo.sh
