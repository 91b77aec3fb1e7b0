"""Session notes for LogFormat %{note:...}: FTPS, TLS_PROTOCOL and
TLS_CIPHER, as the client negotiated them, on every command after AUTH (or
after the implicit handshake)."""

import ftplib
import os
import time

from clients import (ReusingFTP_TLS, context, implicit_ftps, close_quietly,
                     ftps,
                     retr_bytes, TIMEOUT)

LOG_LINES = ['LogFormat ftps "%{note:FTPS} %{note:TLS_PROTOCOL} '
             '%{note:TLS_CIPHER} %m"']


def _notes_server(ctx, tls=None):
    srv = ctx.server(tls, start=False, shared=False)
    srv.ext_log = os.path.join(srv.dir, "ext.log")
    srv.append_conf(LOG_LINES + ["ExtendedLog %s ALL ftps" % srv.ext_log])
    srv.start()
    srv.home_file("n.bin", os.urandom(70000))
    return srv


def _log_since(srv, off, want, timeout=5):
    """ext.log lines written after offset off; waits until every command in
    want has a line."""
    deadline = time.time() + timeout
    while True:
        try:
            with open(srv.ext_log) as f:
                f.seek(off)
                lines = f.read().splitlines()
        except OSError:
            lines = []
        cmds = [l.rsplit(" ", 1)[-1] for l in lines]
        if all(w in cmds for w in want) or time.time() > deadline:
            return lines


def _size(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def _check(lines, cmds, proto, cipher, what):
    by_cmd = {}
    for line in lines:
        by_cmd.setdefault(line.rsplit(" ", 1)[-1], []).append(line)
    for c in cmds:
        assert c in by_cmd, "%s: no ext.log line for %s:\n%s" \
            % (what, c, "\n".join(lines))
        for line in by_cmd[c]:
            want = "1 %s %s %s" % (proto, cipher, c)
            assert line == want, "%s: ext.log %r, want %r" % (what, line, want)


def _explicit(ctx, version):
    srv = _notes_server(ctx)
    off = _size(srv.ext_log)
    f = ReusingFTP_TLS(context=context(version), timeout=TIMEOUT)
    try:
        f.connect(srv.host, srv.port)
        f.sendcmd("FEAT")       # before AUTH: no notes yet
        f.auth()
        proto, cipher = f.sock.version(), f.sock.cipher()[0]
        assert proto == "TLSv" + version, proto
        f.login(srv.user, srv.password)
        f.prot_p()
        f.set_mode("pasv")
        assert len(retr_bytes(f, "n.bin")) == 70000
        f.voidcmd("NOOP")
    except (ftplib.Error, OSError, EOFError) as e:
        close_quietly(f)
        raise AssertionError("FTPS session, TLS %s: %s: %s"
                             % (version, type(e).__name__, e))
    close_quietly(f)
    post = ["USER", "PASS", "PBSZ", "PROT", "TYPE", "PASV", "RETR", "NOOP"]
    lines = _log_since(srv, off, post + ["FEAT"])
    _check(lines, post, proto, cipher, "TLS %s" % version)
    # proftpd logs an unset note as an empty field
    feat = [l for l in lines if l.endswith(" FEAT")]
    assert len(feat) == 1 and feat[0].split() == ["FEAT"], \
        "FEAT before AUTH logged as %r, want no notes" % feat


def test_notes_explicit_tls13(ctx):
    _explicit(ctx, "1.3")


def test_notes_explicit_tls12(ctx):
    _explicit(ctx, "1.2")


def test_notes_implicit(ctx):
    srv = _notes_server(ctx, {"TLSOptions": "UseImplicitSSL"})
    for version in ("1.3", "1.2"):
        off = _size(srv.ext_log)
        f = implicit_ftps(srv, version=version, login=False)
        try:
            proto, cipher = f.sock.version(), f.sock.cipher()[0]
            f.login(srv.user, srv.password)
            assert len(retr_bytes(f, "n.bin")) == 70000
        finally:
            close_quietly(f)
        post = ["USER", "PASS", "TYPE", "PASV", "RETR"]
        _check(_log_since(srv, off, post), post, proto, cipher,
               "implicit, TLS %s" % version)


def test_protocols_sees_ftps(ctx):
    """The core's `Protocols` directive sees an FTPS session as "ftps": with
    `Protocols ftps`, a plain login is refused and an FTPS login works."""
    srv = ctx.server({"TLSRequired": "off"}, extra=["Protocols ftps"],
                     shared=False)
    plain = ftplib.FTP()
    plain.connect("127.0.0.1", srv.port, timeout=10)
    try:
        try:
            plain.login(srv.user, srv.password)
            raise AssertionError("plain login accepted under Protocols ftps")
        except ftplib.error_perm as e:
            assert str(e).startswith("530"), "plain login: want 530, got %s" % e
    finally:
        close_quietly(plain)
    f = ftps(srv)
    try:
        assert f.pwd(), "PWD after an FTPS login"
    finally:
        close_quietly(f)


def test_notes_tls_server_name(ctx):
    """A client that sends SNI (connecting by name) gets TLS_SERVER_NAME."""
    srv = ctx.server(start=False, shared=False)
    srv.ext_log = os.path.join(srv.dir, "ext-sni.log")
    srv.append_conf(['LogFormat sni "%{note:TLS_SERVER_NAME} %m"',
                     "ExtendedLog %s ALL sni" % srv.ext_log])
    srv.start()
    off = _size(srv.ext_log)
    f = ReusingFTP_TLS(context=context("1.3"), timeout=TIMEOUT)
    try:
        f.connect("localhost", srv.port)
        f.auth()
        f.login(srv.user, srv.password)
        f.voidcmd("NOOP")
    finally:
        close_quietly(f)
    lines = [l for l in _log_since(srv, off, ["NOOP"]) if l.endswith("NOOP")]
    assert lines and lines[-1] == "localhost NOOP", \
        "ext.log NOOP line %r, want 'localhost NOOP'" % lines


def test_required_in_global(ctx):
    """TLSRequired in <Global> applies to the server: USER before AUTH is
    refused with 550."""
    from clients import Raw, expect
    srv = ctx.server({"TLSRequired": None},
                     extra=["<Global>", "  TLSRequired on", "</Global>"],
                     shared=False)
    with Raw(srv) as r:
        expect(r.banner, 220, "banner")
        expect(r.cmd("USER %s" % srv.user), 550, "USER before AUTH")
