"""Attacks on the restart fix (issue 11, item 18): many SIGHUPs and
certificate renewals on a rich configuration, with sessions alive across
them and tickets issued before them.

The configuration: the default server with an encrypted key opened by
TLSPassPhraseProvider and watched (FTPSCertificateWatch 1), client
certificates (TLSVerifyClient optional with a CA and a CRL), rotating
ticket keys, and two SNI vhosts.  After every restart a new session must
work on each server (its certificate, its files), and a ticket issued
before all the restarts must resume on its own vhost only.  The master's
sizes are printed for the report; the bound is the one
test_restart_memory.py uses, per 20 restarts.
"""

import os
import re
import subprocess
import signal
import time

import clients
import ftpsd
import test_cert_reload
import test_restart_memory
from clients import context, close_quietly, retr_bytes, TIMEOUT
from test_sni import sni_server, sni_ftps, NAMES, DEFAULT
from test_cert_reload import Pki, _read, _write, served_serial, wait_serial
from test_ticket_keys import _ticket, _offer
from test_restart_memory import _restart, _sizes
import glob

from test_valgrind import VALGRIND

RESTARTS = int(os.environ.get("FTPS_ATTACK_RESTARTS", "100"))
BOUND_KB_PER_20 = 256


def _rich_server(ctx, valgrind=False):
    ca = ftpsd.cert("ca.pem")
    srv = sni_server(ctx, start=False, tls={
        "TLSVerifyClient": "optional",
        "TLSCACertificateFile": ca,
        "TLSCARevocationFile": ftpsd.cert("ca.crl"),
    })
    pki = Pki(os.path.join(srv.dir, "pki"))
    live = os.path.join(srv.dir, "live")
    os.makedirs(live, 0o755)
    srv.cert_path = os.path.join(live, "cert.pem")
    srv.key_path = os.path.join(live, "key.pem")
    k = pki.key("k1", "first")
    _write(srv.key_path, _read(k))
    _write(srv.cert_path, _read(pki.cert("c1", k, 1, passphrase="first")))
    srv.pki = pki
    provider = os.path.join(srv.dir, "provider.sh")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\necho first\n")
    os.chmod(provider, 0o755)
    srv.replace_conf("TLSRSACertificateFile",
                     "TLSECCertificateFile " + srv.cert_path)
    srv.append_conf(["TLSECCertificateKeyFile " + srv.key_path,
                     "TLSPassPhraseProvider " + provider,
                     "FTPSCertificateWatch 1",
                     "TLSSessionTicketKeys age 1h count 1000"])
    if valgrind:
        srv.vg_logs = os.path.join(srv.dir, "valgrind")
        os.mkdir(srv.vg_logs)
        os.chmod(srv.vg_logs, 0o1777)
        srv.launcher = VALGRIND + ["--log-file=%s/vg.%%p" % srv.vg_logs]
        srv.start(timeout=240)
    else:
        srv.start()
    return srv


def _renew(srv, serial):
    k = srv.pki.key("k%d" % serial, "first")
    c = srv.pki.cert("c%d" % serial, k, serial, passphrase="first")
    _write(srv.key_path, _read(k))
    _write(srv.cert_path, _read(c))
    wait_serial(srv, serial, "renewal %d" % serial)


def _each_server_serves(srv, what):
    for key in (DEFAULT,) + NAMES:
        f = sni_ftps(srv, None if key == DEFAULT else key)
        try:
            got = retr_bytes(f, "data.bin")
            assert got == srv.vh[key].data, "%s: %s: bytes differ" % (what,
                                                                       key)
        finally:
            close_quietly(f)


