"""Control channel: loading, AUTH, PBSZ/PROT, FEAT/HELP, TLSRequired,
protocol versions and openssl s_client."""

import re
import ssl

from clients import Raw, expect, s_client, ftps, close_quietly
from ftpsd import Skip

OFF = {"TLSRequired": "off"}


def _auth(srv, mech="TLS", version=None):
    r = Raw(srv)
    expect(r.banner, 220, "banner")
    expect(r.cmd("AUTH " + mech), 234, "AUTH " + mech)
    r.starttls(version)
    return r


# -- loading -----------------------------------------------------------------

def test_load_config_check(ctx):
    srv = ctx.server(start=False, shared=False)
    rc, out = srv.check()
    assert rc == 0, "proftpd -t failed (rc %d):\n%s" % (rc, out)


def test_load_version_listed(ctx):
    srv = ctx.server(start=False, shared=False)
    rc, out = srv.version_info()
    assert rc == 0, "proftpd -vv failed (rc %d):\n%s" % (rc, out)
    pat = r"^\s+%s/\S+" % re.escape(srv.modname)
    assert re.search(pat, out, re.M), \
        "no '%s/<version>' under Loaded modules:\n%s" % (srv.modname, out)


# -- AUTH --------------------------------------------------------------------

def _auth_then_login(ctx, mech):
    srv = ctx.server()
    with _auth(srv, mech) as r:
        r.login()
        expect(r.cmd("PWD"), 257, "PWD over TLS after AUTH " + mech)


def test_auth_tls(ctx):
    _auth_then_login(ctx, "TLS")


def test_auth_tls_c(ctx):
    _auth_then_login(ctx, "TLS-C")


def test_auth_lowercase_tls(ctx):
    _auth_then_login(ctx, "tls")


def test_auth_second_503(ctx):
    srv = ctx.server()
    with _auth(srv) as r:
        expect(r.cmd("AUTH TLS"), 503, "second AUTH TLS")


def test_auth_unknown_504(ctx):
    srv = ctx.server()
    with Raw(srv) as r:
        expect(r.cmd("AUTH FOO"), 504, "AUTH FOO")
        # still usable afterwards
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS after AUTH FOO")


def test_auth_no_argument_504(ctx):
    srv = ctx.server()
    with Raw(srv) as r:
        expect(r.cmd("AUTH"), 504, "AUTH without argument")


def test_auth_without_certificate_refused_at_start(ctx):
    """TLSEngine on without a certificate: mod_ftps never runs a daemon
    whose AUTH would get 431 and whose logins would go on in clear; the
    startup stops, naming the directive (issue 11, item 11)."""
    srv = ctx.server(tls={"TLSRSACertificateFile": None}, shared=False,
                     start=False)
    rc, out = srv.check()
    assert rc != 0 and "TLSEngine" in out and "no certificate" in out, \
        "server with TLSEngine on and no certificate: want proftpd -t to " \
        "refuse it, naming TLSEngine (rc %d):\n%s" % (rc, out[-1500:])


def test_auth_pipelined_plaintext_discarded(ctx):
    """AUTH TLS and USER in one write: USER must not survive the upgrade."""
    srv = ctx.server(OFF)
    with Raw(srv) as r:
        r.send("AUTH TLS\r\nUSER %s\r\n" % srv.user)
        expect(r.reply(), 234, "AUTH TLS (pipelined with USER)")
        if r.buf:
            raise AssertionError("server answered the pipelined USER in "
                                 "plaintext: %r" % r.buf)
        try:
            r.starttls()
        except (ssl.SSLError, OSError) as e:
            raise AssertionError("handshake after pipelined AUTH failed: %s"
                                 % e)
        code, text = r.cmd("PWD")
        if code in (331, 230):
            raise AssertionError("first reply over TLS answers the pipelined "
                                 "plaintext USER: %r" % text)
        expect((code, text), 530, "PWD before login (first TLS reply)")


def test_auth_failed_handshake_no_fallback(ctx):
    """Plaintext after 234 -> connection closed (maybe 421), never 331."""
    srv = ctx.server(OFF)
    with Raw(srv) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.send("USER %s\r\n" % srv.user)
        data, eof = r.read_all(timeout=10)
        text = data.decode(errors="replace")
        if re.search(r"^33[01]", text, re.M):
            raise AssertionError("plaintext fallback after failed handshake: "
                                 "%r" % text)
        assert eof, "connection still open 10s after a failed handshake " \
            "(got %r)" % text
        for line in text.splitlines():
            assert line.startswith("421"), "unexpected reply %r" % line


