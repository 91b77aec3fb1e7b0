"""OCSP stapling (README "OCSP stapling"): TLSStapling, TLSStaplingResponder,
TLSStaplingOptions, TLSStaplingTimeout and FTPSStaplingFile.

The CA, certificates and responses come from tests/fixtures/mkocsp.sh
(openssl ocsp).  The live responder is "openssl ocsp -port", which binds
every interface: those tests run in a network namespace of their own (a
forked child that unshares its network, brings lo up, and runs responder,
daemon and clients there), so nothing listens outside the machine.

What a client sees is read from "openssl s_client -status" (the staple's
status, TLS 1.2 and 1.3); python's ftplib then logs in and transfers over
the same daemon, since python's ssl cannot show a staple.  Checked: a
good response is fetched by the master (in a child running as nobody) and
stapled; a revoked, unknown, expired or forged one, or none from a dead or
silent responder, is never stapled and the handshake still completes; a
signed "revoked" drops a good staple at once; a staple file is re-read when
it changes; RSA and EC certificates each get their own; a restart keeps a
fetched staple; must-staple certificates without a staple are reported.
No timing thresholds: waits are for log lines, with generous deadlines.
"""

import atexit
import ctypes
import datetime
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import traceback

import ftpsd
from clients import ftps, close_quietly, s_client

HERE = os.path.dirname(os.path.abspath(__file__))
MKOCSP = os.path.join(HERE, "..", "fixtures", "mkocsp.sh")
CLONE_NEWNET = 0x40000000
GOOD = "Cert Status: good"
NO_STAPLE = "OCSP response: no response sent"


MADE = []   # fixture directories of the file's tests, removed at its end
atexit.register(lambda: [shutil.rmtree(x, ignore_errors=True) for x in MADE])


