"""Drop-in promises (issue 11): where a mod_tls configuration or client
must get what mod_tls gives, and where a failure must end the session.

Each test that compares with mod_tls runs the same configuration with
Debian's mod_tls.so (the oracle) when it is installed, and with mod_ftps.

* fail closed: a session whose TLS state cannot be set up (no random bytes
  for its binding token, at session start or after HOST) ends; the random
  generator is made to fail by an LD_PRELOAD shim built here with cc;
* certificate logins (TLSUserName, AllowDotLogin): USER answers
  "232 User NAME logged in" whatever AuthOrder lists, also on a vhost
  reached by HOST whose default server has no certificate login;
* dNSNameRequired: exact names only (no wildcards), and off (with a log
  line) under UseReverseDNS off;
* Protocols without ftps: an FTPS login gets 530 and the session ends;
* StdEnvVars/ExportCertData: the TLS_* variables mod_tls documents;
* AllowPerUser with TLSRequired auth: starts, and applies after login;
* reply texts of SSCN and of PROT C under a <Directory> requiring data TLS.
"""

import os
import re
import shutil
import subprocess

import ftpsd
from ftpsd import Skip, cert
from clients import (Raw, expect, context, close_quietly, ftps,
                     closed_by_peer)

MOD_TLS = "/usr/lib/proftpd/mod_tls.so"


def _modules(ctx):
    """(label, module path) pairs: mod_ftps, and mod_tls when installed."""
    out = [("mod_ftps", ctx.module)]
    if os.path.exists(MOD_TLS):
        out.append(("mod_tls", MOD_TLS))
    return out


def _server(ctx, module=None, tls=None, extra=(), auth_order=None,
            users=(), start=True, env=None, modules_after=()):
    """A server this test owns; auth_order replaces the AuthOrder line;
    users are (name, password) pairs; env adds to the daemon's environment
    (only while it starts)."""
    srv = ftpsd.Server(module or ctx.module, tls=tls, extra=list(extra),
                       keep=ctx.keep, name="promises",
                       modules_after=modules_after)
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    if auth_order is not None and auth_order != "AuthOrder mod_auth_file.c":
        srv.replace_conf("AuthOrder", auth_order)
    for name, pw in users:
        srv.add_user(name, pw)
    if start:
        _start(srv, env)
    return srv


def _start(srv, env=None):
    saved = {k: os.environ.get(k) for k in (env or {})}
    try:
        os.environ.update(env or {})
        srv.start()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def cctx(who=None, version=None):
    """A client context presenting a fixture certificate (client-WHO) or a
    file pair (crt, key), or none."""
    c = context(version)
    if isinstance(who, tuple):
        c.load_cert_chain(*who)
    elif who:
        c.load_cert_chain(cert("client-%s.crt" % who),
                          cert("client-%s.key" % who))
    return c


def tls_raw(srv, who=None, version=None, host=None):
    """Raw client: HOST host (if given), AUTH TLS with who's certificate."""
    r = Raw(srv)
    try:
        expect(r.banner, 220, "banner")
        if host:
            expect(r.cmd("HOST " + host), 220, "HOST " + host)
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        # SNI must agree with HOST
        r.sock = cctx(who, version).wrap_socket(
            r.sock, server_hostname=host or "localhost")
        return r
    except BaseException:
        r.close()
        raise


# -- the random-generator shim ------------------------------------------------

SHIM_C = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>

/* RAND_bytes and RAND_priv_bytes fail while FLAG exists. */
static int failing(void) { return access(FLAG, F_OK) == 0; }

int RAND_bytes(unsigned char *buf, int num) {
  static int (*real)(unsigned char *, int);
  if (failing()) return 0;
  if (real == NULL) real = (int (*)(unsigned char *, int))
    dlsym(RTLD_NEXT, "RAND_bytes");
  return real(buf, num);
}

