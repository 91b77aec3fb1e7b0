"""The Debian package and the switch from mod_tls (proftpd-ftps-switch).

The switch runs on a copy of Debian's stock configuration (test_dropin's
DebianServer: proftpd.conf, modules.conf and tls.conf of proftpd-core, with
the Include paths, the port and the log paths rewritten into a temp dir),
set up as an admin runs mod_tls: `LoadModule mod_tls.c` and the tls.conf
Include uncommented, the usual tls.conf lines enabled.  The switch tests
use the script of the source tree and the freshly built module; the package
test builds the .deb (`make deb`), installs it with dpkg, switches with the
installed script and serves from /usr/lib/proftpd, then purges it.
"""

import glob
import os
import re
import shutil
import signal
import stat
import subprocess

import ftpsd
from ftpsd import Skip
from test_dropin import (DebianServer, usual_tls, plain_refused, serves_curl,
                         serves_lftp, serves_ftplib, _sighup)

REPO = ftpsd.REPO
SWITCH_SRC = os.path.join(REPO, "contrib", "switch", "proftpd-ftps-switch")
SWITCH_DEB = "/usr/sbin/proftpd-ftps-switch"
PACKAGE = "proftpd-mod-ftps"
MOD_TLS = "/usr/lib/proftpd/mod_tls.so"
MARK = "#proftpd-ftps-switch# "


# -- the configuration, as an admin running mod_tls has it ---------------------

def _plain_only():
    """The switch is a shell script: under a sanitizer build it would only
    test proftpd -t again, which test_startup and test_corpus do there."""
    if ftpsd.sanitized():
        raise Skip("the switch's tests run in the plain run")


def _mod_tls_server(ctx, tls=usual_tls, name="switch"):
    _plain_only()
    if not os.path.exists(MOD_TLS):
        raise Skip("proftpd-mod-crypto (mod_tls) is not installed")
    srv = DebianServer(ctx.module, keep=ctx.keep, tls=tls,
                       load="LoadModule mod_tls.c", name=name)
    srv.backups = os.path.join(srv.dir, "backups")
    ctx.own.append(srv)
    ctx.touched.append((srv, srv.log_mark()))
    return srv


def _etc(srv):
    return os.path.dirname(srv.conf)


def _snapshot(srv):
    """{path: (bytes, mode, uid, gid)} of every file of the configuration
    tree (new files show up too)."""
    snap = {}
    for root, _dirs, files in os.walk(_etc(srv)):
        for name in files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            with open(path, "rb") as f:
                snap[path] = (f.read(), stat.S_IMODE(st.st_mode), st.st_uid,
                              st.st_gid)
    return snap


def _assert_same(before, after, what):
    assert sorted(before) == sorted(after), \
        "%s: files %s became %s" % (what, sorted(before), sorted(after))
    for path in before:
        b, a = before[path], after[path]
        assert b[0] == a[0], "%s: %s changed:\n%s" % (
            what, path, a[0].decode(errors="replace")[-600:])
        assert b[1:] == a[1:], "%s: %s mode/owner %o %d:%d became %o %d:%d" \
            % ((what, path) + b[1:] + a[1:])


def sigint_default():
    """preexec_fn for a switch a test interrupts with SIGINT: started from
    a background job (make check's, or CI's), the test runner inherits
    SIGINT ignored, and a shell started with a signal ignored cannot trap
    it (POSIX), so the Ctrl-C would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _switch(srv, *args, script=SWITCH_SRC, proftpd=None):
    _plain_only()
    argv = ["sh", script, "-c", srv.conf, "--backup-dir", srv.backups]
    if proftpd:
        argv += ["--proftpd", proftpd]
    p = subprocess.run(argv + list(args), capture_output=True, text=True,
                       timeout=120, stdin=subprocess.DEVNULL,
                       env=ftpsd.daemon_env())
    return p.returncode, p.stdout + p.stderr


def _active(srv, module):
    """Active `LoadModule module.c` lines of the configuration's files."""
    found = []
    for path in _snapshot(srv):
        with open(path) as f:
            for line in f:
                if re.match(r"^\s*LoadModule\s+%s\.c\s*$" % re.escape(module),
                            line, re.I):
                    found.append(path)
    return found


def _loaded_modules(srv):
    rc, out = srv.version_info()
    assert rc == 0, "proftpd -vv: %s" % out
    return out


# -- the switch, from the source tree ------------------------------------------

