#!/usr/bin/env python3
"""bench.py - mod_ftps against mod_tls and plain ProFTPD (issue 6).

Usage:
    make bench                 # full run, about 12 minutes
    make bench-quick           # a quick look: 64 MiB files, 1 repeat
    python3 contrib/bench/bench.py [--quick] [--module PATH] [--out FILE]
        [--repeat N] [--size-mib N] [--sessions N] [--idle N] [--files N]
        [--only bulk,sessions,memory,small] [--clients curl,lftp]
        [--workdir DIR] [--keep]

One invocation starts three daemons with the same /usr/sbin/proftpd binary,
the same generated certificate (RSA 2048, signed by a test CA) and the same
configuration apart from the TLS module, all on 127.0.0.1 and free ports:

    plain     no TLS module (the ceiling)
    mod_tls   Debian's /usr/lib/proftpd/mod_tls.so (proftpd-mod-crypto)
    mod_ftps  ./mod_ftps.so, or --module PATH

and measures, round-robin across the targets (the order rotates every
repeat), the median of --repeat runs (5; 1 with --quick) of:

    RETR / STOR MB/s     a random file of --size-mib MiB (1024; 64 with
                         --quick) with curl and with lftp; MB = 10^6 bytes,
                         over the wall time of the client process (connect,
                         login, transfer, QUIT).  The first download of
                         each target/client goes to a file and is checked
                         with sha256 (not timed); timed downloads go to
                         /dev/null.  The first timed upload of each
                         target/client is checked on the server side.
    server CPU s/GB      utime+stime+cutime+cstime of the proftpd master
                         (run with -n as our child) from /proc/PID/stat,
                         read before the transfer and after the session
                         child has been reaped: the master plus its session.
    server CPU ms/sess   the same over --sessions (60) sequential sessions
                         of a Python ssl client: connect, AUTH TLS (full
                         handshake), USER, PASS, QUIT.  Each session child
                         is reaped, then --settle (0.45) s more pass, before
                         the next connects: after reaping a child ProFTPD's
                         master sleeps twice 200 ms (EINTR retry), which is
                         no CPU but would be wall time.  The same pause
                         comes before every timed measurement.
    USS kB / idle sess   Private_Clean+Private_Dirty from smaps_rollup of
                         each session child, mean over --idle (20)
                         simultaneous sessions, idle after login, PROT P,
                         PWD and one NLST.
    small files/s        one session, PROT P, --files (200) RETRs of 4 KiB
                         files, each data connection resuming the control
                         session (ftplib passing session=), TLS 1.2 and
                         TLS 1.3 (the plain target: plain FTP).

It prints machine information and one table: each metric for plain,
mod_tls and mod_ftps, the ratio mod_ftps/mod_tls and the target of issue 6
beside it.  The table goes to --out (default contrib/bench/results-latest.md;
results-quick.md with --quick) and the raw samples to the same name with
.json.  Python 3 standard library only; needs root (proftpd switches to
nobody), curl and lftp.

Every daemon it started is stopped (by PID) and the work dir (under
/dev/shm when it is a tmpfs with room, else $TMPDIR or /tmp; --workdir
to choose) is removed unless --keep.  Exit status: 0 when every figure was
measured, whether or not the targets are met; 1 when the harness or a
measurement failed (a client error, a checksum mismatch, a daemon that
did not start).
"""

import argparse
import datetime
import ftplib
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
USER, PASSWORD = "ftpbench", "bench-Pa55"
UID = GID = 65534
CLK_TCK = os.sysconf("SC_CLK_TCK")
TARGETS = ("plain", "mod_tls", "mod_ftps")
SMALL_SIZE = 4096


class BenchError(Exception):
    """A measurement failed (client error, checksum mismatch...)."""


def log(msg):
    print(msg, flush=True)


def run(argv, timeout=600, **kw):
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, **kw)


# -- /proc helpers -----------------------------------------------------------

