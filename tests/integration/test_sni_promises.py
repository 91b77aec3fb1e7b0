"""SNI crossed with what can change a session under it (issue 11).

The daemon of test_sni.py: a default server and the name-based vhosts
a.example and b.example on one port, each with its own certificate, home
and AuthUserFile.  Checked here:

- a session ticket (TLS 1.2 and 1.3) resumes only under the vhost whose
  settings authenticated it: one from the default server presented with the
  SNI name of another vhost means a full handshake there (that vhost's
  client-certificate rules apply), never a resumption (RFC 6066 section 3);
  one from a vhost presented under the same name still resumes;
- the vhost's TLSOptions CommonNameRequired / iPAddressRequired apply to a
  session SNI moved there (explicit and implicit FTPS);
- after the move, data connections ask for the vhost's client certificate
  (TLSVerifyClient) also when they do not resume (NoSessionReuseRequired);
- TLSSessionCache off in the vhost: the control session still lives in the
  default server's cache, data connections resume it, and resumption stays
  required;
- the command logged after AUTH is AUTH (not the HOST that SNI dispatched
  in its middle);
- an SNI name with a newline cannot forge a TLSLog line.
"""

import ftplib
import os
import socket
import ssl

import ftpsd
from clients import (context, close_quietly, retr_bytes,
                     _feed, TIMEOUT, ImplicitFTP_TLS)
from test_sni import (DEFAULT, SniFTP_TLS, StockSniFTP_TLS, sni_server,
                      sni_ftps, assert_session_on, _retr_result)

VERSIONS = ("1.2", "1.3")
REFUSED = (ssl.SSLError, OSError, EOFError, ftplib.Error)


def _add_user(srv, key, name, password):
    """Another user in the AuthUserFile of vhost key (home: that vhost's)."""
    path = os.path.join(srv.dir, "passwd-" + key)
    with open(path, "a") as f:
        f.write("%s:%s:%d:%d::%s:/bin/false\n"
                % (name, ftpsd.password_hash(password), ftpsd.UID,
                   ftpsd.GID, srv.vh[key].home))


def _ticket(srv, sni, version, c):
    """A logged-in control connection with SNI sni over context c; returns
    its TLS session once it holds a ticket (TLS 1.3 tickets arrive after
    the handshake: a command's reply brings them)."""
    f = SniFTP_TLS(context=c, timeout=TIMEOUT)
    f.sni = sni
    f.connect(srv.host, srv.port)
    try:
        f.auth()
        f.login(srv.user, srv.password)
        f.voidcmd("NOOP")
        sess = f.sock.session
        assert sess is not None and sess.has_ticket, \
            "SNI %s, TLS %s: the control connection got no ticket" \
            % (sni, version)
        return sess
    finally:
        close_quietly(f)


class _Resuming(SniFTP_TLS):
    """SniFTP_TLS whose control handshake offers a given session."""

    offer = None

    def auth(self):
        resp = self.voidcmd("AUTH TLS")
        self.sock = self.context.wrap_socket(self.sock,
                                             server_hostname=self.sni,
                                             session=self.offer)
        self.file = self.sock.makefile(mode="r", encoding=self.encoding)
        self.data_log = []
        return resp


def _resume(srv, sni, sess, c):
    """A control connection with SNI sni offering sess (AUTH TLS done, not
    logged in)."""
    f = _Resuming(context=c, timeout=TIMEOUT)
    f.sni, f.offer = sni, sess
    f.connect(srv.host, srv.port)
    try:
        f.auth()
    except BaseException:
        close_quietly(f)
        raise
    return f


# -- 1: a ticket never crosses vhosts ---------------------------------------

def test_sni_ticket_from_default_is_not_resumed_by_vhost(ctx):
    """Vhost b has TLSVerifyClient on (CA: a certificate the client does
    not have); the default server asks for none.  A ticket from the default
    server, offered with SNI b.example, must not resume there: the client
    without a certificate is refused (old: TLS 1.3 resumed and logged in to
    b).  Offered with SNI a.example (no client certificates): a full
    handshake, a's certificate and session.  A ticket from a, offered with
    SNI a.example: resumed, a's session."""
    other_ca = ftpsd.cert("client-untrusted.crt")
    srv = sni_server(ctx, vhost_extra={"b.example": [
        "TLSVerifyClient on", "TLSCACertificateFile " + other_ca]})
    for version in ("1.3", "1.2"):
        c = context(version)
        sess = _ticket(srv, None, version, c)
        what = "default server's ticket under SNI b.example, TLS %s" % version
        try:
            f = _resume(srv, "b.example", sess, c)
            try:
                resumed = f.sock.session_reused
                f.login(srv.user, srv.password)
                f.prot_p()
                who = retr_bytes(f, "who.txt")
            finally:
                close_quietly(f)
        except REFUSED:
            pass
        else:
            assert who != srv.vh["b.example"].who, \
                "%s: logged in to b without a client certificate (resumed: " \
                "%s)" % (what, resumed)

        what = "default server's ticket under SNI a.example, TLS %s" % version
        f = _resume(srv, "a.example", sess, c)
        try:
            assert not f.sock.session_reused, \
                "%s: resumed; want a full handshake under a" % what
            f.login(srv.user, srv.password)
            f.prot_p()
            assert_session_on(srv, f, "a.example", what)
        finally:
            close_quietly(f)

        what = "a's ticket under SNI a.example, TLS %s" % version
        sess = _ticket(srv, "a.example", version, c)
        f = _resume(srv, "a.example", sess, c)
        try:
            assert f.sock.session_reused, "%s: not resumed" % what
            f.login(srv.user, srv.password)
            f.prot_p()
            assert_session_on(srv, f, "a.example", what)
        finally:
            close_quietly(f)


