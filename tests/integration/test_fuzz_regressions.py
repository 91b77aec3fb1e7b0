"""Defects found while writing the libFuzzer harnesses of tests/fuzz (see
README.md, Fuzzing), each checked here against the real daemon:

* TLSVerifyDepth took an empty value ("") as depth 0, and " 5" or "+5" as
  5 (strtol skips blanks and signs and stops at once on ""); its parser
  now lives in config.c (ftps_config_parse_depth, fuzzed by the
  directives target) and takes digits only."""

import ftpsd
from ftpsd import check_config, line_with


def test_verifydepth_digits_only(ctx):
    for value in ('""', '" 5"', "+5", "-0", "0x10", "101"):
        srv = ctx.server(tls={"TLSVerifyDepth": value}, start=False,
                         shared=False, name="depth")
        rc, out = check_config(srv)
        assert rc != 0, "proftpd -t accepted TLSVerifyDepth %s:\n%s" \
            % (value, out[-2000:])
        assert line_with(out, "TLSVerifyDepth", "0 to 100"), \
            "no line naming TLSVerifyDepth and its range for %s:\n%s" \
            % (value, out[-2000:])

    # The values that mean something still do.
    for value in ("0", "9", "100"):
        srv = ctx.server(tls={"TLSVerifyDepth": value}, start=False,
                         shared=False, name="depth")
        rc, out = check_config(srv)
        assert rc == 0, "proftpd -t refused TLSVerifyDepth %s:\n%s" \
            % (value, out[-2000:])
