"""Certificate renewal and OCSP stapling attacked a third time (issue 14,
outside review against the real daemon after the per-kind judgement, the
"unservable" test handshake, the OCSP retry kept across SIGHUP and the
watched CA/CRL files were merged).  Each test that names a defect failed
on the code before its fix.  No timing thresholds: waits are for log lines
or served serials, with generous deadlines."""

import os
import time

import ftpsd
from test_cert_reload import Renewal, _replace, wait_log, sighup
from test_renewal_attacks import _curve_pair
from test_renewal_judgement import _stapled_server


def test_renewal2_unservable_judged_with_client_verification(ctx):
    """TLSVerifyClient on (a client certificate required): the test
    handshake that judges a renewal has no client certificate, so it
    failed with the last good material as with the new, and a brainpool
    renewal, with which no client can be served, was taken ("new
    certificate loaded"): an outage for every client, alice included.
    Now the test handshake does not ask for a client certificate: the
    brainpool renewal is refused, alice still logs in, and a good renewal
    is then taken."""
    from test_clientcert import assert_accepted
    from ftpsd import cert
    r = Renewal(ctx, "watch", name="bpverify", extra=[
        "TLSVerifyClient on", "TLSCACertificateFile " + cert("ca.pem")])
    r.srv.start()
    for v in ("1.2", "1.3"):
        assert_accepted(r.srv, "alice", v, "at start: ")
    c, k = _curve_pair(r, 2, "brainpoolP256r1")
    mark = r.srv.log_mark()
    _replace(r.key, k)
    _replace(r.cert, c)
    line = wait_log(r.srv, mark, "TLSECCertificateFile " + r.cert,
                    "serial 02")
    assert "is not used" in line and "handshake" in line, line
    for v in ("1.2", "1.3"):
        assert_accepted(r.srv, "alice", v, "after a brainpool renewal: ")
    c, k = _curve_pair(r, 3, "secp384r1")
    mark = r.srv.log_mark()
    _replace(r.key, k)
    _replace(r.cert, c)
    wait_log(r.srv, mark, "new certificate loaded (serial 03")
    for v in ("1.2", "1.3"):
        assert_accepted(r.srv, "alice", v, "after a P-384 renewal: ")


class RawResponder:
    """A loopback responder that reads the request head and answers with
    head + body, then closes (a body delimited by the close, no
    Content-Length, when head says none)."""

    def __init__(self, head, body):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = "http://127.0.0.1:%d/ocsp" % self.sock.getsockname()[1]

        def serve():
            while True:
                try:
                    c = self.sock.accept()[0]
                except OSError:
                    return
                try:
                    c.settimeout(10)
                    data = b""
                    while b"\r\n\r\n" not in data:
                        more = c.recv(4096)
                        if not more:
                            break
                        data += more
                    c.sendall(head + body)
                except OSError:
                    pass
                finally:
                    c.close()
        threading.Thread(target=serve, daemon=True).start()

    def stop(self):
        self.sock.close()


def test_renewal2_ocsp_body_of_exactly_the_limit(ctx):
    """A responder's 200 body of exactly FTPS_OCSP_MAX_RESPONSE (64 KiB)
    bytes is within the limit: it is judged on what it holds (here: not an
    OCSP response, 65536 bytes), with or without a Content-Length.  Was:
    "did not answer: ;" (the reason was printed with a length of 0), for
    the pipe from the fetching child carries a one-byte tag before the
    body and the master's buffer had room for the limit plus one only.
    One byte more is too large, and the log says so."""
    import test_stapling
    ctx.need("openssl")
    d = test_stapling.fixtures(ftpsd.free_port())
    for size, length, want in (
            (65536, True, "answered with something that is not an OCSP "
             "response (65536 bytes)"),
            (65536, False, "answered with something that is not an OCSP "
             "response (65536 bytes)"),
            (65537, True, "max resp len exceeded"),
            (65537, False, "did not answer: the response is too large")):
        head = (b"HTTP/1.0 200 OK\r\n"
                b"Content-Type: application/ocsp-response\r\n")
        if length:
            head += b"Content-Length: %d\r\n" % size
        resp = RawResponder(head + b"\r\n", b"x" * size)
        try:
            srv = _stapled_server(ctx, d, resp.url, "limit%d" % size)
            line = wait_log(srv, (0, 0), resp.url, "no staple is sent")
            assert want in line, (size, length, line)
            srv.stop()
        finally:
            resp.stop()


