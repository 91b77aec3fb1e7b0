"""How a renewal is judged, and what the log says of it (issue 14, outside
review of certificate renewal and OCSP stapling).

A renewal (SIGHUP, or the watcher: FTPSCertificateWatch) is judged on each
kind of problem, not on whether there is one: a chain problem that the
served material shares is not held against the new material, but a new
certificate that is not valid now (expired, not yet valid) is refused
whatever the served one's problems, and so is a key that is not its own.
A renewal of the chain alone is logged.  A failed OCSP fetch is not asked
again before its retry time because of a SIGHUP, and what the responder
answered is said.  The daily expiry warning is seen by moving the daemon's
clock a day on (libfaketime).

A renewed CRL (TLSCARevocationFile) is taken by the watcher too.

Each test of a defect says what the code before its fix did (each failed
on it; the key-mismatch part and the daily warning passed there too).  No
timing thresholds: waits are for log lines or served serials, with
generous deadlines; where nothing must happen, a staple file or a
certificate changed after it shows that the timer looked meanwhile.
"""

import contextlib
import datetime
import http.server
import os
import re
import shutil
import tempfile
import threading
import time

import ftpsd
from test_cert_reload import (Renewal, _read, _write, _replace, _run,
                              wait_serial, wait_log, sighup, served_serial,
                              DEADLINE)
from test_production_attacks import _ca, _leaf


def _modes():
    return ("sighup", "watch")


