"""proftpd-ftps-switch and the package, attacked as an outsider would.

A Debian admin's /etc/proftpd is messier than test_switch_attacks's: a
conf.d entry whose target was removed (a dangling symlink), file names with
characters the shell tools treat specially, a full disk under the backup
directory, a configuration mod_tls gives up on with exit status 0, a
migration-table row that applies but was not reported, and an admin who
forgot sudo.  Each test starts from test_package's copy of Debian's stock
configuration running mod_tls (DebianServer, tls.conf included) and holds
the switch to its promises: `check` tells the truth about what `proftpd -t`
says and what changes, `enable` / `disable` refuse on the copy before a
byte is written, nothing is left half-done, and the second run changes
nothing (bytes, owner, mode and mtime).
"""

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import ftpsd
from ftpsd import Skip
import test_dropin
import test_package as pkg


def _modules(srv):
    return os.path.join(pkg._etc(srv), "modules.conf")


def _conf_d(srv, name):
    return os.path.join(pkg._etc(srv), "conf.d", name)


def _append(path, text):
    with open(path, "a") as f:
        f.write(text)


def _mtimes(srv):
    out = {}
    for root, _dirs, files in os.walk(pkg._etc(srv)):
        for name in files:
            p = os.path.join(root, name)
            out[p] = os.lstat(p).st_mtime_ns
    return out


def _snap(srv):
    """pkg._snapshot, where a symlink is its target (a dangling one cannot
    be read)."""
    snap = {}
    for root, _dirs, files in os.walk(pkg._etc(srv)):
        for name in files:
            path = os.path.join(root, name)
            if os.path.islink(path):
                snap[path] = ("->" + os.readlink(path)).encode(), 0, 0, 0
            else:
                snap[path] = _one(path)
    return snap


def _one(path):
    st = os.lstat(path)
    with open(path, "rb") as f:
        return f.read(), st.st_mode & 0o7777, st.st_uid, st.st_gid


def _backup_files(srv):
    """Every file under the backup directory (a failed backup may leave
    its empty directory, never a file)."""
    left = []
    for root, _dirs, files in os.walk(srv.backups):
        left += [os.path.join(root, n) for n in files]
    return left


def _no_backups(srv, what):
    assert not os.path.exists(srv.backups) or not os.listdir(srv.backups), \
        "%s left backups: %s" % (what, os.listdir(srv.backups))


# -- file names ------------------------------------------------------------------


@contextlib.contextmanager
def _small_tmpfs(srv, prefix, size):
    """A tmpfs of size under srv.dir, mounted for the with block (root
    only; a Skip where mounting is refused)."""
    if os.geteuid() != 0:
        raise Skip("not root: mounting a small tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix=prefix, dir=srv.dir)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size,
                        "tmpfs", mnt], capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip("cannot mount a tmpfs here: %s" % p.stderr.strip())
    try:
        yield mnt
    finally:
        subprocess.run(["umount", mnt])

