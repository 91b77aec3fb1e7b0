"""Full sessions under valgrind memcheck: the daemon (master and each
forked session) runs under memcheck while Python ftplib logs in, lists,
downloads, uploads and quits, over TLS 1.2 and 1.3, without and with a
client certificate.  Any memcheck error in any process fails the test.

Leaks are not counted: ProFTPD frees its pools and OpenSSL its state only
when a process ends, which a forked session does with _exit (as designed);
leaks per session are the load test's to see (memory before and after).
"""

import glob
import io
import os
import re

import ftpsd
from clients import ftps, close_quietly, retr_bytes, context, have
from ftpsd import Skip, cert, sha256

VALGRIND = ["valgrind", "--tool=memcheck", "--error-exitcode=99",
            "--leak-check=no", "--track-origins=yes", "--num-callers=30",
            "--child-silent-after-fork=no", "--vgdb=no"]


def _server(ctx, tls=None, extra=None):
    if ftpsd.sanitized():
        raise Skip("valgrind and a sanitizer runtime do not mix: memcheck "
                   "runs in the plain run")
    if not have("valgrind"):
        raise Skip("valgrind is not installed (apt-get install valgrind)")
    srv = ctx.server(tls=tls, extra=extra, start=False, shared=False,
                     name="valgrind")
    srv.vg_logs = os.path.join(srv.dir, "valgrind")
    # The master forks a session after dropping to the User (nobody):
    # valgrind opens the session's log file then, as that user.
    os.mkdir(srv.vg_logs)
    os.chmod(srv.vg_logs, 0o1777)
    srv.launcher = VALGRIND + ["--log-file=%s/vg.%%p" % srv.vg_logs]
    # Every step takes tens of times longer under valgrind.
    srv.start(timeout=180)
    return srv


def _session(srv, version, client_cert=None):
    c = context(version)
    if client_cert:
        c.load_cert_chain(cert(client_cert + ".crt"), cert(client_cert + ".key"))
    data = os.urandom(96 * 1024 + 5)
    srv.home_file("down-%s.bin" % version, data)
    up = os.urandom(64 * 1024 + 3)
    f = ftps(srv, ctx=c)
    try:
        f.sock.settimeout(120)
        listing = []
        f.retrlines("LIST", listing.append)
        got = retr_bytes(f, "down-%s.bin" % version)
        f.storbinary("STOR up-%s.bin" % version, io.BytesIO(up))
        f.quit()
    finally:
        close_quietly(f)
    assert any("down-%s.bin" % version in l for l in listing), listing
    assert sha256(got) == sha256(data), "RETR under valgrind: bytes differ"
    with open(os.path.join(srv.home, "up-%s.bin" % version), "rb") as f_:
        assert sha256(f_.read()) == sha256(up), "STOR: bytes differ"


def _memcheck_clean(srv):
    """Stop the daemon (its sessions have ended) and read every process's
    memcheck log."""
    srv.stop()
    logs = sorted(glob.glob(os.path.join(srv.vg_logs, "vg.*")))
    assert len(logs) >= 2, "valgrind wrote %d logs (master + sessions " \
        "expected): %s" % (len(logs), logs)
    bad = []
    for path in logs:
        text = ftpsd.read_text(path)
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if m is None:
            # A process that was killed writes no summary; the master is
            # stopped with SIGTERM and exits through its handler.
            bad.append("%s: no ERROR SUMMARY:\n%s" % (path, text[-1500:]))
        elif int(m.group(1)) != 0:
            bad.append("%s:\n%s" % (path, text[-6000:]))
    assert not bad, "memcheck:\n" + "\n".join(bad)
    return len(logs)


def test_valgrind_sessions(ctx):
    srv = _server(ctx)
    for version in ("1.2", "1.3"):
        _session(srv, version)
    _memcheck_clean(srv)


def test_valgrind_sessions_client_certificate(ctx):
    srv = _server(ctx, tls={"TLSVerifyClient": "on",
                            "TLSCACertificateFile": cert("ca.pem")})
    for version in ("1.2", "1.3"):
        _session(srv, version, client_cert="client-alice")
    _memcheck_clean(srv)