def test_switch_round_trip(ctx):
    """check changes nothing; enable loads mod_ftps in mod_tls's place and
    comments out the cache module; the server then serves FTPS with
    tls.conf as it was; a second enable changes nothing; disable puts back
    every byte, owner and mode; mod_tls serves again."""
    ctx.need("curl")
    srv = _mod_tls_server(ctx)
    modules = os.path.join(_etc(srv), "modules.conf")
    with open(modules) as f:
        text = f.read()
    text = text.replace("#LoadModule mod_tls_shmcache.c",
                        "LoadModule mod_tls_shmcache.c")
    with open(modules, "w") as f:
        f.write(text)
    os.chown(modules, 65534, 65534)
    os.chmod(modules, 0o640)
    before = _snapshot(srv)

    rc, out = _switch(srv, "check")
    assert rc == 0, "check: %s" % out
    for needle in ("mod_tls.c is loaded", "tls.conf: included",
                   "TLS 1.0 and 1.1 clients are refused",
                   "Session tickets are on",
                   "proftpd -t as configured now: accepted",
                   "proftpd -t with mod_ftps: accepted",
                   "mod_tls_shmcache"):
        assert needle in out, "check says no %r:\n%s" % (needle, out)
    _assert_same(before, _snapshot(srv), "check")

    rc, out = _switch(srv, "enable")
    assert rc == 0, "enable: %s" % out
    assert _active(srv, "mod_ftps") == [modules] and \
        not _active(srv, "mod_tls") and \
        not _active(srv, "mod_tls_shmcache"), "enable: %s" % out
    enabled = _snapshot(srv)
    st = os.stat(modules)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == \
        (0o640, 65534, 65534), "enable changed modules.conf's owner or mode"
    backups = glob.glob(os.path.join(srv.backups, "*", modules.lstrip("/")))
    assert len(backups) == 1, "enable: backups %r" % backups
    with open(backups[0], "rb") as f:
        assert f.read() == before[modules][0], "the backup is not the original"

    rc, out = _switch(srv, "enable")
    assert rc == 0 and "nothing changed" in out, "enable twice: %s" % out
    _assert_same(enabled, _snapshot(srv), "enable twice")

    assert "mod_ftps/" in _loaded_modules(srv)
    srv.start()
    plain_refused(srv)
    serves_curl(srv)
    srv.stop()

    rc, out = _switch(srv, "disable")
    assert rc == 0, "disable: %s" % out
    _assert_same(before, _snapshot(srv), "enable then disable")
    rc, out = _switch(srv, "disable")
    assert rc == 0 and "nothing changed" in out, "disable twice: %s" % out
    _assert_same(before, _snapshot(srv), "disable twice")

    assert "mod_tls/" in _loaded_modules(srv)
    srv.start()
    plain_refused(srv)
    serves_curl(srv)


def test_switch_check_debian_stock(ctx):
    """Debian as shipped: the tls.conf Include is commented out and no TLS
    module is loaded; check says so and changes nothing."""
    srv = DebianServer(ctx.module, keep=ctx.keep, tls=None, load=None,
                       name="switch-stock")
    srv.backups = os.path.join(srv.dir, "backups")
    ctx.own.append(srv)
    before = _snapshot(srv)
    rc, out = _switch(srv, "check")
    assert rc == 0, "check: %s" % out
    for needle in ("neither mod_tls.c nor mod_ftps.c is loaded",
                   "tls.conf: NOT included", "commented out",
                   "serves no FTPS today"):
        assert needle in out, "check says no %r:\n%s" % (needle, out)
    _assert_same(before, _snapshot(srv), "check")


def test_switch_enable_on_stock_and_back(ctx):
    """No mod_tls loaded: enable adds mod_ftps after Debian's commented-out
    mod_tls line; disable takes it away again, byte for byte."""
    srv = DebianServer(ctx.module, keep=ctx.keep, tls=None, load=None,
                       name="switch-stock")
    srv.backups = os.path.join(srv.dir, "backups")
    ctx.own.append(srv)
    before = _snapshot(srv)
    rc, out = _switch(srv, "enable")
    assert rc == 0 and _active(srv, "mod_ftps"), "enable: %s" % out
    modules = os.path.join(_etc(srv), "modules.conf")
    with open(modules) as f:
        lines = f.read().splitlines()
    at = lines.index("LoadModule mod_ftps.c")
    assert lines[at - 2] == "#LoadModule mod_tls.c", \
        "mod_ftps.c is not placed after Debian's mod_tls line: %r" \
        % lines[at - 3:at + 1]
    assert "mod_ftps/" in _loaded_modules(srv)
    rc, out = _switch(srv, "disable")
    assert rc == 0 and "neither" in out, "disable: %s" % out
    _assert_same(before, _snapshot(srv), "enable then disable")


