"""SNI and name-based vhosts (README "SNI and name-based vhosts").

One daemon port, three servers on it: the default server and two
name-based <VirtualHost 127.0.0.1> blocks on the same Port, "vhost a"
(ServerAlias a.example) and "vhost b" (ServerAlias b.example), each with
its own certificate (self-signed, CN and DNS subjectAltName = its name,
made here with openssl) and its own AuthUserFile: the same user and
password, but a home of its own holding who.txt and data.bin (random
bytes, a size of its own).  Which vhost a session is on is read from what
it serves (RETR compared byte for byte, SIZE, where a STOR lands on disk),
which certificate it presents from the DER the client received.

Checked: SNI picks the vhost's certificate and session (ftplib, curl with
--resolve, openssl s_client -servername, gnutls-cli --sni-hostname);
unknown names, IP literals and no SNI stay on the default server without an
alert; HOST before AUTH must agree with SNI (else access_denied), HOST after
AUTH is accepted only with the SNI name (mod_core: 503 without SNI, 504 with
another name); TLSOptions IgnoreSNI; data connections resume the control
session after the vhost move, and ignore their own SNI; the vhost's
TLSRequired and TLSOptions govern the session after the move.
"""

import ftplib
import os
import re
import ssl
import subprocess

import ftpsd
from clients import (Raw, ReusingFTP_TLS, context, expect,
                     close_quietly, reply_to, retr_bytes, run, describe,
                     _feed, TIMEOUT)
from ftpsd import sha256

NAMES = ("a.example", "b.example")
DEFAULT = "default"
PROTOCOLS = "TLSv1.2 TLSv1.3"


# -- certificates --------------------------------------------------------------

_cert_dir = {}


def _valid(pem):
    return os.path.exists(pem) and subprocess.run(
        ["openssl", "x509", "-in", pem, "-noout", "-checkend", "86400"],
        capture_output=True, timeout=30).returncode == 0


def sni_certs():
    """Directory with NAME.pem (certificate, then key) and NAME.crt for each
    of NAMES: self-signed EC P-256, CN=NAME, subjectAltName DNS:NAME.  Made
    once into tmp_root()/sni-certs, again when missing or about to expire."""
    if "dir" in _cert_dir:
        return _cert_dir["dir"]
    d = os.path.join(ftpsd.tmp_root(), "sni-certs")
    os.makedirs(d, mode=0o755, exist_ok=True)
    for name in NAMES:
        pem, crt = os.path.join(d, name + ".pem"), os.path.join(d, name + ".crt")
        if _valid(pem) and os.path.exists(crt):
            continue
        tmp = os.path.join(d, ".%s.%d" % (name, os.getpid()))
        key = tmp + ".key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", key, "-out", tmp + ".crt", "-days", "30",
             "-subj", "/CN=" + name,
             "-addext", "subjectAltName=DNS:" + name,
             "-addext", "basicConstraints=critical,CA:false",
             "-addext", "extendedKeyUsage=serverAuth"],
            check=True, capture_output=True, timeout=60)
        old = os.umask(0o077)
        try:
            with open(tmp + ".pem", "wb") as out:
                for f in (tmp + ".crt", key):
                    with open(f, "rb") as inp:
                        out.write(inp.read())
        finally:
            os.umask(old)
        os.chmod(tmp + ".pem", 0o600)
        os.chmod(tmp + ".crt", 0o644)
        os.rename(tmp + ".crt", crt)
        os.rename(tmp + ".pem", pem)
        os.unlink(key)
    _cert_dir["dir"] = d
    return d


def _der_of(pem_path):
    """DER of the first certificate in a PEM file."""
    with open(pem_path) as f:
        text = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  text, re.S)
    assert m, "no certificate in %s" % pem_path
    return ssl.PEM_cert_to_DER_cert(m.group(0))


def _subject_cn(der):
    p = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                        "-subject", "-nameopt", "RFC2253"], input=der,
                       capture_output=True, timeout=30)
    m = re.search(r"CN=([^,\n]+)", p.stdout.decode(errors="replace"))
    return m.group(1) if m else "?"


# -- the daemon ----------------------------------------------------------------

class Vhost:
    """What a session on one server (DEFAULT or a name) must see."""

    def __init__(self, key, home, der, data):
        self.key, self.home, self.der, self.data = key, home, der, data
        self.who = ("%s\n" % key).encode()


