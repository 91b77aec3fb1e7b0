"""proftpd-ftps-switch on messy configurations, as admins have them.

Each test starts from test_package's copy of Debian's stock configuration
running mod_tls (DebianServer, tls.conf included), roughens it the way a
real /etc/proftpd gets roughened (CRLF line ends, no final newline, quoted
paths with spaces, a wildcard Include, a subdirectory in conf.d, the same
file reached twice, a backup directory ProFTPD would read, an immutable
file, an interrupted or concurrent run) and holds the switch to its
promises: it never leaves mod_tls and mod_ftps loaded together nor a
configuration without the module it claims, never leaves one that
`proftpd -t` refuses, puts every file back byte for byte on failure, and
changes nothing the second time.
"""

import os
import signal
import stat
import subprocess
import time

import ftpsd
from ftpsd import Skip
import test_package as pkg
from test_dropin import DebianServer

SWITCH = pkg.SWITCH_SRC


def _modules(srv):
    return os.path.join(pkg._etc(srv), "modules.conf")


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _loaded(srv):
    """'mod_ftps', 'mod_tls', 'both' or 'neither', as proftpd -vv says."""
    out = pkg._loaded_modules(srv)
    ftps, tls = "mod_ftps/" in out, "mod_tls/" in out
    return {(True, True): "both", (True, False): "mod_ftps",
            (False, True): "mod_tls", (False, False): "neither"}[(ftps, tls)]


def _round_trip(srv, what):
    """enable (mod_ftps loaded, mod_tls not), enable again (nothing),
    disable (every byte, owner and mode back), disable again (nothing)."""
    before = pkg._snapshot(srv)
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0, "%s: enable: %s" % (what, out)
    assert _loaded(srv) == "mod_ftps", \
        "%s: after enable proftpd -vv loads %s:\n%s" % (what, _loaded(srv), out)
    enabled = pkg._snapshot(srv)
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0 and "nothing changed" in out, \
        "%s: enable twice: %s" % (what, out)
    pkg._assert_same(enabled, pkg._snapshot(srv), what + ": enable twice")
    rc, out = pkg._switch(srv, "disable")
    assert rc == 0, "%s: disable: %s" % (what, out)
    pkg._assert_same(before, pkg._snapshot(srv), what + ": enable then disable")
    assert _loaded(srv) == "mod_tls", "%s: after disable" % what
    rc, out = pkg._switch(srv, "disable")
    assert rc == 0 and "nothing changed" in out, \
        "%s: disable twice: %s" % (what, out)
    pkg._assert_same(before, pkg._snapshot(srv), what + ": disable twice")


def _no_backups(srv, what):
    assert not os.path.exists(srv.backups) or not os.listdir(srv.backups), \
        "%s wrote backups: %s" % (what, os.listdir(srv.backups))


# -- line ends and quoting -------------------------------------------------------

def test_switch_crlf_modules_conf(ctx):
    """modules.conf with CRLF line ends (edited on Windows): ProFTPD loads
    mod_tls from it; enable must replace it, not say that mod_ftps is
    already loaded."""
    srv = pkg._mod_tls_server(ctx, name="switch-crlf")
    modules = _modules(srv)
    _write(modules, _read(modules).replace(b"\n", b"\r\n"))
    assert _loaded(srv) == "mod_tls", "ProFTPD does not read CRLF lines"
    _round_trip(srv, "CRLF modules.conf")


def test_switch_crlf_after_enable(ctx):
    """Debian as shipped, enable (mod_ftps.c added after the commented-out
    mod_tls line, with the tool's marker), then modules.conf converted to
    CRLF by an editor: disable still takes out both added lines."""
    srv = DebianServer(ctx.module, keep=ctx.keep, tls=None, load=None,
                       name="switch-crlf2")
    srv.backups = os.path.join(srv.dir, "backups")
    ctx.own.append(srv)
    modules = _modules(srv)
    original = _read(modules)
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0 and _loaded(srv) == "mod_ftps", "enable: %s" % out
    _write(modules, _read(modules).replace(b"\n", b"\r\n"))
    rc, out = pkg._switch(srv, "disable")
    assert rc == 0, "disable: %s" % out
    assert _read(modules) == original.replace(b"\n", b"\r\n"), \
        "disable left:\n%s" % _read(modules).decode()[-800:]