def test_switch_enable_refused_changes_nothing(ctx):
    """TLSEngine on without a certificate starts with mod_tls and not with
    mod_ftps: enable says why, exits 1 and leaves every file as it was."""
    def no_cert(srv):
        return [e for e in usual_tls(srv)
                if not e[0].startswith("TLSRSACertificate")]
    srv = _mod_tls_server(ctx, tls=no_cert)
    before = _snapshot(srv)
    rc, out = _switch(srv, "check")
    assert rc == 0 and "proftpd -t with mod_ftps: REFUSED" in out and \
        "no certificate" in out, "check: %s" % out
    rc, out = _switch(srv, "enable")
    assert rc == 1, "enable of a configuration mod_ftps refuses: %s" % out
    assert "no certificate" in out and "nothing changed" in out, out
    _assert_same(before, _snapshot(srv), "refused enable")
    assert not os.path.exists(srv.backups) or not os.listdir(srv.backups), \
        "a refused enable wrote backups"


def test_switch_rollback_when_proftpd_refuses_the_real_files(ctx):
    """The copy passes but proftpd -t refuses the real files (a wrapper
    refuses the real path): every file is put back, owner and mode too."""
    srv = _mod_tls_server(ctx)
    modules = os.path.join(_etc(srv), "modules.conf")
    os.chmod(modules, 0o600)
    before = _snapshot(srv)
    wrapper = os.path.join(srv.dir, "proftpd-wrapper")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n"
                "if [ \"$3\" = '%s' ]; then\n"
                "  echo '2026-01-01 00:00:00,000 host proftpd[1]: fatal: "
                "injected refusal'\n  exit 1\nfi\n"
                "exec %s \"$@\"\n" % (srv.conf, ftpsd.PROFTPD))
    os.chmod(wrapper, 0o755)
    rc, out = _switch(srv, "enable", proftpd=wrapper)
    assert rc == 1 and "injected refusal" in out and \
        "every file is back as it was" in out, "enable: %s" % out
    _assert_same(before, _snapshot(srv), "rolled-back enable")


def test_switch_disable_refused_without_mod_tls(ctx):
    """mod_tls.so missing (proftpd-mod-crypto removed): disable is refused
    and mod_ftps stays."""
    srv = _mod_tls_server(ctx)
    rc, out = _switch(srv, "enable")
    assert rc == 0, "enable: %s" % out
    os.unlink(os.path.join(srv.dir, "modules", "mod_tls.so"))
    before = _snapshot(srv)
    rc, out = _switch(srv, "disable")
    assert rc == 1 and "nothing changed" in out, "disable: %s" % out
    _assert_same(before, _snapshot(srv), "refused disable")


def test_switch_follows_includes(ctx):
    """A cache module loaded from a conf.d file (after mod_tls, in
    modules.conf): found through the Include lines, commented out by
    enable; the way back restores both files."""
    srv = _mod_tls_server(ctx)
    etc = _etc(srv)
    extra = os.path.join(etc, "conf.d", "tls-cache.conf")
    with open(extra, "w") as f:
        f.write("# mod_tls's session cache\n  LoadModule mod_tls_shmcache.c\n")
    before = _snapshot(srv)
    rc, out = _switch(srv, "check")
    assert "LoadModule mod_tls_shmcache.c (mod_tls's cache module" in out, \
        "check: %s" % out
    rc, out = _switch(srv, "enable")
    assert rc == 0, "enable: %s" % out
    with open(extra) as f:
        got = f.read()
    assert got == "# mod_tls's session cache\n%s  LoadModule " \
        "mod_tls_shmcache.c\n" % MARK, "conf.d file after enable: %r" % got
    assert _active(srv, "mod_ftps") == [os.path.join(etc, "modules.conf")]
    rc, out = _switch(srv, "disable")
    assert rc == 0, "disable: %s" % out
    _assert_same(before, _snapshot(srv), "enable then disable")


# -- the Debian package ---------------------------------------------------------

_built = {}


