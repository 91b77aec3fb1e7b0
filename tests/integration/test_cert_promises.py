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
import ssl
import subprocess
import time

import ftpsd
from ftpsd import cert
from clients import Raw, expect, context

import test_clientcert as cc
from test_passphrase import _serves

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
    # PKCS#12: rsa.crt/rsa.key with an empty password (as mod_tls's users
    # make them) and with one; a DSA certificate
    for name, pw in (("server.p12", ""), ("server-pw.p12", "p12-secret")):
        _openssl("pkcs12", "-export", "-in", cert("rsa.crt"), "-inkey",
                 cert("rsa.key"), "-passout", "pass:" + pw, "-out", j(name))
    _openssl("genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt",
             "dsa_paramgen_bits:2048", "-out", j("dsa-params.pem"))
    _openssl("genpkey", "-paramfile", j("dsa-params.pem"), "-out",
             j("dsa.key"))
    _openssl("req", "-x509", "-key", j("dsa.key"), "-subj", "/CN=localhost",
             "-days", "825", "-out", j("dsa.crt"))
    for name in os.listdir(d):
        p = j(name)
        if os.path.isfile(p):
            os.chmod(p, 0o600 if name.endswith((".key", ".p12")) else 0o644)
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
        # a certificate login is settled at USER (232, RFC 2228)
        assert how == "reply" and text[:3] in ("230", "232"), \
            "%s: alice's own certificate (TLS %s): want a login, got %r" \
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


# -- items 22, 24: the passphrase provider ------------------------------------

def _provider(srv, name, body):
    """An executable provider script in the server's directory; body is
    shell, with $OUT naming a per-script directory for what it records."""
    out = os.path.join(srv.dir, name + ".out")
    os.makedirs(out, 0o755, exist_ok=True)
    path = os.path.join(srv.dir, name + ".sh")
    with open(path, "w") as f:
        f.write("#!/bin/sh\nOUT=%s\n%s\n" % (out, body))
    os.chmod(path, 0o755)
    return path, out


def _provider_server(ctx, name, body):
    srv = _server(ctx, {"TLSRSACertificateFile": None,
                        "TLSECCertificateFile": cert("ec.crt"),
                        "TLSECCertificateKeyFile": cert("encrypted.key")},
                  start=False, name="provider")
    path, out = _provider(srv, name, body)
    srv.append_conf(["TLSPassPhraseProvider " + path])
    return srv, out


def _gone(pid):
    """The process pid no longer exists (reaped), or is a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _kill_left(pidfile):
    """Kill the provider whose pid is in pidfile if it still runs (a test
    of a daemon that failed to end it leaves nothing behind); was it?"""
    if not os.path.exists(pidfile):
        return False
    pid = int(open(pidfile).read())
    if _gone(pid):
        return False
    os.kill(pid, signal.SIGKILL)
    return True


def _wait_file(path, timeout=15):
    end = time.time() + timeout
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.1)
    return os.path.exists(path)


def test_certprom_provider_keeps_running_after_answer(ctx):
    """The first line is the answer: a provider that prints it and then
    lives on (stdout closed, or kept open) holds up neither the startup
    nor a restart, and is not left running."""
    for how, body in (
            ("closes stdout", 'echo $$ >$OUT/pid\necho secret\n'
                              'exec >&-\nexec sleep 300'),
            ("keeps stdout open", 'echo $$ >$OUT/pid\necho secret\n'
                                  'exec sleep 300')):
        srv, out = _provider_server(ctx, "lingering", body)
        try:
            srv.start(timeout=30)
        except RuntimeError as e:
            raise AssertionError("a provider that prints the passphrase and "
                                 "%s, then sleeps: the daemon did not start "
                                 "within 30 s: %s" % (how, e))
        _serves(srv)
        assert not _kill_left(os.path.join(out, "pid")), \
            "provider (%s) still running after the startup" % how
        os.unlink(os.path.join(out, "pid"))
        os.kill(srv.proc.pid, signal.SIGHUP)
        assert _wait_file(os.path.join(out, "pid")), \
            "no provider run at the restart"
        time.sleep(1)
        srv.wait_listening(srv.port)
        _serves(srv)
        srv.cleanup()


def test_certprom_provider_one_deadline(ctx):
    """A provider that dribbles bytes without ever ending its line: one
    deadline (10 s) for the whole exchange, then a refusal naming it."""
    srv, out = _provider_server(
        ctx, "dribbler", "echo $$ >$OUT/pid\n"
                         "while :; do printf x; sleep 1; done")
    t0 = time.time()
    try:
        rc, text = ftpsd.check_config(srv, timeout=60)
    except subprocess.TimeoutExpired:
        raise AssertionError("proftpd -t with a provider that never ends its "
                             "line: still waiting after 60 s")
    finally:
        alive = _kill_left(os.path.join(out, "pid"))
    assert not alive, "the provider is still running after proftpd -t"
    assert rc != 0, "proftpd -t passed:\n%s" % text[-1500:]
    assert ftpsd.line_with(text, "dribbler.sh", "TLSECCertificateKeyFile"), \
        "the refusal names neither the provider nor the directive:\n%s" \
        % text[-1500:]
    assert time.time() - t0 < 60


def test_certprom_provider_inherits_nothing(ctx):
    """The provider gets descriptors 0-2 only (no scoreboard lock, no log or
    /dev/null copies) and not the address of the passphrase area, at the
    start and at a restart."""
    srv = _server(ctx, {"TLSRSACertificateFile": None,
                        "TLSECCertificateFile": cert("ec.crt"),
                        "TLSECCertificateKeyFile": cert("encrypted.key")},
                  start=False, name="provider")
    out = os.path.join(srv.dir, "nosy.out")
    os.mkdir(out, 0o755)
    path = os.path.join(srv.dir, "nosy.py")
    with open(path, "w") as f:
        # Python closes its script before running it: every descriptor
        # above 2 that answers fstat() was inherited.
        f.write("""#!/usr/bin/python3
