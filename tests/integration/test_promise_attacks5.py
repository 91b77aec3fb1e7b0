"""Promise attacks, fifth round: files the session process reads by a path
after DefaultRoot's chroot, where the user can plant them with MKD and
STOR (the class of 13d4861, AUTH after login with TLSCACertificatePath).

Regressions (each failed on the code before its fix):
  test_attack5_sscn_planted_default_ca_refused
      SSCN ON with TLSVerifyServer on and no TLSCACertificateFile: the
      peer's certificate was verified against OpenSSL's default paths,
      whose directory (/usr/lib/ssl/certs, or SSL_CERT_DIR) is read lazily, at the data
      connection, after the chroot: inside the user's home.  A
      self-signed certificate planted there under its hashed name made an
      FXP peer that serves it trusted.
  test_attack5_ifuser_verify_off_planted_ca_refused
      13d4861 refused AUTH after login under DefaultRoot where a CA or CRL
      directory judges client certificates, but asked TLSVerifyClient of
      the configuration, which mod_ifsession rewrites at login: with
      <IfUser> TLSVerifyClient off the check let AUTH through, while the
      context (built at startup, TLSVerifyClient on) still asked for and
      verified certificates through the directory in the user's home, and
      a certificate signed by nothing but a planted CA was accepted.

Guards of promises that held are marked "held" in their names:
  test_attack5_sscn_system_bundle_still_trusted_held
      the system bundle (SSL_CERT_FILE), read before the chroot, still
      vouches for an FXP peer after it.
  test_attack5_anonymous_planted_ca_held
      an <Anonymous> session is chrooted to its directory (writable here,
      as an upload area makes it): AUTH after the anonymous login is
      refused (431) with TLSCACertificatePath, a CA planted there or not;
      without the directory the same AUTH is served.
"""

import os
import shutil
import ssl
import subprocess

import ftpsd
import test_sscn as ts

# OpenSSL's default directory, and the one SSL_CERT_DIR may name instead
_paths = ssl.get_default_verify_paths()
DEFAULT_CERT_DIRS = sorted({d for d in (_paths.openssl_capath,
                                         os.environ.get("SSL_CERT_DIR"))
                            if d})


def _plant(home, path, files):
    """path (absolute, as OpenSSL names it) made inside home, which
    DefaultRoot ~ makes the session's root, holding files {name: source}:
    what the user could make with MKD and STOR."""
    inside = os.path.join(home, path.lstrip("/"))
    os.makedirs(inside, exist_ok=True)
    for name, src in files.items():
        shutil.copy(src, os.path.join(inside, name))
    for root, dirs, names in os.walk(home):
        for n in dirs + names:
            os.chown(os.path.join(root, n), ftpsd.UID, ftpsd.GID)


def _subject_hash(path):
    return subprocess.run(["openssl", "x509", "-noout", "-subject_hash",
                           "-in", path], check=True,
                          capture_output=True).stdout.decode().strip()


def test_attack5_sscn_planted_default_ca_refused(ctx):
    """A (SSCN ON, TLSVerifyServer on, no TLSCACertificateFile) sends to B,
    which serves the self-signed selfsigned.pem (naming 127.0.0.1), that
    no system CA signs.  The user of A planted that certificate in its
    home as /usr/lib/ssl/certs/HASH.0 (and under SSL_CERT_DIR): A must still refuse B (4xx), as it
    does without the plant; before the fix, the FXP completed (226)."""
    peer = ftpsd.cert("selfsigned.pem")
    a = ctx.server(name="ftpsd-a", shared=False)
    b = ctx.server(extra=ts.LISTENER_EXTRA, name="ftpsd-b")
    for d in DEFAULT_CERT_DIRS:
        _plant(a.home, d, {_subject_hash(peer) + ".0": peer})
    mark = a.log_mark()
    data, path, got_s, got_d = ts._fxp(a, b, size=64 * 1024,
                                       name="planted.bin")
    assert got_s[-1][:1] == "4", \
        "A (SSCN ON) trusted a CA its user planted in the chroot: want " \
        "4xx, got %r (B: %r)" % (got_s, got_d)
    assert not (os.path.exists(path) and
                sha256_ok(path, data)), \
        "the copy completed from a peer only the planted CA vouches for"
    log = ftpsd.tls_log_since(a, mark)
    assert "certificate verify failed" in log, \
        "A's TLSLog does not say why:\n%s" % log[-2000:]


def sha256_ok(path, data):
    return ftpsd.sha256_file(path) == ftpsd.sha256(data)


def test_attack5_sscn_system_bundle_still_trusted_held(ctx):
    """The fix reads the system bundle (SSL_CERT_FILE) when the daemon
    builds its contexts, before any chroot: a peer whose certificate is in
    it is still verified and the FXP completes, though the bundle's path
    does not exist inside the user's root."""
    peer = ftpsd.cert("selfsigned.pem")
    old = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = peer
    try:
        a = ctx.server(name="ftpsd-a", shared=False)
    finally:
        if old is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = old
    b = ctx.server(extra=ts.LISTENER_EXTRA, name="ftpsd-b")
    assert not os.path.exists(os.path.join(a.home, peer.lstrip("/")))
    data, path, got_s, got_d = ts._fxp(a, b, size=64 * 1024,
                                       name="bundle.bin")
    ts._check_fxp_ok("FXP A->B, peer in SSL_CERT_FILE", data, path, got_s,
                     got_d)