def fixtures(port):
    """A fresh mkocsp.sh set whose certificates name 127.0.0.1:port."""
    while MADE:                     # the previous test's, its daemon is gone
        shutil.rmtree(MADE.pop(), ignore_errors=True)
    d = tempfile.mkdtemp(prefix="ocsp-", dir=ftpsd.tmp_root())
    MADE.append(d)
    os.chmod(d, 0o755)
    subprocess.run(["sh", MKOCSP, d, str(port)], check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    return d


def tls_for(d, cert="leaf", **more):
    tls = {
        "TLSRSACertificateFile": None,
        "TLSECCertificateFile": os.path.join(d, cert + ".pem"),
        "TLSECCertificateKeyFile": os.path.join(d, cert + ".key"),
        "TLSCertificateChainFile": os.path.join(d, "ca.pem"),
        "TLSStapling": "on",
    }
    tls.update(more)
    return tls


def status(srv, version):
    """What s_client -status saw: the staple's text, or NO_STAPLE; the
    handshake must complete either way (the FTP banner after AUTH)."""
    rc, out = s_client(srv, version=version, lines=("QUIT",),
                       extra=("-status",))
    assert "Verify return code" in out and "221" in out, \
        "handshake (TLS %s) did not complete: rc=%s\n%s" % (version, rc, out)
    return out


def wait_log(srv, needle, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if needle in ftpsd.read_text(srv.stderr_path):
            return
        time.sleep(0.2)
    raise AssertionError("no %r in the log\n%s" % (needle, srv.log_tail()))


def ftplib_works(srv):
    f = ftps(srv)
    try:
        f.retrlines("LIST", lambda line: None)
    finally:
        close_quietly(f)


NOBODY = 65534


def children(ppid):
    """(pid, real uid) of ppid's children."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/status" % name) as f:
                fields = dict(line.split(":", 1) for line in f
                              if ":" in line)
        except OSError:
            continue
        if int(fields.get("PPid", "0").strip()) == ppid:
            out.append((int(name), int(fields["Uid"].split()[0])))
    return out


def in_own_netns(fn):
    """Run fn() in a forked child with a network namespace of its own."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        msg, code = "", 0
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            fn()
        except BaseException:
            msg, code = traceback.format_exc(), 1
        os.write(w, msg.encode()[-60000:])
        os._exit(code)
    os.close(w)
    out = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        out += chunk
    os.close(r)
    _, st = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(st) != 0:
        raise AssertionError("in the network namespace:\n" + out.decode())


class Responder:
    """openssl ocsp -port (only in a namespace of our own)."""

    def __init__(self, d, port, nmin=5):
        self.log = open(os.path.join(d, "responder.log"), "wb")
        self.proc = subprocess.Popen(
            ["openssl", "ocsp", "-index", "index.txt", "-port", str(port),
             "-rsigner", "ca.pem", "-rkey", "ca.key", "-CA", "ca.pem",
             "-nmin", str(nmin), "-ignore_err"], cwd=d,
            stdout=self.log, stderr=subprocess.STDOUT)
        # Not probed with a connection: openssl 3.0's responder then waits
        # on that one forever.  It says when it listens.
        path = os.path.join(d, "responder.log")
        end = time.time() + 10
        while time.time() < end:
            if "waiting for OCSP client" in ftpsd.read_text(path):
                return
            time.sleep(0.05)
        raise RuntimeError("openssl ocsp did not start: "
                           + ftpsd.read_text(path))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def live(cert, check):
    """A daemon serving cert, its responder live: check(srv, d)."""
    port = ftpsd.free_port()
    d = fixtures(port)
    resp = live.responder = Responder(d, port)
    srv = ftpsd.Server(tls=tls_for(d, cert))
    try:
        srv.start()
        check(srv, d)
    except BaseException:
        raise AssertionError(traceback.format_exc() + "\n" + srv.log_tail())
    finally:
        srv.cleanup()
        resp.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_stapling_good_response_fetched_and_stapled(ctx):
    ctx.need("openssl", "ip")

    def check(srv, d):
        wait_log(srv, "response from http://127.0.0.1:")
        for version in ("1.2", "1.3"):
            out = status(srv, version)
            assert "OCSP Response Status: successful" in out and GOOD in out, \
                "TLS %s: no good staple\n%s" % (version, out)
        ftplib_works(srv)
        # The responder saw the master's request(s), not one per handshake.
        assert "no staple" not in ftpsd.read_text(srv.stderr_path)

    in_own_netns(lambda: live("leaf", check))


def test_stapling_restart_keeps_fetched_response(ctx):
    """SIGHUP while the responder is down: the response fetched before is
    checked again and still stapled (a restart costs no staple)."""
    ctx.need("openssl", "ip")

    def check(srv, d):
        wait_log(srv, "response from http://127.0.0.1:")
        assert GOOD in status(srv, "1.3")
        live.responder.stop()
        os.kill(srv.proc.pid, signal.SIGHUP)
        wait_log(srv, "response from before the restart: good")
        srv.wait_listening(srv.port)
        for version in ("1.2", "1.3"):
            out = status(srv, version)
            assert GOOD in out, "TLS %s: no staple after SIGHUP\n%s" \
                % (version, out)

    in_own_netns(lambda: live("leaf", check))


def test_stapling_revoked_and_unknown_never_stapled(ctx):
    ctx.need("openssl", "ip")

    def revoked(srv, d):
        wait_log(srv, "REVOKED")
        for version in ("1.2", "1.3"):
            out = status(srv, version)
            assert NO_STAPLE in out, "TLS %s: a staple was sent\n%s" \
                % (version, out)

    def unknown(srv, d):
        wait_log(srv, "status unknown")
        assert NO_STAPLE in status(srv, "1.3")

    in_own_netns(lambda: (live("revoked", revoked), live("unknown", unknown)))


def expired_response(d, revoked=False, days=-1):
    """A response for leaf.pem, signed by the CA, whose nextUpdate passed
    (openssl ocsp cannot make one); or, with revoked, one that says the
    certificate is revoked."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp

    def load(name):
        with open(os.path.join(d, name), "rb") as f:
            return f.read()
    leaf = x509.load_pem_x509_certificate(load("leaf.pem"))
    ca = x509.load_pem_x509_certificate(load("ca.pem"))
    key = serialization.load_pem_private_key(load("ca.key"), None)
    now = datetime.datetime.utcnow()
    b = ocsp.OCSPResponseBuilder().add_response(
        cert=leaf, issuer=ca, algorithm=hashes.SHA1(),
        cert_status=(ocsp.OCSPCertStatus.REVOKED if revoked
                     else ocsp.OCSPCertStatus.GOOD),
        this_update=now - datetime.timedelta(days=2),
        next_update=now + datetime.timedelta(days=days),
        revocation_time=now - datetime.timedelta(days=3) if revoked else None,
        revocation_reason=(x509.ReasonFlags.key_compromise if revoked
                           else None),
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
    return b.sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.DER)


def test_stapling_file_expired_refused_then_good_picked_up(ctx):
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    staple = os.path.join(d, "staple.der")
    with open(staple, "wb") as f:
        f.write(expired_response(d))
    srv = ctx.server(tls=tls_for(d, FTPSStaplingFile=staple), shared=False)
    wait_log(srv, "expired")
    for version in ("1.2", "1.3"):
        assert NO_STAPLE in status(srv, version)

    # The admin's job writes a fresh response: picked up without a signal.
    tmp = staple + ".new"
    shutil.copy(os.path.join(d, "good.der"), tmp)
    os.rename(tmp, staple)
    end = time.time() + 30
    out = ""
    while time.time() < end:
        out = status(srv, "1.3")
        if GOOD in out:
            break
        time.sleep(0.5)
    assert GOOD in out, "the new staple file was not used\n%s\n%s" \
        % (out, srv.log_tail())
    assert GOOD in status(srv, "1.2")
    ftplib_works(srv)


def test_stapling_revoked_replaces_good(ctx):
    """A signed "revoked" answer drops the good staple at once, though
    that one has not expired."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    staple = os.path.join(d, "staple.der")
    shutil.copy(os.path.join(d, "good.der"), staple)
    srv = ctx.server(tls=tls_for(d, FTPSStaplingFile=staple), shared=False)
    assert GOOD in status(srv, "1.3")
    with open(staple + ".new", "wb") as f:
        f.write(expired_response(d, revoked=True, days=1))
    os.rename(staple + ".new", staple)
    wait_log(srv, "REVOKED")
    for version in ("1.2", "1.3"):
        assert NO_STAPLE in status(srv, version)


def test_stapling_rsa_and_ec_each_own_staple(ctx):
    """A server with an RSA and an EC certificate staples, for each, the
    response about that certificate (two FTPSStaplingFile lines, matched by
    what they are about, not by order)."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    tls = tls_for(d, TLSRSACertificateFile=os.path.join(d, "leaf-rsa.pem"),
                  TLSRSACertificateKeyFile=os.path.join(d, "leaf-rsa.key"))
    srv = ctx.server(tls=tls, extra=[
        "FTPSStaplingFile " + os.path.join(d, "good.der"),
        "FTPSStaplingFile " + os.path.join(d, "good-rsa.der")], shared=False)
    for version, sigalg, serial in (
            ("1.3", "ecdsa_secp256r1_sha256", "1001"),
            ("1.3", "rsa_pss_rsae_sha256", "1006"),
            ("1.2", "ECDSA+SHA256", "1001"),
            ("1.2", "RSA+SHA256", "1006")):
        rc, out = s_client(srv, version=version, lines=("QUIT",),
                           extra=("-status", "-sigalgs", sigalg))
        assert GOOD in out and "Serial Number: %s" % serial in out, \
            "TLS %s with %s: want the staple of serial %s\n%s" \
            % (version, sigalg, serial, out)


def test_stapling_sni_vhost_staples_its_own(ctx):
    """SNI moves the handshake to a name-based vhost: the staple is the one
    of the certificate that vhost serves."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    srv = ctx.server(tls=tls_for(d, FTPSStaplingFile=os.path.join(
        d, "good.der")), start=False, shared=False)
    srv.append_conf([
        "<VirtualHost 127.0.0.1>",
        "  Port %d" % srv.port,
        '  ServerName "vhost v"',
        "  ServerAlias v.example",
        "  TLSEngine on",
        "  TLSRequired on",
        "  TLSRSACertificateFile " + os.path.join(d, "leaf-rsa.pem"),
        "  TLSRSACertificateKeyFile " + os.path.join(d, "leaf-rsa.key"),
        "  TLSCertificateChainFile " + os.path.join(d, "ca.pem"),
        "  TLSStapling on",
        "  FTPSStaplingFile " + os.path.join(d, "good-rsa.der"),
        "</VirtualHost>"])
    srv.start()
    for version in ("1.2", "1.3"):
        for name, serial in (("localhost", "1001"), ("v.example", "1006")):
            rc, out = s_client(srv, version=version, lines=("QUIT",),
                               extra=("-status", "-servername", name))
            assert GOOD in out and "Serial Number: %s" % serial in out, \
                "TLS %s, SNI %s: want the staple of serial %s\n%s" \
                % (version, name, serial, out)


