"""Promises about protected data connections where two features meet:
session binding x CCC (TLS 1.2, 1.3; Python, curl, lftp), client
certificate x CCC, ABOR x close_notify, a close_notify that cannot be sent,
refused TLS 1.2 data handshakes x the session cache."""

import io
import os
import re
import ssl

from clients import (Raw, expect, context, KeepingFTP_TLS, close_quietly,
                     curl, lftp, describe)
from ftpsd import Skip, cert, sha256, sha256_file

CCC_OK = {"TLSRequired": "auth+data"}
CLIENT_CERT = {"TLSRequired": "auth+data", "TLSVerifyClient": "on",
               "TLSCACertificateFile": cert("ca.pem")}
REFUSED = "refusing data connection"


def _tls_log_since(srv, mark):
    """What TLSLog got since mark (a shared server's log holds more)."""
    return srv.log_since(mark, n=10000)


def _cctx(version=None, who=None):
    c = context(version)
    if who:
        c.load_cert_chain(cert("client-%s.crt" % who),
                          cert("client-%s.key" % who))
    return c


def _session_ctrl(srv, version, who=None, tls_ctx=None):
    """AUTH TLS, login, PBSZ 0, PROT P, TYPE I on a Raw client; returns it
    with the TLS session it holds (its last ticket, under TLS 1.3)."""
    r = Raw(srv)
    expect(r.banner, 220, "banner")
    expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
    r.starttls(ctx=tls_ctx or _cctx(version, who))
    r.login()
    expect(r.cmd("PBSZ 0"), 200, "PBSZ 0")
    expect(r.cmd("PROT P"), 200, "PROT P")
    expect(r.cmd("TYPE I"), 200, "TYPE I")
    return r


def _ccc(r):
    """CCC with close_notify both ways; returns the session the client
    held just before (the ticket that came with the CCC reply)."""
    expect(r.cmd("CCC"), 200, "CCC")
    sess = r.sock.session
    r.sock = r.sock.unwrap()
    return sess


def _data_retr(r, name, tls_ctx, session):
    """RETR name over PASV with a TLS data connection (resuming session, if
    any); returns (final reply, bytes, the data connection's session)."""
    data = r.pasv()
    r.send("RETR %s\r\n" % name)
    code, text = r.reply()
    if code not in (125, 150):
        data.close()
        return (code, text), b"", None
    got, dsess = b"", None
    try:
        conn = tls_ctx.wrap_socket(data, server_hostname="localhost",
                                   session=session)
        data = conn
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += chunk
        dsess = conn.session
    except (ssl.SSLError, OSError):
        pass
    finally:
        data.close()
    return r.reply(), got, dsess


# -- 5: after CCC, data connections stay bound to the FTP session ----------

def _ccc_binding(ctx, version):
    srv = ctx.server(CCC_OK)
    data = os.urandom(200 * 1024 + 11)
    srv.home_file("b.bin", data)
    mark = srv.log_mark()
    with _session_ctrl(srv, version) as r:
        tls_ctx = r.sock.context
        sess = _ccc(r)
        assert sess is not None, "no TLS session to resume after CCC"
        reply, got, _ = _data_retr(r, "b.bin", context(version), None)
        assert reply[0] == 425 and got == b"", \
            "TLS %s, after CCC: a data connection that did not resume got " \
            "%r with %d bytes (want 425 and nothing)" % (version, reply,
                                                         len(got))
        for i in range(3):
            reply, got, dsess = _data_retr(r, "b.bin", tls_ctx, sess)
            assert reply[0] == 226 and sha256(got) == sha256(data), \
                "TLS %s, after CCC: RETR #%d resuming the session: %r, %d " \
                "bytes" % (version, i + 1, reply, len(got))
            # What a client that keeps its newest session would use next.
            if dsess is not None and version == "1.3":
                sess = dsess
        expect(r.cmd("PWD"), 257, "PWD in clear")
    log = _tls_log_since(srv, mark)
    assert REFUSED in log and "did not resume" in log, log[-2000:]


def test_promise_ccc_data_must_resume_tls12(ctx):
    _ccc_binding(ctx, "1.2")


def test_promise_ccc_data_must_resume_tls13(ctx):
    _ccc_binding(ctx, "1.3")