def test_sni_ticket_certificate_login_stays_on_its_vhost(ctx):
    """TLSVerifyClient on and TLSUserName CommonName on the default server
    (CA: the fixtures' root, which signed alice) and on vhost b (CA: a
    certificate that signed nothing); user alice exists only on b.  A ticket
    alice's certificate earned on the default server, offered with SNI
    b.example: alice must not log in to b with a wrong password (old: TLS
    1.3 resumed the default server's verification, and the certificate
    logged her in)."""
    common = ["TLSVerifyClient on", "TLSUserName CommonName",
              "AuthOrder mod_tls.c mod_auth_file.c"]
    srv = sni_server(ctx, tls={
        "TLSVerifyClient": "on", "TLSUserName": "CommonName",
        "TLSCACertificateFile": ftpsd.cert("ca.pem")}, vhost_extra={
        "b.example": common + ["TLSCACertificateFile " +
                               ftpsd.cert("client-untrusted.crt")]},
        start=False)
    _add_user(srv, "b.example", "alice", "alice-secret")
    srv.start()
    for version in VERSIONS:
        c = context(version)
        c.load_cert_chain(ftpsd.cert("client-alice.pem"))
        sess = _ticket(srv, None, version, c)
        what = "alice's ticket from the default server under SNI " \
            "b.example, TLS %s" % version
        try:
            f = _resume(srv, "b.example", sess, c)
        except REFUSED:
            continue
        try:
            resumed = f.sock.session_reused
            try:
                resp = f.sendcmd("USER alice")
                if resp.startswith("331"):
                    resp = f.sendcmd("PASS wrong-password")
            except REFUSED:
                continue
            assert not resp.startswith("2"), "%s: alice logged in to b " \
                "with a wrong password (%r; resumed: %s)" % (what, resp,
                                                             resumed)
        finally:
            close_quietly(f)


# -- 2: the vhost's certificate name rules ----------------------------------

def _client_ctx(version, who):
    c = context(version)
    c.load_cert_chain(ftpsd.cert("client-%s.pem" % who))
    return c


def _explicit(srv, sni, c):
    f = SniFTP_TLS(context=c, timeout=TIMEOUT)
    f.sni = sni
    f.connect(srv.host, srv.port)
    try:
        f.auth()
        f.login(srv.user, srv.password)
        f.prot_p()
        return f, retr_bytes(f, "who.txt")
    except BaseException:
        close_quietly(f)
        raise


class _ImplicitSni(ImplicitFTP_TLS):
    sni = None

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host = host
        self.port = port
        sock = socket.create_connection((host, port), TIMEOUT)
        self.af = sock.family
        try:
            self.sock = self.context.wrap_socket(sock,
                                                 server_hostname=self.sni)
        except BaseException:
            sock.close()
            raise
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self._prot_p = True
        self.welcome = self.getresp()
        return self.welcome


def _implicit(srv, sni, c):
    f = _ImplicitSni(context=c, timeout=TIMEOUT)
    f.sni = sni
    try:
        f.connect(srv.host, srv.port)
        f.login(srv.user, srv.password)
        return f, retr_bytes(f, "who.txt")
    except BaseException:
        close_quietly(f)
        raise