def test_switch_file_names_with_sed_characters(ctx):
    """conf.d files named 'tls&cache.conf' and 'zwölf|cache.conf' (ProFTPD
    reads any name) holding mod_tls's cache modules, and 'uploads:keep.conf'
    holding DeleteAbortedStores on: check names each file as it is (no sed
    error, no '&' swallowed) and reads the directive behind the ':', enable
    comments out both modules,
    a second enable changes no byte and no mtime, disable puts back every
    byte; in the C locale and in UTF-8."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-names")
    amp = _conf_d(srv, "tls&cache.conf")
    bar = _conf_d(srv, "zw\u00f6lf|cache.conf")
    with open(amp, "w") as f:
        f.write("LoadModule mod_tls_shmcache.c\n")
    with open(bar, "w", encoding="utf-8") as f:
        f.write("# \u00fc\nLoadModule mod_tls_memcache.c\n")
    with open(_conf_d(srv, "uploads:keep.conf"), "w") as f:
        f.write("DeleteAbortedStores on\n")
    before = pkg._snapshot(srv)
    rc, out = pkg._switch(srv, "check")
    assert rc == 0 and "unknown option to" not in out, "check: %s" % out
    assert "DeleteAbortedStores on: " in out, \
        "check misses a directive read from a file named with ':':\n%s" % out
    for path, line in ((amp, 1), (bar, 2)):
        assert "Companion: %s:%d: " % (path, line) in out, \
            "check does not name %s:%d:\n%s" % (path, line, out)
    for locale in ("C", "C.UTF-8"):
        env = dict(ftpsd.daemon_env(), LC_ALL=locale, LANG=locale)
        argv = ["sh", pkg.SWITCH_SRC, "-c", srv.conf, "--backup-dir",
                srv.backups]
        p = subprocess.run(argv + ["enable"], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL, env=env)
        assert p.returncode == 0 and "unknown option to" not in p.stderr, \
            "%s: enable: %s%s" % (locale, p.stdout, p.stderr)
        assert not pkg._active(srv, "mod_tls_shmcache") and \
            not pkg._active(srv, "mod_tls_memcache"), "%s: enable" % locale
        enabled, mtimes = pkg._snapshot(srv), _mtimes(srv)
        p = subprocess.run(argv + ["enable"], capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL, env=env)
        assert p.returncode == 0 and "nothing changed" in p.stdout, \
            "%s: enable twice: %s%s" % (locale, p.stdout, p.stderr)
        pkg._assert_same(enabled, pkg._snapshot(srv), "enable twice")
        assert _mtimes(srv) == mtimes, "%s: enable twice touched files" \
            % locale
        p = subprocess.run(argv + ["disable"], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL,
                           env=env)
        assert p.returncode == 0 and "unknown option to" not in p.stderr, \
            "%s: disable: %s%s" % (locale, p.stdout, p.stderr)
        pkg._assert_same(before, pkg._snapshot(srv), "enable then disable")


# -- what the copy must show ------------------------------------------------------

def test_switch_dangling_symlink_in_conf_d(ctx):
    """A conf.d symlink whose target was removed: ProFTPD logs 'unable to
    open parse file' for it.  check must not call the configuration
    accepted, and enable must be refused on the copy (no write, no
    backup), not written and rolled back."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-dangling")
    os.symlink(os.path.join(srv.dir, "gone", "old-site.conf"),
               _conf_d(srv, "old-site.conf"))
    before = _snap(srv)
    rc, out = pkg._switch(srv, "check")
    assert "proftpd -t as configured now: REFUSED" in out and \
        "old-site.conf" in out and "proftpd -t with mod_ftps: REFUSED" \
        in out, "check: %s" % out
    rc, out = pkg._switch(srv, "enable")
    assert rc == 1 and "nothing changed" in out and "old-site.conf" in out \
        and "every file is back" not in out, "enable: %s" % out
    pkg._assert_same(before, _snap(srv), "refused enable")
    _no_backups(srv, "an enable refused on the copy")


def _dsa_line(srv):
    """A TLSDSACertificateFile naming the RSA certificate: mod_ftps ignores
    the directive with a warning; mod_tls logs 'unable to use DSA
    certificate ..., exiting' and exits with status 0 (proftpd -t too)."""
    _append(srv.tls_conf, "<IfModule mod_tls.c>\nTLSDSACertificateFile %s\n"
            "</IfModule>\n" % ftpsd.cert("rsa.crt"))