int RAND_priv_bytes(unsigned char *buf, int num) {
  static int (*real)(unsigned char *, int);
  if (failing()) return 0;
  if (real == NULL) real = (int (*)(unsigned char *, int))
    dlsym(RTLD_NEXT, "RAND_priv_bytes");
  return real(buf, num);
}
"""


def _rand_shim(srv):
    """Build the shim for srv: (its LD_PRELOAD environment, flag path)."""
    if not shutil.which("cc"):
        raise Skip("no C compiler")
    flag = os.path.join(srv.dir, "rand-fails")
    src = os.path.join(srv.dir, "randshim.c")
    so = os.path.join(srv.dir, "randshim.so")
    with open(src, "w") as f:
        f.write(SHIM_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", '-DFLAG="%s"' % flag,
                    "-o", so, src, "-ldl"], check=True, capture_output=True,
                   timeout=60)
    os.chmod(so, 0o755)
    pre = os.environ.get("FTPS_DAEMON_PRELOAD", "")
    return {"FTPS_DAEMON_PRELOAD": (pre + " " + so).strip()}, flag


def _session_ended(srv, host=None):
    """Connect (and HOST host): the session must end before a USER in
    clear is answered.  Returns what happened, for messages."""
    try:
        r = Raw(srv)
    except (EOFError, OSError) as e:
        return "closed before the banner (%s)" % e
    with r:
        try:
            if host:
                code, text = r.cmd("HOST " + host)
                if code != 220:
                    assert closed_by_peer(r.sock), "HOST %s: %r, and the session " \
                        "goes on" % (host, text)
                    return "HOST answered %r, then closed" % text
            code, text = r.cmd("USER " + srv.user)
        except (EOFError, OSError) as e:
            return "closed (%s)" % e
        raise AssertionError("the session went on after its TLS state "
                             "failed: USER in clear got %r" % text)


def test_promise_rand_failure_ends_session(ctx):
    """TLSRequired on: with no random bytes for the binding token the
    session ends (it ran with TLS off, and USER got 331 in clear)."""
    srv = _server(ctx, start=False)
    env, flag = _rand_shim(srv)
    _start(srv, env)
    # the shim in place but not failing: a normal FTPS session
    f = ftps(srv)
    f.retrlines("LIST", lambda line: None)
    close_quietly(f)
    mark = srv.log_mark()
    open(flag, "w").close()
    try:
        _session_ended(srv)
    finally:
        os.unlink(flag)
    log = srv.log_since(mark, n=200)
    assert "no random bytes for the session binding" in log and \
        "ending the session" in log, "no log line says why:\n" + log
    f = ftps(srv)
    close_quietly(f)


def _host_vhost(srv, name, lines):
    """A name-based vhost (ServerAlias name) on srv's port, reached by
    HOST; TLS as the default server's unless lines replace it."""
    base = [
        "Port %d" % srv.port,
        'ServerName "vhost %s"' % name,
        "ServerAlias %s" % name,
        "AuthOrder mod_auth_file.c",
        "AuthUserFile " + os.path.join(srv.dir, "passwd"),
        "RequireValidShell off",
        "DefaultRoot ~",
        "TLSEngine on",
        "TLSLog " + srv.tls_log,
        "TLSRSACertificateFile " + cert(),
        "TLSProtocol TLSv1.2 TLSv1.3",
        "TLSRequired on",
    ]
    replaced = {l.split()[0] for l in lines}
    body = [l for l in base if l.split()[0] not in replaced] + list(lines)
    return ["<VirtualHost 127.0.0.1>"] + ["  " + l for l in body] + \
        ["</VirtualHost>"]


def test_promise_rand_failure_after_host_ends_session(ctx):
    """The default server has TLSEngine off; HOST moves the session to a
    vhost with TLSEngine on and TLSRequired on: a failing random generator
    there ends the session too (the re-init event ignored it)."""
    srv = _server(ctx, tls={"TLSEngine": "off", "TLSRequired": None},
                  start=False)
    srv.append_conf(_host_vhost(srv, "a.example", []))
    env, flag = _rand_shim(srv)
    _start(srv, env)
    with Raw(srv) as r:
        expect(r.cmd("HOST a.example"), 220, "HOST a.example")
        expect(r.cmd("USER " + srv.user), 550, "USER in clear on the vhost")
    open(flag, "w").close()
    try:
        _session_ended(srv, host="a.example")
    finally:
        os.unlink(flag)


# -- certificate logins: 232 at USER ------------------------------------------

CA = {"TLSCACertificateFile": cert("ca.pem"), "TLSVerifyClient": "optional"}
USERS = [("alice", "alice-pw"), ("bob", "bob-pw")]


def _user_reply(srv, who, user, host=None):
    """USER user with who's certificate: the reply, and after 232 a PWD
    (the session is logged in)."""
    with tls_raw(srv, who, host=host) as r:
        got = r.cmd("USER " + user)
        if got[0] == 232:
            expect(r.cmd("PWD"), 257, "PWD after 232")
        return got


