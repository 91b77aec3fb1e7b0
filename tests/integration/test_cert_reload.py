"""Renewed certificates: a bad renewal never takes the daemon down, and a
good one is served without a restart (issue 14).

Each failure mode (truncated file, mismatched key, expired certificate, a
key written before its certificate, certbot's symlink swap, a passphrase
key whose provider gives the wrong passphrase) is tried through SIGHUP and
through the watcher (FTPSCertificateWatch 1): the daemon keeps serving the
last good certificate, checked by the serial number a real client sees in
the handshake, and serves the new one once the files are complete.  A
running session keeps its certificate across a renewal.

No timing thresholds: the watcher's attempts are seen in the log, and the
new certificate is polled for with a deadline.
"""

import os
import re
import signal
import socket
import subprocess
import time

import ftpsd
from clients import context, peer_cert_der, ftps, close_quietly, retr_bytes

DEADLINE = 30   # seconds to wait for something that must happen


# -- certificates -------------------------------------------------------------

def _run(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=60)


class Pki:
    """EC keys and self-signed certificates for localhost in a directory;
    each certificate gets the serial number it is asked for."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, 0o700, exist_ok=True)

    def key(self, name, passphrase=None):
        path = os.path.join(self.dir, name + ".key")
        _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-out", path)
        if passphrase is not None:
            _run("openssl", "pkcs8", "-topk8", "-in", path, "-v2",
                 "aes-256-cbc", "-passout", "pass:" + passphrase, "-out",
                 path + ".enc")
            os.rename(path + ".enc", path)
            self._plain = path
        return path

    def cert(self, name, key, serial, days=30, passphrase=None):
        """A certificate for key, valid for days (negative: expired)."""
        path = os.path.join(self.dir, name + ".crt")
        csr = path + ".csr"
        pw = ["-passin", "pass:" + passphrase] if passphrase else []
        _run("openssl", "req", "-new", "-key", key, *pw,
             "-subj", "/CN=localhost", "-out", csr)
        _run("openssl", "x509", "-req", "-in", csr, "-key", key, *pw,
             "-set_serial", str(serial), "-days", str(days), "-sha256",
             "-out", path)
        os.unlink(csr)
        return path


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    """Rewrite path in place (same inode), as a careless renewal does."""
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _replace(path, data):
    """Write a new file and rename it over path (a new inode)."""
    tmp = path + ".new"
    with open(tmp, "wb") as f:
        f.write(data)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


def _serial_of(der):
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout",
                          "-serial"], input=der, capture_output=True,
                         check=True, timeout=30).stdout.decode()
    return int(out.strip().split("=", 1)[1], 16)


def served_serial(srv):
    """The serial of the certificate a new FTPS session sees (a restart
    closes the listening socket for a moment: tried again then)."""
    deadline = time.time() + DEADLINE
    while True:
        try:
            return _serial_of(peer_cert_der(srv, context()))
        except (ConnectionError, EOFError):
            if time.time() > deadline or not srv.running():
                raise
            time.sleep(0.1)


def wait_serial(srv, want, what):
    deadline = time.time() + DEADLINE
    seen = None
    while time.time() < deadline:
        assert srv.running(), "%s: the daemon exited:\n%s" \
            % (what, srv.log_tail(40))
        seen = served_serial(srv)
        if seen == want:
            return
        time.sleep(0.2)
    raise AssertionError("%s: serial %s still served after %ds, want %s:\n%s"
                         % (what, seen, DEADLINE, want, srv.log_tail(40)))


def sighup(srv):
    """SIGHUP; wait until the master has read its configuration again and
    listens; it must still run."""
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.time() + DEADLINE
    while time.time() < deadline:
        text = srv.log_since(mark, 400)
        if re.search(r"(?i)received SIGHUP", text) and \
                re.search(r"(?i)reparsing", text) and srv._listening():
            break
        assert srv.running(), "the daemon exited on SIGHUP:\n%s" % text
        time.sleep(0.05)
    else:
        raise AssertionError("no restart seen %ds after SIGHUP:\n%s"
                             % (DEADLINE, srv.log_since(mark, 400)))
    # A restart's log is complete once the port listens again.
    assert srv.running(), srv.log_since(mark, 400)
    return mark


def wait_log(srv, mark, *needles):
    """Wait for a log line (since mark) holding every needle."""
    deadline = time.time() + DEADLINE
    while time.time() < deadline:
        text = srv.log_since(mark, 400)
        line = ftpsd.line_with(text, *needles)
        if line:
            return line
        assert srv.running(), "the daemon exited:\n%s" % text
        time.sleep(0.1)
    raise AssertionError("no log line with %r within %ds:\n%s"
                         % (needles, DEADLINE, srv.log_since(mark, 400)))


# -- the scenario ---------------------------------------------------------------

class Renewal:
    """A daemon serving live/cert.pem with live/key.pem (certificate
    serial 1), and the means to break and renew them."""

    def __init__(self, ctx, how, extra=(), passphrase=None, name="reload"):
        self.how = how
        watch = ["FTPSCertificateWatch %s" % ("1" if how == "watch"
                                               else "off")]
        self.srv = ctx.server(start=False, shared=False, name=name,
                              extra=watch + list(extra))
        self.pki = Pki(os.path.join(self.srv.dir, "pki"))
        self.live = os.path.join(self.srv.dir, "live")
        os.makedirs(self.live, 0o755)
        self.cert = os.path.join(self.live, "cert.pem")
        self.key = os.path.join(self.live, "key.pem")
        self.passphrase = passphrase
        k = self.pki.key("k1", passphrase)
        _write(self.key, _read(k))
        _write(self.cert, _read(self.pki.cert("c1", k, 1,
                                              passphrase=passphrase)))
        self.srv.replace_conf("TLSRSACertificateFile",
                              "TLSECCertificateFile " + self.cert)
        self.srv.append_conf(["TLSECCertificateKeyFile " + self.key])

    def start(self):
        self.srv.start()
        assert served_serial(self.srv) == 1
        return self

    def new_pair(self, serial, days=30, passphrase=None):
        """A new key and its certificate: (cert PEM, key PEM)."""
        pw = passphrase if passphrase is not None else self.passphrase
        k = self.pki.key("k%d" % serial, pw)
        c = self.pki.cert("c%d" % serial, k, serial, days, passphrase=pw)
        return _read(c), _read(k)

    def reload(self, *needles):
        """SIGHUP, or let the watcher find the change; with needles, wait
        for the log line that says why the change was refused."""
        mark = sighup(self.srv) if self.how == "sighup" else \
            self.srv.log_mark()
        if self.how == "watch" and not needles:
            return
        if needles:
            return wait_log(self.srv, mark, *needles)

    def still_serves_old(self, what):
        assert self.srv.running(), "%s: the daemon exited:\n%s" \
            % (what, self.srv.log_tail(40))
        assert served_serial(self.srv) == 1, \
            "%s: a new session does not get the last good certificate" % what
        # and the old one is still usable: a whole session, with a transfer
        self.srv.home_file("still.bin", b"still serving\n")
        f = ftps(self.srv)
        try:
            assert retr_bytes(f, "still.bin") == b"still serving\n"
        finally:
            close_quietly(f)


def _modes():
    return ("sighup", "watch")


def _each_mode(ctx, body):
    for how in _modes():
        body(ctx, how)


# -- failure modes ----------------------------------------------------------------

def _truncated(ctx, how):
    r = Renewal(ctx, how).start()
    cert2, key2 = r.new_pair(2)
    _write(r.key, key2)
    _write(r.cert, cert2[:len(cert2) // 2])
    r.reload("TLSECCertificateFile", r.cert)
    r.still_serves_old("%s, truncated certificate" % how)
    _write(r.cert, cert2)
    r.reload()
    wait_serial(r.srv, 2, "%s, completed certificate" % how)


def test_reload_truncated_certificate(ctx):
    """A certificate file cut in half (a renewal still writing it): the
    log names the directive and the file, the last good certificate stays;
    the completed file is then served."""
    _each_mode(ctx, _truncated)


def _mismatched(ctx, how):
    r = Renewal(ctx, how).start()
    cert2, key2 = r.new_pair(2)
    _other_cert, other_key = r.new_pair(3)
    _write(r.key, other_key)
    _write(r.cert, cert2)
    r.reload("does not match")
    r.still_serves_old("%s, mismatched key" % how)
    _write(r.key, key2)
    r.reload()
    wait_serial(r.srv, 2, "%s, matching key" % how)


def test_reload_mismatched_key(ctx):
    """A new certificate with a key that is not its own: refused, named in
    the log; the last good pair stays until the right key comes."""
    _each_mode(ctx, _mismatched)


def _key_first(ctx, how):
    r = Renewal(ctx, how).start()
    cert2, key2 = r.new_pair(2)
    _replace(r.key, key2)
    r.reload("does not match")
    r.still_serves_old("%s, key written before its certificate" % how)
    _replace(r.cert, cert2)
    r.reload()
    wait_serial(r.srv, 2, "%s, certificate written after its key" % how)


def test_reload_key_written_before_certificate(ctx):
    """The new key lands before its certificate (two renames): in between,
    the old certificate with the new key is refused and the last good pair
    served; the complete pair is then taken."""
    _each_mode(ctx, _key_first)


def _expired(ctx, how):
    r = Renewal(ctx, how).start()
    cert2, key2 = r.new_pair(2, days=-1)
    cert3, key3 = r.new_pair(3)
    _write(r.key, key2)
    _write(r.cert, cert2)
    r.reload("TLSECCertificateFile", r.cert, "has expired")
    r.still_serves_old("%s, expired certificate" % how)
    _write(r.key, key3)
    _write(r.cert, cert3)
    r.reload()
    wait_serial(r.srv, 3, "%s, valid certificate" % how)


def test_reload_expired_certificate(ctx):
    """An expired certificate does not replace a valid one; a valid
    renewal then does."""
    _each_mode(ctx, _expired)


def _link(target, link):
    """Point link at target atomically (a new link renamed over it), as
    certbot updates live/."""
    tmp = link + ".tmp"
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(target, tmp)
    os.rename(tmp, link)


def _symlinks(ctx, how):
    r = Renewal(ctx, how)
    archive = os.path.join(r.srv.dir, "archive")
    os.makedirs(archive, 0o700)
    for name, path in (("cert1.pem", r.cert), ("privkey1.pem", r.key)):
        os.rename(path, os.path.join(archive, name))
        _link(os.path.join("..", "archive", name), path)
    r.start()
    cert2, key2 = r.new_pair(2)
    _write(os.path.join(archive, "cert2.pem"), cert2)
    _write(os.path.join(archive, "privkey2.pem"), key2)
    # certbot moves one link at a time: first the certificate ...
    _link(os.path.join("..", "archive", "cert2.pem"), r.cert)
    r.reload("does not match")
    r.still_serves_old("%s, certificate link moved, key link not yet" % how)
    # ... then the key
    _link(os.path.join("..", "archive", "privkey2.pem"), r.key)
    r.reload()
    wait_serial(r.srv, 2, "%s, both links moved" % how)


def test_reload_symlink_swap(ctx):
    """certbot's live/ links, moved one after the other to new archive/
    files: the moment the certificate link points to the new certificate
    and the key link still to the old key is refused; once both moved,
    the new pair is served (stat() follows the links)."""
    _each_mode(ctx, _symlinks)


def _passphrase(ctx, how):
    r = Renewal(ctx, how, passphrase="first", name="reload-pass")
    # the provider prints what passfile holds
    passfile = os.path.join(r.srv.dir, "pass.txt")
    with open(passfile, "w") as f:
        f.write("first\n")
    provider = os.path.join(r.srv.dir, "provider.sh")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\ncat %s\n" % passfile)
    os.chmod(provider, 0o755)
    r.srv.append_conf(["TLSPassPhraseProvider " + provider])
    r.start()
    cert2, key2 = r.new_pair(2, passphrase="second")
    _write(r.key, key2)
    _write(r.cert, cert2)
    r.reload("TLSECCertificateKeyFile", r.key, "wrong passphrase")
    r.still_serves_old("%s, the provider gives the old passphrase" % how)
    # The files do not change now, the provider's answer does: the watcher
    # tries a set that failed again at each look.
    with open(passfile, "w") as f:
        f.write("second\n")
    r.reload()
    wait_serial(r.srv, 2, "%s, the provider gives the new passphrase" % how)


def test_reload_passphrase_key_with_provider(ctx):
    """An encrypted key is opened with TLSPassPhraseProvider's answer at
    each reload: a renewed key that the provider's passphrase does not open
    is refused (the log names the key file and why), the last good one is
    served; once the provider answers right, the new pair is."""
    _each_mode(ctx, _passphrase)


# -- running sessions ---------------------------------------------------------------

def _running_session(ctx, how):
    r = Renewal(ctx, how).start()
    r.srv.home_file("before.bin", b"a" * 100000)
    f = ftps(r.srv)
    try:
        assert f.sock.getpeercert(binary_form=True) is not None
        old = _serial_of(f.sock.getpeercert(binary_form=True))
        assert old == 1
        cert2, key2 = r.new_pair(2)
        _replace(r.key, key2)
        _replace(r.cert, cert2)
        r.reload()
        wait_serial(r.srv, 2, "%s, renewal" % how)
        # the running session still transfers: its data connections
        # resume its control session, made with the old certificate
        assert retr_bytes(f, "before.bin") == b"a" * 100000
        assert _serial_of(f.sock.getpeercert(binary_form=True)) == 1
    finally:
        close_quietly(f)


def test_reload_running_session_keeps_certificate(ctx):
    """A session that began before a renewal keeps its certificate and
    transfers on (protected data connections resume its TLS session);
    new sessions get the new certificate."""
    _each_mode(ctx, _running_session)


# -- a restart with nothing good for a server ----------------------------------------

def test_reload_restart_new_vhost_without_good_certificate(ctx):
    """A restart that adds a vhost whose certificate is broken: the daemon
    serves on (the main server with its certificate), and the new vhost's
    sessions are refused rather than served without TLS."""
    r = Renewal(ctx, "sighup").start()
    port = ftpsd.free_port()
    bad = os.path.join(r.srv.dir, "bad.pem")
    _write(bad, b"-----BEGIN CERTIFICATE-----\nAAAA\n")
    r.srv.append_conf([
        "<VirtualHost 127.0.0.1>",
        "  Port %d" % port,
        "  TLSEngine on",
        "  TLSRequired off",
        "  TLSECCertificateFile " + bad,
        "  AuthUserFile " + os.path.join(r.srv.dir, "passwd"),
        "</VirtualHost>",
    ])
    mark = sighup(r.srv)
    wait_log(r.srv, mark, "TLSECCertificateFile", bad)
    r.srv.wait_listening(port)
    assert served_serial(r.srv) == 1
    s = socket.create_connection((r.srv.host, port), timeout=10)
    try:
        data = s.recv(1024)
        while data and not data.endswith(b"\n"):
            more = s.recv(1024)
            if not more:
                break
            data += more
        assert not data.startswith(b"220"), \
            "a vhost with no usable certificate greets clients: %r" % data
    finally:
        s.close()
    wait_log(r.srv, mark, "no usable certificate", "session refused")


# -- expiry warnings -------------------------------------------------------------------

def test_reload_expiry_warning_at_startup(ctx):
    """A certificate that expires within FTPSCertificateExpiryWarning days
    is warned about at startup, with its serial and notAfter; a longer
    lived one is not."""
    r = Renewal(ctx, "sighup", extra=["FTPSCertificateExpiryWarning 10"])
    cert2, key2 = r.new_pair(5, days=5)
    _write(r.key, key2)
    _write(r.cert, cert2)
    r.srv.start()
    text = ftpsd.read_text(r.srv.stderr_path)
    line = ftpsd.line_with(text, "expires in", "serial 05")
    assert line and re.search(r"expires in [45] days", line), text[-3000:]
    # renewed to a 30-day certificate: no warning for it at the restart
    cert3, key3 = r.new_pair(6, days=30)
    _write(r.key, key3)
    _write(r.cert, cert3)
    mark = sighup(r.srv)
    wait_serial(r.srv, 6, "renewal to 30 days")
    text = r.srv.log_since(mark, 400)
    assert not ftpsd.line_with(text, "expires in"), text


# -- ACME end to end: pebble and lego on loopback ------------------------------------

ACME_NAME = "ftp.example.test"


class Pebble:
    """Debian's pebble (Let's Encrypt's test CA) on loopback ports.  Every
    authorization is valid at once (PEBBLE_VA_ALWAYS_VALID), so no
    challenge is answered; no nonce is refused at random."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, 0o700, exist_ok=True)
        self.cert = os.path.join(d, "pebble.pem")
        key = os.path.join(d, "pebble.key")
        _run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
             self.cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
             "subjectAltName=DNS:localhost,IP:127.0.0.1")
        self.port = ftpsd.free_port()
        conf = os.path.join(d, "pebble.json")
        with open(conf, "w") as f:
            f.write('{"pebble": {"listenAddress": "127.0.0.1:%d", '
                    '"managementListenAddress": "127.0.0.1:%d", '
                    '"certificate": "%s", "privateKey": "%s", '
                    '"httpPort": %d, "tlsPort": %d}}'
                    % (self.port, ftpsd.free_port(), self.cert, key,
                       ftpsd.free_port(), ftpsd.free_port()))
        env = dict(os.environ, PEBBLE_VA_ALWAYS_VALID="1",
                   PEBBLE_VA_NOSLEEP="1", PEBBLE_WFE_NONCEREJECT="0")
        self.log = open(os.path.join(d, "pebble.log"), "wb")
        self.proc = subprocess.Popen(["pebble", "-config", conf,
                                      "-strict=false"], env=env,
                                     stdout=self.log, stderr=self.log,
                                     stdin=subprocess.DEVNULL)
        deadline = time.time() + DEADLINE
        while True:
            if self.proc.poll() is not None:
                raise AssertionError("pebble exited: %s" % self.text())
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                assert time.time() < deadline, "pebble does not listen"
                time.sleep(0.1)

    def text(self):
        return ftpsd.read_text(os.path.join(self.dir, "pebble.log"))[-3000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


def _lego(pebble, path, *action):
    env = dict(os.environ, LEGO_CA_CERTIFICATES=pebble.cert)
    argv = ["lego", "--server", "https://127.0.0.1:%d/dir" % pebble.port,
            "--accept-tos", "--email", "t@example.org", "--domains",
            ACME_NAME, "--http", "--http.port",
            "127.0.0.1:%d" % ftpsd.free_port(), "--path", path,
            "--key-type", "ec256"] + list(action)
    p = subprocess.run(argv, env=env, capture_output=True, timeout=120)
    assert p.returncode == 0, "lego %s failed (%d):\n%s\n%s" \
        % (action[0], p.returncode, p.stderr.decode(errors="replace")[-3000:],
           pebble.text())


def _file_serial(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout",
                          "-serial"], capture_output=True, check=True,
                         timeout=30).stdout.decode()
    return int(out.strip().split("=", 1)[1], 16)