def test_stapling_cache_turns_stapling_on(ctx):
    """As with mod_tls, a TLSStaplingCache line turns stapling on (the cache
    itself is not needed); TLSStapling off still wins."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    for stapling, want in ((None, GOOD), ("off", NO_STAPLE)):
        srv = ctx.server(tls=tls_for(
            d, TLSStapling=stapling,
            FTPSStaplingFile=os.path.join(d, "good.der")),
            extra=["TLSStaplingCache shm:/file=%s/ocsp.cache" % d],
            shared=False)
        out = status(srv, "1.3")
        assert want in out, "TLSStapling %s: want %r\n%s" % (stapling, want,
                                                            out)
        srv.cleanup()


def test_stapling_forged_file_refused(ctx):
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    srv = ctx.server(tls=tls_for(d, FTPSStaplingFile=os.path.join(
        d, "rogue.der")), shared=False)
    wait_log(srv, "not signed by the certificate's issuer")
    assert NO_STAPLE in status(srv, "1.3")


def test_stapling_dead_responder_handshake_unharmed(ctx):
    """Nothing listens on the responder's port: the fetch fails in the
    background; handshakes complete without a staple."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    dead = ftpsd.free_port()
    srv = ctx.server(tls=tls_for(
        d, TLSStaplingResponder="http://127.0.0.1:%d/" % dead,
        TLSStaplingTimeout="3"), shared=False)
    wait_log(srv, "did not answer")
    for version in ("1.2", "1.3"):
        assert NO_STAPLE in status(srv, version)
    ftplib_works(srv)


