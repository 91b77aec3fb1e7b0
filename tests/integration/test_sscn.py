"""SSCN (secure server-to-server transfers, FXP): the replies, and real FXP
between two daemons with mod_ftps, one of them the TLS client of the data
connection (SSCN ON), its peer's certificate verified per TLSVerifyServer
against TLSCACertificateFile."""

import ftplib
import os

import ftpsd
from clients import Raw, expect, ftps, close_quietly
from ftpsd import cert, sha256, sha256_file

MiB = 1 << 20

# The daemon that becomes the TLS client (SSCN ON) trusts the self-signed
# certificate its peer serves (it names IP 127.0.0.1).
CONNECTOR = {"TLSCACertificateFile": cert("selfsigned.pem")}
# The daemon that stays TLS server: its data connection comes from another
# daemon, which cannot resume this control connection's TLS session.
LISTENER_EXTRA = ["TLSOptions NoSessionReuseRequired"]


def _auth(srv):
    r = Raw(srv)
    expect(r.banner, 220, "banner")
    expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
    r.starttls()
    return r


# -- replies -----------------------------------------------------------------

def test_sscn_replies(ctx):
    srv = ctx.server()
    with _auth(srv) as r:
        r.login()
        t = expect(r.cmd("SSCN"), 200, "SSCN")
        assert t == "200 SSCN:SERVER METHOD", "SSCN: %r" % t
        t = expect(r.cmd("SSCN ON"), 200, "SSCN ON")
        assert t == "200 SSCN:CLIENT METHOD", "SSCN ON: %r" % t
        t = expect(r.cmd("SSCN"), 200, "SSCN (query after ON)")
        assert t == "200 SSCN:CLIENT METHOD", "SSCN after ON: %r" % t
        t = expect(r.cmd("SSCN OFF"), 200, "SSCN OFF")
        assert t == "200 SSCN:SERVER METHOD", "SSCN OFF: %r" % t
        expect(r.cmd("SSCN BOGUS"), 501, "SSCN BOGUS")
        expect(r.cmd("SSCN A B"), 504, "SSCN A B")
        t = expect(r.cmd("SSCN"), 200, "SSCN (after the refusals)")
        assert t == "200 SSCN:SERVER METHOD", "SSCN after refusals: %r" % t


def test_sscn_before_login_530(ctx):
    srv = ctx.server()
    with _auth(srv) as r:
        expect(r.cmd("SSCN ON"), 530, "SSCN ON before login")
        expect(r.cmd("SSCN"), 530, "SSCN before login")
        r.login()
        expect(r.cmd("SSCN"), 200, "SSCN after login")


def test_sscn_feat(ctx):
    srv = ctx.server()
    with Raw(srv) as r:
        t = expect(r.cmd("FEAT"), 211, "FEAT")
    feats = [line.strip() for line in t.splitlines()[1:-1]]
    assert "SSCN" in feats, "FEAT lacks SSCN: %r" % feats


# -- FXP -----------------------------------------------------------------------

def _replies(f):
    """Replies on ftplib client f up to and including the first final
    (non-1xx) one; never raises on 4xx/5xx."""
    out = []
    while True:
        line = f.getmultiline()
        out.append(line)
        if not line[:1] == "1":
            return out


def _port_arg(pasv_reply):
    host, port = ftplib.parse227(pasv_reply)
    return "%s,%d,%d" % (host.replace(".", ","), port >> 8, port & 0xff)


def _fxp(connector, listener, to_listener=True, size=2 * MiB,
         name="fxp.bin", swap_modes=False):
    """One FXP transfer.  connector: SSCN ON, PORT (connects, TLS client);
    listener: PASV (accepts, TLS server); swap_modes: the TLS client does
    PASV (accepts) and the TLS server PORT (connects).  to_listener: the
    file goes from connector to listener (else the other way).  Returns
    (source data, destination path, replies of the sender, replies of the
    receiver)."""
    src, dst = (connector, listener) if to_listener else (listener, connector)
    data = os.urandom(size)
    src.home_file(name, data)
    copy = "copy-" + name
    path = os.path.join(dst.home, copy)
    if os.path.exists(path):
        os.unlink(path)
    c = ftps(connector)
    try:
        l = ftps(listener)
    except BaseException:
        close_quietly(c)
        raise
    try:
        for f in (c, l):
            f.voidcmd("TYPE I")
        t = c.sendcmd("SSCN ON")
        assert t == "200 SSCN:CLIENT METHOD", "SSCN ON: %r" % t
        pasv, port = (c, l) if swap_modes else (l, c)
        port.voidcmd("PORT " + _port_arg(pasv.sendcmd("PASV")))
        fs, fd = (c, l) if to_listener else (l, c)
        fd.putcmd("STOR " + copy)
        fs.putcmd("RETR " + name)
        got_d = _replies(fd)
        got_s = _replies(fs)
        # the control connections still work afterwards
        c.voidcmd("NOOP")
        l.voidcmd("NOOP")
    finally:
        close_quietly(c)
        close_quietly(l)
    return data, path, got_s, got_d