def proc_stat(pid):
    """(state, utime+stime, cutime+cstime) in ticks from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14.
    ut, st, cut, cst = (int(x) for x in fields[11:15])
    return fields[0], ut + st, cut + cst


def proc_children(pid):
    """Children of pid, zombies included (they stay until reaped)."""
    path = "/proc/%d/task/%d/children" % (pid, pid)
    try:
        with open(path) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        pass
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    s = f.read()
            except OSError:
                continue
            if int(s[s.rindex(")") + 2:].split()[1]) == pid:
                kids.append(int(d))
    return kids


def smaps_rollup(pid):
    """{'Rss': kB, 'Pss': kB, 'Private_Clean': kB, ...}"""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def listening(port):
    want = "0100007F:%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f:
            p = line.split()
            if len(p) > 3 and p[1] == want and p[3] == "0A":
                return True
    return False


def free_port():
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


# -- fixtures ----------------------------------------------------------------

def make_certs(d):
    """Test CA (RSA 2048) and a localhost server certificate it signs."""
    os.makedirs(d, 0o755)
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    p = lambda n: os.path.join(d, n)
    steps = [
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "30",
         "-subj", "/CN=mod_ftps bench CA",
         "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes",
         "-keyout", p("server.key"), "-out", p("server.csr"),
         "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", p("server.csr"),
         "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-set_serial", "2",
         "-days", "30", "-sha256", "-extfile", ext, "-out", p("server.crt")],
    ]
    for argv in steps:
        r = run(argv, timeout=120)
        if r.returncode != 0:
            raise BenchError("%s failed: %s" % (" ".join(argv[:3]), r.stderr))
    for n in ("ca.key", "server.key"):
        os.chmod(p(n), 0o600)
    return p("server.crt"), p("server.key"), p("ca.crt")


def password_hash(pw):
    r = run(["openssl", "passwd", "-6", pw], timeout=30)
    if r.returncode != 0:
        raise BenchError("openssl passwd -6: " + r.stderr)
    return r.stdout.strip()


def write_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(left, 1 << 22)
            f.write(os.urandom(n))
            left -= n


# -- the daemons -------------------------------------------------------------

class Daemon:
    """proftpd -n, our child, with one TLS module (or none)."""

    def __init__(self, name, module, work, home, passwd, certs, proftpd):
        self.name, self.module, self.proftpd = name, module, proftpd
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, 0o755)
        self.port = free_port()
        self.proc = None
        self.conf = os.path.join(self.dir, "proftpd.conf")
        self.pidfile = os.path.join(self.dir, "proftpd.pid")
        self.stderr = os.path.join(self.dir, "stderr.log")
        self.tls_log = os.path.join(self.dir, "tls.log")
        lines = [
            "ServerType standalone",
            "DefaultServer on",
            'ServerName "mod_ftps bench %s"' % name,
            "Port %d" % self.port,
            "DefaultAddress 127.0.0.1",
            "SocketBindTight on",
            "UseIPv6 off",
            "User nobody",
            "Group nogroup",
            "PidFile " + self.pidfile,
            "ScoreboardFile " + os.path.join(self.dir, "proftpd.scoreboard"),
            "DelayEngine off",
            "UseReverseDNS off",
            "WtmpLog off",
            "TransferLog none",
            "AuthOrder mod_auth_file.c",
            "AuthUserFile " + passwd,
            "RequireValidShell off",
            "DefaultRoot ~",
            "AllowOverwrite on",
            "Umask 022",
            "MaxInstances 100",
            "TimeoutIdle 600",
        ]
        if module:
            moddir = os.path.join(self.dir, "modules")
            os.makedirs(moddir, 0o755)
            modname = os.path.basename(module)[:-3]
            # ModulePath must not be world-writable: a private copy.
            shutil.copy(module, os.path.join(moddir, modname + ".so"))
            os.chmod(os.path.join(moddir, modname + ".so"), 0o755)
            crt, key, ca = certs
            lines += [
                "ModulePath " + moddir,
                "LoadModule %s.c" % modname,
                "TLSEngine on",
                "TLSLog " + self.tls_log,
                "TLSProtocol TLSv1.2 TLSv1.3",
                "TLSRequired on",
                "TLSVerifyClient off",
                "TLSRenegotiate none",
                "TLSRSACertificateFile " + crt,
                "TLSRSACertificateKeyFile " + key,
                "TLSCACertificateFile " + ca,
            ]
        self.tls = bool(module)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def start(self, timeout=20):
        r = run([self.proftpd, "-t", "-c", self.conf], timeout=60)
        if r.returncode != 0:
            raise BenchError("%s: proftpd -t failed:\n%s%s"
                             % (self.name, r.stdout, r.stderr))
        err = open(self.stderr, "ab")
        try:
            self.proc = subprocess.Popen(
                [self.proftpd, "-n", "-c", self.conf],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        finally:
            err.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise BenchError("%s: proftpd exited with %s at start-up:\n%s"
                                 % (self.name, self.proc.returncode,
                                    self.log_tail()))
            if os.path.exists(self.pidfile) and listening(self.port):
                return
            time.sleep(0.05)
        raise BenchError("%s: proftpd did not listen in %ds" % (self.name,
                                                                timeout))

    def stop(self):
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        try:
            os.kill(p.pid, signal.SIGTERM)
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=15)
        except ProcessLookupError:
            pass

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        if self.proc is None or self.proc.poll() is not None:
            raise BenchError("%s: proftpd is gone\n%s"
                             % (self.name, self.log_tail()))

    def cpu(self):
        """Master + reaped children, seconds."""
        _, own, kids = proc_stat(self.pid)
        return (own + kids) / CLK_TCK

    def children(self):
        return proc_children(self.pid)

    def wait_idle(self, timeout=60):
        """Until every session child has exited and been reaped."""
        deadline = time.time() + timeout
        while self.children():
            if time.time() > deadline:
                raise BenchError("%s: session children %s still there after "
                                 "%ds" % (self.name, self.children(), timeout))
            time.sleep(0.005)

    def log_size(self):
        try:
            return os.path.getsize(self.tls_log)
        except OSError:
            return 0

    def tls_log_since(self, off):
        try:
            with open(self.tls_log, errors="replace") as f:
                f.seek(off)
                return f.read()
        except OSError:
            return ""

    def log_tail(self, n=20):
        out = []
        for path in (self.stderr, self.tls_log):
            try:
                with open(path, errors="replace") as f:
                    out += ["==> %s" % path] + f.read().splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(out)


class ChildWatch:
    """Samples the CPU of the daemon's session children while a transfer
    runs, to check that the master's cutime+cstime does account for them."""

    def __init__(self, daemon, interval=0.1):
        self.d, self.interval = daemon, interval
        self.seen = {}
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self.stop_ev.wait(self.interval):
            for pid in self.d.children():
                try:
                    _, own, kids = proc_stat(pid)
                except (OSError, ValueError):
                    continue
                self.seen[pid] = max(self.seen.get(pid, 0), own + kids)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *a):
        self.stop_ev.set()
        self.t.join()

    def seen_seconds(self):
        return sum(self.seen.values()) / CLK_TCK