def _stranger_crl(path):
    """A valid CRL, revoking nobody, from a CA that is not ours."""
    import datetime
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stranger")])
    crl = (x509.CertificateRevocationListBuilder().issuer_name(name)
           .last_update(now - datetime.timedelta(hours=1))
           .next_update(now + datetime.timedelta(days=7))
           .sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM)


def _our_crl(hours_ago):
    """A CRL of the test root CA that revokes nobody, issued hours_ago."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from test_cert_reload import _read
    ca = x509.load_pem_x509_certificate(_read(ftpsd.cert("ca.pem")))
    key = serialization.load_pem_private_key(_read(ftpsd.cert("ca.key")),
                                             None)
    now = datetime.datetime.now(datetime.timezone.utc)
    crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
           .last_update(now - datetime.timedelta(hours=hours_ago))
           .next_update(now + datetime.timedelta(days=7))
           .sign(key, hashes.SHA256()))
    return crl.public_bytes(serialization.Encoding.PEM)


def test_renewal2_crl_of_another_ca_keeps_revocations(ctx):
    """The watched CRL file (revoking mallory) is replaced by a valid CRL
    of another CA (a panel that copies the wrong file).  A CA for which no
    CRL is configured is not checked (as with mod_tls), so taking it would
    accept mallory again, without a signal: a renewal of the CRL must not
    drop the CRL of an issuer the last good file had.  Was: "read again",
    and mallory logged in.  Now the file is refused (the log names the
    directive, the file and the issuer) and mallory stays refused; at a
    SIGHUP, which rebuilds every context from the files, the server
    refuses its sessions rather than that (as for a CRL that does not
    parse).  The right CRL is then taken by the watcher; a CRL of our CA
    issued earlier than the last good one (a stale copy) is refused
    likewise."""
    from test_renewal_judgement import (_crl_server, _crl_write,
                                        refused_until_our_crl)
    from test_cert_reload import _read
    with _crl_server(ctx, "alice") as (tc, srv, crl):
        _crl_write(crl, _read(ftpsd.cert("ca.crl")))
        mark = srv.log_mark()
        wait_log(srv, mark, "TLSCARevocationFile " + crl, "read again")
        tc.assert_refused(srv, "mallory", what="our CRL: ", alert=tc.REVOKED)

        mark = srv.log_mark()
        _crl_write(crl, _stranger_crl(crl))
        line = wait_log(srv, mark, "TLSCARevocationFile " + crl)
        assert "read again" not in line, line
        tc.assert_refused(srv, "mallory", what="another CA's CRL: ",
                          alert=tc.REVOKED)
        tc.assert_accepted(srv, "alice", what="another CA's CRL: ")
        assert "holds no CRL of" in line and "CN=" in line, line

        mark = sighup(srv)
        wait_log(srv, mark, "TLSCARevocationFile " + crl, "holds no CRL of")
        refused_until_our_crl(tc, srv, crl, "another CA's CRL at a restart")

        # A stale copy: an older CRL of our CA that revokes nobody.
        mark = srv.log_mark()
        _crl_write(crl, _our_crl(hours_ago=48))
        line = wait_log(srv, mark, "TLSCARevocationFile " + crl)
        assert "holds only an older CRL of" in line, line
        tc.assert_refused(srv, "mallory", what="a stale CRL: ",
                          alert=tc.REVOKED)
        tc.assert_accepted(srv, "alice", what="a stale CRL: ")


def _pki_chain(d):
    """A root, an intermediate and a localhost leaf (serial 1) it issued,
    and the intermediate again with the same name and key but expired (a
    stale copy of it): paths of root.pem, leaf.pem, leaf.key, inter.pem,
    inter-expired.pem."""
    import datetime
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def build(subject, pub, issuer, signer, serial, start, end, ca):
        b = (x509.CertificateBuilder().subject_name(name(subject))
             .issuer_name(name(issuer)).public_key(pub)
             .serial_number(serial).not_valid_before(start)
             .not_valid_after(end)
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                            critical=True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost")]), critical=False)
        return b.sign(signer, hashes.SHA256())

    rk, ik, lk = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = build("root", rk.public_key(), "root", rk, 10, now - day,
                 now + 30 * day, True)
    inter = build("inter", ik.public_key(), "root", rk, 11, now - day,
                  now + 30 * day, True)
    stale = build("inter", ik.public_key(), "root", rk, 12, now - 60 * day,
                  now - day, True)
    leaf = build("localhost", lk.public_key(), "inter", ik, 1, now - day,
                 now + 20 * day, False)
    out = {}
    pem = serialization.Encoding.PEM
    for fn, obj in (("root.pem", root), ("inter.pem", inter),
                    ("inter-expired.pem", stale), ("leaf.pem", leaf)):
        out[fn] = os.path.join(d, fn)
        with open(out[fn], "wb") as f:
            f.write(obj.public_bytes(pem))
    out["inter.key"] = os.path.join(d, "inter.key")
    with open(out["inter.key"], "wb") as f:
        f.write(ik.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))
    out["leaf.key"] = os.path.join(d, "leaf.key")
    with open(out["leaf.key"], "wb") as f:
        f.write(lk.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()))
    return out


def _verified_serial(srv, root):
    """The serial a client that verifies against root (no name check) is
    served; raises when the chain does not verify."""
    import ssl
    from clients import peer_cert_der
    from test_cert_reload import _serial_of
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    c.check_hostname = False
    c.load_verify_locations(root)
    return _serial_of(peer_cert_der(srv, c))


def test_renewal2_expired_intermediate_in_chain_refused(ctx):
    """The chain file is replaced by a stale copy of the intermediate
    (same name and key, so it still "issued" the certificate, but
    expired): every client that verifies fails from then on.  Was: taken
    ("new chain loaded"), an outage.  Now a chain certificate that is not
    valid now is a problem of the chain of its own: refused (by the watcher
    and at a SIGHUP) while the served chain is good, the log naming
    TLSCertificateChainFile; a good chain is then taken.  A start with the
    stale intermediate serves it (as any first start) and warns."""
    from test_cert_reload import _read, _write
    r = Renewal(ctx, "watch", name="interexp")
    p = _pki_chain(r.srv.dir)
    _write(r.cert, _read(p["leaf.pem"]))
    _write(r.key, _read(p["leaf.key"]))
    chain = os.path.join(r.live, "chain.pem")
    _write(chain, _read(p["inter.pem"]))
    r.srv.append_conf(["TLSCertificateChainFile " + chain])
    r.start()
    assert _verified_serial(r.srv, p["root.pem"]) == 1

    mark = r.srv.log_mark()
    _replace(chain, _read(p["inter-expired.pem"]))
    line = wait_log(r.srv, mark, "TLSCertificateChainFile " + chain)
    assert "is not used" in line and "expired" in line, line
    assert _verified_serial(r.srv, p["root.pem"]) == 1
    mark = sighup(r.srv)
    line = wait_log(r.srv, mark, "TLSCertificateChainFile " + chain,
                    "is not used")
    assert _verified_serial(r.srv, p["root.pem"]) == 1

    # The good intermediate, with the root after it: taken.
    mark = r.srv.log_mark()
    _replace(chain, _read(p["inter.pem"]) + _read(p["root.pem"]))
    wait_log(r.srv, mark, "TLSCertificateChainFile " + chain, "new chain")
    assert _verified_serial(r.srv, p["root.pem"]) == 1

    r.srv.stop()
    _write(chain, _read(p["inter-expired.pem"]))
    mark = r.srv.log_mark()
    r.srv.start()
    assert ftpsd.line_with(r.srv.log_since(mark, 400),
                           "its issuer, has expired", "clients that verify")


def _same_cert_two_responders(ctx, d, main_url, vhost_url):
    """The EC leaf served by the main server (staple asked of main_url)
    and by an SNI vhost (asked of vhost_url); the RSA one's staple read
    from good-rsa.der, for _ticked()."""
    import test_stapling
    tls = test_stapling.tls_for(
        d, TLSRSACertificateFile=os.path.join(d, "leaf-rsa.pem"),
        TLSRSACertificateKeyFile=os.path.join(d, "leaf-rsa.key"),
        TLSStaplingResponder=main_url, TLSStaplingTimeout="5")
    srv = ctx.server(tls=tls, extra=[
        "FTPSStaplingFile " + os.path.join(d, "good-rsa.der")],
        shared=False, name="tworesp", start=False)
    srv.append_conf([
        "<VirtualHost 127.0.0.1>",
        "  Port %d" % srv.port,
        '  ServerName "vhost v"',
        "  ServerAlias v.example",
        "  TLSEngine on",
        "  TLSRequired on",
        "  TLSECCertificateFile " + os.path.join(d, "leaf.pem"),
        "  TLSECCertificateKeyFile " + os.path.join(d, "leaf.key"),
        "  TLSCertificateChainFile " + os.path.join(d, "ca.pem"),
        "  TLSStapling on",
        "  TLSStaplingResponder " + vhost_url,
        "</VirtualHost>"])
    srv.start()
    return srv


def test_renewal2_kept_response_beside_a_retry_of_the_same_cert(ctx):
    """One certificate served by two servers that ask two responders: one
    fails (its retry time is kept across SIGHUP), the other gave a good
    response (kept too).  Was: at the restart, the server with the good
    response met the other's retry entry first (the same certificate, not
    its responder) and stopped looking: it lost its response and asked its
    responder again at the first tick.  Now each finds its own: the good
    responder is asked once, however many SIGHUPs."""
    from test_renewal_judgement import CountingResponder, _ticked
    from test_cert_reload import _read
    import test_stapling
    ctx.need("openssl")
    d = test_stapling.fixtures(ftpsd.free_port())
    good = _read(os.path.join(d, "good.der"))
    for bad_on_main in (True, False):
        ok = CountingResponder(200, good, "application/ocsp-response")
        bad = CountingResponder(500, b"busy\n")
        try:
            urls = (bad.url, ok.url) if bad_on_main else (ok.url, bad.url)
            srv = _same_cert_two_responders(ctx, d, *urls)
            wait_log(srv, (0, 0), bad.url, "answered with HTTP status 500")
            wait_log(srv, (0, 0), "response from " + ok.url)
            assert ok.count() == 1, ok.count()
            for _ in range(2):
                sighup(srv)
                _ticked(srv, d)
            _ticked(srv, d)
            assert ok.count() == 1 and bad.count() == 1, \
                "bad responder on the %s server: the good one asked %d " \
                "times, the bad one %d:\n%s" % (
                    "main" if bad_on_main else "vhost", ok.count(),
                    bad.count(), srv.log_tail(60))
            srv.stop()
        finally:
            ok.stop()
            bad.stop()


def _self_signed(serial, key, start, end):
    """A self-signed localhost certificate of key, valid from start to
    end (datetimes): PEM."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    from cryptography.hazmat.primitives import serialization
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _served_by(srv, version, ciphers=None):
    """The serial served to a TLS version-pinned client (TLS 1.2 with
    ciphers picks the RSA or the EC certificate)."""
    from clients import context, peer_cert_der
    from test_cert_reload import _serial_of
    c = context(version)
    if ciphers:
        c.set_ciphers(ciphers)
    return _serial_of(peer_cert_der(srv, c))