def test_stapling_silent_responder_handshake_unharmed(ctx):
    """The responder accepts and never answers: while the master's fetch
    hangs (TLSStaplingTimeout 60), handshakes and transfers go on."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    try:
        srv = ctx.server(tls=tls_for(
            d, TLSStaplingResponder="http://127.0.0.1:%d/"
            % silent.getsockname()[1], TLSStaplingTimeout="60"),
            shared=False)
        conn, _ = silent.accept()     # the master's fetch is under way
        try:
            # It runs in a child of the master, without root's privileges.
            kids = children(srv.proc.pid)
            assert kids and all(uid == NOBODY for _, uid in kids), kids
            for version in ("1.2", "1.3"):
                assert NO_STAPLE in status(srv, version)
            ftplib_works(srv)
            assert "did not answer" not in ftpsd.read_text(srv.stderr_path)
        finally:
            conn.close()
    finally:
        silent.close()


def test_stapling_must_staple_without_stapling_said(ctx):
    """A must-staple certificate gets no made-up response: the startup
    says what clients will do, with TLSStapling off and when no staple can
    be had."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    for case, want in (("stapling off", "TLSStapling is off"),
                       ("no issuer", "no staple is sent")):
        tls = tls_for(d, "muststaple")
        if case == "stapling off":
            tls["TLSStapling"] = "off"
        else:
            tls["TLSCertificateChainFile"] = None   # no issuer: no staple
        srv = ctx.server(tls=tls, start=False, shared=False)
        rc, out = ftpsd.check_config(srv)
        assert rc == 0, out
        line = ftpsd.line_with(out, "must-staple", "serial 1007")
        assert line and want in line, "%s: %s" % (case, out)