def test_reload_acme_renewal_end_to_end(ctx):
    """lego gets a certificate from pebble; mod_ftps serves lego's files
    as they are; lego renews them (a new key, files rewritten in place):
    a new FTPS client sees the new serial with no signal and no restart
    (the same master process), and a session that began before the
    renewal transfers on."""
    ctx.need("pebble", "lego")
    srv = ctx.server(start=False, shared=False, name="reload-acme",
                     extra=["FTPSCertificateWatch 1"])
    pebble = Pebble(os.path.join(srv.dir, "pebble"))
    try:
        lego_dir = os.path.join(srv.dir, "lego")
        _lego(pebble, lego_dir, "run")
        crt = os.path.join(lego_dir, "certificates", ACME_NAME + ".crt")
        key = os.path.join(lego_dir, "certificates", ACME_NAME + ".key")
        srv.replace_conf("TLSRSACertificateFile",
                         "TLSECCertificateFile " + crt)
        srv.append_conf(["TLSECCertificateKeyFile " + key])
        srv.start()
        pid = srv.proc.pid
        first = _file_serial(crt)
        assert served_serial(srv) == first

        srv.home_file("acme.bin", b"b" * 200000)
        f = ftps(srv)
        try:
            mark = srv.log_mark()
            # Pebble's certificates live 5 years: --days forces a renewal.
            _lego(pebble, lego_dir, "renew", "--days", "3000",
                  "--no-random-sleep")
            second = _file_serial(crt)
            assert second != first, "lego did not renew the certificate"
            wait_serial(srv, second, "ACME renewal")
            assert srv.running() and srv.proc.pid == pid
            text = srv.log_since(mark, 400)
            assert not re.search(r"(?i)received SIGHUP", text), text
            loaded = re.findall(r"new certificate loaded \(serial ([0-9A-F]+)",
                                text)
            assert second in [int(x, 16) for x in loaded], text
            assert retr_bytes(f, "acme.bin") == b"b" * 200000
        finally:
            close_quietly(f)
    finally:
        pebble.stop()


