#!/bin/sh
# asan.sh - run the integration suite against a mod_ftps.so built with
# AddressSanitizer (and UBSan), loaded into the stock proftpd with the ASan
# runtime preloaded.  Any sanitizer report fails the run.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
build="$top/tests/tmp/asan-build"
logs="$top/tests/tmp/asan-logs"
# A temporary root of its own: make check runs this beside the plain run,
# and the two must not build the same fixtures (certificates, client
# certificate chains) in the same directory at the same time.
scratch="$top/tests/tmp/asan-tmp"
libasan=$(gcc -print-file-name=libasan.so)

rm -rf "$build" "$logs" "$scratch"
mkdir -p "$build" "$logs" "$scratch"
(cd "$top" && tar -cf - configure Makefile.in mod_ftps include) |
  (cd "$build" && tar -xf -)
(cd "$build" && ./configure -q >/dev/null &&
  make -s SANITIZE=address,undefined) || { echo "asan: build failed"; exit 1; }

# Sessions are forked children: each writes its own report file, if any.
# Leak checking is off: proftpd itself never frees its pools at exit.
ASAN_OPTIONS="log_path=$logs/asan:detect_leaks=0:abort_on_error=0:halt_on_error=1" \
UBSAN_OPTIONS="log_path=$logs/ubsan:print_stacktrace=1:halt_on_error=1" \
FTPS_DAEMON_PRELOAD="$libasan" FTPS_SANITIZED=address,undefined \
FTPS_TEST_TMP="$scratch" \
  /usr/bin/python3 "$top/tests/integration/run.py" --module "$build/mod_ftps.so" "$@"
rc=$?

if ls "$logs"/* >/dev/null 2>&1; then
  echo "asan: sanitizer reports:"
  cat "$logs"/*
  exit 1
fi
echo "asan: no sanitizer report"
exit $rc
