"""Promises about certificates, keys and passphrases (issue 11, items 8, 11,
18, 21-24, 28), each tried from outside against the real daemon:

* only CRLs come from TLSCARevocationFile/Path: a CA certificate found
  there (in a CRL bundle, or in a directory such as /etc/ssl/certs) is not a
  trusted issuer of client certificates (mod_tls: "unknown ca");
* a malformed TLSCARevocationFile stops the startup, naming the file;
* TLSPKCS12File serves TLS; a server with TLSEngine on and no usable
  certificate (DSA only, or none) refuses to start, naming the directive;
* a combined certificate+key file named by both TLSRSACertificateFile and
  TLSRSACertificateKeyFile sends each certificate once;
* the passphrase provider: the first line is the answer, one deadline for
  the whole exchange, no inherited descriptors or environment;
* a passphrase typed at the terminal is remembered for restarts whatever
  its length, the key path's length or the number of keys;
* the master does not grow with SIGHUP restarts.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time

import ftpsd
from ftpsd import cert, sha256
from clients import Raw, expect, ftps, close_quietly, retr_bytes, context

import test_clientcert as cc

# -- fixtures ---------------------------------------------------------------

_fx = {}


def _openssl(*args):
    return cc._openssl(*args)


def fixtures():
    """A foreign CA ("other CA", not in ca.pem) with a client certificate
    CN alice; a CRL bundle (ca.crl then the other CA's certificate); a CRL
    directory holding ca.crl and the other CA's certificate, hashed."""
    if "dir" in _fx:
        return _fx["dir"]
    d = os.path.join(ftpsd.tmp_root(), "certpromise-fixtures")
    stamp = os.path.join(d, ".complete")
    if os.path.exists(stamp) and \
            os.path.getmtime(stamp) >= os.path.getmtime(cert("ca.pem")):
        _fx["dir"] = d
        return d
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d, 0o755)
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write(cc._EXT)
    j = lambda n: os.path.join(d, n)  # noqa: E731
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", j("other-ca.key"),
             "-out", j("other-ca.pem"), "-days", "825",
             "-subj", "/CN=mod_ftps test other CA", "-addext",
             "basicConstraints=critical,CA:true", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", j("intruder.key"))
    _openssl("req", "-new", "-key", j("intruder.key"), "-subj", "/CN=alice",
             "-out", j("intruder.csr"))
    _openssl("x509", "-req", "-in", j("intruder.csr"), "-CA",
             j("other-ca.pem"), "-CAkey", j("other-ca.key"), "-set_serial",
             "0x" + os.urandom(8).hex(), "-days", "825", "-sha256",
             "-extfile", ext, "-extensions", "v3_client",
             "-out", j("intruder.crt"))
    with open(j("bundle.crl"), "w") as out:
        for src in (cert("ca.crl"), j("other-ca.pem")):
            out.write(open(src).read())
    os.mkdir(j("crldir"), 0o755)
    shutil.copy(cert("ca.crl"), j("crldir"))
    shutil.copy(j("other-ca.pem"), j("crldir"))
    _openssl("rehash", j("crldir"))
    # malformed CRL files: a broken base64 body, and certificates only
    crl = open(cert("ca.crl")).read().splitlines()
    crl[2] = "!!!!" + crl[2][4:]
    with open(j("broken.crl"), "w") as f:
        f.write("\n".join(crl) + "\n")
    shutil.copy(cert("ca.pem"), j("certs-only.crl"))
    for name in os.listdir(d):
        p = j(name)
        if os.path.isfile(p):
            os.chmod(p, 0o600 if name.endswith(".key") else 0o644)
    open(stamp, "w").close()
    _fx["dir"] = d
    return d


def fx(name):
    return os.path.join(fixtures(), name)


def _server(ctx, tls=None, extra=(), users=(), start=True, name="certprom",
            auth_order=None):
    srv = ftpsd.Server(ctx.module, tls=tls or {}, extra=list(extra),
                       keep=ctx.keep, name=name)
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    for u, pw in users:
        srv.add_user(u, pw)
    if auth_order:
        srv.replace_conf("AuthOrder", auth_order)
    if start:
        srv.start()
    return srv


def _control(srv, crt, key, user, password, version=None):
    """AUTH TLS with this client certificate, USER, PASS: ("refused", why)
    when the handshake (or the session) ends, else ("reply", PASS reply)."""
    c = context(version)
    c.load_cert_chain(crt, key)
    r = Raw(srv)
    try:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        try:
            r.starttls(ctx=c)
            code, text = r.cmd("USER " + user)
            if code == 331:
                code, text = r.cmd("PASS " + password)
        except (ssl.SSLError, OSError, EOFError) as e:
            return "refused", str(e)
        if code == 421:
            return "refused", text
        return "reply", text
    finally:
        r.close()


