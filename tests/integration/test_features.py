"""Features: mod_tls directives and TLSOptions that mod_ftps honours as
README.md's directive table says, checked with openssl s_client (what the
handshake negotiated) and with curl/ftplib transfers (that the server still
serves files with that setting).

* TLSNextProtocol on/off: ALPN "ftp" acknowledged or not; lists without
  "ftp" are refused (test_alpaca.py has the rest);
* TLSSessionTickets on/off: TLS 1.2 tickets issued or not; with off, data
  connections still resume (TLS 1.2 and 1.3) but a new control connection
  cannot resume an earlier session;
* TLSDHParamFile: the DHE group comes from the file (the first set of at
  least 2048 bits of a file with several), Debian's dhparams.pem;
* TLSOptions AllowWeakDH: a 1024-bit file is used (its refusal without the
  option is a row of test_startup.py);
* TLSECDHCurve: the key exchange group, refusal of clients without it;
* TLSServerCipherPreference on (default) / off: whose cipher order wins;
* TLSOptions EnableDiags: handshake steps and alerts in TLSLog;
* TLSOptions AllowClientRenegotiations: TLS 1.2 client renegotiation
  refused (with a reason in TLSLog) or accepted;
* TLSOptions AllowWeakSecurity: a 1024-bit RSA certificate or a SHA-1
  signed one stops the startup without it (the line names directive, file,
  reason and the option) and works with it;
* TLSProtocol TLSv1 TLSv1.1: a warning; what TLS 1.0/1.1 clients get.

Extra fixtures (weak keys, DH groups) are made here with the openssl CLI,
cached under tmp_root()/features.
"""

import os
import re
import shutil
import subprocess
import threading
import time

import ftpsd
from clients import describe, ftps, close_quietly, retr_bytes, s_client
from ftpsd import sha256_file

RSA_TLS = {"TLSRSACertificateFile": "@rsa.crt",
           "TLSRSACertificateKeyFile": "@rsa.key"}
DHE = "DHE-RSA-AES128-GCM-SHA256"


# -- fixtures ----------------------------------------------------------------

_fix = {}


def _openssl(*args):
    p = subprocess.run(["openssl"] + list(args), capture_output=True,
                       text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr))


def _cat(out, *paths):
    with open(out, "w") as f:
        for p in paths:
            with open(p) as inp:
                f.write(inp.read())


def fixtures():
    """Directory of this file's extra fixtures (made once, then cached):
    rsa1024.crt/.key (self-signed 1024-bit RSA), sha1.crt/.key and
    ecsha1.crt/.key (RSA 2048 and EC P-256 leaves signed with SHA-1 by
    weakca.crt), dh3072.pem, dh4096.pem and
    dh-multi.pem (1024, 3072, 4096 bits, in that order)."""
    if "dir" in _fix:
        return _fix["dir"]
    d = os.path.join(ftpsd.tmp_root(), "features")
    stamp = os.path.join(d, ".complete-2")
    if not os.path.exists(stamp):
        shutil.rmtree(d, ignore_errors=True)
        tmp = d + ".%d" % os.getpid()
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp, 0o755)
        old = os.umask(0o077)
        try:
            j = lambda n: os.path.join(tmp, n)  # noqa: E731
            san = "subjectAltName=DNS:localhost,IP:127.0.0.1"
            _openssl("req", "-x509", "-newkey", "rsa:1024", "-nodes",
                     "-keyout", j("rsa1024.key"), "-out", j("rsa1024.crt"),
                     "-subj", "/CN=localhost", "-days", "30", "-addext", san)
            _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes",
                     "-keyout", j("weakca.key"), "-out", j("weakca.crt"),
                     "-subj", "/CN=mod_ftps features CA", "-days", "30")
            _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes",
                     "-keyout", j("sha1.key"), "-out", j("sha1.csr"),
                     "-subj", "/CN=localhost")
            with open(j("ext.cnf"), "w") as f:
                f.write(san + "\n")
            _openssl("x509", "-req", "-in", j("sha1.csr"), "-CA",
                     j("weakca.crt"), "-CAkey", j("weakca.key"),
                     "-set_serial", "7", "-days", "30", "-sha1",
                     "-extfile", j("ext.cnf"), "-out", j("sha1.crt"))
            _openssl("req", "-new", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", j("ecsha1.key"), "-out", j("ecsha1.csr"),
                     "-subj", "/CN=localhost")
            _openssl("x509", "-req", "-in", j("ecsha1.csr"), "-CA",
                     j("weakca.crt"), "-CAkey", j("weakca.key"),
                     "-set_serial", "8", "-days", "30", "-sha1",
                     "-extfile", j("ext.cnf"), "-out", j("ecsha1.crt"))
            for bits in (3072, 4096):
                _openssl("genpkey", "-genparam", "-algorithm", "DH",
                         "-pkeyopt", "group:ffdhe%d" % bits,
                         "-out", j("dh%d.pem" % bits))
            _cat(j("dh-multi.pem"), ftpsd.cert("dh1024.pem"),
                 j("dh3072.pem"), j("dh4096.pem"))
        finally:
            os.umask(old)
        for n in os.listdir(tmp):
            if not n.endswith(".key"):
                os.chmod(os.path.join(tmp, n), 0o644)
        with open(os.path.join(tmp, os.path.basename(stamp)), "w"):
            pass
        os.rename(tmp, d)
    _fix["dir"] = d
    return d