def _version():
    with open(os.path.join(REPO, "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[mod_ftps\],\s*\[([^]]+)\]", f.read())
    assert m, "no version in configure.ac's AC_INIT"
    return m.group(1)


def _need_packaging():
    if ftpsd.sanitized():
        raise Skip("the package holds the plain build: tested in the plain "
                   "run (two runs at once would install it twice)")
    for tool in ("dpkg", "dpkg-buildpackage", "dh"):
        if shutil.which(tool) is None:
            raise Skip("%s is not installed (apt-get install dpkg-dev "
                       "debhelper)" % tool)
    if not os.path.exists("/var/lib/dpkg/info/proftpd-core.list"):
        raise Skip("proftpd-core is not installed as a Debian package")
    if not os.path.exists(os.path.join(REPO, "Makefile")):
        raise Skip("the tree is not configured (./configure)")


def _build_deb():
    """make deb once per run: the path of the .deb."""
    if "deb" in _built:
        return _built["deb"]
    _need_packaging()
    version = _version()
    p = subprocess.run(["make", "-s", "-C", REPO, "deb"], capture_output=True,
                       text=True, timeout=900, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "make deb failed:\n%s\n%s" % (
        p.stdout[-3000:], p.stderr[-3000:])
    deb = os.path.join(REPO, "%s_%s_amd64.deb" % (PACKAGE, version))
    assert os.path.exists(deb), "make deb made no %s" % deb
    assert re.search(r"Checks: \d+, Failures: 0, Errors: 0", p.stdout), \
        "make deb ran no unit tests:\n%s" % p.stdout[-2000:]
    _built["deb"] = deb
    return deb


def _dpkg_field(deb, field):
    return subprocess.run(["dpkg-deb", "-f", deb, field], capture_output=True,
                          text=True, check=True).stdout.strip()


def _installed(package):
    p = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}",
                        package], capture_output=True, text=True)
    return p.returncode == 0 and p.stdout.strip() not in ("", "not-installed",
                                                          "config-files")


def _deb_paths(deb):
    """The files (not directories) the package ships."""
    out = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True,
                         text=True, check=True).stdout
    paths = []
    for line in out.splitlines():
        if line.startswith("-") or line.startswith("l"):
            path = line.split(None, 5)[5].split(" -> ")[0]
            paths.append(path.lstrip("."))
    return paths


def _tree(path):
    out = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                out[p] = f.read()
    return out


def test_package_contents(ctx):
    """Depends pins the ProFTPD ABI and libssl; the version is
    configure.ac's; the module is 0644; the template, switch, man page,
    README.Debian and copyright are there."""
    deb = _build_deb()
    version = _version()
    assert _dpkg_field(deb, "Version") == version
    depends = _dpkg_field(deb, "Depends")
    for dep in ("proftpd-abi-1.3.8", "libssl3"):
        assert dep in depends, "Depends %r lacks %s" % (depends, dep)
    out = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True,
                         text=True, check=True).stdout
    want = {
        "./usr/lib/proftpd/mod_ftps.so": "-rw-r--r--",
        "./usr/sbin/proftpd-ftps-switch": "-rwxr-xr-x",
        "./usr/share/proftpd/templates/ftps.conf": "-rw-r--r--",
        "./usr/share/man/man8/proftpd-ftps-switch.8.gz": "-rw-r--r--",
        "./usr/share/doc/proftpd-mod-ftps/README.Debian": "-rw-r--r--",
        "./usr/share/doc/proftpd-mod-ftps/copyright": "-rw-r--r--",
        "./usr/share/doc/proftpd-mod-ftps/changelog.gz": "-rw-r--r--",
    }
    for path, mode in want.items():
        line = ftpsd.line_with(out, " " + path)
        assert line and line.startswith(mode), \
            "%s: want %s, got %r" % (path, mode, line)
    assert not ftpsd.line_with(out, "./etc/"), \
        "the package ships configuration files: it must enable nothing"
    tarballs = glob.glob(os.path.join(REPO, "mod_ftps-%s.tar.gz" % version))
    assert tarballs, "make dist's tarball is not named after the version"
    changelog = subprocess.run(
        ["sh", "-c", "dpkg-deb --fsys-tarfile '%s' | tar -xOf - "
         "./usr/share/doc/proftpd-mod-ftps/changelog.gz | gzip -dc" % deb],
        capture_output=True, text=True, check=True).stdout
    assert changelog.startswith("%s (%s)" % (PACKAGE, version)), changelog