def test_promise_ccc_data_ticket_from_other_session_refused(ctx):
    """After CCC, a data connection resuming another FTP session's ticket
    (same server, same ticket keys) is refused."""
    srv = ctx.server(CCC_OK)
    srv.home_file("o.bin", b"x" * 5000)
    shared = _cctx("1.3")
    with _session_ctrl(srv, "1.3", tls_ctx=shared) as other:
        foreign = other.sock.session
        with _session_ctrl(srv, "1.3", tls_ctx=shared) as r:
            _ccc(r)
            reply, got, _ = _data_retr(r, "o.bin", shared, foreign)
            assert reply[0] == 425 and got == b"", \
                "another session's ticket after CCC: %r, %d bytes" \
                % (reply, len(got))


def _ccc_ftplib_many(ctx, version):
    srv = ctx.server(CCC_OK)
    data = os.urandom(150 * 1024 + 5)
    srv.home_file("m.bin", data)
    f = KeepingFTP_TLS(context=context(version), timeout=20)
    f.connect(srv.host, srv.port)
    try:
        f.auth()
        f.login(srv.user, srv.password)
        f.prot_p()
        f.ccc()
        for i in range(4):
            buf = []
            f.retrbinary("RETR m.bin", buf.append)
            assert sha256(b"".join(buf)) == sha256(data), "RETR #%d" % i
        f.storbinary("STOR up.bin", io.BytesIO(data))
        assert sha256_file(os.path.join(srv.home, "up.bin")) == \
            sha256(data), "STOR after CCC differs"
        buf = []
        f.retrbinary("RETR m.bin", buf.append)
        assert sha256(b"".join(buf)) == sha256(data), "RETR after STOR"
    finally:
        close_quietly(f)


def test_promise_ccc_ftplib_many_transfers_tls12(ctx):
    _ccc_ftplib_many(ctx, "1.2")


def test_promise_ccc_ftplib_many_transfers_tls13(ctx):
    _ccc_ftplib_many(ctx, "1.3")


def _ccc_curl_active(ctx, version):
    """curl --ftp-ssl-ccc --ftp-ssl-ccc-mode active: 3 downloads after CCC,
    every data connection resuming (TLS 1.3: each with the ticket the last
    one handed over)."""
    ctx.need("curl")
    srv = ctx.server(CCC_OK)
    want, extra = {}, []
    for i in range(3):
        name = "k%d.bin" % i
        data = os.urandom(90000 + 4099 * i)
        srv.home_file(name, data)
        local = os.path.join(srv.client_dir, "%s-%s" % (version, name))
        want[local] = sha256(data)
        extra += ["ftp://%s:%d/%s" % (srv.host, srv.port, name), "-o", local]
    first = extra[2]
    p = curl(srv, "/k0.bin", output=first, version=version,
             extra=["--ftp-ssl-ccc", "--ftp-ssl-ccc-mode", "active"]
             + extra[3:])
    assert p.returncode == 0, "curl TLS %s: %s" % (version, describe(p))
    for local, h in want.items():
        assert os.path.exists(local) and sha256_file(local) == h, \
            "curl TLS %s: %s missing or differs" % (version, local)


def test_promise_ccc_curl_active_tls12(ctx):
    _ccc_curl_active(ctx, "1.2")


def test_promise_ccc_curl_active_tls13(ctx):
    _ccc_curl_active(ctx, "1.3")


def test_promise_ccc_curl_passive_refused(ctx):
    """curl's default CCC mode sends no close_notify, and OpenSSL then
    marks the client's own session unresumable: its data connections cannot
    resume, and get 425 (README: use --ftp-ssl-ccc-mode active)."""
    ctx.need("curl")
    srv = ctx.server(CCC_OK)
    srv.home_file("p.bin", os.urandom(5000))
    out = os.path.join(srv.client_dir, "p.bin")
    mark = srv.log_mark()
    p = curl(srv, "/p.bin", output=out, extra=["--ftp-ssl-ccc", "-v"])
    assert p.returncode != 0, \
        "curl default CCC mode: want a refusal, got %s" % describe(p)
    log = _tls_log_since(srv, mark)
    assert REFUSED in log and "did not resume" in log, log[-2000:]
    assert "data connection protected" not in log, log[-2000:]


