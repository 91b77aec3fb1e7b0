"""Client certificates: TLSVerifyClient on/optional/off with
TLSCACertificateFile or TLSCACertificatePath, CRLs (TLSCARevocationFile and
TLSCARevocationPath), TLSVerifyDepth, certificate logins (TLSUserName,
TLSOptions AllowDotLogin), the CommonNameRequired / dNSNameRequired /
iPAddressRequired options, and data connections that present another
certificate than their control connection.

Clients: Python ssl/ftplib, curl --cert/--key, openssl s_client -cert/-key,
lftp with ssl:cert-file/ssl:key-file.

Fixtures: the client certificates of tests/fixtures/mkcerts.sh (alice:
CN alice, email alice@example.com, DNS localhost, IP 127.0.0.1, OID
1.3.6.1.4.1.55555.1 = carol; bob: CN bob, email only; mallory: revoked in
ca.crl; eve: self-signed), plus what _fixtures() makes below: hashed CA and
CRL directories, chains of 1 to 3 intermediate CAs under the root, and
leaves whose CN is the client's address or name.
"""

import io
import os
import re
import shutil
import socket
import ssl
import subprocess

import ftpsd
from ftpsd import Skip, cert, sha256, sha256_file
from clients import (Raw, expect, ftps, close_quietly, retr_bytes, s_client,
                     describe, context, run, have, TIMEOUT, PROC_TIMEOUT,
                     closed_by_peer)

MOD_TLS = "/usr/lib/proftpd/mod_tls.so"
CA = {"TLSCACertificateFile": "@ca.pem"}
CERT_AUTH = "AuthOrder mod_auth_file.c mod_tls.c"

# -- fixtures -----------------------------------------------------------------

_fx_cache = {}

_EXT = """\
[ v3_ca ]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_client ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ v3_client_ipdns ]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = DNS:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
"""


def _openssl(*args, cwd=None):
    p = subprocess.run(["openssl"] + list(args), capture_output=True,
                       timeout=60, cwd=cwd,
                       env=dict(os.environ, OPENSSL_CONF="/dev/null"))
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args),
                                               p.stderr.decode()[-1500:]))
    return p


def _fixtures():
    """Directory with this file's own fixtures (made once, then cached):

    cadir/        ca.pem, hashed (openssl rehash)
    crldir/       ca.crl, hashed
    sub1..sub3    intermediate CAs: root -> sub1 -> sub2 -> sub3
    depthN.crt    a client certificate (CN ftpuser) signed by subN, followed
                  by subN..sub1: the client's chain has N+2 certificates
                  with the root (N+1 without it); depthN.key its key
    cn-ip.*       CN 127.0.0.1, no subjectAltName
    cn-localhost.*  CN localhost, no subjectAltName
    dns-ip.*      CN nobody, DNS subjectAltName "127.0.0.1"
    """
    if "dir" in _fx_cache:
        return _fx_cache["dir"]
    d = os.path.join(ftpsd.tmp_root(), "clientcert-fixtures")
    stamp = os.path.join(d, ".complete")
    root_crt, root_key = cert("ca.pem"), cert("ca.key")
    if os.path.exists(stamp) and \
            os.path.getmtime(stamp) >= os.path.getmtime(root_crt):
        _fx_cache["dir"] = d
        return d
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d, 0o755)
    os.chmod(d, 0o755)
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write(_EXT)

    def key(name):
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
                 "ec_paramgen_curve:P-256", "-out", os.path.join(d, name))

    def sign(name, subj, section, ca_crt, ca_key):
        csr = os.path.join(d, name + ".csr")
        _openssl("req", "-new", "-key", os.path.join(d, name + ".key"),
                 "-subj", subj, "-out", csr)
        _openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
                 "-set_serial", "0x" + os.urandom(8).hex(), "-days", "825",
                 "-sha256", "-extfile", ext, "-extensions", section,
                 "-out", os.path.join(d, name + ".crt"))
        os.unlink(csr)

    issuer = (root_crt, root_key)
    for i in (1, 2, 3):
        key("sub%d.key" % i)
        sign("sub%d" % i, "/CN=mod_ftps test sub CA %d" % i, "v3_ca", *issuer)
        issuer = (os.path.join(d, "sub%d.crt" % i),
                  os.path.join(d, "sub%d.key" % i))
        leaf = "depth%d" % i
        key(leaf + ".key")
        sign(leaf, "/CN=ftpuser", "v3_client", *issuer)
        # the leaf, then its CAs up to (not including) the root
        with open(os.path.join(d, leaf + ".crt"), "a") as out:
            for j in range(i, 0, -1):
                with open(os.path.join(d, "sub%d.crt" % j)) as inp:
                    out.write(inp.read())
    for name, subj, section in (("cn-ip", "/CN=127.0.0.1", "v3_client"),
                                ("cn-localhost", "/CN=localhost",
                                 "v3_client"),
                                ("dns-ip", "/CN=nobody", "v3_client_ipdns")):
        key(name + ".key")
        sign(name, subj, section, root_crt, root_key)

    for sub, src in (("cadir", root_crt), ("crldir", cert("ca.crl"))):
        p = os.path.join(d, sub)
        os.mkdir(p, 0o755)
        shutil.copy(src, p)
        _openssl("rehash", p)
        hashed = [n for n in os.listdir(p)
                  if re.match(r"^[0-9a-f]{8}\.r?0$", n)]
        assert hashed, "openssl rehash %s made no hash link: %r" \
            % (p, os.listdir(p))
    for name in os.listdir(d):
        path = os.path.join(d, name)
        if os.path.isfile(path):
            os.chmod(path, 0o600 if name.endswith(".key") else 0o644)
    open(stamp, "w").close()
    _fx_cache["dir"] = d
    return d