def test_switch_files_without_final_newline(ctx):
    """modules.conf and tls.conf end without a newline: the way back is
    byte for byte, and enable changes modules.conf only (tls.conf has
    nothing to change)."""
    srv = pkg._mod_tls_server(ctx, name="switch-nonl")
    for path in (_modules(srv), srv.tls_conf):
        _write(path, _read(path).rstrip(b"\n"))
    _round_trip(srv, "no final newline")
    tls_before = _read(srv.tls_conf)
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0, "enable: %s" % out
    assert _read(srv.tls_conf) == tls_before and \
        "changed: %s " % srv.tls_conf not in out, \
        "enable changed tls.conf, which loads no module:\n%s" % out


def test_switch_quoted_include_with_space(ctx):
    """modules.conf in a directory whose name has a space, Included with
    quotes (as ProFTPD allows): status must see mod_tls, and check must
    not call the configuration refused."""
    srv = pkg._mod_tls_server(ctx, name="switch-space")
    etc = pkg._etc(srv)
    spaced = os.path.join(etc, "my conf")
    os.mkdir(spaced)
    new = os.path.join(spaced, "modules.conf")
    os.rename(_modules(srv), new)
    conf = _read(srv.conf).replace(
        ("Include %s\n" % os.path.join(etc, "modules.conf")).encode(),
        ('Include "%s"\n' % new).encode())
    _write(srv.conf, conf)
    assert _loaded(srv) == "mod_tls"
    rc, out = pkg._switch(srv, "status")
    assert rc == 0 and "mod_tls.c is loaded (%s:" % new in out, \
        "status: %s" % out
    rc, out = pkg._switch(srv, "check")
    assert "proftpd -t as configured now: accepted" in out and \
        "proftpd -t with mod_ftps: accepted" in out, "check: %s" % out
    _round_trip(srv, "quoted Include with a space")


def test_switch_quoted_module_name(ctx):
    """LoadModule "mod_tls.c" (quoted: ProFTPD loads it): status names it
    and enable replaces it."""
    srv = pkg._mod_tls_server(ctx, name="switch-quoted")
    modules = _modules(srv)
    _write(modules, _read(modules).replace(b"\nLoadModule mod_tls.c\n",
                                           b'\nLoadModule "mod_tls.c"\n'))
    assert _loaded(srv) == "mod_tls"
    rc, out = pkg._switch(srv, "status")
    assert "mod_tls.c is loaded" in out, "status: %s" % out
    _round_trip(srv, 'LoadModule "mod_tls.c"')


# -- what the Include lines reach ----------------------------------------------

def _include_line(srv, new):
    conf_d = os.path.join(pkg._etc(srv), "conf.d")
    _write(srv.conf, _read(srv.conf).replace(
        ("Include %s/\n" % conf_d).encode(), ("Include %s\n" % new).encode()))


def test_switch_wildcard_include_without_matches(ctx):
    """Include conf.d/*.conf with no .conf in conf.d: ProFTPD accepts it;
    so must check and enable."""
    srv = pkg._mod_tls_server(ctx, name="switch-wild")
    _include_line(srv, os.path.join(pkg._etc(srv), "conf.d", "*.conf"))
    rc, out = pkg._switch(srv, "check")
    assert "proftpd -t as configured now: accepted" in out and \
        "proftpd -t with mod_ftps: accepted" in out, "check: %s" % out
    _round_trip(srv, "wildcard Include without matches")


