"""Config corpus: every mod_tls directive and every TLSOptions name, as a
drop-in replacement must take them.

One test per directive (test_corpus_<Directive>).  For each row:
* every valid value passes `proftpd -t` in each context the row lists
  (S server, V <VirtualHost>, G <Global>, A <Anonymous>, D <Directory>);
  directives mod_ftps ignores must print a warning line naming the
  directive and what is ignored; in the server context (and in a vhost for
  the directives mod_ftps honours) the daemon starts and serves a real
  client (ftplib: login, RETR compared by sha256);
* every invalid value makes `proftpd -t` fail with one line naming the
  directive, the value and a reason, in every context, and also from an
  Include'd file (where ProFTPD itself only warns and skips the rest);
* every context the directive is not allowed in (of S V G A D) makes
  `proftpd -t` fail with a line naming the directive and the context.
Where Debian's mod_tls.so is installed, it is the reference: the valid
values must pass `proftpd -t` with mod_tls too (so the row really is a
mod_tls configuration), the invalid values and wrong contexts must fail
with it too, unless the row says mod_ftps is stricter on purpose.

Then whole real-world configurations (test_corpus_case_*): the ProFTPD TLS
HOWTO example, Let's Encrypt layouts, NAT, implicit FTPS beside explicit,
an encrypted key with TLSPassPhraseProvider.

Values: "@name" is a fixture of tests/fixtures/mkcerts.sh, "@" the fixture
directory; "%T" the server's temp dir; "%X" a scratch directory of extra
fixtures made here (a hashed CA directory, a CRL directory, a PSK file).
"""

import os
import re
import shutil
import socket
import ssl
import subprocess

import ftpsd
from clients import (Raw, StockFTP_TLS, ReusingFTP_TLS, expect, ftps,
                     close_quietly, retr_bytes, curl, curl_implicit,
                     describe, context, implicit_ftps, peer_cert_der)
from ftpsd import sha256, free_port

MOD_TLS = "/usr/lib/proftpd/mod_tls.so"
RSA, RSAKEY = "TLSRSACertificateFile", "TLSRSACertificateKeyFile"
EC, ECKEY = "TLSECCertificateFile", "TLSECCertificateKeyFile"

# mod_tls's 44 directives (tls_conftab), as listed in
# /work/shared/docs/mod_tls.md section 1.
MOD_TLS_DIRECTIVES = """
TLSCACertificateFile TLSCACertificatePath TLSCARevocationFile
TLSCARevocationPath TLSCertificateChainFile TLSCipherSuite TLSControlsACLs
TLSCryptoDevice TLSDHParamFile TLSDSACertificateFile TLSDSACertificateKeyFile
TLSECCertificateFile TLSECCertificateKeyFile TLSECDHCurve TLSEngine TLSLog
TLSMasqueradeAddress TLSNextProtocol TLSOptions TLSPassPhraseProvider
TLSPKCS12File TLSPreSharedKey TLSProtocol TLSRandomSeed TLSRenegotiate
TLSRequired TLSRSACertificateFile TLSRSACertificateKeyFile
TLSServerCipherPreference TLSServerInfoFile TLSSessionCache
TLSSessionTicketKeys TLSSessionTickets TLSStapling TLSStaplingCache
TLSStaplingOptions TLSStaplingResponder TLSStaplingTimeout
TLSTimeoutHandshake TLSUserName TLSVerifyClient TLSVerifyDepth
TLSVerifyOrder TLSVerifyServer
""".split()

# The 16 TLSOptions of mod_tls (AllowClientRenegotiation has an alias
# ending in "s", so 17 names).
TLS_OPTIONS = """
AllowClientRenegotiation AllowClientRenegotiations AllowDotLogin
AllowPerUser AllowWeakDH AllowWeakSecurity CommonNameRequired
dNSNameRequired iPAddressRequired EnableDiags ExportCertData StdEnvVars
IgnoreSNI NoAutoECDH NoEmptyFragments NoSessionReuseRequired UseImplicitSSL
""".split()

CTX_NAMES = {"S": "server config", "V": "<VirtualHost>", "G": "<Global>",
             "A": "<Anonymous>", "D": "<Directory>"}
R_CTX = {"V": r"VirtualHost", "G": r"Global", "A": r"Anonymous",
         "D": r"Directory"}

R_BOOL = r"(?i)Boolean|expected on|on or off|on, off"
R_NOFILE = r"(?i)no such file|does not exist|not found|cannot open|" \
    r"unable to (use|open|read)"
R_ABS = r"(?i)absolute|full path|relative"
R_NARGS = r"(?i)wrong number of param|too many|missing param"
R_IGN = r"(?i)\bignored\b|not supported|no effect"

# -- the table -----------------------------------------------------------------
# d: directive; ctx: contexts it is allowed in (default "SVG");
# ok: valid values; bad: (value, offending token or None, reason regex);
# with: lines placed beside it in the same context; warn: a regex a warning
# line must match (with the directive's name) for the ok values: ignored
# directives or parts; serve: False if the daemon need not serve a client
# with the first ok value (e.g. UseImplicitSSL), "vhost": also in a vhost;
# stricter: bad values mod_tls accepts (mod_ftps refuses them on purpose);
# wider: contexts mod_ftps allows beyond mod_tls's (README's table);
# dname: a regex naming the directive in error lines, when the line names
# the pair (certificate and key file); companion: ok values that mod_tls
# only takes with a companion module loaded (not checked against it);
# name: the test's name when a directive has more than one row.

