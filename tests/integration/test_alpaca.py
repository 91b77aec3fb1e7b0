"""ALPACA and cross-protocol defences (issue 13; README "Security: ALPACA").

ALPN (RFC 7301): a client whose ALPN list does not hold "ftp" is refused
with the no_application_protocol alert (120), on control connections
(explicit AUTH TLS and implicit) and on data connections, also when the
data connection resumes the session; a client that offers no ALPN, or
offers "ftp" (which is then selected), is served.  "ftp" must be a whole
entry ("xftp" or "ftps" do not count).  TLSOptions AllowAnyALPN serves the
others, TLSNextProtocol off still refuses them but no longer answers "ftp".

SNI: off by default, an unknown name is served; TLSOptions StrictSNI
refuses (unrecognized_name, alert 112) a name that is neither a ServerAlias
(namebind) of this address and port nor the ServerName or a ServerAlias of
the server, and a name whose vhost has no TLS, on control and data
connections; IP literals (lftp) and no SNI are served.

Clients: curl, lftp and Python's ftplib send no ALPN (a ClientHello
recorder proves it) and keep working, explicit and implicit.
"""

import io
import os
import re
import socket
import ssl
import threading

import ftpsd
from clients import (ImplicitFTP_TLS, Raw, StockFTP_TLS, context,
                     close_quietly, curl, curl_implicit, describe, expect,
                     ftps, implicit_ftps, lftp, lftp_implicit, retr_bytes,
                     s_client)
from ftpsd import sha256
from test_sni import (DEFAULT, NAMES, assert_session_on, sni_ftps,
                      sni_server)

IMPLICIT = "UseImplicitSSL"
FOREIGN = ("http/1.1", "h2,http/1.1", "imap", "xftp,ftps,FTP")
VERSIONS = ("1.2", "1.3")


# -- helpers -------------------------------------------------------------------

def _server(ctx, opts=(), tls=None, extra=None, shared=True):
    t = dict(tls or {})
    if opts:
        t["TLSOptions"] = " ".join(opts)
    srv = ctx.server(t, extra=extra, shared=shared)
    if "data.bin" not in getattr(srv, "alpaca_files", {}):
        data = os.urandom(123457)
        srv.home_file("data.bin", data)
        srv.alpaca_files = {"data.bin": data}
    return srv


def _sc(srv, implicit, version, extra, lines=("NOOP", "QUIT")):
    """openssl s_client (explicit -starttls ftp, or implicit); output."""
    _, out = s_client(srv, version, lines=lines, extra=list(extra),
                      delay=0.2, starttls=not implicit)
    return out


def _served(out):
    """The handshake completed and the protected session answered."""
    return re.search(r"^New, \S+, Cipher is (?!\(NONE\))", out, re.M) and \
        re.search(r"^200 ", out, re.M) and re.search(r"^221 ", out, re.M)


def _alpn_line(out):
    m = re.search(r"^(ALPN protocol: .*|No ALPN negotiated)$", out, re.M)
    return m.group(1) if m else None


def _alert(out, number, name):
    """s_client reports the fatal alert the server sent."""
    return re.search(r"alert number %d\b|alert %s" % (number, name), out,
                     re.I) is not None


def _tls_log(srv, mark):
    return ftpsd.tls_log_since(srv, mark)


def _alpn_ctx(protocols, version=None):
    c = context(version)
    if protocols:
        c.set_alpn_protocols(protocols)
    return c


def _refused_120(e):
    """Python's text for the no_application_protocol alert (120)."""
    return re.search(r"(?i)no.application.protocol", str(e)) is not None


def _refused_112(e):
    """Python's text for the unrecognized_name alert (112)."""
    return re.search(r"(?i)unrecognized.name", str(e)) is not None


# -- ALPN on control connections, openssl s_client -------------------------------