def _vhost_block(srv, name, passwd, lines):
    """A name-based vhost on the daemon's port; lines add directives or
    replace those of the same name (TLSRequired is on unless replaced)."""
    base = [
        "Port %d" % srv.port,
        'ServerName "vhost %s"' % name,
        "ServerAlias %s" % name,
        "AuthOrder mod_auth_file.c",
        "AuthUserFile " + passwd,
        "RequireValidShell off",
        "DefaultRoot ~",
        "AllowOverwrite on",
        "Umask 022",
        "TLSEngine on",
        "TLSLog " + srv.tls_log,
        "TLSECCertificateFile " + os.path.join(sni_certs(), name + ".pem"),
        "TLSProtocol " + PROTOCOLS,
        "TLSRequired on",
    ]
    replaced = {l.split()[0] for l in lines}
    body = [l for l in base if l.split()[0] not in replaced] + list(lines)
    return ["<VirtualHost 127.0.0.1>"] + ["  " + l for l in body] + \
        ["</VirtualHost>"]


def sni_server(ctx, tls=None, vhost_extra=None, more=(), start=True):
    """The default server (tls= overrides its TLS directives) plus the
    name-based vhosts of NAMES on its port; vhost_extra maps a name to more
    directives for its block (TLSRequired defaults to on); more= lines go
    after the blocks (e.g. another vhost).  srv.vh maps DEFAULT and each
    name to a Vhost."""
    vhost_extra = vhost_extra or {}
    sni_certs()
    srv = ctx.server(tls=tls, start=False, shared=False, name="ftpsd-sni")
    srv.vh = {}
    lines = []
    for i, key in enumerate((DEFAULT,) + NAMES):
        if key == DEFAULT:
            home, der = srv.home, _der_of(ftpsd.cert())
        else:
            home = os.path.join(srv.dir, "home-" + key)
            os.mkdir(home, 0o755)
            os.chown(home, ftpsd.UID, ftpsd.GID)
            passwd = os.path.join(srv.dir, "passwd-" + key)
            with open(passwd, "w") as f:
                f.write("%s:%s:%d:%d::%s:/bin/false\n"
                        % (srv.user, ftpsd.password_hash(srv.password),
                           ftpsd.UID, ftpsd.GID, home))
            os.chmod(passwd, 0o600)
            der = _der_of(os.path.join(sni_certs(), key + ".pem"))
            lines += _vhost_block(srv, key, passwd, vhost_extra.get(key, ()))
        vh = Vhost(key, home, der, os.urandom(100000 + 1111 * i))
        for fname, data in (("who.txt", vh.who), ("data.bin", vh.data)):
            path = os.path.join(home, fname)
            ftpsd.write_file(path, data)
            os.chown(path, ftpsd.UID, ftpsd.GID)
        srv.vh[key] = vh
    srv.append_conf(lines + list(more))
    if start:
        srv.start()
    return srv


def _which(srv, der):
    """The server whose certificate der is, or a description."""
    for key, vh in srv.vh.items():
        if vh.der == der:
            return key
    return "an unknown certificate (CN=%s)" % _subject_cn(der)


# -- an ftplib client that sends the SNI we choose ------------------------------

class SniFTP_TLS(ReusingFTP_TLS):
    """ftplib connected to 127.0.0.1 whose control handshake sends sni (None:
    no SNI extension); data handshakes resume the control session and send
    data_sni (default: the same name).  Records each data connection's
    certificate and whether it resumed."""

    sni = None
    data_sni = "same"

    def auth(self):
        resp = self.voidcmd("AUTH TLS")
        self.sock = self.context.wrap_socket(self.sock,
                                             server_hostname=self.sni)
        self.file = self.sock.makefile(mode="r", encoding=self.encoding)
        self.data_log = []
        return resp

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            name = self.sni if self.data_sni == "same" else self.data_sni
            conn = self.context.wrap_socket(conn, server_hostname=name,
                                            session=self.sock.session)
            self.data_log.append((conn.getpeercert(True),
                                  conn.session_reused))
        return conn, size