ROWS = [
    dict(d="TLSEngine", ok=["on", "off"], bad=[("yes-please", None, R_BOOL)],
         serve="vhost"),
    # a relative path is taken from / as mod_tls does, with a warning
    dict(d="TLSLog", ok=["%T/tls-corpus.log", "none"],
         bad=[("", None, R_NARGS)], serve="vhost"),
    dict(d="TLSLog", name="TLSLog_relative",
         ok=["tmp/mod_ftps-corpus-relative.log"],
         warn=r"relative path; using /tmp/mod_ftps-corpus-relative\.log",
         serve=False),
    dict(d="TLSProtocol", ok=["TLSv1.2 TLSv1.3", "SSLv23", "ALL -TLSv1.2",
                              "TLSv1.2", "ALL +TLSv1.3"],
         bad=[("SSLv2", "SSLv2", r"(?i)unknown|unsupported")],
         serve="vhost"),
    dict(d="TLSRequired", ctx="SVGAD",
         ok=["on", "off", "ctrl", "control", "data", "!data", "both",
             "ctrl+data", "ctrl+!data", "auth", "auth+data", "auth+!data"],
         bad=[("auth+ctrl", "auth+ctrl", r"(?i)unknown|bad|invalid")],
         serve="vhost"),
    dict(d=RSA, ok=["@rsa.crt"], with_=[RSAKEY + " @rsa.key"],
         bad=[("@missing.pem", "@missing.pem", R_NOFILE)], serve="vhost"),
    dict(d=RSAKEY, ok=["@rsa.key"], with_=[RSA + " @rsa.crt"],
         bad=[("@ec.key", "@ec.key", r"(?i)does not match|mismatch")],
         dname=RSA + r" .*key file", stricter=["@ec.key"], serve="vhost"),
    dict(d="TLSCACertificateFile", ok=["@ca.pem"],
         bad=[("@missing-ca.pem", "@missing-ca.pem", R_NOFILE)],
         serve="vhost"),
    dict(d="TLSVerifyClient", ok=["off", "optional", "on"],
         with_=["TLSCACertificateFile @ca.pem"],
         bad=[("required", "required", r"(?i)expected|Boolean")],
         serve="vhost"),
    dict(d="TLSOptions", ok=["NoSessionReuseRequired"] +
         [o for o in TLS_OPTIONS if o != "NoSessionReuseRequired"] +
         [" ".join(TLS_OPTIONS[:5])],
         bad=[("nosessionreuserequired", "nosessionreuserequired",
               r"(?i)unknown"),
              ("NoSessionReuseRequired Bogus", "Bogus", r"(?i)unknown")],
         with_=["TLSVerifyClient optional", "TLSCACertificateFile @ca.pem"],
         warn_for={"NoAutoECDH": R_IGN, "NoEmptyFragments": R_IGN},
         serve="vhost", client="stock"),
    dict(d="TLSRenegotiate", ok=["none", "required off",
                                 "ctrl 3600 data 1048576 required off "
                                 "timeout 30"],
         bad=[("ctrl", None, r"(?i)pairs|wrong number|parameters"),
              ("often 1", "often", r"(?i)unknown")],
         warn_for={"ctrl 3600": r"(?i)ignored|never renegotiates"},
         stricter=["ctrl"],   # mod_tls 1.3.8 segfaults on it
         serve="vhost"),
    dict(d=EC, ok=["@ec.crt"], with_=[ECKEY + " @ec.key"],
         bad=[("@missing-ec.pem", "@missing-ec.pem", R_NOFILE)],
         serve="vhost"),
    dict(d=ECKEY, ok=["@ec.key"], with_=[EC + " @ec.crt"],
         bad=[("@client-bob.key", "@client-bob.key",
               r"(?i)does not match|mismatch")],
         dname=EC + r" .*key file", stricter=["@client-bob.key"],
         serve="vhost"),
    dict(d="TLSCertificateChainFile", ok=["@chain.pem"],
         bad=[("@missing-chain.pem", "@missing-chain.pem", R_NOFILE)],
         serve="vhost"),
    dict(d="TLSCipherSuite", ok=["HIGH", "ECDHE+AESGCM:ECDHE+CHACHA20",
                                 "TLSv1.3 TLS_AES_128_GCM_SHA256",
                                 "DEFAULT:!ADH:!EXPORT:!DES"],
         bad=[("TLSv1.4 HIGH", "TLSv1.4", r"(?i)unknown|unsupported")],
         serve="vhost"),
    dict(d="TLSServerCipherPreference", ok=["on", "off"],
         bad=[("sometimes", None, R_BOOL)], serve="vhost"),
    dict(d="TLSMasqueradeAddress", ctx="SV", ok=["192.0.2.10", "127.0.0.1"],
         bad=[("no-such-host.invalid", "no-such-host.invalid",
               r"(?i)unable to resolve|cannot resolve|unknown")],
         serve="vhost"),
    dict(d="TLSSessionCache", ctx="SVG", wider="VG",
         ok=["off", "internal: 3600", "internal:", "shm:/file=%T/shm.cache"],
         bad=[("bogus", "bogus", r"(?i)expected|badly formatted"),
              ("internal: soon", "soon", r"(?i)timeout")],
         warn_for={"shm:": r"(?i)not supported|internal cache"},
         # mod_tls wants mod_tls_shmcache loaded for shm:
         companion=["shm:/file=%T/shm.cache"]),
    dict(d="TLSPassPhraseProvider", ctx="S", ok=["@provider-secret.sh"],
         bad=[("provider-secret.sh", "provider-secret.sh", R_ABS),
              ("/nonexistent/provider", "/nonexistent/provider", R_NOFILE)]),
    dict(d="TLSDHParamFile", ok=["@dh2048.pem", "/etc/proftpd/dhparams.pem"],
         bad=[("@missing-dh.pem", "@missing-dh.pem", R_NOFILE)],
         serve="vhost"),
    dict(d="TLSCACertificatePath", ok=["%X/capath"],
         bad=[("/nonexistent-capath", "/nonexistent-capath",
               r"(?i)no such|does not exist|not a directory|directory")],
         serve="vhost"),
    dict(d="TLSCARevocationFile", ok=["@ca.crl"],
         with_=["TLSVerifyClient optional", "TLSCACertificateFile @ca.pem"],
         bad=[("@missing.crl", "@missing.crl", R_NOFILE)], serve="vhost"),
    dict(d="TLSCARevocationPath", ok=["%X/crlpath"],
         with_=["TLSVerifyClient optional", "TLSCACertificateFile @ca.pem"],
         bad=[("/nonexistent-crlpath", "/nonexistent-crlpath",
               r"(?i)no such|does not exist|not a directory|directory")],
         serve="vhost"),
    dict(d="TLSVerifyDepth", ok=["5", "0", "9"],
         bad=[("deep", "deep", r"(?i)expected")], stricter=["deep"],
         serve="vhost"),
    dict(d="TLSVerifyOrder", ok=["crl", "crl ocsp", "ocsp crl"],
         bad=[("crl lookup", "lookup", r"(?i)unknown|unsupported")],
         warn_for={"ocsp": R_IGN}),
    dict(d="TLSVerifyServer", ok=["on", "off", "NoReverseDNS"],
         bad=[("sometimes", None, r"(?i)expected")]),
    dict(d="TLSUserName", ok=["CommonName", "EmailSubjAltName",
                              "1.3.6.1.4.1.55555.1"],
         bad=[("1.2.x", "1.2.x", r"(?i)expected|OID")]),
    dict(d="TLSDSACertificateFile", ok=["@rsa.crt"],
         bad=[("relative.pem", "relative.pem", R_ABS)], warn=R_IGN),
    dict(d="TLSDSACertificateKeyFile", ok=["@rsa.key"],
         bad=[("@missing-dsa.key", "@missing-dsa.key", R_NOFILE)],
         warn=R_IGN),
    # served (issue 11, item 11); beside BASE's TLSRSACertificateFile it
    # takes that certificate's place, as with mod_tls
    dict(d="TLSPKCS12File", ok=["%X/server.p12"],
         bad=[("@missing.p12", "@missing.p12", R_NOFILE)],
         warn=r"(?i)served instead of"),
    dict(d="TLSECDHCurve", ok=["X25519:P-256", "prime256v1", "P-384"],
         bad=[("P-256:nosuch", "nosuch", r"(?i)group|curve|unknown")],
         serve="vhost"),
    dict(d="TLSSessionTickets", ok=["on", "off"],
         bad=[("sometimes", None, R_BOOL)], serve="vhost"),
    dict(d="TLSSessionTicketKeys", ctx="S", ok=["age 3600 count 10",
                                                "count 5"],
         bad=[("age soon", "soon", r"(?i)age|invalid|expected")]),
    dict(d="TLSStapling", ok=["on", "off"],
         bad=[("sometimes", None, R_BOOL)]),
    dict(d="TLSStaplingCache", ctx="S", ok=["shm:/file=%T/ocsp.cache"],
         bad=[("bogus", "bogus", r"(?i)badly formatted|expected|type")],
         warn=r"not used", companion=["shm:/file=%T/ocsp.cache"]),
    dict(d="TLSStaplingOptions", ok=["NoNonce", "NoFakeTryLater NoVerify"],
         bad=[("Bogus", "Bogus", r"(?i)unknown")]),
    dict(d="TLSStaplingResponder", ok=["http://127.0.0.1:8080/ocsp"],
         bad=[("", None, R_NARGS)]),
    dict(d="TLSStaplingTimeout", ok=["10", "30s"],
         bad=[("soon", "soon", r"(?i)timeout")]),
    dict(d="TLSTimeoutHandshake", ok=["30", "1m"],
         bad=[("soon", "soon", r"(?i)timeout")], serve="vhost"),
    dict(d="TLSNextProtocol", ok=["on", "off"],
         bad=[("sometimes", None, R_BOOL)], serve="vhost"),
    dict(d="TLSPreSharedKey", ok=["client1 hex:%X/psk.hex"],
         bad=[("client1 %X/psk.hex", "%X/psk.hex",
               r"(?i)format|hex:")], warn=R_IGN),
    dict(d="TLSServerInfoFile", ok=["@chain.pem"],
         bad=[("", None, R_NARGS)], warn=R_IGN),
    dict(d="TLSRandomSeed", ok=["/dev/urandom"],
         bad=[("", None, R_NARGS)], warn=R_IGN),
    dict(d="TLSCryptoDevice", ok=["ALL", "none"],
         bad=[("", None, R_NARGS)], warn=R_IGN),
    dict(d="TLSControlsACLs", ctx="S", ok=["all allow user root",
                                           "info,clear deny group ftp"],
         bad=[("all maybe user root", "maybe",
               r"(?i)allow.*deny|expected")], warn=R_IGN),
]