def test_auth_stalled_handshake_timeout(ctx):
    """A client that stalls after 234 is dropped after TLSTimeoutHandshake,
    and other sessions are not affected meanwhile."""
    import time
    srv = ctx.server({"TLSRequired": "off", "TLSTimeoutHandshake": "2"},
                     shared=False)
    with Raw(srv) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        start = time.time()
        with _auth(srv) as other:
            other.login()
            expect(other.cmd("PWD"), 257, "PWD in another session")
        data, eof = r.read_all(timeout=15)
        waited = time.time() - start
        assert eof, "stalled handshake still open after %.1fs" % waited
        assert waited >= 1.5, "dropped too early (%.1fs)" % waited
        text = data.decode(errors="replace")
        assert not re.search(r"^[23]\d\d", text, re.M), \
            "reply after a stalled handshake: %r" % text


# -- PBSZ / PROT -------------------------------------------------------------

def test_pbsz_prot_replies(ctx):
    srv = ctx.server(OFF)
    with _auth(srv) as r:
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ 0")
        t = expect(r.cmd("PBSZ 16"), 200, "PBSZ 16")
        assert "PBSZ=0" in t, "PBSZ 16: expected 'PBSZ=0' in %r" % t
        expect(r.cmd("PROT P"), 200, "PROT P")
        expect(r.cmd("PROT C"), 200, "PROT C (TLSRequired off)")
        expect(r.cmd("PROT S"), 536, "PROT S")
        expect(r.cmd("PROT E"), 536, "PROT E")
        expect(r.cmd("PROT X"), 504, "PROT X")


def test_pbsz_prot_before_auth_refused(ctx):
    srv = ctx.server(OFF)
    with Raw(srv) as r:
        expect(r.cmd("PBSZ 0"), range(500, 600), "PBSZ 0 before AUTH")
        expect(r.cmd("PROT P"), range(500, 600), "PROT P before AUTH")
        r.login()
        expect(r.cmd("PBSZ 0"), range(500, 600), "PBSZ 0 on a plain login")
        expect(r.cmd("PROT P"), range(500, 600), "PROT P on a plain login")


# -- FEAT / HELP -------------------------------------------------------------

def test_feat_lists_tls(ctx):
    srv = ctx.server()
    with Raw(srv) as r:
        t = expect(r.cmd("FEAT"), 211, "FEAT before AUTH")
    feats = [line.strip() for line in t.splitlines()[1:-1]]
    for want in ("AUTH TLS", "PBSZ", "PROT"):
        assert any(f == want or f.startswith(want + " ") for f in feats), \
            "FEAT lacks %r: %r" % (want, feats)


def test_help_lists_tls(ctx):
    srv = ctx.server()
    with _auth(srv) as r:
        r.login()
        t = expect(r.cmd("HELP"), 214, "HELP")
    for want in ("AUTH", "PBSZ", "PROT"):
        assert re.search(r"\b%s\b" % want, t), "HELP lacks %s: %r" % (want, t)


# -- TLSRequired -------------------------------------------------------------

def test_required_on_user_550(ctx):
    srv = ctx.server()
    with Raw(srv) as r:
        expect(r.cmd("USER " + srv.user), 550, "USER before AUTH")
        expect(r.cmd("PASS " + srv.password), 550, "PASS before AUTH")


def test_required_on_passlist(ctx):
    """SYST, FEAT, CLNT, HOST are allowed before AUTH."""
    srv = ctx.server()
    with Raw(srv) as r:
        for cmd in ("SYST", "FEAT", "CLNT mod_ftps-tests", "HOST 127.0.0.1"):
            code, text = r.cmd(cmd)
            assert code != 550 and code < 500, \
                "%s before AUTH: expected success, got %r" % (cmd, text)
        # AUTH is still possible after the pass-list commands
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS after pass-list commands")


def test_required_on_data_522(ctx):
    """PROT C (never sent PROT P): LIST/RETR -> 522 before any data conn."""
    srv = ctx.server()
    srv.home_file("f.txt", b"secret\n")
    with _auth(srv) as r:
        r.login()
        r.sock.settimeout(5)
        for cmd in ("LIST", "NLST", "RETR f.txt", "STOR g.txt"):
            expect(r.cmd("PASV"), 227, "PASV")
            try:
                got = r.cmd(cmd)
            except OSError:
                raise AssertionError("%s with PROT C: no reply within 5s "
                                     "(waiting for a data connection?)" % cmd)
            expect(got, 522, "%s without PROT P" % cmd)


def test_required_on_prot_c_534(ctx):
    srv = ctx.server()
    with _auth(srv) as r:
        r.login()
        expect(r.cmd("PROT C"), 534, "PROT C under TLSRequired on")
        expect(r.cmd("PROT P"), 200, "PROT P")