# -- clients -----------------------------------------------------------------

def tls_context(version=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """Data connections resume the control connection's TLS session."""
    reused = 0
    data_conns = 0
    data_cipher = None

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
            self.data_conns += 1
            self.reused += bool(conn.session_reused)
            self.data_cipher = (conn.version(), conn.cipher()[0])
        return conn, size


def ftp_open(d, version=None, prot_p=True):
    if d.tls:
        f = ReusingFTP_TLS(context=tls_context(version), timeout=60)
        f.connect("127.0.0.1", d.port)
        f.auth()
        f.login(USER, PASSWORD)
        if prot_p:
            f.prot_p()
    else:
        f = ftplib.FTP(timeout=60)
        f.connect("127.0.0.1", d.port)
        f.login(USER, PASSWORD)
    return f


def curl_argv(d, timeout):
    argv = ["curl", "-sS", "--max-time", str(timeout),
            "--user", "%s:%s" % (USER, PASSWORD)]
    if d.tls:
        argv += ["--ssl-reqd", "-k"]
    return argv


def lftp_script(d, command):
    pre = [
        "set cmd:fail-exit yes",
        "set net:max-retries 1",
        "set net:timeout 60",
        "set xfer:clobber true",
        "set ftp:passive-mode true",
    ]
    if d.tls:
        pre += [
            "set ssl:verify-certificate no",
            "set ftp:ssl-force true",
            "set ftp:ssl-allow true",
            "set ftp:ssl-protect-data true",
            "set ftp:ssl-protect-list true",
        ]
    else:
        pre.append("set ftp:ssl-allow false")
    pre.append("open -u %s,%s -p %d 127.0.0.1" % (USER, PASSWORD, d.port))
    return "\n".join(pre + [command]) + "\n"


# -- the benchmark -----------------------------------------------------------

class Bench:
    def __init__(self, a):
        self.a = a
        self.daemons = {}
        self.samples = {}      # metric -> target -> [values]
        self.extra = {}        # metric -> target -> [dicts]
        self.errors = []
        self.ciphers = {}      # target -> {client: text}
        self.cpu_checks = []   # (target, what, master_delta, children_seen)
        self.verified = set()

    # -- bookkeeping --
    def add(self, metric, target, value, **extra):
        self.samples.setdefault(metric, {}).setdefault(target, []).append(
            value)
        if extra:
            self.extra.setdefault(metric, {}).setdefault(target, []).append(
                extra)

    def cipher(self, target, client, text):
        self.ciphers.setdefault(target, {}).setdefault(client, text)

    # -- setup --
    def setup(self):
        a = self.a
        base = a.workdir or default_workdir(a.size_mib)
        self.work = tempfile.mkdtemp(prefix="ftpsbench-", dir=base)
        os.chmod(self.work, 0o755)
        log("work dir: %s" % self.work)
        certs = make_certs(os.path.join(self.work, "certs"))
        self.home = os.path.join(self.work, "home")
        os.makedirs(os.path.join(self.home, "small"), 0o755)
        passwd = os.path.join(self.work, "passwd")
        with open(passwd, "w") as f:
            f.write("%s:%s:%d:%d::%s:/bin/false\n"
                    % (USER, password_hash(PASSWORD), UID, GID, self.home))
        os.chmod(passwd, 0o600)
        self.client = os.path.join(self.work, "client")
        os.makedirs(self.client, 0o755)

        self.size = a.size_mib << 20
        log("writing a %d MiB random file" % a.size_mib)
        self.big = os.path.join(self.home, "big.bin")
        write_random(self.big, self.size)
        os.chmod(self.big, 0o644)
        self.big_sha = sha256_file(self.big)
        self.small = {}
        for i in range(a.files):
            name = "f%04d" % i
            data = os.urandom(SMALL_SIZE)
            with open(os.path.join(self.home, "small", name), "wb") as f:
                f.write(data)
            self.small[name] = data
        for root, dirs, files in os.walk(self.home):
            for n in dirs + files:
                os.chown(os.path.join(root, n), UID, GID)
        os.chown(self.home, UID, GID)

        modules = {"plain": None, "mod_tls": a.mod_tls, "mod_ftps": a.module}
        for t in TARGETS:
            self.daemons[t] = Daemon(t, modules[t], self.work, self.home,
                                     passwd, certs, a.proftpd)
        for t in TARGETS:
            self.daemons[t].start()
            log("%-8s proftpd pid %d on 127.0.0.1:%d"
                % (t, self.daemons[t].pid, self.daemons[t].port))

    def cleanup(self):
        for d in self.daemons.values():
            try:
                d.stop()
            except Exception as e:
                log("stopping %s: %s" % (d.name, e))
        if getattr(self, "work", None):
            if self.a.keep:
                log("kept %s" % self.work)
            else:
                shutil.rmtree(self.work, ignore_errors=True)

    # -- measurements --
    def measured(self, d, fn):
        """Run fn() between two readings of the master's CPU, each taken
        with no session child left.  Returns (fn(), wall, cpu, watch)."""
        d.alive()
        d.wait_idle()
        time.sleep(self.a.settle)   # past the master's EINTR sleeps
        c0 = d.cpu()
        with ChildWatch(d) as w:
            t0 = time.perf_counter()
            r = fn()
            wall = time.perf_counter() - t0
            d.wait_idle()
        c1 = d.cpu()
        return r, wall, c1 - c0, w

    def client_run(self, argv, what, input=None, env=None):
        try:
            p = subprocess.run(argv, input=input, capture_output=True,
                               text=True, timeout=self.a.client_timeout,
                               env=env)
        except subprocess.TimeoutExpired:
            raise BenchError("%s: timeout after %ss" % (what,
                                                        self.a.client_timeout))
        if p.returncode != 0:
            raise BenchError("%s: rc=%d\n%s" % (what, p.returncode,
                                                (p.stderr or "")[-2000:]))
        return p

    def transfer(self, d, client, op, out="/dev/null", verbose=False):
        """One curl/lftp RETR or STOR; returns the CompletedProcess."""
        t = self.a.client_timeout - 10
        remote = "up-%s-%s.bin" % (d.name, client)
        what = "%s %s %s" % (d.name, client, op)
        if client == "curl":
            argv = curl_argv(d, t) + (["-v"] if verbose else [])
            if op == "RETR":
                argv += ["-o", out, "ftp://127.0.0.1:%d/big.bin" % d.port]
            else:
                argv += ["-T", self.big,
                         "ftp://127.0.0.1:%d/%s" % (d.port, remote)]
            return self.client_run(argv, what)
        env = dict(os.environ, HOME=self.client)
        if op == "RETR":
            cmd = "get big.bin -o %s" % out
        else:
            cmd = "put %s -o %s" % (self.big, remote)
        return self.client_run(["lftp", "-f", "/dev/stdin"], what,
                               input=lftp_script(d, cmd), env=env)

    def verify_download(self, t, client):
        d = self.daemons[t]
        out = os.path.join(self.client, "dl-%s-%s.bin" % (t, client))
        off = d.log_size()
        p, wall, cpu, w = self.measured(
            d, lambda: self.transfer(d, client, "RETR", out, verbose=True))
        try:
            got = sha256_file(out)
        finally:
            os.unlink(out)
        if got != self.big_sha:
            raise BenchError("%s %s RETR: sha256 %s, expected %s"
                             % (t, client, got, self.big_sha))
        self.verified.add((t, client, "RETR"))
        if client == "curl":
            for line in p.stderr.splitlines():
                if "SSL connection using" in line:
                    self.cipher(t, "curl", line.split("using", 1)[1].strip())
                    break
        elif d.tls:
            lines = cipher_lines(d.tls_log_since(off))
            if lines:
                self.cipher(t, "lftp (server's TLSLog: ctrl / data)", lines)
        log("  verified %s %s RETR (sha256 ok, %.0f MB/s)"
            % (t, client, self.size / 1e6 / wall))

    def bulk(self, t, client, op):
        d = self.daemons[t]
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p, wall, cpu, w = self.measured(
            d, lambda: self.transfer(d, client, op))
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        ccpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
        if op == "STOR":
            up = os.path.join(self.home, "up-%s-%s.bin" % (t, client))
            if (t, client, "STOR") not in self.verified:
                got = sha256_file(up)
                if got != self.big_sha:
                    raise BenchError("%s %s STOR: server file sha256 %s, "
                                     "expected %s" % (t, client, got,
                                                      self.big_sha))
                self.verified.add((t, client, "STOR"))
            try:
                os.unlink(up)
            except FileNotFoundError:
                raise BenchError("%s %s STOR: no file on the server" % (t,
                                                                       client))
        mbs = self.size / 1e6 / wall
        cpu_gb = cpu / (self.size / 1e9)
        self.add("%s MB/s, %s" % (op, client), t, mbs, wall=wall,
                 client_cpu_s_per_gb=ccpu / (self.size / 1e9))
        self.add("server CPU s/GB, %s %s" % (op, client), t, cpu_gb, cpu=cpu)
        # The client's own CPU bounds the rate: with one core each, a
        # download cannot go faster than 1 GB per client CPU s/GB.
        self.add("client CPU s/GB, %s %s" % (op, client), t,
                 ccpu / (self.size / 1e9))
        self.cpu_checks.append((t, "%s %s" % (op, client), cpu,
                                w.seen_seconds()))
        log("  %-8s %-4s %s %7.0f MB/s  server CPU %.2f s/GB, client %.2f"
            % (t, client, op, mbs, cpu_gb, ccpu / (self.size / 1e9)))

    def sessions(self, t):
        d = self.daemons[t]
        n = self.a.sessions
        walls, banners = [], []
        ctx = tls_context() if d.tls else None

        def one():
            t0 = time.perf_counter()
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            f = s.makefile("rb")
            try:
                expect(f, 220, "banner")
                t1 = time.perf_counter()
                banners.append(t1 - t0)
                if d.tls:
                    s.sendall(b"AUTH TLS\r\n")
                    expect(f, 234, "AUTH TLS")
                    f.close()
                    s = ctx.wrap_socket(s, server_hostname="localhost")
                    f = s.makefile("rb")
                s.sendall(b"USER %s\r\n" % USER.encode())
                expect(f, 331, "USER")
                s.sendall(b"PASS %s\r\n" % PASSWORD.encode())
                expect(f, 230, "PASS")
                walls.append(time.perf_counter() - t1)
                kids = d.children()
                s.sendall(b"QUIT\r\n")
                expect(f, 221, "QUIT")
            finally:
                f.close()
                s.close()
            return kids

        def loop():
            for i in range(n):
                kids = one()
                deadline = time.time() + 30
                while any(k in d.children() for k in kids):
                    if time.time() > deadline:
                        raise BenchError("%s: session child %s did not exit"
                                         % (t, kids))
                    time.sleep(0.002)
                time.sleep(self.a.settle)   # past the master's EINTR sleeps

        _, wall, cpu, w = self.measured(d, loop)
        ms = cpu * 1000 / n
        self.add("server CPU ms/session", t, ms, cpu=cpu, n=n)
        self.add("login ms (banner to 230, wall)", t,
                 statistics.median(walls) * 1000,
                 banner_ms_median=statistics.median(banners) * 1000,
                 banner_ms_max=max(banners) * 1000)
        log("  %-8s sessions: %.2f ms CPU/session, login %.1f ms, banner "
            "%.1f ms (max %.1f)" % (t, ms, statistics.median(walls) * 1000,
                                   statistics.median(banners) * 1000,
                                   max(banners) * 1000))

    def memory(self, t):
        d = self.daemons[t]
        d.alive()
        d.wait_idle()
        conns = []
        try:
            for i in range(self.a.idle):
                f = ftp_open(d)
                f.pwd()
                names = f.nlst()
                if "big.bin" not in names:
                    raise BenchError("%s: NLST lacks big.bin: %r" % (t, names))
                conns.append(f)
            time.sleep(0.5)
            kids = d.children()
            if len(kids) != self.a.idle:
                raise BenchError("%s: %d session children for %d sessions"
                                 % (t, len(kids), self.a.idle))
            roll = [smaps_rollup(k) for k in kids]
        finally:
            for f in conns:
                try:
                    f.quit()
                except Exception:
                    f.close()
        uss = [r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
               for r in roll]
        master = smaps_rollup(d.pid)
        self.add("USS kB per idle session", t, statistics.mean(uss),
                 rss=statistics.mean(r["Rss"] for r in roll),
                 pss=statistics.mean(r["Pss"] for r in roll),
                 master_rss=master["Rss"],
                 master_uss=master.get("Private_Clean", 0)
                 + master.get("Private_Dirty", 0))
        log("  %-8s idle session USS %.0f kB (RSS %.0f kB)"
            % (t, statistics.mean(uss),
               statistics.mean(r["Rss"] for r in roll)))

    def small_files(self, t, version):
        d = self.daemons[t]
        d.alive()
        d.wait_idle()
        f = ftp_open(d, version=version)
        try:
            f.cwd("small")
            names = sorted(self.small)
            t0 = time.perf_counter()
            for name in names:
                buf = []
                f.retrbinary("RETR " + name, buf.append)
                if b"".join(buf) != self.small[name]:
                    raise BenchError("%s small %s: content differs" % (t, name))
            wall = time.perf_counter() - t0
            if d.tls:
                self.cipher(t, "python TLS %s (ctrl / data)" % version,
                            "%s %s / %s %s"
                            % (f.sock.version(), f.sock.cipher()[0],
                               *f.data_cipher))
                if f.reused != len(names):
                    raise BenchError("%s TLS %s: %d of %d data connections "
                                     "resumed" % (t, version, f.reused,
                                                  len(names)))
        finally:
            try:
                f.quit()
            except Exception:
                f.close()
        rate = len(names) / wall
        self.add("small files/s, TLS %s" % version, t, rate)
        log("  %-8s small files TLS %s: %.0f files/s" % (t, version, rate))

    # -- the plan --
    def jobs(self):
        """(label, fn(target)) in the order they run within a repeat."""
        only = self.a.only
        out = []
        if "bulk" in only:
            for c in self.a.clients:
                for op in ("RETR", "STOR"):
                    out.append(("%s %s" % (op, c),
                                lambda t, c=c, op=op: self.bulk(t, c, op)))
        if "sessions" in only:
            out.append(("sessions", self.sessions))
        if "memory" in only:
            out.append(("memory", self.memory))
        if "small" in only:
            for v in ("1.2", "1.3"):
                out.append(("small %s" % v,
                            lambda t, v=v: self.small_files(t, v)))
        return out

    def run(self):
        if "bulk" in self.a.only:
            log("checking downloads (sha256, not timed)")
            for c in self.a.clients:
                for t in TARGETS:
                    self.guard("verify %s %s" % (t, c),
                               lambda: self.verify_download(t, c))
        for rep in range(self.a.repeat):
            order = TARGETS[rep % 3:] + TARGETS[:rep % 3]
            log("repeat %d/%d (order %s)" % (rep + 1, self.a.repeat,
                                             ", ".join(order)))
            for label, fn in self.jobs():
                for t in order:
                    self.guard("%s %s" % (label, t), lambda: fn(t))

    def guard(self, what, fn):
        try:
            fn()
        except (BenchError, OSError, EOFError, ftplib.Error,
                ssl.SSLError) as e:
            msg = "%s: %s: %s" % (what, type(e).__name__, e)
            self.errors.append(msg)
            log("  ERROR " + msg)


def cipher_lines(text):
    """The first control and first data connection lines of a TLSLog that
    name the protocol and cipher (mod_tls: "... connection accepted, using
    cipher ..."; mod_ftps: "... connection protected: ...")."""
    ctrl = data = None
    for line in text.splitlines():
        if not ("using cipher" in line or "connection protected:" in line):
            continue
        msg = line.split("]: ", 1)[-1].strip()[:100]
        if "data connection" in msg:
            data = data or msg
        else:
            ctrl = ctrl or msg
    return " / ".join(x for x in (ctrl, data) if x) or None


def expect(f, code, what):
    """Read one (maybe multi-line) reply from file f; check its code."""
    line = f.readline()
    if not line:
        raise BenchError("%s: connection closed" % what)
    first = line
    if len(line) > 3 and line[3:4] == b"-":
        end = line[:3] + b" "
        while not line.startswith(end):
            line = f.readline()
            if not line:
                raise BenchError("%s: connection closed" % what)
    if not first.startswith(b"%d" % code):
        raise BenchError("%s: expected %d, got %r" % (what, code, first))


def default_workdir(size_mib):
    """A tmpfs keeps page-cache writeback out of the upload figures."""
    need = (3 * size_mib + 256) << 20
    try:
        with open("/proc/mounts") as f:
            shm = any(l.split()[1] == "/dev/shm" and l.split()[2] == "tmpfs"
                      for l in f)
        st = os.statvfs("/dev/shm")
        if shm and st.f_bavail * st.f_frsize > need:
            return "/dev/shm"
    except OSError:
        pass
    return tempfile.gettempdir()


def fs_type(path):
    best, typ = "", "?"
    with open("/proc/mounts") as f:
        for l in f:
            p = l.split()
            if (path == p[1] or path.startswith(p[1].rstrip("/") + "/")) \
                    and len(p[1]) > len(best):
                best, typ = p[1], p[2]
    return "%s (%s)" % (best, typ)


# -- machine info ------------------------------------------------------------

def first_line(argv):
    try:
        r = run(argv, timeout=30)
        return ((r.stdout or r.stderr).strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info(a, work):
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    flags = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                fl = line.split(":", 1)[1].split()
                flags = " ".join(x for x in ("aes", "vaes", "avx2", "avx512f")
                                 if x in fl)
                break
    try:
        rev = run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                  timeout=30).stdout.strip()
    except OSError:
        rev = "?"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": "%s (%s)" % (model, flags),
        "cores": "%d online, %d usable" % (os.cpu_count(),
                                           len(os.sched_getaffinity(0))),
        "kernel": platform.release(),
        "openssl": first_line(["openssl", "version"]),
        "python ssl": ssl.OPENSSL_VERSION,
        "proftpd": first_line([a.proftpd, "-v"]),
        "curl": first_line(["curl", "--version"]),
        "lftp": first_line(["lftp", "--version"]),
        "mod_tls": a.mod_tls,
        "mod_ftps": "%s (git %s)" % (a.module, rev or "?"),
        "work dir": "%s on %s" % (work, fs_type(work)),
        "load average": " ".join(open("/proc/loadavg").read().split()[:3]),
    }


