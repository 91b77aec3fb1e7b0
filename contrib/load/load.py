#!/usr/bin/python3
"""load.py - a bounded FTPS load test on loopback (issue 13).

Usage:
    make load                    # 200 sessions x 3 rounds x 1 MiB, mod_ftps
    make load LOAD_ARGS="--against mod_tls"
    python3 contrib/load/load.py [--module PATH | --against mod_tls]
        [--sessions N] [--rounds N] [--size BYTES] [--deadline SECONDS]
        [--json FILE] [--keep]

Starts /usr/sbin/proftpd -n (tests/integration/ftpsd.py: 127.0.0.1, a free
port, a private dir under $FTPS_TEST_TMP or tests/tmp) with the module under
test and an RSA certificate signed by the test CA, sized for the load:
MaxInstances, ListenBacklog and a PassivePorts range a few times wider than
the number of sessions.  Then:

  1. N sessions connect at once (threads), AUTH TLS, log in, PBSZ 0, PROT P;
     even-numbered sessions pin TLS 1.3, odd ones TLS 1.2.  The driver waits
     until every session is logged in (or failed).
  2. Every session does --rounds rounds of: STOR of fresh random bytes,
     the stored file's sha256 checked on the server's disk, RETR of the
     same file checked by sha256 on the client.  Each data connection
     resumes the control connection's TLS session (as clients.py's
     ReusingFTP_TLS does); the driver counts how many were resumed.
  3. Once every session has finished its rounds (all still connected),
     DELE and QUIT.

It reports sessions completed, bytes verified, errors (with the first few
messages), throughput over phase 2 (verified bytes / wall time; client,
server and sha256 share the machine's cores, so this is a load figure, not
a transfer benchmark), the server's CPU time (the master and its reaped
sessions, /proc/PID/stat), the master's VmRSS and Pss (/proc) before any
session and after the last one, one session process's (and the mean
session's) VmRSS and Pss after login and after its rounds, and the
master's open descriptors before and after.  Every wait is bounded by
--deadline: when it passes, the daemon is stopped, which ends every
session, and the run counts as failed.

Exit status 0 when every session completed, every byte was verified, there
was no error and the master's descriptors are back to their count before
the run; 1 otherwise.  Python 3 standard library only; run as root.
"""

import argparse
import ftplib
import hashlib
import io
import json
import os
import ssl
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import ftpsd  # noqa: E402

MOD_TLS = "/usr/lib/proftpd/mod_tls.so"
SOCKET_TIMEOUT = 60
SHOWN_ERRORS = 10


# -- /proc ----------------------------------------------------------------

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def memory(pid):
    """(VmRSS kB, Pss kB) of pid, or (None, None) once it is gone."""
    try:
        rss = pss = None
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
        return rss, pss
    except OSError:
        return None, None


