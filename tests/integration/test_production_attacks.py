"""Production failure modes of certificate renewal, stapling and ticket
keys, tried against the real daemon (issue 14, outside review).  Each test
here failed on the code before its fix."""

import os

import ftpsd
from clients import context, peer_cert_der
from test_cert_reload import (Renewal, _read, _write, _replace, _serial_of,
                              served_serial, wait_serial, wait_log, _run,
                              sighup,
                              DEADLINE)
import time


def _lines(path):
    try:
        with open(path) as f:
            return len(f.read().splitlines())
    except FileNotFoundError:
        return 0


def _plain_pair(r, serial):
    """A certificate and its unencrypted key: (cert PEM, key PEM)."""
    k = r.pki.key("v%d" % serial)
    return _read(r.pki.cert("v%d" % serial, k, serial)), _read(k)


def _serial_at(srv, port):
    return _serial_of(peer_cert_der(srv, context(), port=port))


def _wait_serial_at(srv, port, want, what):
    deadline = time.time() + DEADLINE
    seen = None
    while time.time() < deadline:
        assert srv.running(), "%s: the daemon exited:\n%s" \
            % (what, srv.log_tail(40))
        seen = _serial_at(srv, port)
        if seen == want:
            return
        time.sleep(0.2)
    raise AssertionError("%s: serial %s, want %s:\n%s"
                         % (what, seen, want, srv.log_tail(40)))