def test_promise_cert_login_232(ctx):
    """TLSUserName CommonName and AllowDotLogin: USER answers "232 User
    alice logged in" (no PASS) with mod_tls and mod_ftps, under each
    AuthOrder, including one that lists neither module."""
    wrong = []
    orders = ("AuthOrder mod_auth_file.c",
              "AuthOrder mod_auth_file.c mod_tls.c",
              "AuthOrder mod_tls.c mod_auth_file.c",
              "# no AuthOrder")
    for label, module in _modules(ctx):
        for order in orders + (("AuthOrder mod_auth_file.c mod_ftps.c",)
                               if label == "mod_ftps" else ()):
            srv = _server(ctx, module, tls=CA, users=USERS,
                          extra=["TLSUserName CommonName"],
                          auth_order=order)
            for who, user, want in (("alice", "alice",
                                     (232, "232 User alice logged in")),
                                    ("bob", "alice", 331),
                                    (None, "alice", 331)):
                code, text = _user_reply(srv, who, user)
                ok = (code, text) == want if isinstance(want, tuple) \
                    else code == want
                if not ok:
                    wrong.append("%s, %s, certificate %s, USER %s: want %r, "
                                 "got %r" % (label, order, who, user, want,
                                             text))
            srv.cleanup()
    assert not wrong, "\n".join(wrong)


def test_promise_dotlogin_232(ctx):
    wrong = []
    for label, module in _modules(ctx):
        srv = _server(ctx, module, tls=CA, extra=["TLSOptions AllowDotLogin"])
        path = os.path.join(srv.home, ".tlslogin")
        with open(cert("client-alice.crt"), "rb") as inp, \
                open(path, "wb") as out:
            out.write(inp.read())
        os.chown(path, ftpsd.UID, ftpsd.GID)
        os.chmod(path, 0o644)
        for who, want in (("alice", 232), ("bob", 331)):
            code, text = _user_reply(srv, who, srv.user)
            if code != want:
                wrong.append("%s, AllowDotLogin, certificate %s: want %d, got "
                             "%r" % (label, who, want, text))
        srv.cleanup()
    assert not wrong, "\n".join(wrong)


def test_promise_cert_login_on_host_vhost(ctx):
    """Only the vhost reached by HOST configures TLSUserName: the
    certificate logs alice in there (the handlers were registered only
    when the session's first server had a certificate login)."""
    srv = _server(ctx, tls=CA, users=USERS, start=False,
                  auth_order="AuthOrder mod_auth_file.c mod_tls.c")
    srv.append_conf(_host_vhost(srv, "a.example", [
        "AuthOrder mod_auth_file.c mod_tls.c",
        "TLSCACertificateFile " + cert("ca.pem"),
        "TLSVerifyClient optional",
        "TLSUserName CommonName"]))
    srv.start()
    code, text = _user_reply(srv, "alice", "alice")
    assert code == 331, "default server (no TLSUserName): %r" % text
    code, text = _user_reply(srv, "alice", "alice", host="a.example")
    assert (code, text) == (232, "232 User alice logged in"), \
        "vhost a.example with TLSUserName CommonName: %r" % text


# -- reply texts --------------------------------------------------------------

def _sscn_replies(srv):
    with tls_raw(srv) as r:
        r.login()
        return [r.cmd("SSCN ON OFF"), r.cmd("SSCN ON")]


def test_promise_sscn_replies(ctx):
    """SSCN with too many arguments, and refused by <Limit SSCN>: mod_tls's
    codes and texts."""
    want = [(504, "504 SSCN: Invalid argument"),
            (550, "550 SSCN: Operation not permitted")]
    for label, module in _modules(ctx):
        srv = _server(ctx, module, tls={"TLSRequired": "off"},
                      extra=["<Limit SSCN>", "  DenyAll", "</Limit>"])
        got = _sscn_replies(srv)
        assert got == want, "%s: want %r, got %r" % (label, want, got)
        srv.cleanup()


def _dir_data_replies(srv):
    sec = os.path.join(srv.home, "sec")
    with tls_raw(srv) as r:
        r.login()
        out = [r.cmd("PBSZ 0"), r.cmd("PROT P"), r.cmd("CWD sec"),
               r.cmd("PROT C"), r.cmd("LIST"), r.cmd("NLST"),
               r.cmd("RETR f")]
    assert os.path.isdir(sec)
    return out


