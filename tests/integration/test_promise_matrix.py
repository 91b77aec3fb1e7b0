"""The promise matrix (issue 11, README "Promises"): every security or
data-safety promise README makes, crossed with every feature that can
change the session under it.  A cell is a test that tries to break the
promise that way against the real daemon, or a one-line reason (NA below)
why it cannot apply; test_promise_matrix_table checks that every cell is
one or the other and prints the reasons.

Promises (rows):
  binding     a data connection must resume this FTP session's TLS session
              (425 otherwise), unless NoSessionReuseRequired
  clientcert  TLSVerifyClient on/optional, another certificate on a data
              connection refused, CommonNameRequired & co., TLSUserName
              logins only with a verified certificate
  required    TLSRequired at every level (auth, ctrl, data, <Directory>)
  noplain     nothing in clear after AUTH: no plaintext fallback, a failed
              handshake ends the session, protected data never in clear
  truncation  a data connection that ends without close_notify is a failed
              transfer (426); a complete one ends with close_notify
  upload      a refused or failed upload loses nothing: an existing file
              keeps its content until an upload succeeds
Features (columns): sni, tls12, tls13, ccc, sscn, peruser, implicit,
delaborted (DeleteAbortedStores), hidden (HiddenStores), abor, rest, sighup,
alpn (the client offers ALPN "ftp" on every connection, as a client that
follows RFC 7301 would; binding x alpn also resumes the session with a
foreign ALPN list, which must be refused: ALPACA, test_alpaca.py).

Cells are built from one session opener per feature (open_session) and
one probe per promise (PROBES); the cells where the two meet in a way a
generic probe cannot express have their own function (CUSTOM).  The tests
are named test_promise_matrix_<promise>_<feature>.
"""

import os
import re
import signal
import socket
import ssl
import time

import ftpsd
from clients import Raw, context, expect
from ftpsd import cert

PROMISES = ("binding", "clientcert", "required", "noplain", "truncation",
            "upload")
FEATURES = ("sni", "tls12", "tls13", "ccc", "sscn", "peruser", "implicit",
            "delaborted", "hidden", "abor", "rest", "sighup", "alpn")

# Cells that cannot apply: (promise, feature) -> why.  Data, not tests.
NA = {
    ("clientcert", "sscn"):
        "under SSCN ON the data peer is a TLS server (FXP), checked by "
        "TLSVerifyServer, not a client certificate (binding x sscn tries it)",
    ("clientcert", "delaborted"):
        "DeleteAbortedStores acts after a transfer ended; the certificate "
        "of its data connection was judged before (upload x delaborted)",
    ("clientcert", "hidden"):
        "HiddenStores changes where an upload is written, not which "
        "certificate its data connection may present",
    ("required", "tls12"):
        "TLSRequired asks whether TLS is on, never which version",
    ("required", "tls13"):
        "TLSRequired asks whether TLS is on, never which version",
    ("required", "delaborted"):
        "TLSRequired refuses (522) before mod_xfer opens a file; "
        "DeleteAbortedStores acts only on opened uploads",
    ("required", "hidden"):
        "TLSRequired refuses (522) before mod_xfer opens the hidden file; "
        "nothing is written either way",
    ("noplain", "delaborted"):
        "DeleteAbortedStores decides what happens to a file after a "
        "transfer, not how its bytes travel",
    ("noplain", "hidden"):
        "HiddenStores decides where an upload is written, not how its "
        "bytes travel",
}

MARK = b"PLAINTEXT-MARK-7f3a"        # never to be seen on the wire in clear
ALICE = (cert("client-alice.crt"), cert("client-alice.key"))
BOB = (cert("client-bob.crt"), cert("client-bob.key"))
EVE = (cert("client-untrusted.crt"), cert("client-untrusted.key"))
# the sscn column's TLSCACertificateFile; _T: a peer that also sends TLS 1.3
# session tickets (OpenSSL's default), as most TLS servers do
TRUSTED = (cert("selfsigned.pem"), None)
TRUSTED_T = TRUSTED + ("tickets",)
VERIFY_ON = {"TLSVerifyClient": "on", "TLSCACertificateFile": cert("ca.pem")}
VHOST = "b.example"


def strict(c):
    """c, reporting a TLS stream that ends without close_notify as an
    error: Debian's Python 3.11 sets OP_IGNORE_UNEXPECTED_EOF by default,
    which makes such an end read as a clean one (a cut would pass for
    complete)."""
    c.options &= ~getattr(ssl, "OP_IGNORE_UNEXPECTED_EOF", 0)
    return c


def cctx(version=None, who=None):
    c = strict(context(version))
    if who:
        c.load_cert_chain(*who)
    return c


