"""Startup: a table of certificate files and TLS directive sets.

Each OK row must pass `proftpd -t`, start, and serve a real client (ftplib
with session reuse: login + RETR compared by sha256, or a curl listing),
plus its own checks (chain sent and verifiable, negotiated cipher, refused
protocol versions, warnings in stderr).  Each FAIL row must make
`proftpd -t` exit non-zero with one stderr line naming the directive, the
file (or the offending value) and a reason.  No row may let a line of a
private key's base64 body reach stderr or the TLSLog.

Values "@name" are fixture files of tests/fixtures/mkcerts.sh ("@" alone is
the fixture directory itself); they are resolved when the row runs.
"""

import os
import re
import ssl

import ftpsd
from clients import (Raw, expect, ftps, close_quietly, retr_bytes, s_client,
                     curl, describe, context, peer_cert_der)
from ftpsd import sha256

RSA, RSAKEY = "TLSRSACertificateFile", "TLSRSACertificateKeyFile"
EC, ECKEY = "TLSECCertificateFile", "TLSECCertificateKeyFile"
CHAIN = "TLSCertificateChainFile"
NO_RSA = {RSA: None}
MOD_TLS = "/usr/lib/proftpd/mod_tls.so"


def _res(v):
    if isinstance(v, str) and v.startswith("@"):
        return ftpsd.cert(v[1:]) if len(v) > 1 else ftpsd.certs()
    return v


def _tls(row):
    return {k: _res(v) for k, v in row.get("tls", {}).items()}


def _extra(row):
    return [" ".join(_res(w) for w in line.split())
            for line in row.get("extra", ())]


check_config = ftpsd.check_config


# -- private keys must never be logged ---------------------------------------

_key_lines = []


def key_lines():
    """Base64 body lines of every private key among the fixtures."""
    if not _key_lines:
        d = ftpsd.certs()
        for name in sorted(os.listdir(d)):
            if name.startswith("."):
                continue
            try:
                with open(os.path.join(d, name), errors="replace") as f:
                    text = f.read()
            except OSError:
                continue
            for block in re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----\n"
                                    r"(.*?)-----END", text, re.S):
                for line in block.splitlines():
                    line = line.strip()
                    if len(line) >= 16 and ":" not in line:
                        _key_lines.append(line)
        assert _key_lines, "no private key lines found among the fixtures"
    return _key_lines


_read = ftpsd.read_text


def assert_no_key_material(srv, *texts):
    where = [("proftpd -t output", t) for t in texts]
    where += [(os.path.basename(p), _read(p))
              for p in (srv.stderr_path, srv.tls_log)]
    for what, text in where:
        for line in key_lines():
            assert line not in text, \
                "private key material in %s: %r" % (what, line)


# -- helpers -----------------------------------------------------------------

def _server(ctx, row, **kw):
    if row.get("modules") or row.get("modules_after"):
        srv = ftpsd.Server(ctx.module, tls=_tls(row), extra=_extra(row),
                           keep=ctx.keep, modules=row.get("modules", ()),
                           modules_after=row.get("modules_after", ()), **kw)
        ctx.own.append(srv)
        ctx.touched.append((srv, srv.log_mark()))
        return srv
    return ctx.server(tls=_tls(row), extra=_extra(row), start=False,
                      shared=False)


_line_with = ftpsd.line_with


def _ftplib_retr(srv, version=None):
    data = os.urandom(64 * 1024 + 3)
    srv.home_file("probe.bin", data)
    f = ftps(srv, version=version)
    try:
        got = retr_bytes(f, "probe.bin")
        assert sha256(got) == sha256(data), \
            "RETR probe.bin: %d bytes, sha256 differs" % len(got)
        return f.sock.version(), f.sock.cipher()[0], \
            f.sock.getpeercert(binary_form=True)
    finally:
        close_quietly(f)


def _curl_list(srv, version=None):
    srv.home_file("listed.txt", b"x\n")
    p = curl(srv, "/", version=version, timeout=30)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0 and "listed.txt" in out, \
        "curl --ssl-reqd -k listing: %s" % describe(p)