def test_corpus_covers_every_directive(ctx):
    names = [r["d"] for r in ROWS]
    tests = [r.get("name", r["d"]) for r in ROWS]
    assert len(MOD_TLS_DIRECTIVES) == 44, len(MOD_TLS_DIRECTIVES)
    missing = sorted(set(MOD_TLS_DIRECTIVES) - set(names))
    dups = sorted(n for n in set(tests) if tests.count(n) > 1)
    assert not missing and not dups, \
        "corpus rows: missing %r, duplicated %r" % (missing, dups)
    assert len(TLS_OPTIONS) == 17, len(TLS_OPTIONS)
    opts = [r for r in ROWS if r["d"] == "TLSOptions"][0]["ok"]
    assert set(TLS_OPTIONS) <= set(opts), set(TLS_OPTIONS) - set(opts)


# -- extra fixtures ------------------------------------------------------------

_extra_cache = {}


def extra_fixtures():
    """%X: a hashed CA directory, a CRL directory, a PKCS#12 file, a PSK."""
    if "dir" in _extra_cache:
        return _extra_cache["dir"]
    d = os.path.join(ftpsd.tmp_root(), "corpus-fixtures")
    stamp = os.path.join(d, ".complete")
    if not os.path.exists(stamp):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d, 0o755)
        for sub, src in (("capath", "ca.pem"), ("crlpath", "ca.crl")):
            os.mkdir(os.path.join(d, sub), 0o755)
            shutil.copy(ftpsd.cert(src), os.path.join(d, sub, src))
            subprocess.run(["openssl", "rehash", os.path.join(d, sub)],
                           check=True, capture_output=True, timeout=30)
        subprocess.run(["openssl", "pkcs12", "-export", "-in",
                        ftpsd.cert("rsa.crt"), "-inkey",
                        ftpsd.cert("rsa.key"), "-passout", "pass:",
                        "-out", os.path.join(d, "server.p12")],
                       check=True, capture_output=True, timeout=30)
        with open(os.path.join(d, "psk.hex"), "w") as f:
            f.write("00112233445566778899aabbccddeeff" * 2 + "\n")
        os.chmod(os.path.join(d, "psk.hex"), 0o600)
        open(stamp, "w").close()
    _extra_cache["dir"] = d
    return d