def fx(name):
    return os.path.join(_fixtures(), name)


# Client identities: name -> (certificate file (with its chain), key file)
def ident(who):
    mk = {"alice": "client-alice", "bob": "client-bob",
          "mallory": "client-revoked", "eve": "client-untrusted"}
    if who in mk:
        return cert(mk[who] + ".crt"), cert(mk[who] + ".key")
    return fx(who + ".crt"), fx(who + ".key")


def cctx(who=None, version=None):
    """Python client context (no server verification) presenting who's
    certificate, or none."""
    c = context(version)
    if who:
        c.load_cert_chain(*ident(who))
    return c


# -- servers and probes -------------------------------------------------------

def _res(v):
    if isinstance(v, str) and v.startswith("@"):
        return cert(v[1:])
    if isinstance(v, str) and v.startswith("%"):
        return fx(v[1:])
    return v


def _server(ctx, tls=None, extra=(), auth_order=None, users=(),
            module=None, start=True):
    """A server this test owns.  tls/extra values "@name" are mkcerts.sh
    fixtures, "%name" this file's; auth_order replaces the AuthOrder line;
    users are (name, password) pairs added to the AuthUserFile."""
    tls = {k: _res(v) for k, v in (tls or {}).items()}
    extra = [" ".join(_res(w) for w in line.split()) for line in extra]
    srv = ftpsd.Server(module or ctx.module, tls=tls, extra=extra,
                       keep=ctx.keep, name="clientcert")
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    if auth_order and auth_order != "AuthOrder mod_auth_file.c":
        srv.replace_conf("AuthOrder", auth_order)
    for name, pw in users:
        srv.add_user(name, pw)
    if start:
        srv.start()
    return srv


def _verify(mode, **more):
    """tls= for TLSVerifyClient mode with the CA file and more directives."""
    tls = dict(CA)
    tls["TLSVerifyClient"] = mode
    tls.update(more)
    return tls


def control(srv, who=None, version=None):
    """AUTH TLS presenting who's certificate; then USER ftpuser.

    Returns ("ok", raw) with the Raw client (USER answered 331) or
    ("refused", text) when the handshake failed or the session ended
    (421 or EOF) before USER was answered; in that case the server must
    also have closed the connection."""
    r = Raw(srv)
    keep = None
    try:
        expect(r.banner, 220, "banner")
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        # a failed wrap_socket closes its descriptor: keep a duplicate to
        # see whether the server ends the connection
        keep = r.sock.dup()
        try:
            r.starttls(ctx=cctx(who, version))
            code, text = r.cmd("USER " + srv.user)
        except (ssl.SSLError, OSError, EOFError) as e:
            how = "handshake/first read failed: %s" % e
        else:
            if code == 331:
                return "ok", r
            if code != 421:
                raise AssertionError("%s: USER after the handshake: want 331 "
                                     "or the session ended, got %r"
                                     % (who, text))
            how = text
        assert closed_by_peer(keep), "%s: refused (%s) but the connection " \
            "is still open 10s later" % (who, how)
        r.close()
        return "refused", how
    except BaseException:
        r.close()
        raise
    finally:
        if keep is not None:
            keep.close()


def assert_accepted(srv, who, version=None, what=""):
    """who's certificate is accepted: USER/PASS log in, a command works."""
    status, r = control(srv, who, version)
    assert status == "ok", "%s%s (TLS %s): want accepted, got %s" \
        % (what, who, version or "any", r)
    with r:
        expect(r.cmd("PASS " + srv.password), 230, "%s: PASS" % who)
        expect(r.cmd("PWD"), 257, "%s: PWD" % who)


# The alerts OpenSSL sends for each refusal (Python's spelling of them).
NO_CERT = r"(?i)handshake failure|certificate required"
UNKNOWN_CA = r"(?i)unknown ca"
REVOKED = r"(?i)certificate revoked"
LOST_ALERT = r"(?i)EOF occurred|connection reset|broken pipe"


def assert_refused(srv, who, version=None, what="", alert=None):
    """who's certificate (None: none) is refused: the handshake fails (with
    an alert matching alert, when given) or the session ends before USER
    is answered, and the server closes the connection."""
    status, how = control(srv, who, version)
    if status == "ok":
        how.close()
        raise AssertionError("%s%s (TLS %s): want the handshake refused or "
                             "the session ended, but USER got 331"
                             % (what, who or "no certificate",
                                version or "any"))
    # Under TLS 1.3 the client has sent USER by the time the server reads
    # its certificate; a server that closes with USER unread resets the
    # connection, which can discard the alert before the client reads it.
    if alert and not (version in (None, "1.3") and
                      re.search(LOST_ALERT, how)):
        assert re.search(alert, how), "%s%s (TLS %s): refused, but not " \
            "with the alert %r: %s" % (what, who or "no certificate",
                                      version or "any", alert, how)
    return how


