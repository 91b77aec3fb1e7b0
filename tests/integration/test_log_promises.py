"""TLSLog failures are seen: a TLSLog that cannot be written (a full disk)
is reported in the system log once per run of failures, not silently
dropped (issue 11 item 20), and the sessions go on."""

import time

from clients import ftps, retr_bytes


def _stderr(srv):
    with open(srv.stderr_path, errors="replace") as f:
        return f.read()


def test_log_tls_log_write_failure_reported(ctx):
    # /dev/full: every write fails with ENOSPC, as on a full disk
    srv = ctx.server({"TLSLog": "/dev/full"}, shared=False)
    srv.home_file("f.bin", b"x" * 5000)
    for _ in range(2):
        f = ftps(srv)
        try:
            assert retr_bytes(f, "f.bin") == b"x" * 5000
        finally:
            f.quit()
    deadline = time.time() + 5
    while "TLSLog: cannot write" not in _stderr(srv) and \
            time.time() < deadline:
        time.sleep(0.1)
    text = _stderr(srv)
    lines = [l for l in text.splitlines() if "TLSLog: cannot write" in l]
    assert lines, "no system log line for the failing TLSLog:\n%s" % text
    assert "No space left on device" in lines[0], lines[0]
    # once per session's run of failures, not once per TLSLog line (each
    # session writes several)
    assert len(lines) <= 2, "\n".join(lines)