# -- report ------------------------------------------------------------------

# metric prefix -> (higher is better, target ratio, unit format)
GOALS = [
    ("RETR MB/s", True, 2.0, "%.0f"),
    ("STOR MB/s", True, 1.5, "%.0f"),
    ("server CPU s/GB", False, 0.35, "%.2f"),
    ("client CPU s/GB", None, None, "%.2f"),
    ("server CPU ms/session", False, 0.6, "%.2f"),
    ("USS kB per idle session", False, 0.8, "%.0f"),
    ("small files/s", True, 1.3, "%.0f"),
    ("login ms", None, None, "%.1f"),
]


def goal(metric):
    for prefix, higher, target, fmt in GOALS:
        if metric.startswith(prefix):
            return higher, target, fmt
    return None, None, "%.2f"


def metric_order(metrics):
    def key(m):
        for i, g in enumerate(GOALS):
            if m.startswith(g[0]):
                return (i, m)
        return (len(GOALS), m)
    return sorted(metrics, key=key)


def cell(vals, fmt):
    if not vals:
        return "—", None
    med = statistics.median(vals)
    if len(vals) > 1:
        return ("%s (%s–%s)" % (fmt % med, fmt % min(vals), fmt % max(vals)),
                med)
    return fmt % med, med


def table(samples):
    rows = ["| metric | plain | mod_tls | mod_ftps | mod_ftps/mod_tls | "
            "target | met |", "|---|---|---|---|---|---|---|"]
    summary = {}
    for m in metric_order(samples):
        higher, target, fmt = goal(m)
        cells, meds = [], {}
        for t in TARGETS:
            c, med = cell(samples[m].get(t, []), fmt)
            cells.append(c)
            meds[t] = med
        ratio = None
        if meds["mod_tls"] and meds["mod_ftps"] is not None:
            ratio = meds["mod_ftps"] / meds["mod_tls"]
        if target is None:
            tgt, met = "—", "—"
        else:
            tgt = ("≥ %.2fx" if higher else "≤ %.2fx") % target
            if ratio is None:
                met = "n/a"
            else:
                met = "yes" if (ratio >= target if higher
                                else ratio <= target) else "no"
        rows.append("| %s | %s | %s | %s | %s | %s | %s |"
                    % (m, cells[0], cells[1], cells[2],
                       "%.2fx" % ratio if ratio is not None else "—", tgt,
                       met))
        summary[m] = {"median": meds, "ratio": ratio, "target": target,
                      "higher_is_better": higher, "met": met}
    return "\n".join(rows), summary