def both_versions(check, srv, who, what="", **kw):
    for v in ("1.2", "1.3"):
        check(srv, who, v, what, **kw)


def roundtrip(srv, who, version=None, size=100 * 1024 + 7, ctx_=None):
    """ftplib (data connections resume the control session) with who's
    certificate: STOR random bytes, RETR them, compare."""
    data = os.urandom(size)
    name = "rt-%s-%s.bin" % (who or "none", version or "any")
    f = ftps(srv, ctx=ctx_ or cctx(who, version))
    try:
        f.storbinary("STOR " + name, io.BytesIO(data))
        got = retr_bytes(f, name)
    finally:
        close_quietly(f)
    with open(os.path.join(srv.home, name), "rb") as inp:
        stored = inp.read()
    assert sha256(stored) == sha256(data), \
        "%s: STOR %s stored %d bytes, sha256 differs from the %d sent" \
        % (who, name, len(stored), len(data))
    assert sha256(got) == sha256(data), \
        "%s: RETR %s got %d bytes, sha256 differs" % (who, name, len(got))


def curl_cert(srv, who, path="/", upload=None, output=None, version=None,
              user=None, password=None):
    """curl --ssl-reqd -k, presenting who's certificate (--cert/--key)."""
    argv = ["curl", "-sS", "--ssl-reqd", "-k",
            "--max-time", str(PROC_TIMEOUT - 5),
            "--user", "%s:%s" % (user or srv.user,
                                 password or srv.password)]
    argv += {None: [], "1.2": ["--tlsv1.2", "--tls-max", "1.2"],
             "1.3": ["--tlsv1.3"]}[version]
    if who:
        c, k = ident(who)
        argv += ["--cert", c, "--key", k]
    if upload:
        argv += ["-T", upload]
    if output:
        argv += ["-o", output]
    argv.append("ftp://%s:%d%s" % (srv.host, srv.port, path))
    return run(argv)


def lftp_cert(srv, who, commands, user=None, password=None):
    """lftp (GnuTLS) with ssl:cert-file/ssl:key-file of who."""
    pre = ["set cmd:fail-exit yes",
           "set ssl:verify-certificate no",
           "set ftp:ssl-force true",
           "set ftp:ssl-allow true",
           "set ftp:ssl-protect-data true",
           "set ftp:ssl-protect-list true",
           "set ftp:passive-mode true",
           "set net:max-retries 1",
           "set net:timeout 10",
           "set net:reconnect-interval-base 1",
           "set xfer:clobber true"]
    if who:
        c, k = ident(who)
        pre += ["set ssl:cert-file " + c, "set ssl:key-file " + k]
    pre.append("open -u %s,%s -p %d %s" % (user or srv.user,
                                           password or srv.password,
                                           srv.port, srv.host))
    env = dict(os.environ)
    env.setdefault("HOME", "/tmp")
    return run(["lftp", "-c", "\n".join(pre + list(commands)) + "\n"],
               env=env)


# A certificate login: USER gets "232 User NAME logged in" (RFC 2228), no
# PASS, as with mod_tls.
CERT = 232


def login_as(srv, who, user, password, version=None):
    """USER/PASS as user with who's certificate: the PASS reply code (or
    the USER reply when it was not 331; after a 232, PWD must work)."""
    r = Raw(srv)
    try:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls(ctx=cctx(who, version))
        code, text = r.cmd("USER " + user)
        if code == CERT:
            expect(r.cmd("PWD"), 257, "PWD after the 232 of %s" % user)
        if code != 331:
            return code, text
        code, text = r.cmd("PASS " + password)
        if code == 230:
            expect(r.cmd("PWD"), 257, "PWD after the login of %s" % user)
        return code, text
    finally:
        r.close()


def expect_login(srv, who, user, password, want, what):
    code, text = login_as(srv, who, user, password)
    assert code == want, "%s: certificate %s, USER %s PASS %s: want %d, " \
        "got %r" % (what, who or "(none)", user, password, want, text)


# -- TLSVerifyClient on -------------------------------------------------------

def test_clientcert_on_alice_ftplib_roundtrip(ctx):
    srv = _server(ctx, _verify("on"))
    for v in ("1.2", "1.3"):
        roundtrip(srv, "alice", v)


def test_clientcert_on_alice_curl(ctx):
    ctx.need("curl")
    srv = _server(ctx, _verify("on"))
    data = os.urandom(200 * 1024 + 1)
    srv.home_file("down.bin", data)
    up = srv.client_file("up.bin", os.urandom(150 * 1024 + 3))
    for v in ("1.2", "1.3"):
        out = os.path.join(srv.client_dir, "down-%s.bin" % v)
        p = curl_cert(srv, "alice", "/down.bin", output=out, version=v)
        assert p.returncode == 0, "curl --cert alice, TLS %s, RETR: %s" \
            % (v, describe(p))
        assert sha256_file(out) == sha256(data), \
            "curl --cert alice, TLS %s: downloaded bytes differ" % v
        p = curl_cert(srv, "alice", "/up-%s.bin" % v, upload=up, version=v)
        assert p.returncode == 0, "curl --cert alice, TLS %s, STOR: %s" \
            % (v, describe(p))
        assert sha256_file(os.path.join(srv.home, "up-%s.bin" % v)) == \
            sha256_file(up), "curl --cert alice, TLS %s: uploaded bytes " \
            "differ" % v
    # the same client without a certificate, and with eve's, gets nothing
    for who in (None, "eve"):
        out = os.path.join(srv.client_dir, "down-%s.bin" % who)
        p = curl_cert(srv, who, "/down.bin", output=out)
        assert p.returncode != 0 and not (os.path.exists(out) and
                                          os.path.getsize(out)), \
            "curl with %s under TLSVerifyClient on: want a failure, got " \
            "%s" % (who or "no certificate", describe(p))