def _res(v, srv=None):
    """Resolve "@name", "%T" and "%X" in one directive line or value."""
    out = []
    for w in v.split(" "):
        if w.startswith("@"):
            w = ftpsd.cert(w[1:]) if len(w) > 1 else ftpsd.certs()
        if "%X" in w:
            w = w.replace("%X", extra_fixtures())
        if "%T" in w and srv is not None:
            w = w.replace("%T", srv.dir)
        out.append(w)
    return " ".join(out)


# -- running proftpd -t ---------------------------------------------------------

BASE = {
    "TLSEngine": "on",
    "TLSRSACertificateFile": "@rsa.crt",
    "TLSRSACertificateKeyFile": "@rsa.key",
    "TLSRequired": "on",
    "TLSProtocol": "TLSv1.2 TLSv1.3",
}


def _env(sanitized=True):
    """The daemons' environment: tests/asan.sh preloads the sanitizer
    into them, but not into the mod_tls oracle (not our code: Debian's
    mod_tls reads past a buffer while parsing, which ASan would report)."""
    if sanitized:
        return ftpsd.daemon_env()
    env = dict(os.environ)
    env.pop("FTPS_DAEMON_PRELOAD", None)
    return env


def check_config(srv, timeout=30, sanitized=True):
    """proftpd -t without a terminal, the oracle unsanitized (see _env)."""
    return ftpsd.check_config(srv, timeout, env=_env(sanitized))


def _vhost_block(srv, port, body, base):
    lines = ["<VirtualHost 127.0.0.1>", "  Port %d" % port,
             '  ServerName "corpus vhost"',
             "  AuthOrder mod_auth_file.c",
             "  AuthUserFile " + os.path.join(srv.dir, "passwd"),
             "  RequireValidShell off", "  DefaultRoot ~",
             "  TLSLog " + srv.tls_log]
    lines += ["  %s %s" % (k, _res(v)) for k, v in base.items()]
    lines += ["  " + l for l in body]
    return lines + ["</VirtualHost>"]