def fx(name):
    """A fixture path: "@name" is one of mkcerts.sh's, else one of ours."""
    if name.startswith("@"):
        return ftpsd.cert(name[1:])
    return os.path.join(fixtures(), name)


def _tls(d):
    return {k: (fx(v) if isinstance(v, str) and v.startswith("@") else v)
            for k, v in d.items()}


# -- helpers -----------------------------------------------------------------

def _sc(srv, version=None, extra=(), lines=("NOOP", "QUIT")):
    """openssl s_client -starttls ftp; returns its output."""
    _, out = s_client(srv, version, lines=lines, extra=list(extra),
                      delay=0.2)
    return out


def _negotiated(out):
    """(protocol, cipher) of an s_client run, or None if no handshake."""
    m = re.search(r"^New, \S+, Cipher is (\S+)", out, re.M)
    if not m or m.group(1) == "(NONE)":
        return None
    p = re.search(r"^\s+Protocol\s*:\s*(\S+)", out, re.M)
    return (p.group(1) if p else "?"), m.group(1)


def _works(out):
    """The protected control connection answered NOOP and QUIT."""
    return re.search(r"^200 ", out, re.M) and re.search(r"^221 ", out, re.M)


def _line(out, pattern):
    m = re.search(pattern, out, re.M)
    return m.group(0) if m else None


def _messages(srv, mark):
    """TLSLog messages since mark (without date and pid)."""
    return [m for _, m in ftpsd.tls_messages(srv, mark)]


def _wait_log(srv, mark, pattern, timeout=10):
    """The first TLSLog message since mark that matches pattern, waiting
    for the session process to write it (it may log after the client
    saw the connection end); None if none came."""
    deadline = time.time() + timeout
    while True:
        for m in _messages(srv, mark):
            if re.search(pattern, m):
                return m
        if time.time() > deadline:
            return None
        time.sleep(0.05)


def _curl_get(srv, names, version=None, extra=()):
    """Download names on one curl control connection; compare them with
    the home files; returns the TLSLog messages of the session."""
    outdir = os.path.join(srv.client_dir, "dl-%d" % time.monotonic_ns())
    os.mkdir(outdir)
    mark = srv.log_mark()
    argv = ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "40",
            "--user", "%s:%s" % (srv.user, srv.password)]
    argv += {None: [], "1.2": ["--tlsv1.2", "--tls-max", "1.2"],
             "1.3": ["--tlsv1.3"],
             "1.0": ["--tlsv1.0", "--tls-max", "1.0"],
             "1.1": ["--tlsv1.1", "--tls-max", "1.1"]}[version]
    argv += list(extra)
    for n in names:
        argv += ["-o", os.path.join(outdir, n),
                 "ftp://%s:%d/%s" % (srv.host, srv.port, n)]
    p = subprocess.run(argv, capture_output=True, timeout=60)
    assert p.returncode == 0, "curl (TLS %s) RETR %s: %s" \
        % (version or "any", " ".join(names), describe(p))
    for n in names:
        got = os.path.join(outdir, n)
        assert os.path.exists(got) and \
            sha256_file(got) == sha256_file(os.path.join(srv.home, n)), \
            "curl (TLS %s): %s differs from the server's file" \
            % (version or "any", n)
    return _messages(srv, mark)


def _assert_resumed(msgs, n, what):
    data = [m for m in msgs if m.startswith("data connection protected")]
    resumed = [m for m in data if ", resumed;" in m]
    assert len(data) == n and len(resumed) == n, \
        "%s: want %d resumed data connections in TLSLog, got %d of %d:\n%s" \
        % (what, n, len(resumed), len(data), "\n".join(msgs)[-2000:])


def _files(srv, n=2, size=70000):
    names = []
    for i in range(n):
        name = "feat%d.bin" % i
        if not os.path.exists(os.path.join(srv.home, name)):
            srv.home_file(name, size=size + i)
        names.append(name)
    return names


# -- TLSNextProtocol ---------------------------------------------------------

