#!/bin/sh
# test.sh - from a fresh Debian 12 checkout to the whole test suite:
# installs the dependencies, builds mod_ftps, runs "make check".  The last
# line printed is "N passed, N failed".
set -eu
cd "$(dirname "$0")/.."
sh contrib/deps.sh
./configure
make
make check