def _dated_pair(r, serial, start_days, end_days):
    """A self-signed certificate for localhost valid from start_days to
    end_days from now (days may be fractions or negative), and its key:
    (cert PEM, key PEM)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    k = r.pki.key("d%d" % serial)
    key = serialization.load_pem_private_key(_read(k), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(now + datetime.timedelta(days=start_days))
            .not_valid_after(now + datetime.timedelta(days=end_days))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM), _read(k)


def _renew(r, write, *needles):
    """write() the renewal, then SIGHUP or let the watcher see it; with
    needles, the log line (written since before the change) holding them.
    The mark is taken first: a look of the watcher may come at once."""
    mark = r.srv.log_mark()
    write()
    if r.how == "sighup":
        sighup(r.srv)
    if needles:
        return wait_log(r.srv, mark, *needles)
    return None


def _pair_writer(r, cert, key):
    def write():
        _write(r.key, key)
        _write(r.cert, cert)
    return write


# -- 1. a renewal is judged per kind of problem -----------------------------------

def _bad_chain_renewal(ctx, how, name):
    """A daemon serving serial 1 with a chain file whose certificate did
    not issue it (a stale chain file, tolerated since the first start
    serves what it can read)."""
    r = Renewal(ctx, how, name=name)
    stranger = _ca(r.pki.dir, "stranger")
    r.chain = os.path.join(r.live, "chain.pem")
    _write(r.chain, _read(stranger[0]))
    r.srv.append_conf(["TLSCertificateChainFile " + r.chain])
    return r.start()


def _new_defects_refused(ctx, how):
    r = _bad_chain_renewal(ctx, how, "judge-" + how)
    cases = (
        ("expired", _dated_pair(r, 2, -30, -1), "has expired"),
        ("not yet valid", _dated_pair(r, 3, 2, 30), "not valid yet"),
    )
    for what, (cert, key), why in cases:
        serial = 2 if what == "expired" else 3
        line = _renew(r, _pair_writer(r, cert, key),
                      "TLSECCertificateFile " + r.cert,
                      "serial %02X" % serial, why)
        assert "is not used" in line, line
        r.still_serves_old("%s: %s certificate" % (how, what))

    # A key that is not the certificate's own.
    cert4, _key4 = _dated_pair(r, 4, -1, 30)
    _other, key5 = _dated_pair(r, 5, -1, 30)
    _renew(r, _pair_writer(r, cert4, key5),
           "TLSECCertificateFile " + r.cert, "does not match")
    r.still_serves_old("%s: mismatched key" % how)

    # A valid renewal with the same (stale) chain file: not made worse,
    # taken.
    cert6, key6 = _dated_pair(r, 6, -1, 30)
    _renew(r, _pair_writer(r, cert6, key6))
    wait_serial(r.srv, 6, "%s: valid renewal, same stale chain" % how)
    text = ftpsd.read_text(r.srv.stderr_path)
    assert not ftpsd.line_with(text, "new certificate loaded", "serial 02"), \
        text[-4000:]
    assert not ftpsd.line_with(text, "new certificate loaded", "serial 03"), \
        text[-4000:]


def test_judgement_new_defect_refused_though_chain_already_bad(ctx):
    """The served material has a chain problem (its chain file holds a
    certificate that did not issue it).  A new certificate that has
    expired, or is not valid yet, or comes with a key that is not its own,
    is refused (the log names the directive, the file and why) and the
    last good one stays; a valid one with the same stale chain is taken.
    Before: the expired and the not-yet-valid ones were served, since the
    old material "had a problem too"."""
    for how in _modes():
        _new_defects_refused(ctx, how)


def _chained_renewal(ctx, how, name):
    """A started Renewal serving leaf serial 1 of an intermediate CA, with
    the intermediate in a TLSCertificateChainFile: (r, root, inter, chain),
    each CA a (certificate, key) pair."""
    r = Renewal(ctx, how, name=name + how)
    root = _ca(r.pki.dir, "root")
    inter = _ca(r.pki.dir, "inter", root)
    leaf = _leaf(r.pki.dir, "l1", 1, inter)
    chain = os.path.join(r.live, "chain.pem")
    _write(r.cert, _read(leaf[0]))
    _write(r.key, _read(leaf[1]))
    _write(chain, _read(inter[0]))
    r.srv.append_conf(["TLSCertificateChainFile " + chain])
    r.start()
    return r, root, inter, chain


def _chain_made_worse(ctx, how):
    r, _, _, chain = _chained_renewal(ctx, how, "chainworse-")
    stranger = _ca(r.pki.dir, "stranger")
    line = _renew(r, lambda: _replace(chain, _read(stranger[0])),
                  "TLSCertificateChainFile " + chain, "is not used",
                  "did not issue")
    assert "serial 01" in line, line
    r.still_serves_old("%s: a chain file that does not fit" % how)


def test_judgement_chain_problem_of_its_own_refused(ctx):
    """A good chain replaced by one whose first certificate did not issue
    the served one: refused, naming TLSCertificateChainFile and its file
    (the chain problem is the new material's own)."""
    for how in _modes():
        _chain_made_worse(ctx, how)


# -- 4. a renewal of the chain alone is logged ---------------------------------

def test_judgement_chain_only_renewal_logged(ctx):
    """The intermediate is renewed (same subject and key, a new
    certificate) and the chain file rewritten; the leaf stays.  The log
    says so at NOTICE, naming the server, the chain file and the old and
    new chain.  Before: nothing was logged (only a changed leaf was)."""
    for how in _modes():
        r, root, inter, chain = _chained_renewal(ctx, how, "chainonly-")
        d = r.pki.dir
        # The same CA key and subject, issued again for 60 days.
        again = os.path.join(d, "inter-again.pem")
        csr = again + ".csr"
        ext = os.path.join(d, "inter.ext")
        _run("openssl", "req", "-new", "-key", inter[1], "-subj",
             "/CN=inter", "-out", csr)
        _run("openssl", "x509", "-req", "-in", csr, "-CA", root[0],
             "-CAkey", root[1], "-set_serial", "78", "-days", "60",
             "-extfile", ext, "-out", again)
        line = _renew(r, lambda: _replace(chain, _read(again) +
                                          _read(root[0])),
                      "TLSCertificateChainFile " + chain, "new chain")
        assert "server 'mod_ftps test'" in line, line
        assert "serial 01" in line, line
        assert re.search(r"2 certificates, the first CN=inter, notAfter "
                         r"\w+ +\d+ [\d:]+ \d{4}", line), line
        assert "replacing 1 certificate, the first CN=inter" in line, line
        assert served_serial(r.srv) == 1
        # A SIGHUP with nothing changed says nothing of the chain.
        mark = sighup(r.srv)
        assert not ftpsd.line_with(r.srv.log_since(mark, 400), "new chain"), \
            r.srv.log_since(mark, 400)


# -- 2. and 3. OCSP: the retry time survives a restart; what a responder said ---

class CountingResponder:
    """An HTTP server on loopback that answers every POST with status and
    body, and counts the requests."""

    def __init__(self, status=500, body=b"", ctype="text/plain"):
        outer = self
        self.requests = 0
        self.lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                with outer.lock:
                    outer.requests += 1
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.url = "http://127.0.0.1:%d/ocsp" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def count(self):
        with self.lock:
            return self.requests

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _stapled_server(ctx, d, url, name):
    """The EC certificate's staple asked of url; the RSA one's read from
    good-rsa.der (a file the test rewrites to see the stapling timer
    tick)."""
    import test_stapling
    tls = test_stapling.tls_for(
        d, TLSRSACertificateFile=os.path.join(d, "leaf-rsa.pem"),
        TLSRSACertificateKeyFile=os.path.join(d, "leaf-rsa.key"),
        TLSStaplingResponder=url, TLSStaplingTimeout="5")
    return ctx.server(tls=tls, extra=[
        "FTPSStaplingFile " + os.path.join(d, "good-rsa.der")],
        shared=False, name=name)


def _ticked(srv, d):
    """Rewrite the RSA staple file and wait until the stapling timer has
    read it: a whole tick ran since (every staple is looked at in it)."""
    path = os.path.join(d, "good-rsa.der")
    mark = srv.log_mark()
    _replace(path, _read(path))
    wait_log(srv, mark, "response from " + path, "good")


def test_judgement_failed_fetch_not_repeated_by_sighup(ctx):
    """A fetch fails (the responder answers HTTP 500): the next try is due
    in 300 s, and three SIGHUPs do not bring it forward; the responder is
    asked once.  A restart that names another responder asks that one at
    once.  Before: each SIGHUP asked the responder again at its first
    tick (a SIGHUP storm hammered it)."""
    import test_stapling
    ctx.need("openssl")
    d = test_stapling.fixtures(ftpsd.free_port())
    resp = CountingResponder(500, b"busy\n")
    other = CountingResponder(500, b"busy too\n")
    try:
        srv = _stapled_server(ctx, d, resp.url, "retry")
        wait_log(srv, (0, 0), resp.url, "answered with HTTP status 500")
        assert resp.count() == 1, resp.count()
        for _ in range(3):
            sighup(srv)
            _ticked(srv, d)
        _ticked(srv, d)
        assert resp.count() == 1, \
            "the responder was asked %d times:\n%s" \
            % (resp.count(), srv.log_tail(60))

        srv.replace_conf("TLSStaplingResponder",
                         "TLSStaplingResponder " + other.url)
        mark = sighup(srv)
        wait_log(srv, mark, other.url, "answered with HTTP status 500")
        assert other.count() == 1 and resp.count() == 1, \
            (other.count(), resp.count())
    finally:
        resp.stop()
        other.stop()


def test_judgement_fetch_under_way_counts_at_restart(ctx):
    """A responder that accepts and never answers: the fetch is under way
    when SIGHUP comes, and the restart ends it.  That counts as an attempt:
    the new master does not connect again at its first ticks.  Before:
    every SIGHUP started a new fetch (a new connection)."""
    import socket
    import test_stapling
    ctx.need("openssl")
    d = test_stapling.fixtures(ftpsd.free_port())
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held = []

    def accept():
        while True:
            try:
                held.append(silent.accept()[0])
            except OSError:
                return
    threading.Thread(target=accept, daemon=True).start()
    url = "http://127.0.0.1:%d/" % silent.getsockname()[1]
    try:
        tls = test_stapling.tls_for(
            d, TLSRSACertificateFile=os.path.join(d, "leaf-rsa.pem"),
            TLSRSACertificateKeyFile=os.path.join(d, "leaf-rsa.key"),
            TLSStaplingResponder=url, TLSStaplingTimeout="60")
        srv = ctx.server(tls=tls, extra=[
            "FTPSStaplingFile " + os.path.join(d, "good-rsa.der")],
            shared=False, name="inflight")
        deadline = time.time() + DEADLINE
        while not held and time.time() < deadline:
            time.sleep(0.05)
        assert len(held) == 1, "the first fetch never connected"
        for _ in range(2):
            sighup(srv)
            _ticked(srv, d)
        _ticked(srv, d)
        assert len(held) == 1, "%d connections:\n%s" \
            % (len(held), srv.log_tail(60))
    finally:
        silent.close()
        for c in held:
            c.close()


def test_judgement_responder_answer_said(ctx):
    """A responder that answers HTTP 200 with a body that is not an OCSP
    response, or an HTTP error status, is logged as what it did, not as
    "did not answer"; one that is not there still did not answer.  Before:
    every one of them "did not answer"."""
    import test_stapling
    ctx.need("openssl")
    d = test_stapling.fixtures(ftpsd.free_port())
    page = b"<html><body>Service moved</body></html>\n"
    for status, body, ctype, want in (
            (200, page, "text/html",
             "answered with something that is not an OCSP response "
             "(%d bytes)" % len(page)),
            (500, b"oops", "text/plain",
             "answered with HTTP status 500 (Internal Server Error)"),
            (200, b"\x30\x03\x02\x01\x07", "application/ocsp-response",
             "answered with something that is not an OCSP response "
             "(5 bytes)")):
        resp = CountingResponder(status, body, ctype)
        try:
            srv = _stapled_server(ctx, d, resp.url, "said")
            line = wait_log(srv, (0, 0), resp.url, want)
            assert "did not answer" not in line, line
            assert "no staple is sent" in line, line
            srv.stop()
        finally:
            resp.stop()
    dead = "http://127.0.0.1:%d/" % ftpsd.free_port()
    srv = _stapled_server(ctx, d, dead, "dead")
    wait_log(srv, (0, 0), dead, "did not answer")


# -- 5. the daily expiry warning, a day later by the daemon's clock ----------------

def _libfaketime():
    import glob
    found = sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1"))
    if not found:
        raise ftpsd.Skip("libfaketime not installed (Debian package faketime)")
    return found[0]


def _warnings(srv, serial):
    return [line for line in
            ftpsd.read_text(srv.stderr_path).splitlines()
            if "serial %02X" % serial in line and "renew it" in line]


def test_judgement_expiry_warning_daily(ctx):
    """FTPSCertificateExpiryWarning warns at startup and then daily: the
    daemon runs under libfaketime (LD_PRELOAD, its clock read from a file
    at each look), and the test moves its clock a day on.  The next look
    of the watcher warns again, one day fewer left; the looks after it do
    not (renewals seen by later looks prove they ran)."""
    lib = _libfaketime()
    if ftpsd.sanitized():
        # Preloaded after the ASan runtime, libfaketime hangs at start-up
        # (Debian 12: even /bin/date never ends): proftpd never comes up.
        raise ftpsd.Skip("libfaketime does not run under AddressSanitizer")
    r = Renewal(ctx, "watch", extra=["FTPSCertificateExpiryWarning 10"],
                name="daily")
    clock = os.path.join(r.srv.dir, "faketime")
    with open(clock, "w") as f:
        f.write("+0\n")
    os.chmod(clock, 0o644)
    preload = [p for p in (ftpsd.daemon_env().get("LD_PRELOAD"), lib) if p]
    r.srv.launcher = ["env", "LD_PRELOAD=" + ":".join(preload),
                      "FAKETIME_TIMESTAMP_FILE=" + clock,
                      "FAKETIME_NO_CACHE=1",
                      # real file times: the watcher compares them
                      "NO_FAKE_STAT=1",
                      "FAKETIME_DONT_FAKE_MONOTONIC=1"]
    cert2, key2 = _dated_pair(r, 2, -1, 5.5)    # 5 days and a half left
    _write(r.key, key2)
    _write(r.cert, cert2)
    r.srv.start()
    first = _warnings(r.srv, 2)
    assert len(first) == 1 and "expires in 5 days" in first[0], \
        ftpsd.read_text(r.srv.stderr_path)[-3000:]

    # A day later by the daemon's clock.
    mark = r.srv.log_mark()
    with open(clock + ".new", "w") as f:
        f.write("+1d\n")
    os.chmod(clock + ".new", 0o644)
    os.rename(clock + ".new", clock)
    line = wait_log(r.srv, mark, "serial 02", "renew it")
    assert "expires in 4 days" in line, line

    # Later looks: two renewals, to certificates that expire as soon, are
    # seen by two looks; each new certificate is warned about once, when
    # taken, and the old one not again (its next warning is due tomorrow).
    for serial in (3, 4):
        cert, key = _dated_pair(r, serial, -1, 4.5)
        _replace(r.key, key)
        _replace(r.cert, cert)
        wait_log(r.srv, mark, "new certificate loaded", "serial %02X" % serial)
    wait_serial(r.srv, 4, "renewals after the warning")
    assert len(_warnings(r.srv, 2)) == 2, _warnings(r.srv, 2)
    assert len(_warnings(r.srv, 3)) == 1, _warnings(r.srv, 3)


# -- 6. a renewed CRL is taken without a signal -------------------------------------

def _empty_crl(path):
    """A CRL of the test root CA that revokes nobody, in PEM, issued an
    hour before the fixture ca.crl (which revokes mallory): that one is a
    renewal of it, not an older CRL (refused: test_renewal_attacks2)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    ca = x509.load_pem_x509_certificate(_read(ftpsd.cert("ca.pem")))
    key = serialization.load_pem_private_key(_read(ftpsd.cert("ca.key")),
                                             None)
    now = datetime.datetime.now(datetime.timezone.utc)
    issued = x509.load_pem_x509_crl(_read(ftpsd.cert("ca.crl"))).last_update
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(issued - datetime.timedelta(hours=1))
           .next_update(now + datetime.timedelta(days=7))
           .sign(key, hashes.SHA256()))
    _write(path, crl.public_bytes(serialization.Encoding.PEM))
    os.chmod(path, 0o644)


@contextlib.contextmanager
def _watched_crl(ctx, how, extra=(), **server_kw):
    """TLSVerifyClient on against a CRL file that revokes nobody yet; the
    watcher looks every second (how "watch") or never (how "sighup");
    extra lines and test_clientcert._server's keywords (users,
    auth_order) as given.  Yields (test_clientcert, srv, crl path)."""
    import test_clientcert as tc
    d = tempfile.mkdtemp(prefix="crl-", dir=ftpsd.tmp_root())
    os.chmod(d, 0o755)
    try:
        crl = os.path.join(d, "crl.pem")
        _empty_crl(crl)
        srv = tc._server(ctx, tc._verify("on", TLSCARevocationFile=crl),
                         extra=["FTPSCertificateWatch %s"
                                % ("1" if how == "watch" else "off")] +
                         list(extra), **server_kw)
        yield tc, srv, crl
    finally:
        shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def _crl_server(ctx, who):
    """A server verifying client certificates against a watched CRL file
    (FTPSCertificateWatch 1) that revokes nobody yet, who accepted; yields
    (test_clientcert, srv, path of the CRL file)."""
    with _watched_crl(ctx, "watch") as (tc, srv, crl):
        tc.assert_accepted(srv, who, what="a CRL that revokes nobody: ")
        yield tc, srv, crl


def _crl_write(crl, data):
    _replace(crl, data)
    os.chmod(crl, 0o644)


BROKEN_CRL = b"-----BEGIN X509 CRL-----\nnot base64\n"


def test_judgement_crl_renewal_taken_without_signal(ctx):
    """TLSCARevocationFile is watched like the certificates: a new CRL that
    revokes mallory, renamed over the one that did not, is read by the
    watcher (the log names the directive and the file) and mallory's
    client certificate is refused from then on, with no signal; alice is
    still accepted.  A CRL file that does not parse changes nothing.
    Before: the CRL was read only at a restart."""
    with _crl_server(ctx, "mallory") as (tc, srv, crl):
        # A broken CRL: the last good contexts stay.
        mark = srv.log_mark()
        _crl_write(crl, BROKEN_CRL)
        wait_log(srv, mark, "TLSCARevocationFile " + crl)
        tc.assert_accepted(srv, "mallory", what="a broken CRL: ")

        mark = srv.log_mark()
        _crl_write(crl, _read(ftpsd.cert("ca.crl")))
        wait_log(srv, mark, "TLSCARevocationFile " + crl, "read again")
        tc.assert_refused(srv, "mallory", what="the CRL that revokes her: ",
                          alert=tc.REVOKED)
        tc.assert_accepted(srv, "alice", what="the new CRL: ")


def _served(tc, srv, who):
    """"ok" when who's session got as far as USER; else how it ended."""
    try:
        status, how = tc.control(srv, who)
    except EOFError:
        return "closed before the banner"
    if status == "ok":
        how.close()
    return status