def test_features_alpn_on_default(ctx):
    ctx.need("openssl")
    srv = ctx.server()
    for version in ("1.2", "1.3"):
        out = _sc(srv, version, ["-alpn", "ftp"])
        assert _negotiated(out) and _works(out), \
            "TLS %s, ALPN ftp: no working session:\n%s" % (version, out[-2000:])
        assert _line(out, r"^ALPN protocol: ftp$"), \
            "TLSNextProtocol on (default), TLS %s, client offers ftp: want " \
            "'ALPN protocol: ftp', got %r" % (version, _line(out, r"^.*ALPN.*$"))
        out = _sc(srv, version, ["-alpn", "http/1.1,ftp"])
        assert _line(out, r"^ALPN protocol: ftp$"), \
            "TLS %s, client offers http/1.1,ftp: want ftp selected, got %r" \
            % (version, _line(out, r"^.*ALPN.*$"))
        # another protocol only: refused (ALPACA, test_alpaca.py)
        out = _sc(srv, version, ["-alpn", "http/1.1"])
        assert not _negotiated(out) and not _works(out), \
            "TLS %s, client offering only ALPN http/1.1 was served:\n%s" \
            % (version, out[-2000:])


def test_features_alpn_off(ctx):
    ctx.need("openssl")
    srv = ctx.server(extra=["TLSNextProtocol off"])
    for version in ("1.2", "1.3"):
        out = _sc(srv, version, ["-alpn", "ftp"])
        assert _negotiated(out) and _works(out), \
            "TLSNextProtocol off, TLS %s, ALPN ftp: no working session:\n%s" \
            % (version, out[-2000:])
        assert _line(out, r"^No ALPN negotiated$"), \
            "TLSNextProtocol off, TLS %s: want no ALPN, got %r" \
            % (version, _line(out, r"^.*ALPN.*$"))


# -- TLSSessionTickets -------------------------------------------------------

def _resume_across(srv, ctx):
    """A TLS 1.2 s_client session saved from one control connection and
    offered on a new one: the second connection's 'New'/'Reused' word."""
    path = os.path.join(srv.client_dir, "sess-%d.pem" % time.monotonic_ns())
    out1 = _sc(srv, "1.2", ["-sess_out", path])
    assert _works(out1) and os.path.exists(path), \
        "first s_client -sess_out: no session:\n%s" % out1[-2000:]
    out2 = _sc(srv, "1.2", ["-sess_in", path])
    assert _works(out2), "second s_client -sess_in: no working session:\n%s" \
        % out2[-2000:]
    m = re.search(r"^(New|Reused), ", out2, re.M)
    return m.group(1) if m else None


def test_features_tickets_on_default(ctx):
    ctx.need("openssl", "curl")
    srv = ctx.server()
    out = _sc(srv, "1.2")
    assert _works(out), "TLS 1.2 s_client: no working session:\n%s" \
        % out[-2000:]
    assert _line(out, r"^\s+TLS session ticket lifetime hint: \d+") and \
        _line(out, r"^\s+TLS session ticket:$"), \
        "TLSSessionTickets on (default): TLS 1.2 client got no session " \
        "ticket:\n%s" % out[-2500:]
    # tickets are valid across the daemon's sessions
    got = _resume_across(srv, ctx)
    assert got == "Reused", "TLSSessionTickets on: a new control " \
        "connection offering the earlier ticket was %r, want Reused" % got
    names = _files(srv)
    _assert_resumed(_curl_get(srv, names, "1.2"), len(names),
                    "tickets on, curl TLS 1.2")


def test_features_tickets_off(ctx):
    ctx.need("openssl", "curl")
    srv = ctx.server(extra=["TLSSessionTickets off"])
    out = _sc(srv, "1.2")
    assert _works(out), "TLS 1.2 s_client: no working session:\n%s" \
        % out[-2000:]
    assert "TLS session ticket" not in out, \
        "TLSSessionTickets off: the TLS 1.2 client got a ticket: %r" \
        % _line(out, r"^.*TLS session ticket.*$")
    assert _line(out, r"^\s+Session-ID: [0-9A-F]{64}$"), \
        "TLSSessionTickets off: no session ID to resume by:\n%s" % out[-2500:]
    # README: a new control connection cannot resume an earlier session
    got = _resume_across(srv, ctx)
    assert got == "New", "TLSSessionTickets off: a new control connection " \
        "offering an earlier session was %r, want New" % got
    # ... but data connections still resume, and transfers work
    names = _files(srv)
    for version in ("1.2", "1.3"):
        _assert_resumed(_curl_get(srv, names, version), len(names),
                        "TLSSessionTickets off, curl TLS %s" % version)


# -- TLSDHParamFile, AllowWeakDH ---------------------------------------------

def _dh_bits(srv, cipher=DHE):
    """Bits of the DH group of a TLS 1.2 DHE handshake (None: no DHE)."""
    out = _sc(srv, "1.2", ["-cipher", cipher])
    neg = _negotiated(out)
    assert neg == ("TLSv1.2", DHE) and _works(out), \
        "TLS 1.2 client offering only %s: got %r:\n%s" \
        % (cipher, neg, out[-2000:])
    m = re.search(r"^Server Temp Key: DH, (\d+) bits", out, re.M)
    assert m, "no 'Server Temp Key: DH' line:\n%s" % out[-2000:]
    return int(m.group(1))