def test_promise_prot_c_in_data_directory(ctx):
    """<Directory> with TLSRequired data, the session's TLSRequired off:
    PROT C there is accepted (it is session-wide) and the transfers get
    "522 SSL/TLS required on the data channel", as with mod_tls (mod_ftps
    refused PROT C with 534)."""
    results = {}
    for label, module in _modules(ctx):
        srv = _server(ctx, module, tls={"TLSRequired": "off"}, start=False)
        sec = os.path.join(srv.home, "sec")
        os.mkdir(sec)
        os.chown(sec, ftpsd.UID, ftpsd.GID)
        with open(os.path.join(sec, "f"), "w") as f:
            f.write("secret\n")
        srv.append_conf(["<Directory %s>" % sec, "  TLSRequired data",
                         "</Directory>"])
        srv.start()
        results[label] = _dir_data_replies(srv)
        srv.cleanup()
    got = results["mod_ftps"]
    want = [200, 200, 250, 200, 522, 522, 522]
    assert [c for c, _ in got] == want, "mod_ftps: want %r, got %r" \
        % (want, got)
    assert got[4][1] == "522 SSL/TLS required on the data channel", got
    if "mod_tls" in results:
        assert results["mod_tls"] == got, "mod_tls %r, mod_ftps %r" \
            % (results["mod_tls"], got)


# -- Protocols ----------------------------------------------------------------

def _ftps_login(srv, host=None):
    """USER/PASS over AUTH TLS: the PASS reply, and whether the session
    then ended (EOF within 5 s)."""
    with tls_raw(srv, host=host) as r:
        expect(r.cmd("USER " + srv.user), 331, "USER")
        code, text = r.cmd("PASS " + srv.password)
        if code == 230:
            expect(r.cmd("PWD"), 257, "PWD after 230")
            return text, False
        return text, closed_by_peer(r.sock, 5)


def test_promise_protocols_without_ftps(ctx):
    """Protocols without ftps: an FTPS login gets "530 Login incorrect."
    and the session ends, as with mod_tls; with ftps listed it logs in."""
    wrong = []
    for label, module in _modules(ctx):
        for protocols, ok in (("ftp", False), ("sftp", False),
                              ("ftps", True), ("ftp ftps", True)):
            srv = _server(ctx, module, tls={"TLSRequired": "off"},
                          extra=["Protocols " + protocols])
            text, ended = _ftps_login(srv)
            want = ("230 User ftpuser logged in", False) if ok else \
                ("530 Login incorrect.", True)
            if (text, ended) != want:
                wrong.append("%s, Protocols %s: want %r, got %r"
                             % (label, protocols, want, (text, ended)))
            srv.cleanup()
    assert not wrong, "\n".join(wrong)


def test_promise_protocols_sftp_on_host_vhost(ctx):
    """A vhost reached by HOST with "Protocols sftp" refuses the FTPS
    login; the default server (no Protocols) accepts it."""
    srv = _server(ctx, start=False)
    srv.append_conf(_host_vhost(srv, "a.example", ["Protocols sftp"]))
    srv.start()
    assert _ftps_login(srv) == ("230 User ftpuser logged in", False)
    got = _ftps_login(srv, host="a.example")
    assert got == ("530 Login incorrect.", True), \
        "vhost with Protocols sftp: %r" % (got,)


def test_promise_protocols_ftp_clear_login(ctx):
    """Protocols ftp, TLSRequired off: a login in clear is mod_auth's to
    allow, and works (mod_tls 1.3.8 refuses it too: its bug #1679, not
    copied)."""
    srv = _server(ctx, tls={"TLSRequired": "off"}, extra=["Protocols ftp"])
    with Raw(srv) as r:
        r.login()
        expect(r.cmd("PWD"), 257, "PWD")


# -- dNSNameRequired ----------------------------------------------------------