def cpu_seconds(pid):
    """utime+stime+cutime+cstime of pid: the master and its reaped
    session children."""
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    ticks = sum(int(x) for x in s[s.rindex(")") + 2:].split()[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return sorted(int(x) for x in f.read().split())
    except OSError:
        return []


# -- the server -------------------------------------------------------------

def size_server(srv, sessions):
    """Limits for N concurrent sessions (call before srv.start()): the test
    configuration's MaxInstances 50 and 64 passive ports are too few, and
    past ProFTPD's default listen backlog (128) the burst of connects would
    turn into SYN retransmits."""
    srv.replace_conf("MaxInstances", "MaxInstances %d" % (sessions + 10))
    lo, hi = ftpsd.passive_range(max(512, 4 * sessions))
    srv.replace_conf("PassivePorts", "PassivePorts %d %d" % (lo, hi))
    srv.replace_conf("TCPBackLog",
                     "TCPBackLog %d" % max(128, sessions + 16))


def rsa_tls():
    """The same RSA 2048 certificate (signed by the test CA) for mod_ftps
    and mod_tls, so that the two do the same public-key work."""
    return {"TLSRSACertificateFile": ftpsd.cert("rsa.crt"),
            "TLSRSACertificateKeyFile": ftpsd.cert("rsa.key")}


# -- the sessions -----------------------------------------------------------

def tls_context(version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    v = ssl.TLSVersion.TLSv1_3 if version == "1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = v
    return ctx


class CountingFTP_TLS(ftplib.FTP_TLS):
    """Data connections resume the control connection's TLS session, and
    are counted."""
    data_conns = 0
    resumed = 0

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
            self.data_conns += 1
            self.resumed += bool(conn.session_reused)
        return conn, size


class Phase:
    """Counts sessions through one phase; the driver waits for all."""

    def __init__(self, n):
        self.n, self.count = n, 0
        self.cond = threading.Condition()
        self.go = threading.Event()

    def arrive(self):
        with self.cond:
            self.count += 1
            self.cond.notify_all()

    def wait_all(self, deadline):
        with self.cond:
            while self.count < self.n:
                left = deadline - time.time()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
        return True

    def wait_go(self, deadline):
        return self.go.wait(max(0.0, deadline - time.time()))


class Session(threading.Thread):
    def __init__(self, run, index):
        super().__init__(daemon=True, name="session-%d" % index)
        self.r, self.index = run, index
        self.version = "1.3" if index % 2 == 0 else "1.2"
        self.name_on_server = "load-%03d.bin" % index
        self.ftp = None
        self.verified = self.rounds_done = 0
        self.completed = False

    def run(self):
        r = self.r
        step, phases = "login", [r.logged_in, r.rounds_done]
        try:
            self.login()
            phases.pop(0).arrive()
            step = "waiting for the start"
            if not r.logged_in.wait_go(r.deadline):
                raise TimeoutError("deadline")
            for k in range(r.rounds):
                step = "round %d" % (k + 1)
                if time.time() > r.deadline:
                    raise TimeoutError("deadline")
                self.one_round()
            phases.pop(0).arrive()
            step = "waiting for the end"
            if not r.rounds_done.wait_go(r.deadline):
                raise TimeoutError("deadline")
            step = "DELE/QUIT"
            self.ftp.delete(self.name_on_server)
            self.ftp.quit()
            self.completed = True
        except Exception as e:
            r.error(self, step, e)
            for p in phases:      # the driver must not wait for this one
                p.arrive()
            if self.ftp is not None:
                self.ftp.close()
        finally:
            r.finished.arrive()

    def login(self):
        r = self.r
        self.ftp = CountingFTP_TLS(context=tls_context(self.version),
                                   timeout=SOCKET_TIMEOUT)
        self.ftp.connect(r.srv.host, r.srv.port)
        self.ftp.auth()
        self.ftp.login(r.srv.user, r.srv.password)
        self.ftp.prot_p()

    def one_round(self):
        r, name = self.r, self.name_on_server
        data = os.urandom(r.size)
        want = hashlib.sha256(data).hexdigest()
        self.ftp.storbinary("STOR " + name, io.BytesIO(data), 65536)
        on_disk = ftpsd.sha256_file(os.path.join(r.srv.home, name))
        if on_disk != want:
            raise AssertionError("STOR %s: sha256 on the server differs"
                                 % name)
        self.verified += len(data)
        h, got = hashlib.sha256(), [0]

        def take(chunk):
            h.update(chunk)
            got[0] += len(chunk)
        self.ftp.retrbinary("RETR " + name, take, 65536)
        if h.hexdigest() != want or got[0] != len(data):
            raise AssertionError("RETR %s: %d bytes, sha256 differs"
                                 % (name, got[0]))
        self.verified += got[0]
        self.rounds_done += 1


# -- the run -----------------------------------------------------------------

class Run:
    def __init__(self, srv, sessions, rounds, size, deadline):
        self.srv, self.rounds, self.size = srv, rounds, size
        self.n = sessions
        self.deadline = time.time() + deadline
        self.logged_in = Phase(sessions)
        self.rounds_done = Phase(sessions)
        self.finished = Phase(sessions)
        self.errors = []
        self.lock = threading.Lock()

    def error(self, session, step, exc):
        with self.lock:
            self.errors.append("session %d (TLS %s) %s: %s: %s"
                               % (session.index, session.version, step,
                                  type(exc).__name__, exc))

    def session_memory(self, pid):
        """(one session's (VmRSS, Pss), mean Pss of all sessions) in kB."""
        kids = children(pid)
        if not kids:
            return (None, None), None
        one = memory(kids[0])
        pss = [p for p in (memory(k)[1] for k in kids) if p is not None]
        return one, (sum(pss) // len(pss) if pss else None)

    def wait_reaped(self, pid):
        while children(pid) and time.time() < self.deadline:
            time.sleep(0.05)
        # The master handles SIGCHLD after its EINTR sleep (200 ms).
        time.sleep(0.5)
        return not children(pid)

    def drive(self):
        """Runs the three phases; returns the report (a dict)."""
        pid = self.srv.proc.pid
        rep = {"sessions": self.n, "rounds": self.rounds, "size": self.size,
               "tls13_sessions": (self.n + 1) // 2,
               "tls12_sessions": self.n // 2}
        rep["master_fds_before"] = fd_count(pid)
        rep["master_before"] = memory(pid)
        cpu0 = cpu_seconds(pid)
        sessions = [Session(self, i) for i in range(self.n)]
        t0 = time.time()
        for s in sessions:
            s.start()
        ok = self.logged_in.wait_all(self.deadline)
        rep["login_seconds"] = time.time() - t0
        rep["session_after_login"], rep["mean_pss_after_login"] = \
            self.session_memory(pid)
        t1 = time.time()
        self.logged_in.go.set()
        ok = ok and self.rounds_done.wait_all(self.deadline)
        rep["transfer_seconds"] = time.time() - t1
        rep["session_after_rounds"], rep["mean_pss_after_rounds"] = \
            self.session_memory(pid)
        self.rounds_done.go.set()
        ok = ok and self.finished.wait_all(self.deadline)
        ok = ok and self.wait_reaped(pid)
        if not ok:
            self.errors.insert(0, "deadline reached: %d of %d sessions logged "
                               "in, %d done with their rounds, %d finished"
                               % (self.logged_in.count, self.n,
                                  self.rounds_done.count,
                                  self.finished.count))
        rep["master_fds_after"] = fd_count(pid)
        rep["master_after"] = memory(pid)
        rep["server_cpu_seconds"] = cpu_seconds(pid) - cpu0
        rep["completed"] = sum(s.completed for s in sessions)
        rep["bytes_verified"] = sum(s.verified for s in sessions)
        rep["bytes_expected"] = 2 * self.n * self.rounds * self.size
        rep["data_connections"] = sum(s.ftp.data_conns for s in sessions
                                      if s.ftp is not None)
        rep["data_resumed"] = sum(s.ftp.resumed for s in sessions
                                  if s.ftp is not None)
        rep["errors"] = list(self.errors)
        secs = rep["transfer_seconds"]
        rep["mb_per_s"] = rep["bytes_verified"] / secs / 1e6 if secs else 0
        rep["passed"] = passed(rep)
        return rep


def passed(rep):
    return (not rep["errors"] and rep["completed"] == rep["sessions"]
            and rep["bytes_verified"] == rep["bytes_expected"]
            and rep["master_fds_after"] == rep["master_fds_before"])


def run_load(srv, sessions, rounds, size, deadline):
    """Drives the load against srv (an ftpsd.Server already started with
    size_server()); returns the report."""
    return Run(srv, sessions, rounds, size, deadline).drive()


def kb(pair):
    return "%s / %s" % tuple("-" if v is None else v for v in pair)


def report_text(rep, label):
    n = rep["sessions"]
    lines = [
        "load: %s, %d sessions (TLS 1.3: %d, TLS 1.2: %d) x %d rounds x "
        "%d bytes up and down" % (label, n, rep["tls13_sessions"],
                                  rep["tls12_sessions"], rep["rounds"],
                                  rep["size"]),
        "sessions completed        %d/%d" % (rep["completed"], n),
        "errors                    %d" % len(rep["errors"]),
        "bytes verified (sha256)   %d of %d" % (rep["bytes_verified"],
                                                rep["bytes_expected"]),
        "data connections resumed  %d of %d" % (rep["data_resumed"],
                                                rep["data_connections"]),
        "all logged in after       %.1f s" % rep["login_seconds"],
        "transfer phase            %.1f s, %.1f MB/s verified"
        % (rep["transfer_seconds"], rep["mb_per_s"]),
        "server CPU (all sessions)  %.1f s" % rep["server_cpu_seconds"],
        "master VmRSS / Pss kB     before %s, after %s"
        % (kb(rep["master_before"]), kb(rep["master_after"])),
        "session VmRSS / Pss kB    after login %s, after rounds %s"
        % (kb(rep["session_after_login"]), kb(rep["session_after_rounds"])),
        "mean session Pss kB       after login %s, after rounds %s"
        % (rep["mean_pss_after_login"], rep["mean_pss_after_rounds"]),
        "master open descriptors   before %d, after %d"
        % (rep["master_fds_before"], rep["master_fds_after"]),
    ]
    for e in rep["errors"][:SHOWN_ERRORS]:
        lines.append("error: " + e)
    if len(rep["errors"]) > SHOWN_ERRORS:
        lines.append("error: ... %d more" % (len(rep["errors"]) - SHOWN_ERRORS))
    lines.append("result: %s" % ("PASS" if rep["passed"] else "FAIL"))
    return "\n".join(lines)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", help="the module .so (default ./mod_ftps.so)")
    ap.add_argument("--against", choices=["mod_tls"],
                    help="Debian's %s instead of --module" % MOD_TLS)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", type=int, default=1 << 20,
                    help="bytes per file (default 1 MiB)")
    ap.add_argument("--deadline", type=float, default=900,
                    help="seconds for the whole run (default 900)")
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument("--keep", action="store_true",
                    help="keep the daemon's dir (logs, configuration)")
    a = ap.parse_args(argv)
    if a.sessions < 1 or a.rounds < 1 or a.size < 0:
        ap.error("--sessions and --rounds must be >= 1, --size >= 0")
    return a


def main(argv=None):
    a = parse_args(argv)
    if os.geteuid() != 0:
        print("load.py: run as root (proftpd binds, chroots and switches "
              "to nobody)", file=sys.stderr)
        return 1
    module = MOD_TLS if a.against else (a.module or ftpsd.default_module())
    srv = ftpsd.Server(module, tls=rsa_tls(), keep=a.keep, name="load")
    try:
        size_server(srv, a.sessions)
        srv.start()
        rep = run_load(srv, a.sessions, a.rounds, a.size, a.deadline)
    finally:
        srv.cleanup()
    rep["module"] = module
    print(report_text(rep, os.path.basename(module)))
    if not rep["passed"]:
        print("server dir: %s%s" % (srv.dir, "" if a.keep else
                                    " (removed; --keep keeps it)"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rep, f, indent=1)
    return 0 if rep["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