def _handshake_fails(srv, ctx_):
    """AUTH TLS, then a handshake with ctx_ must fail."""
    with Raw(srv) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        try:
            r.starttls(ctx=ctx_)
        except (ssl.SSLError, OSError):
            return
        raise AssertionError("handshake succeeded: %s %s"
                             % (r.sock.version(), r.sock.cipher()))


_der = ftpsd.cert_der


_peer_cert = peer_cert_der


# -- row-specific checks (after the basic client check) ----------------------

def chk_chain(srv, ctx):
    """The client gets leaf + intermediate and verifies against ca.pem."""
    ctx.need("openssl")
    rc, out = s_client(srv, lines=("QUIT",), delay=0.2,
                       extra=["-showcerts", "-CAfile", ftpsd.cert("ca.pem"),
                              "-verify_return_error"])
    n = out.count("-----BEGIN CERTIFICATE-----")
    assert n == 2, "s_client -showcerts: %d certificates, want 2:\n%s" \
        % (n, out[-2500:])
    assert re.search(r"Verify return code: 0 \(ok\)", out), \
        "s_client -CAfile ca.pem: verification failed:\n%s" % out[-2500:]
    # and a Python client that verifies the chain and the host name
    v = ssl.create_default_context(cafile=ftpsd.cert("ca.pem"))
    with Raw(srv) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        try:
            r.starttls(ctx=v)
        except ssl.SSLError as e:
            raise AssertionError("verifying Python client: %s" % e)


def chk_rsa_and_ec(srv, ctx):
    """ECDSA-capable clients get ec.crt, RSA-only TLS 1.2 clients rsa.crt."""
    _curl_list(srv)
    c = context("1.2")
    c.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
    assert _peer_cert(srv, c) == _der("rsa.crt"), \
        "RSA-only TLS 1.2 client did not get rsa.crt"
    c = context("1.2")
    c.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    assert _peer_cert(srv, c) == _der("ec.crt"), \
        "ECDSA-only TLS 1.2 client did not get ec.crt"


def chk_chacha13(srv, ctx):
    ctx.need("openssl")
    rc, out = s_client(srv, "1.3", lines=("QUIT",), delay=0.2)
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    assert m and m.groups() == ("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"), \
        "TLS 1.3 s_client: want TLS_CHACHA20_POLY1305_SHA256:\n%s" \
        % out[-2000:]
    rc, out = s_client(srv, "1.3", lines=("QUIT",), delay=0.2,
                       extra=["-ciphersuites", "TLS_AES_256_GCM_SHA384"])
    m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    assert not m or m.group(2) == "(NONE)", \
        "a client offering only TLS_AES_256_GCM_SHA384 got %s" % m.group(0)


def chk_ecdsa_aes256_12(srv, ctx):
    ver, cipher, _ = _ftplib_retr(srv, "1.2")
    assert (ver, cipher) == ("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"), \
        "TLS 1.2 client negotiated %s %s" % (ver, cipher)
    c = context("1.2")
    c.set_ciphers("ECDHE-ECDSA-AES128-GCM-SHA256")
    _handshake_fails(srv, c)


def chk_only13(srv, ctx):
    _handshake_fails(srv, context("1.2"))
    ver, _, _ = _ftplib_retr(srv, "1.3")
    assert ver == "TLSv1.3", ver


def chk_no13(srv, ctx):
    _handshake_fails(srv, context("1.3"))
    ver, _, _ = _ftplib_retr(srv, "1.2")
    assert ver == "TLSv1.2", ver
    ver, _, _ = _ftplib_retr(srv, None)
    assert ver == "TLSv1.2", "a 1.2+1.3 client negotiated %s" % ver