def _check_alpn_s_client(srv, implicit, what):
    for version in VERSIONS:
        for offer in FOREIGN:
            mark = srv.log_mark()
            out = _sc(srv, implicit, version, ["-alpn", offer])
            assert not _served(out) and _alert(out, 120,
                                               "no application protocol"), \
                "%s, TLS %s, ALPN %s: want the no_application_protocol " \
                "alert and no session:\n%s" % (what, version, offer,
                                               out[-1500:])
            log = _tls_log(srv, mark)
            assert "offers ALPN '%s', without 'ftp': refused" % offer in log, "%s, ALPN %s: no TLSLog line naming " \
                "the offer:\n%s" % (what, offer, log[-1500:])
        for offer in ("ftp", "http/1.1,ftp", "h2,ftp,imap"):
            out = _sc(srv, implicit, version, ["-alpn", offer])
            assert _served(out) and _alpn_line(out) == "ALPN protocol: ftp", \
                "%s, TLS %s, ALPN %s: want a session with ALPN ftp, got " \
                "%r:\n%s" % (what, version, offer, _alpn_line(out),
                             out[-1500:])
        out = _sc(srv, implicit, version, [])
        assert _served(out) and _alpn_line(out) == "No ALPN negotiated", \
            "%s, TLS %s, no ALPN: want a session without ALPN, got %r:\n%s" \
            % (what, version, _alpn_line(out), out[-1500:])
    assert srv.running(), "%s: the daemon is gone" % what


def test_alpaca_alpn_explicit_s_client(ctx):
    """AUTH TLS (-starttls ftp): foreign ALPN lists refused (120), "ftp"
    selected, no ALPN served; TLS 1.2 and 1.3."""
    ctx.need("openssl")
    _check_alpn_s_client(_server(ctx), False, "explicit")


def test_alpaca_alpn_implicit_s_client(ctx):
    """Implicit FTPS: the same, before the banner."""
    ctx.need("openssl")
    _check_alpn_s_client(_server(ctx, [IMPLICIT]), True, "implicit")


# -- ALPN with Python's ssl: control and data connections -------------------------

def _control(srv, implicit, tctx, sni="localhost"):
    """A logged-in Raw with PBSZ 0, PROT P, TYPE I over tctx."""
    if implicit:
        sock = socket.create_connection((srv.host, srv.port), timeout=10)
        r = Raw.__new__(Raw)
        r.server, r.buf = srv, b""
        r.sock = tctx.wrap_socket(sock, server_hostname=sni)
        r.banner = r.reply()
    else:
        r = Raw(srv)
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.sock = tctx.wrap_socket(r.sock, server_hostname=sni)
    r.login()
    for c in ("PBSZ 0", "PROT P", "TYPE I"):
        expect(r.cmd(c), 200, c)
    return r


def _data(r, cmd, offer=None, upload=None, sni="localhost"):
    """One data command over PASV, its handshake resuming r's session and
    offering the ALPN list offer (None: no ALPN; Python resumes only with
    the control connection's context, so the offer is set there): (bytes,
    final reply, handshake error or None)."""
    dctx, session = r.sock.context, r.sock.session
    dctx.set_alpn_protocols(offer or [])
    d = r.pasv()
    r.send(cmd + "\r\n")
    pre = r.reply()
    if pre[0] not in (125, 150):
        d.close()
        return b"", pre, None
    got, err = b"", None
    try:
        d = dctx.wrap_socket(d, server_hostname=sni, session=session)
        if upload is not None:
            d.sendall(upload)
            d = d.unwrap()
        else:
            d.settimeout(20)
            while True:
                chunk = d.recv(65536)
                if not chunk:
                    break
                got += chunk
    except (ssl.SSLError, OSError) as e:
        err = e
    finally:
        d.close()
    return got, r.reply(), err