def _dh_server(ctx, dh_file=None, extra=()):
    tls = dict(_tls(RSA_TLS), TLSCipherSuite=DHE)
    lines = list(extra)
    if dh_file:
        lines.append("TLSDHParamFile " + dh_file)
    return ctx.server(tls=tls, extra=lines)


def test_features_dh_param_file(ctx):
    ctx.need("openssl", "curl")
    # without the directive: a group matched to the 2048-bit RSA key
    bits = _dh_bits(_dh_server(ctx))
    assert bits == 2048, "no TLSDHParamFile, RSA 2048 key: DH %d bits, " \
        "want 2048" % bits
    for name, want in (("@dh2048.pem", 2048), ("dh3072.pem", 3072),
                       # several sets: the first of at least 2048 bits,
                       # neither the first (1024) nor the largest (4096)
                       ("dh-multi.pem", 3072)):
        srv = _dh_server(ctx, fx(name))
        bits = _dh_bits(srv)
        assert bits == want, "TLSDHParamFile %s: DH %d bits, want %d" \
            % (name, bits, want)
    # the server still serves files over DHE (the last one: dh-multi.pem)
    names = _files(srv)
    _assert_resumed(_curl_get(srv, names, "1.2", ["--ciphers", DHE]),
                    len(names), "DHE, curl TLS 1.2")


def test_features_dh_param_file_debian(ctx):
    ctx.need("openssl")
    path = "/etc/proftpd/dhparams.pem"
    if not os.path.exists(path):
        raise ftpsd.Skip("%s not installed" % path)
    with open(path) as f:
        sizes = []
        for block in re.findall(r"-----BEGIN DH PARAMETERS-----.*?-----END "
                                r"DH PARAMETERS-----", f.read(), re.S):
            p = subprocess.run(["openssl", "pkeyparam", "-noout", "-text"],
                               input=block, capture_output=True, text=True,
                               timeout=30)
            m = re.search(r"\((\d+) bit\)", p.stdout)
            sizes.append(int(m.group(1)) if m else 0)
    want = next((b for b in sizes if b >= 2048), None)
    assert want, "%s: no set of at least 2048 bits: %r" % (path, sizes)
    bits = _dh_bits(_dh_server(ctx, path))
    assert bits == want, "TLSDHParamFile %s (sets of %r bits): DH %d bits, " \
        "want the first of at least 2048 (%d)" % (path, sizes, bits, want)


def test_features_allow_weak_dh(ctx):
    ctx.need("openssl", "curl")
    low = DHE + ":@SECLEVEL=1"   # the client must accept a 1024-bit group
    srv = _dh_server(ctx, fx("@dh1024.pem"), ["TLSOptions AllowWeakDH"])
    bits = _dh_bits(srv, low)
    assert bits == 1024, "TLSDHParamFile dh1024.pem with AllowWeakDH: DH " \
        "%d bits, want 1024" % bits
    names = _files(srv)
    _assert_resumed(_curl_get(srv, names, "1.2", ["--ciphers", low]),
                    len(names), "AllowWeakDH, DHE 1024, curl TLS 1.2")
    # the option admits small sets; it does not prefer them
    srv = _dh_server(ctx, fx("dh-multi.pem"), ["TLSOptions AllowWeakDH"])
    bits = _dh_bits(srv, low)
    assert bits == 3072, "dh-multi.pem (1024, 3072, 4096) with AllowWeakDH: " \
        "DH %d bits, want 3072 (the first of at least 2048)" % bits


# -- TLSECDHCurve ------------------------------------------------------------

def _temp_key(out):
    return _line(out, r"^Server Temp Key: .*$")


def test_features_ecdh_curve(ctx):
    ctx.need("openssl")
    # mod_tls's documentation spells curves the OpenSSL way (secp384r1)
    # an RSA certificate: under TLS 1.2 an ECDSA one would also need the
    # client to offer its curve (P-256), whatever the key exchange
    for name in ("P-384", "secp384r1"):
        srv = ctx.server(tls=dict(_tls(RSA_TLS), TLSECDHCurve=name))
        for version in ("1.2", "1.3"):
            out = _sc(srv, version)
            assert _negotiated(out) and _works(out), \
                "TLSECDHCurve %s, TLS %s: no working session:\n%s" \
                % (name, version, out[-2000:])
            tk = _temp_key(out)
            assert tk and re.search(r"ECDH, (secp384r1|P-384), 384 bits", tk), \
                "TLSECDHCurve %s, TLS %s: want P-384, got %r" \
                % (name, version, tk)
            out = _sc(srv, version, ["-groups", "X25519:P-384"])
            tk = _temp_key(out)
            assert tk and "384 bits" in tk, "TLSECDHCurve %s, TLS %s, " \
                "client X25519:P-384: want P-384, got %r" % (name, version, tk)
            mark = srv.log_mark()
            # only ECDHE suites: under TLS 1.2 the RSA certificate would
            # otherwise be used with DHE, which needs no group
            out = _sc(srv, version, ["-groups", "X25519"] +
                      (["-cipher", "ECDHE"] if version == "1.2" else []))
            assert not _negotiated(out), "TLSECDHCurve %s, TLS %s: a client " \
                "offering only X25519 got a session: %r" \
                % (name, version, _temp_key(out))
            why = _wait_log(srv, mark, r"handshake failed")
            assert why, "TLSECDHCurve %s, TLS %s: X25519-only client refused " \
                "but TLSLog says nothing:\n%s" \
                % (name, version, "\n".join(_messages(srv, mark)))