def test_renewal2_dual_rsa_expired_while_running_ec_renewed(ctx):
    """RSA and EC certificates on one server; the RSA one expires while the
    daemon runs.  A SIGHUP reads that very certificate again: not refused
    for its own dates (nothing new), and the EC one, renewed with it, is
    taken.  A NEW RSA certificate that has expired too is refused (the
    whole renewal, the EC part with it); a valid one is then taken.  Held
    (a guard of the per-kind judgement)."""
    import datetime
    from cryptography.hazmat.primitives.asymmetric import rsa, ec
    from test_cert_reload import _write, wait_serial
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    r = Renewal(ctx, "sighup", name="dualexp")
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_cert = os.path.join(r.live, "rsa.pem")
    rsa_key = os.path.join(r.live, "rsa.key")
    expires = now + datetime.timedelta(seconds=4)
    _write(rsa_cert, _self_signed(21, rk, now - day, expires))
    _write(rsa_key, _key_pem(rk))
    r.srv.append_conf(["TLSRSACertificateFile " + rsa_cert,
                       "TLSRSACertificateKeyFile " + rsa_key])
    r.start()
    assert _served_by(r.srv, "1.2", "ECDHE-RSA-AES128-GCM-SHA256") == 21
    while datetime.datetime.now(datetime.timezone.utc) < \
            expires + datetime.timedelta(seconds=1):
        time.sleep(0.2)

    ek = ec.generate_private_key(ec.SECP256R1())
    _replace(r.key, _key_pem(ek))
    _replace(r.cert, _self_signed(2, ek, now - day, now + 30 * day))
    mark = sighup(r.srv)
    wait_log(r.srv, mark, "new certificate loaded (serial 02")
    log = r.srv.log_since(mark, 400)
    assert not ftpsd.line_with(log, "is not used"), log
    wait_serial(r.srv, 2, "EC renewed beside an expired RSA one")
    assert _served_by(r.srv, "1.2", "ECDHE-RSA-AES128-GCM-SHA256") == 21

    rk2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _replace(rsa_key, _key_pem(rk2))
    _replace(rsa_cert, _self_signed(22, rk2, now - 30 * day, now - day))
    ek3 = ec.generate_private_key(ec.SECP256R1())
    _replace(r.key, _key_pem(ek3))
    _replace(r.cert, _self_signed(3, ek3, now - day, now + 30 * day))
    mark = sighup(r.srv)
    line = wait_log(r.srv, mark, "TLSRSACertificateFile " + rsa_cert,
                    "serial 16", "is not used")
    assert "has expired" in line, line
    assert _served_by(r.srv, "1.3") == 2
    assert _served_by(r.srv, "1.2", "ECDHE-RSA-AES128-GCM-SHA256") == 21

    _replace(rsa_cert, _self_signed(23, rk2, now - day, now + 30 * day))
    mark = sighup(r.srv)
    wait_log(r.srv, mark, "new certificate loaded (serial 17")
    assert _served_by(r.srv, "1.2", "ECDHE-RSA-AES128-GCM-SHA256") == 23
    assert _served_by(r.srv, "1.3") == 3


