"""Hostile clients (issue 13): what an outsider can send the daemon, each
test ending with a second client's full session (login, upload, download,
bytes compared) on the same daemon.

Covered elsewhere, not repeated here: a client that stalls after 234,
before its ClientHello (test_control test_auth_stalled_handshake_timeout,
test_implicit test_implicit_silent_client_timeout); TLS 1.0/1.1 offered by
s_client (test_control test_tls10_refused, test_tls11_refused,
test_features test_features_protocol_tls1_default_refused); client-initiated
renegotiation by s_client 'R' (test_features
test_features_client_renegotiation_refused); a data connection presenting
another FTP session's ticket or session ID (test_promise_matrix
test_promise_matrix_binding_tls12, _tls13, test_data_promises
test_promise_ccc_data_ticket_from_other_session_refused); a data connection
speaking plaintext where TLS is due (test_promise_matrix
test_promise_matrix_noplain_*).  test_hostile_client_renegotiation_then_serves
reuses test_features's and test_attack_regressions's renegotiating clients
to add the second session they do not check."""

import ftplib
import io
import os
import re
import socket
import ssl
import subprocess
import time

import ftpsd
from clients import (Raw, close_quietly, context, expect, ftps,
                     implicit_ftps, retr_bytes, tls_data_bytes)
from ftpsd import Skip, sha256

OFF = {"TLSRequired": "off"}
IMPLICIT_EXTRA = ["TLSOptions UseImplicitSSL"]
REPLY_RE = re.compile(rb"(^|\n)[23]\d\d[ -]")


# -- helpers -----------------------------------------------------------------

def serves(srv, implicit=False, what="after the hostile client"):
    """A second client's whole session: login, STOR, RETR, bytes equal."""
    data = os.urandom(256 * 1024 + 17)
    f = implicit_ftps(srv) if implicit else ftps(srv)
    try:
        f.storbinary("STOR serves-check.bin", io.BytesIO(data))
        got = retr_bytes(f, "serves-check.bin")
        f.voidcmd("NOOP")
    except (ftplib.Error, OSError, EOFError) as e:
        raise AssertionError("%s: a second session failed: %s: %s"
                             % (what, type(e).__name__, e))
    finally:
        close_quietly(f)
    assert sha256(got) == sha256(data), \
        "%s: a second session's download differs from its upload" % what
    assert srv.running(), "%s: the daemon is gone" % what


def children(srv):
    """Pids of the master's children (the sessions)."""
    pid = srv.proc.pid
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_gone(pids, timeout=30):
    """Wait until none of pids runs; the ones still running."""
    deadline = time.time() + timeout
    left = list(pids)
    while left and time.time() < deadline:
        left = [p for p in left if os.path.exists("/proc/%d" % p)
                and not _zombie(p)]
        if left:
            time.sleep(0.1)
    return left


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def wait_session(srv, before, timeout=10):
    """The pid of the session forked after the children list before."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        new = [p for p in children(srv) if p not in before]
        if new:
            return new[0]
        time.sleep(0.05)
    raise AssertionError("no session process appeared")


def auth_tls(srv, port=None):
    r = Raw(srv, port=port)
    expect(r.banner, 220, "banner")
    expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
    return r


def closed_without_reply(sock, timeout=30):
    """Read sock until the peer closes it (or timeout): (closed, bytes)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return True, data
            data += chunk
    except socket.timeout:
        return False, data
    except OSError:
        return True, data


