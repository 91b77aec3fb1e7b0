"""Defects found by attacking the issue 11 change from outside, each with
the reproduction that found it:

* a TLS 1.2 renegotiation (TLSOptions AllowClientRenegotiations) could
  move the control connection to another vhost's certificate and CAs by
  SNI, or present a client certificate that the first handshake's checks
  (CommonNameRequired and friends) never saw, and log in with it (232);
* AllowPerUser on the default server stayed in force after HOST moved the
  session to a vhost without it (USER/PASS then went in clear where
  TLSRequired on should refuse them);
* an SNI name with control characters travelled into session notes (and
  so into ExtendedLog lines a LogFormat builds from them)."""

import os
import subprocess

import ftpsd
from clients import Raw, expect
from ftpsd import Skip, cert

# A TLS 1.2 client that renegotiates: AUTH TLS, a first handshake with no
# certificate, NOOP, then a renegotiation (with SNI NAME2 and the client
# certificate CERT/KEY, "-" for none), then each FTP line given, printing
# "LINE -> REPLY".
RENEG_C = r"""
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void line(SSL *s, const char *l) {
  char buf[2048];
  int n;

  SSL_write(s, l, (int) strlen(l));
  SSL_write(s, "\r\n", 2);
  n = SSL_read(s, buf, sizeof(buf) - 1);
  buf[n > 0 ? n : 0] = '\0';
  printf("%s -> %s\n", l, n > 0 ? buf : "(closed)");
}

int main(int argc, char **argv) {
  struct sockaddr_in sin;
  char buf[2048];
  int fd, i, rc;
  SSL_CTX *ctx;
  SSL *s;

  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons((unsigned short) atoi(argv[1]));
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) < 0) {
    return 2;
  }
  (void) read(fd, buf, sizeof(buf));
  (void) write(fd, "AUTH TLS\r\n", 10);
  (void) read(fd, buf, sizeof(buf));

  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
  s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  if (SSL_connect(s) != 1) {
    printf("first handshake failed\n");
    return 3;
  }
  line(s, "NOOP");
  if (strcmp(argv[2], "-") != 0) {
    SSL_set_tlsext_host_name(s, argv[2]);
  }
  if (strcmp(argv[3], "-") != 0) {
    SSL_use_certificate_chain_file(s, argv[3]);
    SSL_use_PrivateKey_file(s, argv[4], SSL_FILETYPE_PEM);
  }
  rc = SSL_renegotiate(s) == 1 ? SSL_do_handshake(s) : 0;
  printf("renegotiation %s\n", rc == 1 ? "done" : "failed");
  for (i = 5; i < argc; i++) {
    line(s, argv[i]);
  }
  return 0;
}
"""