def test_renewal2_first_material_by_watcher_warned(ctx):
    """A restart adds a vhost whose certificate file is still being
    written (its sessions refused); the watcher then takes the completed
    file, a certificate 5 days from its end with
    FTPSCertificateExpiryWarning 10.  Was: said nothing (a server's first
    material counted as no renewal), so the warning waited for the daily
    look.  Now it is warned about when taken, as a renewal is."""
    from test_cert_reload import _write
    r = Renewal(ctx, "watch", name="firstwarn",
                extra=["FTPSCertificateExpiryWarning 10"]).start()
    port = ftpsd.free_port()
    vcert = os.path.join(r.live, "v.pem")
    vkey = os.path.join(r.live, "v.key")
    c, k = r.new_pair(31, days=5)
    _write(vkey, k)
    _write(vcert, c[:len(c) // 3])
    r.srv.append_conf([
        "<VirtualHost 127.0.0.1>", "  Port %d" % port, "  TLSEngine on",
        "  TLSRequired on", "  TLSECCertificateFile " + vcert,
        "  TLSECCertificateKeyFile " + vkey, "</VirtualHost>"])
    mark = sighup(r.srv)
    wait_log(r.srv, mark, "no usable certificate")
    mark = r.srv.log_mark()
    _replace(vcert, c)
    line = wait_log(r.srv, mark, "serial 1F", "renew it")
    assert "expires in" in line, line


def test_renewal2_pkcs12_renewals_judged(ctx):
    """TLSPKCS12File watched (its CA certificates are the chain): a new
    PKCS#12 file with an expired certificate, or whose CA certificate (the
    issuer) is a stale, expired copy, is refused, the log naming
    TLSPKCS12File; a good one is taken; then one with an RSA key in place
    of the EC one (a key type swap) is taken too, and only it is served.
    Held for the certificate's dates and the key swap; the stale issuer
    is the chain-dates fix above."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from test_cert_reload import _write, wait_serial, served_serial

    srv = ctx.server(start=False, shared=False, name="p12renew",
                     extra=["FTPSCertificateWatch 1"])
    p = _pki_chain(srv.dir)
    live = os.path.join(srv.dir, "live")
    os.makedirs(live)
    path = os.path.join(live, "server.p12")
    ik = serialization.load_pem_private_key(
        _pem_of(p, "inter.key"), None)
    inter = x509.load_pem_x509_certificate(_pem_of(p, "inter.pem"))
    stale = x509.load_pem_x509_certificate(_pem_of(p, "inter-expired.pem"))
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)

    def p12(serial, key, start, end, cas=(inter,)):
        cert = _issued(serial, key, ik, inter, start, end)
        return pkcs12.serialize_key_and_certificates(
            b"server", key, cert, list(cas),
            serialization.NoEncryption())

    k1 = ec.generate_private_key(ec.SECP256R1())
    _write(path, p12(1, k1, now - day, now + 30 * day))
    srv.replace_conf("TLSRSACertificateFile", "TLSPKCS12File " + path)
    srv.start()
    assert served_serial(srv) == 1

    for what, data in (
            ("has expired", p12(2, ec.generate_private_key(ec.SECP256R1()),
                                now - 30 * day, now - day)),
            ("its issuer, has expired",
             p12(3, ec.generate_private_key(ec.SECP256R1()), now - day,
                 now + 30 * day, cas=(stale,)))):
        mark = srv.log_mark()
        _replace(path, data)
        line = wait_log(srv, mark, "TLSPKCS12File " + path, "is not used")
        assert what in line, line
        assert served_serial(srv) == 1, what

    _replace(path, p12(4, ec.generate_private_key(ec.SECP256R1()),
                       now - day, now + 30 * day))
    wait_serial(srv, 4, "a good PKCS#12 renewal")
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _replace(path, p12(5, rk, now - day, now + 30 * day))
    wait_serial(srv, 5, "a PKCS#12 renewal to an RSA key")
    assert _served_by(srv, "1.2", "ECDHE-ECDSA-AES128-GCM-SHA256:"
                      "ECDHE-RSA-AES128-GCM-SHA256") == 5


def _pem_of(p, name):
    from test_cert_reload import _read
    return _read(os.path.join(os.path.dirname(p["root.pem"]), name))


def _issued(serial, key, issuer_key, issuer, start, end):
    """A localhost leaf of key, issued by issuer (signed with issuer_key)."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(
                NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(issuer.subject).public_key(key.public_key())
            .serial_number(serial).not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName("localhost")]), critical=False)
            .sign(issuer_key, hashes.SHA256()))