def test_clientcert_on_alice_lftp(ctx):
    ctx.need("lftp")
    srv = _server(ctx, _verify("on"))
    data = os.urandom(120 * 1024 + 5)
    srv.home_file("down.bin", data)
    out = os.path.join(srv.client_dir, "lftp-down.bin")
    p = lftp_cert(srv, "alice", ["get down.bin -o " + out])
    assert p.returncode == 0, "lftp ssl:cert-file alice: %s" % describe(p)
    assert sha256_file(out) == sha256(data), \
        "lftp ssl:cert-file alice: downloaded bytes differ"
    os.unlink(out)
    p = lftp_cert(srv, None, ["get down.bin -o " + out])
    assert p.returncode != 0 and not (os.path.exists(out) and
                                      os.path.getsize(out)), \
        "lftp without a certificate under TLSVerifyClient on: want a " \
        "failure, got %s" % describe(p)


def test_clientcert_on_s_client_login(ctx):
    ctx.need("openssl")
    srv = _server(ctx, _verify("on"))
    c, k = ident("alice")
    rc, out = s_client(srv, lines=("USER ftpuser", "PASS ftppass", "PWD",
                                   "QUIT"),
                       extra=["-cert", c, "-key", k])
    assert re.search(r"^230 ", out, re.M) and re.search(r"^257 ", out, re.M), \
        "s_client -cert alice: want 230 and 257:\n%s" % out[-2500:]
    rc, out = s_client(srv, lines=("USER ftpuser", "PASS ftppass", "QUIT"))
    assert not re.search(r"^(230|331) ", out, re.M), \
        "s_client without a certificate logged in:\n%s" % out[-2500:]


def test_clientcert_on_no_certificate_refused(ctx):
    srv = _server(ctx, _verify("on"))
    both_versions(assert_refused, srv, None, "TLSVerifyClient on: ",
                  alert=NO_CERT)
    assert_accepted(srv, "alice", what="TLSVerifyClient on: ")


def test_clientcert_on_untrusted_refused(ctx):
    srv = _server(ctx, _verify("on"))
    both_versions(assert_refused, srv, "eve", "TLSVerifyClient on: ",
                  alert=UNKNOWN_CA)
    # a certificate signed by the root's intermediate CA is trusted
    both_versions(assert_accepted, srv, "depth1", "TLSVerifyClient on: ")


def test_clientcert_crl_file_revoked_refused(ctx):
    srv = _server(ctx, _verify("on", TLSCARevocationFile="@ca.crl"))
    both_versions(assert_refused, srv, "mallory", "with ca.crl: ",
                  alert=REVOKED)
    both_versions(assert_accepted, srv, "alice", "with ca.crl: ")
    # sub1 has no CRL configured: not refused for lack of one
    assert_accepted(srv, "depth1", what="with ca.crl (no CRL for sub1): ")
    roundtrip(srv, "alice")


def test_clientcert_without_crl_revoked_accepted(ctx):
    srv = _server(ctx, _verify("on"))
    both_versions(assert_accepted, srv, "mallory", "without a CRL: ")


def test_clientcert_ca_path(ctx):
    srv = _server(ctx, {"TLSVerifyClient": "on",
                        "TLSCACertificatePath": "%cadir"})
    both_versions(assert_accepted, srv, "alice", "TLSCACertificatePath: ")
    both_versions(assert_refused, srv, "eve", "TLSCACertificatePath: ",
                  alert=UNKNOWN_CA)
    both_versions(assert_refused, srv, None, "TLSCACertificatePath: ",
                  alert=NO_CERT)
    roundtrip(srv, "alice")


def test_clientcert_crl_path_revoked_refused(ctx):
    srv = _server(ctx, _verify("on", TLSCARevocationPath="%crldir"))
    both_versions(assert_refused, srv, "mallory", "TLSCARevocationPath: ",
                  alert=REVOKED)
    both_versions(assert_accepted, srv, "alice", "TLSCARevocationPath: ")


def test_clientcert_ca_path_and_crl_path(ctx):
    srv = _server(ctx, {"TLSVerifyClient": "on",
                        "TLSCACertificatePath": "%cadir",
                        "TLSCARevocationPath": "%crldir"})
    assert_refused(srv, "mallory", what="CA and CRL paths: ",
                   alert=REVOKED)
    assert_accepted(srv, "alice", what="CA and CRL paths: ")