def test_switch_mod_tls_exiting_is_a_refusal(ctx):
    """mod_tls gives up on a certificate with exit status 0 ('..., exiting'):
    check must report the configuration as refused with mod_tls, and
    disable must not put mod_tls back into a configuration it exits on."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-exiting")
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0, "enable: %s" % out
    _dsa_line(srv)
    rc, out = pkg._switch(srv, "check")
    assert "proftpd -t as configured now: accepted" in out, "check: %s" % out
    before = pkg._snapshot(srv)
    rc, out = pkg._switch(srv, "disable")
    assert rc == 1 and "exiting" in out and "nothing changed" in out, \
        "disable into a configuration mod_tls exits on: %s" % out
    pkg._assert_same(before, pkg._snapshot(srv), "refused disable")
    # The same configuration with mod_tls loaded (by hand): "now" is refused.
    with open(_modules(srv)) as f:
        text = f.read()
    with open(_modules(srv), "w") as f:
        f.write(text.replace(pkg.MARK + "LoadModule mod_tls.c\n"
                             "LoadModule mod_ftps.c\n",
                             "LoadModule mod_tls.c\n"))
    assert pkg._active(srv, "mod_tls") and not pkg._active(srv, "mod_ftps")
    rc, out = pkg._switch(srv, "check")
    assert "proftpd -t as configured now: REFUSED" in out and \
        "exiting" in out, "check: %s" % out


# -- what check reports ---------------------------------------------------------

def test_switch_check_reports_every_applicable_row(ctx):
    """README's migration table rows that apply to a configuration with
    TLSStapling, TLSSessionTicketKeys and no AllowAnyALPN are reported:
    ALPN refusals (ALPACA), OCSP stapling by the master, the ticket key
    limits; AllowAnyALPN silences the ALPN row."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-rows")
    rc, out = pkg._switch(srv, "check")
    assert rc == 0 and "AllowAnyALPN" in out and "ALPN" in out, \
        "check says nothing of ALPN:\n%s" % out
    assert "TLSStapling" not in out and "TLSSessionTicketKeys" not in out, \
        "check reports rows that do not apply:\n%s" % out
    _append(srv.tls_conf, "<IfModule mod_tls.c>\nTLSStapling on\n"
            "TLSSessionTicketKeys age 3600\n</IfModule>\n"
            "<IfModule mod_ftps.c>\nTLSOptions AllowAnyALPN\n</IfModule>\n")
    rc, out = pkg._switch(srv, "check")
    assert rc == 0, "check: %s" % out
    assert "TLSStapling on" in out and "background" in out, \
        "check says nothing of OCSP stapling:\n%s" % out
    assert "TLSSessionTicketKeys" in out and "both parameters" in out, \
        "check says nothing of TLSSessionTicketKeys:\n%s" % out
    assert "Back: TLSOptions AllowAnyALPN" not in out, \
        "AllowAnyALPN is set, yet check reports the ALPN row:\n%s" % out


# -- the environment ---------------------------------------------------------------