def _directives(lines):
    return {l.split(" ", 1)[0] for l in lines}


def build(ctx, where, body, module=None, name="corpus"):
    """A Server (not started) with body (directive lines, resolved) placed
    in context `where`.  Returns (srv, port the body applies to)."""
    set_here = _directives(body)
    base = {k: v for k, v in BASE.items() if k not in set_here}
    if RSA in set_here or EC in set_here:
        base.pop(RSA, None)
        base.pop(RSAKEY, None)
    top = dict(BASE) if where == "V" else dict(base)
    tls = {k: None for k in BASE}
    if "TLSLog" in set_here:
        tls["TLSLog"] = None
    tls.update({k: _res(v) for k, v in top.items()})
    srv = ftpsd.Server(module or ctx.module, tls=tls, keep=ctx.keep,
                       name=name)
    ctx.own.append(srv)
    body = [_res(l, srv) for l in body]
    port = srv.port
    if where == "S":
        srv.append_conf(body)
    elif where == "I":      # server config, from an Include'd file
        inc = os.path.join(srv.dir, "included.conf")
        with open(inc, "w") as f:
            f.write("\n".join(body) + "\n")
        srv.append_conf(["Include " + inc])
    elif where == "G":
        srv.append_conf(["<Global>"] + ["  " + l for l in body]
                        + ["</Global>"])
    elif where == "V":
        port = free_port()
        while port == srv.port:
            port = free_port()
        srv.append_conf(_vhost_block(srv, port, body, base))
    elif where == "A":
        anon = os.path.join(srv.dir, "anon")
        os.makedirs(anon, 0o755, exist_ok=True)
        srv.append_conf(["<Anonymous %s>" % anon, "  User nobody",
                         "  Group nogroup", "  UserAlias anonymous nobody"]
                        + ["  " + l for l in body] + ["</Anonymous>"])
    elif where == "D":
        srv.append_conf(["<Directory %s>" % srv.home]
                        + ["  " + l for l in body] + ["</Directory>"])
    return srv, port


class _At:
    """A server seen on another port (a vhost's), for the client helpers."""

    def __init__(self, srv, port):
        self.host, self.port = srv.host, port
        self.user, self.password = srv.user, srv.password


_line_with = ftpsd.line_with


def _serve(srv, port, client="reuse"):
    data = os.urandom(32 * 1024 + 7)
    srv.home_file("corpus.bin", data)
    cls = StockFTP_TLS if client == "stock" else ReusingFTP_TLS
    f = ftps(_At(srv, port), cls=cls)
    try:
        got = retr_bytes(f, "corpus.bin")
    finally:
        close_quietly(f)
    assert sha256(got) == sha256(data), \
        "RETR corpus.bin on port %d: %d bytes, sha256 differs" \
        % (port, len(got))


def _serve_plain_ok(srv, port):
    """TLSEngine off: no AUTH, plain login works."""
    with Raw(_At(srv, port)) as r:
        code, text = r.cmd("AUTH TLS")
        assert code == 500, "TLSEngine off: AUTH TLS -> %r" % text
        r.login()


def _have_mod_tls():
    return os.path.exists(MOD_TLS)


def _mod_tls_verdict(ctx, where, body):
    srv, _ = build(ctx, where, body, module=MOD_TLS, name="corpus-modtls")
    rc, out = check_config(srv, sanitized=False)
    srv.cleanup()
    return rc, out


def _warn_regex(row, value):
    for key, rx in (row.get("warn_for") or {}).items():
        if key in value:
            return rx
    return row.get("warn")


