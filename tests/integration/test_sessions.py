"""Many transfers on one FTP session: every data connection must resume the
control connection's TLS session, for as long as the session lasts.

* curl, 6 downloads / 6 uploads on one control connection (TLS 1.3 tickets
  are single-use in OpenSSL clients: the server must issue a fresh one
  before each transfer);
* lftp (GnuTLS) mirror and mirror -R of 20 files, TLS 1.2 and 1.3;
* ftplib with session reuse, 50 RETRs on one session;
* a TLS 1.2 session-ID client (no tickets) whose data connection is cut
  without close_notify: the session must stay resumable afterwards.
"""

import filecmp
import ftplib
import os
import socket
import ssl

import ftpsd
from clients import (ReusingFTP_TLS, ftps, close_quietly, retr_bytes,
                     context, run, describe, lftp, CURL_VERSION)
from ftpsd import sha256, sha256_file

N_CURL = 6
CURL_TIMEOUT = 60


def _by_pid(srv, mark):
    """{pid: [messages]} of the TLSLog since mark."""
    out = {}
    for pid, msg in ftpsd.tls_messages(srv, mark):
        out.setdefault(pid, []).append(msg)
    return out


def _one_session(srv, mark, n, what):
    """The TLSLog since mark shows one FTP session (pid) with n resumed,
    protected data connections and nothing else."""
    text = ftpsd.tls_log_since(srv, mark)
    pids = _by_pid(srv, mark)
    ctrl = [p for p, msgs in pids.items()
            if any(m.startswith("control connection protected") for m in msgs)]
    assert len(ctrl) == 1, "%s: want 1 control connection in TLSLog, got " \
        "%d:\n%s" % (what, len(ctrl), text[-3000:])
    msgs = pids[ctrl[0]]
    data = [m for m in msgs if m.startswith("data connection protected")]
    resumed = [m for m in data if ", resumed;" in m]
    assert len(data) == n and len(resumed) == n, \
        "%s: session %s has %d protected data connections, %d resumed; " \
        "want %d resumed:\n%s" % (what, ctrl[0], len(data), len(resumed), n,
                                  "\n".join(msgs)[-3000:])


def _curl_argv(srv, version):
    return ["curl", "-sS", "--ssl-reqd", "-k",
            "--max-time", str(CURL_TIMEOUT - 5),
            "--user", "%s:%s" % (srv.user, srv.password)] \
        + CURL_VERSION[version]


def _url(srv, name):
    return "ftp://%s:%d/%s" % (srv.host, srv.port, name)


# -- curl: several transfers on one control connection ----------------------

def _curl_multi_download(ctx, version):
    ctx.need("curl")
    srv = ctx.server()
    tag = version.replace(".", "")
    argv = _curl_argv(srv, version)
    want = {}
    for i in range(N_CURL):
        name = "cdl%s-%d.bin" % (tag, i)
        data = os.urandom(20000 + 4099 * i)
        srv.home_file(name, data)
        local = os.path.join(srv.client_dir, name)
        want[local] = sha256(data)
        argv += [_url(srv, name), "-o", local]
    mark = srv.log_mark()
    p = run(argv, timeout=CURL_TIMEOUT)
    assert p.returncode == 0, \
        "curl %d downloads, TLS %s: %s" % (N_CURL, version, describe(p))
    for local, h in want.items():
        assert os.path.exists(local), "curl TLS %s: %s missing" \
            % (version, os.path.basename(local))
        assert sha256_file(local) == h, "curl TLS %s: %s differs" \
            % (version, os.path.basename(local))
    _one_session(srv, mark, N_CURL, "curl %d downloads, TLS %s"
                 % (N_CURL, version))


def test_sessions_curl_6_downloads_tls13(ctx):
    _curl_multi_download(ctx, "1.3")


def test_sessions_curl_6_downloads_tls12(ctx):
    _curl_multi_download(ctx, "1.2")


def _curl_multi_upload(ctx, version):
    ctx.need("curl")
    srv = ctx.server()
    tag = version.replace(".", "")
    argv = _curl_argv(srv, version)
    want = {}
    for i in range(N_CURL):
        name = "cup%s-%d.bin" % (tag, i)
        data = os.urandom(30000 + 5003 * i)
        local = srv.client_file(name, data)
        want[name] = sha256(data)
        argv += ["-T", local, _url(srv, name)]
    mark = srv.log_mark()
    p = run(argv, timeout=CURL_TIMEOUT)
    assert p.returncode == 0, \
        "curl %d uploads, TLS %s: %s" % (N_CURL, version, describe(p))
    for name, h in want.items():
        path = os.path.join(srv.home, name)
        assert os.path.exists(path), "curl TLS %s: %s not uploaded" \
            % (version, name)
        assert sha256_file(path) == h, "curl TLS %s: %s differs on the " \
            "server" % (version, name)
    _one_session(srv, mark, N_CURL, "curl %d uploads, TLS %s"
                 % (N_CURL, version))


def test_sessions_curl_6_uploads_tls13(ctx):
    _curl_multi_upload(ctx, "1.3")


# -- lftp mirror (GnuTLS) ----------------------------------------------------

N_MIRROR = 20


