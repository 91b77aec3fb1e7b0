"""Promise attacks, fourth round: the third round's fixes against resumed
sessions of revoked or distrusted client certificates (tickets scoped to
a digest of the CA certificates and CRLs, ftps_verify_session_stale from
the ticket callback) attacked from outside, with real clients.

Regressions (each failed on the code before its fix):
  test_attack4_broken_crl_in_crl_path_refuses
      a file under the CA's hashed name in TLSCARevocationPath that is no
      readable PEM CRL (rewritten in place and caught half-written,
      DER, unreadable to the session's user, a symlink loop, a link to
      nowhere) passed for "no CRL for this CA": a certificate it revokes
      logged in, by a full handshake and by a ticket from before.
  test_attack4_crl_path_gone_refuses
      the same with the CRL directory taken away (renamed, as when a new
      one is swapped in): every certificate passed as unrevoked.
  test_attack4_auth_after_login_crl_path_refuses
      under TLSOptions AllowPerUser, AUTH after login (DefaultRoot's
      chroot made: the CRL directory's path leads nowhere) accepted a
      certificate the directory's CRL revokes.

Guards of promises that held are marked "(held)" in their names:
  test_attack4_forged_same_name_crl_held
      a CRL under the test CA's name signed by another key (alone, or
      newer than the genuine one beside it) lifts no revocation.
  test_attack4_expired_crl_refuses_tickets_held
      a CRL past its nextUpdate (or not yet valid) refuses full
      handshakes and old tickets alike.
  test_attack4_hash_collision_crls_held
      another CA's CRL under the test CA's hashed name (.r0, as a hash
      collision puts it) neither hides the test CA's CRL in .r1 nor
      counts as a broken file.
  test_attack4_crl_path_data_after_chroot_held
      data connections that make a full handshake (stock ftplib under
      NoSessionReuseRequired) after DefaultRoot's chroot, where the CRL
      directory's path leads nowhere, are not refused for it.
  test_attack4_sni_vhost_ca_path_tickets_held
      two vhosts with CA directories of their own: the root taken out of
      the SNI vhost's directory refuses its old tickets there, a ticket
      of the default server is not taken there, and the default server
      still resumes its own.
"""

import datetime
import os
import shutil
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import ftpsd
from clients import expect
import test_promise_matrix as pm
from test_promise_attacks3 import _ticket_of, _resume_login


def _crl_dir(tc, with_crl):
    """A hashed CRL directory (0755), holding the test CA's CRL (which
    revokes mallory) when with_crl; (directory, the CRL's hashed name)."""
    d = tempfile.mkdtemp(prefix="crlpath4-", dir=ftpsd.tmp_root())
    os.chmod(d, 0o755)
    shutil.copy(ftpsd.cert("ca.crl"), d)
    tc._openssl("rehash", d)
    names = [n for n in os.listdir(d) if n.endswith(".r0")]
    assert names, "openssl rehash made no .r0 link in %s" % d
    target = os.path.join(d, names[0])
    os.unlink(target)
    shutil.copy(ftpsd.cert("ca.crl"), target)
    os.chmod(target, 0o644)
    os.unlink(os.path.join(d, "ca.crl"))
    if not with_crl:
        os.rename(target, target + ".off")
    return d, target