def test_features_default_groups_refuse_large_ffdhe(ctx):
    """Without TLSECDHCurve, a TLS 1.3 client cannot make the server do an
    ffdhe4096/6144/8192 key exchange (far dearer than X25519, for nothing
    an FTPS session needs); ffdhe2048/3072 and the elliptic curves still
    work, and TLSECDHCurve can name a large group when the admin wants it."""
    ctx.need("openssl")
    srv = ctx.server()
    for group, want in (("X25519", "X25519"), ("P-256", "256 bits"),
                        ("X448", "X448"), ("P-521", "521 bits"),
                        ("ffdhe2048", "2048 bits"),
                        ("ffdhe3072", "3072 bits")):
        out = _sc(srv, "1.3", ["-groups", group])
        tk = _temp_key(out)
        assert _negotiated(out) and _works(out) and tk and want in tk, \
            "default groups, client offers only %s: want a session with " \
            "%s, got %r:\n%s" % (group, want, tk, out[-1500:])
    for group in ("ffdhe4096", "ffdhe6144", "ffdhe8192"):
        mark = srv.log_mark()
        out = _sc(srv, "1.3", ["-groups", group])
        assert not _negotiated(out), "default groups: a client offering " \
            "only %s got a session (%r)" % (group, _temp_key(out))
        assert _wait_log(srv, mark, r"handshake failed"), \
            "%s refused but TLSLog says nothing:\n%s" \
            % (group, "\n".join(_messages(srv, mark)))
    # a client offering both gets a cheap group, not the large one
    out = _sc(srv, "1.3", ["-groups", "ffdhe8192:ffdhe2048"])
    assert "2048 bits" in (_temp_key(out) or ""), \
        "client offers ffdhe8192:ffdhe2048: want ffdhe2048, got %r" \
        % _temp_key(out)
    srv = ctx.server(tls={"TLSECDHCurve": "X25519:ffdhe8192"})
    out = _sc(srv, "1.3", ["-groups", "ffdhe8192"])
    assert _negotiated(out) and "8192 bits" in (_temp_key(out) or ""), \
        "TLSECDHCurve X25519:ffdhe8192 names the group, but a client " \
        "offering it got %r:\n%s" % (_temp_key(out), out[-1500:])



# -- TLSServerCipherPreference -----------------------------------------------

C128 = "ECDHE-ECDSA-AES128-GCM-SHA256"
C256 = "ECDHE-ECDSA-AES256-GCM-SHA384"
CCHA = "ECDHE-ECDSA-CHACHA20-POLY1305"
S128, S256, SCHA = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                    "TLS_CHACHA20_POLY1305_SHA256")
# (client's list in its order, server's pick, client's pick); the server's
# default order is AES128, AES256, ChaCha20 (TLS 1.2 and 1.3 alike)
PREF_12 = [((CCHA, C256, C128), C128, CCHA), ((C256, CCHA), C256, C256),
           ((CCHA, C256), C256, CCHA)]
PREF_13 = [((SCHA, S256, S128), S128, SCHA), ((SCHA, S256), S256, SCHA)]


def _pref(ctx, srv, server_wins, what):
    for version, rows, opt in (("1.2", PREF_12, "-cipher"),
                               ("1.3", PREF_13, "-ciphersuites")):
        for client, by_server, by_client in rows:
            out = _sc(srv, version, [opt, ":".join(client)])
            neg = _negotiated(out)
            want = by_server if server_wins else by_client
            assert neg and neg[1] == want, \
                "%s, TLS %s, client order %s: negotiated %r, want %s (the " \
                "%s's choice)" % (what, version, ":".join(client), neg, want,
                                  "server" if server_wins else "client")


def test_features_server_cipher_preference_default(ctx):
    ctx.need("openssl")
    _pref(ctx, ctx.server(), True, "TLSServerCipherPreference default (on)")
    _pref(ctx, ctx.server(tls={"TLSServerCipherPreference": "on"}), True,
          "TLSServerCipherPreference on")


def test_features_server_cipher_preference_off(ctx):
    ctx.need("openssl")
    srv = ctx.server(tls={"TLSServerCipherPreference": "off"})
    _pref(ctx, srv, False, "TLSServerCipherPreference off")