class StockSniFTP_TLS(SniFTP_TLS):
    """As SniFTP_TLS, but data handshakes never resume (stock ftplib)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.sni)
            self.data_log.append((conn.getpeercert(True),
                                  conn.session_reused))
        return conn, size


def sni_ftps(srv, sni, version=None, login=True, prot_p=True, host=None,
             cls=SniFTP_TLS, data_sni="same"):
    """Connected ftplib client: HOST host first when given, AUTH TLS with
    SNI sni, then (by default) login and PROT P."""
    f = cls(context=context(version), timeout=TIMEOUT)
    f.sni, f.data_sni = sni, data_sni
    f.connect(srv.host, srv.port)
    try:
        if host is not None:
            resp = f.sendcmd("HOST " + host)
            assert resp.startswith("220"), \
                "HOST %s before AUTH: expected 220, got %r" % (host, resp)
        f.auth()
        if login:
            f.login(srv.user, srv.password)
        if prot_p:
            f.prot_p()
    except BaseException:
        close_quietly(f)
        raise
    return f


def assert_session_on(srv, f, key, what):
    """f's control certificate, files and uploads are those of server key;
    its data connections resumed and presented the same certificate."""
    vh = srv.vh[key]
    der = f.sock.getpeercert(True)
    assert der == vh.der, "%s: control certificate: want %s's, got %s's" \
        % (what, key, _which(srv, der))
    who = retr_bytes(f, "who.txt")
    assert who == vh.who, "%s: who.txt: want %r (the %s home), got %r" \
        % (what, vh.who, key, who)
    got = retr_bytes(f, "data.bin")
    assert sha256(got) == sha256(vh.data), \
        "%s: data.bin: want %d bytes of the %s home, got %d bytes (%s)" \
        % (what, len(vh.data), key, len(got),
           _home_of_data(srv, got))
    up = os.urandom(54321)
    name = "up-%s.bin" % re.sub(r"\W", "_", what)[:40]
    resp = f.storbinary("STOR " + name, _reader(up))
    assert resp.startswith("226"), "%s: STOR: %r" % (what, resp)
    path = os.path.join(vh.home, name)
    assert os.path.exists(path), "%s: the upload is not in the %s home " \
        "(%s); found in: %s" % (what, key, vh.home, _where(srv, name))
    assert ftpsd.sha256_file(path) == sha256(up), \
        "%s: uploaded bytes differ on disk" % what
    for cert, resumed in getattr(f, "data_log", ()):
        assert resumed, "%s: a data connection did not resume" % what
        assert cert == vh.der, "%s: data connection certificate: want " \
            "%s's, got %s's" % (what, key, _which(srv, cert))


def _reader(data):
    import io
    return io.BytesIO(data)


def _home_of_data(srv, got):
    for key, vh in srv.vh.items():
        if got == vh.data:
            return "that of the %s home" % key
    return "no home's"


def _where(srv, name):
    return ", ".join(k for k, vh in srv.vh.items()
                     if os.path.exists(os.path.join(vh.home, name))) or "none"


def _handshake_alert(srv, sni, host=None, version=None):
    """AUTH TLS (after HOST host) and a handshake with SNI sni that must
    fail; returns the SSLError."""
    with Raw(srv) as r:
        if host is not None:
            expect(r.cmd("HOST " + host), 220, "HOST %s before AUTH" % host)
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        try:
            r.sock = context(version).wrap_socket(r.sock,
                                                  server_hostname=sni)
        except ssl.SSLError as e:
            return e
        raise AssertionError("HOST %s, then SNI %s (TLS %s): the handshake "
                             "succeeded with %s's certificate; want an "
                             "access_denied alert"
                             % (host, sni, version or "any",
                                _which(srv, r.sock.getpeercert(True))))


def _log_has(srv, mark, pattern):
    return re.search(pattern, srv.log_since(mark, n=200)) is not None


# -- SNI picks the vhost -------------------------------------------------------

def test_sni_picks_vhost_certificate_and_session(ctx):
    """SNI a.example / b.example (TLS 1.2 and 1.3): that vhost's certificate,
    then its home (RETR bytes, STOR on its disk), data resumed."""
    srv = sni_server(ctx)
    for version in ("1.2", "1.3"):
        for name in NAMES:
            mark = srv.log_mark()
            f = sni_ftps(srv, name, version=version)
            try:
                assert_session_on(srv, f, name,
                                  "SNI %s, TLS %s" % (name, version))
                assert f.data_log, "no protected data connection was made"
                assert f.sendcmd("PWD").startswith('257 "/"'), \
                    "SNI %s: DefaultRoot ~ of the vhost" % name
            finally:
                close_quietly(f)
            assert _log_has(srv, mark, r"SNI '%s': vhost 'vhost %s'"
                            % (re.escape(name), re.escape(name))), \
                "SNI %s: no TLSLog line naming the vhost" % name


def test_sni_unknown_name_stays_default(ctx):
    """An SNI name no vhost has: no alert, the default certificate and
    session."""
    srv = sni_server(ctx)
    for version in ("1.2", "1.3"):
        f = sni_ftps(srv, "c.example", version=version)
        try:
            assert_session_on(srv, f, DEFAULT,
                              "unknown SNI c.example, TLS %s" % version)
        finally:
            close_quietly(f)


def test_sni_no_sni_and_ip_literal_stay_default(ctx):
    """No SNI extension (ftplib without a name; s_client -noservername) and
    an IP-literal SNI (s_client -servername 127.0.0.1, which sends it): the
    default server."""
    srv = sni_server(ctx)
    f = sni_ftps(srv, None)
    try:
        assert_session_on(srv, f, DEFAULT, "no SNI")
    finally:
        close_quietly(f)
    for opt in (["-noservername"], ["-servername", "127.0.0.1"]):
        der, out = _s_client_cert(srv, opt, ["USER " + srv.user,
                                             "PASS " + srv.password,
                                             "TYPE I", "SIZE data.bin", "QUIT"])
        what = "s_client %s" % " ".join(opt)
        assert der == srv.vh[DEFAULT].der, "%s: want the default " \
            "certificate, got %s's" % (what, _which(srv, der))
        _expect_size(srv, out, DEFAULT, what)


def test_sni_vhost_without_tls_stays_default(ctx):
    """SNI naming a vhost whose TLSEngine is off: the default certificate
    and session, no alert.  (A vhost with TLSEngine on and no certificate
    no longer starts: test_cert_promises.py, issue 11 item 11.)"""
    srv = sni_server(ctx, start=False)
    more = []
    for name, tls in (("c.example", ["TLSEngine off"]),):
        home = os.path.join(srv.dir, "home-" + name)
        os.mkdir(home, 0o755)
        more += ["<VirtualHost 127.0.0.1>", "  Port %d" % srv.port,
                 '  ServerName "vhost %s"' % name, "  ServerAlias " + name,
                 "  AuthOrder mod_auth_file.c",
                 "  AuthUserFile " + os.path.join(srv.dir, "passwd"),
                 "  RequireValidShell off", "  DefaultRoot " + home] + \
            ["  " + l for l in tls] + ["</VirtualHost>"]
    srv.append_conf(more)
    srv.start()
    for name in ("c.example",):
        f = sni_ftps(srv, name)
        try:
            assert_session_on(srv, f, DEFAULT, "SNI %s (vhost without TLS)"
                              % name)
        finally:
            close_quietly(f)


# -- HOST and SNI ----------------------------------------------------------------

def test_sni_host_before_auth_agrees(ctx):
    """HOST a.example, then SNI a.example (and A.EXAMPLE): a's certificate
    and session; HOST b.example then no SNI: b's (HOST alone moves the
    session, certificate included)."""
    srv = sni_server(ctx)
    for version in ("1.2", "1.3"):
        for host, sni, key in (("a.example", "a.example", "a.example"),
                               ("a.example", "A.EXAMPLE", "a.example"),
                               ("b.example", None, "b.example")):
            what = "HOST %s, SNI %s, TLS %s" % (host, sni, version)
            f = sni_ftps(srv, sni, version=version, host=host)
            try:
                assert_session_on(srv, f, key, what)
            finally:
                close_quietly(f)


def test_sni_host_before_auth_contradicted(ctx):
    """HOST a.example, then SNI b.example: the handshake ends with an
    access_denied alert (TLS 1.2 and 1.3); so does HOST b.example then SNI
    a.example, and HOST a.example then SNI c.example (unknown)."""
    srv = sni_server(ctx)
    for version in ("1.2", "1.3"):
        for host, sni in (("a.example", "b.example"),
                          ("b.example", "a.example"),
                          ("a.example", "c.example")):
            mark = srv.log_mark()
            e = _handshake_alert(srv, sni, host=host, version=version)
            assert "ACCESS_DENIED" in str(e), \
                "HOST %s, SNI %s, TLS %s: want an access_denied alert, got " \
                "%r" % (host, sni, version, e)
            assert _log_has(srv, mark, r"SNI '%s' contradicts HOST '%s'"
                            % (re.escape(sni), re.escape(host))), \
                "HOST %s, SNI %s: TLSLog does not say why" % (host, sni)
    # the daemon is fine: the next session with the right SNI works
    f = sni_ftps(srv, "b.example")
    try:
        assert_session_on(srv, f, "b.example", "SNI b.example after refusals")
    finally:
        close_quietly(f)


def test_sni_host_after_auth(ctx):
    """After AUTH with SNI a.example: HOST a.example is accepted (220) and
    the session stays a's; HOST b.example gets mod_core's 504 and the
    session stays a's.  Without SNI, HOST after AUTH gets 503; with an
    unknown SNI name (no vhost), HOST of a known name gets 504."""
    srv = sni_server(ctx)
    for host, code in (("a.example", 220), ("b.example", 504)):
        f = sni_ftps(srv, "a.example", login=False, prot_p=False)
        try:
            resp = reply_to(f, "HOST " + host)
            assert resp.startswith(str(code)), "SNI a.example, HOST %s " \
                "after AUTH: expected %d, got %r" % (host, code, resp)
            f.login(srv.user, srv.password)
            f.prot_p()
            assert_session_on(srv, f, "a.example",
                              "SNI a.example, HOST %s after AUTH" % host)
        finally:
            close_quietly(f)
    for sni, code, key in ((None, 503, DEFAULT),
                           ("c.example", 504, DEFAULT)):
        f = sni_ftps(srv, sni, login=False, prot_p=False)
        try:
            resp = reply_to(f, "HOST a.example")
            assert resp.startswith(str(code)), "SNI %s, HOST a.example " \
                "after AUTH: expected %d, got %r" % (sni, code, resp)
            f.login(srv.user, srv.password)
            f.prot_p()
            assert_session_on(srv, f, key, "SNI %s, HOST a.example after "
                              "AUTH" % sni)
        finally:
            close_quietly(f)


def test_sni_ignore_sni(ctx):
    """TLSOptions IgnoreSNI (on every server): SNI a.example gets the
    default certificate and session; HOST a.example then SNI b.example is
    not refused and stays a's (HOST's doing); HOST after AUTH with SNI
    a.example is refused as without SNI (503)."""
    opt = "TLSOptions IgnoreSNI"
    srv = sni_server(ctx, tls={"TLSOptions": "IgnoreSNI"},
                     vhost_extra={n: [opt] for n in NAMES})
    for version in ("1.2", "1.3"):
        f = sni_ftps(srv, "a.example", version=version)
        try:
            assert_session_on(srv, f, DEFAULT, "IgnoreSNI, SNI a.example, "
                              "TLS %s" % version)
        finally:
            close_quietly(f)
        f = sni_ftps(srv, "b.example", version=version, host="a.example")
        try:
            assert_session_on(srv, f, "a.example", "IgnoreSNI, HOST "
                              "a.example then SNI b.example, TLS %s" % version)
        finally:
            close_quietly(f)
    f = sni_ftps(srv, "a.example", login=False, prot_p=False)
    try:
        resp = reply_to(f, "HOST a.example")
        assert resp.startswith("503"), "IgnoreSNI, SNI a.example, HOST " \
            "a.example after AUTH: expected 503, got %r" % resp
    finally:
        close_quietly(f)


# -- data connections after the move ---------------------------------------------

def test_sni_data_resume_ftplib(ctx):
    """Under SNI a.example, several data connections (RETR, LIST, STOR)
    resume the control session and present a's certificate; a data
    handshake that sends another name (b.example) or none is not switched
    anywhere (data connections ignore SNI)."""
    srv = sni_server(ctx)
    for version in ("1.2", "1.3"):
        for data_sni in ("same", "b.example", None):
            what = "SNI a.example, data SNI %s, TLS %s" \
                % ("a.example" if data_sni == "same" else data_sni, version)
            f = sni_ftps(srv, "a.example", version=version,
                         data_sni=data_sni)
            try:
                for _ in range(3):
                    got = retr_bytes(f, "data.bin")
                    assert got == srv.vh["a.example"].data, \
                        "%s: RETR data.bin: %s" % (what,
                                                   _home_of_data(srv, got))
                names = f.nlst()
                assert "who.txt" in names, "%s: NLST %r" % (what, names)
                assert_session_on(srv, f, "a.example", what)
                assert len(f.data_log) >= 6, "%s: %d data connections" \
                    % (what, len(f.data_log))
            finally:
                close_quietly(f)


def _curl_argv(srv, name, version=None):
    argv = ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "50",
            "--user", "%s:%s" % (srv.user, srv.password),
            "--resolve", "%s:%d:127.0.0.1" % (name, srv.port)]
    if version == "1.2":
        argv += ["--tlsv1.2", "--tls-max", "1.2"]
    elif version == "1.3":
        argv += ["--tlsv1.3"]
    return argv


def test_sni_data_curl(ctx):
    """curl ftp://a.example:PORT/ with --resolve (curl sends SNI a.example):
    RETR of a's data.bin, upload into a's home, listing; the same for
    b.example; TLS 1.2 and 1.3; every data connection resumed."""
    ctx.need("curl")
    srv = sni_server(ctx)
    for version in ("1.2", "1.3"):
        for name in NAMES:
            vh = srv.vh[name]
            what = "curl %s TLS %s" % (name, version)
            out = os.path.join(srv.client_dir, "out.bin")
            mark = srv.log_mark()
            url = "ftp://%s:%d/" % (name, srv.port)
            p = run(_curl_argv(srv, name, version) +
                    ["-o", out, url + "data.bin"])
            assert p.returncode == 0, "%s RETR: %s" % (what, describe(p))
            got = open(out, "rb").read()
            assert got == vh.data, "%s: data.bin: want the %s home's, got " \
                "%s" % (what, name, _home_of_data(srv, got))
            up = srv.client_file("up.bin", size=70000)
            target = "curl-up-%s.bin" % version
            p = run(_curl_argv(srv, name, version) + ["-T", up,
                                                      url + target])
            assert p.returncode == 0, "%s STOR: %s" % (what, describe(p))
            landed = os.path.join(vh.home, target)
            assert os.path.exists(landed) and \
                ftpsd.sha256_file(landed) == ftpsd.sha256_file(up), \
                "%s: upload not in the %s home (found in: %s)" \
                % (what, name, _where(srv, target))
            p = run(_curl_argv(srv, name, version) + ["-l", url])
            assert p.returncode == 0 and \
                target in p.stdout.decode(errors="replace"), \
                "%s NLST: %s" % (what, describe(p))
            log = srv.log_since(mark, n=200)
            data = re.findall(r"data connection protected: [^\n]*", log)
            assert len(data) == 3 and \
                all(", resumed;" in l for l in data), \
                "%s: want 3 resumed data connections in TLSLog:\n%s" \
                % (what, log)
            assert log.count("SNI '%s': vhost 'vhost %s'" % (name, name)) \
                == 3, "%s: want 3 SNI switches in TLSLog:\n%s" % (what, log)


def _s_client_cert(srv, opts, lines, version=None):
    """openssl s_client -starttls ftp with opts; returns (DER of the
    server certificate, output)."""
    argv = ["openssl", "s_client", "-starttls", "ftp", "-crlf", "-ign_eof",
            "-connect", "%s:%d" % (srv.host, srv.port)] + list(opts)
    if version:
        argv.append("-tls1_2" if version == "1.2" else "-tls1_3")
    rc, out = _feed(argv, lines, 0.2, 30, "s_client")
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                  out, re.S)
    assert m, "s_client %s: no server certificate in the output:\n%s" \
        % (" ".join(opts), out[-2000:])
    return ssl.PEM_cert_to_DER_cert(m.group(0)), out


def _expect_size(srv, out, key, what):
    want = "213 %d" % len(srv.vh[key].data)
    assert re.search(r"^%s\r?$" % want, out, re.M), \
        "%s: want %r (SIZE of the %s home's data.bin), got:\n%s" \
        % (what, want, key, out[-1500:])


def test_sni_s_client(ctx):
    """openssl s_client -servername NAME: NAME's certificate, and the
    session is NAME's (SIZE of its data.bin, RETR-free)."""
    srv = sni_server(ctx)
    for version in ("1.2", "1.3"):
        for name in NAMES + ("c.example",):
            key = name if name in NAMES else DEFAULT
            what = "s_client -servername %s, TLS %s" % (name, version)
            der, out = _s_client_cert(srv, ["-servername", name],
                                      ["USER " + srv.user,
                                       "PASS " + srv.password,
                                       "TYPE I", "SIZE data.bin", "QUIT"], version)
            assert der == srv.vh[key].der, "%s: want %s's certificate, " \
                "got %s's" % (what, key, _which(srv, der))
            _expect_size(srv, out, key, what)
            assert re.search(r"^221 ", out, re.M), \
                "%s: no 221 to QUIT:\n%s" % (what, out[-1500:])