def test_promise_dns_name_required_without_reverse_dns(ctx):
    """UseReverseDNS off: the client's name is its address, which no DNS
    name can equal; mod_tls turns dNSNameRequired off and logs it, so a
    certificate without a DNS subjectAltName (bob) logs in (mod_ftps
    ended the session, and took DNS:*.0.0.1 for 127.0.0.1)."""
    wrong = []
    for label, module in _modules(ctx):
        srv = _server(ctx, module, tls=dict(CA, TLSVerifyClient="on"),
                      extra=["TLSOptions dNSNameRequired"])
        for who in ("bob", "alice"):
            try:
                with tls_raw(srv, who) as r:
                    r.login()
                    expect(r.cmd("PWD"), 257, "PWD")
            except (AssertionError, OSError, EOFError) as e:
                wrong.append("%s, certificate %s: %s" % (label, who, e))
        log = ftpsd.read_text(srv.tls_log)
        if not re.search(r"(?i)reverse ?DNS.*off.*dNSNameRequired|"
                         r"dNSNameRequired.*disabl", log):
            wrong.append("%s: no TLSLog line says dNSNameRequired is off:\n%s"
                         % (label, log[-2000:]))
        srv.cleanup()
    assert not wrong, "\n".join(wrong)


# -- StdEnvVars / ExportCertData ----------------------------------------------

DN_VARS = ["S_DN", "S_DN_CN", "I_DN", "I_DN_CN", "M_VERSION", "V_START",
           "V_END", "A_SIG", "A_KEY"]
ENV_VARS = ["FTPS", "TLS_PROTOCOL", "TLS_CIPHER", "TLS_SESSION_ID",
            "TLS_CIPHER_KEYSIZE_POSSIBLE", "TLS_CIPHER_KEYSIZE_USED",
            "TLS_CLIENT_M_SERIAL", "TLS_SERVER_M_SERIAL"] + \
    ["TLS_CLIENT_" + v for v in DN_VARS] + \
    ["TLS_SERVER_" + v for v in DN_VARS]
PEM_VARS = ["TLS_CLIENT_CERT", "TLS_SERVER_CERT"]


def _env_log(ctx, module, options, names, who="alice", version="1.3"):
    """A session with who's certificate and TLSOptions options: the values
    LogFormat %{NAME}e logs for names at PWD ("-" when unset)."""
    fmt = "#REC#%m@@" + "@@".join("%%{%s}e" % n for n in names)
    srv = _server(ctx, module, tls=CA, start=False,
                  extra=["TLSOptions " + options])
    log = os.path.join(srv.dir, "env.log")
    srv.append_conf(['LogFormat envvars "%s"' % fmt,
                     "ExtendedLog %s ALL envvars" % log])
    srv.start()
    with tls_raw(srv, who, version) as r:
        r.login()
        expect(r.cmd("PWD"), 257, "PWD")
        expect(r.cmd("QUIT"), 221, "QUIT")
        closed_by_peer(r.sock, 5)
    text = ftpsd.read_text(log)
    srv.cleanup()
    # PEM values span lines: records start with #REC#
    for rec in text.split("#REC#"):
        fields = rec.rstrip("\n").split("@@")
        if fields[0] == "PWD":
            return dict(zip(names, fields[1:]))
    raise AssertionError("no PWD line in %r" % text)


def _serial(crt):
    out = subprocess.run(["openssl", "x509", "-in", crt, "-noout", "-serial"],
                         capture_output=True, text=True, check=True)
    return str(int(out.stdout.strip().split("=", 1)[1], 16))


def test_promise_std_env_vars(ctx):
    """TLSOptions StdEnvVars: the session ID, the key sizes, and the
    fields of both certificates, as mod_tls sets them (mod_ftps left
    TLS_SESSION_ID empty and had no certificate fields)."""
    got = _env_log(ctx, ctx.module, "StdEnvVars", ENV_VARS)
    missing = [n for n in ENV_VARS if got.get(n, "-") in ("-", "")]
    assert not missing, "unset with StdEnvVars: %s\n%r" % (missing, got)
    assert re.fullmatch(r"[0-9A-F]{64}", got["TLS_SESSION_ID"]), got
    assert got["TLS_CLIENT_S_DN_CN"] == "alice", got
    assert got["TLS_CLIENT_I_DN"] == "CN = mod_ftps test root CA", got
    assert got["TLS_CLIENT_M_SERIAL"] == \
        _serial(cert("client-alice.crt")), got
    assert got["TLS_SERVER_S_DN_CN"] == "localhost", got
    bits = re.search(r"_(128|256)_", got["TLS_CIPHER"]).group(1)
    assert got["TLS_CIPHER_KEYSIZE_USED"] == bits, got
    if os.path.exists(MOD_TLS):
        ref = _env_log(ctx, MOD_TLS, "StdEnvVars", ENV_VARS)
        # mod_tls gives the serial only when it is under 4 bytes long; the
        # cipher is each server's preference
        diff = ["%s: mod_tls %r, mod_ftps %r" % (n, ref[n], got[n])
                for n in ENV_VARS if not n.endswith("M_SERIAL") and
                not n.startswith("TLS_CIPHER") and
                n != "TLS_SESSION_ID" and ref[n] != got[n]]
        assert not diff, "\n".join(diff)
        assert re.fullmatch(r"[0-9A-F]{64}", ref["TLS_SESSION_ID"]), ref


