"""Drop-in upgrade: mod_ftps in place of mod_tls, configuration unchanged.

Debian's stock configuration (proftpd.conf, modules.conf, tls.conf of the
proftpd-core package) is copied into a temp dir, and only what a test must
is rewritten: Include paths to the copies, the port, 127.0.0.1 only,
PidFile/ScoreboardFile/DelayTable/log paths into the temp dir, ModulePath to
a directory holding Debian's modules plus the freshly built mod_ftps.so, an
AuthUserFile user.  In tls.conf the usual lines are enabled, with fixture
certificates; in modules.conf only the mod_tls LoadModule line becomes
`LoadModule mod_ftps.c`.

The pristine files: /etc/proftpd/X if its md5 is that of the package's
template (/var/lib/dpkg/info/proftpd-core.md5sums), else the template
itself, else the .deb (apt-get download + dpkg-deb -x, cached under
tests/tmp/debian-proftpd-core/).

Also: the <IfModule mod_tls.c> guard and its neighbours (!mod_tls.c,
mod_ftps.c, !mod_ftps.c), before and after SIGHUP restarts; mod_tls and its
companions loaded beside mod_ftps from Debian's modules.conf.
"""

import ftplib
import glob
import hashlib
import io
import os
import re
import signal
import subprocess
import time

import ftpsd
from clients import (Raw, StockFTP_TLS, expect, ftps, close_quietly,
                     retr_bytes, curl, lftp, describe)
from ftpsd import sha256, Skip

DEB_FILES = ("proftpd.conf", "modules.conf", "tls.conf")
TEMPLATES = "usr/share/proftpd/templates"
MD5SUMS = "/var/lib/dpkg/info/proftpd-core.md5sums"
DEBIAN_MODULES = "/usr/lib/proftpd"


# -- Debian's pristine files ---------------------------------------------------

def _md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def _package_md5s():
    sums = {}
    try:
        with open(MD5SUMS) as f:
            for line in f:
                md5, path = line.split(None, 1)
                sums[path.strip()] = md5
    except OSError:
        raise Skip("proftpd-core is not installed (no %s)" % MD5SUMS)
    return sums


_sources = {}


def debian_sources():
    """{name: path of Debian's pristine copy} for DEB_FILES."""
    if _sources:
        return _sources
    sums = _package_md5s()
    deb_root = None
    for name in DEB_FILES:
        want = sums.get("%s/%s" % (TEMPLATES, name))
        if want is None:
            raise Skip("proftpd-core ships no template %s" % name)
        for cand in ("/etc/proftpd/" + name, "/" + TEMPLATES + "/" + name):
            if os.path.exists(cand) and _md5(cand) == want:
                _sources[name] = cand
                break
        else:
            deb_root = deb_root or _extract_deb()
            cand = os.path.join(deb_root, TEMPLATES, name)
            if not os.path.exists(cand) or _md5(cand) != want:
                raise Skip("no pristine %s (not in the .deb either)" % name)
            _sources[name] = cand
    return _sources


def _extract_deb():
    d = os.path.join(ftpsd.tmp_root(), "debian-proftpd-core")
    root = os.path.join(d, "root")
    if os.path.isdir(os.path.join(root, TEMPLATES)):
        return root
    os.makedirs(d, 0o755, exist_ok=True)
    p = subprocess.run(["apt-get", "download", "proftpd-core"], cwd=d,
                       capture_output=True, text=True, timeout=300)
    debs = glob.glob(os.path.join(d, "proftpd-core_*.deb"))
    if p.returncode != 0 or not debs:
        raise Skip("modified /etc/proftpd and apt-get download failed: %s"
                   % p.stderr[-300:])
    subprocess.run(["dpkg-deb", "-x", debs[0], root], check=True,
                   capture_output=True, timeout=120)
    return root


# -- editing the copies --------------------------------------------------------

def edit(text, pattern, repl, what):
    """Replace the one line matching pattern (re.M); Debian's file must
    have exactly one."""
    new, n = re.subn(pattern, lambda m: repl, text, flags=re.M)
    assert n == 1, "Debian's %s: %d lines match %r, want 1 (did the " \
        "package change?)" % (what, n, pattern)
    return new