def _check_data_alpn(srv, implicit, what):
    data = srv.alpaca_files["data.bin"]
    for version in VERSIONS:
        tctx = _alpn_ctx(None, version)
        r = _control(srv, implicit, tctx)
        try:
            for offer in (["http/1.1"], ["h2", "http/1.1"]):
                mark = srv.log_mark()
                got, final, err = _data(r, "RETR data.bin", offer)
                assert not got and final[0] == 425 and err is not None \
                    and _refused_120(err), "%s, TLS %s: RETR over a data " \
                    "connection that resumes the session with ALPN %s: want " \
                    "alert 120, 425 and no bytes; got %d bytes, %r, %s" % (
                        what, version, offer, len(got), final, err)
                assert "data connection: the client offers ALPN '%s', " \
                    "without 'ftp': refused" % ",".join(offer) in \
                    _tls_log(srv, mark), "%s: no TLSLog line for the data " \
                    "connection's ALPN %s" % (what, offer)
                up = os.urandom(4321)
                got, final, err = _data(r, "STOR foreign.bin", offer,
                                        upload=up)
                assert final[0] == 425 and not os.path.exists(
                    os.path.join(srv.home, "foreign.bin")), "%s, TLS %s: " \
                    "STOR with ALPN %s on the data connection: want 425 and " \
                    "no file; got %r, %s" % (what, version, offer, final, err)
            for offer in (["ftp"], ["http/1.1", "ftp"], None):
                got, final, err = _data(r, "RETR data.bin", offer)
                assert final[0] == 226 and got == data and err is None, \
                    "%s, TLS %s: RETR, data connection with ALPN %s: want " \
                    "226 and the file; got %d bytes, %r, %s" % (
                        what, version, offer, len(got), final, err)
            expect(r.cmd("NOOP"), 200, "%s: NOOP after the refusals" % what)
        finally:
            r.close()
    assert srv.running(), "%s: the daemon is gone" % what


def test_alpaca_alpn_python_control(ctx):
    """Python ssl set_alpn_protocols: ["http/1.1"] refused with alert 120
    (explicit and implicit); ["ftp"] selected and the session works."""
    for implicit in (False, True):
        srv = _server(ctx, [IMPLICIT] if implicit else [])
        what = "implicit" if implicit else "explicit"
        for version in VERSIONS:
            try:
                r = _control(srv, implicit, _alpn_ctx(["http/1.1"], version))
                r.close()
                raise AssertionError("%s, TLS %s, ALPN http/1.1: served" % (
                    what, version))
            except ssl.SSLError as e:
                assert _refused_120(e), "%s, TLS %s, ALPN http/1.1: want " \
                    "alert 120, got %s" % (what, version, e)
            r = _control(srv, implicit, _alpn_ctx(["ftp"], version))
            try:
                assert r.sock.selected_alpn_protocol() == "ftp", \
                    "%s, TLS %s: ALPN ftp not selected (%r)" % (
                        what, version, r.sock.selected_alpn_protocol())
                got, final, err = _data(r, "RETR data.bin", ["ftp"])
                assert final[0] == 226 and \
                    got == srv.alpaca_files["data.bin"], \
                    "%s, TLS %s, ALPN ftp: RETR %r %s" % (what, version,
                                                          final, err)
            finally:
                r.close()


def test_alpaca_alpn_data_explicit(ctx):
    """Data connections (explicit FTPS): a resumed data handshake with a
    foreign ALPN list is refused (120, then 425, nothing sent or stored);
    "ftp" or no ALPN transfer the file."""
    _check_data_alpn(_server(ctx), False, "explicit")


def test_alpaca_alpn_data_implicit(ctx):
    """The same under implicit FTPS."""
    _check_data_alpn(_server(ctx, [IMPLICIT]), True, "implicit")


# -- the relaxing options ----------------------------------------------------------

