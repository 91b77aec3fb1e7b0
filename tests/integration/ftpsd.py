"""ftpsd.py - run a real /usr/sbin/proftpd with an FTPS module, for tests.

Python 3 standard library only.  Each Server gets its own temp dir T (0755)
under $FTPS_TEST_TMP (default tests/tmp/), holding:

    T/modules/<mod>.so   a copy of the module (ModulePath must not be
                         world-writable)
    T/proftpd.conf       standalone, 127.0.0.1 only, a free port
    T/passwd             AuthUserFile with ftpuser/ftppass (uid/gid 65534)
    T/home/              the user's home (DefaultRoot ~), owned by 65534
    T/stderr.log         proftpd -n logs everything to stderr
    T/tls.log            TLSLog

Usage:
    with Server(module, tls={"TLSRequired": "off"},
                extra=["TLSOptions NoSessionReuseRequired"]) as srv:
        ... connect to srv.host, srv.port as srv.user/srv.password ...

tls= overrides the default TLS directives (a value of None drops one);
extra= lines are appended after them.  modules= lists more module files
(e.g. /usr/lib/proftpd/mod_tls.so) copied into T/modules and loaded before
the module under test; modules_after= the same, loaded after it (e.g.
mod_ifsession.so, which wants to be loaded last).  add_user() adds another
user (same uid/gid, its own home) to the AuthUserFile.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import random

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PROFTPD = os.environ.get("PROFTPD", "/usr/sbin/proftpd")


def daemon_env():
    """The environment of the daemons: FTPS_DAEMON_PRELOAD (tests/asan.sh
    sets it to the ASan runtime) becomes LD_PRELOAD for proftpd only, not
    for the clients."""
    env = dict(os.environ)
    preload = env.pop("FTPS_DAEMON_PRELOAD", "")
    if preload:
        env["LD_PRELOAD"] = preload
    return env
USER, PASSWORD = "ftpuser", "ftppass"
UID = GID = 65534

_hash_cache = {}


def sanitized():
    """Does the daemon run a sanitizer build (tests/asan.sh sets
    FTPS_SANITIZED)?  Memory figures are then the sanitizer's."""
    return bool(os.environ.get("FTPS_SANITIZED"))


class Skip(Exception):
    """Raised by a test that cannot run here (e.g. a client is missing)."""

_certs_cache = {}


def tmp_root():
    root = os.environ.get("FTPS_TEST_TMP") or os.path.join(REPO, "tests", "tmp")
    os.makedirs(root, mode=0o755, exist_ok=True)
    return os.path.abspath(root)


def default_module():
    return os.path.abspath(os.environ.get("FTPS_MODULE")
                           or os.path.join(REPO, "mod_ftps.so"))