def enable(text, directive, value=None, contains=None):
    """Uncomment the commented tls.conf line of directive (the one holding
    `contains`, if given); value replaces the template's value."""
    pat = r"^#\s*%s\s+(.*%s.*)$" % (directive, re.escape(contains or ""))
    m = [x for x in re.finditer(pat, text, flags=re.M)]
    assert len(m) == 1, "Debian's tls.conf: %d commented %s lines%s, want 1" \
        % (len(m), directive, " with %r" % contains if contains else "")
    line = "%s %s" % (directive, value if value is not None
                      else m[0].group(1).strip())
    return text[:m[0].start()] + line + text[m[0].end():]


def usual_tls(srv):
    """tls.conf edits: the usual lines, with fixture certificates."""
    return [
        ("TLSEngine", None, None),
        ("TLSLog", srv.tls_log, None),
        ("TLSProtocol", None, None),
        ("TLSRSACertificateFile", ftpsd.cert("rsa.crt"), None),
        ("TLSRSACertificateKeyFile", ftpsd.cert("rsa.key"), None),
        ("TLSOptions", "NoSessionReuseRequired",
         "NoCertRequest EnableDiags NoSessionReuseRequired"),
        ("TLSVerifyClient", None, None),
        ("TLSRequired", None, None),
    ]


def suggested_tls(srv):
    """Debian's template with every suggestion taken as written."""
    return [
        ("TLSEngine", None, None),
        ("TLSLog", srv.tls_log, None),
        ("TLSProtocol", None, None),
        ("TLSRSACertificateFile", ftpsd.cert("rsa.crt"), None),
        ("TLSRSACertificateKeyFile", ftpsd.cert("rsa.key"), None),
        ("TLSCACertificateFile", ftpsd.cert("ca.pem"), None),
        ("TLSOptions", None, "NoCertRequest EnableDiags NoSessionReuseRequired"),
        ("TLSOptions", None, "AllowClientRenegotiations"),
        ("TLSVerifyClient", None, None),
        ("TLSRequired", None, None),
        ("TLSRenegotiate", None, None),
    ]


MOD_TLS_LINE = r"^#LoadModule mod_tls\.c$"


class DebianServer(ftpsd.Server):
    """Debian's stock configuration around the module under test.

    tls: a function srv -> [(directive, value or None, contains or None)]
    of tls.conf lines to enable (None: keep tls.conf untouched, and its
    Include commented out as Debian ships it); load: what the commented
    mod_tls LoadModule line becomes; modules_edits: more (pattern, line)
    edits of modules.conf."""

    def __init__(self, module, keep=False, tls=usual_tls,
                 load="LoadModule mod_ftps.c", modules_edits=(),
                 name="debian"):
        super().__init__(module, keep=keep, name=name)
        src = debian_sources()
        T = self.dir
        etc = os.path.join(T, "etc")
        os.makedirs(os.path.join(etc, "conf.d"), 0o755)
        moddir = os.path.join(T, "modules")
        for so in sorted(glob.glob(os.path.join(DEBIAN_MODULES, "*.so"))):
            dst = os.path.join(moddir, os.path.basename(so))
            if not os.path.exists(dst):
                os.symlink(so, dst)
        texts = {}
        for name_ in DEB_FILES:
            with open(src[name_]) as f:
                texts[name_] = f.read()

        c = texts["proftpd.conf"]
        c = edit(c, r"^Include /etc/proftpd/modules\.conf$",
                 "Include " + os.path.join(etc, "modules.conf"),
                 "proftpd.conf")
        if tls is not None:
            c = edit(c, r"^#\s*Include /etc/proftpd/tls\.conf$",
                     "Include " + os.path.join(etc, "tls.conf"),
                     "proftpd.conf")
        c = edit(c, r"^Include /etc/proftpd/conf\.d/$",
                 "Include " + os.path.join(etc, "conf.d") + "/",
                 "proftpd.conf")
        c = edit(c, r"^Port 21$", "Port %d" % self.port, "proftpd.conf")
        c = edit(c, r"^TransferLog .*$",
                 "TransferLog " + os.path.join(T, "xferlog"), "proftpd.conf")
        # SystemLog: the file the test reads as the daemon's stderr
        c = edit(c, r"^SystemLog .*$", "SystemLog " + self.stderr_path,
                 "proftpd.conf")
        c += "\n".join([
            "",
            "# -- test harness --",
            "DefaultAddress 127.0.0.1",
            "SocketBindTight on",
            "PidFile " + self.pidfile,
            "ScoreboardFile " + os.path.join(T, "proftpd.scoreboard"),
            "DelayTable " + os.path.join(T, "proftpd.delay"),
            "AuthOrder mod_auth_file.c",
            "AuthUserFile " + os.path.join(T, "passwd"),
            "RequireValidShell off",
            ""])

        m = texts["modules.conf"]
        m = edit(m, r"^ModulePath /usr/lib/proftpd$", "ModulePath " + moddir,
                 "modules.conf")
        if load is not None:
            m = edit(m, MOD_TLS_LINE, load, "modules.conf")
        for pat, line in modules_edits:
            m = edit(m, pat, line, "modules.conf")

        t = texts["tls.conf"]
        for directive, value, contains in (tls(self) if tls else ()):
            t = enable(t, directive, value, contains)

        self.conf = os.path.join(etc, "proftpd.conf")
        for name_, text in (("proftpd.conf", c), ("modules.conf", m),
                            ("tls.conf", t)):
            with open(os.path.join(etc, name_), "w") as f:
                f.write(text)
        self.tls_conf = os.path.join(etc, "tls.conf")

    def append_conf(self, lines):
        raise NotImplementedError("edit the Debian copies instead")