def chk_engine_off(srv, ctx):
    with Raw(srv) as r:
        t = expect(r.cmd("FEAT"), 211, "FEAT")
        feats = [x.strip() for x in t.splitlines()[1:-1]]
        for bad in ("AUTH TLS", "PBSZ", "PROT"):
            assert not any(x.startswith(bad) for x in feats), \
                "TLSEngine off: FEAT lists %r: %r" % (bad, feats)
        code, text = r.cmd("AUTH TLS")
        assert code == 500, "TLSEngine off: AUTH TLS -> %r, want the " \
            "core's 500" % text
        # TLSRequired on means nothing without the engine: plain login works
        expect(r.cmd("USER " + srv.user), 331, "USER (TLSEngine off)")
        expect(r.cmd("PASS " + srv.password), 230, "PASS (TLSEngine off)")


# -- the tables --------------------------------------------------------------
# ok rows: name, tls, extra, client ("ftplib"|"curl"|None), check, warn
# (regexes that one stderr line must all match)

OK_ROWS = [
    dict(name="combined_cert_first", tls={RSA: "@combined-cert-first.pem"}),
    dict(name="combined_key_first", tls={RSA: "@combined-key-first.pem"}),
    dict(name="split_rsa", tls={RSA: "@rsa.crt", RSAKEY: "@rsa.key"},
         client="curl"),
    dict(name="ec_pair", tls={RSA: None, EC: "@ec.crt", ECKEY: "@ec.key"},
         client="curl"),
    dict(name="rsa_and_ec", tls={RSA: "@combined-cert-first.pem",
                                 EC: "@ec.crt", ECKEY: "@ec.key"},
         check=chk_rsa_and_ec),
    dict(name="combined_fullchain",
         tls={RSA: None, EC: "@combined-fullchain.pem"}, check=chk_chain),
    dict(name="chain_file", tls={RSA: None, EC: "@ec.crt", ECKEY: "@ec.key",
                                 CHAIN: "@chain.pem"}, check=chk_chain),
    dict(name="with_ecparams", tls={RSA: "@with-ecparams.pem"}),
    dict(name="with_dhparams", tls={RSA: "@with-dhparams.pem"}),
    dict(name="dup_key", tls={RSA: "@dup-key.pem"}),
    dict(name="expired", tls={RSA: "@expired.pem"},
         warn=[r"expired", "@expired.pem"]),
    dict(name="key_0644", tls={RSA: "@key-0644.pem"},
         warn=[r"chmod 600", "@key-0644.pem"], leak_check=True),
    dict(name="cipher_tls13_chacha",
         tls={"TLSCipherSuite": "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256"},
         check=chk_chacha13),
    dict(name="cipher_ecdsa_aes256_tls12",
         tls={"TLSCipherSuite": "ECDHE-ECDSA-AES256-GCM-SHA384"},
         client=None, check=chk_ecdsa_aes256_12),
    dict(name="protocol_tls13_only", tls={"TLSProtocol": "TLSv1.3"},
         client=None, check=chk_only13),
    dict(name="protocol_all_minus_tls13",
         tls={"TLSProtocol": "ALL -TLSv1.3"}, client=None, check=chk_no13),
    dict(name="options_nocertrequest", extra=["TLSOptions NoCertRequest"],
         warn=[r"NoCertRequest",
               r"(?i)obsolete|deprecated|ignored"]),
    dict(name="engine_off", tls={"TLSEngine": "off"}, client=None,
         check=chk_engine_off),
    # mod_tls configurations: Debian's tls.conf template with its usual
    # lines enabled, the HOWTO's renegotiation line, directives accepted
    # but not honoured yet (one warning each), and two that are honoured.
    dict(name="debian_template", tls={"TLSProtocol": "SSLv23"},
         extra=["TLSOptions NoCertRequest EnableDiags NoSessionReuseRequired "
                "AllowClientRenegotiations",
                "TLSVerifyClient off", "TLSRenegotiate required off",
                "TLSCACertificateFile @ca.pem"],
         client="curl", warn=[r"NoCertRequest"]),
    dict(name="renegotiate_none", extra=["TLSRenegotiate none"]),
    dict(name="renegotiate_timeout",
         extra=["TLSRenegotiate ctrl 3600 data 1048576 required on "
                "timeout 30"],
         warn=[r"TLSRenegotiate", r"'required' and 'timeout' are ignored"]),
    dict(name="compat_ignored",
         extra=["TLSNextProtocol on",
                "TLSDHParamFile /etc/proftpd/dhparams.pem",
                "TLSSessionTickets on", "TLSVerifyDepth 5",
                "TLSRandomSeed /dev/urandom"],
         warn=[r"TLSRandomSeed", r"not supported"]),
    dict(name="encrypted_key_provider",
         tls={RSA: None, EC: "@ec.crt", ECKEY: "@encrypted.key"},
         extra=["TLSPassPhraseProvider @provider-secret.sh"], client="curl"),
    dict(name="dh_param_file", extra=["TLSDHParamFile @dh2048.pem"],
         client="curl"),
    dict(name="verify_client_optional",
         extra=["TLSVerifyClient optional", "TLSCACertificateFile @ca.pem",
                "TLSCARevocationFile @ca.crl", "TLSVerifyDepth 3"]),
    dict(name="ecdh_curve", tls={"TLSECDHCurve": "X25519:P-256"},
         client="curl"),
    dict(name="server_cipher_preference_off",
         tls={"TLSServerCipherPreference": "off"}, client="curl"),
]

