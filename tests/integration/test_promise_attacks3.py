"""Promise attacks, third round (issue 11's promises against the features
that came after it: certificate renewal by the watcher and SIGHUP, OCSP
stapling, ticket key rotation, default and per-vhost groups, StrictSNI,
kernel TLS and sendfile).

Regressions (each failed on the code before its fix):
  test_attack3_revoked_client_cannot_resume_old_ticket
      a client certificate revoked by a renewed TLSCARevocationFile
      (watcher or SIGHUP) resumed a TLS 1.2 or 1.3 ticket issued before
      the renewal on a new control connection and logged in: the ticket
      scope named the CA and CRL files, not what they hold.
  test_attack3_revoked_certificate_login_by_old_ticket
      the same with TLSUserName: the revoked certificate logged in at
      USER (232), no password asked.
  test_attack3_crl_added_to_crl_path_refuses_old_ticket
      the same with a CRL put in a TLSCARevocationPath directory (no
      restart, no watcher): OpenSSL does not verify a resumed session
      again, and the directory is read lazily.
  test_attack3_ca_removed_from_ca_path_refuses_old_ticket
      and with the CA taken out of a TLSCACertificatePath directory.
  test_attack3_expired_client_cannot_resume_old_ticket
      a client certificate expired since its ticket was issued logged in
      with the ticket (OpenSSL does not verify a resumed session again).
  test_attack3_renewal_judgement_leaves_ca_path_uncached
      a renewal's judgement of a CRL file looked CAs (and CRLs) up in
      TLSCACertificatePath (TLSCARevocationPath) through the served
      stores, which kept what was found: a CA taken out of the directory
      after a CRL renewal stayed trusted for every later session.
  test_attack3_chain_building_leaves_ca_path_uncached
      the same for the CAs found there while the master built the server
      certificate's chain at startup (no renewal needed).
  test_attack3_sni_after_login_keeps_the_vhost
      under TLSOptions AllowPerUser (AUTH after login), an SNI name of
      another vhost moved the logged-in session there: that vhost's rules
      (a <Limit WRITE> AllowAll) applied to a user the default server had
      authenticated (mod_core refuses HOST after login).
  test_attack3_sni_to_unavailable_vhost_refused
      SNI naming a vhost that refuses its sessions (a restart found its
      CRL broken) was served on the default server, under the name of
      the vhost the client asked for; HOST to it ended the session.

Guards of promises that held (a cheap test where a future change could
break them) are marked "(held)" in their names and docstrings.  Kernel TLS
and sendfile need a kernel with the tls module: where it is missing (the
TLSLog says "kernel TLS unavailable"), every test here runs the user-space
path, which is the one that must keep the promises there.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import tempfile
import time

import ftpsd
from clients import Raw, expect, closed_by_peer, run
import test_promise_matrix as pm
from test_cert_reload import wait_log, sighup
from test_renewal_judgement import (_empty_crl, _crl_write, _read,
                                    _watched_crl, BROKEN_CRL)


# -- certificate renewal x resumption ---------------------------------------

def _ticket_of(tc, srv, who, version):
    """A client context presenting who's certificate, and the TLS session
    (a ticket) of a logged-in control connection made with it."""
    c = tc.cctx(who, version)
    r = Raw(srv)
    try:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls(ctx=c)
        expect(r.cmd("USER " + srv.user), 331, "USER")
        expect(r.cmd("PASS " + srv.password), 230, "PASS")
        expect(r.cmd("PWD"), 257, "PWD")     # the tickets have come by now
        sess = r.sock.session
        r.cmd("QUIT")
    finally:
        r.close()
    return c, sess


def _resume_login(srv, c, sess):
    """A new control connection offering sess: (resumed?, last reply code,
    text); (None, 0, why) when the handshake or the session failed."""
    r = Raw(srv)
    try:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.sock = c.wrap_socket(r.sock, server_hostname="localhost",
                               session=sess)
        reused = r.sock.session_reused
        code, text = r.cmd("USER " + srv.user)
        if code == 331:
            code, text = r.cmd("PASS " + srv.password)
        return reused, code, text
    except (ssl.SSLError, OSError, EOFError) as e:
        return None, 0, str(e)
    finally:
        r.close()


def test_attack3_revoked_client_cannot_resume_old_ticket(ctx):
    """mallory logs in while the CRL revokes nobody and keeps her session
    ticket (TLS 1.2 and 1.3).  The CRL is renewed to one that revokes her
    (the watcher takes it, or a SIGHUP): a full handshake is refused, and
    so must be a new control connection that offers the old ticket (a full
    handshake instead of a resumption, which the CRL refuses).  alice's
    old ticket is not resumed either (the material changed) but her full
    handshake logs in.  Before: the ticket resumed and mallory logged in
    (230) for as long as the ticket lived (TLSSessionCache, 4.4 h)."""
    for how in ("watch", "sighup"):
        with _watched_crl(ctx, how) as (tc, srv, crl):
            held = {(who, v): _ticket_of(tc, srv, who, v)
                    for who in ("mallory", "alice") for v in ("1.2", "1.3")}
            # the tickets resume while nothing changed, also across the
            # same CRL read again (a new file time) or a SIGHUP
            mark = srv.log_mark()
            if how == "watch":
                _crl_write(crl, _read(crl))
                wait_log(srv, mark, "TLSCARevocationFile " + crl,
                         "read again")
            else:
                sighup(srv)
            got = _resume_login(srv, *held[("mallory", "1.3")])
            assert got[:2] == (True, 230), "%s: the same CRL: %r" \
                % (how, got)
            held[("mallory", "1.3")] = _ticket_of(tc, srv, "mallory", "1.3")

            mark = srv.log_mark()
            _crl_write(crl, _read(ftpsd.cert("ca.crl")))
            if how == "watch":
                wait_log(srv, mark, "TLSCARevocationFile " + crl,
                         "read again")
            else:
                sighup(srv)
            tc.assert_refused(srv, "mallory", what="%s: revoked: " % how,
                              alert=tc.REVOKED)
            for v in ("1.2", "1.3"):
                got = _resume_login(srv, *held[("mallory", v)])
                assert got[0] is None and got[1] != 230, \
                    "%s, TLS %s: mallory, revoked, resumed a ticket from " \
                    "before the CRL: %r" % (how, v, got)
                got = _resume_login(srv, *held[("alice", v)])
                assert got[1] == 230 and got[0] is False, \
                    "%s, TLS %s: alice's old ticket: want a full " \
                    "handshake and a login, got %r" % (how, v, got)


def test_attack3_sni_to_unavailable_vhost_refused(ctx):
    """b.example (a name-based vhost: TLSVerifyClient on, a CRL file, a
    user of its own) gets a CRL file that does not parse, then a SIGHUP:
    it refuses its sessions.  A client that names it by SNI (no client
    certificate) is refused in the handshake, and the TLSLog says why;
    before, the handshake went on under the default server (the log
    said the vhost had 'no TLS certificate') and only a later HOST to it
    ended the session.  HOST b.example in clear before AUTH ends the
    session, as before (held); the default server serves on."""
    srv = ctx.server({"TLSRequired": "off"}, start=False, shared=False,
                     extra=["TLSOptions NoSessionReuseRequired",
                            "FTPSCertificateWatch off"])
    crl = os.path.join(srv.dir, "crl.pem")
    _empty_crl(crl)
    block, _ = pm.vhost_block(srv, pm.VHOST, [
        "TLSVerifyClient on", "TLSCACertificateFile " + ftpsd.cert("ca.pem"),
        "TLSCARevocationFile " + crl, "TLSRequired on"],
        user=("bonly", "bonly-pw"))
    srv.append_conf(block)
    srv.start()
    _crl_write(crl, BROKEN_CRL)
    sighup(srv)

    for v in ("1.2", "1.3"):
        mark = srv.log_mark()
        r = pm.Ctl(srv, pm.cctx(v), sni=pm.VHOST)
        try:
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
            r.starttls()
            got = r.cmd("HOST " + pm.VHOST), r.cmd("USER bonly")
        except (ssl.SSLError, OSError, EOFError) as e:
            got = "refused: %s" % e
        finally:
            r.close()
        assert isinstance(got, str) and re.search(r"(?i)internal error",
                                                  got), \
            "TLS %s: SNI to a vhost refusing its sessions: want the " \
            "handshake refused, got %r" % (v, got)
        text = ftpsd.tls_log_since(srv, mark)
        assert "no usable certificate or CA/CRL file: handshake refused" \
            in text, text

    r = pm.Ctl(srv, None, sni=None)
    try:
        expect(r.cmd("HOST " + pm.VHOST), 220, "HOST")
        got = r.cmd("AUTH TLS")
        assert got[0] != 234, "AUTH after HOST to it: %r" % (got,)
    except (OSError, EOFError):
        pass
    finally:
        r.close()
    r = pm.open_ctl(srv, "plain", pm.cctx("1.3"), sni=None)
    expect(r.cmd("PWD"), 257, "the default server")
    r.close()


def test_attack3_crl_added_to_crl_path_refuses_old_ticket(ctx):
    """TLSCARevocationPath: a hashed directory that holds no CRL of the
    CA at first; mallory logs in and keeps her ticket (TLS 1.2 and 1.3).
    The CA's CRL that revokes her is put in the directory (openssl
    rehash), with no signal and no restart: full handshakes read the
    directory and refuse her, and so must a new control connection that
    offers her old ticket (a full handshake instead).  alice's old ticket
    still resumes (nothing revokes her).  Before: mallory's ticket
    resumed and she logged in (230)."""
    import test_clientcert as tc
    d = tempfile.mkdtemp(prefix="crlpath3-", dir=ftpsd.tmp_root())
    os.chmod(d, 0o755)
    try:
        srv = tc._server(ctx, tc._verify("on", TLSCARevocationPath=d))
        held = {(who, v): _ticket_of(tc, srv, who, v)
                for who in ("mallory", "alice") for v in ("1.2", "1.3")}
        shutil.copy(ftpsd.cert("ca.crl"), d)
        os.chmod(os.path.join(d, "ca.crl"), 0o644)
        tc._openssl("rehash", d)
        tc.assert_refused(srv, "mallory", what="CRL added: ",
                          alert=tc.REVOKED)
        for v in ("1.2", "1.3"):
            got = _resume_login(srv, *held[("mallory", v)])
            assert got[0] is None and got[1] != 230, \
                "TLS %s: mallory, revoked by a CRL added to the CRL " \
                "directory, resumed a ticket from before it: %r" % (v, got)
            got = _resume_login(srv, *held[("alice", v)])
            assert got[:2] == (True, 230), \
                "TLS %s: alice's ticket: want resumed and a login, got " \
                "%r" % (v, got)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_attack3_ca_removed_from_ca_path_refuses_old_ticket(ctx):
    """TLSCACertificatePath: a hashed directory with the test root CA.
    alice (issued by the root) and depth1 (issued by an intermediate CA
    that the client sends, which no ticket keeps) log in and keep their
    tickets (TLS 1.2 and 1.3); depth1's ticket gets a full handshake,
    and logs in (its CA is not in the store: only a full handshake can
    judge its chain, and a CA taken out could not be told apart).  Then
    the root is taken out of the directory, with no signal: a full
    handshake of alice's is refused (unknown CA), and so must be her old
    ticket.  Before: it resumed and she logged in (230)."""
    import test_clientcert as tc
    d = tempfile.mkdtemp(prefix="capath3-", dir=ftpsd.tmp_root())
    os.chmod(d, 0o755)
    try:
        shutil.copy(ftpsd.cert("ca.pem"), d)
        os.chmod(os.path.join(d, "ca.pem"), 0o644)
        tc._openssl("rehash", d)
        srv = tc._server(ctx, {"TLSVerifyClient": "on",
                               "TLSCACertificatePath": d})
        held = {(who, v): _ticket_of(tc, srv, who, v)
                for who in ("alice", "depth1") for v in ("1.2", "1.3")}
        chained = {}
        for v in ("1.2", "1.3"):
            chained[v] = _resume_login(srv, *held[("depth1", v)])
            held[("depth1", v)] = _ticket_of(tc, srv, "depth1", v)
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        tc.assert_refused(srv, "alice", what="CA removed: ",
                          alert=tc.UNKNOWN_CA)
        for v in ("1.2", "1.3"):
            for who in ("alice", "depth1"):
                got = _resume_login(srv, *held[(who, v)])
                assert got[0] is None and got[1] != 230, \
                    "TLS %s: %s, whose CA was taken out of the CA " \
                    "directory, resumed a ticket from before: %r" \
                    % (v, who, got)
        for v, got in chained.items():
            assert got[:2] == (False, 230), \
                "TLS %s: depth1's ticket while its root was there: want " \
                "a full handshake and a login, got %r" % (v, got)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_attack3_sni_after_login_keeps_the_vhost(ctx):
    """TLSOptions AllowPerUser on a default server that denies writes; the
    vhost b.example allows them (and wants a client certificate).  A user
    logs in on the default server in clear, then sends AUTH TLS with the
    SNI name b.example (and alice's certificate, which b.example trusts):
    the handshake is refused (access_denied) and nothing was written;
    AUTH TLS with the default server's own name goes on, and writes stay
    denied (held).  Before: the session moved to b.example and MKD
    succeeded (257)."""
    import test_clientcert as tc
    srv = ctx.server({"TLSRequired": "off"}, start=False, shared=False,
                     extra=["TLSOptions AllowPerUser NoSessionReuseRequired",
                            "<Limit WRITE>", "  DenyAll", "</Limit>"])
    block, _ = pm.vhost_block(srv, pm.VHOST, [
        "TLSVerifyClient on", "TLSCACertificateFile " + ftpsd.cert("ca.pem"),
        "<Limit WRITE>", "  AllowAll", "</Limit>"])
    srv.append_conf(block)
    srv.start()

    for v in ("1.2", "1.3"):
        r = pm.Ctl(srv, tc.cctx("alice", v), sni=pm.VHOST)
        keep = None
        try:
            r.login()
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS after login")
            keep = r.sock.dup()
            try:
                r.starttls()
                got = r.cmd("MKD moved-" + v)
            except (ssl.SSLError, OSError, EOFError) as e:
                got = "refused: %s" % e
            # a failed handshake ends the session (nothing goes on in clear)
            ended = closed_by_peer(keep)
        finally:
            r.close()
            if keep is not None:
                keep.close()
        assert isinstance(got, str) and re.search(r"(?i)access denied",
                                                  got), \
            "TLS %s: SNI %s after login: want the handshake refused, " \
            "got %r" % (v, pm.VHOST, got)
        assert ended, "TLS %s: the session goes on after the refused " \
            "handshake" % v
        assert not os.path.exists(os.path.join(srv.home, "moved-" + v))

        r = pm.Ctl(srv, tc.cctx("alice", v), sni="localhost")
        try:
            r.login()
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS after login")
            r.starttls()
            code, text = r.cmd("MKD stayed-" + v)
            assert code >= 500, "TLS %s: the default server denies " \
                "writes: %r" % (v, text)
            expect(r.cmd("PWD"), 257, "PWD")
        finally:
            r.close()


def test_attack3_renewal_judgement_leaves_ca_path_uncached(ctx):
    """TLSCACertificatePath (a hashed directory with the test root CA) and
    a watched TLSCARevocationFile (the root's CRL).  The CRL is renewed:
    the watcher judges the new file (does a CA still trusted lose its
    CRL?) and takes it.  Then the root is taken out of the directory,
    with no signal: alice (issued by the root) must be refused, as she is
    without a renewal.  Before: the judgement had looked the root up
    through the served store, which kept it, and every later session
    inherited it: alice was accepted until a restart."""
    import test_clientcert as tc
    d = tempfile.mkdtemp(prefix="capath3j-", dir=ftpsd.tmp_root())
    os.chmod(d, 0o755)
    try:
        cadir = os.path.join(d, "ca")
        os.mkdir(cadir, 0o755)
        shutil.copy(ftpsd.cert("ca.pem"), cadir)
        os.chmod(os.path.join(cadir, "ca.pem"), 0o644)
        tc._openssl("rehash", cadir)
        crl = os.path.join(d, "crl.pem")
        _empty_crl(crl)
        srv = tc._server(ctx, {"TLSVerifyClient": "on",
                               "TLSCACertificatePath": cadir,
                               "TLSCARevocationFile": crl},
                         extra=["FTPSCertificateWatch 1"])
        tc.assert_accepted(srv, "alice", what="at start: ")
        mark = srv.log_mark()
        _crl_write(crl, _read(ftpsd.cert("ca.crl")))
        wait_log(srv, mark, "TLSCARevocationFile " + crl, "read again")
        tc.assert_accepted(srv, "alice", what="after the CRL renewal: ")
        tc.assert_refused(srv, "mallory", what="after the CRL renewal: ",
                          alert=tc.REVOKED)
        for name in os.listdir(cadir):
            os.unlink(os.path.join(cadir, name))
        for v in ("1.2", "1.3"):
            tc.assert_refused(srv, "alice", v, what="the CA taken out of "
                              "the directory after a CRL renewal: ",
                              alert=tc.UNKNOWN_CA)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _served_chain(srv, version):
    """The subjects of the chain the server sends (openssl s_client,
    presenting alice's certificate)."""
    p = run(["openssl", "s_client", version, "-connect",
             "%s:%d" % (srv.host, srv.port), "-starttls", "ftp",
             "-showcerts", "-cert", ftpsd.cert("client-alice.crt"),
             "-key", ftpsd.cert("client-alice.key")], input=b"")
    return re.findall(r"(?m)^ *\d+ s:(.*)$", p.stdout.decode())


def test_attack3_chain_building_leaves_ca_path_uncached(ctx):
    """A server certificate given without its chain (rsa.crt, issued by
    the test intermediate CA) and TLSCACertificatePath holding the
    intermediate and the root: the master builds the chain from the
    directory at startup and sends it (held: leaf, intermediate, root).
    The directory is then emptied, with no signal: alice (issued by the
    root) must be refused.  Before: the root, found while building the
    chain, stayed in the store every session inherits, and alice was
    accepted until a restart."""
    import test_clientcert as tc
    d = tempfile.mkdtemp(prefix="capath3c-", dir=ftpsd.tmp_root())
    os.chmod(d, 0o755)
    try:
        for name in ("ca.pem", "inter.pem"):
            shutil.copy(ftpsd.cert(name), d)
            os.chmod(os.path.join(d, name), 0o644)
        tc._openssl("rehash", d)
        srv = tc._server(ctx, {
            "TLSVerifyClient": "on", "TLSCACertificatePath": d,
            "TLSRSACertificateFile": ftpsd.cert("rsa.crt"),
            "TLSRSACertificateKeyFile": ftpsd.cert("rsa.key")})
        for v in ("-tls1_2", "-tls1_3"):
            chain = _served_chain(srv, v)
            assert len(chain) == 3 and "intermediate" in chain[1] and \
                "root" in chain[2], "%s: chain sent: %r" % (v, chain)
        tc.assert_accepted(srv, "alice", what="at start: ")
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        for v in ("1.2", "1.3"):
            tc.assert_refused(srv, "alice", v, what="the CAs taken out of "
                              "the directory: ", alert=tc.UNKNOWN_CA)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _short_lived_client(d, seconds):
    """A client certificate (CN ftpuser) of the test root CA that expires
    seconds from now, and its key: (cert path, key path)."""
    import datetime
    from cryptography import x509
    from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    ca = x509.load_pem_x509_certificate(_read(ftpsd.cert("ca.pem")))
    ca_key = serialization.load_pem_private_key(_read(ftpsd.cert("ca.key")),
                                                None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    crt = (x509.CertificateBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                       "ftpuser")]))
           .issuer_name(ca.subject).public_key(key.public_key())
           .serial_number(x509.random_serial_number())
           .not_valid_before(now - datetime.timedelta(minutes=5))
           .not_valid_after(now + datetime.timedelta(seconds=seconds))
           .add_extension(x509.ExtendedKeyUsage(
               [ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
           .sign(ca_key, hashes.SHA256()))
    paths = (os.path.join(d, "short.crt"), os.path.join(d, "short.key"))
    with open(paths[0], "wb") as f:
        f.write(crt.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return paths, crt.not_valid_after.replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_attack3_expired_client_cannot_resume_old_ticket(ctx):
    """A client certificate that expires a few seconds after its session
    began: the running session's data connections (which resume its own
    TLS session) go on (held: a session is judged when it starts), but a
    new control connection that offers its ticket once the certificate
    has expired is refused (a full handshake, which OpenSSL refuses).
    Before: the ticket resumed and logged in for as long as it lived."""
    import test_clientcert as tc
    d = tempfile.mkdtemp(prefix="short3-", dir=ftpsd.tmp_root())
    try:
        srv = tc._server(ctx, tc._verify("on"))
        srv.cell_home = srv.home
        who, ends = _short_lived_client(d, 4)
        data = os.urandom(20000)
        sessions = []
        for v in ("1.2", "1.3"):
            s = pm.Session(ctx, srv, "explicit", version=v, who=who)
            s.put("d.bin", data)
            sessions.append((v, s, s.tctx, _ticket_of_ctx(srv, s.tctx)))
        time.sleep(max(0, ends - time.time()) + 1.5)
        for v, s, c, sess in sessions:
            res = s.xfer("RETR d.bin")
            pm.want(res.final[0] == 226 and res.got == data, v,
                    "the running session's download", res)
            s.r.close()
            got = _resume_login(srv, c, sess)
            assert got[0] is None and got[1] != 230, "TLS %s: a ticket of " \
                "a certificate expired since logged in: %r" % (v, got)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _ticket_of_ctx(srv, c):
    """The TLS session (ticket) of a logged-in control connection made
    with the client context c."""
    r = Raw(srv)
    try:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls(ctx=c)
        r.login()
        expect(r.cmd("PWD"), 257, "PWD")
        return r.sock.session
    finally:
        r.close()


def test_attack3_revoked_certificate_login_by_old_ticket(ctx):
    """TLSUserName CommonName (a certificate logs in at USER, 232, with no
    password): mallory's certificate logs her in while the watched CRL
    revokes nobody; once the CRL that revokes her is taken, her old
    ticket (TLS 1.2 and 1.3) must not log her in.  Before: USER mallory
    got 232 through the resumed ticket, no password asked."""
    import test_clientcert as tc
    with _watched_crl(ctx, "watch", extra=["TLSUserName CommonName"],
                      users=[("mallory", "unused-password")],
                      auth_order=tc.CERT_AUTH) as (tc, srv, crl):
        held = {}
        for v in ("1.2", "1.3"):
            c = tc.cctx("mallory", v)
            r = Raw(srv)
            try:
                expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
                r.starttls(ctx=c)
                expect(r.cmd("USER mallory"), 232, "certificate login")
                expect(r.cmd("PWD"), 257, "PWD")
                held[v] = (c, r.sock.session)
            finally:
                r.close()
        mark = srv.log_mark()
        _crl_write(crl, _read(ftpsd.cert("ca.crl")))
        wait_log(srv, mark, "TLSCARevocationFile " + crl, "read again")
        for v, (c, sess) in held.items():
            r = Raw(srv)
            try:
                expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
                try:
                    r.sock = c.wrap_socket(r.sock, server_hostname="localhost",
                                           session=sess)
                    got = r.cmd("USER mallory")
                except (ssl.SSLError, OSError, EOFError) as e:
                    got = (0, "refused: %s" % e)
            finally:
                r.close()
            assert got[0] != 232, "TLS %s: a revoked certificate logged in " \
                "(232) by its old ticket" % v


# -- guards of promises that held ---------------------------------------------

def test_attack3_implicit_after_sighup_held(ctx):
    """Implicit FTPS across two SIGHUPs (held): plaintext where TLS is due
    gets nothing in clear and ends the session; a data connection that
    resumes another FTP session's TLS session is refused (425), one that
    resumes its own carries the file."""
    srv = ctx.server({"TLSOptions": "UseImplicitSSL"}, shared=False)
    srv.cell_home = srv.home
    pm.sighup(srv)
    pm.sighup(srv)
    pm.plaintext_after_auth(srv, "implicit", "implicit after SIGHUP")
    data = os.urandom(70000)
    for v in ("1.2", "1.3"):
        s = pm.Session(ctx, srv, "implicit", version=v)
        try:
            s.put("d.bin", data)
            res = s.xfer("RETR d.bin", how="other")
            pm.want(res.final[0] == 425 and not res.got, v,
                    "another session's TLS session: want 425", res)
            res = s.xfer("RETR d.bin")
            pm.want(res.final[0] == 226 and res.got == data and
                    res.end == "notify", v, "its own session: want 226, "
                    "the file and close_notify", res)
        finally:
            s.r.close()


def _download_ended_by_server(ctx, extra, end_it):
    """A 64 MiB protected download (TLS 1.3), read 64 KiB, then end_it(srv)
    while the client reads no more: how the data stream ended, bytes."""
    srv = ctx.server({"TLSRequired": "off"}, extra=extra, shared=False)
    srv.cell_home = srv.home
    s = pm.Session(ctx, srv, "tls13")
    size = 64 << 20
    s.put("big.bin", os.urandom(size))
    sock = s.r.pasv()
    s.r.send("RETR big.bin\r\n")
    expect(s.r.reply(), 150, "RETR")
    d = s.tctx.wrap_socket(sock, server_hostname="localhost",
                           session=s.session, suppress_ragged_eofs=False)
    try:
        got = d.recv(65536)
        end_it(srv)
        more, end = pm._drain(d, s.r, None)
    finally:
        d.close()
        s.r.close()
    return end, len(got) + len(more), size


def test_attack3_session_end_mid_download_no_close_notify_held(ctx):
    """A session that ends in the middle of a download (SIGTERM to the
    session process: a shutdown; TimeoutStalled: a client that stopped
    reading) must not end the data stream with close_notify, which would
    make the cut file look complete (held: both end it without)."""
    from test_store_promises import _session_pid

    def term(srv):
        os.kill(_session_pid(srv), signal.SIGTERM)

    def stall(srv):
        mark = srv.log_mark()
        deadline = time.time() + 30
        while "stall timeout" not in srv.log_since(mark, 50):
            assert time.time() < deadline, "no stall timeout in 30 s"
            time.sleep(0.2)

    for what, extra, end_it in (("SIGTERM", [], term),
                                ("TimeoutStalled", ["TimeoutStalled 1"],
                                 stall)):
        end, n, size = _download_ended_by_server(ctx, extra, end_it)
        assert n < size and end != "notify", "%s mid-download: the data " \
            "stream ended with close_notify after %d of %d bytes" \
            % (what, n, size)


def test_attack3_delaborted_refused_upload_keeps_file_held(ctx):
    """DeleteAbortedStores on crossed with CCC, implicit mode, an SNI vhost,
    SSCN, TLS 1.2 and a SIGHUP (held): an existing file keeps its content
    through a refused data connection, a handshake followed by a cut and a
    PORT nobody answers; a successful upload replaces it (the matrix's
    upload probe)."""
    orig = pm._conf

    def conf(promise, feature):
        tls, extra, opts = orig(promise, feature)
        return tls, extra + ["DeleteAbortedStores on"], opts

    pm._conf = conf
    try:
        for feature in ("ccc", "implicit", "sni", "sscn", "tls12",
                        "sighup"):
            srv = pm.make_server(ctx, "upload", feature)
            s = pm.Session(ctx, srv, feature)
            try:
                pm.p_upload(s, "upload x DeleteAbortedStores x " + feature)
            finally:
                s.r.close()
    finally:
        pm._conf = orig


def test_attack3_repeated_security_commands_memory_flat_held(ctx):
    """5000 rounds of PROT P, PBSZ 0 and a refused second AUTH TLS on one
    protected session must not grow it by more than 256 KiB (held: 0)."""
    from test_store_promises import _session_pid, _rss_anon
    if os.environ.get("FTPS_DAEMON_PRELOAD"):
        raise ftpsd.Skip("AddressSanitizer's quarantine keeps freed memory")
    srv = ctx.server(shared=False)
    s = pm.Session(ctx, _with_home(srv), "tls13")
    try:
        def rounds(n):
            for _ in range(n):
                s.r.send("PROT P\r\nPBSZ 0\r\nAUTH TLS\r\n")
                for want_code in (200, 200, 503):
                    expect(s.r.reply(), want_code, "repeat")
        rounds(300)
        pid = _session_pid(srv)
        before = _rss_anon(pid)
        rounds(5000)
        grown = _rss_anon(pid) - before
        assert grown < 256 * 1024, "5000 rounds grew the session by %d " \
            "bytes" % grown
    finally:
        s.r.close()


def _with_home(srv):
    srv.cell_home = srv.home
    return srv


def test_attack3_names_required_on_resumed_ticket_held(ctx):
    """TLSOptions iPAddressRequired: alice's certificate names 127.0.0.1.
    Her ticket, resumed from 127.0.0.1, logs in; the same ticket resumed
    from 127.0.0.2 (another client address) ends the session before USER
    is answered (held: the names are judged after every control
    handshake, resumed or not)."""
    import test_clientcert as tc
    srv = tc._server(ctx, tc._verify("on", TLSOptions="iPAddressRequired"))
    for v in ("1.2", "1.3"):
        c, sess = _ticket_of(tc, srv, "alice", v)
        for src, served in (("127.0.0.1", True), ("127.0.0.2", False)):
            s = socket.create_connection((srv.host, srv.port), timeout=10,
                                         source_address=(src, 0))
            try:
                f = s.makefile("rb")
                assert f.readline().startswith(b"220")
                s.sendall(b"AUTH TLS\r\n")
                assert f.readline().startswith(b"234")
                t = c.wrap_socket(s, server_hostname="localhost",
                                  session=sess)
                t.sendall(b"USER %s\r\n" % srv.user.encode())
                try:
                    got = t.recv(200)
                except (ssl.SSLError, OSError) as e:
                    got = b"error: %s" % str(e).encode()
                assert t.session_reused, "TLS %s from %s: not resumed" \
                    % (v, src)
                assert got.startswith(b"331") == served, \
                    "TLS %s, ticket resumed from %s: want %s, got %r" % (
                        v, src, "331" if served else "the session ended",
                        got)
                t.close()
            finally:
                s.close()


def test_attack3_sni_vhost_rules_across_its_renewal_held(ctx):
    """A name-based vhost with TLSVerifyClient on and TLSRequired on, whose
    certificate alone the watcher renews (EC to RSA), under a loose default
    server (held): after the renewal the vhost serves the new certificate,
    still refuses a client without a certificate (TLS 1.2 and 1.3) and
    logs alice in; the default server still serves its own certificate
    without asking one."""
    import test_clientcert as tc
    from test_cert_reload import wait_log as wait
    srv = ctx.server({"TLSRequired": "off"}, start=False, shared=False,
                     extra=["FTPSCertificateWatch 1"])
    live = os.path.join(srv.dir, "vhost.pem")
    shutil.copy(ftpsd.cert(), live)
    os.chmod(live, 0o600)
    block, _ = pm.vhost_block(srv, pm.VHOST, [
        "TLSVerifyClient on", "TLSCACertificateFile " + ftpsd.cert("ca.pem"),
        "TLSRequired on"])
    block = [l.replace("TLSRSACertificateFile " + ftpsd.cert(),
                       "TLSRSACertificateFile " + live) for l in block]
    srv.append_conf(block)
    srv.start()

    mark = srv.log_mark()
    with open(live + ".new", "wb") as f:
        f.write(_read(ftpsd.cert("rsa.crt")) + _read(ftpsd.cert("rsa.key")))
    os.chmod(live + ".new", 0o600)
    os.rename(live + ".new", live)
    wait(srv, mark, "new certificate loaded")

    rsa = ssl.PEM_cert_to_DER_cert(_read(ftpsd.cert("rsa.crt")).decode())
    for v in ("1.2", "1.3"):
        r = pm.Ctl(srv, tc.cctx(None, v), sni=pm.VHOST)
        try:
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
            try:
                r.starttls()
                got = r.cmd("USER " + srv.user)
            except (ssl.SSLError, OSError, EOFError) as e:
                got = "refused: %s" % e
        finally:
            r.close()
        assert isinstance(got, str), "TLS %s: the renewed vhost served a " \
            "client without a certificate: %r" % (v, got)

        r = pm.Ctl(srv, tc.cctx("alice", v), sni=pm.VHOST)
        try:
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
            r.starttls()
            assert r.sock.getpeercert(binary_form=True) == rsa, \
                "TLS %s: the vhost does not serve its renewed certificate" % v
            r.login()
            expect(r.cmd("PWD"), 257, "PWD")
        finally:
            r.close()

        r = pm.Ctl(srv, tc.cctx(None, v), sni=None)
        try:
            expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
            r.starttls()
            assert r.sock.getpeercert(binary_form=True) != rsa
            r.login()
        finally:
            r.close()


def test_attack3_failed_appe_keeps_content_held(ctx):
    """APPE over an existing file under HiddenStores and DeleteAbortedStores
    (held, as README says): a refused data connection, a handshake then a
    cut, and a PORT nobody answers leave the file as it was; a cut after
    5000 bytes (426) keeps the old content, followed by what arrived (an
    append writes in place: HiddenStores does not apply to APPE, and a
    client resumes an append from the file's size); the file is never
    deleted; a complete APPE appends."""
    srv = ctx.server({"TLSRequired": "off"}, shared=False,
                     extra=["DeleteAbortedStores on", "HiddenStores on"])
    srv.cell_home = srv.home
    s = pm.Session(ctx, srv, "tls13")
    try:
        old = pm.MARK + os.urandom(3000)
        path = s.put("keep.bin", old)
        for what, kw in (
                ("a data connection that does not resume this session",
                 dict(how="full", upload=b"n" * 999)),
                ("a handshake, then a cut", dict(upload=b"", cut=True)),
                ("PORT to a closed port", dict(port=pm.closed_port()))):
            res = s.xfer("APPE keep.bin", **kw)
            pm.want(res.final[0] in (425, 426) and pm.content(path) == old,
                    "APPE", what + ": want 425/426 and the file unchanged",
                    res)
        more = os.urandom(5000)
        res = s.xfer("APPE keep.bin", upload=more, cut=True)
        now = pm.content(path)
        pm.want(res.final[0] == 426 and now is not None and
                now.startswith(old) and more.startswith(now[len(old):]),
                "APPE", "cut after 5000 bytes: want 426, the old content "
                "and (part of) what arrived", res)
        s.put("keep.bin", old)
        res = s.xfer("APPE keep.bin", upload=more)
        pm.want(res.final[0] == 226 and pm.content(path) == old + more,
                "APPE", "a complete append", res)
        assert not pm.leftovers(srv.home), pm.leftovers(srv.home)
    finally:
        s.r.close()