def test_alpaca_alpn_allow_any(ctx):
    """TLSOptions AllowAnyALPN: foreign lists are served without an ALPN
    answer (control and data), "ftp" is still selected; the TLSLog says
    why."""
    ctx.need("openssl")
    for implicit in (False, True):
        opts = ["AllowAnyALPN"] + ([IMPLICIT] if implicit else [])
        srv = _server(ctx, opts)
        what = "AllowAnyALPN, %s" % ("implicit" if implicit else "explicit")
        for version in VERSIONS:
            mark = srv.log_mark()
            out = _sc(srv, implicit, version, ["-alpn", "http/1.1"])
            assert _served(out) and _alpn_line(out) == "No ALPN negotiated", \
                "%s, TLS %s, ALPN http/1.1: want a session without ALPN, " \
                "got %r:\n%s" % (what, version, _alpn_line(out), out[-1500:])
            assert "offers ALPN 'http/1.1', without 'ftp': served " \
                "(TLSOptions AllowAnyALPN)" in _tls_log(srv, mark), \
                "%s: no TLSLog line" % what
            out = _sc(srv, implicit, version, ["-alpn", "http/1.1,ftp"])
            assert _alpn_line(out) == "ALPN protocol: ftp", \
                "%s, TLS %s: ftp not selected: %r" % (what, version,
                                                      _alpn_line(out))
        r = _control(srv, implicit, _alpn_ctx(["http/1.1"]))
        try:
            got, final, err = _data(r, "RETR data.bin", ["http/1.1"])
            assert final[0] == 226 and got == srv.alpaca_files["data.bin"], \
                "%s: data connection with ALPN http/1.1: %r %s" % (
                    what, final, err)
        finally:
            r.close()


def test_alpaca_alpn_next_protocol_off(ctx):
    """TLSNextProtocol off: "ftp" is served but not acknowledged; a
    foreign list is still refused (the refusal is not an answer)."""
    ctx.need("openssl")
    srv = _server(ctx, extra=["TLSNextProtocol off"])
    for version in VERSIONS:
        out = _sc(srv, False, version, ["-alpn", "ftp"])
        assert _served(out) and _alpn_line(out) == "No ALPN negotiated", \
            "TLSNextProtocol off, TLS %s, ALPN ftp: %r" % (version,
                                                           _alpn_line(out))
        out = _sc(srv, False, version, ["-alpn", "http/1.1"])
        assert not _served(out) and _alert(out, 120,
                                           "no application protocol"), \
            "TLSNextProtocol off, TLS %s, ALPN http/1.1: want alert 120:\n%s" \
            % (version, out[-1500:])


def test_alpaca_alpn_allow_any_per_vhost(ctx):
    """AllowAnyALPN on a name-based vhost only: a foreign list with SNI of
    that vhost is served there, without SNI (the default server) it is
    refused."""
    srv = sni_server(ctx, vhost_extra={"a.example": [
        "TLSOptions AllowAnyALPN"]})
    for version in VERSIONS:
        ok = _alpn_ctx(["http/1.1"], version)
        r = Raw(srv)
        try:
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
            r.sock = ok.wrap_socket(r.sock, server_hostname="a.example")
            assert r.sock.selected_alpn_protocol() is None
        finally:
            r.close()
        r = Raw(srv)
        try:
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
            try:
                r.sock = ok.wrap_socket(r.sock, server_hostname="c.example")
                raise AssertionError("TLS %s: ALPN http/1.1 on the default "
                                     "server (no AllowAnyALPN): served"
                                     % version)
            except ssl.SSLError as e:
                assert _refused_120(e), "TLS %s: want alert 120, got %s" % (
                    version, e)
        finally:
            r.close()


# -- the clients we must not break -------------------------------------------------

def _client_hello_alpn(sock):
    """Read one TLS ClientHello from sock: the ALPN names it offers, or
    None when it has no ALPN extension (RFC 8446 section 4.1.2)."""
    buf = b""
    sock.settimeout(15)
    while len(buf) < 5 or len(buf) < 5 + int.from_bytes(buf[3:5], "big"):
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("no ClientHello (got %r)" % buf[:64])
        buf += chunk
    assert buf[0] == 22 and buf[5] == 1, "not a ClientHello: %r" % buf[:16]
    body = buf[9:5 + int.from_bytes(buf[3:5], "big")]
    i = 2 + 32                              # version, random
    i += 1 + body[i]                        # session id
    i += 2 + int.from_bytes(body[i:i + 2], "big")   # cipher suites
    i += 1 + body[i]                        # compression methods
    end = i + 2 + int.from_bytes(body[i:i + 2], "big")
    i += 2
    while i < end:
        typ = int.from_bytes(body[i:i + 2], "big")
        n = int.from_bytes(body[i + 2:i + 4], "big")
        if typ == 16:
            lst, j, names = body[i + 6:i + 4 + n], 0, []
            while j < len(lst):
                names.append(lst[j + 1:j + 1 + lst[j]].decode("latin-1"))
                j += 1 + lst[j]
            return names
        i += 4 + n
    return None