# fail rows: name, tls, extra, want (each of them on one stderr line: a
# directive name, a file/value, a reason regex), start (also try to start)
R_NOFILE = r"(?i)no such file|does not exist|not found|cannot open"
R_CIPHER = r"(?i)no (usable |valid |matching )?cipher|unknown|invalid|" \
    r"matches no|not (a )?(known|valid)"

FAIL_ROWS = [
    dict(name="missing_file", tls={RSA: "@missing.pem"},
         want=[RSA, "@missing.pem", R_NOFILE]),
    dict(name="directory", tls={RSA: "@"},
         want=[RSA, "@", r"(?i)directory|not a (regular )?file"]),
    dict(name="empty", tls={RSA: "@empty.pem"},
         want=[RSA, "@empty.pem", r"(?i)empty|no certificate|no PEM"]),
    dict(name="garbage", tls={RSA: "@garbage.pem"},
         want=[RSA, "@garbage.pem",
               r"(?i)no certificate|no PEM|not (a )?PEM"]),
    dict(name="cert_only", tls={RSA: "@cert-only.pem"},
         want=[RSA, "@cert-only.pem", r"(?i)no (private )?key|key .*missing"]),
    dict(name="key_only", tls={RSA: "@key-only.pem"},
         want=[RSA, "@key-only.pem", r"(?i)no certificate"], start=True),
    dict(name="mismatch", tls={RSA: "@mismatch.pem"},
         want=[RSA, "@mismatch.pem", r"(?i)does not match"], start=True,
         leak_check=True),
    dict(name="two_keys", tls={RSA: "@two-keys.pem"},
         want=[RSA, "@two-keys.pem",
               r"(?i)(two|more than one|several|multiple|2) (private )?keys"
               r"|second\b.*key"]),
    dict(name="encrypted_key",
         tls={RSA: None, EC: "@ec.crt", ECKEY: "@encrypted.key"},
         want=[ECKEY, "@encrypted.key", r"(?i)pass ?phrase"]),
    dict(name="encrypted_legacy_key",
         tls={RSA: None, EC: "@ec.crt", ECKEY: "@encrypted-legacy.key"},
         want=[ECKEY, "@encrypted-legacy.key", r"(?i)pass ?phrase"]),
    dict(name="key_without_cert", tls={RSA: None, RSAKEY: "@rsa.key"},
         want=[RSAKEY, "@rsa.key", RSA]),
    dict(name="relative_path", tls={RSA: "certs/selfsigned.pem"},
         want=[RSA, "certs/selfsigned.pem", r"(?i)absolute|relative"]),
    dict(name="protocol_tls14", tls={"TLSProtocol": "TLSv1.4"},
         want=["TLSProtocol", "TLSv1.4", r"(?i)unknown|unsupported|invalid"]),
    dict(name="protocol_none_left",
         tls={"TLSProtocol": "-TLSv1.2 -TLSv1.3"},
         want=["TLSProtocol", "",
               r"(?i)no protocol|nothing|none|empty|at least one"]),
    dict(name="required_sometimes", tls={"TLSRequired": "sometimes"},
         want=["TLSRequired", "sometimes",
               r"(?i)unknown|invalid|bad|must be|expected"]),
    dict(name="options_bogus", extra=["TLSOptions Bogus"],
         want=["TLSOptions", "Bogus", r"(?i)unknown|invalid|unsupported"]),
    dict(name="cipher_nosuch", tls={"TLSCipherSuite": "NOSUCHCIPHER"},
         want=["TLSCipherSuite", "NOSUCHCIPHER", R_CIPHER]),
    dict(name="cipher_tls13_nosuch", tls={"TLSCipherSuite": "TLSv1.3 NOSUCH"},
         want=["TLSCipherSuite", "NOSUCH", R_CIPHER]),
    dict(name="encrypted_key_provider_wrong",
         tls={RSA: None, EC: "@ec.crt", ECKEY: "@encrypted.key"},
         extra=["TLSPassPhraseProvider @provider-wrong.sh"],
         want=[ECKEY, "@encrypted.key", r"(?i)pass ?phrase"]),
    dict(name="verify_client_without_ca", extra=["TLSVerifyClient on"],
         want=["TLSVerifyClient", "TLSCACertificateFile",
               r"(?i)cannot be verified"]),
    dict(name="verify_client_bogus", extra=["TLSVerifyClient maybe"],
         want=["TLSVerifyClient", "maybe", r"(?i)expected on, off or optional"]),
    dict(name="crl_file_missing",
         extra=["TLSVerifyClient on", "TLSCACertificateFile @ca.pem",
                "TLSCARevocationFile @missing.crl"],
         want=["TLSCARevocationFile", "@missing.crl", r"(?i)cannot load CRL"]),
    dict(name="dh_weak", extra=["TLSDHParamFile @dh1024.pem"],
         want=["TLSDHParamFile", "@dh1024.pem", r"(?i)1024 bits.*AllowWeakDH"]),
    dict(name="dh_garbage", extra=["TLSDHParamFile @garbage.pem"],
         want=["TLSDHParamFile", "@garbage.pem", r"(?i)no DH parameters"]),
    dict(name="username_bogus", extra=["TLSUserName FullName"],
         want=["TLSUserName", "FullName", r"(?i)expected CommonName"]),
    dict(name="verify_depth_bogus", extra=["TLSVerifyDepth -3"],
         want=["TLSVerifyDepth", "-3", r"(?i)expected a depth"]),
    dict(name="ecdh_curve_bogus", tls={"TLSECDHCurve": "bogus"},
         want=["TLSECDHCurve", "bogus", r"(?i)no usable group"]),
    dict(name="renegotiate_bogus", extra=["TLSRenegotiate sometimes 1"],
         want=["TLSRenegotiate", "sometimes", r"(?i)unknown"]),
    dict(name="renegotiate_zero", extra=["TLSRenegotiate ctrl 0"],
         want=["TLSRenegotiate", "'0'", r"(?i)positive number of seconds"]),
    dict(name="renegotiate_unpaired", extra=["TLSRenegotiate data"],
         want=["TLSRenegotiate", "'data'", r"(?i)has no value"]),
    dict(name="with_mod_tls", modules=[MOD_TLS],
         want=["mod_tls", "mod_ftps", r"(?i)cannot be loaded together"]),
    dict(name="with_mod_tls_after", modules_after=[MOD_TLS],
         want=["LoadModule mod_tls.c", "mod_ftps",
               r"(?i)cannot be loaded together"]),
    dict(name="with_mod_tls_shmcache",
         modules_after=["/usr/lib/proftpd/mod_tls_shmcache.so"],
         want=["mod_tls_shmcache.c", "mod_ftps",
               r"(?i)companion of mod_tls.*remove its LoadModule"]),
] + [
    dict(name="with_" + _c, modules_after=["/usr/lib/proftpd/%s.so" % _c],
         want=[_c + ".c", "mod_ftps",
               r"(?i)companion of mod_tls.*remove its LoadModule"])
    for _c in ("mod_tls_fscache", "mod_tls_memcache", "mod_tls_redis")
] + [
    # Loaded before mod_ftps, a companion fails in mod_dso (it imports
    # mod_tls's symbols), before mod_ftps can say anything: the startup
    # still stops, with mod_dso's message naming the module.
    dict(name="with_mod_tls_fscache_before",
         modules=["/usr/lib/proftpd/mod_tls_fscache.so"],
         want=["mod_tls_fscache.c", "LoadModule", r"(?i)error loading"]),
]