def test_switch_backup_on_a_full_disk(ctx):
    """The backup directory on a full file system: enable fails with the
    reason and 'nothing changed', and leaves no truncated backup that looks
    like a good one."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-full")
    # A modules.conf larger than the file system: the copy cannot fit.
    _append(_modules(srv), "".join("# padding line %05d for a full disk\n" % i
                                   for i in range(2000)))
    with _small_tmpfs(srv, "full-", "16k") as mnt:
        srv.backups = os.path.join(mnt, "backups")
        before = pkg._snapshot(srv)
        rc, out = pkg._switch(srv, "enable")
        assert rc == 1 and "nothing changed" in out and \
            "cannot back up" in out, "enable on a full disk: %s" % out
        pkg._assert_same(before, pkg._snapshot(srv), "failed enable")
        left = _backup_files(srv)
        assert not left, "a failed backup left %s" % left


def test_switch_not_root_says_why(ctx):
    """Run by an admin who forgot sudo: proftpd -t cannot open what the
    daemon opens as root (its logs), so it refuses; check and enable must
    say that they were not run as root, not only that the configuration
    is refused."""
    if os.geteuid() != 0:
        raise Skip("not root: cannot run the switch as another user")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")
    srv = pkg._mod_tls_server(ctx, name="pkgatk-user")
    os.chmod(srv.dir, 0o755)
    os.makedirs(srv.backups, 0o777)
    os.chmod(srv.backups, 0o777)
    script = os.path.join(srv.dir, "proftpd-ftps-switch")
    shutil.copy(pkg.SWITCH_SRC, script)
    os.chmod(script, 0o755)
    before = pkg._snapshot(srv)

    def as_nobody():
        os.setgroups([])
        os.setgid(nobody.pw_gid)
        os.setuid(nobody.pw_uid)

    p = subprocess.run(["sh", "-c", 'test -r "$1" && test -r "$2"', "sh",
                        srv.conf, script], preexec_fn=as_nobody)
    if p.returncode != 0:
        raise Skip("the test configuration (%s) is not readable by nobody"
                   % srv.dir)

    for cmd in ("check", "enable"):
        p = subprocess.run(["sh", script, "-c", srv.conf, "--backup-dir",
                            srv.backups, cmd], capture_output=True,
                           text=True, timeout=120, stdin=subprocess.DEVNULL,
                           env=ftpsd.daemon_env(), preexec_fn=as_nobody)
        out = p.stdout + p.stderr
        assert "REFUSED" in out or "refuses" in out, "%s: %s" % (cmd, out)
        assert "not as root" in out, \
            "%s as nobody does not say it was not run as root:\n%s" % (cmd,
                                                                       out)
    pkg._assert_same(before, pkg._snapshot(srv), "enable as nobody")


def test_switch_full_tmpdir(ctx):
    """TMPDIR (where the configuration is checked on a copy) on a full file
    system: check and enable fail with a reason naming it, not a bare
    'I/O error', and change nothing."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-tmpfull")
    with _small_tmpfs(srv, "tmpfull-", "8k") as mnt:
        with open(os.path.join(mnt, "fill"), "wb") as f:
            try:
                f.write(b"\0" * 65536)
            except OSError:
                pass
        before = pkg._snapshot(srv)
        env = dict(ftpsd.daemon_env(), TMPDIR=mnt)
        for cmd in ("check", "enable"):
            p = subprocess.run(["sh", pkg.SWITCH_SRC, "-c", srv.conf,
                                "--backup-dir", srv.backups, cmd],
                               capture_output=True, text=True, timeout=120,
                               stdin=subprocess.DEVNULL, env=env)
            out = p.stdout + p.stderr
            assert p.returncode == 1 and mnt in out and \
                "nothing changed" in out, "%s with a full TMPDIR: %s" % (
                    cmd, out)
        pkg._assert_same(before, pkg._snapshot(srv), "enable, TMPDIR full")
        _no_backups(srv, "an enable with a full TMPDIR")


# -- the package -------------------------------------------------------------------

def _prerm_remove(deb, etc, script):
    """The package's prerm, run with 'remove' in a private mount namespace
    where etc is /etc/proftpd and script is /usr/sbin/proftpd-ftps-switch
    (nothing outside the namespace sees either)."""
    work = tempfile.mkdtemp(prefix="prerm-", dir=os.path.dirname(etc))
    subprocess.run(["dpkg-deb", "-e", deb, os.path.join(work, "control")],
                   check=True)
    prerm = os.path.join(work, "control", "prerm")
    assert os.path.exists(prerm), "the package has no prerm"
    sbin = os.path.join(work, "sbin")
    os.mkdir(sbin)
    shutil.copy(script, os.path.join(sbin, "proftpd-ftps-switch"))
    os.chmod(os.path.join(sbin, "proftpd-ftps-switch"), 0o755)
    p = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c",
         'mount --bind "$1" /etc/proftpd && mount --bind "$2" /usr/sbin && '
         'PATH=/usr/sbin:/usr/bin:/sbin:/bin exec sh "$3" remove', "sh",
         etc, sbin, prerm],
        capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout + p.stderr


def test_package_remove_warns_while_loaded(ctx):
    """dpkg -r while /etc/proftpd still loads mod_ftps.c leaves a server
    that refuses its next start or reload: the prerm names the line; with
    mod_tls loaded it says nothing; it never fails the removal."""
    if os.geteuid() != 0:
        raise Skip("not root: a private mount namespace needs root")
    if shutil.which("unshare") is None:
        raise Skip("unshare (util-linux) is not installed")
    deb = pkg._build_deb()
    srv = pkg._mod_tls_server(ctx, name="pkgatk-prerm")
    etc = pkg._etc(srv)
    p = subprocess.run(["unshare", "-m", "true"], capture_output=True,
                       text=True)
    if p.returncode != 0:
        raise Skip("no mount namespaces here: %s" % p.stderr.strip())
    rc, out = _prerm_remove(deb, etc, pkg.SWITCH_SRC)
    assert rc == 0 and "warning" not in out, \
        "prerm with mod_tls loaded: rc %d %s" % (rc, out)
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0, "enable: %s" % out
    rc, out = _prerm_remove(deb, etc, pkg.SWITCH_SRC)
    assert rc == 0, "prerm failed the removal: %s" % out
    assert "warning" in out and "modules.conf:22 still loads mod_ftps.c" \
        in out, "prerm with mod_ftps loaded says: %r" % out


