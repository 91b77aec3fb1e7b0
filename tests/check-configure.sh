#!/bin/sh
# check-configure.sh - the committed configure must be what autoconf makes of
# configure.ac; a stale one would build with yesterday's checks.
set -eu
# autoconf skips an output file newer than its input: use a fresh path.
dir=$(mktemp -d)
tmp="$dir/configure"
trap 'rm -rf "$dir"' EXIT
if ! command -v autoconf >/dev/null 2>&1; then
  echo "not ok - configure: autoconf is not installed"
  exit 1
fi
autoconf -o "$tmp" configure.ac
rm -rf autom4te.cache
if cmp -s "$tmp" configure; then
  echo "ok - configure: up to date with configure.ac"
else
  echo "not ok - configure: stale; run autoconf and commit configure"
  exit 1
fi