def _ccc_lftp(ctx, version):
    ctx.need("lftp")
    srv = ctx.server(CCC_OK)
    want = {}
    cmds = ["set ftp:ssl-use-ccc true"]
    for i in range(3):
        name = "l%d.bin" % i
        data = os.urandom(70000 + 333 * i)
        srv.home_file(name, data)
        local = os.path.join(srv.client_dir, "%s-%s" % (version, name))
        want[local] = sha256(data)
        cmds.append("get %s -o %s" % (name, local))
    for _ in range(6):
        mark = srv.log_mark()
        p = lftp(srv, cmds, version=version, debug=True)
        err = p.stderr.decode(errors="replace")
        # lftp's own race (also with mod_ftps before this test): it may read
        # the server's close_notify together with the CCC reply, take it for
        # the end of the connection and make no data connection at all.
        log = _tls_log_since(srv, mark)
        if REFUSED in log or "data connection protected" in log:
            break
    else:
        # (seen on a loaded 2-core machine: six races in a row) nothing to
        # judge; the binding after CCC is also checked with ftplib, curl
        # and raw clients above
        raise Skip("lftp made no data connection after CCC in 6 tries "
                   "(its race with the close_notify after the CCC reply)")
    return srv, p, err, want, mark


def _check_lftp(srv, p, err, want, mark):
    assert "CCC" in err, "lftp sent no CCC:\n%s" % err[-2000:]
    if p.returncode == 0:
        for local, h in want.items():
            assert sha256_file(local) == h, local
        log = _tls_log_since(srv, mark)
        assert "control connection cleared (CCC)" in log, log[-2000:]
        assert REFUSED not in log, log[-2000:]
        after = log.split("control connection cleared (CCC)")[-1]
        lines = [l for l in after.splitlines()
                 if "data connection protected" in l]
        assert lines and all(", resumed" in l for l in lines), \
            "lftp after CCC: a data connection accepted unbound:\n%s" % after
        return
    # lftp drops its TLS session with CCC: then every data connection is
    # refused, never accepted unbound.
    log = _tls_log_since(srv, mark)
    assert REFUSED in log and "data connection protected" not in \
        log.split("control connection cleared (CCC)")[-1], log[-3000:]


def test_promise_ccc_lftp_tls12(ctx):
    _check_lftp(*_ccc_lftp(ctx, "1.2"))


def test_promise_ccc_lftp_tls13(ctx):
    _check_lftp(*_ccc_lftp(ctx, "1.3"))


# -- 6: client certificate x CCC -------------------------------------------

def _ccc_client_cert(ctx, version):
    srv = ctx.server(CLIENT_CERT)
    data = os.urandom(100 * 1024 + 1)
    srv.home_file("c.bin", data)
    with _session_ctrl(srv, version, who="alice") as r:
        tls_ctx = r.sock.context
        sess = _ccc(r)
        for i in range(2):
            reply, got, dsess = _data_retr(r, "c.bin", tls_ctx, sess)
            assert reply[0] == 226 and sha256(got) == sha256(data), \
                "TLS %s, client certificate, after CCC: RETR #%d resuming " \
                "the session: %r, %d bytes" % (version, i + 1, reply,
                                               len(got))
            if dsess is not None and version == "1.3":
                sess = dsess
        # Another client certificate on a full handshake: refused.
        reply, got, _ = _data_retr(r, "c.bin", _cctx(version, "bob"), None)
        assert reply[0] == 425 and got == b"", \
            "bob's certificate on alice's data connection: %r" % (reply,)


def test_promise_ccc_client_cert_tls12(ctx):
    _ccc_client_cert(ctx, "1.2")


def test_promise_ccc_client_cert_tls13(ctx):
    _ccc_client_cert(ctx, "1.3")


# -- 19: refused TLS 1.2 data handshakes leave the session cache -------------

def _trace_server(ctx, tls=None, extra=()):
    """A server of this test's own with the ftps trace channel logged."""
    import tempfile
    import ftpsd
    d = tempfile.mkdtemp(prefix="trace-", dir=ftpsd.tmp_root())
    os.chmod(d, 0o755)
    path = os.path.join(d, "trace.log")
    srv = ftpsd.Server(ctx.module, tls=tls, keep=ctx.keep,
                       extra=["TraceLog " + path, "Trace ftps:9"]
                       + list(extra))
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    srv.start()
    return srv, path


def test_promise_refused_tls12_data_sessions_not_cached(ctx):
    srv, trace = _trace_server(ctx)
    srv.home_file("s.bin", b"z" * 3000)
    counts = []
    with _session_ctrl(srv, "1.2") as r:
        for i in range(6):
            reply, got, _ = _data_retr(r, "s.bin", context("1.2"), None)
            assert reply[0] == 425 and got == b"", reply
    with open(trace, errors="replace") as f:
        counts = [int(n) for n in
                  re.findall(r"session cache: (\d+) sessions", f.read())]
    assert len(counts) == 6, "trace lines: %r" % counts
    assert counts[-1] <= counts[0], \
        "6 refused TLS 1.2 data handshakes grew the session cache: %r" \
        % counts
    assert counts[-1] <= 1, \
        "refused data sessions stay cached: %r" % counts