def _mirror(ctx, version):
    ctx.need("lftp")
    srv = ctx.server()
    tag = version.replace(".", "")
    down_src = os.path.join(srv.home, "mdown" + tag)
    os.mkdir(down_src, 0o755)
    up_src = os.path.join(srv.client_dir, "mup" + tag)
    os.mkdir(up_src, 0o755)
    for i in range(N_MIRROR):
        size = 0 if i == 0 else 1 + (i * 977) % 12000
        srv.home_file("mdown%s/f%02d.bin" % (tag, i), size=size)
        srv.client_file("mup%s/g%02d.bin" % (tag, i), size=size)
    down_dst = os.path.join(srv.client_dir, "mdown" + tag)
    up_dst = os.path.join(srv.home, "mup" + tag)
    p = lftp(srv, ["mirror mdown%s %s" % (tag, down_dst),
                   "mirror -R %s mup%s" % (up_src, tag)],
             version=version, timeout=90)
    assert p.returncode == 0, \
        "lftp mirror / mirror -R, TLS %s: %s" % (version, describe(p))
    for src, dst, what in ((down_src, down_dst, "mirror"),
                           (up_src, up_dst, "mirror -R")):
        names = sorted(os.listdir(src))
        got = sorted(os.listdir(dst)) if os.path.isdir(dst) else []
        assert got == names, "lftp %s TLS %s: files %r, want %r" \
            % (what, version, got, names)
        match, mismatch, errors = filecmp.cmpfiles(src, dst, names,
                                                   shallow=False)
        assert not mismatch and not errors, \
            "lftp %s TLS %s: differ %r, unreadable %r" \
            % (what, version, mismatch, errors)


def test_sessions_lftp_mirror_tls13(ctx):
    _mirror(ctx, "1.3")


def test_sessions_lftp_mirror_tls12(ctx):
    _mirror(ctx, "1.2")


# -- ftplib: 50 RETRs on one session -----------------------------------------

def _many_retr(ctx, version, n=50):
    srv = ctx.server()
    data = os.urandom(4096)
    srv.home_file("four-k.bin", data)
    mark = srv.log_mark()
    f = ftps(srv, version=version)
    i = 0
    try:
        for i in range(1, n + 1):
            got = retr_bytes(f, "four-k.bin")
            assert got == data, "RETR #%d (TLS %s): %d bytes, content " \
                "differs" % (i, version, len(got))
    except (ftplib.Error, OSError, EOFError) as e:
        raise AssertionError("RETR #%d of %d on one session, TLS %s: %s: %s"
                             % (i, n, version, type(e).__name__, e))
    finally:
        close_quietly(f)
    _one_session(srv, mark, n, "ftplib %d RETRs, TLS %s" % (n, version))


def test_sessions_ftplib_50_retr_tls13(ctx):
    _many_retr(ctx, "1.3")


def test_sessions_ftplib_50_retr_tls12(ctx):
    _many_retr(ctx, "1.2")


# -- an aborted data connection must not break resumption ---------------------

class RecordingFTP_TLS(ReusingFTP_TLS):
    """ReusingFTP_TLS that remembers whether each data connection resumed."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ReusingFTP_TLS.ntransfercmd(self, cmd, rest)
        if isinstance(conn, ssl.SSLSocket):
            self.reused = getattr(self, "reused", []) + [conn.session_reused]
        return conn, size


def _abort_then_resume(ctx, version, tickets):
    srv = ctx.server()
    small = os.urandom(10000)
    srv.home_file("small.bin", small)
    if not os.path.exists(os.path.join(srv.home, "fifty.bin")):
        srv.home_file("fifty.bin", size=50 << 20)
    c = context(version)
    if not tickets:
        c.options |= ssl.OP_NO_TICKET
    f = ftps(srv, cls=RecordingFTP_TLS, ctx=c)
    step = "first RETR"
    try:
        if not tickets:
            assert not f.sock.session.has_ticket, \
                "control session has a ticket despite OP_NO_TICKET"
        assert retr_bytes(f, "small.bin") == small, "first RETR differs"
        assert f.reused == [True], "first data connection did not resume"

        step = "aborted RETR"
        f.voidcmd("TYPE I")
        conn, _ = f.ntransfercmd("RETR fifty.bin")
        got = 0
        while got < (1 << 20):
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += len(chunk)
        # drop the TCP connection under TLS: no close_notify
        socket.socket.shutdown(conn, socket.SHUT_RDWR)
        socket.socket.close(conn)
        conn._sslobj = None
        try:
            resp = f.voidresp()
        except ftplib.error_temp as e:
            resp = str(e)
        except ftplib.error_perm as e:
            raise AssertionError("aborted RETR: got a 5xx reply %s" % e)
        assert resp[:1] in ("2", "4"), "aborted RETR: reply %r" % resp
        assert srv.running(), "proftpd master died after the aborted RETR"

        for i in range(3):
            step = "RETR #%d after the abort" % (i + 1)
            assert retr_bytes(f, "small.bin") == small, step + " differs"
        assert f.reused[-3:] == [True] * 3, \
            "data connections after the abort resumed: %r" % f.reused[-3:]
        f.voidcmd("NOOP")
    except (ftplib.Error, OSError, EOFError) as e:
        raise AssertionError("%s (TLS %s, %s): %s: %s"
                             % (step, version, "tickets" if tickets else
                                "session IDs", type(e).__name__, e))
    finally:
        close_quietly(f)
    assert srv.running(), "proftpd master died"


def test_sessions_abort_session_id_tls12(ctx):
    _abort_then_resume(ctx, "1.2", tickets=False)


def test_sessions_abort_ticket_tls13(ctx):
    _abort_then_resume(ctx, "1.3", tickets=True)