def module_name(path):
    """mod_tls.so -> mod_tls (the name LoadModule wants, minus '.c')."""
    base = os.path.basename(path)
    return base[:-3] if base.endswith(".so") else base


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_span():
    """Ports the kernel never gives to a connecting socket (outside
    ip_local_port_range): a passive range there cannot be taken by some
    client's local port, of this run or of one running beside it."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
    except (OSError, ValueError):
        lo, hi = 32768, 60999
    if lo - 10000 >= 4096:
        return 10000, lo - 1
    return hi + 1, 65535


def passive_range(width=64):
    """A free-ish port range for PassivePorts, outside the ephemeral ports."""
    a, b = port_span()
    for _ in range(50):
        lo = random.randrange(a, b - width)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", lo))
        except OSError:
            continue
        finally:
            s.close()
        return lo, lo + width - 1
    return a, a + width - 1


def password_hash(pw):
    if pw not in _hash_cache:
        out = subprocess.run(["openssl", "passwd", "-6", pw], check=True,
                             capture_output=True, text=True, timeout=30)
        _hash_cache[pw] = out.stdout.strip()
    return _hash_cache[pw]


def certs():
    """Directory holding the certificate fixtures; selfsigned.pem at least.

    Uses tests/fixtures/mkcerts.sh when present (it caches its own output),
    else makes a combined self-signed EC certificate with the openssl CLI.
    """
    if "dir" in _certs_cache:
        return _certs_cache["dir"]
    d = os.path.join(tmp_root(), "certs")
    script = os.path.join(REPO, "tests", "fixtures", "mkcerts.sh")
    if os.path.exists(script):
        subprocess.run(["sh", script, d], check=True, capture_output=True,
                       timeout=120)
    else:
        os.makedirs(d, mode=0o755, exist_ok=True)
        pem = os.path.join(d, "selfsigned.pem")
        if not os.path.exists(pem):
            key, crt = pem + ".key", pem + ".crt"
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec",
                 "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", key, "-out", crt, "-days", "30",
                 "-subj", "/CN=localhost"],
                check=True, capture_output=True, timeout=60)
            old = os.umask(0o077)
            try:
                with open(pem + ".tmp", "wb") as out:
                    for f in (crt, key):
                        with open(f, "rb") as inp:
                            out.write(inp.read())
            finally:
                os.umask(old)
            os.chmod(pem + ".tmp", 0o600)
            os.rename(pem + ".tmp", pem)
            os.chmod(key, 0o600)
    _certs_cache["dir"] = d
    return d


def cert(name="selfsigned.pem"):
    return os.path.join(certs(), name)


class Server:
    def __init__(self, module=None, tls=None, extra=None, name="ftpsd",
                 keep=False, passive=True, modules=(), modules_after=()):
        self.module = os.path.abspath(module or default_module())
        if not os.path.exists(self.module):
            raise FileNotFoundError("module not found: %s" % self.module)
        self.modname = module_name(self.module)
        self.keep = keep
        self.host = "127.0.0.1"
        self.port = free_port()
        self.user, self.password = USER, PASSWORD
        self.proc = None
        self.launcher = []   # argv before proftpd (e.g. valgrind ...)
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=tmp_root())
        os.chmod(self.dir, 0o755)
        T = self.dir
        self.conf = os.path.join(T, "proftpd.conf")
        self.pidfile = os.path.join(T, "proftpd.pid")
        self.stderr_path = os.path.join(T, "stderr.log")
        self.tls_log = os.path.join(T, "tls.log")
        self.home = os.path.join(T, "home")
        self.client_dir = os.path.join(T, "client")  # files on the client side
        moddir = os.path.join(T, "modules")
        os.mkdir(moddir, 0o755)
        os.chmod(moddir, 0o755)
        shutil.copy(self.module, os.path.join(moddir, self.modname + ".so"))
        os.chmod(os.path.join(moddir, self.modname + ".so"), 0o755)
        self.more_modules = []
        self.after_modules = []
        for mods, names in ((modules, self.more_modules),
                            (modules_after, self.after_modules)):
            for m in mods or ():
                name = module_name(m)
                shutil.copy(m, os.path.join(moddir, name + ".so"))
                os.chmod(os.path.join(moddir, name + ".so"), 0o755)
                names.append(name)
        os.mkdir(self.home, 0o755)
        os.chown(self.home, UID, GID)
        os.mkdir(self.client_dir, 0o755)
        with open(os.path.join(T, "passwd"), "w") as f:
            f.write("%s:%s:%d:%d::%s:/bin/false\n"
                    % (USER, password_hash(PASSWORD), UID, GID, self.home))
        os.chmod(os.path.join(T, "passwd"), 0o600)

        self.tls = {
            "TLSEngine": "on",
            "TLSLog": self.tls_log,
            "TLSRSACertificateFile": cert(),
            "TLSRequired": "on",
            "TLSProtocol": "TLSv1.2 TLSv1.3",
        }
        for k, v in (tls or {}).items():
            if v is None:
                self.tls.pop(k, None)
            else:
                self.tls[k] = v
        self.extra = list(extra or [])
        lo, hi = passive_range()
        lines = [
            "ServerType standalone",
            "DefaultServer on",
            'ServerName "mod_ftps test"',
            "Port %d" % self.port,
            "DefaultAddress 127.0.0.1",
            "SocketBindTight on",
            "UseIPv6 off",
            "User nobody",
            "Group nogroup",
            "PidFile " + self.pidfile,
            "ScoreboardFile " + os.path.join(T, "proftpd.scoreboard"),
            "DelayEngine off",
            "WtmpLog off",
            "UseReverseDNS off",
            "TransferLog none",
            "AuthOrder mod_auth_file.c",
            "AuthUserFile " + os.path.join(T, "passwd"),
            "RequireValidShell off",
            "DefaultRoot ~",
            "AllowOverwrite on",
            "AllowStoreRestart on",
            "Umask 022",
            "MaxInstances 50",
            "TimeoutIdle 60",
        ]
        if passive:
            lines.append("PassivePorts %d %d" % (lo, hi))
        lines += [
            "ModulePath " + moddir,
        ]
        lines += ["LoadModule %s.c" % m for m in self.more_modules]
        lines += [
            "LoadModule %s.c" % self.modname,
        ]
        lines += ["LoadModule %s.c" % m for m in self.after_modules]
        lines += ["%s %s" % (k, v) for k, v in self.tls.items()]
        lines += self.extra
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    # -- users ------------------------------------------------------------
    def add_user(self, name, password, home=None):
        """Another AuthUserFile user (uid/gid 65534); home defaults to
        T/home-<name> (created, owned by 65534).  Returns the home path."""
        home = home or os.path.join(self.dir, "home-" + name)
        os.makedirs(home, 0o755, exist_ok=True)
        os.chown(home, UID, GID)
        with open(os.path.join(self.dir, "passwd"), "a") as f:
            f.write("%s:%s:%d:%d::%s:/bin/false\n"
                    % (name, password_hash(password), UID, GID, home))
        return home

    # -- files ------------------------------------------------------------
    def home_file(self, name, data=None, size=None):
        """Create a file in the user's home (random bytes if size given)."""
        path = os.path.join(self.home, name)
        write_file(path, data, size)
        os.chown(path, UID, GID)
        return path

    def client_file(self, name, data=None, size=None):
        path = os.path.join(self.client_dir, name)
        write_file(path, data, size)
        return path

    # -- control ----------------------------------------------------------
    def check(self):
        """proftpd -t: returns (rc, output)."""
        p = subprocess.run([PROFTPD, "-t", "-c", self.conf], env=daemon_env(),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr

    def version_info(self):
        p = subprocess.run([PROFTPD, "-vv", "-c", self.conf], env=daemon_env(),
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout + p.stderr

    def start(self, timeout=15):
        if self.proc is not None:
            return self
        err = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen(self.launcher +
                                         [PROFTPD, "-n", "-c", self.conf],
                                         env=daemon_env(),
                                         stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err)
        finally:
            err.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise RuntimeError("proftpd exited with %s during start-up\n%s"
                                   % (rc, self.log_tail()))
            if os.path.exists(self.pidfile) and self._listening():
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("proftpd did not come up in %ds\n%s"
                           % (timeout, self.log_tail()))

    def _listening(self, port=None):
        """Is 127.0.0.1:port in LISTEN? Read /proc, so no session is forked."""
        port = port or self.port
        want = "0100007F:%04X" % port
        try:
            with open("/proc/net/tcp") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) > 3 and parts[1] == want and parts[3] == "0A":
                        return True
            return False
        except OSError:
            try:
                socket.create_connection((self.host, port), 1).close()
                return True
            except OSError:
                return False

    def wait_listening(self, port, timeout=10):
        """Wait until 127.0.0.1:port (e.g. a <VirtualHost>'s) listens."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self._listening(port):
                return
            time.sleep(0.05)
        raise RuntimeError("nothing listens on port %d after %ds\n%s"
                           % (port, timeout, self.log_tail()))

    def append_conf(self, lines):
        """Append lines to proftpd.conf (call before start())."""
        with open(self.conf, "a") as f:
            f.write("\n".join(lines) + "\n")

    def replace_conf(self, directive, line):
        """Replace the top-level line(s) starting with "directive " by line
        (call before start())."""
        with open(self.conf) as f:
            old = f.read().splitlines()
        new = [line if l.split(" ", 1)[0] == directive else l for l in old]
        if new == old:
            new.append(line)
        with open(self.conf, "w") as f:
            f.write("\n".join(new) + "\n")

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        p, self.proc = self.proc, None
        if p is None:
            return
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
            except ProcessLookupError:
                pass

    def cleanup(self):
        self.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False

    # -- logs -------------------------------------------------------------
    def log(self):
        out = []
        for path in (self.stderr_path, self.tls_log):
            try:
                with open(path, errors="replace") as f:
                    out.append("==> %s <==\n%s" % (path, f.read()))
            except OSError:
                pass
        return "\n".join(out)

    def log_tail(self, n=25):
        out = []
        for path in (self.stderr_path, self.tls_log):
            try:
                with open(path, errors="replace") as f:
                    lines = f.read().splitlines()[-n:]
                out.append("==> %s <==" % path)
                out.extend(lines)
            except OSError:
                pass
        return "\n".join(out)

    def log_mark(self):
        """Current sizes of the logs, for log_since()."""
        return tuple(os.path.getsize(p) if os.path.exists(p) else 0
                     for p in (self.stderr_path, self.tls_log))

    def log_since(self, mark, n=20):
        """Last n lines of each log written after log_mark()."""
        out = []
        for path, off in zip((self.stderr_path, self.tls_log), mark):
            try:
                with open(path, errors="replace") as f:
                    f.seek(off)
                    lines = f.read().splitlines()[-n:]
            except OSError:
                continue
            out.append("==> %s <==" % os.path.basename(path))
            out.extend(lines)
        return "\n".join(out)


def read_text(path):
    """A file's text ("" when it cannot be read)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def line_with(text, *needles):
    """The first line of text holding every needle (a str, or a compiled
    regex), or None."""
    for line in text.splitlines():
        if all((n.search(line) if hasattr(n, "search") else n in line)
               for n in needles):
            return line
    return None


def check_config(srv, timeout=30, env=None):
    """proftpd -t without a terminal (a passphrase prompt must not hang):
    (exit status, output).  env defaults to daemon_env()."""
    p = subprocess.run([PROFTPD, "-t", "-c", srv.conf],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=timeout, start_new_session=True,
                       env=daemon_env() if env is None else env)
    return p.returncode, p.stdout + p.stderr


def run_foreground(srv, timeout=20):
    """proftpd -n as an init script would run it, output to srv's stderr
    log: its exit status, or None if it was still running after timeout
    (it is then killed)."""
    with open(srv.stderr_path, "ab") as err:
        p = subprocess.Popen([PROFTPD, "-n", "-c", srv.conf],
                             stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                             start_new_session=True, env=daemon_env())
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)
        return None