def _debian(ctx, **kw):
    srv = DebianServer(ctx.module, keep=ctx.keep, **kw)
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    return srv


def _check(srv):
    """proftpd -t without a terminal: (rc, output + what went to the
    SystemLog during it)."""
    mark = srv.log_mark()
    rc, out = ftpsd.check_config(srv, 60)
    return rc, out + srv.log_since(mark, 200)


run_foreground = ftpsd.run_foreground


_line_with = ftpsd.line_with
_read = ftpsd.read_text


# -- what every working configuration must do ----------------------------------

def plain_refused(srv, port=None):
    """TLSRequired on: a plain-FTP login is refused before PASS."""
    with Raw(srv, port=port) as r:
        code, text = r.cmd("USER " + srv.user)
        assert code == 550 and "TLS required" in text, \
            "plain FTP USER: want 550 SSL/TLS required, got %r (was the " \
            "<IfModule mod_tls.c> block skipped?)" % text
        code, text = r.cmd("PASS " + srv.password)
        assert code != 230, "plain FTP login succeeded: %r" % text


def serves_curl(srv):
    data = os.urandom(200 * 1024 + 11)
    up = srv.client_file("curl-up.bin", data)
    p = curl(srv, "/curl-up.bin", upload=up)
    assert p.returncode == 0, "curl upload: %s" % describe(p)
    with open(os.path.join(srv.home, "curl-up.bin"), "rb") as f:
        assert sha256(f.read()) == sha256(data), "curl STOR: bytes differ"
    down = os.path.join(srv.client_dir, "curl-down.bin")
    p = curl(srv, "/curl-up.bin", output=down)
    assert p.returncode == 0, "curl download: %s" % describe(p)
    with open(down, "rb") as f:
        assert sha256(f.read()) == sha256(data), "curl RETR: bytes differ"
    p = curl(srv, "/")
    assert p.returncode == 0 and b"curl-up.bin" in p.stdout, \
        "curl listing: %s" % describe(p)


def serves_lftp(srv):
    data = os.urandom(150 * 1024 + 3)
    srv.home_file("lftp-src.bin", data)
    up = srv.client_file("lftp-up.bin", os.urandom(90 * 1024 + 1))
    down = os.path.join(srv.client_dir, "lftp-down.bin")
    p = lftp(srv, ["get lftp-src.bin -o " + down, "put %s -o lftp-up.bin"
                   % up, "ls"])
    assert p.returncode == 0, "lftp: %s" % describe(p)
    with open(down, "rb") as f:
        assert sha256(f.read()) == sha256(data), "lftp get: bytes differ"
    with open(up, "rb") as a, open(os.path.join(srv.home, "lftp-up.bin"),
                                   "rb") as b:
        assert sha256(a.read()) == sha256(b.read()), "lftp put: bytes differ"