import os
out = %r
n = len(os.listdir(out))
fds = []
for fd in range(3, 4096):
    try:
        os.fstat(fd)
    except OSError:
        continue
    try:
        fds.append("%%d -> %%s" %% (fd, os.readlink("/proc/self/fd/%%d" %% fd)))
    except OSError:
        fds.append(str(fd))
with open(os.path.join(out, "run.%%d" %% n), "w") as f:
    f.write("fds: " + ", ".join(fds) + "\\n")
    f.write("env: " + " ".join(sorted(os.environ)) + "\\n")
print("secret")
""" % out)
    os.chmod(path, 0o755)
    srv.append_conf(["TLSPassPhraseProvider " + path])
    srv.start()
    os.kill(srv.proc.pid, signal.SIGHUP)
    assert _wait_file(os.path.join(out, "run.1")), \
        "no provider run at the restart: %r" % os.listdir(out)
    time.sleep(1)
    srv.wait_listening(srv.port)
    _serves(srv)
    for name in sorted(os.listdir(out)):
        fds, env = open(os.path.join(out, name)).read().splitlines()[:2]
        assert fds == "fds: ", "the provider (%s) inherited descriptors: " \
            "%s" % (name, fds[5:])
        assert "MOD_FTPS_PASSPHRASE_PAGE" not in env, \
            "the provider's environment (%s) holds the address of the " \
            "passphrase area" % name


# -- item 23: every passphrase typed at the start is remembered ----------------

def _encrypted_copy(path, passphrase):
    """ec.key encrypted with passphrase, written to path (0600)."""
    os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
    p = subprocess.run(["openssl", "pkcs8", "-topk8", "-in", cert("ec.key"),
                        "-v2", "aes-256-cbc", "-passout", "stdin",
                        "-out", path], input=passphrase.encode() + b"\n",
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    os.chmod(path, 0o600)
    return path


def _typed_restarts(srv, count, answer, what):
    """proftpd -n on a terminal: answer each of count prompts with
    answer(prompt text), serve, then two SIGHUPs with nobody at the
    terminal: still serving, never asked again."""
    import test_passphrase as tp
    term = tp.Terminal(srv)
    try:
        for n in range(count):
            end = time.time() + 15
            while term.out.count(tp.PROMPT) <= n and time.time() < end:
                term.read_until(b"\x00", timeout=0.3)
            assert term.out.count(tp.PROMPT) > n, \
                "%s: prompt %d of %d did not come:\n%r" \
                % (what, n + 1, count, term.out[-800:])
            term.type(answer(term.out[term.out.rfind(tp.PROMPT):].decode(
                errors="replace")))
        srv.wait_listening(srv.port)
        _serves(srv)
        for n in range(2):
            os.kill(term.pid, signal.SIGHUP)
            time.sleep(1.5)
            term.read_until(b"\x00", timeout=1)
            assert term.alive(), "%s: the daemon died on SIGHUP %d:\n%s" \
                % (what, n + 1, term.out[-1500:].decode(errors="replace"))
            srv.wait_listening(srv.port)
            _serves(srv)
        assert term.out.count(tp.PROMPT) == count, \
            "%s: asked %d times, want %d" \
            % (what, term.out.count(tp.PROMPT), count)
    except RuntimeError as e:
        # The daemon's output went to the terminal: show it.
        term.read_until(b"\x00", timeout=1)
        raise AssertionError("%s: %s\n%s" % (what, e, term.out[-3000:].decode(
            errors="replace")))
    finally:
        term.stop()


def test_certprom_typed_long_passphrase_and_path_remembered(ctx):
    srv = _server(ctx, start=False, name="typed")
    passphrase = "".join(chr(ord("a") + i % 26) for i in range(300))
    deep = os.path.join(srv.dir, *(["d" * 60] * 9))
    key = _encrypted_copy(os.path.join(deep, "long.key"), passphrase)
    assert len(key) >= 512
    srv.replace_conf("TLSRSACertificateFile",
                     "TLSECCertificateFile " + cert("ec.crt"))
    srv.append_conf(["TLSECCertificateKeyFile " + key])
    _typed_restarts(srv, 1, lambda prompt: passphrase,
                    "a 300-byte passphrase, a %d-byte key path" % len(key))


def test_certprom_typed_nine_keys_remembered(ctx):
    srv = _server(ctx, start=False, name="typed")
    srv.replace_conf("TLSRSACertificateFile",
                     "TLSECCertificateFile " + cert("ec.crt"))
    keys = [_encrypted_copy(os.path.join(srv.dir, "k%d.key" % i),
                            "pass-%d" % i) for i in range(9)]
    lines = ["TLSECCertificateKeyFile " + keys[0]]
    for i in range(1, 9):
        lines += ["<VirtualHost 127.0.0.1>",
                  "  Port %d" % srv.port,
                  '  ServerName "vhost %d"' % i,
                  "  ServerAlias v%d.example" % i,
                  "  TLSEngine on",
                  "  TLSECCertificateFile " + cert("ec.crt"),
                  "  TLSECCertificateKeyFile " + keys[i],
                  "</VirtualHost>"]
    srv.append_conf(lines)

    def answer(prompt):
        # the prompts come in the order of ProFTPD's server list: answer
        # by the key file each names
        m = re.search(r"/k(\d)\.key", prompt)
        assert m, "a prompt names no key file: %r" % prompt
        return "pass-" + m.group(1)

    _typed_restarts(srv, 9, answer, "nine key files")


# -- item 11: TLSPKCS12File serves TLS; no certificate, no daemon --------------

def _served_cert_der(srv, version=None):
    """The server certificate of an AUTH TLS handshake (DER)."""
    with Raw(srv) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls(ctx=context(version))
        der = r.sock.getpeercert(binary_form=True)
        expect(r.cmd("USER " + srv.user), 331, "USER")
        expect(r.cmd("PASS " + srv.password), 230, "PASS")
    return der


def test_certprom_pkcs12_file_serves_tls(ctx):
    want = ftpsd.cert_der("rsa.crt")
    srv = _server(ctx, {"TLSRSACertificateFile": None,
                        "TLSPKCS12File": fx("server.p12")})
    for v in ("1.2", "1.3"):
        assert _served_cert_der(srv, v) == want, \
            "TLSPKCS12File (TLS %s): the certificate served is not the " \
            "file's" % v
    _serves(srv)


def test_certprom_pkcs12_password_from_provider(ctx):
    srv = _server(ctx, {"TLSRSACertificateFile": None,
                        "TLSPKCS12File": fx("server-pw.p12")}, start=False,
                  name="p12")
    path, out = _provider(srv, "p12", 'echo "$*" >>$OUT/args\n'
                          'echo p12-secret')
    srv.append_conf(["TLSPassPhraseProvider " + path])
    srv.start()
    assert _served_cert_der(srv) == ftpsd.cert_der("rsa.crt")
    _serves(srv)
    args = open(os.path.join(out, "args")).read().split()
    assert args[-1] == "PKCS12", "provider arguments: %r" % args


def test_certprom_pkcs12_wrong_password_refused(ctx):
    srv = _server(ctx, {"TLSRSACertificateFile": None,
                        "TLSPKCS12File": fx("server-pw.p12")}, start=False,
                  name="p12")
    path, _ = _provider(srv, "p12wrong", "echo not-it")
    srv.append_conf(["TLSPassPhraseProvider " + path])
    rc, out = ftpsd.check_config(srv)
    assert rc != 0 and ftpsd.line_with(out, "TLSPKCS12File",
                                       fx("server-pw.p12"), "passphrase"), \
        "TLSPKCS12File with a wrong password: want a refusal naming the " \
        "directive, the file and the passphrase (rc %d):\n%s" \
        % (rc, out[-1500:])


def test_certprom_no_certificate_refused(ctx):
    """TLSEngine on with no usable certificate stops the startup, naming
    the directive, instead of a daemon whose AUTH gets 431 and whose logins
    go on in clear.  A DSA certificate alone is no usable certificate."""
    cases = [
        ("none", {"TLSRSACertificateFile": None}, [], "TLSEngine"),
        ("DSA only", {"TLSRSACertificateFile": None},
         ["TLSDSACertificateFile " + fx("dsa.crt"),
          "TLSDSACertificateKeyFile " + fx("dsa.key")],
         "TLSDSACertificateFile"),
        ("a vhost without one", {},
         ["<VirtualHost 127.0.0.1>", "  Port %d" % ftpsd.free_port(),
          "  TLSEngine on", "</VirtualHost>"], "TLSEngine"),
    ]
    for what, tls, extra, directive in cases:
        srv = _server(ctx, tls, extra=extra, start=False, name="nocert")
        rc, out = ftpsd.check_config(srv)
        assert rc != 0, "%s: proftpd -t passed:\n%s" % (what, out[-1500:])
        assert ftpsd.line_with(out, directive, re.compile(
                r"(?i)no (other )?certificate")), \
            "%s: no line naming %s and the missing certificate:\n%s" \
            % (what, directive, out[-1500:])
        srv.cleanup()


def test_certprom_dsa_beside_rsa_serves_rsa(ctx):
    srv = _server(ctx, {"TLSRSACertificateFile": cert("rsa.crt"),
                        "TLSRSACertificateKeyFile": cert("rsa.key")},
                  extra=["TLSDSACertificateFile " + fx("dsa.crt"),
                         "TLSDSACertificateKeyFile " + fx("dsa.key")],
                  start=False)
    rc, out = ftpsd.check_config(srv)
    assert rc == 0 and ftpsd.line_with(out, "TLSDSACertificateFile",
                                       re.compile(r"(?i)not supported")), \
        "DSA beside RSA: want a start with a warning naming " \
        "TLSDSACertificateFile (rc %d):\n%s" % (rc, out[-1500:])
    srv.start()
    assert _served_cert_der(srv) == ftpsd.cert_der("rsa.crt")


# -- item 18: SIGHUP restarts do not grow the master ---------------------------

def _master_kb(pid, field):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def test_certprom_restarts_do_not_grow_master(ctx):
    """Ten SIGHUPs: the master's resident and data size grow by far less
    than a set of TLS contexts per restart (it grew 1.15 MB each time, the
    heap plug keeping what the old contexts freed)."""
    if os.environ.get("FTPS_DAEMON_PRELOAD"):
        raise ftpsd.Skip("a sanitizer's allocator keeps freed memory in "
                         "quarantine: sizes say nothing under it")
    srv = _server(ctx, {"TLSRSACertificateFile": cert("rsa.crt"),
                        "TLSRSACertificateKeyFile": cert("rsa.key"),
                        "TLSECCertificateFile": cert("ec.crt"),
                        "TLSECCertificateKeyFile": cert("ec.key")},
                  name="restarts")
    pid = srv.proc.pid
    # the first restart settles what a restart allocates once
    os.kill(pid, signal.SIGHUP)
    time.sleep(1)
    srv.wait_listening(srv.port)
    before = {f: _master_kb(pid, f) for f in ("VmRSS", "VmData")}
    for _ in range(10):
        mark = srv.log_mark()
        os.kill(pid, signal.SIGHUP)
        end = time.time() + 15
        while "reparsing configuration" not in srv.log_since(mark, n=200) \
                and time.time() < end:
            time.sleep(0.1)
        time.sleep(0.5)
        srv.wait_listening(srv.port)
    _serves(srv)
    after = {f: _master_kb(pid, f) for f in ("VmRSS", "VmData")}
    for f in ("VmRSS", "VmData"):
        grown = after[f] - before[f]
        assert grown < 2048, "the master's %s grew by %d kB over 10 " \
            "restarts (%d -> %d kB); want well under one TLS context set " \
            "per restart" % (f, grown, before[f], after[f])