def sctx(who):
    """A TLS server context presenting who (certificate, key): the
    client's side of an SSCN ON data connection."""
    c = strict(ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
    c.load_cert_chain(who[0], who[1])
    if len(who) < 3:
        c.num_tickets = 0
    return c


IFSESSION = "/usr/lib/proftpd/mod_ifsession.so"


# -- the daemon --------------------------------------------------------------

def _conf(promise, feature):
    """(tls dict, extra lines, TLSOptions words) for one cell's server."""
    tls, extra, opts = {}, [], []
    if promise == "clientcert":
        tls.update(VERIFY_ON)
        opts.append("NoSessionReuseRequired")
    elif promise == "required":
        tls["TLSRequired"] = "auth"
        extra += ["<Directory ~/secure>", "  TLSRequired on", "</Directory>"]
    if feature == "ccc" and "TLSRequired" not in tls:
        tls["TLSRequired"] = "auth+data"
    elif feature == "peruser":
        # AllowPerUser is for per-user rules: mod_ifsession gives one
        # other user a looser rule (mod_tls, and mod_ftps, refuse
        # AllowPerUser with TLSRequired auth when no user could differ)
        opts.append("AllowPerUser")
        tls.setdefault("TLSRequired", "data")
        extra += ["<IfUser nobody-in-particular>", "  TLSRequired off",
                  "</IfUser>"]
    elif feature == "implicit":
        opts.append("UseImplicitSSL")
    elif feature == "sscn":
        tls["TLSCACertificateFile"] = cert("selfsigned.pem")
    elif feature == "delaborted":
        extra.append("DeleteAbortedStores on")
    elif feature == "hidden":
        extra.append("HiddenStores on")
    return tls, extra, opts


def vhost_block(srv, name, lines, user=None):
    """A name-based <VirtualHost> on srv's port with its own AuthUserFile
    (srv's user, plus user=(name, password)) and home T/home-<name>."""
    home = os.path.join(srv.dir, "home-" + name)
    os.makedirs(home, 0o755, exist_ok=True)
    os.chown(home, ftpsd.UID, ftpsd.GID)
    passwd = os.path.join(srv.dir, "passwd-" + name)
    with open(passwd, "w") as f:
        for u, p in [(srv.user, srv.password)] + ([user] if user else []):
            f.write("%s:%s:%d:%d::%s:/bin/false\n" % (
                u, ftpsd.password_hash(p), ftpsd.UID, ftpsd.GID, home))
    os.chmod(passwd, 0o600)
    body = ["Port %d" % srv.port, "ServerAlias " + name,
            "AuthOrder mod_auth_file.c", "AuthUserFile " + passwd,
            "RequireValidShell off", "DefaultRoot ~", "AllowOverwrite on",
            "AllowStoreRestart on", "Umask 022", "TLSEngine on",
            "TLSLog " + srv.tls_log, "TLSRSACertificateFile " + cert(),
            "TLSProtocol TLSv1.2 TLSv1.3"] + list(lines)
    return ["<VirtualHost 127.0.0.1>"] + ["  " + l for l in body] + \
        ["</VirtualHost>"], home


def make_server(ctx, promise, feature):
    """The server of one cell; srv.cell_home is where its session's files
    are (the vhost's home under sni)."""
    tls, extra, opts = _conf(promise, feature)
    if feature == "sni":
        # The default server is loose; the vhost holds the promise, so the
        # cell also proves that the vhost's settings govern after the move.
        srv = ctx.server({"TLSRequired": "off"}, start=False, shared=False,
                         extra=["TLSOptions NoSessionReuseRequired"])
        lines = ["%s %s" % kv for kv in tls.items()] + extra
        if opts:
            lines.append("TLSOptions " + " ".join(opts))
        block, srv.cell_home = vhost_block(srv, VHOST, lines)
        srv.append_conf(block)
        srv.start()
        return srv
    if opts:
        tls["TLSOptions"] = " ".join(opts)
    srv = ctx.server(tls, extra=extra, shared=feature != "sighup",
                     modules_after=[IFSESSION] if feature == "peruser"
                     else ())
    srv.cell_home = srv.home
    return srv


def sighup(srv):
    """SIGHUP the master; wait until it has re-read its configuration and
    listens again."""
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.time() + 15
    while time.time() < deadline:
        text = srv.log_since(mark, 400)
        if re.search(r"(?i)received SIGHUP", text) and \
                re.search(r"(?i)reparsing|rehashing", text) and \
                srv._listening():
            time.sleep(0.2)
            assert srv.running(), "the daemon died on SIGHUP:\n%s" % text
            return
        assert srv.running(), "the daemon exited on SIGHUP:\n%s" % text
        time.sleep(0.05)
    raise AssertionError("no restart 15s after SIGHUP:\n%s"
                         % srv.log_since(mark, 400))


# -- control connections -------------------------------------------------------

class Ctl(Raw):
    """Raw whose TLS handshake uses our context and server name (None: no
    SNI); implicit=True: TLS before the banner."""

    def __init__(self, srv, tctx, sni="localhost", implicit=False,
                 session=None):
        self.server, self.tctx, self.sni, self.buf = srv, tctx, sni, b""
        self.sock = socket.create_connection((srv.host, srv.port),
                                             timeout=10)
        if implicit:
            self.starttls(session=session)
        self.banner = self.reply()

    def starttls(self, version=None, ctx=None, session=None):
        assert not self.buf, "unread plaintext before TLS: %r" % self.buf
        self.sock = self.tctx.wrap_socket(self.sock, server_hostname=self.sni,
                                          session=session)
        return self.sock


def plaintext_after_auth(srv, feature, cell):
    """The client goes on in clear where TLS must begin (after AUTH's 234;
    after a plain login and AUTH under peruser; at once under implicit):
    nothing but a 421 may come back in clear, and the session ends."""
    if feature == "implicit":
        sock = socket.create_connection((srv.host, srv.port), timeout=10)
    else:
        r = Ctl(srv, None)
        if feature == "peruser":
            r.login()
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        sock = r.sock
    try:
        sock.sendall(("USER %s\r\nPASS %s\r\nPWD\r\n"
                      % (srv.user, srv.password)).encode())
        got, eof = b"", False
        sock.settimeout(15)
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    eof = True
                    break
                got += chunk
        except socket.timeout:
            pass
        except OSError:
            eof = True
    finally:
        sock.close()
    clear = [l for l in re.findall(rb"(?m)^\d{3}[ -].*$", got)
             if not l.startswith(b"421")]
    assert not clear, "%s: replies in clear after AUTH: %r" % (cell, clear)
    assert eof, "%s: session still open 15s after plaintext where TLS " \
        "was due (got %r)" % (cell, got)


def open_ctl(srv, feature, tctx, sni="localhost", session=None, login=True):
    """A logged-in control connection under TLS (PBSZ 0, PROT P, TYPE I)."""
    if feature == "sni" and sni == "localhost":
        sni = VHOST
    if feature == "implicit":
        r = Ctl(srv, tctx, sni=sni, implicit=True, session=session)
    else:
        r = Ctl(srv, tctx, sni=sni)
        if feature == "peruser":
            r.login()
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls(session=session)
    if login and feature != "peruser":
        r.login()
    if login:
        for c in ("PBSZ 0", "PROT P", "TYPE I"):
            expect(r.cmd(c), 200, c)
    return r


# -- sessions and their data connections ---------------------------------------

class Res:
    def __init__(self, pre, got, final, end, abor=None):
        self.pre, self.got, self.final, self.end = pre, got, final, end
        self.abor = abor

    def __repr__(self):
        return "pre %r, %d bytes, end %s, final %r%s" % (
            self.pre[1], len(self.got), self.end, self.final[1],
            ", ABOR reply %r" % self.abor[1] if self.abor else "")


class Session:
    """A cell's logged-in session: its control connection, the TLS session
    its data connections resume, and how its feature changed it."""

    def __init__(self, ctx, srv, feature, version=None, who=None, sni=None,
                 open_as=None):
        self.ctx, self.srv, self.feature = ctx, srv, feature
        self.version = version or {"tls12": "1.2", "tls13": "1.3"}.get(
            feature)
        self.who, self.home = who, srv.cell_home
        self.alpn = ["ftp"] if feature == "alpn" else None
        self.tctx = self.client_ctx(who)
        self.rest = 1000 if feature == "rest" else None
        self.r = open_ctl(srv, open_as or feature, self.tctx,
                          sni=sni or "localhost")
        self.session = self.r.sock.session
        self.after_open()

    def client_ctx(self, who):
        """A client context of this session's version (and ALPN)."""
        c = cctx(self.version, who)
        if self.alpn:
            c.set_alpn_protocols(self.alpn)
        return c

    def after_open(self):
        f, r = self.feature, self.r
        if f == "ccc":
            expect(r.cmd("CCC"), 200, "CCC")
            self.session = r.sock.session
            r.sock = r.sock.unwrap()
        elif f == "sscn":
            expect(r.cmd("SSCN ON"), 200, "SSCN ON")
        elif f == "abor":
            self.put("abor.bin", os.urandom(8 << 20))
            res = self.xfer("RETR abor.bin", abor_after=65536, rest=False)
            assert {res.final[0], res.abor[0]} == {426, 226}, \
                "ABOR: want 426 and 226, got %r" % (res,)
        elif f == "sighup":
            sighup(self.srv)

    def put(self, name, data):
        path = os.path.join(self.home, name)
        os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
        ftpsd.write_file(path, data)
        os.chown(path, ftpsd.UID, ftpsd.GID)
        return path

    def other_session(self):
        """A TLS session of another FTP session of the same client (the
        default vhost's under sni), usable with self.tctx."""
        o = open_ctl(self.srv, "plain" if self.feature in ("sni", "peruser")
                     else self.feature, self.tctx, sni=None)
        sess = o.sock.session
        o.close()
        return sess

    def _wrap(self, sock, how, who, serve, via):
        if serve:
            return sctx(serve).wrap_socket(sock, server_side=True,
                                           suppress_ragged_eofs=False)
        if how in ("plain", "clear"):
            return sock
        if how == "foreign":
            return via[0].wrap_socket(sock, server_hostname="localhost",
                                      session=via[1],
                                      suppress_ragged_eofs=False)
        if how == "full":
            c, sess = self.client_ctx(who), None
        else:
            c = self.tctx
            sess = self.session if how == "resume" else self._other
        return c.wrap_socket(sock, server_hostname="localhost", session=sess,
                             suppress_ragged_eofs=False)

    def xfer(self, cmd, how="resume", upload=None, cut=False, who=None,
             serve=None, abor_after=None, port=None, rest=True, late=False,
             via=None):
        """One data command over PASV (port=closed port: PORT to it).
        how: resume (this session), full (a fresh handshake presenting
        who's certificate), other (another FTP session's TLS session),
        plain (no TLS: plaintext is sent, whatever arrives is kept), clear
        (no TLS, for PROT C), foreign (via=(context, session) of another
        client).  serve: act as the TLS server presenting
        serve; under SSCN ON, resume means a peer the daemon trusts, full
        and other one it does not.
        upload: bytes to send (cut: then close TCP without close_notify).
        abor_after: send ABOR after that many downloaded bytes.  late:
        read a download only after its final reply (a slow reader: what
        the daemon called complete must still arrive, whole)."""
        r = self.r
        if self.feature == "sscn" and serve is None and how in (
                "resume", "full", "other"):
            serve = TRUSTED if how == "resume" else EVE
        if how == "other" and not serve:
            self._other = self.other_session()
        if rest and self.rest is not None:
            expect(r.cmd("REST %d" % self.rest), 350, "REST")
        if port:
            expect(r.cmd("PORT 127,0,0,1,%d,%d" % (port >> 8, port & 255)),
                   200, "PORT")
            sock = None
        else:
            sock = r.pasv()
        r.send(cmd + "\r\n")
        pre = _reply(r)
        if pre[0] not in (125, 150):
            if sock:
                sock.close()
            return Res(pre, b"", pre, None)
        got, end, d, final = b"", None, sock, None
        try:
            d = self._wrap(sock, how, who, serve, via)
            if how == "plain" and upload is None:
                # what arrives unasked (plaintext?), then plaintext that
                # ends the daemon's wait for a handshake
                got = _listen(d, 2)
                d.sendall(b"PLAIN TEXT, NOT TLS\r\n")
                more, end = _drain(d, r, None)
                got += more
            elif upload is None:
                final = _reply(r) if late else None
                got, end = _drain(d, r, abor_after)
            else:
                d.sendall(upload)
                if cut or how == "plain":
                    socket.socket.shutdown(d, socket.SHUT_RDWR)
                    end = "cut"
                else:
                    d = d.unwrap()
                    end = "notify"
        except (ssl.SSLError, OSError) as e:
            end = end or "error: %s" % e
        finally:
            d.close()
        final = final or _reply(r)
        # ABOR gets its own reply after the transfer's (426 or 226)
        abor = _reply(r) if abor_after is not None and final[0] else None
        return Res(pre, got, final, end, abor)


def _reply(r):
    try:
        return r.reply()
    except (EOFError, OSError) as e:
        return 0, "control connection ended (%s)" % e


def _listen(d, secs):
    """What d delivers within secs (until EOF)."""
    got = b""
    d.settimeout(secs)
    try:
        while True:
            chunk = d.recv(65536)
            if not chunk:
                break
            got += chunk
    except (socket.timeout, OSError):
        pass
    return got


def _drain(d, r, abor_after):
    """Read d to its end: (bytes, how it ended: 'notify' (close_notify),
    'eof' (plain socket), 'cut' (TLS without close_notify), 'error: ...')."""
    got = b""
    d.settimeout(20)
    try:
        while True:
            chunk = d.recv(65536)
            if not chunk:
                return got, ("notify" if isinstance(d, ssl.SSLSocket)
                             else "eof")
            got += chunk
            if abor_after is not None and len(got) >= abor_after:
                r.send("ABOR\r\n")
                abor_after = None
    except ssl.SSLEOFError:
        return got, "cut"
    except (ssl.SSLError, OSError) as e:
        return got, "error: %s" % e


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def want(cond, cell, what, res):
    assert cond, "%s: %s; got %r" % (cell, what, res)


def leftovers(home):
    """HiddenStores' temporary files left in home."""
    return [n for n in os.listdir(home) if n.startswith(".in.")]


def content(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


# -- probes: one per promise, run in a session opened under a feature ---------

def p_binding(s, cell):
    """Data connections that do not resume this session's TLS session (a
    fresh handshake, another FTP session's ticket) get 425 and nothing;
    the resumed one works.  Under SSCN ON: a peer the daemon does not
    trust gets nothing."""
    data = MARK + os.urandom(150000)
    if s.feature in ("delaborted", "hidden"):
        path = os.path.join(s.home, "nb.bin")
        for how in ("full", "other"):
            res = s.xfer("STOR nb.bin", how, upload=data)
            want(res.final[0] == 425 and content(path) is None
                 and not leftovers(s.home), cell, "STOR, data connection "
                 "%s: want 425 and no file (nor hidden one)" % how, res)
        res = s.xfer("STOR nb.bin", upload=data)
        want(res.final[0] == 226 and content(path) == data, cell,
             "STOR, resumed: want 226 and the bytes", res)
        return
    s.put("b.bin", data)
    for how in ("full", "other"):
        res = s.xfer("RETR b.bin", how)
        want(res.final[0] == 425 and not res.got, cell,
             "RETR, data connection %s: want 425 and no bytes" % how, res)
    res = s.xfer("RETR b.bin")
    want(res.final[0] == 226 and res.got == data[s.rest or 0:], cell,
         "RETR, resumed: want 226 and the file", res)


def p_clientcert(s, cell):
    """TLSVerifyClient on (NoSessionReuseRequired): the data connection
    must present the control connection's certificate (alice), a new
    control connection must present one."""
    data = os.urandom(100000)
    s.put("c.bin", data)
    exp = data[s.rest or 0:]
    for how in ("resume", "full"):
        res = s.xfer("RETR c.bin", how, who=ALICE)
        want(res.final[0] == 226 and res.got == exp, cell, "RETR, data "
             "connection %s with alice's certificate: want 226" % how, res)
    for name, who in (("bob's", BOB), ("no", None), ("eve's (untrusted)",
                                                     EVE)):
        res = s.xfer("RETR c.bin", "full", who=who)
        want(res.final[0] == 425 and not res.got, cell, "RETR, data "
             "connection with %s certificate: want 425" % name, res)
    bctx = cctx(s.version, BOB)
    o = open_ctl(s.srv, "explicit" if s.feature in ("sni", "peruser", "ccc")
                 else s.feature, bctx, sni=None)
    res = s.xfer("RETR c.bin", "foreign", via=(bctx, o.sock.session))
    o.close()
    want(res.final[0] == 425 and not res.got, cell, "RETR, data connection "
         "resuming bob's FTP session: want 425", res)
    assert not logs_in(s.srv, s.feature, cctx(s.version)), \
        "%s: a control connection without a certificate logged in" % cell


def logs_in(srv, feature, tctx, sni="localhost", session=None, user=None,
            password=None):
    """Does a control connection with tctx get a working login (230, then
    PWD 257)?  False when the handshake fails or the session ends."""
    try:
        r = open_ctl(srv, feature, tctx, sni=sni, session=session,
                     login=False)
    except (ssl.SSLError, OSError, EOFError, AssertionError):
        return False
    try:
        if feature != "peruser":
            code, _ = r.cmd("USER " + (user or srv.user))
            if code == 331:
                code, _ = r.cmd("PASS " + (password or srv.password))
            if code not in (230, 232):
                return False
        return r.cmd("PWD")[0] == 257
    except (ssl.SSLError, OSError, EOFError):
        return False
    finally:
        r.close()


def p_required(s, cell):
    """TLSRequired auth on the server, on (ctrl+data) in <Directory
    ~/secure>: under PROT C nothing of secure/ travels in clear (522),
    the rest of the home does; USER in clear is refused."""
    secret = "secret-%s.txt" % os.urandom(4).hex()
    s.put("secure/" + secret, MARK)
    a = os.urandom(3000)
    s.put("a.txt", a)
    expect(s.r.cmd("PROT C"), 200, "%s: PROT C" % cell)
    cmds = ["RETR secure/" + secret, "LIST secure", "NLST secure"]
    if s.feature == "implicit":      # from the parent, as a hostile client
        cmds += ["LIST -R", "LIST -R .", "NLST */*"]
    for cmd in cmds:
        res = s.xfer(cmd, "clear")
        want(MARK not in res.got and secret.encode() not in res.got and
             (res.final[0] == 522 or cmd.startswith(("LIST -R", "NLST *"))),
             cell, "%s under PROT C: want 522, nothing of secure/" % cmd, res)
    res = s.xfer("RETR a.txt", "clear")
    want(res.final[0] == 226 and res.got == a[s.rest or 0:], cell,
         "RETR a.txt (home) under PROT C: want 226", res)
    if s.feature != "implicit":
        r = Ctl(s.srv, None)
        try:
            if s.feature == "sni":
                expect(r.cmd("HOST " + VHOST), 220, "HOST")
            code, text = r.cmd("USER " + s.srv.user)
            if code == 331:
                code, text = _reply_or_eof(r, "PASS " + s.srv.password)
            assert code in (550, 530, 0), "%s: login in clear under " \
                "TLSRequired auth: want 550 (530 under AllowPerUser), got " \
                "%r" % (cell, text)
        finally:
            r.close()


def _reply_or_eof(r, line):
    try:
        return r.cmd(line)
    except (EOFError, OSError) as e:
        return 0, "connection ended (%s)" % e


def p_noplain(s, cell):
    """A protected data connection carries no plaintext either way; a
    client that goes on in clear where TLS is due gets no answer."""
    s.put("p.bin", MARK * 2000)
    res = s.xfer("RETR p.bin", "plain")
    want(MARK not in res.got and res.final[0] != 226, cell,
         "RETR over a data connection that speaks no TLS: want no "
         "plaintext, no 226", res)
    path = os.path.join(s.home, "up.bin")
    res = s.xfer("STOR up.bin", "plain", upload=MARK * 100)
    want(res.final[0] != 226 and MARK not in (content(path) or b""), cell,
         "STOR in clear over a protected data connection: want it refused "
         "and nothing stored", res)
    if s.feature == "ccc":
        expect(s.r.cmd("AUTH TLS"), 534, "%s: AUTH after CCC" % cell)
    plaintext_after_auth(s.srv, s.feature, cell)
    if s.feature not in ("implicit", "peruser"):
        injected_before_tls(s, cell)


def injected_before_tls(s, cell):
    """USER sent in clear in the same packet as AUTH TLS (a man in the
    middle's injection) is discarded, not executed under TLS."""
    r = Ctl(s.srv, cctx(s.version), sni=VHOST if s.feature == "sni"
            else "localhost")
    try:
        r.send("AUTH TLS\r\nUSER %s\r\n" % s.srv.user)
        expect(r.reply(), 234, "%s: AUTH TLS" % cell)
        r.buf = b""        # the plaintext reply to USER, if one came
        r.starttls()
        code, text = r.cmd("PASS " + s.srv.password)
        assert code == 503, "%s: USER injected in clear before the " \
            "handshake was executed: PASS got %r" % (cell, text)
    finally:
        r.close()


def p_truncation(s, cell):
    """An upload whose data connection ends without close_notify gets 426;
    a download that completes ends with close_notify and 226."""
    if s.rest:
        s.put("t.bin", os.urandom(5000))
    res = s.xfer("STOR t.bin", upload=os.urandom(300000), cut=True)
    want(res.final[0] == 426, cell, "STOR cut without close_notify: want "
         "426", res)
    if s.feature in ("hidden", "delaborted"):
        # the cut upload must not stand under its name as if complete
        now = content(os.path.join(s.home, "t.bin"))
        want(now is None and not leftovers(s.home), cell, "a cut STOR "
             "under %s: want no t.bin (it has %s bytes)" % (
                 s.feature, None if now is None else len(now)), res)
    data = os.urandom(1 << 20)
    s.put("d.bin", data)
    res = s.xfer("RETR d.bin")
    want(res.final[0] == 226 and res.end == "notify" and
         res.got == data[s.rest or 0:], cell, "RETR: want 226, the file "
         "and close_notify", res)
    if s.feature == "sscn":
        # a peer that sends TLS 1.3 tickets, as most servers do, and reads
        # once the daemon has answered 226
        res = s.xfer("RETR d.bin", serve=TRUSTED_T, late=True)
        want(res.final[0] != 226 or (res.end == "notify" and res.got ==
                                     data), cell, "RETR to a TLS server "
             "that sent session tickets, read after the final reply: 226 "
             "but not the whole file with close_notify", res)


def p_upload(s, cell):
    """An existing file keeps its content through refused and failed
    uploads; a successful one replaces it."""
    old = MARK + os.urandom(100000)
    path = s.put("keep.bin", old)
    tries = (("a data connection that does not resume this session (under "
              "SSCN: a peer not trusted)", dict(how="full", upload=b"n" * 999),
              (425, 426)),
             ("the data handshake, then TCP closed without data or "
              "close_notify", dict(upload=b"", cut=True), (426,)),
             ("PORT to a port nobody listens on", dict(port=closed_port()),
              (425,)))
    for what, kw, codes in tries:
        res = s.xfer("STOR keep.bin", **kw)
        now = content(path)
        want(res.final[0] in codes and now == old and
             not leftovers(s.home), cell, "STOR over an existing file, %s: "
             "want %s and the old content (now %s bytes)"
             % (what, codes, None if now is None else len(now)), res)
    new = os.urandom(5000)
    res = s.xfer("STOR keep.bin", upload=new)
    # REST + STOR writes over the old bytes in place (as plain FTP does)
    exp = old[:s.rest] + new + old[s.rest + len(new):] if s.rest else new
    want(res.final[0] == 226 and content(path) == exp, cell,
         "a successful STOR: want 226 and the new content", res)


PROBES = {"binding": p_binding, "clientcert": p_clientcert,
          "required": p_required, "noplain": p_noplain,
          "truncation": p_truncation, "upload": p_upload}


# -- cells a probe cannot express ----------------------------------------------

def sni_server(ctx, vlines, default_tls=None, vuser=None):
    srv = ctx.server(default_tls or {"TLSRequired": "off"}, start=False,
                     shared=False)
    block, srv.cell_home = vhost_block(srv, VHOST, vlines, user=vuser)
    srv.append_conf(block)
    return srv.start()


def c_clientcert_sni(ctx, cell):
    """The vhost's TLSVerifyClient and CommonNameRequired apply after the
    SNI switch (alice's CN is not the client's address; issue 11 #2)."""
    srv = sni_server(ctx, ["TLSVerifyClient on",
                           "TLSCACertificateFile " + cert("ca.pem"),
                           "TLSOptions CommonNameRequired"])
    for v in ("1.2", "1.3"):
        assert logs_in(srv, "explicit", cctx(v), sni=None), \
            "%s: TLS %s, default server, no certificate: want a login" \
            % (cell, v)
        assert not logs_in(srv, "sni", cctx(v)), "%s: TLS %s, SNI %s " \
            "(TLSVerifyClient on), no certificate: logged in" % (cell, v,
                                                                 VHOST)
        assert not logs_in(srv, "sni", cctx(v, ALICE)), "%s: TLS %s, SNI " \
            "%s with CommonNameRequired, alice (CN alice, client " \
            "127.0.0.1): logged in" % (cell, v, VHOST)


def c_clientcert_ticket(ctx, cell, version):
    """A session resumed from the default server, presented with the SNI
    name of a vhost with TLSVerifyClient on, must not log in there without
    a certificate (issue 11 #1)."""
    srv = sni_server(ctx, ["TLSVerifyClient on",
                           "TLSCACertificateFile " + cert("ca.pem")],
                     vuser=("bonly", "bpass"))
    assert logs_in(srv, "sni", cctx(version, ALICE), user="bonly",
                   password="bpass"), "%s: alice on %s: want bonly's " \
        "login (the vhost's own user)" % (cell, VHOST)
    tctx = cctx(version)
    r = open_ctl(srv, "explicit", tctx, sni=None)
    sess = r.sock.session
    r.close()
    assert sess is not None, "%s: no session to resume" % cell
    assert not logs_in(srv, "sni", tctx, session=sess, user="bonly",
                       password="bpass"), "%s: TLS %s: a session of the " \
        "default server, resumed with SNI %s (TLSVerifyClient on), " \
        "logged in the vhost's user without a certificate" % (
            cell, version, VHOST)
    # the same vhost chosen by HOST (RFC 7151) before AUTH, without SNI
    r = Ctl(srv, tctx, sni=None)
    try:
        expect(r.cmd("HOST " + VHOST), 220, "%s: HOST" % cell)
        expect(r.cmd("AUTH TLS"), 234, "%s: AUTH TLS" % cell)
        r.starttls(session=sess)
        code, text = r.cmd("USER bonly")
        if code == 331:
            code, text = r.cmd("PASS bpass")
    except (ssl.SSLError, OSError, EOFError):
        code, text = 0, "refused"
    finally:
        r.close()
    assert code not in (230, 232), "%s: TLS %s: HOST %s, then a session " \
        "of the default server resumed: the vhost's user logged in without " \
        "a certificate (%d %s)" % (cell, version, VHOST, code, text)


def c_clientcert_peruser(ctx, cell):
    """TLSUserName CommonName with TLSVerifyClient optional and
    AllowPerUser (so logins in clear are possible): user alice logs in
    with any password only with alice's verified certificate; not in
    clear, not without a certificate, not with bob's."""
    srv = ctx.server({"TLSRequired": "off", "TLSVerifyClient": "optional",
                      "TLSCACertificateFile": cert("ca.pem"),
                      "TLSUserName": "CommonName",
                      "TLSOptions": "AllowPerUser"}, start=False,
                     shared=False)
    srv.replace_conf("AuthOrder", "AuthOrder mod_auth_file.c mod_ftps.c")
    srv.add_user("alice", "alicepw")
    srv.cell_home = srv.home
    srv.start()
    r = Ctl(srv, None)
    try:
        code, text = r.cmd("USER alice")
        if code == 331:
            code, text = _reply_or_eof(r, "PASS wrong")
        assert code not in (230, 232), "%s: alice with a wrong password " \
            "in clear: logged in (%r)" % (cell, text)
    finally:
        r.close()
    for v in ("1.2", "1.3"):
        for name, who, ok in (("no", None, False), ("bob's", BOB, False),
                              ("alice's", ALICE, True)):
            got = logs_in(srv, "explicit", cctx(v, who), user="alice",
                          password="wrong")
            assert got == ok, "%s: TLS %s, %s certificate, USER alice, a " \
                "wrong password: want %s" % (cell, v, name,
                                             "a login" if ok else "530")


def c_required_ccc(ctx, cell):
    """After CCC (TLSRequired auth), PROT cannot drop the protection, and
    <Directory> TLSRequired on (ctrl+data) refuses the commands that name
    it, control commands (STAT, SIZE, MKD) as well as transfers; a refusal
    leaves the session able to go on elsewhere."""
    srv = make_server(ctx, "required", "ccc")
    s = Session(ctx, srv, "ccc")
    secret = "secret-%s.txt" % os.urandom(4).hex()
    s.put("secure/" + secret, MARK)
    a = os.urandom(3000)
    s.put("a.txt", a)
    expect(s.r.cmd("PROT C"), 503, "%s: PROT C after CCC" % cell)
    # control commands that name secure/ over the now clear control
    # connection: refused, nothing of secure/ in the reply, and the
    # session is not left stuck in secure/'s rule (PWD still works)
    for cmd in ("STAT secure", "SIZE secure/" + secret, "MKD secure/new"):
        code, text = s.r.cmd(cmd)
        assert code >= 500 and secret not in text, "%s: %s with the " \
            "control channel in clear: want a refusal (TLSRequired on " \
            "there), got %r" % (cell, cmd, text)
        code, text = s.r.cmd("PWD")
        assert code == 257, "%s: PWD in home after %s: want 257, got %r" \
            % (cell, cmd, text)
    assert not os.path.exists(os.path.join(s.home, "secure", "new")), \
        "%s: MKD secure/new in clear created it" % cell
    for cmd in ("RETR secure/" + secret, "LIST secure"):
        res = s.xfer(cmd)
        want(res.final[0] >= 500 and MARK not in res.got and
             secret.encode() not in res.got, cell, "%s with the control "
             "channel in clear: want a refusal (TLSRequired on there)" % cmd,
             res)
    res = s.xfer("RETR a.txt")
    want(res.final[0] == 226 and res.got == a, cell, "RETR a.txt", res)


def c_truncation_abor(ctx, cell):
    """An aborted download ends without close_notify, so that the client
    cannot take the part it got for the file (issue 11 #15)."""
    srv = make_server(ctx, "truncation", "abor")
    s = Session(ctx, srv, "explicit")
    data = os.urandom(24 << 20)
    s.put("big.bin", data)
    res = s.xfer("RETR big.bin", abor_after=1 << 20)
    assert len(res.got) < len(data), "%s: the download completed before " \
        "ABOR took effect: %r" % (cell, res)
    # ProFTPD answers "226 Abort successful" before "426 Transfer aborted"
    want(res.end != "notify" and {res.final[0], res.abor[0]} == {426, 226},
         cell, "ABOR after 1 MiB: want 426 and 226, and the data "
         "connection ended without close_notify", res)


def c_upload_abor(ctx, cell):
    """ABOR of a STOR over an existing file before any byte was sent
    leaves the file as it was (426 and 226, in either order)."""
    srv = make_server(ctx, "upload", "abor")
    s = Session(ctx, srv, "abor")
    old = MARK + os.urandom(100000)
    path = s.put("keep.bin", old)
    d = s.r.pasv()
    s.r.send("STOR keep.bin\r\n")
    pre = _reply(s.r)
    try:
        assert pre[0] == 150, "%s: STOR: %r" % (cell, pre)
        d = s.tctx.wrap_socket(d, server_hostname="localhost",
                               session=s.session)
        # as a client that gives up: ABOR, and its end of the data
        # connection closed (ProFTPD reads ABOR once the data ends)
        s.r.send("ABOR\r\n")
    finally:
        d.close()
    replies = [_reply(s.r), _reply(s.r)]
    now = content(path)
    assert {c for c, _ in replies} == {426, 226}, "%s: ABOR of a STOR: " \
        "want 426 and 226, got %r" % (cell, replies)
    assert now == old, "%s: ABOR of a STOR before any byte (replies %r): " \
        "keep.bin has %s bytes, want the old %d" % (
            cell, replies, None if now is None else len(now), len(old))


def c_clientcert_sighup(ctx, cell):
    """A restart turns TLSVerifyClient on: sessions resumed from before it
    (TLS 1.2 and 1.3) do not log in without a certificate; the generic
    probe then runs in a session opened after the restart (one opened
    before keeps the configuration it started with)."""
    srv = make_server(ctx, "binding", "sighup")
    old = {}
    for v in ("1.2", "1.3"):
        t = cctx(v)
        r = open_ctl(srv, "explicit", t)
        old[v] = (t, r.sock.session)
        r.close()
    srv.append_conf(["%s %s" % kv for kv in VERIFY_ON.items()] +
                    ["TLSOptions NoSessionReuseRequired"])
    sighup(srv)
    s = Session(ctx, srv, "explicit", who=ALICE)
    try:
        for v, (t, sess) in sorted(old.items()):
            assert not logs_in(srv, "explicit", t, session=sess), \
                "%s: TLS %s: a session from before the restart logged in " \
                "without a certificate under TLSVerifyClient on" % (cell, v)
        p_clientcert(s, cell)
    finally:
        s.r.close()


def c_binding_alpn(ctx, cell):
    """Under ALPN "ftp" (selected on the control connection), TLS 1.2 and
    1.3: the generic probe; then a data connection that resumes this very
    session but offers a list without "ftp" is refused in its handshake
    (no_application_protocol: 425, no bytes), and the session goes on."""
    srv = make_server(ctx, "binding", "alpn")
    for version in ("1.2", "1.3"):
        s = Session(ctx, srv, "alpn", version=version)
        try:
            assert s.r.sock.selected_alpn_protocol() == "ftp", \
                "%s: TLS %s: ALPN ftp not selected" % (cell, version)
            p_binding(s, cell)
            data = MARK + os.urandom(50000)
            s.put("f.bin", data)
            for offer in (["http/1.1"], ["h2", "http/1.1"]):
                s.tctx.set_alpn_protocols(offer)
                try:
                    res = s.xfer("RETR f.bin")
                finally:
                    s.tctx.set_alpn_protocols(s.alpn)
                want(res.final[0] == 425 and not res.got and re.search(
                    r"(?i)no.application.protocol", res.end or ""), cell,
                    "TLS %s: RETR, data connection resuming this session "
                    "with ALPN %s: want alert 120, 425 and no bytes"
                    % (version, offer), res)
            res = s.xfer("RETR f.bin")
            want(res.final[0] == 226 and res.got == data, cell, "TLS %s: "
                 "RETR after the refusals: want 226 and the file" % version,
                 res)
        finally:
            s.r.close()


CUSTOM = {
    ("binding", "alpn"): c_binding_alpn,
    ("clientcert", "sighup"): c_clientcert_sighup,
    ("clientcert", "peruser"): c_clientcert_peruser,
    ("clientcert", "sni"): c_clientcert_sni,
    ("clientcert", "tls12"): lambda ctx, c: c_clientcert_ticket(ctx, c, "1.2"),
    ("clientcert", "tls13"): lambda ctx, c: c_clientcert_ticket(ctx, c, "1.3"),
    ("required", "ccc"): c_required_ccc,
    ("truncation", "abor"): c_truncation_abor,
    ("upload", "abor"): c_upload_abor,
}


# -- the table ------------------------------------------------------------------

def test_promise_matrix_table(ctx):
    """Every cell is a test or has a reason; print the reasons."""
    for p in PROMISES:
        for f in FEATURES:
            name = "test_promise_matrix_%s_%s" % (p, f)
            real = name in globals()
            assert real != ((p, f) in NA), \
                "cell %s x %s: %s" % (p, f, "both a test and n/a" if real
                                      else "neither a test nor n/a")
    assert set(NA) | set(CUSTOM) <= {(p, f) for p in PROMISES
                                     for f in FEATURES}, "unknown cell"
    for (p, f), why in sorted(NA.items()):
        print("# n/a - %s x %s: %s" % (p, f, why))


def _make_cell(promise, feature):
    name = "test_promise_matrix_%s_%s" % (promise, feature)
    custom = CUSTOM.get((promise, feature))

    def cell(ctx):
        if custom:
            return custom(ctx, name)
        srv = make_server(ctx, promise, feature)
        # TLSRequired auth + AllowPerUser refuses a plain login: the
        # required x peruser session logs in after AUTH (p_required
        # checks the refusal of the plain one)
        s = Session(ctx, srv, feature,
                    who=ALICE if promise == "clientcert" else None,
                    open_as="explicit" if (promise, feature) == (
                        "required", "peruser") else None)
        try:
            PROBES[promise](s, name)
        finally:
            s.r.close()
    cell.__name__ = name
    cell.__doc__ = (custom or PROBES[promise]).__doc__
    return name, cell


for _p in PROMISES:
    for _f in FEATURES:
        if (_p, _f) not in NA:
            _n, _fn = _make_cell(_p, _f)
            globals()[_n] = _fn