class HelloRecorder:
    """A fake FTPS server on 127.0.0.1 that records the ALPN of the first
    ClientHello it gets (explicit: after "AUTH TLS"; implicit: at once)."""

    def __init__(self, implicit):
        self.implicit = implicit
        self.lsock = socket.create_server(("127.0.0.1", 0))
        self.host, self.port = "127.0.0.1", self.lsock.getsockname()[1]
        self.user, self.password = "u", "p"
        self.result = "no connection"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        self.lsock.settimeout(30)
        try:
            c, _ = self.lsock.accept()
        except OSError:
            return
        try:
            c.settimeout(15)
            if not self.implicit:
                c.sendall(b"220 recorder\r\n")
                line = b""
                while not line.upper().startswith(b"AUTH"):
                    line = b""
                    while not line.endswith(b"\n"):
                        ch = c.recv(1)
                        if not ch:
                            raise AssertionError("no AUTH")
                        line += ch
                    if not line.upper().startswith(b"AUTH"):
                        c.sendall(b"500 no\r\n")
                c.sendall(b"234 go\r\n")
            self.result = ("alpn", _client_hello_alpn(c))
        except (AssertionError, OSError) as e:
            self.result = "error: %s" % e
        finally:
            c.close()

    def alpn(self):
        self.thread.join(40)
        self.lsock.close()
        assert isinstance(self.result, tuple), self.result
        return self.result[1]


def _offers(client, implicit):
    rec = HelloRecorder(implicit)
    try:
        client(rec)
    except Exception:
        pass              # the recorder never answers the handshake
    return rec.alpn()


def test_alpaca_clients_send_no_alpn(ctx):
    """curl, lftp and Python's ftplib (explicit and implicit FTPS) send no
    ALPN extension at all: the default refusal cannot touch them."""
    ctx.need("curl", "lftp")

    def ftplib_explicit(rec):
        f = StockFTP_TLS(context=context(), timeout=10)
        f.connect(rec.host, rec.port)
        f.auth()

    def ftplib_implicit(rec):
        ImplicitFTP_TLS(context=context(), timeout=10).connect(rec.host,
                                                               rec.port)
    clients = {
        "curl": (lambda rec: curl(rec, "/", timeout=15),
                 lambda rec: curl_implicit(rec, "/", timeout=15)),
        "lftp": (lambda rec: lftp(rec, ["ls"], timeout=20),
                 lambda rec: lftp_implicit(rec, ["ls"], timeout=20)),
        "ftplib": (ftplib_explicit, ftplib_implicit),
    }
    for name, (explicit, implicit) in clients.items():
        for mode, fn in (("explicit", explicit), ("implicit", implicit)):
            got = _offers(fn, mode == "implicit")
            assert got is None, "%s (%s FTPS) offers ALPN %r" % (name, mode,
                                                                 got)

    # the recorder itself sees an ALPN list when there is one
    def with_alpn(rec):
        c = _alpn_ctx(["ftp", "http/1.1"])
        c.wrap_socket(socket.create_connection((rec.host, rec.port)))
    got = _offers(with_alpn, True)
    assert got == ["ftp", "http/1.1"], "the recorder read %r" % (got,)


