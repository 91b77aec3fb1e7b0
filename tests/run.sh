#!/bin/sh
# run.sh - mod_ftps's test suite: "all" (configure freshness, symbols, Check
# unit tests, a short run of each libFuzzer harness, integration tests
# against the real proftpd, the same against a sanitizer build, and the
# kernel TLS tests in a guest that has kernel TLS), "unit", "fuzz",
# "integration", "asan" or "ktls-vm".  The last line is "N passed, N
# failed".
set -u

what=${1:-all}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
make=${MAKE:-make}
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() {  # count PASSED FAILED
  passed=$((passed + $1))
  failed=$((failed + $2))
}

run_step() {  # run_step NAME COMMAND...: one check
  name=$1
  shift
  if "$@"; then
    count 1 0
  else
    echo "not ok - $name"
    count 0 1
  fi
}

# step NAME COMMAND...: one step of the suite, its name printed as it
# starts and its duration as it ends (CI shows where the time goes)
step() {
  step_name=$1
  shift
  echo "# step $step_name"
  step_t0=$(date +%s)
  "$@"
  echo "# step $step_name: $(($(date +%s) - step_t0))s" \
    "($passed passed, $failed failed so far)"
}

run_unit() {
  if [ "${HAVE_CHECK:-yes}" != "yes" ]; then
    echo "not ok - unit: Check is not installed (apt-get install check)"
    count 0 1
    return
  fi
  sh tests/fixtures/mkcerts.sh "$top/tests/tmp/fixtures" >/dev/null || {
    echo "not ok - unit: cannot generate fixtures"; count 0 1; return; }
  $make -s unit-tests || { echo "not ok - unit: build failed"; count 0 1; return; }
  for t in tests/unit/check_*; do
    case "$t" in *.c) continue ;; esac
    # Check's per-test timeouts (4 s by default) are for hangs, not speed:
    # a busy build machine (a package build, CI) gets five times as long.
    CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-5} \
      FTPS_FIXTURE_DIR="$top/tests/tmp/fixtures" "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    # Check prints "NN%: Checks: N, Failures: F, Errors: E".
    line=$(grep -E 'Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+' "$log" | tail -n 1)
    if [ -z "$line" ]; then
      echo "not ok - $t: no Check summary (crashed? rc=$rc)"
      count 0 1
      continue
    fi
    n=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
    f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
    e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
    count $((n - f - e)) $((f + e))
  done
}

# run_fuzz - each libFuzzer harness of tests/fuzz for FUZZ_CHECK_SECONDS
# (5) from its committed seeds: one check per target, failed by any
# sanitizer report or broken promise; skipped, with the reason, without
# clang and libFuzzer.  FUZZ_TARGETS picks some (default: all).
run_fuzz() {
  targets=${FUZZ_TARGETS:-$(for f in tests/fuzz/fuzz_*.c; do
    basename "$f" .c | sed 's/^fuzz_//'; done)}
  echo "# fuzz: $(echo $targets | wc -w) targets," \
    "${FUZZ_CHECK_SECONDS:-5} s each"
  # shellcheck disable=SC2086
  FUZZ_FRESH=yes MAKE="$make" sh tests/fuzz/run.sh "${FUZZ_CHECK_SECONDS:-5}" \
    $targets 2>&1 | tee "$log"
  count_summary fuzz
}

# count_summary NAME - add the runner's "N passed, N failed" line in $log;
# a missing line (a crash, a guest that never ran the tests) is a failure
count_summary() {
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -z "$line" ]; then
    echo "not ok - $1: the runner printed no summary (see above)"
    count 0 1
    return
  fi
  p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
  f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
  count "$p" "$f"
}

# The runner's lines are shown as each test ends (tee), not at the end.
run_integration() {
  /usr/bin/python3 tests/integration/run.py --module "$top/mod_ftps.so" \
    ${FTPS_TEST_ARGS:-} 2>&1 | tee "$log"
  count_summary integration
}