IFSESSION = "/usr/lib/proftpd/mod_ifsession.so"


def test_attack5_ifuser_verify_off_planted_ca_refused(ctx):
    """TLSVerifyClient on with TLSCACertificatePath, AllowPerUser, and
    <IfUser ftpuser> TLSVerifyClient off (mod_ifsession): the handshake of
    AUTH after login is made by the context built from the server's
    configuration, which still verifies eve's certificate through the
    directory, now inside the user's home.  Planted there, eve's
    certificate must not be served: AUTH after login gets 431, as without
    the <IfUser>."""
    import test_clientcert as tc
    import test_promise_attacks4 as a4
    cadir = tc.fx("cadir")
    eve_crt, _eve_key = tc.ident("eve")
    tls = {k: tc._res(v) for k, v in tc._verify(
        "on", TLSRequired="off", TLSCACertificatePath=cadir,
        TLSOptions="AllowPerUser NoSessionReuseRequired").items()}
    srv = ftpsd.Server(ctx.module, tls=tls,
                       extra=["<IfUser %s>" % ftpsd.USER,
                              "TLSVerifyClient off", "</IfUser>"],
                       modules_after=[IFSESSION], keep=ctx.keep,
                       name="ifuser-verify")
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    srv.start()
    _plant(srv.home, cadir, {_subject_hash(eve_crt) + ".0": eve_crt})
    tc.assert_refused(srv, "eve", "1.3", what="before login: ")
    for v in ("1.2", "1.3"):
        got = a4._auth_after_login_reply(srv, tc.cctx("eve", v))
        assert got == 431, \
            "<IfUser> TLSVerifyClient off, eve's certificate planted as a " \
            "CA in the user's root, TLS %s: AUTH after login: want 431, " \
            "got %r" % (v, got)


def _anon_server(ctx, tls):
    """tls (client certificates, AllowPerUser) and an <Anonymous> whose
    root the anonymous user owns (it can MKD and STOR there)."""
    import test_clientcert as tc
    tls = {k: tc._res(v) for k, v in tls.items()}
    srv = ftpsd.Server(ctx.module, tls=tls, keep=ctx.keep, name="anon-ca")
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    anon = srv.add_user("anonftp", "unused-password")
    srv.append_conf(["<Anonymous %s>" % anon,
                     "  User anonftp",
                     "  Group nogroup",
                     "  UserAlias anonymous anonftp",
                     "  RequireValidShell off",
                     "</Anonymous>"])
    srv.start()
    return srv, anon


def _anon_auth_reply(srv, c):
    """Anonymous login in clear, then AUTH TLS: 431, or PWD's reply after
    a handshake with c."""
    import test_promise_matrix as pm
    r = pm.Ctl(srv, c, sni="localhost")
    try:
        assert r.cmd("USER anonymous")[0] == 331
        assert r.cmd("PASS a@b.c")[0] == 230
        code, _text = r.cmd("AUTH TLS")
        if code != 234:
            return code
        try:
            r.starttls()
            return r.cmd("PWD")[0]
        except (OSError, EOFError) as e:
            return "refused: %s" % e
    finally:
        r.close()


def test_attack5_anonymous_planted_ca_held(ctx):
    """<Anonymous> chroots to its directory, which here its user can write
    (an upload area can be the whole tree): with TLSCACertificatePath,
    eve's certificate planted there as a CA must not be served at AUTH
    after the anonymous login (431).  The same AUTH with the CA file only
    is served (alice's certificate), so 431 is the chroot's refusal."""
    import test_clientcert as tc
    cadir = tc.fx("cadir")
    eve_crt, _eve_key = tc.ident("eve")
    per_user = dict(TLSRequired="off",
                    TLSOptions="AllowPerUser NoSessionReuseRequired")
    srv, anon = _anon_server(ctx, tc._verify(
        "on", TLSCACertificatePath=cadir, **per_user))
    _plant(anon, cadir, {_subject_hash(eve_crt) + ".0": eve_crt})
    for v in ("1.2", "1.3"):
        got = _anon_auth_reply(srv, tc.cctx("eve", v))
        assert got == 431, \
            "<Anonymous>, eve's certificate planted as a CA in its root, " \
            "TLS %s: AUTH after login: want 431, got %r" % (v, got)
    srv2, _anon2 = _anon_server(ctx, tc._verify("on", **per_user))
    got = _anon_auth_reply(srv2, tc.cctx("alice", "1.3"))
    assert got == 257, \
        "<Anonymous>, CA file only: AUTH after login with alice's " \
        "certificate: want PWD's 257, got %r" % (got,)