def _check_row(ctx, row):
    d = row["d"]
    ctxs = row.get("ctx", "SVG")
    with_ = row.get("with_", [])
    problems = []
    oracle = _have_mod_tls()

    def fail(msg):
        problems.append(msg)

    # valid values, every allowed context
    for i, value in enumerate(row["ok"]):
        for where in ctxs:
            line = "%s %s" % (d, value)
            srv, port = build(ctx, where, [line] + with_)
            rc, out = check_config(srv)
            what = "%s in %s" % (_res(line, srv), CTX_NAMES[where])
            if rc != 0:
                fail("%s: proftpd -t failed (rc %d):\n%s"
                     % (what, rc, out[-1500:]))
                srv.cleanup()
                continue
            rx = _warn_regex(row, value)
            if rx and not _line_with(out, d, re.compile(rx)):
                fail("%s: proftpd -t printed no warning naming %s and %r:"
                     "\n%s" % (what, d, rx, out[-1500:]))
            serve = row.get("serve", True)
            if i == 0 and serve and (where == "S" or
                                     (where == "V" and serve == "vhost")):
                try:
                    srv.start()
                    if where == "V":
                        srv.wait_listening(port)
                    if d == "TLSEngine" and value == "off":
                        _serve_plain_ok(srv, port)
                    else:
                        _serve(srv, port, row.get("client", "reuse"))
                except (AssertionError, RuntimeError, OSError, EOFError,
                        ssl.SSLError, Exception) as e:
                    fail("%s: the daemon did not serve a client: %s: %s"
                         % (what, type(e).__name__, e))
            srv.cleanup()
        if oracle and value not in row.get("companion", ()):
            rc, out = _mod_tls_verdict(ctx, "S", ["%s %s" % (d, value)]
                                       + with_)
            if rc != 0:
                fail("corpus row is wrong: mod_tls itself refuses '%s %s' "
                     "in the server context:\n%s" % (d, value, out[-800:]))

    # invalid values, every allowed context
    for value, tok, reason in row.get("bad", ()):
        for where in ctxs:
            line = "%s %s" % (d, value)
            srv, _ = build(ctx, where, [line] + with_)
            rc, out = check_config(srv)
            needles = [re.compile(row["dname"]) if row.get("dname") else d,
                       re.compile(reason)]
            if tok:
                needles.append(_res(tok, srv))
            what = "%s in %s" % (_res(line, srv), CTX_NAMES[where])
            if rc == 0:
                fail("%s: proftpd -t passed, want a failure:\n%s"
                     % (what, out[-1200:]))
            elif not _line_with(out, *needles):
                fail("%s: proftpd -t (rc %d) has no line naming %r:\n%s"
                     % (what, rc, [getattr(n, "pattern", n)
                                   for n in needles], out[-1500:]))
            srv.cleanup()
        # the same in an Include'd file, where ProFTPD itself only warns
        srv, _ = build(ctx, "I", ["%s %s" % (d, value)] + with_)
        rc, out = check_config(srv)
        if rc == 0:
            fail("%s %s in an Include'd file: proftpd -t passed:\n%s"
                 % (d, _res(value, srv), out[-1200:]))
        srv.cleanup()
        if oracle and value not in row.get("stricter", ()):
            rc, out = _mod_tls_verdict(ctx, "S", ["%s %s" % (d, value)]
                                       + with_)
            if rc == 0:
                fail("corpus row is wrong: mod_tls accepts '%s %s' (mark "
                     "it stricter if mod_ftps refuses it on purpose)"
                     % (d, value))

    # wrong contexts
    for where in "SVGAD":
        if where in ctxs:
            continue
        line = "%s %s" % (d, row["ok"][0])
        srv, _ = build(ctx, where, [line] + with_)
        rc, out = check_config(srv)
        what = "%s in %s" % (_res(line, srv), CTX_NAMES[where])
        if rc == 0:
            fail("%s: proftpd -t passed, want 'not allowed in %s'"
                 % (what, CTX_NAMES[where]))
        elif not _line_with(out, d, re.compile(R_CTX[where])):
            fail("%s: no line naming %s and %s:\n%s"
                 % (what, d, CTX_NAMES[where], out[-1200:]))
        srv.cleanup()
    if oracle:
        for where in ctxs:
            if where in row.get("wider", ""):
                continue
            rc, out = _mod_tls_verdict(ctx, where, ["%s %s" % (
                d, row["ok"][0])] + with_)
            if rc != 0 and re.search(r"not allowed in", out):
                fail("corpus row is wrong: mod_tls refuses %s in %s:\n%s"
                     % (d, CTX_NAMES[where], out[-600:]))
        for where in "SVGAD":
            if where in ctxs or where in row.get("wider", ""):
                continue
            rc, out = _mod_tls_verdict(ctx, where, ["%s %s" % (
                d, row["ok"][0])] + with_)
            if rc == 0:
                fail("corpus row is wrong: mod_tls accepts %s in %s"
                     % (d, CTX_NAMES[where]))

    assert not problems, "%d problem(s):\n- %s" % (
        len(problems), "\n- ".join(problems))


def _make(row):
    def test(ctx):
        _check_row(ctx, row)
    test.__name__ = "test_corpus_" + row.get("name", row["d"])
    test.__doc__ = repr(row)
    return test


for _row in ROWS:
    _t = _make(_row)
    globals()[_t.__name__] = _t
del _row, _t


# -- whole real-world configurations -------------------------------------------

def _retr_check(at, ctx_=None, cls=ReusingFTP_TLS, name="case.bin",
                home=None):
    """login, RETR name (made in home), bytes compared; returns the socket's
    (version, peer certificate DER)."""
    data = os.urandom(48 * 1024 + 5)
    ftpsd.write_file(os.path.join(home, name), data)
    os.chown(os.path.join(home, name), ftpsd.UID, ftpsd.GID)
    f = ftps(at, cls=cls, ctx=ctx_)
    try:
        got = retr_bytes(f, name)
        info = f.sock.version(), f.sock.getpeercert(binary_form=True)
    finally:
        close_quietly(f)
    assert sha256(got) == sha256(data), \
        "RETR %s: %d bytes, sha256 differs" % (name, len(got))
    return info


_der = ftpsd.cert_der


_peer_der = peer_cert_der


def _case_server(ctx, tls, extra=(), name="case"):
    srv = ctx.server(tls=tls, extra=list(extra), start=False, shared=False,
                     name=name)
    rc, out = check_config(srv)
    assert rc == 0, "proftpd -t failed (rc %d):\n%s" % (rc, out[-2500:])
    srv.start()
    return srv, out