# -- TLSOptions EnableDiags --------------------------------------------------

def _diag_session(ctx, srv):
    """A session with a transfer (control + resumed data handshakes) and a
    refused handshake; returns the TLSLog messages they caused."""
    mark = srv.log_mark()
    data = os.urandom(20000)
    srv.home_file("diag.bin", data)
    f = ftps(srv, version="1.3")
    try:
        assert retr_bytes(f, "diag.bin") == data, "RETR diag.bin differs"
    finally:
        close_quietly(f)
    out = _sc(srv, "1.2", ["-cipher", "AES128-SHA"])   # no shared cipher
    assert not _negotiated(out), "a client offering only AES128-SHA got a " \
        "session:\n%s" % out[-2000:]
    assert _wait_log(srv, mark, r"handshake failed: no shared cipher"), \
        "refused handshake not in TLSLog:\n%s" % "\n".join(_messages(srv, mark))
    _wait_log(srv, mark, r"diags: .*alert fatal", timeout=1)
    return _messages(srv, mark)


def test_features_enable_diags(ctx):
    ctx.need("openssl")
    srv = ctx.server(extra=["TLSOptions EnableDiags"])
    msgs = _diag_session(ctx, srv)
    text = "\n".join(msgs)[-4000:]
    for what, pattern in (
            ("a handshake start", r"^diags: server handshake started$"),
            ("a handshake step", r"^diags: server SSLv3/TLS read client hello"),
            ("the control handshake's end",
             r"^diags: server handshake done: TLSv1\.3, \S+$"),
            ("the data handshake's end (resumed)",
             r"^diags: server handshake done: TLSv1\.3, \S+, resumed$"),
            ("the fatal alert of the refused handshake",
             r"^diags: sent alert fatal: handshake failure$"),
            ("a close_notify alert", r"^diags: (sent|received) alert "
             r"warning: close notify$")):
        assert any(re.search(pattern, m) for m in msgs), \
            "TLSOptions EnableDiags: TLSLog lacks %s (/%s/):\n%s" \
            % (what, pattern, text)


def test_features_no_diags_by_default(ctx):
    ctx.need("openssl")
    srv = ctx.server()
    msgs = _diag_session(ctx, srv)
    assert any(m.startswith("control connection protected") for m in msgs), \
        "TLSLog has no 'control connection protected' line:\n%s" \
        % "\n".join(msgs)
    diags = [m for m in msgs if m.startswith("diags:")]
    assert not diags, "without EnableDiags, TLSLog has diagnostics: %r" \
        % diags[:5]


# -- TLSOptions AllowClientRenegotiations ------------------------------------