def _name_rules(ctx, implicit):
    """Vhost a: iPAddressRequired; vhost b: CommonNameRequired; both ask
    for a client certificate (root CA); the default server neither.  alice
    (CN alice, IP subjectAltName 127.0.0.1) passes a, fails b; bob (no IP
    subjectAltName) fails a; both log in on the default server."""
    ca = ftpsd.cert("ca.pem")
    base = ["UseImplicitSSL"] if implicit else []
    verify = ["TLSVerifyClient on", "TLSCACertificateFile " + ca]
    tls = {"TLSOptions": " ".join(base)} if implicit else None
    srv = sni_server(ctx, tls=tls, vhost_extra={
        "a.example": verify + ["TLSOptions " + " ".join(
            base + ["iPAddressRequired"])],
        "b.example": verify + ["TLSOptions " + " ".join(
            base + ["CommonNameRequired"])]})
    connect = _implicit if implicit else _explicit
    mode = "implicit" if implicit else "explicit"
    for version in VERSIONS:
        for sni, who, ok in ((None, "alice", True), (None, "bob", True),
                             ("a.example", "alice", True),
                             ("a.example", "bob", False),
                             ("b.example", "alice", False)):
            key = sni or DEFAULT
            what = "%s FTPS, SNI %s, %s's certificate, TLS %s" \
                % (mode, sni, who, version)
            try:
                f, got = connect(srv, sni, _client_ctx(version, who))
            except REFUSED as e:
                assert not ok, "%s: refused (%r); want %s's session" \
                    % (what, e, key)
                continue
            close_quietly(f)
            assert ok, "%s: logged in (%r); the vhost's TLSOptions must " \
                "refuse the certificate" % (what, got)
            assert got == srv.vh[key].who, "%s: want %s's session, got %r" \
                % (what, key, got)


def test_sni_vhost_name_rules_explicit(ctx):
    _name_rules(ctx, implicit=False)


def test_sni_vhost_name_rules_implicit(ctx):
    _name_rules(ctx, implicit=True)


# -- suspected: data connections and the vhost's TLSVerifyClient ------------

class _DataCtxFTP(StockSniFTP_TLS):
    """Data handshakes never resume and use data_context (no client
    certificate unless it has one)."""

    data_context = None

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.data_context.wrap_socket(conn,
                                                 server_hostname=self.sni)
            self.data_log.append((conn.getpeercert(True),
                                  conn.session_reused))
        return conn, size


def test_sni_data_asks_vhost_client_certificate(ctx):
    """The default server asks for no client certificate; vhost b has
    TLSVerifyClient on; both NoSessionReuseRequired.  Under SNI b.example
    (control: alice's certificate), a data connection that does not resume
    and sends no certificate is refused, as under HOST b.example; one that
    sends alice's transfers."""
    opt = "NoSessionReuseRequired"
    srv = sni_server(ctx, tls={"TLSOptions": opt}, vhost_extra={
        "b.example": ["TLSVerifyClient on", "TLSOptions " + opt,
                      "TLSCACertificateFile " + ftpsd.cert("ca.pem")]})
    for version in VERSIONS:
        for sni, host in (("b.example", None), (None, "b.example")):
            for data_who in (None, "alice"):
                what = "SNI %s, HOST %s, TLS %s, data connection with %s" \
                    % (sni, host, version, data_who or "no certificate")
                f = _DataCtxFTP(context=_client_ctx(version, "alice"),
                                timeout=TIMEOUT)
                f.sni = sni
                f.data_context = _client_ctx(version, data_who) \
                    if data_who else context(version)
                f.connect(srv.host, srv.port)
                try:
                    if host:
                        f.sendcmd("HOST " + host)
                    f.auth()
                    f.login(srv.user, srv.password)
                    f.prot_p()
                    res = _retr_result(srv, f, "b.example")
                finally:
                    close_quietly(f)
                if data_who:
                    assert res == "ok", "%s: %s" % (what, res)
                else:
                    assert res != "ok", "%s: the transfer went through; " \
                        "want the data connection refused" % what


def test_sni_data_issues_no_tickets(ctx):
    """Under SNI a.example (NoSessionReuseRequired), a TLS 1.3 data
    connection with a full handshake gets no session ticket, as on the
    default server: a client that only uploads never reads one, and its
    close would be reset (proftpd#959)."""
    opt = "NoSessionReuseRequired"
    srv = sni_server(ctx, tls={"TLSOptions": opt},
                     vhost_extra={"a.example": ["TLSOptions " + opt]})
    for sni in (None, "a.example"):
        key = sni or DEFAULT
        f = sni_ftps(srv, sni, version="1.3", cls=StockSniFTP_TLS)
        try:
            f.voidcmd("TYPE I")
            conn = f.transfercmd("RETR data.bin")
            got = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                got += chunk
            ticket = conn.session is not None and conn.session.has_ticket
            resumed = conn.session_reused
            conn.close()
            f.voidresp()
            assert got == srv.vh[key].data, "SNI %s: wrong bytes" % sni
            assert not resumed, "SNI %s: the data connection resumed" % sni
            assert not ticket, "SNI %s: the data connection issued a " \
                "session ticket" % sni
        finally:
            close_quietly(f)


# -- suspected: TLSSessionCache off in the vhost ----------------------------