def _cache_counts(trace):
    with open(trace, errors="replace") as f:
        return [int(n) for n in
                re.findall(r"session cache: (\d+) sessions", f.read())]


def test_promise_unresumed_tls12_data_sessions_not_cached(ctx):
    """TLSOptions NoSessionReuseRequired: accepted TLS 1.2 data connections
    that did not resume leave no session behind in the cache either."""
    srv, trace = _trace_server(
        ctx, extra=["TLSOptions NoSessionReuseRequired"])
    data = os.urandom(3000)
    srv.home_file("u.bin", data)
    with _session_ctrl(srv, "1.2") as r:
        for i in range(6):
            reply, got, _ = _data_retr(r, "u.bin", context("1.2"), None)
            assert reply[0] == 226 and got == data, reply
        expect(r.cmd("NOOP"), 200, "NOOP")
    counts = _cache_counts(trace)
    assert len(counts) >= 6 and counts[-1] <= 1, \
        "6 TLS 1.2 data connections without resumption: cache %r" % counts


# -- 15: an aborted download ends without close_notify -----------------------

def _how_ended(e):
    if isinstance(e, ssl.SSLEOFError) or "UNEXPECTED_EOF" in str(e):
        return "eof without close_notify"
    return "%s: %s" % (type(e).__name__, e)


def _data_read(conn):
    """Read conn to its end: (bytes read, "close_notify" or how it ended
    otherwise)."""
    got = 0
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return got, "close_notify"
            got += len(chunk)
    except (ssl.SSLError, OSError) as e:
        return got, _how_ended(e)


def _data_end(conn):
    """Read conn to its end: "close_notify", or how it ended otherwise."""
    return _data_read(conn)[1]


def _abor_download(ctx, version):
    srv = ctx.server(CCC_OK)
    srv.home_file("big.bin", size=64 * 1024 * 1024)
    with _session_ctrl(srv, version) as r:
        sess = r.sock.session
        tls_ctx = r.sock.context
        # Python ignores a missing close_notify by default.
        tls_ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
        data = r.pasv()
        r.send("RETR big.bin\r\n")
        expect(r.reply(), (125, 150), "RETR big.bin")
        conn = tls_ctx.wrap_socket(data, server_hostname="localhost",
                                   session=sess, suppress_ragged_eofs=False)
        got = 0
        while got < 256 * 1024:
            got += len(conn.recv(65536))
        r.send("ABOR\r\n")
        end = _data_end(conn)
        conn.close()
        first = r.reply()
        second = r.reply()
    assert end != "close_notify", \
        "TLS %s: an aborted download ended with close_notify (replies %r, " \
        "%r): the client cannot tell it was cut" % (version, first, second)
    # The RETR fails (426) and ABOR succeeds (226), in either order (the
    # core cannot peek at an ABOR inside TLS, so it answers it first).
    assert sorted((first[0], second[0])) == [226, 426], (first, second)


def test_promise_abor_download_no_close_notify_tls12(ctx):
    _abor_download(ctx, "1.2")


def test_promise_abor_download_no_close_notify_tls13(ctx):
    _abor_download(ctx, "1.3")


# -- 16: a download whose final close_notify cannot be sent failed ----------