def test_sni_gnutls_cli(ctx):
    """gnutls-cli --starttls-proto=ftp --sni-hostname NAME: NAME's
    certificate (--save-cert) and NAME's session."""
    ctx.need("gnutls-cli")
    srv = sni_server(ctx)
    for name in NAMES:
        saved = os.path.join(srv.client_dir, "gnutls-%s.pem" % name)
        argv = ["gnutls-cli", "--insecure", "--crlf",
                "--starttls-proto=ftp", "--sni-hostname", name,
                "--save-cert", saved, "--port", str(srv.port), srv.host]
        rc, out = _feed(argv, ["USER " + srv.user, "PASS " + srv.password,
                               "TYPE I", "SIZE data.bin", "QUIT"], 0.3, 30,
                        "gnutls-cli")
        what = "gnutls-cli --sni-hostname %s" % name
        assert os.path.exists(saved), "%s: no certificate saved:\n%s" \
            % (what, out[-1500:])
        der = _der_of(saved)
        assert der == srv.vh[name].der, "%s: want %s's certificate, got " \
            "%s's" % (what, name, _which(srv, der))
        _expect_size(srv, out, name, what)


# -- the vhost's own TLSRequired and TLSOptions ----------------------------------

def test_sni_vhost_tls_required(ctx):
    """Default TLSRequired ctrl (PROT C transfers allowed), vhost a
    TLSRequired on: after SNI a.example, PROT C is refused (534) and a
    transfer without PROT P gets 522, while SNI b.example (TLSRequired
    ctrl) and the default server allow clear data."""
    srv = sni_server(ctx, tls={"TLSRequired": "ctrl"},
                     vhost_extra={"a.example": ["TLSRequired on"],
                                  "b.example": ["TLSRequired ctrl"]})
    for sni in ("a.example", "b.example", None):
        key = sni or DEFAULT
        f = sni_ftps(srv, sni, prot_p=False)
        try:
            what = "SNI %s" % sni
            if key == "a.example":
                resp = reply_to(f, "PROT C")
                assert resp.startswith("534"), "%s (TLSRequired on): PROT " \
                    "C: expected 534, got %r" % (what, resp)
                try:
                    f.nlst()
                    raise AssertionError("%s (TLSRequired on): a transfer "
                                         "without PROT P succeeded" % what)
                except ftplib.error_perm as e:
                    assert str(e).startswith("522"), \
                        "%s: transfer without PROT P: expected 522, got %r" \
                        % (what, str(e))
                f.prot_p()
                assert_session_on(srv, f, key, what + " after PROT P")
            else:
                resp = f.sendcmd("PROT C")
                assert resp.startswith("200"), "%s (TLSRequired ctrl): " \
                    "PROT C: %r" % (what, resp)
                got = retr_bytes(f, "data.bin")
                assert got == srv.vh[key].data, "%s: clear RETR: %s" \
                    % (what, _home_of_data(srv, got))
        finally:
            close_quietly(f)