def refused_until_our_crl(tc, srv, crl, what):
    """alice and mallory are refused now; once the fixture CA's own CRL
    (which revokes mallory) is written to crl, the watcher takes it, with
    no signal: alice is served, mallory refused."""
    for who in ("alice", "mallory"):
        status = _served(tc, srv, who)
        assert status != "ok", "%s: %s served" % (what, who)

    _crl_write(crl, _read(ftpsd.cert("ca.crl")))
    deadline = time.time() + DEADLINE
    while _served(tc, srv, "alice") != "ok":
        assert time.time() < deadline, "%s, then our CRL: the watcher " \
            "did not take it, alice still refused" % what
        time.sleep(0.5)
    tc.assert_refused(srv, "mallory", what="%s, then our CRL: " % what,
                      alert=tc.REVOKED)


def test_judgement_broken_crl_at_restart_fails_closed(ctx):
    """A CRL that does not parse at a SIGHUP cannot be judged against the
    last good one (a restart rebuilds every context from the files), and
    verifying client certificates without it would take revoked ones: the
    server refuses its sessions, the log names the directive and the file,
    and the daemon serves on.  Once the file parses again the watcher
    takes it, with no signal: mallory (revoked) is refused, alice served."""
    with _crl_server(ctx, "alice") as (tc, srv, crl):
        _crl_write(crl, BROKEN_CRL)
        mark = sighup(srv)
        wait_log(srv, mark, "TLSCARevocationFile", crl)
        refused_until_our_crl(tc, srv, crl, "a broken CRL at a restart")
        wait_log(srv, mark, "no usable certificate or CA/CRL file",
                 "session refused")
        tc.assert_accepted(srv, "alice", what="the CRL read again: ")