# run_asan - the integration suite once more, against a module built with
# AddressSanitizer and UndefinedBehaviorSanitizer, the ASan runtime
# preloaded into the daemon only (tests/asan.sh); any sanitizer report is a
# failure.  FTPS_ASAN=no leaves it out.
run_asan() {
  if [ "${FTPS_ASAN:-yes}" = "no" ]; then
    echo "# sanitizers: left out (FTPS_ASAN=no)"
    return
  fi
  sh tests/asan.sh ${FTPS_TEST_ARGS:-} 2>&1 | tee "$log" | sed -u 's/^/[asan] /'
  count_summary "integration under ASan+UBSan"
  if ! grep -q '^asan: no sanitizer report' "$log"; then
    echo "not ok - sanitizers: a report, or no run (see [asan] above)"
    count 0 1
  fi
}

# run_integration_and_asan - both at once: the tests mostly wait (for
# handshakes, timeouts, clients), so on a 2-core machine the two runs
# take little longer than one.  Each daemon has its own free port,
# directory and passive range.  The [asan] lines come as they finish.
run_integration_and_asan() {
  if [ "${FTPS_ASAN:-yes}" = "no" ]; then
    run_integration
    run_asan
    return
  fi
  alog=$(mktemp)
  (sh tests/asan.sh ${FTPS_TEST_ARGS:-} 2>&1 | tee "$alog" |
    sed -u 's/^/[asan] /') &
  apid=$!
  run_integration
  wait "$apid"
  cp "$alog" "$log"
  rm -f "$alog"
  count_summary "integration under ASan+UBSan"
  if ! grep -q '^asan: no sanitizer report' "$log"; then
    echo "not ok - sanitizers: a report, or no run (see [asan] above)"
    count 0 1
  fi
}

# run_ktls_vm - test_ktls once more in a guest whose kernel has kernel TLS
# (contrib/ktls-vm): on this kind of machine the host kernel has none, so
# only there do data connections really take the kernel paths (and
# downloads go by sendfile).  FTPS_KTLS_VM=no leaves it out.
run_ktls_vm() {
  if [ "${FTPS_KTLS_VM:-yes}" = "no" ]; then
    echo "# kernel TLS guest: left out (FTPS_KTLS_VM=no)"
    return
  fi
  dir=$top
  case "$top" in
    # The guest sees the host's files, except these (tmpfs there).
    /tmp/*|/run/*|/var/run/*)
      dir=$(mktemp -d /var/tmp/mod_ftps-ktls.XXXXXX)
      tar -C "$top" --exclude=./tests/tmp -cf - . | tar -C "$dir" -xf - ;;
  esac
  (cd "$dir" && bash contrib/ktls-vm/run.sh -t 1200 -- sh -c \
    'if grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp; then
       exec /usr/bin/python3 tests/integration/run.py -k ktls \
         --module "$PWD/mod_ftps.so"
     fi
     echo "the guest kernel offers no tls ULP"; exit 1') 2>&1 |
    tee "$log" | sed -u 's/^/[kernel TLS guest] /'
  [ "$dir" = "$top" ] || rm -rf "$dir"
  count_summary "kernel TLS guest"
}

case "$what" in
  all)
    step configure run_step configure sh tests/check-configure.sh
    step symbols run_step symbols sh tests/check-symbols.sh mod_ftps.so
    step unit run_unit
    step fuzz run_fuzz
    step "integration and sanitizers" run_integration_and_asan
    step ktls-vm run_ktls_vm
    ;;
  asan)
    step sanitizers run_asan
    ;;
  fuzz)
    run_fuzz
    ;;
  ktls-vm)
    step ktls-vm run_ktls_vm
    ;;
  unit)
    step unit run_unit
    ;;
  integration)
    step integration run_integration
    ;;
  *)
    echo "usage: $0 [all|unit|fuzz|integration|asan|ktls-vm]" >&2
    exit 2
    ;;
esac

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