def client_hello(version, alpn=None, name="localhost"):
    """The first flight of a Python client pinned to version (offering the
    ALPN protocols alpn, sending SNI name), as bytes."""
    c = context(version)
    if alpn:
        c.set_alpn_protocols(alpn)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = c.wrap_bio(inc, out, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def raw_hello(version, record=None):
    """A hand-made ClientHello offering only version (no supported_versions
    extension, as an SSLv3/TLS 1.0/1.1-only client sends it)."""
    suites = (0xc02f, 0xc013, 0x002f, 0x0035, 0x000a, 0x0005)
    body = (version.to_bytes(2, "big") + os.urandom(32) + b"\x00"
            + (2 * len(suites)).to_bytes(2, "big")
            + b"".join(s.to_bytes(2, "big") for s in suites) + b"\x01\x00")
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return (b"\x16" + (record or version).to_bytes(2, "big")
            + len(hs).to_bytes(2, "big") + hs)


def sslv2_hello(version):
    """An SSLv2-format ClientHello (RFC 6101 appendix E.1) for version."""
    suites = bytes.fromhex("010080" "0700c0" "030080")
    challenge = os.urandom(16)
    body = (b"\x01" + version.to_bytes(2, "big")
            + len(suites).to_bytes(2, "big") + b"\x00\x00"
            + len(challenge).to_bytes(2, "big") + suites + challenge)
    return bytes([0x80 | (len(body) >> 8), len(body) & 0xff]) + body


def tls_records(data):
    """(content type, payload) of the TLS records at the start of data, up
    to the first thing that is not one (the 421 in clear, say)."""
    out = []
    while len(data) >= 5 and data[0] in (20, 21, 22, 23) \
            and data[1] == 3:
        n = int.from_bytes(data[3:5], "big")
        out.append((data[0], data[5:5 + n]))
        data = data[5 + n:]
    return out


# -- garbage instead of a ClientHello ----------------------------------------

GARBAGE = [
    ("random bytes", lambda: os.urandom(600)),
    ("an HTTP request", lambda: b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("an FTP command", lambda: b"USER ftpuser\r\n"),
    ("a record claiming 64 KiB",
     lambda: b"\x16\x03\x01\xff\xff" + b"\x01" * 64),
    ("a handshake record of zeros", lambda: b"\x16\x03\x01\x00\x40"
     + b"\x00" * 64),
    ("a ClientHello cut and padded", lambda: client_hello("1.3")[:60]
     + os.urandom(200)),
    ("an alert", lambda: b"\x15\x03\x03\x00\x02\x02\x28"),
    ("application data", lambda: b"\x17\x03\x03\x00\x20" + os.urandom(32)),
]


def _garbage(srv, implicit):
    for what, make in GARBAGE:
        mark = srv.log_mark()
        if implicit:
            r = socket.create_connection((srv.host, srv.port), timeout=10)
        else:
            r = auth_tls(srv)
            r = r.sock
        try:
            r.sendall(make())
            closed, data = closed_without_reply(r)
        finally:
            r.close()
        assert closed, "%s instead of a ClientHello: still connected after " \
            "30 s (got %r)" % (what, data[:200])
        assert not REPLY_RE.search(data), \
            "%s instead of a ClientHello: an FTP reply: %r" % (what, data)
        assert all(t != 22 for t, _ in tls_records(data)), \
            "%s: the server sent a handshake message: %r" % (what, data[:80])
        log = ftpsd.tls_log_since(srv, mark)
        for _ in range(50):
            if "handshake failed" in log:
                break
            time.sleep(0.1)
            log = ftpsd.tls_log_since(srv, mark)
        assert "handshake failed" in log, \
            "%s: TLSLog does not say the handshake failed:\n%s" % (what, log)


def test_hostile_garbage_instead_of_client_hello(ctx):
    """After AUTH TLS, and on the implicit port: random bytes, HTTP, FTP in
    clear, absurd records.  Each ends the connection with at most an alert
    and a 421, never a handshake message or a 2xx/3xx reply."""
    srv = ctx.server(OFF)
    _garbage(srv, implicit=False)
    serves(srv)
    imp = ctx.server(OFF, extra=IMPLICIT_EXTRA)
    _garbage(imp, implicit=True)
    serves(imp, implicit=True)


# -- stalled mid-handshake ---------------------------------------------------

def test_hostile_stall_mid_handshake(ctx):
    """TLSTimeoutHandshake 3: a client that sends half a ClientHello, and
    clients that send a whole one (TLS 1.2, 1.3), read the server's flight
    and never finish, are closed without a reply; meanwhile a second client
    does a whole session.  (A client that sends nothing after 234:
    test_control test_auth_stalled_handshake_timeout.)"""
    srv = ctx.server({"TLSRequired": "off", "TLSTimeoutHandshake": "3"},
                     shared=False)
    mark = srv.log_mark()
    stalled = []
    try:
        r = auth_tls(srv)
        r.send(client_hello("1.3")[:40])
        stalled.append(("half a ClientHello", r))
        for version in ("1.2", "1.3"):
            r = auth_tls(srv)
            r.send(client_hello(version))
            r.sock.settimeout(10)
            first = r.sock.recv(65536)
            assert first[:1] == b"\x16", \
                "TLS %s ClientHello: no server flight: %r" % (version,
                                                              first[:40])
            stalled.append(("a TLS %s ClientHello, no Finished" % version, r))
        serves(srv, what="while three handshakes stall")
        for what, r in stalled:
            closed, data = closed_without_reply(r.sock)
            assert closed, "%s: still connected 30 s later " \
                "(TLSTimeoutHandshake 3)" % what
            assert not REPLY_RE.search(data), \
                "%s: an FTP reply after the stalled handshake: %r" \
                % (what, data[-200:])
    finally:
        for _, r in stalled:
            r.close()
    log = ftpsd.tls_log_since(srv, mark)
    n = log.count("handshake timed out after 3 seconds (TLSTimeoutHandshake)")
    assert n == 3, "TLSLog has %d handshake timeouts, want 3:\n%s" % (n, log)
    serves(srv)


def test_hostile_data_stall_mid_handshake(ctx):
    """A data connection that sends half a ClientHello and stalls: refused
    after TLSTimeoutHandshake 3 (425, TLSLog says why), the control session
    goes on, and the next transfer works."""
    srv = ctx.server({"TLSTimeoutHandshake": "3"}, shared=False)
    srv.home_file("s.bin", b"s" * 10000)
    mark = srv.log_mark()
    with auth_tls(srv) as r:
        r.starttls()
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ")
        expect(r.cmd("PROT P"), 200, "PROT P")
        d = r.pasv()
        r.send("RETR s.bin\r\n")
        expect(r.reply(), (125, 150), "RETR s.bin")
        d.sendall(client_hello("1.3")[:40])
        r.sock.settimeout(30)
        final = r.reply()
        closed, data = closed_without_reply(d)
        d.close()
        assert final[0] == 425, "a data handshake that stalled: %r" % (final,)
        assert closed and b"s" * 100 not in data, data[:100]
        expect(r.cmd("NOOP"), 200, "NOOP after the stalled data handshake")
    log = ftpsd.tls_log_since(srv, mark)
    assert "refusing data connection: TLS handshake timed out after 3 " \
        "seconds" in log, log
    serves(srv)


# -- SSLv3, TLS 1.0, TLS 1.1 hellos ------------------------------------------

OLD_HELLOS = [
    ("SSLv3", lambda: raw_hello(0x0300)),
    ("TLS 1.0", lambda: raw_hello(0x0301)),
    ("TLS 1.1", lambda: raw_hello(0x0302)),
    ("TLS 1.1 in a TLS 1.0 record", lambda: raw_hello(0x0302, 0x0301)),
    ("SSLv2", lambda: sslv2_hello(0x0002)),
    ("SSLv3 in SSLv2 format", lambda: sslv2_hello(0x0300)),
]


def test_hostile_old_protocol_hellos(ctx):
    """Hand-made ClientHellos offering only SSLv3, TLS 1.0 or 1.1 (no
    supported_versions extension), and SSLv2-format ones: each gets a fatal
    alert (protocol_version or handshake_failure), no ServerHello, and the
    session ends; TLSLog names the reason."""
    srv = ctx.server(OFF)
    for what, make in OLD_HELLOS:
        mark = srv.log_mark()
        with auth_tls(srv) as r:
            r.send(make())
            closed, data = closed_without_reply(r.sock)
        recs = tls_records(data)
        assert closed, "%s hello: still connected 30 s later" % what
        assert recs and recs[0][0] == 21 and recs[0][1][:1] == b"\x02", \
            "%s hello: want a fatal alert first, got %r" % (what, data[:80])
        assert recs[0][1][1] in (40, 70), \
            "%s hello: alert %d, want protocol_version (70) or " \
            "handshake_failure (40)" % (what, recs[0][1][1])
        assert all(t != 22 for t, _ in recs), \
            "%s hello: the server answered with a handshake message" % what
        assert not REPLY_RE.search(data), \
            "%s hello: an FTP reply: %r" % (what, data)
        time.sleep(0.2)
        log = ftpsd.tls_log_since(srv, mark)
        assert re.search(r"handshake failed: .*(version too low|unsupported "
                         r"protocol|unknown protocol|wrong version)", log), \
            "%s hello: TLSLog:\n%s" % (what, log)
    serves(srv)


# -- renegotiation -----------------------------------------------------------

def test_hostile_client_renegotiation_then_serves(ctx):
    """Client-initiated TLS 1.2 renegotiation (s_client 'R'), refused by
    default (the refusal's checks: test_features
    test_features_client_renegotiation_refused); the daemon serves on.
    Also with the compiled client of test_attack_regressions: its
    renegotiation fails and the session ends or goes on, never with a new
    handshake."""
    ctx.need("openssl")
    import test_features
    import test_attack_regressions as tar
    srv = ctx.server()
    out, answered, noop = test_features._login_then_renegotiate(srv)
    assert not answered and not noop, \
        "renegotiation answered (%s) or NOOP after it worked (%s):\n%s" \
        % (answered, noop, out[-1500:])
    out = tar._renegotiate(ctx, srv, "-", None, "PWD")
    assert "NOOP -> 200" in out and "renegotiation failed" in out, out
    assert not tar._reply_to(out, "PWD").startswith("257"), out
    serves(srv)


# -- a flood of TLS 1.3 KeyUpdates -------------------------------------------

# AUTH TLS, a TLS 1.3 handshake, login; then COUNT KeyUpdates (MODE: "req"
# asks the server to update its keys too, "noreq" does not), each sent at
# once, without reading; then PWD.  Prints "sent N", "PWD -> reply".
KEYUPDATE_C = r"""
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void line(SSL *s, const char *l) {
  char buf[4096];
  int n;

  SSL_write(s, l, (int) strlen(l));
  SSL_write(s, "\r\n", 2);
  n = SSL_read(s, buf, sizeof(buf) - 1);
  buf[n > 0 ? n : 0] = '\0';
  printf("%.4s -> %s\n", l, n > 0 ? buf : "(closed)");
  fflush(stdout);
}

int main(int argc, char **argv) {
  struct sockaddr_in sin;
  char buf[2048], user[256], pass[256];
  int fd, i, count = atoi(argv[2]), sent = 0;
  int mode = strcmp(argv[3], "req") == 0 ? SSL_KEY_UPDATE_REQUESTED :
    SSL_KEY_UPDATE_NOT_REQUESTED;
  SSL_CTX *ctx;
  SSL *s;

  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons((unsigned short) atoi(argv[1]));
  inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(fd, (struct sockaddr *) &sin, sizeof(sin)) < 0) {
    return 2;
  }
  (void) read(fd, buf, sizeof(buf));
  (void) write(fd, "AUTH TLS\r\n", 10);
  (void) read(fd, buf, sizeof(buf));
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  s = SSL_new(ctx);
  SSL_set_fd(s, fd);
  if (SSL_connect(s) != 1) {
    printf("handshake failed\n");
    return 3;
  }
  snprintf(user, sizeof(user), "USER %s", argv[4]);
  snprintf(pass, sizeof(pass), "PASS %s", argv[5]);
  line(s, user);
  line(s, pass);
  for (i = 0; i < count; i++) {
    if (SSL_key_update(s, mode) != 1 ||
        SSL_do_handshake(s) != 1) {
      break;
    }
    sent++;
  }
  printf("sent %d\n", sent);
  line(s, "PWD");
  line(s, "NOOP");
  return 0;
}
"""


def _build(name, source):
    out = os.path.join(ftpsd.tmp_root(), name)
    if not os.path.exists(out):
        src = out + ".c"
        with open(src, "w") as f:
            f.write(source)
        res = subprocess.run(["cc", "-o", out + ".tmp", src, "-lssl",
                              "-lcrypto"], capture_output=True, text=True,
                             timeout=120)
        if res.returncode != 0:
            raise Skip("cannot build %s: %s" % (name, res.stderr[-300:]))
        os.rename(out + ".tmp", out)
    return out


def test_hostile_keyupdate_flood(ctx):
    """20000 TLS 1.3 KeyUpdates on a logged-in control connection, asking
    the server to update its own keys each time, then again not asking:
    the session answers PWD afterwards (KeyUpdate is legitimate, RFC 8446
    section 4.6.3), and the daemon serves a second session meanwhile."""
    ctx.need("cc")
    prog = _build("keyupdate-flood", KEYUPDATE_C)
    srv = ctx.server()
    for mode in ("req", "noreq"):
        res = subprocess.run([prog, str(srv.port), "20000", mode, srv.user,
                              srv.password], capture_output=True, text=True,
                             timeout=120)
        out = res.stdout
        assert "sent 20000" in out, "%s: the flood stopped early:\n%s" \
            % (mode, out)
        assert re.search(r"^PWD -> 257 ", out, re.M), \
            "after 20000 KeyUpdates (%s): PWD got no 257:\n%s" % (mode, out)
        serves(srv, what="after a KeyUpdate flood (%s)" % mode)


# -- a thousand AUTH attempts ------------------------------------------------

def _pipelined(r, cmds):
    """Send cmds in one write; their replies."""
    r.send("".join(c + "\r\n" for c in cmds))
    return [r.reply() for _ in cmds]


def test_hostile_thousand_auth_attempts(ctx):
    """One connection: 1000 AUTH with unknown, empty and absurd mechanisms
    in clear (504 each, the connection stays in clear), then AUTH TLS, then
    a login and 1000 more AUTH under TLS (503 each); the session goes on,
    and its process holds as many descriptors as before that thousand."""
    srv = ctx.server(OFF)
    before = children(srv)
    r = Raw(srv)
    try:
        pid = wait_session(srv, before)
        mechs = ["AUTH KERBEROS_V4", "AUTH GSSAPI", "AUTH TLS-X",
                 "AUTH " + "A" * 300, "AUTH", "AUTH SSL3", "AUTH tls1.3",
                 "AUTH \x01\x02", "AUTH TLSv1.2"]
        codes = []
        for i in range(0, 1000, 100):
            cmds = [mechs[(i + j) % len(mechs)] for j in range(100)]
            codes += [c for c, _ in _pipelined(r, cmds)]
        bad = [c for c in codes if c != 504]
        assert not bad, "AUTH with an unknown mechanism: want 504 each, " \
            "got %r" % sorted(set(bad))
        expect(r.cmd("SYST"), 215, "SYST in clear after 1000 AUTH")
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS after 1000 refused")
        r.starttls()
        r.login()
        fds = fd_count(pid)
        codes = []
        for i in range(0, 1000, 100):
            cmds = ["AUTH TLS" if j % 2 else "AUTH SSL" for j in range(100)]
            codes += [c for c, _ in _pipelined(r, cmds)]
        assert set(codes) == {503}, \
            "a second AUTH under TLS: want 503 each, got %r" % set(codes)
        expect(r.cmd("PWD"), 257, "PWD after 2000 AUTH")
        assert fd_count(pid) == fds, \
            "the session holds %d descriptors after 1000 AUTH under TLS, " \
            "%d before" % (fd_count(pid), fds)
    finally:
        r.close()
    serves(srv)


# -- absurd PBSZ/PROT/SSCN/AUTH arguments ------------------------------------

# (command, wanted reply code): RFC 2228/4217 and mod_tls's replies
# (../shared/docs/mod_tls.md): 501 syntax, 504 a parameter not implemented,
# 536 a level TLS does not offer, 200 PBSZ=0 for any other size.
ABSURD = [
    ("PBSZ", 501), ("PBSZ -1", 501), ("PBSZ abc", 501), ("PBSZ 0x10", 501),
    ("PBSZ +0", 501), ("PBSZ 0 0", 501), ("PBSZ 1 2 3", 501),
    ("PBSZ 4294967296", 200), ("PBSZ 1" + "9" * 300, 200),
    ("PBSZ 18446744073709551616", 200), ("PBSZ 0", 200),
    ("PROT", 501), ("PROT P P", 501), ("PROT C extra", 501),
    ("PROT PP", 504), ("PROT " + "P" * 300, 504), ("PROT \x7f", 504),
    ("PROT S", 536), ("PROT E", 536), ("PROT p", 200),
    ("SSCN BOGUS", 501), ("SSCN " + "O" * 300, 501), ("SSCN ON ON", 504),
    ("SSCN ON", 200), ("SSCN OFF", 200),
    ("AUTH", 504), ("AUTH TLS", 503), ("AUTH " + "X" * 300, 503),
]
ABSURD_CLEAR = [
    ("AUTH", 504), ("AUTH " + "X" * 300, 504), ("AUTH \x7fTLS", 504),
    ("AUTH TLS-X", 504), ("PBSZ 0", 503), ("PROT P", 503),
]


def test_hostile_absurd_arguments(ctx):
    """Oversized and absurd PBSZ/PROT/SSCN/AUTH arguments get their reply
    codes, and the session goes on; a command longer than the core's
    buffer is dropped by the core (no reply) and the session goes on."""
    srv = ctx.server(OFF)
    with Raw(srv) as r:
        for cmd, want in ABSURD_CLEAR:
            expect(r.cmd(cmd), want, "%r in clear" % cmd[:40])
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls()
        r.login()
        for cmd, want in ABSURD:
            expect(r.cmd(cmd), want, "%r" % cmd[:40])
        # 8 KiB: over ProFTPD's command buffer; the core drops it
        r.send("PBSZ " + "9" * 8192 + "\r\n")
        expect(r.cmd("PWD"), (257, 500), "PWD after an 8 KiB PBSZ")
        expect(r.cmd("PROT  P"), 200, "PROT  P (two blanks) at the end")
        expect(r.cmd("NOOP"), 200, "NOOP at the end")
    serves(srv)


# -- a data connection from a foreign address --------------------------------

def _foreign_retr(srv):
    """RETR over PASV with the data connection made from 127.0.0.2, resuming
    the control connection's TLS session: (final reply, bytes got)."""
    with auth_tls(srv) as r:
        r.starttls()
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ")
        expect(r.cmd("PROT P"), 200, "PROT P")
        expect(r.cmd("TYPE I"), 200, "TYPE I")
        _, port = ftplib.parse227(expect(r.cmd("PASV"), 227, "PASV"))
        d = socket.socket()
        d.settimeout(10)
        d.bind(("127.0.0.2", 0))
        d.connect((srv.host, port))
        r.send("RETR f.bin\r\n")
        first = r.reply()
        got = b""
        if first[0] in (125, 150):
            got = tls_data_bytes(r.sock.context, d, r.sock.session)
            final = r.reply()
        else:
            final = first
        d.close()
        expect(r.cmd("NOOP"), 200, "NOOP after the foreign data connection")
    return final, got


def test_hostile_data_from_foreign_address(ctx):
    """A passive data connection from 127.0.0.2 for a session of 127.0.0.1,
    even one resuming the session's TLS: 425 and no byte, without
    AllowForeignAddress (ProFTPD documents off as its default, but its
    passive accept only checks when the directive is set) and with
    AllowForeignAddress off; served with AllowForeignAddress on."""
    data = os.urandom(100000)
    for extra, allowed in (([], False), (["AllowForeignAddress off"], False),
                           (["AllowForeignAddress on"], True)):
        srv = ctx.server(extra=extra + ["# foreign"])
        srv.home_file("f.bin", data)
        mark = srv.log_mark()
        final, got = _foreign_retr(srv)
        if allowed:
            assert final[0] == 226 and got == data, \
                "%s: a foreign data connection: %r, %d bytes (want 226 and " \
                "the file)" % (extra, final, len(got))
        else:
            assert final[0] == 425 and got == b"", \
                "%s: a foreign data connection: %r, %d bytes (want 425, no " \
                "bytes)" % (extra or "no AllowForeignAddress", final,
                            len(got))
            log = srv.log_since(mark, n=50)
            assert "foreign" in log, log
        serves(srv)


# -- a client that never reads -----------------------------------------------

def _stuck_download(srv):
    """Log in, RETR a big file over a protected data connection and read
    nothing; returns (control Raw, data socket, session pid)."""
    before = children(srv)
    r = auth_tls(srv)
    pid = wait_session(srv, before)
    r.starttls()
    r.login()
    expect(r.cmd("PBSZ 0"), 200, "PBSZ")
    expect(r.cmd("PROT P"), 200, "PROT P")
    expect(r.cmd("TYPE I"), 200, "TYPE I")
    d = r.pasv()
    d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    r.send("RETR big.bin\r\n")
    expect(r.reply(), (125, 150), "RETR big.bin")
    d = r.sock.context.wrap_socket(d, server_hostname="localhost",
                                   session=r.sock.session)
    d.recv(1024)   # the transfer has started; read nothing more
    return r, d, pid


def test_hostile_never_reads(ctx):
    """A client that stops reading a download: with TimeoutStalled 3 the
    session ends by itself; a client that closes while the server is
    blocked ends it too.  Meanwhile and after, a second session works; the
    master's descriptors and children are as before."""
    srv = ctx.server(extra=["TimeoutStalled 3"], shared=False)
    srv.home_file("big.bin", size=32 << 20)
    master = srv.proc.pid
    fds = fd_count(master)
    r, d, pid = _stuck_download(srv)
    try:
        serves(srv, what="while a client does not read")
        assert wait_gone([pid], timeout=60) == [], \
            "the session of a client that never reads still runs 60 s " \
            "after it stopped (TimeoutStalled 3)"
    finally:
        d.close()
        r.close()
    assert "Data transfer stall timeout: 3 seconds" in \
        ftpsd.read_text(srv.stderr_path), "the session did not end by " \
        "TimeoutStalled"
    r, d, pid = _stuck_download(srv)
    time.sleep(0.5)
    d.close()
    r.close()
    assert wait_gone([pid], timeout=30) == [], \
        "the session still runs 30 s after its stuck client closed"
    serves(srv)
    assert wait_gone(children(srv), timeout=30) == [], \
        "sessions left: %r" % children(srv)
    assert fd_count(master) == fds, \
        "the master holds %d descriptors, %d before" % (fd_count(master),
                                                        fds)


def test_hostile_never_reads_control(ctx):
    """A client that sends command after command (HELP) and reads no reply:
    the session blocks writing to it, a second session works meanwhile, and
    TimeoutSession ends the stuck session (TimeoutIdle does not: the core
    does not count a command in progress as idle, with or without TLS)."""
    srv = ctx.server(extra=["TimeoutSession 15"], shared=False)
    master = srv.proc.pid
    fds = fd_count(master)
    before = children(srv)
    r = auth_tls(srv)
    pid = wait_session(srv, before)
    r.starttls()
    r.login()
    r.sock.setblocking(False)
    blocked, deadline = None, time.time() + 20
    try:
        while time.time() < deadline:
            try:
                r.sock.send(b"HELP\r\n" * 100)
                blocked = None
            except (ssl.SSLWantWriteError, BlockingIOError):
                # both ways full: the session is stuck writing replies
                blocked = blocked or time.time()
                if time.time() - blocked > 1:
                    break
                time.sleep(0.05)
            except (ssl.SSLError, OSError):
                break
        serves(srv, what="while a client reads no reply")
        assert wait_gone([pid], timeout=60) == [], \
            "the session of a client that reads no reply still runs 60 s " \
            "later (TimeoutSession 15)"
    finally:
        r.close()
    assert "FTP session timed out" in ftpsd.read_text(srv.stderr_path)
    assert wait_gone(children(srv), timeout=30) == []
    assert fd_count(master) == fds

