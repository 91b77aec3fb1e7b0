#!/bin/sh
# check-symbols.sh - every symbol mod_ftps.so imports must be defined by the
# proftpd executable or a library it loads (plus libssl/libcrypto).  A missing
# one would make "LoadModule mod_ftps.c" fail with a misleading "file not
# found" error (build.md 1.2), so catch it at build time.
set -eu

so=${1:-mod_ftps.so}
daemon=${PROFTPD:-/usr/sbin/proftpd}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --undefined-only "$so" | awk '$1 == "U" { sub(/@.*/, "", $2); print $2 }' |
  sort -u > "$tmp/wanted"

libs=$(ldd "$daemon" | awk '/=>/ { print $3 } /^\t\// { print $1 }')
libs="$libs $(ldd "$so" | awk '/libssl|libcrypto/ { print $3 }')"
for f in "$daemon" $libs; do
  [ -f "$f" ] && nm -D --defined-only "$f" 2>/dev/null |
    awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }'
done | sort -u > "$tmp/have"

comm -23 "$tmp/wanted" "$tmp/have" | grep -v -E '^(_ITM_|__gmon_start__|_Jv_)' \
  > "$tmp/missing" || true

if [ -s "$tmp/missing" ]; then
  echo "not ok - symbols: $so imports symbols nobody defines:"
  sed 's/^/    /' "$tmp/missing"
  exit 1
fi
echo "ok - symbols: every import of $so resolves against $daemon"