def _break_truncated(path, crl):
    with open(path, "wb") as f:          # an in-place rewrite, half done
        f.write(crl[:len(crl) // 2])


def _break_unreadable(path, crl):
    with open(path, "wb") as f:          # root's, the session is nobody
        f.write(crl)
    os.chmod(path, 0o600)


def _break_loop(path, crl):
    os.symlink(os.path.basename(path), path)


def _break_dangling(path, crl):
    os.symlink(os.path.basename(path) + ".new", path)


def _break_der(path, crl):
    with open(path, "wb") as f:          # the directory is read as PEM
        f.write(x509.load_pem_x509_crl(crl).public_bytes(
            serialization.Encoding.DER))


BREAKAGES = [("half-written", _break_truncated),
             ("DER", _break_der),
             ("unreadable", _break_unreadable),
             ("symlink loop", _break_loop),
             ("dangling symlink", _break_dangling)]


def test_attack4_broken_crl_in_crl_path_refuses(ctx):
    """TLSCARevocationPath with no CRL of the test CA yet: mallory logs in
    and keeps her tickets (TLS 1.2 and 1.3).  Then the CA's CRL (which
    revokes her) appears under its hashed name, but broken (half-written,
    DER, root-only, a symlink loop, a link to nowhere): nothing can tell it
    revokes nobody, so a full handshake of hers is refused (fail closed)
    and so is her old ticket; once the CRL is whole, alice is served again
    and mallory is refused as revoked.  Before: the broken file counted as
    no CRL, and mallory logged in both ways."""
    import test_clientcert as tc
    crl = open(ftpsd.cert("ca.crl"), "rb").read()
    d, target = _crl_dir(tc, with_crl=False)
    try:
        srv = tc._server(ctx, tc._verify("on", TLSCARevocationPath=d))
        held = {v: _ticket_of(tc, srv, "mallory", v) for v in ("1.2", "1.3")}
        for what, breakage in BREAKAGES:
            if os.path.lexists(target):
                os.unlink(target)
            breakage(target, crl)
            tc.assert_refused(srv, "mallory", "1.2",
                              what="CRL %s: " % what)
            for v in ("1.2", "1.3"):
                got = _resume_login(srv, *held[v])
                assert got[0] is None and got[1] != 230, \
                    "TLS %s: CRL %s: mallory resumed a ticket from " \
                    "before it and logged in: %r" % (v, what, got)
        os.unlink(target)
        with open(target, "wb") as f:
            f.write(crl)
        os.chmod(target, 0o644)
        tc.assert_accepted(srv, "alice", "1.3", what="CRL whole again: ")
        tc.assert_refused(srv, "mallory", "1.3", what="CRL whole again: ",
                          alert=tc.REVOKED)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _make_crl(revoked=(), key=None, last=None, nxt=None, issuer=None):
    """A PEM CRL under the test CA's name (or issuer, an x509.Name),
    signed by the CA's key (or key), revoking the serials in revoked."""
    with open(ftpsd.cert("ca.pem"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    if key is None:
        with open(ftpsd.cert("ca.key"), "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
    now = datetime.datetime.utcnow()
    b = (x509.CertificateRevocationListBuilder()
         .issuer_name(issuer or ca.subject)
         .last_update(last or now - datetime.timedelta(minutes=1))
         .next_update(nxt or now + datetime.timedelta(days=1)))
    for serial in revoked:
        b = b.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial)
            .revocation_date(now - datetime.timedelta(minutes=1)).build())
    return b.sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM)


def _put(path, data):
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, 0o644)


def _tickets(tc, srv, who):
    return {v: _ticket_of(tc, srv, who, v) for v in ("1.2", "1.3")}


def _no_ticket_login(srv, held, what):
    for v in ("1.2", "1.3"):
        got = _resume_login(srv, *held[v])
        assert got[0] is None and got[1] != 230, \
            "TLS %s: %s: an old ticket resumed and logged in: %r" \
            % (v, what, got)


def test_attack4_forged_same_name_crl_held(ctx):
    """A CRL named for the test CA but signed by another key (whoever can
    write into the CRL directory without the CA's key): alone, it does
    not pass for the CA's (empty) CRL; beside the genuine CRL that
    revokes mallory, and newer, it does not lift her revocation.  Full
    handshakes and old tickets alike."""
    import test_clientcert as tc
    with open(tc.ident("mallory")[0], "rb") as f:
        serial = x509.load_pem_x509_certificate(f.read()).serial_number
    forged = _make_crl(key=ec.generate_private_key(ec.SECP256R1()),
                       last=datetime.datetime.utcnow())
    d, target = _crl_dir(tc, with_crl=False)
    try:
        srv = tc._server(ctx, tc._verify("on", TLSCARevocationPath=d))
        held = _tickets(tc, srv, "mallory")
        _put(target, forged)
        tc.assert_refused(srv, "mallory", "1.2", what="forged CRL alone: ")
        _no_ticket_login(srv, held, "forged CRL alone")
        _put(target, _make_crl([serial], last=datetime.datetime.utcnow() -
                               datetime.timedelta(hours=1)))
        _put(target[:-1] + "1", forged)
        tc.assert_refused(srv, "mallory", "1.2", what="forged CRL newer: ")
        _no_ticket_login(srv, held, "forged CRL newer")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_attack4_expired_crl_refuses_tickets_held(ctx):
    """The CA's CRL in TLSCARevocationPath revokes nobody, but is past its
    nextUpdate (then: not valid yet): a full handshake of alice's is
    refused, and her ticket from before must not log in either (the
    ticket check judges as the full handshake does)."""
    import test_clientcert as tc
    now = datetime.datetime.utcnow()
    d, target = _crl_dir(tc, with_crl=False)
    try:
        srv = tc._server(ctx, tc._verify("on", TLSCARevocationPath=d))
        held = _tickets(tc, srv, "alice")
        for what, last, nxt in (
                ("expired", now - datetime.timedelta(days=2),
                 now - datetime.timedelta(days=1)),
                ("not yet valid", now + datetime.timedelta(days=1),
                 now + datetime.timedelta(days=2))):
            _put(target, _make_crl(last=last, nxt=nxt))
            tc.assert_refused(srv, "alice", "1.2", what="CRL %s: " % what)
            _no_ticket_login(srv, held, "CRL %s" % what)
        _put(target, _make_crl())
        tc.assert_accepted(srv, "alice", "1.2", what="CRL current: ")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def _sni_ticket(srv, c, sni):
    """A logged-in control connection with SNI sni: its TLS session."""
    r = pm.Ctl(srv, c, sni=sni)
    try:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls()
        expect(r.cmd("USER " + srv.user), 331, "USER")
        expect(r.cmd("PASS " + srv.password), 230, "PASS")
        expect(r.cmd("PWD"), 257, "PWD")
        return r.sock.session
    finally:
        r.close()


def _sni_resume(srv, c, sni, sess):
    """(resumed?, last reply code) offering sess with SNI sni; (None, 0)
    when the handshake or the session failed."""
    r = pm.Ctl(srv, c, sni=sni)
    try:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls(session=sess)
        reused = r.sock.session_reused
        code, _ = r.cmd("USER " + srv.user)
        if code == 331:
            code, _ = r.cmd("PASS " + srv.password)
        return reused, code
    except (OSError, EOFError):
        return None, 0
    finally:
        r.close()


def test_attack4_sni_vhost_ca_path_tickets_held(ctx):
    """The default server and the SNI vhost b.example each trust the test
    root through a TLSCACertificatePath of their own.  alice keeps a
    ticket of each (TLS 1.2 and 1.3).  The root is taken out of
    b.example's directory alone: there, her old ticket of b.example does
    not log in, nor does the default server's; on the default server her
    ticket of it still resumes (its directory is unchanged), and the
    ticket of b.example gets a full handshake there (another scope)."""
    import test_clientcert as tc
    dirs = []
    for _ in range(2):
        d = tempfile.mkdtemp(prefix="capath4-", dir=ftpsd.tmp_root())
        os.chmod(d, 0o755)
        shutil.copy(ftpsd.cert("ca.pem"), d)
        os.chmod(os.path.join(d, "ca.pem"), 0o644)
        tc._openssl("rehash", d)
        dirs.append(d)
    try:
        srv = ctx.server({"TLSVerifyClient": "on",
                          "TLSCACertificatePath": dirs[0]},
                         start=False, shared=False)
        block, _ = pm.vhost_block(srv, pm.VHOST, [
            "TLSVerifyClient on", "TLSCACertificatePath " + dirs[1]])
        srv.append_conf(block)
        srv.start()
        for v in ("1.2", "1.3"):
            c = tc.cctx("alice", v)
            own = _sni_ticket(srv, c, "localhost")
            there = _sni_ticket(srv, c, pm.VHOST)
            assert _sni_resume(srv, c, pm.VHOST, there) == (True, 230), v
            for name in os.listdir(dirs[1]):
                os.unlink(os.path.join(dirs[1], name))
            for what, sess in (("its own", there), ("the default's", own)):
                got = _sni_resume(srv, c, pm.VHOST, sess)
                assert got[0] is not True and got[1] != 230, \
                    "TLS %s: root out of %s's CA directory: %s ticket " \
                    "logged in there: %r" % (v, pm.VHOST, what, got)
            got = _sni_resume(srv, c, "localhost", own)
            assert got == (True, 230), "TLS %s: default server, own " \
                "ticket: %r" % (v, got)
            got = _sni_resume(srv, c, "localhost", there)
            assert got == (False, 230), "TLS %s: default server, %s's " \
                "ticket: %r" % (v, pm.VHOST, got)
            shutil.copy(ftpsd.cert("ca.pem"), dirs[1])
            os.chmod(os.path.join(dirs[1], "ca.pem"), 0o644)
            tc._openssl("rehash", dirs[1])
    finally:
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def test_attack4_hash_collision_crls_held(ctx):
    """Two CAs whose names hash alike share HASH.r0, HASH.r1: here another
    CA's (valid) CRL sits at the test CA's .r0.  Alone, it is no broken
    file: alice, and mallory's old ticket, are served (no CRL of the test
    CA).  With the test CA's CRL at .r1, mallory is refused as revoked,
    full handshake and old ticket."""
    import test_clientcert as tc
    from cryptography.x509.oid import NameOID
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _make_crl(key=other_key, issuer=x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "another CA")]))
    d, target = _crl_dir(tc, with_crl=False)
    try:
        srv = tc._server(ctx, tc._verify("on", TLSCARevocationPath=d))
        held = _tickets(tc, srv, "mallory")
        _put(target, other)
        tc.assert_accepted(srv, "alice", "1.2", what="other CA's CRL: ")
        for v in ("1.2", "1.3"):
            got = _resume_login(srv, *held[v])
            assert got[:2] == (True, 230), "TLS %s: another CA's CRL at " \
                "the hashed name: want mallory's ticket resumed, got " \
                "%r" % (v, got)
        os.rename(target + ".off", target[:-1] + "1")
        tc.assert_refused(srv, "mallory", "1.2", what="CRL at .r1: ",
                          alert=tc.REVOKED)
        _no_ticket_login(srv, held, "the test CA's CRL at .r1")
        tc.assert_accepted(srv, "alice", "1.3", what="CRL at .r1: ")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_attack4_crl_path_data_after_chroot_held(ctx):
    """TLSCARevocationPath (the test CA's CRL absent, then present), the
    test server's DefaultRoot ~ and NoSessionReuseRequired: stock ftplib
    makes a full handshake on each data connection, after the chroot,
    where the CRL directory's path leads nowhere.  alice's listings and
    downloads go on (the data connection presents the control
    connection's certificate); the broken-file check must not take the
    missing directory for a broken one.  (A check that refused a missing
    directory refused these with "unable to get certificate CRL".)"""
    import ftplib
    import io
    import test_clientcert as tc
    d, target = _crl_dir(tc, with_crl=False)
    try:
        srv = tc._server(ctx, tc._verify(
            "on", TLSCARevocationPath=d,
            TLSOptions="NoSessionReuseRequired"))
        with open(os.path.join(srv.home, "f.bin"), "wb") as f:
            f.write(b"x" * 70001)
        for what in ("no CRL of the CA", "the CA's CRL"):
            for v in ("1.2", "1.3"):
                f = ftplib.FTP_TLS(context=tc.cctx("alice", v), timeout=20)
                try:
                    f.connect(srv.host, srv.port)
                    f.auth()
                    f.login(srv.user, srv.password)
                    f.prot_p()
                    names = f.nlst()
                    buf = io.BytesIO()
                    f.retrbinary("RETR f.bin", buf.write)
                    f.quit()
                finally:
                    f.close()
                assert "f.bin" in names and buf.getvalue() == \
                    b"x" * 70001, "TLS %s, %s: %r, %d bytes" \
                    % (v, what, names, len(buf.getvalue()))
            if os.path.exists(target + ".off"):
                os.rename(target + ".off", target)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_attack4_crl_path_gone_refuses(ctx):
    """The TLSCARevocationPath directory (holding the CRL that revokes
    mallory) is taken away, as a new one is being swapped in: nothing
    says mallory is not revoked, so her full handshake is refused, and so
    is her ticket from before the CRL came; with the directory back,
    alice is served and mallory refused as revoked.  Before: without the
    directory, mallory logged in both ways."""
    import test_clientcert as tc
    d, target = _crl_dir(tc, with_crl=False)
    away = d + ".away"
    try:
        srv = tc._server(ctx, tc._verify("on", TLSCARevocationPath=d))
        held = _tickets(tc, srv, "mallory")
        os.rename(target + ".off", target)
        tc.assert_refused(srv, "mallory", "1.2", what="CRL in: ",
                          alert=tc.REVOKED)
        os.rename(d, away)
        tc.assert_refused(srv, "mallory", "1.2", what="directory gone: ")
        _no_ticket_login(srv, held, "CRL directory gone")
        os.rename(away, d)
        tc.assert_accepted(srv, "alice", "1.3", what="directory back: ")
        tc.assert_refused(srv, "mallory", "1.3", what="directory back: ",
                          alert=tc.REVOKED)
    finally:
        shutil.rmtree(away, ignore_errors=True)
        shutil.rmtree(d, ignore_errors=True)


