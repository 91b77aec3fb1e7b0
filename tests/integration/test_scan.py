"""TLS scan (issue 13): sslscan (Debian's sslscan 2.0.7, --xml) against the
default configuration, explicit (--starttls-ftp) and implicit (TLSOptions
UseImplicitSSL: TLS from the first byte).  The policy: only TLS 1.2 and
TLS 1.3 are enabled, and every suite offered is an AEAD suite with forward
secrecy (TLS 1.3's, or ECDHE/DHE with AES-GCM, AES-CCM or
ChaCha20-Poly1305 under TLS 1.2); no Heartbleed, no insecure
renegotiation.  The scan must have found suites of both versions, so an
empty or failed scan does not pass.  A last test scans a configuration
that relaxes the cipher list to mod_tls's default and checks that the
policy flags it (the check is not vacuous)."""

import re
import subprocess
import xml.etree.ElementTree as ET

IMPLICIT = {"TLSOptions": "UseImplicitSSL"}
MOD_TLS_CIPHERS = {"TLSCipherSuite": "DEFAULT:!ADH:!EXPORT:!DES"}
VERSIONS = {("tls", "1.2"): "TLSv1.2", ("tls", "1.3"): "TLSv1.3"}
# RFC 8446 appendix B.4: every TLS 1.3 suite is AEAD, and its key exchange
# is (EC)DHE unless PSK-only, which a scanner's full handshake is not.
TLS13_SUITES = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                "TLS_AES_128_CCM_8_SHA256"}
# TLS 1.2: ephemeral (EC)DH key exchange (forward secrecy, RFC 5246 F.1.1.3)
# with an AEAD cipher (RFC 5288, 6655, 7905) in OpenSSL's names.
TLS12_AEAD_PFS = re.compile(
    r"^(ECDHE|DHE)-(RSA|ECDSA)-"
    r"(AES(128|256)-GCM-SHA(256|384)|AES(128|256)-CCM8?|CHACHA20-POLY1305)$")


def sslscan(srv, starttls):
    """sslscan's --xml report of srv (an ElementTree root)."""
    argv = ["sslscan", "--no-colour", "--xml=-"]
    if starttls:
        argv.append("--starttls-ftp")
    argv.append("%s:%d" % (srv.host, srv.port))
    p = subprocess.run(argv, capture_output=True, text=True, timeout=180)
    text = p.stdout
    start = text.find("<?xml")
    assert start >= 0, "sslscan printed no XML (rc=%s):\n%s\n%s" \
        % (p.returncode, text[-2000:], p.stderr[-2000:])
    return ET.fromstring(text[start:])


def violations(root):
    """What the report shows against the policy, as readable lines, and the
    suites seen per version."""
    bad, seen = [], {"TLSv1.2": [], "TLSv1.3": []}
    for e in root.iter("error"):
        bad.append("sslscan error: %s" % (e.text or "").strip())
    for p in root.iter("protocol"):
        key = (p.get("type"), p.get("version"))
        if p.get("enabled") == "1" and key not in VERSIONS:
            bad.append("protocol enabled: %s %s" % key)
    for c in root.iter("cipher"):
        ver, name = c.get("sslversion"), c.get("cipher")
        if ver not in seen:
            bad.append("suite under %s: %s" % (ver, name))
            continue
        seen[ver].append(name)
        ok = (name in TLS13_SUITES if ver == "TLSv1.3"
              else bool(TLS12_AEAD_PFS.match(name)))
        if not ok:
            bad.append("not AEAD with forward secrecy: %s %s" % (ver, name))
    for h in root.iter("heartbleed"):
        if h.get("vulnerable") != "0":
            bad.append("heartbleed: %s" % h.get("sslversion"))
    for r in root.iter("renegotiation"):
        if r.get("supported") == "1" and r.get("secure") != "1":
            bad.append("insecure renegotiation")
    return bad, seen


def _scan(ctx, tls, starttls):
    ctx.need("sslscan")
    srv = ctx.server(tls)
    root = sslscan(srv, starttls)
    bad, seen = violations(root)
    summary = "; ".join("%s: %s" % (v, " ".join(s) or "none")
                        for v, s in sorted(seen.items()))
    return bad, seen, summary


def _policy_holds(ctx, tls, starttls):
    bad, seen, summary = _scan(ctx, tls, starttls)
    assert not bad, "outside the policy:\n  %s\n(offered: %s)" \
        % ("\n  ".join(bad), summary)
    for v in ("TLSv1.2", "TLSv1.3"):
        assert seen[v], "the scan found no %s suite (offered: %s)" \
            % (v, summary)


def test_scan_explicit_default(ctx):
    _policy_holds(ctx, None, starttls=True)


def test_scan_implicit_default(ctx):
    _policy_holds(ctx, IMPLICIT, starttls=False)


def test_scan_flags_relaxed_ciphers(ctx):
    """mod_tls's default list (CBC and SHA-1 suites) must be flagged: the
    same scan and policy do see a suite outside it."""
    bad, seen, summary = _scan(ctx, MOD_TLS_CIPHERS, starttls=True)
    assert seen["TLSv1.2"], "the scan found no TLS 1.2 suite (%s)" % summary
    flagged = [b for b in bad if b.startswith("not AEAD")]
    assert flagged, "nothing flagged, offered: %s" % summary
    assert all("TLSv1.2" in b for b in flagged), flagged