def test_clientcert_refusal_reason_in_tls_log(ctx):
    """README (TLSLog): refusals with their reason, OpenSSL's text.  A
    refused certificate is logged with why it was refused, not only
    'certificate verify failed'."""
    srv = _server(ctx, _verify("on", TLSCARevocationFile="@ca.crl"),
                  extra=["TLSVerifyDepth 0"])
    for who, reason in (("eve", r"self[- ]signed certificate"),
                        ("mallory", r"certificate revoked"),
                        ("depth2", r"certificate chain too long"),
                        (None, r"(?i)did not return a certificate|"
                               r"no certificate")):
        for v in ("1.2", "1.3"):
            mark = srv.log_mark()
            assert_refused(srv, who, v, "TLSLog reason: ")
            log = ftpsd.tls_log_since(srv, mark)
            assert re.search(reason, log), \
                "%s, TLS %s refused: want the TLSLog to say %r, it says:\n%s" \
                % (who or "no certificate", v, reason, log)


# -- TLSVerifyClient optional -------------------------------------------------

def test_clientcert_optional_no_certificate_password_login(ctx):
    srv = _server(ctx, _verify("optional"))
    both_versions(assert_accepted, srv, None, "TLSVerifyClient optional: ")
    roundtrip(srv, None)
    expect_login(srv, None, srv.user, "wrong", 530,
                 "TLSVerifyClient optional, no certificate")


def test_clientcert_optional_valid_accepted(ctx):
    srv = _server(ctx, _verify("optional"))
    both_versions(assert_accepted, srv, "alice", "TLSVerifyClient optional: ")
    roundtrip(srv, "alice")
    # a valid certificate is no password
    expect_login(srv, "alice", srv.user, "wrong", 530,
                 "TLSVerifyClient optional, alice, no TLSUserName")
    if have("curl"):
        data = os.urandom(70 * 1024)
        srv.home_file("opt.bin", data)
        out = os.path.join(srv.client_dir, "opt.bin")
        p = curl_cert(srv, "alice", "/opt.bin", output=out)
        assert p.returncode == 0 and sha256_file(out) == sha256(data), \
            "curl --cert alice under optional: %s" % describe(p)


def test_clientcert_optional_untrusted_refused(ctx):
    srv = _server(ctx, _verify("optional", TLSCARevocationFile="@ca.crl"))
    both_versions(assert_refused, srv, "eve", "TLSVerifyClient optional: ",
                  alert=UNKNOWN_CA)
    both_versions(assert_refused, srv, "mallory",
                  "TLSVerifyClient optional with ca.crl: ", alert=REVOKED)
    if have("curl"):
        srv.home_file("opt.bin", b"secret\n")
        out = os.path.join(srv.client_dir, "opt-eve.bin")
        p = curl_cert(srv, "eve", "/opt.bin", output=out)
        assert p.returncode != 0 and not os.path.exists(out), \
            "curl --cert eve under optional: want a failure, got %s" \
            % describe(p)


# -- TLSVerifyClient off: no CertificateRequest -------------------------------

def _ca_names(srv, version, who=None):
    extra = []
    if who:
        c, k = ident(who)
        extra = ["-cert", c, "-key", k]
    rc, out = s_client(srv, version, lines=("QUIT",), delay=0.2, extra=extra)
    assert re.search(r"^220 ", out, re.M), \
        "s_client TLS %s: no 220 banner after the handshake:\n%s" \
        % (version, out[-2500:])
    return out


def test_clientcert_off_no_certificate_request(ctx):
    ctx.need("openssl")
    srv = _server(ctx, _verify("off"))
    for v in ("1.2", "1.3"):
        out = _ca_names(srv, v)
        assert "No client certificate CA names sent" in out and \
            "Acceptable client certificate CA names" not in out and \
            "Requested Signature Algorithms" not in out, \
            "TLSVerifyClient off, TLS %s: the server sent a certificate " \
            "request:\n%s" % (v, out[-3000:])
    # nothing is verified: even eve's certificate (never asked for) is fine
    both_versions(assert_accepted, srv, "eve", "TLSVerifyClient off: ")
    both_versions(assert_accepted, srv, None, "TLSVerifyClient off: ")


def test_clientcert_on_optional_send_ca_names(ctx):
    """The counterpart of the test above: a certificate request naming the
    root CA, from the CA file and from the hashed CA directory."""
    ctx.need("openssl")
    for tls in (_verify("on"), _verify("optional"),
                {"TLSVerifyClient": "on", "TLSCACertificatePath": "%cadir"}):
        srv = _server(ctx, tls)
        for v in ("1.2", "1.3"):
            out = _ca_names(srv, v, "alice")
            m = re.search(r"^Acceptable client certificate CA names\n"
                          r"((?:.*\n)*?)(?:Requested|Client Certificate|---)",
                          out, re.M)
            assert m and "CN = mod_ftps test root CA" in m.group(1), \
                "%r, TLS %s: want a certificate request naming the root " \
                "CA:\n%s" % (tls, v, out[-3000:])
        srv.cleanup()


# -- TLSVerifyDepth -----------------------------------------------------------

# mod_tls's count: TLSVerifyDepth n accepts a client chain with up to n+1
# CAs between the client's certificate and the root (alice: none; depthK:
# K).  test_clientcert_verify_depth_mod_tls checks this table against
# mod_tls itself.
DEPTH_ROWS = [
    ("0", {"alice": True, "depth1": True, "depth2": False, "depth3": False}),
    ("1", {"alice": True, "depth1": True, "depth2": True, "depth3": False}),
    ("2", {"alice": True, "depth1": True, "depth2": True, "depth3": True}),
    (None, {"alice": True, "depth1": True, "depth2": True, "depth3": True}),
]