def test_sni_vhost_tls_required_looser(ctx):
    """Default TLSRequired on, vhost b TLSRequired ctrl: SNI b.example
    allows PROT C and a clear RETR of b's file; the default refuses PROT C."""
    srv = sni_server(ctx, vhost_extra={"b.example": ["TLSRequired ctrl"]})
    f = sni_ftps(srv, "b.example", prot_p=False)
    try:
        resp = f.sendcmd("PROT C")
        assert resp.startswith("200"), "SNI b.example (TLSRequired ctrl): " \
            "PROT C: %r" % resp
        got = retr_bytes(f, "data.bin")
        assert got == srv.vh["b.example"].data, "SNI b.example: clear " \
            "RETR: %s" % _home_of_data(srv, got)
    finally:
        close_quietly(f)
    f = sni_ftps(srv, None, prot_p=False)
    try:
        resp = reply_to(f, "PROT C")
        assert resp.startswith("534"), "default (TLSRequired on): PROT C: " \
            "expected 534, got %r" % resp
    finally:
        close_quietly(f)


def _retr_result(srv, f, key):
    """RETR data.bin: "ok" (key's bytes), or what went wrong: the final
    reply, which follows a refused data handshake on the control line."""
    try:
        got = retr_bytes(f, "data.bin")
        return "ok" if got == srv.vh[key].data else \
            "wrong bytes (%s)" % _home_of_data(srv, got)
    except (ftplib.error_temp, ftplib.error_perm) as e:
        return str(e)
    except (ssl.SSLError, OSError, EOFError) as e:
        try:
            return f.getresp()
        except (ftplib.error_temp, ftplib.error_perm) as e2:
            return str(e2)
        except Exception as e2:
            return "broken: %s / %s" % (e, e2)