def test_attack_hanging_provider_not_asked_at_every_look(ctx):
    """A renewed encrypted key whose TLSPassPhraseProvider hangs: the
    master waits for it (10 seconds, accepting nobody meanwhile) once, not
    again at every look of the watcher (FTPSCertificateWatch 1 made the
    daemon unreachable for good: each look hung 10 s, clients timed out).
    The last good certificate is served; changed files, once the provider
    answers, are taken."""
    r = Renewal(ctx, "watch", passphrase="first", name="hang")
    runs = os.path.join(r.srv.dir, "runs.txt")
    mode = os.path.join(r.srv.dir, "mode")
    with open(mode, "w") as f:
        f.write("first\n")
    provider = os.path.join(r.srv.dir, "provider.sh")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\necho run >> %s\n"
                "if grep -q hang %s; then exec sleep 3600; fi\n"
                "cat %s\n" % (runs, mode, mode))
    os.chmod(provider, 0o755)
    port = ftpsd.free_port()
    vcert = os.path.join(r.live, "vhost.pem")
    vkey = os.path.join(r.live, "vhost.key")
    c, k = _plain_pair(r, 11)
    _write(vcert, c)
    _write(vkey, k)
    # The key in the certificate's file: one rename renews both, so no
    # look sees half a renewal (which would ask the provider once more).
    _write(r.cert, _read(r.cert) + _read(r.key))
    r.srv.replace_conf("TLSECCertificateKeyFile", "# key in " + r.cert)
    r.srv.append_conf([
        "TLSPassPhraseProvider " + provider,
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

    with open(mode, "w") as f:
        f.write("hang\n")
    mark = r.srv.log_mark()
    cert2, key2 = r.new_pair(2, passphrase="second")
    _replace(r.cert, cert2 + key2)
    wait_log(r.srv, mark, r.cert, "gave no passphrase")
    hung = _lines(runs)

    # The watcher looks again (it takes the vhost's renewal): the main
    # server's files, unchanged since the provider hung, are left alone.
    c, k = _plain_pair(r, 12)
    _replace(vkey, k)
    _replace(vcert, c)
    _wait_serial_at(r.srv, port, 12, "the vhost's renewal")
    assert _lines(runs) == hung, "the hung provider was run again (%d " \
        "runs, %d when it hung): each look holds the master up for 10 s" \
        % (_lines(runs), hung)
    assert served_serial(r.srv) == 1

    # The provider answers again, and the file is written once more: taken.
    with open(mode, "w") as f:
        f.write("second\n")
    _replace(r.cert, cert2 + key2)
    deadline = time.time() + DEADLINE
    while served_serial(r.srv) != 2:
        assert time.time() < deadline, r.srv.log_tail(40)
        time.sleep(0.2)


def _named_pair(r, serial, cn, *dns):
    """A self-signed certificate for cn (and dns as subjectAltNames) and
    its key: (cert PEM, key PEM)."""
    k = r.pki.key("n%d" % serial)
    crt = os.path.join(r.pki.dir, "n%d.crt" % serial)
    san = ["-addext", "subjectAltName=" + ",".join("DNS:" + d for d in dns)] \
        if dns else []
    _run("openssl", "req", "-x509", "-new", "-key", k, "-subj", "/CN=" + cn,
         *san, "-set_serial", str(serial), "-days", "30", "-out", crt)
    return _read(crt), _read(k)


def _renew_to(r, pair, serial):
    mark = r.srv.log_mark()
    _replace(r.key, pair[1])
    _replace(r.cert, pair[0])
    wait_serial(r.srv, serial, "renewal to serial %d" % serial)
    return wait_log(r.srv, mark, "new certificate loaded", "serial %02X"
                    % serial), mark


def test_attack_renewal_for_another_name_is_said(ctx):
    """A renewal whose certificate names another host (certbot's live/
    link of another domain, a panel's mix-up) passes every check and is
    served: clients checking the host name then refuse every session, and
    the log said only "new certificate loaded".  Now a warning names the
    host name that the new certificate lost; a renewal for the same names
    (or more) says nothing of the kind."""
    r = Renewal(ctx, "watch", name="names").start()
    lost = "does not name"

    # the common name alone (no subjectAltName): localhost, then another
    _, mark = _renew_to(r, _named_pair(r, 2, "localhost"), 2)
    _, mark = _renew_to(r, _named_pair(r, 3, "other.example"), 3)
    line = wait_log(r.srv, mark, lost)
    assert "'localhost'" in line and r.cert in line, line

    # subjectAltNames: a wildcard kept, then lost; more names say nothing
    _renew_to(r, _named_pair(r, 4, "x", "ftp.example.org", "*.example.org"),
              4)
    _, mark = _renew_to(r, _named_pair(r, 5, "y", "*.example.org",
                                       "ftp.example.org", "example.org"), 5)
    _, mark2 = _renew_to(r, _named_pair(r, 6, "z", "ftp.example.org",
                                        "example.org"), 6)
    line = wait_log(r.srv, mark2, lost)
    assert "'*.example.org'" in line, line
    text = r.srv.log_since(mark, 400)
    assert len([x for x in text.splitlines() if lost in x]) == 1, text


def test_attack_staple_file_swapped_for_fifo(ctx):
    """FTPSStaplingFile replaced by a named pipe (a job that streams the
    response, a mistaken mkfifo): the master opened it at its next tick
    and waited for a writer for good, accepting no session.  Now it is
    refused as not a regular file, and the daemon serves on (with the
    staple it had, still valid)."""
    import test_stapling as st
    ctx.need("openssl")
    d = st.fixtures(ftpsd.free_port())
    staple = os.path.join(d, "staple.der")
    with open(staple, "wb") as f:
        f.write(_read(os.path.join(d, "good.der")))
    srv = ctx.server(tls=st.tls_for(d, FTPSStaplingFile=staple),
                     shared=False)
    assert st.GOOD in st.status(srv, "1.3")

    tmp = staple + ".fifo"
    os.mkfifo(tmp, 0o600)
    os.rename(tmp, staple)
    st.wait_log(srv, "not a regular file")
    assert srv.running()
    for version in ("1.2", "1.3"):
        assert st.GOOD in st.status(srv, version)
    st.ftplib_works(srv)


def _foreign_ticket_on_data(ctx, version, rotate):
    """Session B's data connection offers session A's TLS session (same
    server, same ticket keys, same user): 425, nothing sent, under
    TLS 1.2 and 1.3, also after ticket keys rotated and a SIGHUP."""
    from test_data_promises import _session_ctrl, _data_retr, _cctx
    from test_cert_reload import sighup
    extra = ["TLSSessionTicketKeys age 10 count 3"] if rotate else []
    srv = ctx.server(tls={"TLSRequired": "auth+data"}, shared=False,
                     extra=extra)
    srv.home_file("o.bin", b"x" * 5000)
    shared = _cctx(version)
    other = _session_ctrl(srv, version, tls_ctx=shared)
    try:
        foreign = other.sock.session
        assert foreign is not None
        if rotate:
            mark = srv.log_mark()
            line = wait_log(srv, mark, "session ticket key", "made")
            assert "start" not in line, line
            sighup(srv)
        r = _session_ctrl(srv, version, tls_ctx=shared)
        try:
            reply, got, _ = _data_retr(r, "o.bin", shared, foreign)
            assert reply[0] == 425 and got == b"", \
                "TLS %s: another session's ticket on a data connection: " \
                "%r, %d bytes" % (version, reply, len(got))
            # and the session's own data connections still work
            reply, got, _ = _data_retr(r, "o.bin", shared, r.sock.session)
            assert reply[0] == 226 and got == b"x" * 5000, reply
        finally:
            r.close()
    finally:
        other.close()


def test_attack_foreign_ticket_on_data_connection(ctx):
    for version in ("1.2", "1.3"):
        for rotate in (False, True):
            _foreign_ticket_on_data(ctx, version, rotate)


def test_attack_hanging_provider_asked_once_per_reload(ctx):
    """Three servers share one encrypted key (a wildcard certificate) and
    TLSPassPhraseProvider hangs at a SIGHUP: the master waited 10 seconds
    for each server in turn (30 s with no session accepted; hosting setups
    have hundreds of vhosts).  Now the provider is asked once per reload;
    every server keeps its last good certificate."""
    r = Renewal(ctx, "sighup", passphrase="first", name="hang3")
    runs = os.path.join(r.srv.dir, "runs.txt")
    mode = os.path.join(r.srv.dir, "mode")
    with open(mode, "w") as f:
        f.write("first\n")
    provider = os.path.join(r.srv.dir, "provider.sh")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\necho run >> %s\n"
                "if grep -q hang %s; then exec sleep 3600; fi\n"
                "cat %s\n" % (runs, mode, mode))
    os.chmod(provider, 0o755)
    ports = [ftpsd.free_port(), ftpsd.free_port()]
    conf = ["TLSPassPhraseProvider " + provider]
    for port in ports:
        conf += ["<VirtualHost 127.0.0.1>", "  Port %d" % port,
                 "  TLSEngine on", "  TLSRequired off",
                 "  TLSECCertificateFile " + r.cert,
                 "  TLSECCertificateKeyFile " + r.key,
                 "  AuthUserFile " + os.path.join(r.srv.dir, "passwd"),
                 "</VirtualHost>"]
    r.srv.append_conf(conf)
    r.start()
    for port in ports:
        r.srv.wait_listening(port)
        assert _serial_at(r.srv, port) == 1

    with open(mode, "w") as f:
        f.write("hang\n")
    before = _lines(runs)
    mark = sighup(r.srv)
    wait_log(r.srv, mark, "keeps its last good certificate")
    for port in ports:
        r.srv.wait_listening(port)
        assert _serial_at(r.srv, port) == 1
    assert served_serial(r.srv) == 1
    assert _lines(runs) == before + 1, "the hung provider was run %d " \
        "times in one restart (10 s each, no session accepted meanwhile)" \
        % (_lines(runs) - before)


def test_attack_expiry_warning_last_day(ctx):
    """A certificate with less than a day left was warned about as
    "expires in 0 days", which reads as nothing to do; it is now
    "expires within a day"."""
    import datetime
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    r = Renewal(ctx, "sighup", name="lastday")
    k = r.pki.key("k5")
    key = serialization.load_pem_private_key(_read(k), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(5)
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=12))
            .sign(key, hashes.SHA256()))
    _write(r.key, _read(k))
    _write(r.cert, cert.public_bytes(serialization.Encoding.PEM))
    r.srv.start()
    text = ftpsd.read_text(r.srv.stderr_path)
    line = ftpsd.line_with(text, "serial 05", "renew it")
    assert line and "expires within a day" in line, text[-3000:]
    assert not ftpsd.line_with(text, "0 days"), text[-3000:]