def _depth_table(ctx, module=None):
    wrong = []
    for depth, want in DEPTH_ROWS:
        extra = ["TLSVerifyDepth " + depth] if depth is not None else []
        srv = _server(ctx, _verify("on"), extra=extra, module=module)
        for who, ok in sorted(want.items()):
            for v in ("1.2", "1.3"):
                status, r = control(srv, who, v)
                if status == "ok":
                    r.close()
                if (status == "ok") != ok:
                    wrong.append("TLSVerifyDepth %s, %s (%d CAs below the "
                                 "root), TLS %s: want %s, got %s"
                                 % (depth or "(default 9)", who,
                                    int(who[-1]) if who != "alice" else 0,
                                    v, "accepted" if ok else "refused",
                                    "accepted" if status == "ok" else r))
        srv.cleanup()
    return wrong


def test_clientcert_verify_depth(ctx):
    wrong = _depth_table(ctx)
    assert not wrong, "\n".join(wrong)
    srv = _server(ctx, _verify("on"), extra=["TLSVerifyDepth 1"])
    roundtrip(srv, "depth2")


def test_clientcert_verify_depth_mod_tls(ctx):
    """The table of the test above, against mod_tls (README: 'counted as
    mod_tls does')."""
    if not os.path.exists(MOD_TLS):
        raise Skip("%s not installed" % MOD_TLS)
    wrong = _depth_table(ctx, module=MOD_TLS)
    assert not wrong, "mod_tls disagrees with DEPTH_ROWS:\n" + "\n".join(wrong)


# -- TLSUserName --------------------------------------------------------------

USERS = [("alice", "alice-pw"), ("bob", "bob-pw"), ("carol", "carol-pw"),
         ("alice@example.com", "mail-pw")]
PW = dict(USERS)


def _username_server(ctx, field, auth_order=CERT_AUTH, mode="optional"):
    return _server(ctx, _verify(mode), extra=["TLSUserName " + field],
                   auth_order=auth_order, users=USERS)


def _check_logins(srv, rows, what):
    wrong = []
    for who, user, password, want in rows:
        code, text = login_as(srv, who, user, password)
        if code != want:
            wrong.append("%s: certificate %s, USER %s, PASS %s: want %d, got "
                         "%r" % (what, who or "(none)", user, password, want,
                                 text))
    assert not wrong, "\n".join(wrong)


def test_clientcert_username_commonname(ctx):
    srv = _username_server(ctx, "CommonName")
    _check_logins(srv, [
        ("alice", "alice", "wrong", CERT),         # CN alice
        ("alice", "bob", "wrong", 530),            # another user: password
        ("alice", "bob", PW["bob"], 230),
        ("bob", "alice", "wrong", 530),            # bob's CN is not alice
        ("bob", "bob", "wrong", CERT),
        (None, "alice", "wrong", 530),             # no certificate
        (None, "alice", PW["alice"], 230),
        ("alice", "carol", "wrong", 530),
        ("alice", "alice@example.com", "wrong", 530),
    ], "TLSUserName CommonName")


def test_clientcert_username_email(ctx):
    srv = _username_server(ctx, "EmailSubjAltName")
    _check_logins(srv, [
        ("alice", "alice@example.com", "wrong", CERT),
        ("alice", "alice", "wrong", 530),          # the CN is not the field
        ("bob", "alice@example.com", "wrong", 530),
        ("bob", "alice@example.com", PW["alice@example.com"], 230),
        (None, "alice@example.com", "wrong", 530),
    ], "TLSUserName EmailSubjAltName")


def test_clientcert_username_oid(ctx):
    srv = _username_server(ctx, "1.3.6.1.4.1.55555.1")
    _check_logins(srv, [
        ("alice", "carol", "wrong", CERT),         # alice's cert names carol
        ("alice", "alice", "wrong", 530),
        ("alice", "alice", PW["alice"], 230),
        ("bob", "carol", "wrong", 530),            # bob's has no such field
        ("bob", "carol", PW["carol"], 230),
        (None, "carol", "wrong", 530),
    ], "TLSUserName 1.3.6.1.4.1.55555.1")


def test_clientcert_username_verify_on_curl(ctx):
    """TLSVerifyClient on, TLSUserName CommonName: curl logs in as alice
    with a wrong password and transfers; as bob it needs bob's."""
    ctx.need("curl")
    srv = _username_server(ctx, "CommonName", mode="on")
    home = os.path.join(srv.dir, "home-alice")
    data = os.urandom(90 * 1024 + 1)
    with open(os.path.join(home, "mine.bin"), "wb") as f:
        f.write(data)
    out = os.path.join(srv.client_dir, "mine.bin")
    p = curl_cert(srv, "alice", "/mine.bin", output=out, user="alice",
                  password="wrong")
    assert p.returncode == 0 and sha256_file(out) == sha256(data), \
        "curl --cert alice --user alice:wrong: %s" % describe(p)
    p = curl_cert(srv, "alice", "/", user="bob", password="wrong")
    assert p.returncode != 0, \
        "curl --cert alice --user bob:wrong logged in: %s" % describe(p)