class Interactive:
    """openssl s_client -starttls ftp -tls1_2 -state, driven line by line:
    without -ign_eof, so that a line "R" renegotiates (and no line may
    start with Q or R otherwise)."""

    def __init__(self, srv, extra=()):
        argv = ["openssl", "s_client", "-starttls", "ftp", "-crlf",
                "-connect", "%s:%d" % (srv.host, srv.port),
                "-servername", "localhost", "-tls1_2", "-state"]
        argv += list(extra)
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        self.buf = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            chunk = self.p.stdout.read1(65536)
            if not chunk:
                return
            with self.lock:
                self.buf += chunk

    def text(self):
        with self.lock:
            return self.buf.decode(errors="replace")

    def wait(self, pattern, timeout=10):
        """True once the output matches pattern; False if it did not
        within timeout or s_client ended without it."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if re.search(pattern, self.text(), re.M):
                return True
            if self.p.poll() is not None and not self.reader.is_alive():
                return bool(re.search(pattern, self.text(), re.M))
            time.sleep(0.05)
        return False

    def send(self, line):
        try:
            self.p.stdin.write((line + "\n").encode())
            self.p.stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            return False

    def close(self):
        try:
            self.p.stdin.close()
        except (BrokenPipeError, ValueError):
            pass
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)
        self.reader.join(timeout=5)


def _login_then_renegotiate(srv):
    """Log in over TLS 1.2, renegotiate ("R"), then NOOP; returns
    (s_client output, renegotiation answered by the server, NOOP got 200)."""
    c = Interactive(srv)
    try:
        assert c.wait(r"^New, TLSv1\.2, Cipher is [^(]"), \
            "s_client: no TLS 1.2 session:\n%s" % c.text()[-2000:]
        for line, code in (("USER " + srv.user, 331),
                           ("PASS " + srv.password, 230)):
            c.send(line)
            assert c.wait(r"^%d " % code), "%s: no %d:\n%s" \
                % (line.split()[0], code, c.text()[-2000:])
        hellos = len(re.findall(r"read server hello", c.text()))
        c.send("R")
        assert c.wait(r"^RENEGOTIATING"), \
            "s_client did not start renegotiating:\n%s" % c.text()[-2000:]
        # the renegotiation ends either way: a new server hello and
        # finished, or an alert / the end of the connection
        c.send("NOOP")
        c.wait(r"^200 |alert|error", timeout=10)
        noop = c.wait(r"^200 ", timeout=1)
        answered = len(re.findall(r"read server hello", c.text())) > hellos
        return c.text(), answered, noop
    finally:
        c.close()


def test_features_client_renegotiation_refused(ctx):
    ctx.need("openssl")
    srv = ctx.server()
    mark = srv.log_mark()
    out, answered, noop = _login_then_renegotiate(srv)
    after = out[out.find("RENEGOTIATING"):]
    assert not answered and not noop, "default (no AllowClientRenegotiations)" \
        ": the client's renegotiation was %s and NOOP %s:\n%s" \
        % ("answered" if answered else "not answered",
           "got 200" if noop else "failed", after[-2000:])
    assert re.search(r"(?i)no renegotiation", after), \
        "the client was not told no_renegotiation:\n%s" % after[-2000:]
    why = _wait_log(srv, mark, r"(?i)control connection: .*renegotiat")
    assert why, "TLSLog does not say that a renegotiation was refused:\n%s" \
        % "\n".join(_messages(srv, mark))
    assert srv.running(), "proftpd died"


def test_features_client_renegotiation_allowed(ctx):
    ctx.need("openssl")
    srv = ctx.server(extra=["TLSOptions AllowClientRenegotiations"])
    out, answered, noop = _login_then_renegotiate(srv)
    after = out[out.find("RENEGOTIATING"):]
    assert answered, "AllowClientRenegotiations: no second server hello " \
        "after R:\n%s" % after[-2000:]
    assert noop, "AllowClientRenegotiations: NOOP after the renegotiation " \
        "got no 200:\n%s" % after[-2000:]
    assert not re.search(r"(?i)alert (read|write):fatal", after), \
        "AllowClientRenegotiations: a fatal alert:\n%s" % after[-2000:]


# -- TLSOptions AllowWeakSecurity --------------------------------------------

WEAK_ROWS = [
    # certificate directive, certificate, key, reason OpenSSL gives
    ("TLSRSACertificateFile", "rsa1024.crt", "rsa1024.key",
     r"ee key too small"),
    ("TLSRSACertificateFile", "sha1.crt", "sha1.key", r"ca md too weak"),
    ("TLSECCertificateFile", "ecsha1.crt", "ecsha1.key", r"ca md too weak"),
]
KEY_DIRECTIVE = {"TLSRSACertificateFile": "TLSRSACertificateKeyFile",
                 "TLSECCertificateFile": "TLSECCertificateKeyFile"}


def _weak_tls(directive, crt, key):
    return {"TLSRSACertificateFile": None, directive: fx(crt),
            KEY_DIRECTIVE[directive]: fx(key)}


def _weak_refused(ctx, directive, crt, key, reason, extra=()):
    srv = ctx.server(tls=_weak_tls(directive, crt, key), start=False,
                     shared=False, extra=list(extra))
    rc, out = srv.check()
    line = next((l for l in out.splitlines()
                 if directive in l and fx(crt) in l
                 and re.search(reason, l)), None)
    assert rc != 0 and line, "%s without AllowWeakSecurity: want proftpd -t " \
        "to fail with a line naming %s, %s and /%s/ (rc %d):\n%s" \
        % (crt, directive, fx(crt), reason, rc, out[-2000:])
    assert "AllowWeakSecurity" in line, "the refusal of %s does not say " \
        "that TLSOptions AllowWeakSecurity allows it: %r" % (crt, line)
    try:
        srv.start()
    except RuntimeError:
        return
    raise AssertionError("%s without AllowWeakSecurity: the daemon started"
                         % crt)


def _weak_works(ctx, directive, crt, key):
    srv = ctx.server(tls=_weak_tls(directive, crt, key),
                     extra=["TLSOptions AllowWeakSecurity"])
    # the client must accept the weak certificate too (its level 0)
    out = _sc(srv, "1.2", ["-cipher", "DEFAULT:@SECLEVEL=0"])
    assert _negotiated(out) and _works(out), \
        "%s with AllowWeakSecurity: no working TLS 1.2 session:\n%s" \
        % (crt, out[-2000:])
    names = _files(srv)
    for version in ("1.2", "1.3"):
        _assert_resumed(_curl_get(srv, names, version,
                                  ["--ciphers", "DEFAULT:@SECLEVEL=0"]),
                        len(names), "%s, AllowWeakSecurity, curl TLS %s"
                        % (crt, version))


def test_features_weak_cert_refused(ctx):
    for directive, crt, key, reason in WEAK_ROWS:
        _weak_refused(ctx, directive, crt, key, reason)


def test_features_weak_dh_is_not_weak_security(ctx):
    """AllowWeakDH lets small DH groups through and nothing else: weak
    certificates are still refused."""
    for directive, crt, key, reason in WEAK_ROWS:
        _weak_refused(ctx, directive, crt, key, reason,
                      extra=["TLSOptions AllowWeakDH"])


def test_features_weak_cert_allowed(ctx):
    ctx.need("openssl", "curl")
    for directive, crt, key, _ in WEAK_ROWS:
        _weak_works(ctx, directive, crt, key)


# -- TLSProtocol TLSv1 TLSv1.1 -----------------------------------------------

OLD = "TLSv1 TLSv1.1 TLSv1.2 TLSv1.3"
MOD_TLS_CIPHERS = "DEFAULT:!ADH:!EXPORT:!DES"


def _old_refused(ctx, srv, reason, what):
    for version in ("1.0", "1.1"):
        mark = srv.log_mark()
        out = _sc(srv, version)
        assert not _negotiated(out), "%s: a TLS %s client got a session: %r" \
            % (what, version, _negotiated(out))
        why = _wait_log(srv, mark, r"handshake failed: .*" + reason)
        assert why, "%s: TLS %s client refused, but TLSLog does not say " \
            "/%s/:\n%s" % (what, version, reason,
                           "\n".join(_messages(srv, mark)))


def test_features_protocol_tls1_default_refused(ctx):
    """README troubleshooting: a TLS 1.0 client gets 'unsupported protocol'."""
    ctx.need("openssl")
    _old_refused(ctx, ctx.server(), r"unsupported protocol", "default")
    # AllowWeakSecurity alone does not enable the protocols
    _old_refused(ctx, ctx.server(extra=["TLSOptions AllowWeakSecurity"]),
                 r"unsupported protocol", "AllowWeakSecurity, no TLSProtocol")


def test_features_protocol_tls1_warning(ctx):
    srv = ctx.server(tls={"TLSProtocol": OLD}, start=False, shared=False)
    rc, out = srv.check()
    assert rc == 0, "TLSProtocol %s: proftpd -t failed:\n%s" % (OLD, out)
    assert re.search(r"TLSProtocol.*TLSv1.*(?i:obsolete|insecure)", out), \
        "TLSProtocol %s: no warning:\n%s" % (OLD, out[-2000:])
    srv = ctx.server(tls={"TLSProtocol": "TLSv1.2 TLSv1.3"}, start=False,
                     shared=False)
    rc, out = srv.check()
    assert rc == 0 and "TLSv1 and" not in out, \
        "TLSProtocol TLSv1.2 TLSv1.3 warns about TLSv1:\n%s" % out[-2000:]


def test_features_protocol_tls1_needs_weak_security(ctx):
    """Named, TLS 1.0/1.1 are still refused: the default ciphers are TLS 1.2
    AEAD suites, and OpenSSL's security level forbids their SHA-1/MD5
    signatures; mod_tls's cipher list plus AllowWeakSecurity lets them in."""
    ctx.need("openssl")
    _old_refused(ctx, ctx.server(tls={"TLSProtocol": OLD}),
                 r"no shared cipher", "TLSProtocol " + OLD)
    _old_refused(ctx, ctx.server(tls={"TLSProtocol": OLD},
                                 extra=["TLSOptions AllowWeakSecurity"]),
                 r"no shared cipher", "TLSProtocol, AllowWeakSecurity")
    _old_refused(ctx, ctx.server(tls={"TLSProtocol": OLD,
                                      "TLSCipherSuite": MOD_TLS_CIPHERS}),
                 r"no suitable signature algorithm",
                 "TLSProtocol, mod_tls's ciphers, no AllowWeakSecurity")