def _plant(srv, path, files):
    """Make path (absolute, as the configuration names it) inside the
    user's home, which DefaultRoot ~ makes the session's root, holding
    files {name: source file}: what a user could make with MKD and STOR."""
    inside = os.path.join(srv.home, path.lstrip("/"))
    os.makedirs(inside, exist_ok=True)
    for name, src in files.items():
        shutil.copy(src, os.path.join(inside, name))
    for root, dirs, names in os.walk(srv.home):
        for n in dirs + names:
            os.chown(os.path.join(root, n), ftpsd.UID, ftpsd.GID)


def _auth_after_login_reply(srv, c):
    """Log in in clear, then AUTH TLS: 431 (refused before any handshake),
    or what a handshake with c and PWD gave."""
    r = pm.Ctl(srv, c, sni="localhost")
    try:
        r.login()
        code, text = r.cmd("AUTH TLS")
        if code != 234:
            return code
        try:
            r.starttls()
            return r.cmd("PWD")
        except (OSError, EOFError) as e:
            return "refused: %s" % e
    finally:
        r.close()


def test_attack4_auth_after_login_planted_trust_refused(ctx):
    """AUTH after login (AllowPerUser) under DefaultRoot ~ with
    TLSCACertificatePath or TLSCARevocationPath: after the chroot OpenSSL
    reads those paths inside the user's home, where the user can MKD and
    STOR.  Planted there, eve's self-signed certificate became a trusted
    CA (eve, refused before login, was served after it), and an empty
    directory at the CRL path let mallory's revoked certificate through
    (the directory is there, so nothing said it was gone).  AUTH after
    login is refused with 431 where the chroot hides these directories,
    planted or not; the TLSLog says why."""
    import test_clientcert as tc
    d, _target = _crl_dir(tc, with_crl=True)
    cadir = tc.fx("cadir")
    eve_crt, _eve_key = tc.ident("eve")
    eve_hash = tc._openssl("x509", "-noout", "-subject_hash", "-in",
                           eve_crt).stdout.decode().strip()
    cases = (
        ("TLSCACertificatePath", "eve",
         dict(TLSCACertificatePath=cadir),
         lambda srv: _plant(srv, cadir, {eve_hash + ".0": eve_crt})),
        ("TLSCARevocationPath", "mallory",
         dict(TLSCARevocationPath=d),
         lambda srv: _plant(srv, d, {})),
        # nothing planted: the chroot hides the directory (before the
        # refusal at AUTH, the handshake was refused for that, by
        # crl_dir_broken in verify.c)
        ("TLSCARevocationPath (hidden)", "mallory",
         dict(TLSCARevocationPath=d),
         lambda srv: None),
    )
    try:
        for name, who, more, plant in cases:
            srv = tc._server(ctx, tc._verify(
                "on", TLSRequired="off",
                TLSOptions="AllowPerUser NoSessionReuseRequired", **more))
            plant(srv)
            tc.assert_refused(srv, who, "1.3",
                              what="%s, before login: " % name)
            mark = srv.log_mark()
            for v in ("1.2", "1.3"):
                got = _auth_after_login_reply(srv, tc.cctx(who, v))
                assert got == 431, \
                    "%s planted in the user's root, TLS %s: AUTH after " \
                    "login with %s's certificate: want 431, got %r" \
                    % (name, v, who, got)
            assert "the chroot hides" in srv.log_since(mark, n=50), \
                "no TLSLog line says why AUTH after login was refused"
            # Without a client certificate the rule is the same: what
            # judges one cannot be trusted in this session.
            assert _auth_after_login_reply(srv, tc.cctx(None, "1.3")) == 431
    finally:
        shutil.rmtree(d, ignore_errors=True)