def test_renewal2_unservable_in_one_tls_version_refused(ctx):
    """TLSCipherSuite allows ECDSA suites only for TLS 1.2 (a hardened
    list), TLS 1.3 on too.  A renewal that brings an RSA key (certbot's
    key type changed) serves TLS 1.3 clients, but no TLS 1.2 client.  Was:
    taken, since one test handshake (TLS 1.3) succeeded: TLS 1.2 clients
    were cut off.  Now a renewal with which a TLS version the last good
    material served completes no handshake is refused, the log naming
    the version; an EC renewal is then taken."""
    import datetime
    from cryptography.hazmat.primitives.asymmetric import rsa, ec
    from test_cert_reload import wait_serial
    now = datetime.datetime.now(datetime.timezone.utc)
    day = datetime.timedelta(days=1)
    r = Renewal(ctx, "watch", name="onever", extra=[
        "TLSProtocol TLSv1.2 TLSv1.3",
        "TLSCipherSuite ECDHE-ECDSA-AES128-GCM-SHA256"]).start()
    assert _served_by(r.srv, "1.2") == 1
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    mark = r.srv.log_mark()
    _replace(r.key, _key_pem(rk))
    _replace(r.cert, _self_signed(2, rk, now - day, now + 30 * day))
    line = wait_log(r.srv, mark, "TLSECCertificateFile " + r.cert,
                    "serial 02")
    assert "is not used" in line and "TLSv1.2" in line, line
    assert _served_by(r.srv, "1.2") == 1
    assert _served_by(r.srv, "1.3") == 1
    ek = ec.generate_private_key(ec.SECP384R1())
    _replace(r.key, _key_pem(ek))
    _replace(r.cert, _self_signed(3, ek, now - day, now + 30 * day))
    wait_serial(r.srv, 3, "an EC renewal")
    assert _served_by(r.srv, "1.2") == 3


def test_renewal2_responder_reason_phrase_not_logged_raw(ctx):
    """The responder's HTTP reason phrase goes into the log line that says
    what it answered (plain HTTP: anyone on the path can write it).  Was:
    logged raw, terminal escapes and carriage returns included (a line
    that hides or forges others when the log is viewed).  Now bytes
    outside printable ASCII are written as \\xNN."""
    import test_stapling
    ctx.need("openssl")
    d = test_stapling.fixtures(ftpsd.free_port())
    resp = RawResponder(b"HTTP/1.0 503 Busy\x1b[2J\rFORGED\x07 line\r\n"
                        b"Content-Length: 0\r\n\r\n", b"")
    try:
        srv = _stapled_server(ctx, d, resp.url, "reason")
        line = wait_log(srv, (0, 0), resp.url, "HTTP status 503")
        assert "\x1b" not in line and "\r" not in line and \
            "\x07" not in line, repr(line)
        assert "Busy\\x1b[2J\\x0dFORGED\\x07 line" in line, repr(line)
    finally:
        resp.stop()
