"""Concurrent load (issue 13): a small run of contrib/load/load.py, the
driver behind "make load", against the module under test: 20 sessions at
once, TLS 1.3 and TLS 1.2 mixed, 2 rounds each of STOR and RETR checked by
sha256 on both sides, every data connection resuming its control session.
No timing thresholds: every session completes, every byte is verified, no
error, and the master holds as many descriptors after the run as before."""

import os
import sys

from ftpsd import REPO

sys.path.insert(0, os.path.join(REPO, "contrib", "load"))
import load  # noqa: E402

SESSIONS, ROUNDS, SIZE = 20, 2, 256 * 1024


def test_load_concurrent_sessions(ctx):
    srv = ctx.server(start=False, shared=False, name="ftpsd-load")
    load.size_server(srv, SESSIONS)
    srv.start()
    rep = load.run_load(srv, SESSIONS, ROUNDS, SIZE, deadline=200)
    text = load.report_text(rep, os.path.basename(srv.module))
    assert not rep["errors"], "errors:\n" + text
    assert rep["completed"] == SESSIONS, text
    assert rep["bytes_verified"] == 2 * SESSIONS * ROUNDS * SIZE, text
    assert rep["data_connections"] == 2 * SESSIONS * ROUNDS, text
    assert rep["data_resumed"] == rep["data_connections"], text
    assert rep["master_fds_after"] == rep["master_fds_before"], \
        "the master's descriptors are not back to their count:\n" + text
    assert rep["passed"], text
    assert srv.running(), "the daemon is gone after the load"