# Fault injection in the daemon: while the file CUT_FILE exists (in the
# session's chroot), a write of a TLS close_notify record (24 bytes under TLS 1.3, 31
# under TLS 1.2 with AES-GCM) to a socket finds the socket full (EAGAIN), as
# it would for a client that stopped reading with its buffers full.
CUT_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t write(int fd, const void *buf, size_t len) {
  static ssize_t (*real)(int, const void *, size_t);
  const char *cut = CUT_FILE;
  struct stat st;

  if (real == NULL) {
    real = (ssize_t (*)(int, const void *, size_t)) dlsym(RTLD_NEXT,
      "write");
  }
  if ((len == 24 || len == 31) && cut != NULL && access(cut, F_OK) == 0 &&
      fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
    errno = EAGAIN;
    return -1;
  }
  return real(fd, buf, len);
}
"""


def _shim_server(ctx, source, trigger_in_chroot=True, tls=CCC_OK):
    """A server of this test's own whose daemon runs with the shim compiled
    from source preloaded; returns it and the trigger file that arms the
    shim (CUT_FILE in source: "/cut-now" in the session's chroot, i.e. the
    user's home, or a path outside any chroot)."""
    import subprocess
    import tempfile
    import ftpsd
    ctx.need("gcc")
    d = tempfile.mkdtemp(prefix="shim-", dir=ftpsd.tmp_root())
    os.chmod(d, 0o755)
    src, lib = os.path.join(d, "shim.c"), os.path.join(d, "shim.so")
    with open(src, "w") as f:
        f.write(source)
    srv = ftpsd.Server(ctx.module, tls=tls, keep=ctx.keep)
    if trigger_in_chroot:
        trigger, seen = os.path.join(srv.home, "cut-now"), "/cut-now"
    else:
        trigger = seen = os.path.join(d, "cut-now")
    subprocess.run(["gcc", "-shared", "-fPIC", '-DCUT_FILE="%s"' % seen,
                    "-o", lib, src, "-ldl"],
                   check=True, capture_output=True, timeout=60)
    os.chmod(lib, 0o755)
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    saved = os.environ.get("FTPS_DAEMON_PRELOAD")
    os.environ["FTPS_DAEMON_PRELOAD"] = ((saved or "") + " " + lib).strip()
    try:
        srv.start()
    finally:
        if saved is None:
            os.environ.pop("FTPS_DAEMON_PRELOAD", None)
        else:
            os.environ["FTPS_DAEMON_PRELOAD"] = saved
    return srv, trigger


def _close_notify_cut(ctx, version):
    srv, trigger = _shim_server(ctx, CUT_SHIM)
    size = 8 * 1024 * 1024
    srv.home_file("cut.bin", size=size)
    with _session_ctrl(srv, version) as r:
        sess = r.sock.session
        tls_ctx = r.sock.context
        tls_ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
        data = r.pasv()
        r.send("RETR cut.bin\r\n")
        expect(r.reply(), (125, 150), "RETR cut.bin")
        conn = tls_ctx.wrap_socket(data, server_hostname="localhost",
                                   session=sess, suppress_ragged_eofs=False)
        got = len(conn.recv(65536))
        open(trigger, "w").close()
        more, end = _data_read(conn)
        got += more
        conn.close()
        reply = r.reply()
        os.unlink(trigger)
        after = r.cmd("NOOP")
    log = srv.log()
    assert got == size and end == "eof without close_notify", \
        "TLS %s: %d of %d bytes, ended by %s" % (version, got, size, end)
    assert reply[0] == 426, \
        "TLS %s: the download's final close_notify could not be sent, the " \
        "client saw a cut stream, and the reply was %r (want 426)" \
        % (version, reply)
    assert after[0] == 200, \
        "NOOP after the cut transfer: %r (a held-back reply leaked?)" \
        % (after,)
    assert "final close_notify could not be sent" in log, log[-2000:]


def test_promise_close_notify_unsent_is_426_tls13(ctx):
    _close_notify_cut(ctx, "1.3")


def test_promise_close_notify_unsent_is_426_tls12(ctx):
    _close_notify_cut(ctx, "1.2")


# -- 20: fcntl failures around the control handshake fail closed -----------

# While CUT_FILE exists, making a descriptor non-blocking fails.
FCNTL_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>

static int shim(const char *name, int fd, int cmd, long arg) {
  int (*real)(int, int, ...) = (int (*)(int, int, ...)) dlsym(RTLD_NEXT,
    name);

  if (cmd == F_SETFL && (arg & O_NONBLOCK) && access(CUT_FILE, F_OK) == 0) {
    errno = EINVAL;
    return -1;
  }
  return real(fd, cmd, arg);
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  long arg;

  va_start(ap, cmd);
  arg = va_arg(ap, long);
  va_end(ap);
  return shim("fcntl", fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  long arg;

  va_start(ap, cmd);
  arg = va_arg(ap, long);
  va_end(ap);
  return shim("fcntl64", fd, cmd, arg);
}
"""


def test_promise_ctrl_nonblocking_failure_fails_closed(ctx):
    """If the control socket cannot be made non-blocking for the handshake
    (TLSTimeoutHandshake could not hold), the session ends; TLSLog says
    why."""
    srv, trigger = _shim_server(ctx, FCNTL_SHIM, trigger_in_chroot=False)
    with Raw(srv) as r:
        expect(r.banner, 220, "banner")
        open(trigger, "w").close()
        try:
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
            try:
                r.starttls("1.3")
                outcome = "handshake completed"
            except (ssl.SSLError, OSError) as e:
                outcome = "refused: %s" % e
        finally:
            os.unlink(trigger)
    log = srv.log()
    assert outcome != "handshake completed", \
        "the control handshake ran although the socket could not be made " \
        "non-blocking (TLSTimeoutHandshake would not hold)"
    assert "cannot make the control socket non-blocking" in log, log[-2000:]
