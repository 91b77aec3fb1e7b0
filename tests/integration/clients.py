"""clients.py - drive real FTPS clients against a test server.

* ftplib.FTP_TLS (stock) and ReusingFTP_TLS (data TLS resumes the control
  session, selectable PASV/EPSV/PORT/EPRT data modes);
* curl, lftp and openssl s_client as subprocesses (always with a timeout);
* Raw: a line-level socket client for protocol probes.
"""

import ftplib
import os
import shutil
import socket
import ssl
import subprocess
import time

TIMEOUT = 20          # seconds for sockets
PROC_TIMEOUT = 60     # seconds for client subprocesses


class ClientError(AssertionError):
    pass


def have(binary):
    return shutil.which(binary) is not None


# -- TLS contexts -------------------------------------------------------------

VERSIONS = {
    "1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
    "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3,
}


def context(version=None):
    """Client context without verification; version pins min=max."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version:
        ctx.minimum_version = ctx.maximum_version = VERSIONS[version]
    return ctx


# -- ftplib -------------------------------------------------------------------

class ModeMixin:
    """Data connection mode: 'pasv', 'epsv', 'port' or 'eprt'."""
    mode = "pasv"

    def set_mode(self, mode):
        assert mode in ("pasv", "epsv", "port", "eprt"), mode
        self.mode = mode
        self.passiveserver = mode in ("pasv", "epsv")

    def makepasv(self):
        if self.mode == "epsv":
            return ftplib.parse229(self.sendcmd("EPSV"),
                                   self.sock.getpeername())
        host, port = ftplib.parse227(self.sendcmd("PASV"))
        return self.host, port   # like ftplib's trust_server_pasv_ipv4_address

    def makeport(self):
        host = self.sock.getsockname()[0]
        sock = socket.create_server((host, 0), family=socket.AF_INET,
                                    backlog=1)
        port = sock.getsockname()[1]
        if self.mode == "eprt":
            self.voidcmd("EPRT |1|%s|%d|" % (host, port))
        else:
            self.sendport(host, port)
        sock.settimeout(self.timeout)
        return sock


class StockFTP_TLS(ModeMixin, ftplib.FTP_TLS):
    """ftplib.FTP_TLS as shipped: data TLS never resumes the control session."""


class ReusingFTP_TLS(ModeMixin, ftplib.FTP_TLS):
    """Data TLS resumes the control connection's session."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size


class KeepingFTP_TLS(ReusingFTP_TLS):
    """Keeps its TLS session over CCC (after CCC the control socket has
    none) and resumes the newest it holds: the data connection's own
    ticket, once one came with a download (data connections stay bound to
    the FTP session after CCC)."""
    kept = None
    last_data = None

    def ccc(self):
        self.kept = self.sock.session
        return super().ccc()

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            sess = self.sock.session if self.kept is None else self.kept
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=sess)
            self.last_data = conn
        return conn, size

    def retrbinary(self, *a, **kw):
        try:
            return super().retrbinary(*a, **kw)
        finally:
            s = self.last_data
            if self.kept is not None and s is not None:
                try:
                    if s.session is not None:
                        self.kept = s.session
                except (ValueError, OSError):
                    pass


def closed_by_peer(sock, timeout=10):
    """Does the peer close sock within timeout (EOF or reset)?"""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except socket.timeout:
        return False
    except OSError:
        return True


def tls_data_bytes(tls_ctx, sock, session, server_hostname="localhost"):
    """Wrap the data connection sock with tls_ctx (resuming session) and
    read it to its end; whatever came before a TLS or socket error counts.
    The connection is closed (a server waits for the client's close)."""
    got = b""
    try:
        sock = tls_ctx.wrap_socket(sock, server_hostname=server_hostname,
                                   session=session)
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
    except (ssl.SSLError, OSError):
        pass
    sock.close()
    return got


def auth_mech(ftp, mech):
    """AUTH <mech> by hand (ftplib only sends AUTH TLS), then handshake."""
    resp = ftp.voidcmd("AUTH " + mech)
    ftp.sock = ftp.context.wrap_socket(ftp.sock, server_hostname=ftp.host)
    ftp.file = ftp.sock.makefile(mode="r", encoding=ftp.encoding)
    return resp