def _ca(d, name, signer=None):
    """An EC CA certificate (self-signed, or signed by signer's)."""
    key = os.path.join(d, name + ".key")
    crt = os.path.join(d, name + ".pem")
    _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-out", key)
    if signer is None:
        _run("openssl", "req", "-x509", "-new", "-key", key, "-subj",
             "/CN=" + name, "-days", "30", "-addext",
             "basicConstraints=critical,CA:TRUE", "-out", crt)
    else:
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("basicConstraints=critical,CA:TRUE\n")
        csr = crt + ".csr"
        _run("openssl", "req", "-new", "-key", key, "-subj", "/CN=" + name,
             "-out", csr)
        _run("openssl", "x509", "-req", "-in", csr, "-CA", signer[0],
             "-CAkey", signer[1], "-set_serial", "77", "-days", "30",
             "-extfile", ext, "-out", crt)
    return crt, key


def _leaf(d, name, serial, signer):
    key = os.path.join(d, name + ".key")
    crt = os.path.join(d, name + ".pem")
    _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-out", key)
    csr = crt + ".csr"
    _run("openssl", "req", "-new", "-key", key, "-subj", "/CN=localhost",
         "-out", csr)
    _run("openssl", "x509", "-req", "-in", csr, "-CA", signer[0], "-CAkey",
         signer[1], "-set_serial", str(serial), "-days", "20", "-out", crt)
    return crt, key