def test_alpaca_clients_still_work(ctx):
    """With the defaults (foreign ALPN refused): curl, lftp and ftplib
    list, download and upload, explicit and implicit."""
    ctx.need("curl", "lftp")
    for implicit in (False, True):
        srv = _server(ctx, [IMPLICIT] if implicit else [])
        what = "implicit" if implicit else "explicit"
        data = srv.alpaca_files["data.bin"]
        out = os.path.join(srv.client_dir, "curl-%s.bin" % what)
        p = (curl_implicit if implicit else curl)(srv, "/data.bin",
                                                  output=out)
        assert p.returncode == 0 and ftpsd.sha256_file(out) == sha256(data), \
            "curl, %s: %s" % (what, describe(p))
        out = os.path.join(srv.client_dir, "lftp-%s.bin" % what)
        up = os.path.join(srv.client_dir, "up-%s.bin" % what)
        ftpsd.write_file(up, os.urandom(7777))
        p = (lftp_implicit if implicit else lftp)(srv, [
            "get data.bin -o %s" % out, "put %s -o lftp-%s.bin" % (up, what)])
        assert p.returncode == 0 and ftpsd.sha256_file(out) == sha256(data) \
            and ftpsd.sha256_file(os.path.join(
                srv.home, "lftp-%s.bin" % what)) == ftpsd.sha256_file(up), \
            "lftp, %s: %s" % (what, describe(p))
        f = implicit_ftps(srv) if implicit else ftps(srv)
        try:
            assert retr_bytes(f, "data.bin") == data, "ftplib, %s" % what
            f.storbinary("STOR ftplib-%s.bin" % what, io.BytesIO(b"x" * 999))
        finally:
            close_quietly(f)


# -- SNI -------------------------------------------------------------------------

def test_alpaca_sni_lenient_by_default(ctx):
    """Without StrictSNI a foreign name (www.example.com) is served, as
    before (README: off by default)."""
    ctx.need("openssl")
    srv = _server(ctx)
    out = _sc(srv, False, None, ["-servername", "www.example.com"])
    assert _served(out), "foreign SNI without StrictSNI refused:\n%s" % \
        out[-1500:]


def _check_strict_sni(srv, implicit, known, what):
    for version in VERSIONS:
        for name in ("www.example.com", "evil.test", "ftp.example.test.evil"):
            mark = srv.log_mark()
            out = _sc(srv, implicit, version, ["-servername", name])
            assert not _served(out) and _alert(out, 112, "unrecognized name"), \
                "%s, TLS %s, SNI %s: want unrecognized_name and no " \
                "session:\n%s" % (what, version, name, out[-1500:])
            assert "control connection: SNI '%s' names no host here: " \
                "handshake refused (TLSOptions StrictSNI)" % name in \
                _tls_log(srv, mark), "%s, SNI %s: no TLSLog line" % (what,
                                                                     name)
        for name in tuple(known) + ("127.0.0.1",):
            out = _sc(srv, implicit, version, ["-servername", name])
            assert _served(out), "%s, TLS %s, SNI %s: want a session:\n%s" \
                % (what, version, name, out[-1500:])
        # no SNI at all (s_client always sends one here)
        _control(srv, implicit, context(version), sni=None).close()


def test_alpaca_strict_sni_single_server(ctx):
    """StrictSNI on a server without vhosts: its ServerAlias and its
    ServerName are known, an IP literal and no SNI are served, anything
    else gets unrecognized_name; explicit and implicit."""
    ctx.need("openssl")
    for implicit in (False, True):
        opts = ["StrictSNI"] + ([IMPLICIT] if implicit else [])
        srv = ctx.server({"TLSOptions": " ".join(opts)}, start=False,
                         shared=False)
        srv.replace_conf("ServerName", 'ServerName "ftp.example.test"')
        srv.append_conf(["ServerAlias ftps.example.test localhost"])
        srv.start()
        _check_strict_sni(srv, implicit, ("ftp.example.test",
                                          "FTPS.example.test", "localhost"),
                          "StrictSNI, %s" % ("implicit" if implicit
                                             else "explicit"))


STRICT_EVERYWHERE = {"tls": {"TLSOptions": "StrictSNI"}, "vhost_extra": {
    n: ["TLSOptions StrictSNI"] for n in NAMES}}