def ftps(server, cls=ReusingFTP_TLS, version=None, prot_p=True, login=True,
         mode="pasv", mech="TLS", ctx=None):
    """Connected (and by default logged-in, PROT P) ftplib client."""
    f = cls(context=ctx or context(version), timeout=TIMEOUT)
    f.connect(server.host, server.port)
    try:
        if mech == "TLS":
            f.auth()
        elif mech:
            auth_mech(f, mech)
        if login:
            f.login(server.user, server.password)
        if prot_p:
            f.prot_p()
        f.set_mode(mode)
    except BaseException:
        close_quietly(f)
        raise
    return f


def close_quietly(f):
    try:
        f.quit()
    except Exception:
        try:
            f.close()
        except Exception:
            pass


def reply_to(f, cmd):
    """The server's reply to cmd, error replies included, as text."""
    try:
        return f.sendcmd(cmd)
    except ftplib.Error as e:
        return str(e)


def retr_bytes(f, name):
    buf = []
    f.retrbinary("RETR " + name, buf.append)
    return b"".join(buf)


# -- subprocess clients ------------------------------------------------------

def run(argv, input=None, timeout=PROC_TIMEOUT, env=None):
    """Run argv; returns CompletedProcess with text stdout/stderr."""
    try:
        return subprocess.run(argv, input=input, capture_output=True,
                              timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        raise ClientError("timeout after %ss: %s\nstdout: %s\nstderr: %s"
                          % (timeout, " ".join(argv), _txt(e.stdout)[-1500:],
                             _txt(e.stderr)[-1500:]))


def _txt(b):
    if b is None:
        return ""
    return b.decode(errors="replace") if isinstance(b, bytes) else b


def describe(p):
    return ("rc=%s\nstdout: %s\nstderr: %s"
            % (p.returncode, _txt(p.stdout)[-2000:], _txt(p.stderr)[-2000:]))


CURL_VERSION = {None: [], "1.2": ["--tlsv1.2", "--tls-max", "1.2"],
                "1.3": ["--tlsv1.3"]}


def curl(server, path="/", version=None, upload=None, output=None,
         extra=(), timeout=PROC_TIMEOUT):
    """curl --ssl-reqd -k ftp://host:port/path (list when path ends in /)."""
    argv = ["curl", "-sS", "--ssl-reqd", "-k", "--max-time", str(timeout - 5),
            "--user", "%s:%s" % (server.user, server.password)]
    argv += CURL_VERSION[version] + list(extra)
    if upload is not None:
        argv += ["-T", upload]
    if output is not None:
        argv += ["-o", output]
    argv.append("ftp://%s:%d%s" % (server.host, server.port, path))
    return run(argv, timeout=timeout)


LFTP_PRIORITY = {
    None: None,
    "1.2": "NORMAL:-VERS-ALL:+VERS-TLS1.2",
    "1.3": "NORMAL:-VERS-ALL:+VERS-TLS1.3",
}


def lftp(server, commands, version=None, protect_data=True,
         timeout=PROC_TIMEOUT, debug=False):
    """lftp -c with an explicit-FTPS preamble; commands is a list of lines.
    debug=True puts the FTP dialogue ("---> PROT P") on stderr."""
    pre = ["debug 5"] if debug else []
    pre += [
        "set cmd:fail-exit yes",
        "set ssl:verify-certificate no",
        "set ftp:ssl-force true",
        "set ftp:ssl-allow true",
        "set ftp:ssl-protect-data %s" % ("true" if protect_data else "false"),
        "set ftp:ssl-protect-list %s" % ("true" if protect_data else "false"),
        "set ftp:passive-mode true",
        "set net:max-retries 1",
        "set net:timeout 10",
        "set net:reconnect-interval-base 1",
        "set xfer:clobber true",
    ]
    prio = LFTP_PRIORITY[version]
    if prio:
        pre.append('set ssl:priority "%s"' % prio)
    pre.append("open -u %s,%s -p %d %s"
               % (server.user, server.password, server.port, server.host))
    script = "\n".join(pre + list(commands)) + "\n"
    env = dict(os.environ)
    env.setdefault("HOME", "/tmp")
    # "-f" reads the script from a file; "-c" is the same, one string.
    return run(["lftp", "-c", script], timeout=timeout, env=env)


S_CLIENT_VERSION = {
    None: [], "1.0": ["-tls1", "-cipher", "DEFAULT@SECLEVEL=0"],
    "1.1": ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    "1.2": ["-tls1_2"], "1.3": ["-tls1_3"],
}


def s_client(server, version=None, lines=(), extra=(), delay=0.3,
             timeout=30, starttls=True, port=None):
    """openssl s_client -starttls ftp (starttls=False: TLS from the first
    byte, implicit FTPS); feeds lines (CRLF) one by one with a delay after
    the handshake, then closes stdin; returns (rc, output)."""
    argv = ["openssl", "s_client"]
    if starttls:
        argv += ["-starttls", "ftp"]
    argv += ["-crlf", "-ign_eof",
             "-connect", "%s:%d" % (server.host, port or server.port),
             "-servername", "localhost"]
    argv += S_CLIENT_VERSION[version] + list(extra)
    return _feed(argv, lines, delay, timeout, "s_client")


def gnutls_cli(server, lines=(), port=None, extra=(), delay=0.3, timeout=30):
    """gnutls-cli --insecure --crlf straight to host:port (implicit FTPS);
    feeds lines like s_client(); returns (rc, output)."""
    argv = ["gnutls-cli", "--insecure", "--crlf",
            "--port", str(port or server.port)] + list(extra) + [server.host]
    return _feed(argv, lines, delay, timeout, "gnutls-cli")


def _feed(argv, lines, delay, timeout, what):
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    try:
        time.sleep(delay * 2)
        for line in lines:
            if p.poll() is not None:
                break
            p.stdin.write((line + "\n").encode())
            p.stdin.flush()
            time.sleep(delay)
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        p.stdin = None
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        raise ClientError("%s timeout: %s" % (what, _txt(out)[-2000:]))
    except BrokenPipeError:
        p.stdin = None
        out, _ = p.communicate(timeout=timeout)
    return p.returncode, _txt(out)


# -- raw protocol probes -----------------------------------------------------

class Raw:
    """Line-level FTP client over a plain or TLS socket."""

    def __init__(self, server, timeout=10, port=None):
        self.server = server
        self.sock = socket.create_connection((server.host,
                                              port or server.port),
                                             timeout=timeout)
        self.buf = b""
        self.banner = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; partial: %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode(errors="replace")

    def reply(self):
        """Returns (code, text) of one (possibly multi-line) reply."""
        first = self._readline()
        lines = [first]
        if len(first) > 3 and first[3] == "-":
            end = first[:3] + " "
            while True:
                line = self._readline()
                lines.append(line)
                if line.startswith(end):
                    break
        code = int(first[:3]) if first[:3].isdigit() else 0
        return code, "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self, version=None, ctx=None, session=None):
        if self.buf:
            raise ClientError("unread plaintext before TLS: %r" % self.buf)
        ctx = ctx or context(version)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost",
                                    session=session)
        return self.sock

    def login(self):
        c, t = self.cmd("USER " + self.server.user)
        if c != 331:
            raise ClientError("USER: expected 331, got %s" % t)
        c, t = self.cmd("PASS " + self.server.password)
        if c != 230:
            raise ClientError("PASS: expected 230, got %s" % t)

    def pasv(self):
        """PASV; returns a connected plain data socket."""
        c, t = self.cmd("PASV")
        if c != 227:
            raise ClientError("PASV: expected 227, got %s" % t)
        _, port = ftplib.parse227(t)
        return socket.create_connection((self.server.host, port), timeout=10)

    def read_all(self, timeout=5):
        """Everything until EOF (or timeout); returns (data, eof)."""
        self.sock.settimeout(timeout)
        data = self.buf
        self.buf = b""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return data, True
                data += chunk
        except socket.timeout:
            return data, False
        except (ConnectionError, ssl.SSLError):
            return data, True

    def close(self):
        try:
            self.sock.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def expect(got, want, what):
    """got = (code, text); want = int or collection of ints."""
    code, text = got
    ok = code in want if isinstance(want, (tuple, list, set, range)) \
        else code == want
    if not ok:
        raise AssertionError("%s: expected %s, got %r" % (what, want, text))
    return text


