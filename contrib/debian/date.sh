#!/bin/sh
# date.sh - the changelog's date (RFC 5322): SOURCE_DATE_EPOCH, else the
# last commit's, else configure.ac's modification time; the same tree gives
# the same package.
set -eu
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
  epoch=$SOURCE_DATE_EPOCH
elif epoch=$(git log -1 --format=%ct 2>/dev/null) && [ -n "$epoch" ]; then
  :
else
  epoch=$(stat -c %Y configure.ac)
fi
LC_ALL=C date -u -R -d "@$epoch"