def _plain_list(srv):
    import ftplib
    f = ftplib.FTP(timeout=10)
    f.connect(srv.host, srv.port)
    try:
        f.login(srv.user, srv.password)
        return f.nlst()
    finally:
        close_quietly(f)


def _tls_clear_list(srv):
    """AUTH TLS, login, PROT C, NLST over a clear data channel."""
    f = ftps(srv, prot_p=False)
    try:
        f.prot_c()
        return f.nlst()
    finally:
        close_quietly(f)


def test_required_off(ctx):
    srv = ctx.server(OFF)
    srv.home_file("x.txt", b"x")
    with Raw(srv) as r:
        expect(r.cmd("USER " + srv.user), 331, "USER before AUTH (off)")
    assert "x.txt" in _plain_list(srv), "plain session NLST lacks x.txt"
    assert "x.txt" in _tls_clear_list(srv), "PROT C NLST lacks x.txt"


def test_required_ctrl(ctx):
    srv = ctx.server({"TLSRequired": "ctrl"})
    srv.home_file("x.txt", b"x")
    with Raw(srv) as r:
        expect(r.cmd("USER " + srv.user), 550, "USER before AUTH (ctrl)")
        expect(r.cmd("PWD"), 550, "PWD before AUTH (ctrl)")
    assert "x.txt" in _tls_clear_list(srv), "PROT C NLST lacks x.txt (ctrl)"


def test_required_data(ctx):
    import ftplib
    srv = ctx.server({"TLSRequired": "data"})
    srv.home_file("x.txt", b"x")
    with Raw(srv) as r:
        expect(r.cmd("USER " + srv.user), 331, "USER before AUTH (data)")
        expect(r.cmd("PASS " + srv.password), 230, "PASS before AUTH (data)")
        r.sock.settimeout(5)
        expect(r.cmd("PASV"), 227, "PASV")
        expect(r.cmd("NLST"), 522, "NLST on a plain session (data)")
    with _auth(srv) as r:
        r.login()
        expect(r.cmd("PROT C"), 534, "PROT C (data)")
    f = ftps(srv)
    try:
        assert "x.txt" in f.nlst(), "PROT P NLST lacks x.txt (data)"
    except ftplib.all_errors as e:
        raise AssertionError("PROT P NLST under TLSRequired data: %s" % e)
    finally:
        close_quietly(f)


def test_required_auth(ctx):
    srv = ctx.server({"TLSRequired": "auth"})
    srv.home_file("x.txt", b"x")
    with Raw(srv) as r:
        expect(r.cmd("USER " + srv.user), 550, "USER before AUTH (auth)")
        expect(r.cmd("SYST"), 215, "SYST before AUTH (auth)")
    assert "x.txt" in _tls_clear_list(srv), "PROT C NLST lacks x.txt (auth)"


# -- protocol versions -------------------------------------------------------

def _old_version_refused(ctx, version):
    ctx.need("openssl")
    srv = ctx.server()
    rc, out = s_client(srv, version, lines=("QUIT",))
    if "no protocols available" in out:
        raise Skip("this openssl cannot offer TLS %s at all" % version)
    assert "CONNECTED(" in out, "s_client did not connect:\n%s" % out[-1500:]
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    if m and m.group(2) != "(NONE)":
        raise AssertionError("TLS %s handshake succeeded: %s"
                             % (version, m.group(0)))
    assert re.search(r"alert|SSL routines|errno", out), \
        "s_client -tls%s: no TLS failure seen:\n%s" % (version, out[-1500:])
    # control: the same server and client do complete a TLS 1.2 handshake
    rc, out = s_client(srv, "1.2", lines=("QUIT",))
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    assert m and m.group(1) == "TLSv1.2", \
        "control handshake at TLS 1.2 failed too:\n%s" % out[-1500:]


def test_tls10_refused(ctx):
    _old_version_refused(ctx, "1.0")


def test_tls11_refused(ctx):
    _old_version_refused(ctx, "1.1")


def _s_client_login(ctx, version):
    ctx.need("openssl")
    srv = ctx.server()
    rc, out = s_client(srv, version, lines=("USER " + srv.user,
                                            "PASS " + srv.password,
                                            "PWD", "QUIT"))
    want = "TLSv1.3" if version == "1.3" else "TLSv1.2"
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    assert m and m.group(1) == want and m.group(2) != "(NONE)", \
        "s_client: no %s handshake:\n%s" % (want, out[-2000:])
    for code in ("331", "230", "257", "221"):
        assert re.search(r"^%s[ -]" % code, out, re.M), \
            "s_client: no %s reply:\n%s" % (code, out[-2000:])


def test_s_client_tls12_login(ctx):
    _s_client_login(ctx, "1.2")


def test_s_client_tls13_login(ctx):
    _s_client_login(ctx, "1.3")