def _needles(want):
    return [re.compile(w) if i == 2 else _res(w) for i, w in enumerate(want)]


def _warned(text, warn):
    return _line_with(text, *[re.compile(w) if not w.startswith("@")
                              else _res(w) for w in warn])


def _run_ok(ctx, row):
    srv = _server(ctx, row)
    rc, out = check_config(srv)
    assert rc == 0, "proftpd -t failed (rc %d):\n%s" % (rc, out[-2500:])
    if row.get("warn"):
        assert _warned(out, row["warn"]), \
            "proftpd -t: no warning line matching %r:\n%s" \
            % (row["warn"], out[-2500:])
    try:
        srv.start()
    except RuntimeError as e:
        raise AssertionError("proftpd -t passed but the daemon did not "
                             "start: %s" % e)
    client = row.get("client", "ftplib")
    if client == "ftplib":
        _ftplib_retr(srv)
    elif client == "curl":
        ctx.need("curl")
        _curl_list(srv)
    if row.get("check"):
        row["check"](srv, ctx)
    if row.get("warn"):
        assert _warned(_read(srv.stderr_path), row["warn"]), \
            "daemon stderr: no warning line matching %r:\n%s" \
            % (row["warn"], _read(srv.stderr_path)[-2500:])
    if row.get("leak_check"):
        assert_no_key_material(srv, out)