def _reneg_client(ctx):
    out = os.path.join(ftpsd.tmp_root(), "reneg-client")
    if not os.path.exists(out):
        src = out + ".c"
        with open(src, "w") as f:
            f.write(RENEG_C)
        res = subprocess.run(["cc", "-o", out, src, "-lssl", "-lcrypto"],
                             capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise Skip("cannot build the renegotiating client: %s"
                       % res.stderr[-300:])
    return out


def _renegotiate(ctx, srv, name2, who, *lines):
    crt, key = ("-", "-") if who is None else (
        cert("client-%s.crt" % who), cert("client-%s.key" % who))
    res = subprocess.run([_reneg_client(ctx), str(srv.port), name2, crt,
                          key] + list(lines), capture_output=True, text=True,
                         timeout=60)
    return res.stdout


def _reply_to(out, cmd):
    for l in out.splitlines():
        if l.startswith(cmd + " -> "):
            return l.split(" -> ", 1)[1]
    return ""


def test_reneg_cannot_bring_a_certificate_the_checks_never_saw(ctx):
    """iPAddressRequired refuses client-bob in a first handshake; presented
    in a renegotiation it logged bob in (232)."""
    srv = ctx.server({"TLSCACertificateFile": cert("ca.pem"),
                      "TLSVerifyClient": "optional",
                      "TLSOptions": "AllowClientRenegotiations "
                                    "iPAddressRequired"},
                     extra=["TLSUserName CommonName"], start=False,
                     shared=False)
    srv.add_user("bob", "bob-pw")
    srv.start()
    out = _renegotiate(ctx, srv, "-", "bob", "USER bob")
    assert "NOOP -> 200" in out, out
    assert "renegotiation failed" in out, \
        "a renegotiation presenting a client certificate went through:\n" + out
    assert not _reply_to(out, "USER bob").startswith("232"), out
    assert "renegotiation refused" in open(srv.tls_log).read()


def test_reneg_cannot_move_to_another_vhost(ctx):
    """A renegotiation naming vhost b.example (SNI) moved the connection to
    b's certificate and CAs while the session stayed on the default server,
    whose certificate login then took b's client certificate."""
    import test_sni
    srv = test_sni.sni_server(
        ctx, tls={"TLSOptions": "AllowClientRenegotiations"},
        vhost_extra={"b.example": [
            "TLSCACertificateFile " + cert("ca.pem"),
            "TLSVerifyClient optional", "TLSUserName CommonName",
            "TLSOptions AllowClientRenegotiations"]},
        start=False)
    srv.add_user("alice", "alice-pw")
    srv.append_conf(["TLSUserName CommonName"])
    srv.start()
    out = _renegotiate(ctx, srv, "b.example", "alice", "USER alice")
    assert not _reply_to(out, "USER alice").startswith("232"), \
        "a renegotiation by SNI logged alice in by b's CA:\n" + out
    log = open(srv.tls_log).read()
    assert "SNI 'b.example': vhost" not in log, log


def test_reneg_without_client_certificates_still_works(ctx):
    """Where no client certificate is asked for, AllowClientRenegotiations
    keeps working (the refusal is for certificate changes only)."""
    srv = ctx.server({"TLSOptions": "AllowClientRenegotiations"})
    out = _renegotiate(ctx, srv, "-", None, "PWD")
    assert "renegotiation done" in out, out
    assert _reply_to(out, "PWD").startswith("530"), out


def test_peruser_does_not_follow_host_to_another_vhost(ctx):
    """The default server has AllowPerUser and TLSRequired off; vhost
    b.example has TLSRequired on and no AllowPerUser: after HOST b.example,
    USER in clear gets 550 (it got 331, and PASS went in clear)."""
    import test_sni
    srv = test_sni.sni_server(
        ctx, tls={"TLSRequired": "off", "TLSOptions": "AllowPerUser"})
    r = Raw(srv)
    try:
        expect(r.cmd("HOST b.example"), 220, "HOST")
        code, text = r.cmd("USER " + srv.user)
        assert code == 550 and "SSL/TLS required" in text, (code, text)
    finally:
        r.close()


def test_sni_name_that_is_no_host_name_refused(ctx):
    """An SNI name with a newline: the handshake is refused, and the name
    never reaches the session notes (LogFormat %{note:TLS_SERVER_NAME})."""
    srv = ctx.server(start=False, shared=False)
    ext = os.path.join(srv.dir, "ext.log")
    srv.append_conf(['LogFormat sni "%{note:TLS_SERVER_NAME} %m"',
                     "ExtendedLog %s ALL sni" % ext])
    srv.start()
    argv = ["openssl", "s_client", "-starttls", "ftp", "-crlf", "-connect",
            "%s:%d" % (srv.host, srv.port), "-servername",
            "x.example\nFORGED 127.0.0.1 root RETR"]
    res = subprocess.run(argv, input="QUIT\n", capture_output=True,
                         text=True, timeout=30)
    assert "alert unrecognized name" in res.stderr.lower() or \
        "unrecognized" in (res.stdout + res.stderr).lower(), \
        res.stdout[-500:] + res.stderr[-500:]
    log = open(srv.tls_log).read()
    assert "is not a host name: handshake refused" in log, log
    text = open(ext).read() if os.path.exists(ext) else ""
    assert "FORGED" not in text, text


# -- second round: listings through ".." and search-only directories; SNI
# names under IgnoreSNI ------------------------------------------------------

def _listing_server(ctx, protected, dirs):
    srv = ctx.server({"TLSRequired": "ctrl"}, extra=[
        "<Directory ~/%s>" % protected, "  TLSRequired data",
        "</Directory>"], start=False, shared=False)
    for d in dirs:
        path = os.path.join(srv.home, d)
        os.makedirs(path, exist_ok=True)
        os.chown(path, ftpsd.UID, ftpsd.GID)
    srv.home_file(protected + "/SECRET-A.txt", b"x")
    srv.start()
    return srv


def _clear_listing(f, cmd):
    lines = []
    try:
        f.retrlines(cmd, lines.append)
        reply = "226"
    except Exception as e:  # the refusal
        reply = str(e)
    return reply, [l for l in lines if "SECRET" in l]


def test_listing_glob_through_dotdot_refused(ctx):
    """LIST -R [p]ub/.. reached the protected directory under PROT C: the
    walk skipped '..', which glob(3) takes literally."""
    from clients import ftps, close_quietly
    srv = _listing_server(ctx, "prot", ("prot", "pub", "pub/sub"))
    f = ftps(srv, prot_p=False)
    try:
        for cmd in ("LIST -R [p]ub/..", "LIST -R pu?/..",
                    "LIST -R pub/*/../..", "LIST -la -R [p]ub/..",
                    "LIST -R ./[p]ub/..", "NLST -R */.."):
            reply, leaked = _clear_listing(f, cmd)
            assert not leaked and reply.startswith("522"), \
                "%s under PROT C: %s, %r" % (cmd, reply, leaked)
        for cmd in ("LIST", "LIST -la", "NLST", "LIST pub", "MLSD pub"):
            reply, _ = _clear_listing(f, cmd)
            assert reply == "226", "%s under PROT C: %s" % (cmd, reply)
    finally:
        close_quietly(f)


def test_listing_glob_below_search_only_directory_refused(ctx):
    """x is mode 0711 (searchable, not readable): LIST -R [x]/prot reached
    x/prot, because the walk gave up where it could not read x."""
    from clients import ftps, close_quietly
    srv = _listing_server(ctx, "x/prot", ("x/prot",))
    x = os.path.join(srv.home, "x")
    os.chown(x, 0, 0)
    os.chmod(x, 0o711)
    f = ftps(srv, prot_p=False)
    try:
        for cmd in ("LIST -R [x]/prot", "LIST -R ?/prot", "NLST -R [x]/prot",
                    "LIST x/prot"):
            reply, leaked = _clear_listing(f, cmd)
            assert not leaked and reply.startswith("522"), \
                "%s under PROT C: %s, %r" % (cmd, reply, leaked)
    finally:
        close_quietly(f)


def test_sni_name_refused_also_under_ignore_sni(ctx):
    """TLSOptions IgnoreSNI skipped the host-name check: the name with a
    newline reached the TLS_SERVER_NAME note and forged ExtendedLog
    lines."""
    srv = ctx.server({"TLSOptions": "IgnoreSNI"}, start=False, shared=False)
    ext = os.path.join(srv.dir, "ext.log")
    srv.append_conf(['LogFormat sni "%{note:TLS_SERVER_NAME} %m"',
                     "ExtendedLog %s ALL sni" % ext])
    srv.start()
    argv = ["openssl", "s_client", "-starttls", "ftp", "-crlf", "-connect",
            "%s:%d" % (srv.host, srv.port), "-servername",
            "x.example\nFORGED 127.0.0.1 root RETR"]
    subprocess.run(argv, input="QUIT\n", capture_output=True, text=True,
                   timeout=30)
    assert "is not a host name: handshake refused" in open(srv.tls_log).read()
    text = open(ext).read() if os.path.exists(ext) else ""
    assert "FORGED" not in text, text


# -- third round: a symbolic link then ".."; mod_statcache before any
# upload ---------------------------------------------------------------------

def test_listing_symlink_then_dotdot_refused(ctx):
    """pub/lnk -> ../prot/sub: "pub/lnk/.." is prot (the kernel follows the
    link, then goes up), but the rule was looked up for pub."""
    from clients import ftps, close_quietly
    srv = _listing_server(ctx, "prot", ("prot", "prot/sub", "pub"))
    os.symlink("../prot/sub", os.path.join(srv.home, "pub", "lnk"))
    f = ftps(srv, prot_p=False)
    try:
        for cmd in ("LIST pub/lnk/..", "LIST -R pub/lnk/..",
                    "LIST pub/lnk/../", "LIST -R pub/lnk/.*",
                    "NLST -R pub/lnk/.*"):
            reply, leaked = _clear_listing(f, cmd)
            assert not leaked and reply.startswith("522"), \
                "%s under PROT C: %s, %r" % (cmd, reply, leaked)
        for cmd in ("LIST pub", "LIST -la", "LIST .*"):
            reply, _ = _clear_listing(f, cmd)
            assert reply == "226", "%s under PROT C: %s" % (cmd, reply)
    finally:
        close_quietly(f)


def test_statcache_session_survives_before_any_upload(ctx):
    """mod_statcache unmounts the layer at "/" after login: a file opened
    before login through ours (the AuthUserFile) then led nowhere, and the
    next user lookup crashed the session (CWD ~nosuchuser)."""
    from clients import ftps, close_quietly
    statcache = "/usr/lib/proftpd/mod_statcache.so"
    if not os.path.exists(statcache):
        raise Skip("mod_statcache not installed")
    for order in ("modules", "modules_after"):
        srv = ftpsd.Server(ctx.module, tls={"TLSRequired": "ctrl"},
                           **{order: [statcache]})
        ctx.own.append(srv)
        srv.append_conf(["StatCacheEngine on", "StatCacheTable " +
                         os.path.join(srv.dir, "statcache.tab")])
        srv.start()
        f = ftps(srv)
        try:
            try:
                f.sendcmd("CWD ~nosuchuser")
            except Exception as e:  # the refusal
                assert str(e).startswith("550"), e
            assert f.voidcmd("NOOP").startswith("200")
        finally:
            close_quietly(f)
        assert "signal 11" not in open(srv.stderr_path).read()