def test_clientcert_username_auth_order(ctx):
    """Certificate logins work whatever AuthOrder lists (as with mod_tls,
    whose requires_pass handler AuthOrder leaves in place), also with no
    AuthOrder at all, and with one that lists neither module."""
    for order in (CERT_AUTH, "AuthOrder mod_auth_file.c mod_ftps.c",
                  "AuthOrder mod_tls.c mod_auth_file.c", "# no AuthOrder",
                  "AuthOrder mod_auth_file.c"):
        srv = _username_server(ctx, "CommonName", auth_order=order)
        _check_logins(srv, [
            ("alice", "alice", "wrong", CERT),
            ("alice", "bob", "wrong", 530),
            ("alice", "bob", PW["bob"], 230),
            ("bob", "bob", PW["bob"], CERT),
        ], "TLSUserName CommonName, %s" % order)
        srv.cleanup()


# -- TLSOptions AllowDotLogin -------------------------------------------------

def _dotlogin_server(ctx):
    return _server(ctx, _verify("optional"),
                   extra=["TLSOptions AllowDotLogin"], auth_order=CERT_AUTH)


def _put_tlslogin(srv, who="alice", mode=0o644, uid=ftpsd.UID,
                  symlink=False):
    """~ftpuser/.tlslogin holding who's certificate (or a symlink to such a
    file elsewhere)."""
    path = os.path.join(srv.home, ".tlslogin")
    if os.path.lexists(path):
        os.unlink(path)
    with open(ident(who)[0], "rb") as f:
        pem = f.read()
    target = os.path.join(srv.dir, "tlslogin-target") if symlink else path
    with open(target, "wb") as f:
        f.write(pem)
    os.chown(target, uid, ftpsd.GID)
    os.chmod(target, mode)
    if symlink:
        os.symlink(target, path)


def test_clientcert_dotlogin(ctx):
    srv = _dotlogin_server(ctx)
    user, pw = srv.user, srv.password
    # no ~/.tlslogin yet: the certificate alone is no password
    _check_logins(srv, [("alice", user, "wrong", 530)], "no ~/.tlslogin")
    _put_tlslogin(srv)
    _check_logins(srv, [
        ("alice", user, "wrong", CERT),
        ("alice", user, pw, CERT),
        ("bob", user, "wrong", 530),               # not listed
        ("bob", user, pw, 230),
        (None, user, "wrong", 530),
    ], "~/.tlslogin (0644, owned by the user) holding alice's certificate")
    roundtrip(srv, "alice")
    # the file may also hold several certificates
    with open(os.path.join(srv.home, ".tlslogin"), "ab") as f:
        with open(ident("bob")[0], "rb") as inp:
            f.write(inp.read())
    _check_logins(srv, [("bob", user, "wrong", CERT),
                        ("alice", user, "wrong", CERT)],
                  "~/.tlslogin holding alice's and bob's certificates")


def test_clientcert_dotlogin_owned_by_root(ctx):
    srv = _dotlogin_server(ctx)
    _put_tlslogin(srv, uid=0)
    _check_logins(srv, [("alice", srv.user, "wrong", CERT)],
                  "~/.tlslogin owned by root, 0644")


def test_clientcert_dotlogin_unsafe_files_ignored(ctx):
    srv = _dotlogin_server(ctx)
    for what, kw in (("writable by the group (0664)", dict(mode=0o664)),
                     ("writable by others (0646)", dict(mode=0o646)),
                     ("owned by another user (uid 4242)", dict(uid=4242)),
                     ("a symlink to a 0644 file of the user",
                      dict(symlink=True))):
        _put_tlslogin(srv, **kw)
        _check_logins(srv, [("alice", srv.user, "wrong", 530),
                            ("alice", srv.user, srv.password, 230)],
                      "~/.tlslogin " + what)
    # and the same file made safe again is honoured (the test can fail)
    _put_tlslogin(srv)
    _check_logins(srv, [("alice", srv.user, "wrong", CERT)],
                  "~/.tlslogin 0644 after the unsafe variants")


def test_clientcert_dotlogin_curl(ctx):
    ctx.need("curl")
    srv = _dotlogin_server(ctx)
    _put_tlslogin(srv)
    data = os.urandom(50 * 1024 + 9)
    srv.home_file("dot.bin", data)
    out = os.path.join(srv.client_dir, "dot.bin")
    p = curl_cert(srv, "alice", "/dot.bin", output=out, password="any")
    assert p.returncode == 0 and sha256_file(out) == sha256(data), \
        "curl --cert alice, ~/.tlslogin, wrong password: %s" % describe(p)
    p = curl_cert(srv, "bob", "/", password="any")
    assert p.returncode != 0, \
        "curl --cert bob (not in ~/.tlslogin), wrong password, logged in: " \
        "%s" % describe(p)


# -- CommonNameRequired, dNSNameRequired, iPAddressRequired -------------------

# (option, UseReverseDNS, {certificate: accepted?}).  alice: CN alice,
# DNS localhost, IP 127.0.0.1; bob: e-mail only; cn-ip: CN 127.0.0.1;
# cn-localhost: CN localhost; dns-ip: a DNS subjectAltName "127.0.0.1".
# With UseReverseDNS off the client's name is its address.
NAME_ROWS = [
    ("iPAddressRequired", "off", {"alice": True, "bob": False,
                                  "cn-ip": False}),
    ("CommonNameRequired", "off", {"cn-ip": True, "alice": False,
                                   "bob": False, "cn-localhost": False}),
    # no DNS name to compare: the option is off, as with mod_tls
    ("dNSNameRequired", "off", {"dns-ip": True, "alice": True,
                                "bob": True, "cn-ip": True}),
    ("iPAddressRequired", "on", {"alice": True, "bob": False}),
    ("CommonNameRequired", "on", {"cn-localhost": True, "alice": False,
                                  "cn-ip": False}),
    ("dNSNameRequired", "on", {"alice": True, "bob": False,
                               "cn-localhost": False}),
]