def test_package_lintian_clean(ctx):
    """lintian --pedantic: no error, no warning (overrides carry reasons)."""
    if shutil.which("lintian") is None:
        raise Skip("lintian is not installed (apt-get install lintian)")
    _build_deb()
    p = subprocess.run(["make", "-s", "-C", REPO, "lintian"],
                       capture_output=True, text=True, timeout=600,
                       stdin=subprocess.DEVNULL)
    tags = [l for l in (p.stdout + p.stderr).splitlines()
            if re.match(r"^[EW]: ", l)]
    assert p.returncode == 0 and not tags, "lintian:\n%s\n%s" % (
        p.stdout[-3000:], p.stderr[-2000:])
    overrides = os.path.join(REPO, "contrib", "debian",
                             PACKAGE + ".lintian-overrides")
    if os.path.exists(overrides):
        with open(overrides) as f:
            lines = f.read().splitlines()
        for i, line in enumerate(lines):
            if line and not line.startswith("#"):
                assert i > 0 and lines[i - 1].startswith("#"), \
                    "lintian override without a reason: %r" % line


def test_package_install_switch_serve_purge(ctx):
    """dpkg -i beside proftpd-core and proftpd-mod-crypto (nothing in /etc
    changes), proftpd-ftps-switch enable on Debian's configuration running
    mod_tls, proftpd -n serves curl, lftp and ftplib over FTPS from
    /usr/lib/proftpd/mod_ftps.so, again after SIGHUP; disable, mod_tls
    serves again; purge leaves nothing of the package."""
    ctx.need("curl", "lftp")
    if os.geteuid() != 0:
        raise Skip("not root: dpkg -i needs root")
    deb = _build_deb()
    if _installed(PACKAGE):
        raise Skip("%s is installed here already; this test installs and "
                   "purges it" % PACKAGE)
    if os.path.exists("/usr/lib/proftpd/mod_ftps.so"):
        raise Skip("/usr/lib/proftpd/mod_ftps.so exists (make install?); "
                   "the package would replace it")
    srv = _mod_tls_server(ctx, name="package")
    # The installed modules, not the test copies.
    modules = os.path.join(_etc(srv), "modules.conf")
    with open(modules) as f:
        text = f.read()
    text = re.sub(r"(?m)^ModulePath .*$", "ModulePath /usr/lib/proftpd", text)
    with open(modules, "w") as f:
        f.write(text)
    before = _snapshot(srv)
    etc_before = _tree("/etc/proftpd")
    shipped = _deb_paths(deb)
    try:
        p = subprocess.run(["dpkg", "-i", deb], capture_output=True,
                           text=True, timeout=300, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, "dpkg -i: %s%s" % (p.stdout, p.stderr)
        assert _tree("/etc/proftpd") == etc_before, \
            "installing the package changed /etc/proftpd"
        for path in shipped:
            assert os.path.exists(path), "installed: no %s" % path

        rc, out = _switch(srv, "enable", script=SWITCH_DEB)
        assert rc == 0, "proftpd-ftps-switch enable: %s" % out
        info = _loaded_modules(srv)
        assert "mod_ftps/%s" % _version() in info, \
            "proftpd -vv does not list mod_ftps/%s:\n%s" % (_version(), info)
        srv.start()
        plain_refused(srv)
        serves_curl(srv)
        serves_lftp(srv)
        serves_ftplib(srv)
        _sighup(srv)
        plain_refused(srv)
        serves_curl(srv)
        serves_ftplib(srv)
        srv.stop()

        rc, out = _switch(srv, "disable", script=SWITCH_DEB)
        assert rc == 0, "proftpd-ftps-switch disable: %s" % out
        _assert_same(before, _snapshot(srv), "enable then disable")
        assert "mod_tls/" in _loaded_modules(srv)
        srv.start()
        plain_refused(srv)
        serves_curl(srv)
        serves_ftplib(srv)
        srv.stop()
    finally:
        p = subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True,
                           text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, "dpkg --purge: %s%s" % (p.stdout, p.stderr)
    assert not _installed(PACKAGE), "still installed after purge"
    left = [path for path in shipped if os.path.lexists(path)]
    assert not left, "left after purge: %s" % left
    for d in ("/usr/share/doc/" + PACKAGE,):
        assert not os.path.exists(d), "left after purge: %s" % d
    assert _tree("/etc/proftpd") == etc_before, \
        "the package changed /etc/proftpd"