def test_sni_vhost_tls_options(ctx):
    """TLSOptions NoSessionReuseRequired on the default server and vhost b,
    not on vhost a: a client whose data connections never resume (stock
    ftplib) transfers on the default server and under SNI b.example, and
    gets 425 under SNI a.example, whose data connections must resume."""
    opt = "NoSessionReuseRequired"
    srv = sni_server(ctx, tls={"TLSOptions": opt},
                     vhost_extra={"b.example": ["TLSOptions " + opt]})
    for sni in (None, "b.example", "a.example"):
        key = sni or DEFAULT
        f = sni_ftps(srv, sni, cls=StockSniFTP_TLS)
        try:
            der = f.sock.getpeercert(True)
            assert der == srv.vh[key].der, "SNI %s: want %s's certificate, " \
                "got %s's" % (sni, key, _which(srv, der))
            res = _retr_result(srv, f, key)
            if key == "a.example":
                assert res.startswith("425"), "SNI a.example (session reuse " \
                    "required): RETR without resumption: expected 425, got " \
                    "%r" % res
            else:
                assert res == "ok", "SNI %s (NoSessionReuseRequired): RETR " \
                    "without resumption: %s" % (sni, res)
                # a full data handshake: the vhost's certificate again
                cert, resumed = f.data_log[-1]
                assert not resumed and cert == srv.vh[key].der, \
                    "SNI %s: full data handshake: want %s's certificate, " \
                    "got %s's (resumed: %s)" % (sni, key,
                                                _which(srv, cert), resumed)
        finally:
            close_quietly(f)