def serves_ftplib(srv, cls=StockFTP_TLS):
    """Stock ftplib never resumes the control session on data
    connections: it works only if NoSessionReuseRequired was read."""
    data = os.urandom(120 * 1024 + 7)
    srv.home_file("py-src.bin", data)
    up = os.urandom(70 * 1024 + 9)
    f = ftps(srv, cls=cls)
    try:
        got = retr_bytes(f, "py-src.bin")
        f.storbinary("STOR py-up.bin", io.BytesIO(up))
        version = f.sock.version()
    except ftplib.Error as e:
        raise AssertionError("ftplib (%s): %s" % (cls.__name__, e))
    finally:
        close_quietly(f)
    assert sha256(got) == sha256(data), "ftplib RETR: bytes differ"
    with open(os.path.join(srv.home, "py-up.bin"), "rb") as f_:
        assert sha256(f_.read()) == sha256(up), "ftplib STOR: bytes differ"
    return version


# -- 1. Debian's stock configuration -------------------------------------------

def test_dropin_debian_stock(ctx):
    ctx.need("curl", "lftp")
    srv = _debian(ctx)
    rc, out = _check(srv)
    assert rc == 0, "proftpd -t of Debian's configuration failed (rc %d):" \
        "\n%s" % (rc, out[-2500:])
    srv.start()
    rc, info = srv.version_info()
    assert re.search(r"mod_ftps/", info), \
        "proftpd -vv does not list mod_ftps:\n%s" % info[-1500:]
    plain_refused(srv)
    with Raw(srv) as r:
        feat = expect(r.cmd("FEAT"), 211, "FEAT")
        assert "AUTH TLS" in feat, "FEAT has no AUTH TLS:\n%s" % feat
    serves_curl(srv)
    serves_lftp(srv)
    version = serves_ftplib(srv)
    # TLSProtocol SSLv23 means TLS 1.2 and 1.3 to mod_ftps
    assert version in ("TLSv1.2", "TLSv1.3"), version
    assert os.path.getsize(srv.tls_log) > 0, \
        "the TLSLog of tls.conf (%s) is empty" % srv.tls_log
    assert srv.running(), "the daemon died:\n%s" % srv.log_tail()


def test_dropin_debian_control_without_module(ctx):
    """Control: with Debian's modules.conf as shipped (no TLS module),
    the <IfModule mod_tls.c> block is skipped and plain FTP works, so the
    550 of the test above comes from the block."""
    srv = _debian(ctx, load=None)
    rc, out = _check(srv)
    assert rc == 0, "proftpd -t failed:\n%s" % out[-2000:]
    srv.start()
    with Raw(srv) as r:
        r.login()
        code, text = r.cmd("AUTH TLS")
        assert code == 500, "AUTH TLS without a TLS module: %r" % text


def test_dropin_debian_suggested_options(ctx):
    """Debian's template with its suggested TLSOptions lines taken as
    written: NoCertRequest (obsolete: fatal for mod_tls 1.3.8) starts with
    a warning; EnableDiags fills the TLSLog."""
    ctx.need("curl")
    srv = _debian(ctx, tls=suggested_tls)
    rc, out = _check(srv)
    assert rc == 0, "proftpd -t failed (rc %d):\n%s" % (rc, out[-2500:])
    rx = re.compile(r"(?i)obsolete|deprecated")
    assert _line_with(out, "NoCertRequest", rx), \
        "proftpd -t: no warning that NoCertRequest is obsolete:\n%s" \
        % out[-2000:]
    srv.start()
    assert _line_with(_read(srv.stderr_path), "NoCertRequest", rx), \
        "daemon log: no NoCertRequest warning:\n%s" % srv.log_tail()
    plain_refused(srv)
    serves_curl(srv)
    serves_ftplib(srv)
    log = _read(srv.tls_log)
    assert re.search(r"diags: .*handshake", log), \
        "TLSOptions EnableDiags: no handshake diagnostics in the TLSLog:\n%s" \
        % log[-1500:]