def test_corpus_case_howto(ctx):
    """The ProFTPD TLS HOWTO's example configuration."""
    ctx.need("curl")
    srv, out = _case_server(ctx, {
        "TLSProtocol": "TLSv1 TLSv1.1 TLSv1.2",
        "TLSRequired": "on",
        RSA: ftpsd.cert("rsa.crt"), RSAKEY: ftpsd.cert("rsa.key"),
        EC: ftpsd.cert("ec.crt"), ECKEY: ftpsd.cert("ec.key"),
        "TLSCACertificateFile": ftpsd.cert("ca.pem"),
        "TLSVerifyClient": "off",
        "TLSRenegotiate": "none",
    })
    assert _line_with(out, "TLSProtocol", re.compile(r"TLSv1\.1")), \
        "proftpd -t: no warning about TLSv1/TLSv1.1:\n%s" % out[-1500:]
    ver, _ = _retr_check(srv, home=srv.home)
    assert ver == "TLSv1.2", "HOWTO config (TLS up to 1.2): negotiated %s" \
        % ver
    srv.home_file("listed.txt", b"x\n")
    p = curl(srv, "/")
    assert p.returncode == 0 and b"listed.txt" in p.stdout, \
        "curl listing: %s" % describe(p)
    try:
        _peer_der(srv, context("1.3"))
    except (ssl.SSLError, OSError):
        pass
    else:
        raise AssertionError("a TLS 1.3-only client got through, but the "
                             "HOWTO's TLSProtocol does not list TLSv1.3")
    c = context("1.2")
    c.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    assert _peer_der(srv, c) == _der("ec.crt"), \
        "an ECDSA client did not get the TLSECCertificateFile"
    c = context("1.2")
    c.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    assert _peer_der(srv, c) == _der("rsa.crt"), \
        "an RSA-only client did not get the TLSRSACertificateFile"
    with Raw(srv) as r:
        code, text = r.cmd("USER " + srv.user)
        assert code == 550, "TLSRequired on: plain USER -> %r" % text


def _letsencrypt():
    """A certbot-like tree: live/localhost/*.pem symlinks into archive/."""
    d = os.path.join(ftpsd.tmp_root(), "letsencrypt")
    live = os.path.join(d, "live", "localhost")
    if os.path.exists(os.path.join(live, "privkey.pem")):
        return live
    arch = os.path.join(d, "archive", "localhost")
    os.makedirs(arch, 0o755, exist_ok=True)
    os.makedirs(live, 0o755, exist_ok=True)
    parts = {"cert": ["rsa.crt"], "chain": ["inter.pem"],
             "fullchain": ["rsa.crt", "inter.pem"], "privkey": ["rsa.key"]}
    for name, srcs in parts.items():
        path = os.path.join(arch, name + "1.pem")
        with open(path, "wb") as out:
            for s in srcs:
                with open(ftpsd.cert(s), "rb") as f:
                    out.write(f.read())
        os.chmod(path, 0o600 if name == "privkey" else 0o644)
    for name in parts:
        link = os.path.join(live, name + ".pem")
        if not os.path.islink(link):
            os.symlink("../../archive/localhost/%s1.pem" % name, link)
    return live


def _verifying():
    v = ssl.create_default_context(cafile=ftpsd.cert("ca.pem"))
    v.minimum_version = ssl.TLSVersion.TLSv1_2
    return v


def _le_case(ctx, tls):
    ctx.need("curl")
    srv, _ = _case_server(ctx, tls, name="letsencrypt")
    try:
        _retr_check(srv, ctx_=_verifying(), home=srv.home)
    except ssl.SSLError as e:
        raise AssertionError("a client verifying against the root CA "
                             "refused the server: %s" % e)
    srv.home_file("le.txt", b"lets encrypt\n")
    p = curl(srv, "/le.txt", extra=["--cacert", ftpsd.cert("ca.pem")])
    p_ok = p.returncode == 0 and p.stdout == b"lets encrypt\n"
    assert p_ok, "curl --cacert ca.pem (no -k)... : %s" % describe(p)
    return srv


def test_corpus_case_letsencrypt_fullchain(ctx):
    live = _letsencrypt()
    _le_case(ctx, {RSA: os.path.join(live, "fullchain.pem"),
                   RSAKEY: os.path.join(live, "privkey.pem")})


def test_corpus_case_letsencrypt_cert_and_chain(ctx):
    live = _letsencrypt()
    _le_case(ctx, {RSA: os.path.join(live, "cert.pem"),
                   RSAKEY: os.path.join(live, "privkey.pem"),
                   "TLSCertificateChainFile": os.path.join(live,
                                                           "chain.pem")})


def test_corpus_case_letsencrypt_cert_without_chain(ctx):
    """Control: cert.pem alone sends no intermediate, and a verifying
    client must refuse it (so the two cases above verify for real)."""
    live = _letsencrypt()
    srv, _ = _case_server(ctx, {RSA: os.path.join(live, "cert.pem"),
                                RSAKEY: os.path.join(live, "privkey.pem")},
                          name="letsencrypt")
    try:
        _peer_der(srv, _verifying())
    except ssl.SSLError as e:
        assert "verify failed" in str(e), "unexpected failure: %s" % e
        return
    raise AssertionError("a verifying client accepted cert.pem without its "
                         "chain")