def report(bench, info, a, started):
    tab, summary = table(bench.samples)
    lines = ["# mod_ftps benchmark%s" % (" (quick)" if a.quick else ""), ""]
    lines += ["Command: `%s`" % " ".join(["bench.py"] + sys.argv[1:]), ""]
    lines += ["%s; median (min–max) of %d repeat%s, round-robin; %d MiB "
              "files; %d sessions; %d idle sessions; %d small files; %.0f "
              "min." % (info["date"], a.repeat, "s" if a.repeat > 1 else "",
                        a.size_mib, a.sessions, a.idle, a.files,
                        (time.time() - started) / 60), ""]
    lines += [tab, ""]
    lines += ["Machine:", ""]
    lines += ["* %s: %s" % (k, v) for k, v in info.items()]
    lines += ["", "Negotiated:", ""]
    for t in TARGETS[1:]:
        for c, txt in sorted(bench.ciphers.get(t, {}).items()):
            lines.append("* %s, %s: %s" % (t, c, txt))
    ok = [c for c in bench.cpu_checks if c[2] + 2.0 / CLK_TCK >= c[3]]
    lines += ["", "Server CPU accounting check: in %d of %d transfers the "
              "master's CPU delta (own + reaped children) was at least the "
              "CPU its session child had used when last sampled during the "
              "transfer." % (len(ok), len(bench.cpu_checks))]
    if bench.errors:
        lines += ["", "Errors:", ""] + ["* " + e for e in bench.errors]
    return "\n".join(lines) + "\n", summary


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="64 MiB files, 1 repeat, 20 sessions")
    ap.add_argument("--module", default=os.path.join(REPO, "mod_ftps.so"))
    ap.add_argument("--mod-tls", default="/usr/lib/proftpd/mod_tls.so")
    ap.add_argument("--proftpd", default=os.environ.get("PROFTPD",
                                                        "/usr/sbin/proftpd"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--size-mib", type=int, default=None)
    ap.add_argument("--sessions", type=int, default=None)
    ap.add_argument("--idle", type=int, default=20)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--only", default="bulk,sessions,memory,small")
    ap.add_argument("--clients", default="curl,lftp")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--client-timeout", type=int, default=300)
    ap.add_argument("--settle", type=float, default=0.45,
                    help="seconds to wait after the last session child was "
                    "reaped before timing anything (the master sleeps "
                    "2 x 200 ms after SIGCHLD)")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    q = a.quick
    a.repeat = a.repeat or (1 if q else 5)
    a.size_mib = a.size_mib or (64 if q else 1024)
    a.sessions = a.sessions or (20 if q else 60)
    a.only = set(a.only.split(","))
    a.clients = [c for c in a.clients.split(",") if c]
    bad = a.only - {"bulk", "sessions", "memory", "small"}
    if bad:
        ap.error("unknown --only: %s" % ", ".join(sorted(bad)))
    if a.out is None:
        a.out = os.path.join(HERE, "results-quick.md" if q
                             else "results-latest.md")
    a.module = os.path.abspath(a.module)
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    if os.geteuid() != 0:
        log("bench.py must run as root (proftpd switches to nobody)")
        return 1
    for f, what in ((a.module, "mod_ftps (make, or --module)"),
                    (a.mod_tls, "mod_tls (proftpd-mod-crypto)"),
                    (a.proftpd, "proftpd")):
        if not os.path.exists(f):
            log("missing %s: %s" % (what, f))
            return 1
    for c in a.clients:
        if shutil.which(c) is None:
            log("missing client: %s" % c)
            return 1

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)

    started = time.time()
    bench = Bench(a)
    rc = 0
    try:
        bench.setup()
        info = machine_info(a, bench.work)
        for k, v in info.items():
            log("%-13s %s" % (k + ":", v))
        bench.run()
        info["load average"] += " (start); %s (end)" % " ".join(
            open("/proc/loadavg").read().split()[:3])
    except KeyboardInterrupt:
        log("interrupted")
        bench.cleanup()
        return 1
    except Exception:
        traceback.print_exc()
        bench.cleanup()
        return 1
    bench.cleanup()

    text, summary = report(bench, info, a, started)
    log("")
    log(text)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    raw = os.path.splitext(a.out)[0] + ".json"
    with open(raw, "w") as f:
        json.dump({"info": info, "args": {k: (sorted(v) if isinstance(v, set)
                                              else v)
                                          for k, v in vars(a).items()},
                   "samples": bench.samples, "extra": bench.extra,
                   "summary": summary, "ciphers": bench.ciphers,
                   "cpu_checks": bench.cpu_checks, "errors": bench.errors},
                  f, indent=1, sort_keys=True)
    log("wrote %s and %s" % (a.out, raw))
    if bench.errors:
        rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