def _reverse_is_localhost():
    try:
        return socket.gethostbyaddr("127.0.0.1")[0] == "localhost"
    except OSError:
        return False


def _names_table(ctx, rdns):
    if rdns == "on" and not _reverse_is_localhost():
        raise Skip("127.0.0.1 does not resolve back to localhost here")
    wrong = []
    for option, r, want in NAME_ROWS:
        if r != rdns:
            continue
        srv = _server(ctx, _verify("on"), extra=["TLSOptions " + option],
                      start=False)
        srv.replace_conf("UseReverseDNS", "UseReverseDNS " + rdns)
        srv.start()
        for who, ok in sorted(want.items()):
            for v in ("1.2", "1.3"):
                status, how = control(srv, who, v)
                if status == "ok":
                    how.close()
                if (status == "ok") != ok:
                    wrong.append("TLSOptions %s, UseReverseDNS %s, %s, TLS "
                                 "%s: want %s, got %s"
                                 % (option, rdns, who, v,
                                    "accepted" if ok else "session ended",
                                    "accepted" if status == "ok" else how))
                elif not ok and not how.startswith("421"):
                    wrong.append("TLSOptions %s, %s, TLS %s: want the "
                                 "handshake to succeed and '421' to end the "
                                 "session, got %s" % (option, who, v, how))
        if want.get("alice"):
            roundtrip(srv, "alice")
        srv.cleanup()
    assert not wrong, "\n".join(wrong)


def test_clientcert_names_required_no_reverse_dns(ctx):
    _names_table(ctx, "off")


def test_clientcert_names_required_reverse_dns(ctx):
    _names_table(ctx, "on")


# -- data connections: the control connection's certificate only --------------

REUSE_OFF = "TLSOptions NoSessionReuseRequired"


def _data_with(srv, ctrl_who, data_who, name, version=None):
    """Control connection with ctrl_who's certificate, logged in, PROT P;
    RETR name over a data connection that makes a full handshake (no
    resumption) presenting data_who's.  Returns (final reply, bytes)."""
    r = Raw(srv)
    try:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls(ctx=cctx(ctrl_who, version))
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ 0")
        expect(r.cmd("PROT P"), 200, "PROT P")
        expect(r.cmd("TYPE I"), 200, "TYPE I")
        plain = r.pasv()
        r.send("RETR %s\r\n" % name)
        expect(r.reply(), 150, "RETR %s" % name)
        got = b""
        try:
            d = cctx(data_who, version).wrap_socket(
                plain, server_hostname="localhost")
            d.settimeout(TIMEOUT)
            try:
                while True:
                    chunk = d.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except (ssl.SSLError, OSError):
                pass
            finally:
                d.close()
        except (ssl.SSLError, OSError):
            plain.close()
        return r.reply(), got
    finally:
        r.close()


def test_clientcert_data_other_certificate_425(ctx):
    srv = _server(ctx, _verify("on"), extra=[REUSE_OFF])
    data = os.urandom(80 * 1024 + 11)
    srv.home_file("d.bin", data)
    for v in ("1.2", "1.3"):
        (code, text), got = _data_with(srv, "alice", "alice", "d.bin", v)
        assert code == 226 and sha256(got) == sha256(data), \
            "TLS %s: control and data connection both alice (data not " \
            "resumed): want 226 and the file, got %r, %d bytes" \
            % (v, text, len(got))
        (code, text), got = _data_with(srv, "alice", "bob", "d.bin", v)
        assert code == 425 and not got, \
            "TLS %s: control alice, data connection bob: want 425 and no " \
            "bytes, got %r, %d bytes" % (v, text, len(got))
        (code, text), got = _data_with(srv, "alice", "eve", "d.bin", v)
        assert code == 425 and not got, \
            "TLS %s: control alice, data connection eve (untrusted): want " \
            "425 and no bytes, got %r, %d bytes" % (v, text, len(got))


def test_clientcert_data_certificate_without_control_one_425(ctx):
    """TLSVerifyClient optional: a control connection without a certificate
    cannot gain one on a data connection."""
    srv = _server(ctx, _verify("optional"), extra=[REUSE_OFF])
    data = os.urandom(30 * 1024 + 1)
    srv.home_file("d.bin", data)
    for v in ("1.2", "1.3"):
        (code, text), got = _data_with(srv, None, None, "d.bin", v)
        assert code == 226 and sha256(got) == sha256(data), \
            "TLS %s: no certificate on either connection: want 226 and the " \
            "file, got %r, %d bytes" % (v, text, len(got))
        (code, text), got = _data_with(srv, None, "alice", "d.bin", v)
        assert code == 425 and not got, \
            "TLS %s: control without a certificate, data connection alice: " \
            "want 425 and no bytes, got %r, %d bytes" % (v, text, len(got))