def test_sni_vhost_tls_protocol(ctx):
    """Vhost a has TLSProtocol TLSv1.3 (the default server allows 1.2 and
    1.3): a TLS 1.2-only client is refused there whether it names a.example
    by HOST or by SNI, and a TLS 1.3 client gets a's session.  (The
    handshake must not go through with the default server's protocols and
    a's certificate.)"""
    srv = sni_server(ctx, vhost_extra={"a.example": ["TLSProtocol TLSv1.3"]})
    f = sni_ftps(srv, "a.example", version="1.3")
    try:
        assert_session_on(srv, f, "a.example", "SNI a.example, TLS 1.3")
    finally:
        close_quietly(f)
    f = sni_ftps(srv, None, version="1.2")
    try:
        assert_session_on(srv, f, DEFAULT, "default server, TLS 1.2")
    finally:
        close_quietly(f)
    for host, sni in (("a.example", None), (None, "a.example"),
                      ("a.example", "a.example")):
        what = "HOST %s, SNI %s, TLS 1.2 only (vhost a: TLSProtocol " \
            "TLSv1.3)" % (host, sni)
        with Raw(srv) as r:
            if host is not None:
                expect(r.cmd("HOST " + host), 220, what + ": HOST")
            expect(r.cmd("AUTH TLS"), 234, what + ": AUTH TLS")
            try:
                r.sock = context("1.2").wrap_socket(r.sock,
                                                    server_hostname=sni)
            except ssl.SSLError as e:
                assert "PROTOCOL_VERSION" in str(e), \
                    "%s: want a protocol_version alert, got %r" % (what, e)
                continue
            raise AssertionError("%s: the handshake succeeded (%s, %s's "
                                 "certificate); want it refused"
                                 % (what, r.sock.version(),
                                    _which(srv, r.sock.getpeercert(True))))