def test_switch_subdirectory_in_included_dir(ctx):
    """A subdirectory in conf.d: ProFTPD logs an error for it.  check says
    so about the configuration as it is, and enable is refused before
    anything is written (no backup, no rollback)."""
    srv = pkg._mod_tls_server(ctx, name="switch-subdir")
    os.mkdir(os.path.join(pkg._etc(srv), "conf.d", "old"))
    before = pkg._snapshot(srv)
    rc, out = pkg._switch(srv, "check")
    assert "proftpd -t as configured now: REFUSED" in out and \
        "Is a directory" in out, "check: %s" % out
    rc, out = pkg._switch(srv, "enable")
    assert rc == 1 and "nothing changed" in out and \
        "Is a directory" in out, "enable: %s" % out
    pkg._assert_same(before, pkg._snapshot(srv), "refused enable")
    _no_backups(srv, "an enable refused on the copy")


def test_switch_same_file_reached_twice(ctx):
    """conf.d holds a symlink to modules.conf, so ProFTPD reads it twice
    (it loads nothing twice): enable must still load mod_ftps, never end
    with no TLS module at all (tls.conf's <IfModule mod_tls.c> would then
    be skipped: plain FTP)."""
    srv = pkg._mod_tls_server(ctx, name="switch-twice")
    os.symlink("../modules.conf",
               os.path.join(pkg._etc(srv), "conf.d", "zz-modules.conf"))
    assert _loaded(srv) == "mod_tls"
    _round_trip(srv, "modules.conf reached twice")


def test_switch_backup_dir_inside_included_dir(ctx):
    """--backup-dir inside conf.d: ProFTPD would read the backups (and log
    an error for the directory); the switch refuses before creating it."""
    srv = pkg._mod_tls_server(ctx, name="switch-bakdir")
    srv.backups = os.path.join(pkg._etc(srv), "conf.d", "backups")
    before = pkg._snapshot(srv)
    rc, out = pkg._switch(srv, "enable")
    assert rc == 1 and "conf.d" in out and "nothing changed" in out, \
        "enable: %s" % out
    assert not os.path.exists(srv.backups), "the backup dir was created"
    pkg._assert_same(before, pkg._snapshot(srv), "refused enable")


def test_switch_existing_backup_root_keeps_its_mode(ctx):
    """--backup-dir naming an existing shared directory (/var/backups is
    0755): only the per-run directory is made 0700."""
    srv = pkg._mod_tls_server(ctx, name="switch-bakmode")
    os.mkdir(srv.backups, 0o755)
    os.chmod(srv.backups, 0o755)
    rc, out = pkg._switch(srv, "enable")
    assert rc == 0, "enable: %s" % out
    assert stat.S_IMODE(os.stat(srv.backups).st_mode) == 0o755, \
        "the existing backup root became %o" % os.stat(srv.backups).st_mode
    runs = [os.path.join(srv.backups, d) for d in os.listdir(srv.backups)
            if not d.startswith(".")]
    assert len(runs) == 1 and \
        stat.S_IMODE(os.stat(runs[0]).st_mode) == 0o700, runs


def test_switch_disable_when_neither_loaded(ctx):
    """Debian as shipped (neither module loaded): disable changes nothing
    and says what is loaded, not that mod_tls is."""
    srv = DebianServer(ctx.module, keep=ctx.keep, tls=None, load=None,
                       name="switch-neither")
    srv.backups = os.path.join(srv.dir, "backups")
    ctx.own.append(srv)
    before = pkg._snapshot(srv)
    rc, out = pkg._switch(srv, "disable")
    assert rc == 0 and "nothing changed" in out and \
        "neither mod_tls.c nor mod_ftps.c is loaded" in out and \
        "mod_tls.c is already" not in out, "disable: %s" % out
    pkg._assert_same(before, pkg._snapshot(srv), "disable")


# -- failures while writing -----------------------------------------------------