def _sighup(srv):
    """SIGHUP the master, wait until it has re-read the configuration and
    listens again; it must not have died or crashed."""
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.time() + 15
    while time.time() < deadline:
        text = srv.log_since(mark, 400)
        if re.search(r"(?i)received SIGHUP", text) and \
                re.search(r"(?i)reparsing|rehashing", text) and \
                srv._listening():
            break
        assert srv.running(), "the daemon exited on SIGHUP:\n%s" % text
        time.sleep(0.05)
    else:
        raise AssertionError("no restart seen in the log 15s after SIGHUP:"
                             "\n%s" % srv.log_since(mark, 400))
    text = srv.log_since(mark, 400)
    bad = _line_with(text, re.compile(
        r"(?i)signal 11|segmentation|STACK TRACE|terminating|fatal|"
        r"core dumped|SHUTDOWN"))
    assert bad is None, "after SIGHUP: %r\n%s" % (bad, text)
    assert srv.running(), "the daemon died after SIGHUP:\n%s" % text
    return text


def test_dropin_debian_sighup(ctx):
    """Restarts reload every DSO of Debian's modules.conf; the
    <IfModule mod_tls.c> block must still be entered."""
    ctx.need("curl")
    srv = _debian(ctx)
    srv.start()
    plain_refused(srv)
    for _ in range(2):
        _sighup(srv)
        plain_refused(srv)
        serves_curl(srv)
        serves_ftplib(srv)


def test_dropin_debian_typo_in_tls_conf(ctx):
    """An error in an Include'd file is only a warning to ProFTPD 1.3.8: it
    skips the rest of the file and starts.  A typo above TLSRequired in
    Debian's tls.conf must not give a daemon that serves plain FTP."""
    def typo(srv):
        edits = usual_tls(srv)
        i = [e[0] for e in edits].index("TLSVerifyClient")
        edits[i] = ("TLSVerifyClient", "of", None)
        return edits
    srv = _debian(ctx, tls=typo)
    rc, out = _check(srv)
    assert _line_with(out, "TLSVerifyClient", "of"), \
        "proftpd -t: no line naming TLSVerifyClient 'of':\n%s" % out[-2000:]
    assert rc != 0, "proftpd -t exited 0 (the rest of tls.conf, with " \
        "TLSRequired on, was skipped):\n%s" % out[-2000:]
    rc = run_foreground(srv)
    assert rc is not None, "proftpd -n started (still running after 20s)"
    assert rc != 0, "proftpd -n refused to start but exited 0"


# -- 2. the <IfModule> guards, with restarts -----------------------------------

def _guard_server(ctx):
    srv = ctx.server(tls={k: None for k in ("TLSEngine", "TLSLog",
                                            "TLSRSACertificateFile",
                                            "TLSRequired", "TLSProtocol")},
                     start=False, shared=False, name="guard")
    srv.guard_extra = [
        "<IfModule mod_tls.c>",
        "  TLSEngine on",
        "  TLSRSACertificateFile " + ftpsd.cert("rsa.crt"),
        "  TLSRSACertificateKeyFile " + ftpsd.cert("rsa.key"),
        "  TLSRequired on",
        '  ServerIdent on "GUARD-%s"',
        "</IfModule>",
        "<IfModule !mod_tls.c>",
        "  NoSuchDirectiveInNotModTls on",
        "</IfModule>",
        "<IfModule mod_ftps.c>",
        "  TLSLog " + srv.tls_log,
        "  TLSOptions NoSessionReuseRequired",
        "</IfModule>",
        "<IfModule !mod_ftps.c>",
        "  NoSuchDirectiveInNotModFtps on",
        "</IfModule>",
    ]
    srv.base_conf = _read(srv.conf)
    return srv


def _write_guard(srv, tag):
    with open(srv.conf, "w") as f:
        f.write(srv.base_conf + "\n".join(srv.guard_extra) % tag + "\n")


def _guard_checks(srv, tag):
    with Raw(srv) as r:
        code, banner = r.banner
        assert "GUARD-" + tag in banner, \
            "banner %r: want ServerIdent GUARD-%s from <IfModule mod_tls.c>" \
            % (banner, tag)
    plain_refused(srv)
    serves_ftplib(srv)     # NoSessionReuseRequired from <IfModule mod_ftps.c>
    assert os.path.getsize(srv.tls_log) > 0, "TLSLog (mod_ftps.c block) empty"