def cert_der(name):
    """A fixture certificate (PEM) in DER form."""
    import ssl
    return ssl.PEM_cert_to_DER_cert(read_text(cert(name)))


def tls_log_since(srv, mark):
    """The TLSLog written after srv.log_mark() returned mark ("" if none)."""
    try:
        with open(srv.tls_log, errors="replace") as f:
            f.seek(mark[1])
            return f.read()
    except OSError:
        return ""


TLS_LOG_RE = re.compile(r"\[(\d+)\]: (.*)$")


def tls_messages(srv, mark):
    """The TLSLog's messages since mark, as (pid, message) pairs: without
    the date and the "mod_ftps/x.y[pid]: " prefix."""
    out = []
    for line in tls_log_since(srv, mark).splitlines():
        m = TLS_LOG_RE.search(line)
        if m:
            out.append((m.group(1), m.group(2)))
    return out


def write_file(path, data=None, size=None):
    if data is None:
        data = b""
    with open(path, "wb") as f:
        if size is not None:
            left = size
            while left > 0:
                n = min(left, 1 << 20)
                f.write(os.urandom(n))
                left -= n
        else:
            f.write(data)


def sha256_file(path):
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


if __name__ == "__main__":
    import argparse
    ap = argparse.ArgumentParser(description="start a test proftpd and wait")
    ap.add_argument("--module", default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    with Server(a.module, keep=a.keep) as s:
        print("proftpd pid %d on %s:%d, dir %s"
              % (s.proc.pid, s.host, s.port, s.dir))
        try:
            while s.running():
                time.sleep(1)
        except KeyboardInterrupt:
            pass