def test_restart_attacks_many_restarts_rich_config(ctx):
    """RESTARTS SIGHUPs (a renewal by the watcher every 10th), a session
    open across them all and one opened every 10th; each server serves
    after each; tickets from before resume on their vhost at the end."""
    srv = _rich_server(ctx)
    pid = srv.proc.pid
    cs = {v: context(v) for v in ("1.2", "1.3")}
    tickets = {(v, sni): _ticket(srv, cs[v], sni)
               for v in cs for sni in (None, "a.example")}
    alive = sni_ftps(srv, "b.example")
    opened = []
    serial = 1
    for _ in range(3):
        _restart(srv)
    before = _sizes(pid)
    sizes = [before]
    try:
        for i in range(1, RESTARTS + 1):
            _restart(srv)
            alive.voidcmd("NOOP")   # within TimeoutIdle
            if i % 10 == 0:
                for f in opened:
                    f.voidcmd("NOOP")
                serial += 1
                _renew(srv, serial)
                opened.append(sni_ftps(srv, "a.example"))
                _each_server_serves(srv, "after restart %d" % i)
                sizes.append(_sizes(pid))
        _each_server_serves(srv, "at the end")
        assert retr_bytes(alive, "data.bin") == srv.vh["b.example"].data
        for f in opened:
            assert retr_bytes(f, "data.bin") == srv.vh["a.example"].data
        for v in cs:
            _offer(srv, cs[v], tickets[(v, "a.example")], "a's ticket",
                   sni="a.example", want=True)
            _offer(srv, cs[v], tickets[(v, None)], "default's ticket on a",
                   sni="a.example", want=False)
    finally:
        close_quietly(alive)
        for f in opened:
            close_quietly(f)
    after = _sizes(pid)
    print("# sizes every 10 restarts (VmData, VmRSS kB): %s"
          % " ".join("%d/%d" % (s["VmData"], s["VmRSS"]) for s in sizes))
    if ftpsd.sanitized():
        return
    bound = BOUND_KB_PER_20 * max(1, RESTARTS // 20)
    for f in ("VmData", "VmRSS"):
        grown = after[f] - before[f]
        assert grown < bound, "%s grew by %d kB over %d restarts" % (
            f, grown, RESTARTS)


# -- the module at another address after a restart ------------------------------

def _module_base(srv):
    """Where the master maps the module under test (its lowest address)."""
    with open("/proc/%d/maps" % srv.proc.pid) as f:
        for line in f:
            if line.rstrip().endswith("/%s.so" % srv.modname):
                return int(line.split("-", 1)[0], 16)
    raise AssertionError("%s.so is not mapped in the master" % srv.modname)


def _load_before(srv, names):
    """The configuration with LoadModule lines for names (copied from
    /usr/lib/proftpd) before the module under test's."""
    moddir = os.path.join(srv.dir, "modules")
    with open(srv.conf) as f:
        lines = [l for l in f.read().split("\n")
                 if not (l.startswith("LoadModule ") and
                         l != "LoadModule %s.c" % srv.modname)]
    i = lines.index("LoadModule %s.c" % srv.modname)
    for n in names:
        path = os.path.join(moddir, n + ".so")
        if not os.path.exists(path):
            import shutil
            shutil.copy("/usr/lib/proftpd/%s.so" % n, path)
        lines.insert(i, "LoadModule %s.c" % n)
        i += 1
    with open(srv.conf, "w") as f:
        f.write("\n".join(lines))


MOVERS = (("mod_copy",), ("mod_ban", "mod_copy", "mod_exec"), ())


def test_restart_attacks_module_moves(ctx):
    """Restarts that load other DSOs before mod_ftps (and then none) map
    it at other addresses: nothing of the old copy may be called (event
    listeners, OpenSSL callbacks); each restart serves, with a renewal by
    the watcher after it, and tickets from before resume."""
    srv = _rich_server(ctx)
    cs = {v: context(v) for v in ("1.2", "1.3")}
    tickets = {v: _ticket(srv, cs[v], "a.example") for v in cs}
    alive = sni_ftps(srv, "a.example")
    bases = {_module_base(srv)}
    serial = 1
    try:
        for round_ in range(3):
            for names in MOVERS:
                _load_before(srv, names)
                _restart(srv)
                bases.add(_module_base(srv))
                serial += 1
                _renew(srv, serial)
                _each_server_serves(srv, "after loading %s first" % (names,))
        # (ASan's runtime places mappings its own way: no move there)
        assert len(bases) > 1 or ftpsd.sanitized(), \
            "the module never moved: %s" % bases
        assert retr_bytes(alive, "data.bin") == srv.vh["a.example"].data
        for v in cs:
            _offer(srv, cs[v], tickets[v], "a's ticket", sni="a.example",
                   want=True)
    finally:
        close_quietly(alive)
    print("# module bases seen: %s" % " ".join("%x" % b for b in
                                              sorted(bases)))


# -- under memcheck ----------------------------------------------------------------

def _restart_slow(srv, timeout=300):
    """_restart() with memcheck's pace"""
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.time() + timeout
    while not test_restart_memory._BUILT.search(srv.log_since(mark, n=400)):
        assert srv.running(), "the daemon died at a restart:\n%s" \
            % srv.log_since(mark, n=40)
        assert time.time() < deadline, "no restart within %d s:\n%s" % (
            timeout, srv.log_since(mark, n=40))
        time.sleep(0.2)
    srv.wait_listening(srv.port, timeout=120)


def test_restart_attacks_valgrind_restarts(ctx):
    """memcheck in the master across restarts: SIGHUPs that move the
    module (another DSO first, then none), a renewal by the watcher after
    each, a session open across them, a ticket from before; no memcheck
    error in any process."""
    if ftpsd.sanitized():
        raise ftpsd.Skip("valgrind and a sanitizer runtime do not mix")
    if not clients.have("valgrind"):
        raise ftpsd.Skip("valgrind is not installed")
    test_cert_reload.DEADLINE = 300
    try:
        _valgrind_restarts(ctx)
    finally:
        test_cert_reload.DEADLINE = 30


def _valgrind_restarts(ctx):
    srv = _rich_server(ctx, valgrind=True)
    c = context("1.3")
    ticket = _ticket(srv, c, "a.example")
    alive = sni_ftps(srv, "a.example")
    alive.sock.settimeout(120)
    try:
        for serial, names in ((2, ("mod_copy",)), (3, ())):
            _load_before(srv, names)
            _restart_slow(srv)
            _renew(srv, serial)
            _each_server_serves(srv, "under memcheck, after loading %s "
                                "first" % (names,))
        assert retr_bytes(alive, "data.bin") == srv.vh["a.example"].data
        _offer(srv, c, ticket, "a's ticket", sni="a.example", want=True)
        alive.quit()
    finally:
        close_quietly(alive)
    time.sleep(2)
    print("# memcheck logs: %d" % _memcheck_clean(srv))


_HEADER = re.compile(r"^==\d+== ?(Memcheck, a memory|Copyright \(C\)|"
                     r"Using Valgrind|Command: |Parent PID: |$)")


def _memcheck_clean(srv):
    """test_valgrind's check, but a process that exec()s (the passphrase
    provider, forked by the master) leaves a log with only memcheck's
    header: nothing to report there."""
    srv.stop()
    logs = sorted(glob.glob(os.path.join(srv.vg_logs, "vg.*")))
    bad, summaries = [], 0
    for path in logs:
        text = ftpsd.read_text(path)
        m = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        if m is None:
            if any(not _HEADER.match(l) for l in text.splitlines()):
                bad.append("%s: no ERROR SUMMARY:\n%s" % (path, text[-3000:]))
        elif int(m.group(1)) != 0:
            bad.append("%s:\n%s" % (path, text[-8000:]))
        else:
            summaries += 1
    assert summaries >= 2, "memcheck summed up %d processes" % summaries
    assert not bad, "memcheck:\n" + "\n".join(bad)
    return summaries


# -- libcrypto's tables across restarts -----------------------------------------

def _next_indices(pid):
    """The ex_data index libcrypto gives next in the master for each class
    of object, and the next BIO type index (asked through gdb: each call
    takes one index itself)."""
    cmds = []
    for cls in range(CRYPTO_EX_INDEX__COUNT):
        cmds += ["-ex", "print (int) CRYPTO_get_ex_new_index(%d, 0L, "
                 "(void *) 0, (void *) 0, (void *) 0, (void *) 0)" % cls]
    cmds += ["-ex", "print (int) BIO_get_new_index()"]
    p = subprocess.run(["gdb", "-nx", "-batch", "-p", str(pid)] + cmds,
                       capture_output=True, timeout=120)
    out = p.stdout.decode(errors="replace")
    got = [int(v) for v in re.findall(r"^\$\d+ = (-?\d+)\s*$", out, re.M)]
    assert len(got) == CRYPTO_EX_INDEX__COUNT + 1, \
        "gdb could not ask libcrypto in the master:\n%s%s" % (
            out, p.stderr.decode(errors="replace"))
    return got


CRYPTO_EX_INDEX__COUNT = 18   # openssl/crypto.h (3.0)
CLASS_NAMES = ("SSL", "SSL_CTX", "SSL_SESSION", "X509", "X509_STORE",
               "X509_STORE_CTX", "DH", "DSA", "EC_KEY", "RSA", "ENGINE",
               "UI", "BIO", "APP", "UI_METHOD", "RAND_DRBG", "DRBG",
               "OSSL_LIB_CTX", "BIO type")


def test_restart_attacks_no_libcrypto_index_per_restart(ctx):
    """A CRL (TLSCARevocationFile) hangs off each verification store; the
    restarts must not register an X509_STORE ex_data index each: the DSO
    is loaded again at every restart, and each index stays in libcrypto's
    tables for good (and widens every store made afterwards), so the
    master grew with every restart.  Measured: the next index libcrypto
    hands out for every class (and the next BIO type), before and after 5
    restarts and a renewal, with everything the rich configuration
    uses."""
    if not clients.have("gdb"):
        raise ftpsd.Skip("gdb is not installed (apt-get install gdb)")
    srv = _rich_server(ctx)
    pid = srv.proc.pid
    _restart(srv)
    first = _next_indices(pid)
    for _ in range(5):
        _restart(srv)
    _renew(srv, 2)
    _each_server_serves(srv, "after 5 restarts and a renewal")
    second = _next_indices(pid)
    grown = ["%s: %d" % (CLASS_NAMES[i], b - a - 1)
             for i, (a, b) in enumerate(zip(first, second)) if b != a + 1]
    assert not grown, "5 restarts registered indices in the master's " \
        "libcrypto (class: how many): %s" % ", ".join(grown)
    # The CRL still applies: the revoked client certificate is refused,
    # a good one accepted.
    from test_clientcert import control
    status, r = control(srv, "alice")
    assert status == "ok", "alice refused after the restarts: %s" % (r,)
    close_quietly(r)
    status, r = control(srv, "mallory")
    assert status == "refused", "a revoked certificate was accepted " \
        "after the restarts"


_COUNT_SCOPES = """python
p = gdb.parse_and_eval("(void **) 'binding.c'::scopes")
n = 0
while int(p) != 0 and n < 100000:
    n += 1
    p = gdb.parse_and_eval("*(void **) %d" % int(p))
print("SCOPES %d" % n)
end"""


def _scopes(srv):
    """How many binding scopes (binding.c) the master holds."""
    script = os.path.join(srv.dir, "scopes.gdb")
    with open(script, "w") as f:
        f.write(_COUNT_SCOPES + "\n")
    p = subprocess.run(["gdb", "-nx", "-batch", "-p", str(srv.proc.pid),
                        "-x", script], capture_output=True, timeout=120)
    out = p.stdout.decode(errors="replace")
    m = re.search(r"^SCOPES (\d+)$", out, re.M)
    assert m, "gdb could not count the scopes in the master:\n%s%s" % (
        out, p.stderr.decode(errors="replace"))
    return int(m.group(1))


def test_restart_attacks_renewals_free_scopes(ctx):
    """A renewal frees the old contexts of one server: the binding scope
    of its context goes with it (it waited for the next restart, one more
    at every renewal), and the new context's scope still resumes the
    tickets issued before (the scope's bytes are derived, not kept)."""
    if ftpsd.sanitized():
        raise ftpsd.Skip("gdb and a sanitizer runtime: not needed twice")
    if not clients.have("gdb"):
        raise ftpsd.Skip("gdb is not installed (apt-get install gdb)")
    srv = _rich_server(ctx)
    c = context("1.3")
    ticket = _ticket(srv, c, None)
    before = _scopes(srv)
    assert before == 1 + len(NAMES), \
        "%d scopes for %d servers" % (before, 1 + len(NAMES))
    for serial in (2, 3, 4):
        _renew(srv, serial)
    after = _scopes(srv)
    assert after == before, "3 renewals: %d binding scopes, %d before" % (
        after, before)
    _offer(srv, c, ticket, "the default server's ticket after renewals",
           want=True)
    _each_server_serves(srv, "after 3 renewals")


def test_restart_attacks_sighup_burst(ctx):
    """30 SIGHUPs 20 ms apart while clients keep connecting, with a
    renewal waiting for the watcher: the master survives (ProFTPD runs
    one restart at a time from its main loop), and then serves every
    server, the renewed certificate on the default one."""
    srv = _rich_server(ctx)
    k = srv.pki.key("k2", "first")
    c = srv.pki.cert("c2", k, 2, passphrase="first")
    _write(srv.key_path, _read(k))
    _write(srv.cert_path, _read(c))
    for i in range(30):
        os.kill(srv.proc.pid, signal.SIGHUP)
        time.sleep(0.02)
        if i % 10 == 0:
            try:
                served_serial(srv)
            except (OSError, EOFError):
                pass        # the port may be closed mid-restart
    assert srv.running(), "the master died in a burst of SIGHUPs:\n%s" \
        % srv.log_tail(40)
    _restart(srv)
    wait_serial(srv, 2, "after a burst of SIGHUPs")
    _each_server_serves(srv, "after a burst of SIGHUPs")


def _drop_vhost(srv, name):
    """The configuration without the <VirtualHost> block of name."""
    with open(srv.conf) as f:
        text = f.read()
    blocks = re.findall(r"<VirtualHost 127\.0\.0\.1>\n.*?</VirtualHost>\n?",
                        text, re.S)
    mine = [b for b in blocks if "ServerAlias %s\n" % name in b]
    assert len(mine) == 1, "no single block for %s" % name
    with open(srv.conf, "w") as f:
        f.write(text.replace(mine[0], ""))


def test_restart_attacks_vhost_removed(ctx):
    """A restart that removes vhost b: b's ticket offered with SNI
    b.example (now the default server's) gets a full handshake and the
    default server's session; a's ticket still resumes on a; the default
    server's ticket resumes on it."""
    srv = _rich_server(ctx)
    cs = {v: context(v) for v in ("1.2", "1.3")}
    tickets = {(v, sni): _ticket(srv, cs[v], sni)
               for v in cs for sni in (None,) + NAMES}
    _drop_vhost(srv, "b.example")
    _restart(srv)
    for v in cs:
        _, got = _offer(srv, cs[v], tickets[(v, "b.example")],
                        "TLS %s: b's ticket after b is gone" % v,
                        sni="b.example", want=False)
        assert got == srv.vh[DEFAULT].data, \
            "TLS %s: b's ticket after b is gone: not the default " \
            "server's files" % v
        _offer(srv, cs[v], tickets[(v, "a.example")], "TLS %s: a's ticket"
               % v, sni="a.example", want=True)
        _offer(srv, cs[v], tickets[(v, None)], "TLS %s: the default "
               "server's ticket" % v, want=True)