def run_foreground(srv, timeout=10):
    """proftpd -n as a start-up would run it: (exit status or None if it
    was still running after timeout, stderr)."""
    return ftpsd.run_foreground(srv, timeout), _read(srv.stderr_path)


def _run_fail(ctx, row):
    mods = list(row.get("modules", ())) + list(row.get("modules_after", ()))
    if mods:
        missing = [m for m in mods if not os.path.exists(m)]
        if missing:
            raise ftpsd.Skip("%s not installed" % ", ".join(missing))
    srv = _server(ctx, row)
    rc, out = check_config(srv)
    needles = _needles(row["want"])
    names = [getattr(n, "pattern", n) for n in needles]
    assert _line_with(out, *needles), \
        "proftpd -t (rc %d): no line naming %r:\n%s" % (rc, names, out[-2500:])
    if row.get("leak_check"):
        assert_no_key_material(srv, out)
    problems = []
    if rc == 0:
        problems.append("proftpd -t printed the error but exited 0")
    if row.get("start"):
        rc, err = run_foreground(srv)
        if rc is None:
            problems.append("proftpd -n started (still running after 10s)")
        elif rc == 0:
            problems.append("proftpd -n refused to start but exited 0")
        if not _line_with(err, *needles):
            problems.append("proftpd -n: no line naming %r" % names)
        if row.get("leak_check"):
            assert_no_key_material(srv, out)
    assert not problems, "; ".join(problems) + ":\n" + out[-2500:]


def _make(run, row, prefix):
    def test(ctx):
        run(ctx, row)
    test.__name__ = prefix + row["name"]
    test.__doc__ = repr(row)
    return test


for _row in OK_ROWS:
    _t = _make(_run_ok, _row, "test_startup_ok_")
    globals()[_t.__name__] = _t
for _row in FAIL_ROWS:
    _t = _make(_run_fail, _row, "test_startup_fail_")
    globals()[_t.__name__] = _t
del _row, _t