def test_switch_tls_conf_symlinked_into_conf_d(ctx):
    """tls.conf enabled the Debian way for conf.d entries: the Include in
    proftpd.conf left commented out, conf.d/tls.conf a symlink to it.
    ProFTPD reads it (TLSRequired is in force); check must not say that it
    is not read, and enable / disable work through it."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-tlslink")
    with open(srv.conf) as f:
        text = f.read()
    line = "Include %s\n" % srv.tls_conf
    assert line in text
    with open(srv.conf, "w") as f:
        f.write(text.replace(line, "#" + line))
    link = _conf_d(srv, "tls.conf")
    os.symlink("../tls.conf", link)
    rc, out = pkg._switch(srv, "check")
    assert rc == 0 and "tls.conf: read as %s" % link in out and \
        "NOT included" not in out and "serves no FTPS" not in out, \
        "check: %s" % out
    before = pkg._snapshot(srv)
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0 and pkg._active(srv, "mod_ftps"), "enable: %s" % out
    srv.start()
    test_dropin.plain_refused(srv)
    srv.stop()
    rc, out = pkg._switch(srv, "disable")
    assert rc == 0, "disable: %s" % out
    pkg._assert_same(before, pkg._snapshot(srv), "enable then disable")


def test_package_copyright_covers_configure(ctx):
    """The machine-readable copyright names every licence the source
    package carries: configure is Autoconf's output, under the FSF's
    unlimited permission, not the module's GPL."""
    deb = pkg._build_deb()
    with open(os.path.join(ftpsd.REPO, "configure")) as f:
        head = f.read(2000)
    assert "Free Software Foundation" in head
    text = subprocess.run(
        ["sh", "-c", "dpkg-deb --fsys-tarfile '%s' | tar -xOf - "
         "./usr/share/doc/proftpd-mod-ftps/copyright" % deb],
        capture_output=True, text=True, check=True).stdout
    stanzas = text.split("\n\n")
    configure = [s for s in stanzas if s.startswith("Files: configure\n")]
    assert configure and "Free Software Foundation" in configure[0] and \
        "License: FSF-unlimited" in configure[0], \
        "copyright has no stanza for configure:\n%s" % text
    assert any(s.startswith("License: FSF-unlimited\n") for s in stanzas), \
        "FSF-unlimited has no licence text:\n%s" % text