def test_attack_certbot_layout_new_intermediate(ctx):
    """certbot's layout (archive/ with 0600 keys in a 0700 directory,
    live/ links moved in certbot's order: cert, privkey, chain) for a
    renewal that also changes the intermediate (as Let's Encrypt's R10 to
    R11): the server serves the old pair with the old intermediate until
    every link moved, then the new pair with the new intermediate (seen
    by a verifying client with only the root), and never died."""
    from clients import s_client
    from test_cert_reload import _link
    r = Renewal(ctx, "watch", name="certbot")
    d = r.pki.dir
    root = _ca(d, "root")
    i1 = _ca(d, "inter1", root)
    i2 = _ca(d, "inter2", root)
    arch = os.path.join(r.srv.dir, "archive", "ftp")
    os.makedirs(arch, 0o700)
    live = os.path.join(r.srv.dir, "lv", "ftp")
    os.makedirs(live, 0o755)
    for n, (leaf, inter) in enumerate(((_leaf(d, "l1", 1, i1), i1),
                                       (_leaf(d, "l2", 2, i2), i2)), 1):
        _write(os.path.join(arch, "cert%d.pem" % n), _read(leaf[0]))
        _write(os.path.join(arch, "privkey%d.pem" % n), _read(leaf[1]))
        _write(os.path.join(arch, "chain%d.pem" % n), _read(inter[0]))
    names = ("cert", "privkey", "chain")
    for k in names:
        _link("../../archive/ftp/%s1.pem" % k, os.path.join(live, k + ".pem"))
    r.srv.replace_conf("TLSECCertificateFile", "TLSECCertificateFile " +
                       os.path.join(live, "cert.pem"))
    r.srv.replace_conf("TLSECCertificateKeyFile", "TLSECCertificateKeyFile "
                       + os.path.join(live, "privkey.pem"))
    r.srv.append_conf(["TLSCertificateChainFile " +
                       os.path.join(live, "chain.pem")])
    r.srv.start()

    def verified():
        rc, out = s_client(r.srv, lines=("QUIT",),
                           extra=("-CAfile", root[0], "-verify_return_error",
                                  "-showcerts"))
        assert "Verify return code: 0 (ok)" in out, out[-3000:]
        return out

    assert "CN = inter1" in verified() or "CN=inter1" in verified()
    assert served_serial(r.srv) == 1
    for k in names:
        _link("../../archive/ftp/%s2.pem" % k, os.path.join(live, k + ".pem"))
        time.sleep(1.5)            # let a look see each step (not needed)
        assert r.srv.running()
        s = served_serial(r.srv)
        assert s == (2 if k == "chain" else 1) or k == "chain", (k, s)
    wait_serial(r.srv, 2, "all links moved")
    out = verified()
    assert "inter2" in out and "inter1" not in out, out[-3000:]