def test_sni_vhost_session_cache_off_like_host(ctx):
    """Vhost b has TLSSessionCache off; the default server caches.  Refutes
    "under SNI the resumption requirement is dropped while the default
    server's cache still resumes the session": under SNI b.example, as
    under HOST b.example, TLS 1.2 gives the control session neither a
    session ID nor a ticket (OpenSSL asks the vhost's context), so no data
    connection can resume it, and a client that never resumes transfers
    (TLS 1.3 data connections may resume this process's own stateful
    tickets, which no other FTP session holds).  On the default server
    data connections resume, and one that does not is refused (425)."""
    srv = sni_server(ctx, vhost_extra={"b.example": ["TLSSessionCache off"]})
    for version in VERSIONS:
        for sni, host, key in ((None, None, DEFAULT),
                               ("b.example", None, "b.example"),
                               (None, "b.example", "b.example")):
            what = "SNI %s, HOST %s, TLS %s" % (sni, host, version)
            f = sni_ftps(srv, sni, version=version, host=host)
            try:
                got = retr_bytes(f, "data.bin")
                assert got == srv.vh[key].data, "%s: wrong bytes" % what
                resumed = f.data_log[-1][1]
            finally:
                close_quietly(f)
            if key == DEFAULT or version == "1.2":
                assert resumed == (key == DEFAULT), "%s: data connection " \
                    "resumed: %s" % (what, resumed)

            f = sni_ftps(srv, sni, version=version, host=host,
                         cls=StockSniFTP_TLS)
            try:
                res = _retr_result(srv, f, key)
            finally:
                close_quietly(f)
            if key == DEFAULT:
                assert res.startswith("425"), "%s: stock ftplib: want 425, " \
                    "got %r" % (what, res)
            else:
                assert res == "ok", "%s: stock ftplib: %s" % (what, res)


def test_sni_vhost_tickets_off_data_resumes(ctx):
    """Vhost b has TLSSessionTickets off: under SNI b.example the control
    connection hands out stateful TLS 1.3 tickets (references into the
    session cache); data connections must look them up as b's settings say
    and resume (old: they took the ticket for a stateless one, failed to
    resume, and every protected transfer got 425)."""
    srv = sni_server(ctx, vhost_extra={"b.example": ["TLSSessionTickets off"]})
    for version in VERSIONS:
        what = "SNI b.example (TLSSessionTickets off), TLS %s" % version
        f = sni_ftps(srv, "b.example", version=version)
        try:
            assert_session_on(srv, f, "b.example", what)
        finally:
            close_quietly(f)


# -- 3: the command after SNI is still AUTH ---------------------------------

def test_sni_extended_log_after_switch(ctx):
    """ExtendedLog of every command with %m %r and the command's vhost
    (%v): after SNI moved the session, the log holds the HOST line SNI
    stands for (on vhost b), then AUTH TLS itself (it began on the default
    server; the HOST dispatched in its middle leaves nothing of itself in
    the session's current command), then the login on vhost b."""
    srv = sni_server(ctx, start=False)
    xlog = os.path.join(srv.dir, "ext.log")
    srv.append_conf(['LogFormat cmds "%m|%r|%v"',
                     "ExtendedLog %s ALL cmds" % xlog])
    srv.start()
    f = sni_ftps(srv, "b.example", prot_p=False)
    close_quietly(f)
    with open(xlog) as fh:
        lines = [l.rstrip("\n") for l in fh]
    text = "\n".join(lines)
    assert [l.split("|")[0] for l in lines][:4] == \
        ["HOST", "AUTH", "USER", "PASS"], \
        "want HOST, AUTH, USER, PASS:\n%s" % text
    assert lines[0] == "HOST|HOST b.example|vhost b.example", text
    assert lines[1].startswith("AUTH|AUTH TLS|"), text
    assert all(l.endswith("|vhost b.example") for l in lines[2:]), \
        "the login is not logged on vhost b:\n%s" % text


# -- 10: a newline in the SNI name ------------------------------------------

def test_sni_newline_cannot_forge_tls_log_line(ctx):
    """openssl s_client -servername with a newline in the name: the TLSLog
    holds the name escaped (\\x0a) on one line, and no line begins with the
    forged text."""
    srv = sni_server(ctx)
    mark = srv.log_mark()
    forged = "FORGED: user root logged in by client certificate"
    name = "x.example\n" + forged
    argv = ["openssl", "s_client", "-starttls", "ftp", "-crlf", "-ign_eof",
            "-connect", "%s:%d" % (srv.host, srv.port), "-servername", name]
    _feed(argv, ["QUIT"], 0.2, 30, "s_client")
    log = ftpsd.tls_log_since(srv, mark)
    assert "SNI 'x.example\\x0a" + forged + "'" in log, \
        "want the escaped name in TLSLog:\n%s" % log
    bad = [l for l in log.splitlines() if l.startswith("FORGED")]
    assert not bad, "a forged TLSLog line: %r" % bad