def test_promise_export_cert_data(ctx):
    """ExportCertData alone: the certificates in PEM, no other field."""
    names = PEM_VARS + ["TLS_CLIENT_S_DN_CN"]
    for label, module in _modules(ctx):
        got = _env_log(ctx, module, "ExportCertData", names)
        assert got["TLS_CLIENT_S_DN_CN"] in ("", "-"), (label, got)
        for n in PEM_VARS:
            assert "BEGIN CERTIFICATE" in got[n], (label, n, got)


# -- AllowPerUser with TLSRequired auth ---------------------------------------

IFSESSION = "/usr/lib/proftpd/mod_ifsession.so"


def _plain_login(srv, user, password):
    """USER/PASS in clear: the PASS reply, and whether the session then
    ended (EOF within 5 s)."""
    with Raw(srv) as r:
        expect(r.cmd("USER " + user), 331, "USER " + user)
        code, text = r.cmd("PASS " + password)
        if code == 230:
            expect(r.cmd("PWD"), 257, "PWD after 230")
            return text, False
        return text, closed_by_peer(r.sock, 5)


def _per_user_auth_rows(srv, anon_user):
    """(what, want, got) for each login of a TLSRequired auth +
    AllowPerUser server whose anon_user needs no TLS."""
    refused = ("530 Login incorrect.", True)
    return [
        ("%s in clear" % anon_user[0], False,
         _plain_login(srv, anon_user[0], anon_user[1])[1]),
        ("%s in clear" % srv.user, refused,
         _plain_login(srv, srv.user, srv.password)),
        ("%s over FTPS" % srv.user, ("230 User %s logged in" % srv.user,
                                      False), _ftps_login(srv)),
    ]


def test_promise_per_user_auth_with_anonymous(ctx):
    """TLSRequired auth, AllowPerUser, an <Anonymous> with TLSRequired off:
    mod_tls runs it (mod_ftps refused to start); anonymous logs in in
    clear, the real user only over TLS (530 and disconnect in clear)."""
    wrong = []
    for label, module in _modules(ctx):
        srv = _server(ctx, module, tls={"TLSRequired": "auth"},
                      extra=["TLSOptions AllowPerUser"], start=False)
        anon = srv.add_user("anonftp", "unused-password")
        srv.append_conf(["<Anonymous %s>" % anon, "  User anonftp",
                         "  Group nogroup",
                         "  UserAlias anonymous anonftp",
                         "  RequireValidShell off", "  TLSRequired off",
                         "</Anonymous>"])
        try:
            srv.start()
        except RuntimeError as e:
            wrong.append("%s: does not start: %s" % (label, e))
            continue
        for what, want, got in _per_user_auth_rows(srv, ("anonymous",
                                                         "a@b.c")):
            if got != want:
                wrong.append("%s: %s: want %r, got %r" % (label, what, want,
                                                          got))
        srv.cleanup()
    assert not wrong, "\n".join(wrong)


def test_promise_per_user_auth_with_ifsession(ctx):
    """The same with mod_ifsession: <IfUser bob> TLSRequired off."""
    if not os.path.exists(IFSESSION):
        raise Skip("mod_ifsession not installed")
    wrong = []
    for label, module in _modules(ctx):
        srv = _server(ctx, module, tls={"TLSRequired": "auth"},
                      extra=["TLSOptions AllowPerUser"], start=False,
                      users=[("bob", "bob-pw")], modules_after=[IFSESSION])
        srv.append_conf(["<IfUser bob>", "  TLSRequired off", "</IfUser>"])
        try:
            srv.start()
        except RuntimeError as e:
            wrong.append("%s: does not start: %s" % (label, e))
            continue
        for what, want, got in _per_user_auth_rows(srv, ("bob", "bob-pw")):
            if got != want:
                wrong.append("%s: %s: want %r, got %r" % (label, what, want,
                                                          got))
        srv.cleanup()
    assert not wrong, "\n".join(wrong)