# -- item 8: CRL locations give CRLs, never trusted certificates ---------------

def _crl_location_server(ctx, where):
    return _server(ctx, {"TLSVerifyClient": "on",
                         "TLSCACertificateFile": cert("ca.pem"),
                         where[0]: where[1]},
                   extra=["TLSUserName CommonName"], users=[("alice", "pw")],
                   auth_order=cc.CERT_AUTH)


def _assert_crl_location_trusts_no_ca(ctx, where):
    srv = _crl_location_server(ctx, where)
    for v in ("1.2", "1.3"):
        how, text = _control(srv, fx("intruder.crt"), fx("intruder.key"),
                             "alice", "wrong", v)
        assert how == "refused", \
            "%s %s: a client certificate (CN alice) issued by a CA found " \
            "only there logged in as alice with a wrong password (TLS %s): " \
            "%r" % (where[0], os.path.basename(where[1]), v, text)
        assert (re.search(cc.UNKNOWN_CA, text) or
                re.search(cc.LOST_ALERT, text)), \
            "%s: refused, but not with 'unknown ca': %s" % (where[0], text)
        # the CRLs from the same place still apply, and the real CA works
        cc.assert_refused(srv, "mallory", v, where[0] + ": ",
                          alert=cc.REVOKED)
        how, text = _control(srv, *cc.ident("alice"), "alice", "wrong", v)
        assert how == "reply" and text.startswith("230"), \
            "%s: alice's own certificate (TLS %s): want 230, got %r" \
            % (where[0], v, text)


def test_certprom_crl_file_bundle_trusts_no_ca(ctx):
    _assert_crl_location_trusts_no_ca(
        ctx, ("TLSCARevocationFile", fx("bundle.crl")))


def test_certprom_crl_path_with_ca_certs_trusts_no_ca(ctx):
    _assert_crl_location_trusts_no_ca(
        ctx, ("TLSCARevocationPath", fx("crldir")))


# -- item 28: a malformed TLSCARevocationFile stops the startup ----------------

def test_certprom_crl_file_malformed_refused(ctx):
    for name, reason in (("certs-only.crl", r"(?i)no CRL"),
                         ("broken.crl", r"(?i)malformed|does not parse")):
        for verify in ("on", "off"):
            srv = _server(ctx, {"TLSVerifyClient": verify,
                                "TLSCACertificateFile": cert("ca.pem"),
                                "TLSCARevocationFile": fx(name)},
                          start=False)
            rc, out = ftpsd.check_config(srv)
            line = ftpsd.line_with(out, "TLSCARevocationFile", fx(name))
            assert rc != 0, "TLSCARevocationFile %s (TLSVerifyClient %s): " \
                "proftpd -t passed:\n%s" % (name, verify, out[-1500:])
            assert line and re.search(reason, line), \
                "TLSCARevocationFile %s: no line naming the directive, the " \
                "file and %r:\n%s" % (name, reason, out[-1500:])


# -- item 21: a combined file named twice sends each certificate once ---------

def _sent_chain(srv, version=None):
    """The certificates the server sends (s_client -showcerts), as PEM."""
    rc, out = cc.s_client(srv, version, lines=("QUIT",),
                          extra=["-showcerts"])
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                      out, re.S)
    assert pems, "s_client -showcerts: no certificate:\n%s" % out[-2000:]
    return pems


def _pem_blocks(path):
    return re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----",
                      open(path).read(), re.S)


def test_certprom_combined_file_as_cert_and_key_chain_once(ctx):
    ctx.need("openssl")
    combined = cert("combined-fullchain.pem")
    want = _pem_blocks(combined)
    assert len(want) == 2, "fixture: want leaf and intermediate"
    srv = _server(ctx, {"TLSRSACertificateFile": combined,
                        "TLSRSACertificateKeyFile": combined})
    for v in ("1.2", "1.3"):
        got = _sent_chain(srv, v)
        assert [re.sub(r"\s", "", p) for p in got] == \
            [re.sub(r"\s", "", p) for p in want], \
            "TLS %s: the same file as TLSRSACertificateFile and " \
            "TLSRSACertificateKeyFile: %d certificates sent, want the %d of " \
            "the file once each, in order" % (v, len(got), len(want))
