#!/bin/sh
# run.sh SECONDS TARGET... - build the libFuzzer harnesses of tests/fuzz
# (make fuzz-build) and run each TARGET (fuzz_TARGET) for SECONDS, from its
# committed seeds (tests/fuzz/corpus/TARGET) plus what earlier runs found
# (tests/tmp/fuzz/TARGET/corpus; FUZZ_FRESH=yes starts it empty).  One
# line per target: "ok - fuzz TARGET: ..." with libFuzzer's executions and
# coverage, or "not ok - ..." with the sanitizer's report and the input
# that caused it (tests/tmp/fuzz/TARGET/crash-*, leak-*, timeout-*).  The
# last line is "N passed, N failed".  Without clang and libFuzzer
# (Debian: clang, libclang-rt-14-dev) every target is skipped, said once.
set -u

if [ $# -lt 2 ]; then
  echo "usage: $0 SECONDS TARGET..." >&2
  exit 2
fi
secs=$1
shift
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
cc=${FUZZ_CC:-clang}
make=${MAKE:-make}
passed=0
failed=0

# The toolchain: a compiler that links libFuzzer with both sanitizers.
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n);\n%s\n' \
  'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d == 0 && n; }' \
  >"$probe/probe.c"
if ! command -v "$cc" >/dev/null 2>&1 ||
   ! "$cc" -fsanitize=fuzzer,address,undefined -o "$probe/probe" \
       "$probe/probe.c" >/dev/null 2>&1; then
  echo "# fuzz: skipped: no $cc with libFuzzer" \
    "(Debian: apt-get install clang libclang-rt-14-dev)"
  echo "0 passed, 0 failed"
  exit 0
fi

if ! $make -s fuzz-build FUZZ_CC="$cc" FUZZ_TARGETS="$*" >"$probe/build" 2>&1; then
  cat "$probe/build"
  echo "not ok - fuzz: the harnesses do not build"
  echo "0 passed, 1 failed"
  exit 1
fi

for t in "$@"; do
  work=tests/tmp/fuzz/$t
  if [ "${FUZZ_FRESH:-no}" = "yes" ]; then
    rm -rf "$work"
  fi
  mkdir -p "$work/corpus"
  rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
  start=$(date +%s)
  # New inputs go to the first directory, never to the committed seeds.
  "tests/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=20 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$work/" \
    "$work/corpus" "tests/fuzz/corpus/$t" >"$work/log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
  cov=$(grep -E '^#[0-9]+' "$work/log" | tail -n 1 |
    sed -nE 's/.*cov: ([0-9]+) ft: ([0-9]+).*/cov: \1 ft: \2/p')
  note=""
  if [ "$t" = handshake ] && [ "$rc" -eq 0 ]; then
    # The recorded client flights must still complete their handshakes
    # (they stop doing so when the server's flight changes: another
    # OpenSSL, another context.c); else the harness fuzzes only the
    # ClientHello, quietly.
    seeds=0
    complete=0
    for f in tests/fuzz/corpus/handshake/*; do
      seeds=$((seeds + 1))
      if FUZZ_VERBOSE=1 tests/fuzz/fuzz_handshake "$f" 2>&1 |
          grep -q '^handshake: done'; then
        complete=$((complete + 1))
      else
        echo "# $f no longer completes its handshake"
      fi
    done
    note=", $complete/$seeds seeds complete their handshake"
    if [ "$complete" -ne "$seeds" ]; then
      echo "# record them again: make fuzz-seeds"
      rc=1
    fi
  fi
  if [ "$rc" -eq 0 ] && grep -q '^Done ' "$work/log" &&
     ! grep -qE 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:' \
       "$work/log"; then
    echo "ok - fuzz $t: ${runs:-?} runs in ${took}s," \
      "${cov:-no coverage line}$note"
    passed=$((passed + 1))
  else
    sed -n '/==ERROR\|runtime error\|broken promise\|deadly signal\|ERROR: libFuzzer/,$p' \
      "$work/log" | head -n 60
    [ -n "$note" ] && echo "# handshake seeds$note"
    echo "not ok - fuzz $t: exit $rc after ${took}s;" \
      "input: $(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* \
        "$work"/oom-* 2>/dev/null | head -n 1); log: $work/log"
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
