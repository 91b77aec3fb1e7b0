"""TLSOptions AllowPerUser: TLSRequired's control/authentication rules are
checked once the user is known (so <IfUser> can set them per user, with
mod_ifsession loaded after the module); a user whose rules were not met
gets 530 and is disconnected; AUTH is accepted after a plain login."""

import ftplib
import os

import ftpsd
from ftpsd import Skip
from clients import (Raw, expect, ftps, close_quietly, ReusingFTP_TLS,
                     context)

IFSESSION = "/usr/lib/proftpd/mod_ifsession.so"
PER_USER = ["TLSOptions AllowPerUser"]
USER2, PASSWORD2 = "plainuser", "plainpass"


def _auth(srv):
    r = Raw(srv)
    expect(r.banner, 220, "banner")
    expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
    r.starttls()
    return r


def _login(r, user, password):
    c, t = r.cmd("USER " + user)
    if c != 331:
        return c, t
    return r.cmd("PASS " + password)


def _refused_and_closed(r, user, password, what):
    """USER/PASS end in '530 Login incorrect.' and the connection closes."""
    code, text = _login(r, user, password)
    assert code == 530 and "Login incorrect" in text, \
        "%s: want '530 Login incorrect.', got %r" % (what, text)
    data, eof = r.read_all(timeout=10)
    assert eof, "%s: connection still open 10s after the 530 (got %r)" \
        % (what, data)
    assert b"230" not in data, "%s: logged in after all: %r" % (what, data)


def _own_server(ctx, tls=None, extra=None, **kw):
    """A Server the test owns (stopped and removed after the test), built
    with ftpsd.Server's keyword arguments (Ctx.server() has no modules)."""
    srv = ftpsd.Server(ctx.module, tls=tls, extra=extra, keep=ctx.keep, **kw)
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    return srv


# -- (a) TLSRequired on + AllowPerUser ------------------------------------------

def test_peruser_required_on_plain_530_disconnect(ctx):
    srv = ctx.server(extra=PER_USER)
    with Raw(srv) as r:
        _refused_and_closed(r, srv.user, srv.password,
                            "plain login, TLSRequired on + AllowPerUser")
    with _auth(srv) as r:
        expect(_login(r, srv.user, srv.password), 230,
               "login over TLS, TLSRequired on + AllowPerUser")
        expect(r.cmd("PWD"), 257, "PWD after login over TLS")


# -- (b) <IfUser> with mod_ifsession --------------------------------------------

def _ifuser_server(ctx):
    if not os.path.exists(IFSESSION):
        raise Skip("%s not installed" % IFSESSION)
    srv = _own_server(ctx, {"TLSRequired": "off"},
                      PER_USER + ["<IfUser %s>" % ftpsd.USER,
                                  "  TLSRequired on",
                                  "</IfUser>"],
                      modules_after=[IFSESSION], name="ftpsd-ifuser")
    srv.home2 = srv.add_user(USER2, PASSWORD2)
    with open(os.path.join(srv.home2, "two.txt"), "wb") as f:
        f.write(b"two\n")
    os.chown(os.path.join(srv.home2, "two.txt"), ftpsd.UID, ftpsd.GID)
    srv.start()
    return srv


def test_peruser_ifuser(ctx):
    srv = _ifuser_server(ctx)
    # ftpuser must use TLS ...
    with Raw(srv) as r:
        _refused_and_closed(r, srv.user, srv.password,
                            "plain login of %s (<IfUser> TLSRequired on)"
                            % srv.user)
    # ... the other user need not: plain login and a plain data connection
    f = ftplib.FTP(timeout=20)
    f.connect(srv.host, srv.port)
    try:
        resp = f.login(USER2, PASSWORD2)
        assert resp.startswith("230"), "plain login of %s: %r" % (USER2,
                                                                  resp)
        lines = []
        f.retrlines("LIST", lines.append)
        assert any(l.endswith(" two.txt") for l in lines), \
            "plain LIST of %s lacks two.txt: %r" % (USER2, lines)
    except ftplib.all_errors as e:
        raise AssertionError("plain session of %s: %s" % (USER2, e))
    finally:
        close_quietly(f)
    # ftpuser over FTPS
    srv.home_file("one.txt", b"one\n")
    f = ftps(srv)
    try:
        assert "one.txt" in f.nlst(), "FTPS NLST of %s lacks one.txt" \
            % srv.user
    finally:
        close_quietly(f)


# -- (c) TLSRequired auth + AllowPerUser: refused at startup ---------------------

def test_peruser_required_auth_refused(ctx):
    srv = ctx.server({"TLSRequired": "auth"}, extra=PER_USER, start=False,
                     shared=False)
    rc, out = srv.check()
    assert rc != 0, "proftpd -t accepted TLSRequired auth + AllowPerUser:\n%s" \
        % out
    assert "AllowPerUser" in out, \
        "proftpd -t output does not name AllowPerUser:\n%s" % out
    # control: the same without AllowPerUser is fine
    ok = ctx.server({"TLSRequired": "auth"}, start=False, shared=False)
    rc, out = ok.check()
    assert rc == 0, "proftpd -t refused TLSRequired auth alone:\n%s" % out


# -- (d) AUTH after a plain login ---------------------------------------------------

def _plain_then_auth(srv):
    r = Raw(srv)
    r.login()
    return r, r.cmd("AUTH TLS")


def test_peruser_auth_after_login(ctx):
    srv = ctx.server({"TLSRequired": "off"}, extra=PER_USER)
    srv.home_file("after.txt", b"after\n")
    r, got = _plain_then_auth(srv)
    with r:
        expect(got, 234, "AUTH TLS after a plain login, AllowPerUser")
        r.starttls()
        expect(r.cmd("PWD"), 257, "PWD over TLS after the late AUTH")
        expect(r.cmd("PBSZ 0"), 200, "PBSZ 0 after the late AUTH")
        expect(r.cmd("PROT P"), 200, "PROT P after the late AUTH")
    # ftplib: plain login, AUTH TLS, PROT P, a protected (resumed) listing
    f = ReusingFTP_TLS(context=context(), timeout=20)
    try:
        f.connect(srv.host, srv.port)
        f.login(srv.user, srv.password, secure=False)
        f.auth()
        f.prot_p()
        assert "after.txt" in f.nlst(), "NLST after the late AUTH"
    except ftplib.all_errors as e:
        raise AssertionError("ftplib: login, AUTH TLS, PROT P, NLST: %s" % e)
    finally:
        close_quietly(f)


def test_peruser_auth_after_login_refused_without(ctx):
    srv = ctx.server({"TLSRequired": "off"})
    r, got = _plain_then_auth(srv)
    with r:
        expect(got, 534, "AUTH TLS after a plain login, no AllowPerUser")
        expect(r.cmd("PWD"), 257, "PWD in clear after the refused AUTH")