def _check_fxp_ok(what, data, path, got_s, got_d):
    assert got_s[-1].startswith("226") and got_d[-1].startswith("226"), \
        "%s: sender replies %r, receiver replies %r" % (what, got_s, got_d)
    assert os.path.exists(path), "%s: no copy on the receiver" % what
    assert sha256_file(path) == sha256(data), \
        "%s: copy differs (%d of %d bytes)" % (what, os.path.getsize(path),
                                               len(data))


def _pair(ctx, connector_tls=None, connector_extra=None,
          listener_extra=LISTENER_EXTRA):
    a = ctx.server(dict(CONNECTOR, **(connector_tls or {})),
                   extra=connector_extra, name="ftpsd-a")
    b = ctx.server(extra=listener_extra, name="ftpsd-b")
    return a, b


def test_sscn_fxp_a_to_b(ctx):
    """A (SSCN ON, PORT) sends 2 MiB to B (PASV): A is the TLS client and
    verifies B's certificate against its TLSCACertificateFile."""
    a, b = _pair(ctx)
    marks = [(s, s.log_mark()) for s in (a, b)]
    data, path, got_s, got_d = _fxp(a, b)
    _check_fxp_ok("FXP A->B", data, path, got_s, got_d)
    for (srv, mark), who in zip(marks, "AB"):
        log = ftpsd.tls_log_since(srv, mark)
        assert "data connection protected" in log, \
            "%s's TLSLog shows no protected data connection:\n%s" \
            % (who, log[-2000:])


def test_sscn_fxp_b_to_a(ctx):
    """Data the other way: B (PASV, TLS server) sends to A (SSCN ON)."""
    a, b = _pair(ctx)
    data, path, got_s, got_d = _fxp(a, b, to_listener=False, name="back.bin")
    _check_fxp_ok("FXP B->A", data, path, got_s, got_d)


def test_sscn_fxp_reverse_roles(ctx):
    """B is the TLS client this time (SSCN ON, PORT) and A, with
    SSCN OFF, the TLS server (both with NoSessionReuseRequired and the CA
    of the other)."""
    a = ctx.server(CONNECTOR, extra=LISTENER_EXTRA, name="ftpsd-a")
    b = ctx.server(CONNECTOR, extra=LISTENER_EXTRA + ["# b"], name="ftpsd-b")
    data, path, got_s, got_d = _fxp(b, a, name="rev.bin")
    _check_fxp_ok("FXP B(SSCN ON)->A", data, path, got_s, got_d)


def test_sscn_fxp_client_side_passive(ctx):
    """The TLS client (A, SSCN ON) in PASV mode accepts the connection from
    B (PORT, TLS server) and still starts the handshake."""
    a, b = _pair(ctx)
    data, path, got_s, got_d = _fxp(a, b, name="swap.bin", swap_modes=True)
    _check_fxp_ok("FXP A(SSCN ON, PASV)->B(PORT)", data, path, got_s, got_d)


def test_sscn_fxp_untrusted_peer_refused(ctx):
    """A trusts only an unrelated CA (ca.pem) while B serves selfsigned.pem:
    the data handshake fails on A (4xx), no copy completes."""
    a, b = _pair(ctx, {"TLSCACertificateFile": cert("ca.pem")})
    data, path, got_s, got_d = _fxp(a, b, size=256 * 1024, name="bad.bin")
    assert got_s[-1][:1] == "4", \
        "A (SSCN ON) with an untrusted peer: want 4xx, got %r (B: %r)" \
        % (got_s, got_d)
    assert not got_d[-1].startswith("226"), \
        "B completed the STOR from an unverified peer: %r" % got_d
    assert not (os.path.exists(path) and
                sha256_file(path) == sha256(data)), \
        "the copy completed despite the failed verification"
    log = ftpsd.tls_log_since(a, (0, 0))
    assert "certificate verify failed" in log, \
        "A's TLSLog does not say why:\n%s" % log[-2000:]


def test_sscn_fxp_verify_server_off(ctx):
    """The same untrusted CA, but TLSVerifyServer off on A: FXP works."""
    a, b = _pair(ctx, {"TLSCACertificateFile": cert("ca.pem"),
                       "TLSVerifyServer": "off"})
    data, path, got_s, got_d = _fxp(a, b, name="noverify.bin")
    _check_fxp_ok("FXP A->B, TLSVerifyServer off", data, path, got_s, got_d)