# -- implicit FTPS (TLSOptions UseImplicitSSL) -------------------------------

def peer_cert_der(server, ctx, port=None):
    """AUTH TLS and a handshake with ctx: the server's certificate (DER)."""
    with Raw(server, port=port) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls(ctx=ctx)
        return r.sock.getpeercert(binary_form=True)


class ImplicitFTP_TLS(ReusingFTP_TLS):
    """Implicit FTPS: TLS from the first byte, before the banner, and data
    connections protected without PBSZ/PROT (data_tls=False: in clear).
    Data TLS resumes the control session, as ReusingFTP_TLS does."""
    data_tls = True

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        if host:
            self.host = host
        if port > 0:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.af = sock.family
        try:
            self.sock = self.context.wrap_socket(sock,
                                                 server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self._prot_p = self.data_tls
        self.welcome = self.getresp()
        return self.welcome


def implicit_ftps(server, port=None, version=None, login=True, mode="pasv",
                  data_tls=True, ctx=None):
    """Connected (and by default logged-in) implicit-FTPS ftplib client;
    sends no AUTH, PBSZ or PROT."""
    f = ImplicitFTP_TLS(context=ctx or context(version), timeout=TIMEOUT)
    f.data_tls = data_tls
    f.connect(server.host, port or server.port)
    try:
        if login:
            f.login(server.user, server.password)
        f.set_mode(mode)
    except BaseException:
        close_quietly(f)
        raise
    return f


class ImplicitRaw(Raw):
    """Raw over implicit FTPS: the TLS handshake first, then the banner."""

    def __init__(self, server, timeout=10, port=None, version=None):
        self.server = server
        sock = socket.create_connection((server.host, port or server.port),
                                        timeout=timeout)
        try:
            self.sock = context(version).wrap_socket(
                sock, server_hostname="localhost")
        except BaseException:
            sock.close()
            raise
        self.buf = b""
        self.banner = self.reply()


def curl_implicit(server, path="/", port=None, version=None, upload=None,
                  output=None, extra=(), timeout=PROC_TIMEOUT):
    """curl -k ftps://host:port/path (implicit FTPS)."""
    argv = ["curl", "-sS", "-k", "--max-time", str(timeout - 5),
            "--user", "%s:%s" % (server.user, server.password)]
    argv += CURL_VERSION[version] + list(extra)
    if upload is not None:
        argv += ["-T", upload]
    if output is not None:
        argv += ["-o", output]
    argv.append("ftps://%s:%d%s" % (server.host, port or server.port, path))
    return run(argv, timeout=timeout)


def lftp_implicit(server, commands, port=None, version=None,
                  timeout=PROC_TIMEOUT, debug=False):
    """lftp -c with open ftps://host:port (implicit FTPS)."""
    pre = ["debug 5"] if debug else []
    pre += [
        "set cmd:fail-exit yes",
        "set ssl:verify-certificate no",
        "set ftp:ssl-protect-data true",
        "set ftp:ssl-protect-list true",
        "set ftp:passive-mode true",
        "set net:max-retries 1",
        "set net:timeout 10",
        "set net:reconnect-interval-base 1",
        "set xfer:clobber true",
    ]
    prio = LFTP_PRIORITY[version]
    if prio:
        pre.append('set ssl:priority "%s"' % prio)
    pre.append("open -u %s,%s ftps://%s:%d"
               % (server.user, server.password, server.host,
                  port or server.port))
    script = "\n".join(pre + list(commands)) + "\n"
    env = dict(os.environ)
    env.setdefault("HOME", "/tmp")
    return run(["lftp", "-c", script], timeout=timeout, env=env)