# -- memory --------------------------------------------------------------------------

def _master_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, v = line.split(":", 1)
            if k in ("VmRSS", "VmData"):
                out[k] = int(v.split()[0])
    return out


def test_reload_renewals_do_not_grow_master(ctx):
    """Ten renewals taken by the watcher: the master grows by far less than
    a set of TLS contexts (about 1 MB) in all; it grew by one set per
    renewal while the heap plug (ftps/heap.h) kept the old contexts'
    memory from the new ones."""
    if ftpsd.sanitized():
        raise ftpsd.Skip("memory figures are the sanitizer's")
    r = Renewal(ctx, "watch").start()
    pid = r.srv.proc.pid
    serial = 2
    # the first renewal settles what a renewal allocates once
    c, k = r.new_pair(serial)
    _replace(r.key, k)
    _replace(r.cert, c)
    wait_serial(r.srv, serial, "first renewal")
    before = _master_kb(pid)
    for serial in range(3, 13):
        c, k = r.new_pair(serial)
        _replace(r.key, k)
        _replace(r.cert, c)
        wait_serial(r.srv, serial, "renewal %d" % serial)
    after = _master_kb(pid)
    for f in ("VmRSS", "VmData"):
        grown = after[f] - before[f]
        assert grown < 1024, "%s grew by %d kB over 10 renewals (%d -> %d " \
            "kB); want well under one TLS context set" \
            % (f, grown, before[f], after[f])