PASV_RE = re.compile(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")


def _pasv(r):
    code, text = r.cmd("PASV")
    assert code == 227, "PASV: %r" % text
    m = PASV_RE.search(text)
    assert m, "no address in %r" % text
    n = [int(x) for x in m.groups()]
    return "%d.%d.%d.%d" % tuple(n[:4]), n[4] * 256 + n[5]


def test_corpus_case_nat(ctx):
    """TLSMasqueradeAddress and PassivePorts (FAQ: FTPS behind NAT)."""
    masq = "192.0.2.10"
    srv = ctx.server(tls={"TLSRequired": "off",
                          "TLSMasqueradeAddress": masq},
                     start=False, shared=False, name="nat")
    lo, hi = ftpsd.passive_range(16)
    srv.replace_conf("PassivePorts", "PassivePorts %d %d" % (lo, hi))
    srv.start()
    with Raw(srv) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls()
        r.login()
        addr, port = _pasv(r)
        assert addr == masq, "FTPS PASV advertises %s, want %s" % (addr, masq)
        assert lo <= port <= hi, "PASV port %d outside PassivePorts %d-%d" \
            % (port, lo, hi)
    with Raw(srv) as r:
        r.login()
        addr, port = _pasv(r)
        assert addr == "127.0.0.1", \
            "plain FTP PASV advertises %s, want 127.0.0.1" % addr
        assert lo <= port <= hi, "PASV port %d outside PassivePorts" % port
    # the data still flows (the client connects to the control address)
    _retr_check(srv, home=srv.home)


def _port_free(port):
    s = socket.socket()
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def test_corpus_case_implicit_vhost(ctx):
    """Explicit FTPS on the main server, implicit FTPS (UseImplicitSSL) in
    a <VirtualHost> on port 990 (or a free port if 990 is taken)."""
    ctx.need("curl")
    srv = ctx.server(start=False, shared=False, name="implicit")
    port = 990 if _port_free(990) else free_port()
    while port == srv.port:
        port = free_port()
    srv.append_conf(_vhost_block(srv, port, [
        "TLSOptions UseImplicitSSL", "TLSRequired on"], {
            "TLSEngine": "on", RSA: "@rsa.crt", RSAKEY: "@rsa.key",
            "TLSProtocol": "TLSv1.2 TLSv1.3"}))
    rc, out = check_config(srv)
    assert rc == 0, "proftpd -t failed:\n%s" % out[-2000:]
    srv.start()
    srv.wait_listening(port)
    data = os.urandom(100 * 1024 + 1)
    srv.home_file("imp.bin", data)
    out_file = os.path.join(srv.client_dir, "imp.bin")
    p = curl_implicit(srv, "/imp.bin", port=port, output=out_file)
    assert p.returncode == 0, "curl ftps://...:%d: %s" % (port, describe(p))
    with open(out_file, "rb") as f:
        assert sha256(f.read()) == sha256(data), "implicit RETR: bytes differ"
    p = curl(srv, "/imp.bin", output=out_file + ".x")
    assert p.returncode == 0, "curl explicit on %d: %s" % (srv.port,
                                                           describe(p))
    with open(out_file + ".x", "rb") as f:
        assert sha256(f.read()) == sha256(data), "explicit RETR: bytes differ"
    f = implicit_ftps(srv, port=port)
    try:
        assert f.sock.getpeercert(binary_form=True) == _der("rsa.crt"), \
            "the implicit vhost did not present its own certificate"
    finally:
        close_quietly(f)
    # the implicit port sends nothing in clear
    s = socket.create_connection((srv.host, port), timeout=10)
    try:
        s.settimeout(1.5)
        try:
            got = s.recv(100)
        except socket.timeout:
            got = b""
        assert not got.startswith(b"220"), \
            "implicit port %d sent a plaintext banner %r" % (port, got)
    finally:
        s.close()


def test_corpus_case_encrypted_key_provider(ctx):
    """RSA pair in clear, EC key encrypted, passphrase from a
    TLSPassPhraseProvider program."""
    srv, _ = _case_server(ctx, {
        RSA: ftpsd.cert("rsa.crt"), RSAKEY: ftpsd.cert("rsa.key"),
        EC: ftpsd.cert("ec.crt"), ECKEY: ftpsd.cert("encrypted.key"),
    }, extra=["TLSPassPhraseProvider " + ftpsd.cert("provider-secret.sh")],
        name="provider")
    c = context("1.2")
    c.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    assert _peer_der(srv, c) == _der("ec.crt"), \
        "an ECDSA client did not get the certificate of the encrypted key"
    _retr_check(srv, ctx_=c, home=srv.home)
    _retr_check(srv, home=srv.home)
    log = srv.log()
    assert not re.search(r"(?<![-/])\bsecret\b", log), \
        "the passphrase is in the logs"