def test_dropin_ifmodule_guards(ctx):
    srv = _guard_server(ctx)
    _write_guard(srv, "1")
    rc, out = srv.check()
    assert rc == 0, "proftpd -t failed (was an <IfModule !...> block " \
        "read?):\n%s" % out[-2000:]
    srv.start()
    _guard_checks(srv, "1")


def test_dropin_ifmodule_guards_after_sighup(ctx):
    """The stand-in "mod_tls.c" must be there again after each restart
    (mod_dso unloads and reloads mod_ftps.so): a changed ServerIdent inside
    the block proves the block was re-read."""
    ctx.need("curl")
    srv = _guard_server(ctx)
    _write_guard(srv, "1")
    srv.start()
    _guard_checks(srv, "1")
    for tag in ("2", "3"):
        _write_guard(srv, tag)
        _sighup(srv)
        _guard_checks(srv, tag)
        serves_curl(srv)


def test_dropin_ifmodule_guard_control(ctx):
    """Control: a block guarded by a module that is not loaded is skipped
    by this ProFTPD (the guard tests above can fail)."""
    srv = ctx.server(start=False, shared=False, name="guard-control")
    srv.append_conf(["<IfModule mod_no_such_module.c>",
                     '  ServerIdent on "SHOULD-NOT-APPEAR"', "</IfModule>"])
    srv.start()
    with Raw(srv) as r:
        assert "SHOULD-NOT-APPEAR" not in r.banner[1], r.banner


# -- 3. mod_tls and its companions beside mod_ftps, from modules.conf ----------

def _refused(srv, needles):
    rc, out = _check(srv)
    names = [getattr(n, "pattern", n) for n in needles]
    assert rc != 0, "proftpd -t passed, want a refusal naming %r:\n%s" \
        % (names, out[-2000:])
    assert _line_with(out, *needles), \
        "proftpd -t (rc %d): no line naming %r:\n%s" % (rc, names,
                                                         out[-2000:])
    rc = run_foreground(srv)
    assert rc is not None, "proftpd -n started (still running after 20s)"
    assert rc != 0, "proftpd -n refused to start but exited 0"


def test_dropin_debian_with_mod_tls_first(ctx):
    if not os.path.exists(os.path.join(DEBIAN_MODULES, "mod_tls.so")):
        raise Skip("mod_tls.so not installed")
    srv = _debian(ctx, load="LoadModule mod_tls.c\nLoadModule mod_ftps.c")
    _refused(srv, ["mod_tls", "mod_ftps",
                   re.compile(r"(?i)cannot be loaded together")])


def test_dropin_debian_with_mod_tls_after(ctx):
    if not os.path.exists(os.path.join(DEBIAN_MODULES, "mod_tls.so")):
        raise Skip("mod_tls.so not installed")
    srv = _debian(ctx, load="LoadModule mod_ftps.c\nLoadModule mod_tls.c")
    _refused(srv, ["LoadModule mod_tls.c", "mod_ftps",
                   re.compile(r"(?i)cannot be loaded together")])


def test_dropin_debian_companions(ctx):
    """Debian's commented companion lines, uncommented one at a time
    (mod_tls_redis needs mod_redis: uncommented too)."""
    tried = 0
    for comp in ("mod_tls_fscache", "mod_tls_shmcache", "mod_tls_memcache",
                 "mod_tls_redis"):
        if not os.path.exists(os.path.join(DEBIAN_MODULES, comp + ".so")):
            continue
        edits = [(r"^#LoadModule %s\.c$" % comp, "LoadModule %s.c" % comp)]
        if comp == "mod_tls_redis":
            edits.append((r"^#LoadModule mod_redis\.c$",
                          "LoadModule mod_redis.c"))
        srv = _debian(ctx, modules_edits=edits, name="debian-" + comp)
        _refused(srv, [comp + ".c", re.compile(
            r"(?i)companion of mod_tls.*remove its LoadModule")])
        srv.cleanup()
        tried += 1
    if not tried:
        raise Skip("no mod_tls companion installed")