# -- each server on its own ----------------------------------------------------------

def _serial_at(srv, port):
    deadline = time.time() + DEADLINE
    while True:
        try:
            return _serial_of(peer_cert_der(srv, context(), port=port))
        except (ConnectionError, EOFError):
            if time.time() > deadline or not srv.running():
                raise
            time.sleep(0.1)


def test_reload_each_vhost_on_its_own(ctx):
    """One SIGHUP, two servers: the main server's new certificate is cut
    short and a <VirtualHost>'s renewal is complete.  The main server keeps
    its last good certificate, the vhost serves its new one; then the
    watcher takes the main server's completed file and leaves the vhost's
    alone."""
    r = Renewal(ctx, "sighup")
    port = ftpsd.free_port()
    vcert = os.path.join(r.live, "vhost.pem")
    vkey = os.path.join(r.live, "vhost.key")
    c, k = r.new_pair(11)
    _write(vcert, c)
    _write(vkey, k)
    r.srv.replace_conf("FTPSCertificateWatch", "FTPSCertificateWatch 1")
    r.srv.append_conf([
        "<VirtualHost 127.0.0.1>",
        "  Port %d" % port,
        "  TLSEngine on",
        "  TLSRequired off",
        "  TLSECCertificateFile " + vcert,
        "  TLSECCertificateKeyFile " + vkey,
        "  AuthUserFile " + os.path.join(r.srv.dir, "passwd"),
        "</VirtualHost>",
    ])
    r.start()
    r.srv.wait_listening(port)
    assert _serial_at(r.srv, port) == 11

    cert2, key2 = r.new_pair(2)
    _write(r.key, key2)
    _write(r.cert, cert2[:len(cert2) // 2])
    c, k = r.new_pair(12)
    _replace(vkey, k)
    _replace(vcert, c)
    mark = sighup(r.srv)
    wait_log(r.srv, mark, "TLSECCertificateFile", r.cert)
    r.srv.wait_listening(port)
    assert _serial_at(r.srv, port) == 12, "the vhost's renewal was not taken"
    r.still_serves_old("main server cut short, vhost renewed")

    mark = r.srv.log_mark()
    _write(r.cert, cert2)
    wait_serial(r.srv, 2, "main server's completed certificate")
    assert _serial_at(r.srv, port) == 12
    text = r.srv.log_since(mark, 400)
    assert not ftpsd.line_with(text, vcert), \
        "the watcher read the vhost's unchanged files again:\n%s" % text


# -- the directives -------------------------------------------------------------------

def test_reload_directives(ctx):
    """FTPSCertificateWatch takes on, off or seconds (1 or more), and
    FTPSCertificateExpiryWarning off or days, at server level only: any
    other value, or either inside a <VirtualHost>, stops the start with a
    message naming the directive."""
    good = ["FTPSCertificateWatch on", "FTPSCertificateWatch off",
            "FTPSCertificateWatch 1", "FTPSCertificateWatch 3600",
            "FTPSCertificateExpiryWarning off",
            "FTPSCertificateExpiryWarning 30"]
    bad = ["FTPSCertificateWatch 0", "FTPSCertificateWatch -5",
           "FTPSCertificateWatch often", "FTPSCertificateExpiryWarning 0",
           "FTPSCertificateExpiryWarning soon",
           "FTPSCertificateExpiryWarning 5000"]
    for line in good + bad:
        srv = ctx.server(start=False, shared=False, extra=[line])
        rc, out = srv.check()
        if line in good:
            assert rc == 0, "%r refused:\n%s" % (line, out)
        else:
            assert rc != 0 and line.split()[0] in out, \
                "%r accepted (rc %d):\n%s" % (line, rc, out)
    srv = ctx.server(start=False, shared=False, extra=[
        "<VirtualHost 127.0.0.1>", "  Port %d" % ftpsd.free_port(),
        "  FTPSCertificateWatch 5", "</VirtualHost>"])
    rc, out = srv.check()
    assert rc != 0 and "FTPSCertificateWatch" in out, out