def test_stapling_directives_grammar(ctx):
    """mod_tls's grammar: bad values are refused with the directive named."""
    for line, why in (
            ("TLSStaplingOptions NoSuchThing", "unknown TLSStaplingOption"),
            ("TLSStaplingResponder https://127.0.0.1/", "https:// is not"),
            ("TLSStaplingTimeout soon", "error parsing timeout"),
            ("FTPSStaplingFile relative.der", "must be an absolute path")):
        srv = ctx.server(extra=[line], start=False, shared=False)
        rc, out = ftpsd.check_config(srv)
        assert rc != 0 and why in out, "%s: rc=%s\n%s" % (line, rc, out)
    srv = ctx.server(extra=["TLSStapling on", "TLSStaplingTimeout 5",
                            "TLSStaplingOptions NoNonce NoFakeTryLater",
                            "TLSStaplingCache shm:/file=/tmp/x"],
                     start=False, shared=False)
    rc, out = ftpsd.check_config(srv)
    assert rc == 0, out


def test_stapling_survives_restart(ctx):
    """SIGHUP rebuilds the contexts: the staple is read again for the new
    ones before the next handshake needs it."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    srv = ctx.server(tls=tls_for(d, FTPSStaplingFile=os.path.join(
        d, "good.der")), shared=False)
    assert GOOD in status(srv, "1.3")
    before = ftpsd.read_text(srv.stderr_path).count("response from")
    os.kill(srv.proc.pid, signal.SIGHUP)
    end = time.time() + 30
    while (time.time() < end and ftpsd.read_text(srv.stderr_path)
           .count("response from") == before):
        time.sleep(0.2)
    srv.wait_listening(srv.port)
    for version in ("1.2", "1.3"):
        assert GOOD in status(srv, version)


def test_stapling_follows_a_renewal(ctx):
    """FTPSCertificateWatch takes a renewed certificate (here another key
    and serial): the new one is stapled with its own response, without a
    signal (the renewed context gets the status callback too)."""
    ctx.need("openssl")
    d = fixtures(ftpsd.free_port())
    served, served_key = os.path.join(d, "served.pem"), \
        os.path.join(d, "served.key")
    shutil.copy(os.path.join(d, "leaf.pem"), served)
    shutil.copy(os.path.join(d, "leaf.key"), served_key)
    tls = tls_for(d, TLSECCertificateFile=served,
                  TLSECCertificateKeyFile=served_key)
    srv = ctx.server(tls=tls, extra=[
        "FTPSCertificateWatch 1",
        "FTPSStaplingFile " + os.path.join(d, "good.der"),
        "FTPSStaplingFile " + os.path.join(d, "good-rsa.der")], shared=False)
    out = status(srv, "1.3")
    assert GOOD in out and "Serial Number: 1001" in out, out

    # The renewal: the key first, then the certificate, each atomically.
    for src, dst in (("leaf-rsa.key", served_key), ("leaf-rsa.pem", served)):
        shutil.copy(os.path.join(d, src), dst + ".new")
        os.rename(dst + ".new", dst)
    end = time.time() + 30
    while time.time() < end:
        out = status(srv, "1.3")
        if "Serial Number: 1006" in out:
            break
        time.sleep(0.5)
    assert "Serial Number: 1006" in out and GOOD in out, \
        "after the renewal, want the staple of serial 1006:\n%s\n%s" \
        % (out, srv.log_tail())
    assert GOOD in status(srv, "1.2")
    ftplib_works(srv)