def test_switch_immutable_file(ctx):
    """The conf.d file holding a cache module is immutable (chattr +i):
    enable fails with a reason and exit status 1, every file as it was."""
    srv = pkg._mod_tls_server(ctx, name="switch-immutable")
    cache = os.path.join(pkg._etc(srv), "conf.d", "cache.conf")
    _write(cache, b"LoadModule mod_tls_shmcache.c\n")
    p = subprocess.run(["chattr", "+i", cache], capture_output=True)
    if p.returncode != 0:
        raise Skip("chattr +i does not work here: %s" % p.stderr.decode())
    try:
        before = pkg._snapshot(srv)
        rc, out = pkg._switch(srv, "enable")
        assert rc == 1 and "cannot write %s" % cache in out and \
            "every file is back as it was" in out, "enable: %s" % out
        pkg._assert_same(before, pkg._snapshot(srv), "failed enable")
    finally:
        subprocess.run(["chattr", "-i", cache])


class _Blocked:
    """The switch, started with a proftpd wrapper that stops in the check
    of the real files (after they are written) until released."""

    def __init__(self, srv, *args):
        self.started = os.path.join(srv.dir, "wrapper-started")
        self.release = os.path.join(srv.dir, "wrapper-release")
        wrapper = os.path.join(srv.dir, "proftpd-blocking")
        with open(wrapper, "w") as f:
            f.write("#!/bin/sh\n"
                    "if [ \"$3\" = '%s' ]; then\n"
                    "  : > '%s'\n"
                    "  while [ ! -e '%s' ]; do sleep 0.1; done\n"
                    "fi\n"
                    "exec %s \"$@\"\n" % (srv.conf, self.started,
                                          self.release, ftpsd.PROFTPD))
        os.chmod(wrapper, 0o755)
        argv = ["sh", SWITCH, "-c", srv.conf, "--backup-dir", srv.backups,
                "--proftpd", wrapper] + list(args)
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True,
                                  start_new_session=True,
                                  preexec_fn=pkg.sigint_default)
        for _ in range(600):
            if os.path.exists(self.started) or self.p.poll() is not None:
                break
            time.sleep(0.1)
        assert os.path.exists(self.started), \
            "the switch never reached the check of the real files: %s" \
            % (self.p.communicate()[0] if self.p.poll() is not None else "")

    def finish(self):
        _write(self.release, b"")
        out = self.p.communicate(timeout=120)[0]
        return self.p.returncode, out

    def close(self):
        _write(self.release, b"")
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()


def test_switch_interrupted_rolls_back(ctx):
    """Ctrl-C (SIGINT to the process group) while proftpd -t checks the
    written files, e.g. a passphrase prompt nobody answers: every file is
    put back."""
    srv = pkg._mod_tls_server(ctx, name="switch-sigint")
    before = pkg._snapshot(srv)
    run = _Blocked(srv, "enable")
    try:
        os.killpg(run.p.pid, signal.SIGINT)
        out = run.p.communicate(timeout=120)[0]
        assert run.p.returncode != 0, "interrupted enable: %s" % out
        pkg._assert_same(before, pkg._snapshot(srv), "interrupted enable")
        assert "back as it was" in out, "interrupted enable: %s" % out
    finally:
        run.close()


def test_switch_concurrent_runs_are_serialised(ctx):
    """A disable started while an enable is between writing and checking
    is refused (a lock), changes nothing, and the enable then ends as it
    says."""
    srv = pkg._mod_tls_server(ctx, name="switch-lock")
    run = _Blocked(srv, "enable")
    try:
        during = pkg._snapshot(srv)
        rc, out = pkg._switch(srv, "disable")
        assert rc == 1 and "another proftpd-ftps-switch" in out, \
            "disable during an enable: %s" % out
        pkg._assert_same(during, pkg._snapshot(srv), "refused disable")
        rc, out = run.finish()
        assert rc == 0 and "Now: mod_ftps.c is loaded" in out, \
            "the enable: %s" % out
        assert _loaded(srv) == "mod_ftps"
    finally:
        run.close()