def test_sni_vhost_client_certificates(ctx):
    """Vhost b has TLSVerifyClient on (CA: the fixtures' root CA); the
    default server asks for no certificate.  SNI b.example without a client
    certificate: the handshake fails; with alice's: b's session; the default
    server works without one."""
    ca = ftpsd.cert("ca.pem")
    srv = sni_server(ctx, vhost_extra={"b.example": [
        "TLSVerifyClient on", "TLSCACertificateFile " + ca]})
    f = sni_ftps(srv, "a.example")
    try:
        assert_session_on(srv, f, "a.example", "SNI a.example, no client "
                          "certificate")
    finally:
        close_quietly(f)
    for version in ("1.2", "1.3"):
        c = context(version)
        c.load_cert_chain(ftpsd.cert("client-alice.pem"))
        f = SniFTP_TLS(context=c, timeout=TIMEOUT)
        f.sni = "b.example"
        f.connect(srv.host, srv.port)
        try:
            f.auth()
            f.login(srv.user, srv.password)
            f.prot_p()
            assert_session_on(srv, f, "b.example", "SNI b.example with "
                              "alice's certificate, TLS %s" % version)
        finally:
            close_quietly(f)
        try:
            f = sni_ftps(srv, "b.example", version=version)
        except (ssl.SSLError, OSError, EOFError, ftplib.Error):
            continue
        close_quietly(f)
        raise AssertionError("SNI b.example (TLSVerifyClient on), TLS %s, "
                             "no client certificate: the session was "
                             "accepted" % version)


def test_sni_vhost_session_tickets_off(ctx):
    """Vhost b has TLSSessionTickets off (the default server has tickets
    on): under TLS 1.2, a control connection that names b.example by SNI
    gets no ticket, as one naming it by HOST gets none, while a.example
    and the default server hand one out; data connections resume either
    way (by session ID)."""
    srv = sni_server(ctx, vhost_extra={"b.example": [
        "TLSSessionTickets off"]})
    for sni, host, want in ((None, None, True), ("a.example", None, True),
                            (None, "b.example", False),
                            ("b.example", None, False)):
        key = host or sni or DEFAULT
        what = "HOST %s, SNI %s, TLS 1.2" % (host, sni)
        f = sni_ftps(srv, sni, version="1.2", host=host)
        try:
            assert_session_on(srv, f, key, what)
            got = f.sock.session.has_ticket
            assert got == want, "%s: session ticket issued: %s, want %s " \
                "(%s: TLSSessionTickets %s)" % (what, got, want, key,
                                                "on" if want else "off")
        finally:
            close_quietly(f)