def test_switch_interrupted_during_backup(ctx):
    """Ctrl-C while the backup is being copied (a cp that has written half
    the file): nothing changed, and no half-written copy is left in the
    backup directory to be restored from later."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-bakint")
    bindir = os.path.join(srv.dir, "slowbin")
    os.mkdir(bindir)
    started = os.path.join(srv.dir, "cp-started")
    with open(os.path.join(bindir, "cp"), "w") as f:
        # cp -p SRC DST: half of SRC, then wait to be interrupted.
        f.write("#!/bin/sh\n"
                'n=$(($(wc -c < "$2") / 2))\n'
                'head -c "$n" "$2" > "$3"\n'
                ": > '%s'\n"
                "exec sleep 600\n" % started)
    os.chmod(os.path.join(bindir, "cp"), 0o755)
    before = pkg._snapshot(srv)
    env = dict(ftpsd.daemon_env())
    env["PATH"] = bindir + ":" + env.get("PATH", "/usr/bin:/bin")
    p = subprocess.Popen(["sh", pkg.SWITCH_SRC, "-c", srv.conf,
                          "--backup-dir", srv.backups, "enable"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env,
                         start_new_session=True,
                         preexec_fn=pkg.sigint_default)
    try:
        for _ in range(600):
            if os.path.exists(started) or p.poll() is not None:
                break
            time.sleep(0.1)
        assert os.path.exists(started), "the backup never started: %s" % (
            p.communicate()[0] if p.poll() is not None else "")
        os.killpg(p.pid, signal.SIGINT)
        out = p.communicate(timeout=60)[0]
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    assert p.returncode != 0 and "nothing changed" in out, \
        "interrupted backup: rc %s %s" % (p.returncode, out)
    pkg._assert_same(before, pkg._snapshot(srv), "interrupted backup")
    left = _backup_files(srv)
    assert not left, "a half-written backup was left: %s" % left


def test_switch_check_now_refused_enable_fixes_it(ctx):
    """Debian as shipped (no TLS module loaded) with TLS directives put in
    conf.d bare, outside <IfModule>: ProFTPD refuses them today, mod_ftps
    would read them.  check must not claim that enable changes nothing
    until this is fixed when its own next line says mod_ftps accepts it,
    and enable does it."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-bare")
    with open(_modules(srv)) as f:
        text = f.read()
    with open(_modules(srv), "w") as f:
        f.write(text.replace("\nLoadModule mod_tls.c\n",
                             "\n#LoadModule mod_tls.c\n"))
    assert not pkg._active(srv, "mod_tls")
    with open(_conf_d(srv, "tls-bare.conf"), "w") as f:
        f.write("TLSEngine on\nTLSRSACertificateFile %s\n"
                "TLSRSACertificateKeyFile %s\n"
                % (ftpsd.cert("rsa.crt"), ftpsd.cert("rsa.key")))
    rc, out = pkg._switch(srv, "check")
    assert "proftpd -t as configured now: REFUSED" in out and \
        "proftpd -t with mod_ftps: accepted" in out, "check: %s" % out
    assert "change nothing" not in out, \
        "check says enable changes nothing, yet mod_ftps accepts it:\n%s" \
        % out
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0 and pkg._active(srv, "mod_ftps"), "enable: %s" % out


def test_switch_symlinked_setgid_modules_conf(ctx):
    """modules.conf a symlink into another directory (configuration kept
    under version control elsewhere), the target setgid, 2640, owned by
    an odd uid:gid: enable and disable write the target in place, the
    symlink stays a symlink, owner and mode (setgid too) stay, the backup
    holds the original bytes, a second run changes no mtime."""
    srv = pkg._mod_tls_server(ctx, name="pkgatk-symlink")
    modules = _modules(srv)
    vcs = os.path.join(srv.dir, "vcs")
    os.mkdir(vcs)
    target = os.path.join(vcs, "modules.conf")
    os.rename(modules, target)
    os.symlink("../vcs/modules.conf", modules)
    os.chown(target, 4321, 8765)
    os.chmod(target, 0o2640)
    with open(target, "rb") as f:
        original = f.read()

    def state():
        st = os.stat(target)
        return st.st_mode & 0o7777, st.st_uid, st.st_gid

    rc, out = pkg._switch(srv, "enable")
    assert rc == 0 and os.path.islink(modules) and \
        pkg._active(srv, "mod_ftps"), "enable: %s" % out
    assert state() == (0o2640, 4321, 8765), "enable: %o %d:%d" % state()
    backups = [os.path.join(r, n) for r, _d, ns in os.walk(srv.backups)
               for n in ns]
    assert len(backups) == 1, backups
    with open(backups[0], "rb") as f:
        assert f.read() == original, "the backup is not the original"
    mtime = os.stat(target).st_mtime_ns
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0 and "nothing changed" in out and \
        os.stat(target).st_mtime_ns == mtime, "enable twice: %s" % out
    rc, out = pkg._switch(srv, "disable")
    assert rc == 0 and os.path.islink(modules), "disable: %s" % out
    with open(target, "rb") as f:
        assert f.read() == original, "disable did not restore the bytes"
    assert state() == (0o2640, 4321, 8765), "disable: %o %d:%d" % state()