def test_features_protocol_tls1_allowed(ctx):
    ctx.need("openssl", "curl")
    srv = ctx.server(tls={"TLSProtocol": OLD,
                          "TLSCipherSuite": MOD_TLS_CIPHERS},
                     extra=["TLSOptions AllowWeakSecurity"])
    names = _files(srv)
    for version, proto in (("1.0", "TLSv1"), ("1.1", "TLSv1.1")):
        out = _sc(srv, version)
        neg = _negotiated(out)
        assert neg and neg[0] == proto and _works(out), \
            "TLSProtocol %s, %s, AllowWeakSecurity: TLS %s client got %r:\n%s" \
            % (OLD, MOD_TLS_CIPHERS, version, neg, out[-2000:])
        msgs = _curl_get(srv, names, version,
                         ["--ciphers", "DEFAULT:@SECLEVEL=0"])
        assert any(m.startswith("control connection protected: %s," % proto)
                   for m in msgs), "curl TLS %s: TLSLog shows no %s control " \
            "connection:\n%s" % (version, proto, "\n".join(msgs))
        _assert_resumed(msgs, len(names), "curl TLS %s" % version)
    # TLS 1.2 clients still get TLS 1.2 with an AEAD cipher
    out = _sc(srv, "1.2")
    neg = _negotiated(out)
    assert neg and neg[0] == "TLSv1.2", "TLS 1.2 client got %r" % (neg,)