def test_alpaca_strict_sni_vhosts(ctx):
    """StrictSNI (on every server) with name-based vhosts: a.example still
    moves the session to its vhost, c.example is refused (112), no SNI
    stays on the default server; a data connection's SNI is judged by the
    vhost the session is on (a known name passes, a foreign one gets 112
    and 425)."""
    srv = sni_server(ctx, **STRICT_EVERYWHERE)
    for version in VERSIONS:
        f = sni_ftps(srv, "a.example", version=version)
        try:
            assert_session_on(srv, f, "a.example", "StrictSNI, SNI a.example")
        finally:
            close_quietly(f)
        f = sni_ftps(srv, None, version=version)
        try:
            assert_session_on(srv, f, DEFAULT, "StrictSNI, no SNI")
        finally:
            close_quietly(f)
        try:
            f = sni_ftps(srv, "c.example", version=version, login=False,
                         prot_p=False)
            close_quietly(f)
            raise AssertionError("StrictSNI, TLS %s: SNI c.example served"
                                 % version)
        except ssl.SSLError as e:
            assert _refused_112(e), "TLS %s: want alert 112, got %s" % (
                version, e)
        for on in ("a.example", None):
            _check_strict_data(srv, version, on)
    assert srv.running()


def _check_strict_data(srv, version, on):
    """A session on vhost on (None: the default server, no SNI): its data
    connections' SNI under StrictSNI."""
    r = _control(srv, False, context(version), sni=on)
    try:
        data = srv.vh[on or DEFAULT].data
        mark = srv.log_mark()
        got, final, err = _data(r, "RETR data.bin",
                                sni="www.example.com")
        assert not got and final[0] == 425 and err is not None and \
            _refused_112(err), "TLS %s: data connection with SNI " \
            "www.example.com: want 112, 425, no bytes; got %d bytes, " \
            "%r, %s" % (version, len(got), final, err)
        assert "data connection: SNI 'www.example.com' names no host " \
            "here" in _tls_log(srv, mark), "no TLSLog line for the data " \
            "connection's SNI"
        for name in ("a.example", "b.example", "127.0.0.1", None):
            got, final, err = _data(r, "RETR data.bin", sni=name)
            assert final[0] == 226 and got == data, "TLS %s: data " \
                "connection with SNI %s: %r %s" % (version, name, final,
                                                   err)
    finally:
        r.close()


def test_alpaca_strict_sni_clients(ctx):
    """StrictSNI with vhosts: curl and ftplib (no SNI to an IP address) and
    lftp (SNI 127.0.0.1) keep working."""
    ctx.need("curl", "lftp")
    srv = sni_server(ctx, **STRICT_EVERYWHERE)
    data = srv.vh[DEFAULT].data
    out = os.path.join(srv.client_dir, "curl.bin")
    p = curl(srv, "/data.bin", output=out)
    assert p.returncode == 0 and ftpsd.sha256_file(out) == sha256(data), \
        "curl: %s" % describe(p)
    out = os.path.join(srv.client_dir, "lftp.bin")
    p = lftp(srv, ["get data.bin -o %s" % out])
    assert p.returncode == 0 and ftpsd.sha256_file(out) == sha256(data), \
        "lftp: %s" % describe(p)
    f = ftps(srv)
    try:
        assert retr_bytes(f, "data.bin") == data, "ftplib"
    finally:
        close_quietly(f)


def test_alpaca_strict_sni_vhost_without_tls(ctx):
    """StrictSNI: a name whose vhost has TLSEngine off is refused (112)
    instead of staying on the default server's certificate."""
    srv = sni_server(ctx, tls={"TLSOptions": "StrictSNI"}, start=False)
    home = os.path.join(srv.dir, "home-c.example")
    os.mkdir(home, 0o755)
    srv.append_conf(["<VirtualHost 127.0.0.1>", "  Port %d" % srv.port,
                     '  ServerName "vhost c.example"',
                     "  ServerAlias c.example", "  TLSEngine off",
                     "  DefaultRoot " + home, "</VirtualHost>"])
    srv.start()
    for version in VERSIONS:
        mark = srv.log_mark()
        try:
            f = sni_ftps(srv, "c.example", version=version, login=False,
                         prot_p=False)
            close_quietly(f)
            raise AssertionError("StrictSNI, TLS %s: SNI c.example (a vhost "
                                 "without TLS) served" % version)
        except ssl.SSLError as e:
            assert _refused_112(e), "TLS %s: want alert 112, got %s" % (
                version, e)
        assert "SNI 'c.example' names a vhost without TLS: handshake " \
            "refused" in _tls_log(srv, mark), "no TLSLog line"
