"""SSCN ON (the daemon is the TLS client of its data connections, as for
FXP) against real TLS servers as peers: Python's ssl with OpenSSL's default
TLS 1.3 session tickets, and openssl s_server.  A TLS 1.3 server sends its
tickets after the handshake; a daemon that only writes must still read them
(and whatever else its peer sends) before it closes, or the kernel resets
the connection and the peer loses the end of the download while the daemon
answers 226.  Each transfer compares the bytes (sha256) and the replies."""

import os
import select
import socket
import ssl
import subprocess
import time

from clients import Raw, context, expect
from ftpsd import cert, sha256

MiB = 1 << 20
# The peer's certificate names 127.0.0.1; the daemon trusts it.
TRUSTED = {"TLSCACertificateFile": cert("selfsigned.pem")}
# How long the daemon waits for its peer to close (the core's directive).
LINGER = 2
EXTRA = ["TimeoutLinger %d" % LINGER]
VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def peer_ctx(version):
    """The peer: a TLS server with OpenSSL's defaults (two TLS 1.3 session
    tickets after each handshake)."""
    c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    c.load_cert_chain(cert("selfsigned.pem"))
    c.minimum_version = c.maximum_version = VERSIONS[version]
    assert c.num_tickets == 2, "OpenSSL's default: 2 tickets"
    return c


def session(srv):
    """A logged-in control connection with PROT P, TYPE I and SSCN ON."""
    r = Raw(srv)
    expect(r.banner, 220, "banner")
    expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
    r.starttls(ctx=context())
    r.login()
    for c in ("PBSZ 0", "PROT P", "TYPE I"):
        expect(r.cmd(c), 200, c)
    t = expect(r.cmd("SSCN ON"), 200, "SSCN ON")
    assert t == "200 SSCN:CLIENT METHOD", "SSCN ON: %r" % t
    return r


def reply(r):
    try:
        return r.reply()
    except (EOFError, OSError) as e:
        return 0, "control connection ended (%s)" % e


def read_to_end(d):
    """(bytes, how the stream ended: notify, cut or error: ...)."""
    got = []
    d.settimeout(20)
    try:
        while True:
            chunk = d.recv(65536)
            if not chunk:
                return b"".join(got), "notify"
            got.append(chunk)
    except ssl.SSLEOFError:
        return b"".join(got), "cut"
    except (ssl.SSLError, OSError) as e:
        return b"".join(got), "error: %s" % e


def retr(r, name, version, late=False, reset_after=None):
    """RETR over PASV; the client is the TLS server of the data connection.
    late: read only once the final reply has come.  reset_after: read that
    many bytes, wait for the close_notify to arrive, then reset the
    connection without reading it.
    Returns (preliminary, final reply, bytes, end)."""
    sock = r.pasv()
    r.send("RETR %s\r\n" % name)
    pre = reply(r)
    if pre[0] not in (125, 150):
        sock.close()
        return pre, pre, b"", None
    final, d = None, sock
    try:
        d = peer_ctx(version).wrap_socket(sock, server_side=True,
                                          suppress_ragged_eofs=False)
        if late:
            final = reply(r)
        if reset_after is not None:
            got = b""
            while len(got) < reset_after:
                chunk = d.recv(min(65536, reset_after - len(got)))
                if not chunk:
                    break
                got += chunk
            # the daemon's close_notify has arrived (unread): reset now
            select.select([d], [], [], 10)
            d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         b"\x01\x00\x00\x00\x00\x00\x00\x00")
            end = "reset"
        else:
            got, end = read_to_end(d)
    except (ssl.SSLError, OSError) as e:
        got, end = b"", "error: %s" % e
    finally:
        d.close()
    return pre, final or reply(r), got, end


def stor(r, name, data, version):
    """STOR over PASV: the client serves data as TLS server, then
    close_notify.  Returns (preliminary, final reply)."""
    sock = r.pasv()
    r.send("STOR %s\r\n" % name)
    pre = reply(r)
    if pre[0] not in (125, 150):
        sock.close()
        return pre, pre
    d = sock
    try:
        d = peer_ctx(version).wrap_socket(sock, server_side=True,
                                          suppress_ragged_eofs=False)
        d.sendall(data)
        d = d.unwrap()
    finally:
        d.close()
    return pre, reply(r)


def check_retr(r, name, data, version, **kw):
    pre, final, got, end = retr(r, name, version, **kw)
    what = "TLS %s RETR of %d bytes%s" % (version, len(data),
                                          " (read late)" if kw else "")
    assert final[0] == 226 and end == "notify" and \
        sha256(got) == sha256(data), "%s: want 226, the whole file and " \
        "close_notify; got %r, %d bytes (%s), end %s, final %r" % (
            what, pre[1], len(got), "same" if got == data else "differ",
            end, final[1])


def test_sscn_promises_retr_tickets(ctx):
    """Downloads to a TLS server that sends TLS 1.3 tickets (and to a TLS
    1.2 one): whole files, close_notify, 226; the empty and the tiny file
    too (their close races the tickets)."""
    srv = ctx.server(TRUSTED, extra=EXTRA)
    files = {"big.bin": os.urandom(MiB), "tiny.bin": b"0123456789",
             "empty.bin": b""}
    for n, d in files.items():
        srv.home_file(n, d)
    r = session(srv)
    try:
        for version in ("1.3", "1.2"):
            for n, d in files.items():
                check_retr(r, n, d, version)
        expect(r.cmd("NOOP"), 200, "NOOP after the transfers")
    finally:
        r.close()


def test_sscn_promises_retr_late_reader(ctx):
    """A peer that sends tickets and reads only after the final reply (the
    whole file waits in the socket buffers): the daemon reads the tickets,
    waits TimeoutLinger for the peer's close, then closes in order; the
    peer gets the whole file with close_notify (before the fix: 98304 bytes
    cut by a reset, and 226)."""
    srv = ctx.server(TRUSTED, extra=EXTRA)
    data = os.urandom(MiB)
    srv.home_file("late.bin", data)
    srv.home_file("late-tiny.bin", b"0123456789")
    r = session(srv)
    try:
        mark = srv.log_mark()
        check_retr(r, "late-tiny.bin", b"0123456789", "1.3", late=True)
        check_retr(r, "late.bin", data, "1.3", late=True)
        log = srv.log_since(mark, 50)
        assert "did not close within TimeoutLinger" in log, \
            "TLSLog does not say why the close waited:\n%s" % log
        expect(r.cmd("NOOP"), 200, "NOOP after the transfers")
    finally:
        r.close()


def test_sscn_promises_retr_peer_reset_426(ctx):
    """A peer that reads the file's bytes but resets the connection
    instead of taking the daemon's close_notify: for it the transfer
    failed, and the daemon must not answer 226; the next command gets its
    own reply."""
    srv = ctx.server(TRUSTED, extra=EXTRA)
    data = os.urandom(MiB)
    srv.home_file("reset.bin", data)
    r = session(srv)
    try:
        mark = srv.log_mark()
        pre, final, got, end = retr(r, "reset.bin", "1.3",
                                    reset_after=len(data))
        assert len(got) == len(data) and final[0] == 426, \
            "a peer that reset the connection: want 426; got %r, %d " \
            "bytes, final %r" % (pre[1], len(got), final[1])
        log = srv.log_since(mark, 50)
        assert "answering 426" in log, "TLSLog does not say why:\n" + log
        t = expect(r.cmd("NOOP"), 200, "NOOP after the 426")
        assert "226" not in t, "the held-back 226 leaked: %r" % t
    finally:
        r.close()


def test_sscn_promises_stor(ctx):
    """Uploads from a TLS server that sends tickets (TLS 1.3) and from a
    TLS 1.2 one: the file holds exactly the bytes sent, 226."""
    srv = ctx.server(TRUSTED, extra=EXTRA)
    r = session(srv)
    try:
        for version in ("1.3", "1.2"):
            for size in (MiB, 10):
                data = os.urandom(size)
                name = "up-%s-%d.bin" % (version, size)
                pre, final = stor(r, name, data, version)
                path = os.path.join(srv.home, name)
                got = open(path, "rb").read() if os.path.exists(path) \
                    else None
                assert final[0] == 226 and got is not None and \
                    sha256(got) == sha256(data), "TLS %s STOR of %d " \
                    "bytes: want 226 and the bytes; got %r, final %r, file " \
                    "%s" % (version, size, pre[1], final[1],
                            None if got is None else len(got))
    finally:
        r.close()


def _free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_sscn_promises_openssl_s_server(ctx):
    """openssl s_server as the peer (PORT: the daemon connects to it and is
    its TLS client): a 1 MiB download arrives whole, 226."""
    srv = ctx.server(TRUSTED, extra=EXTRA)
    data = os.urandom(MiB)
    srv.home_file("s.bin", data)
    for version, flag in (("1.3", "-tls1_3"), ("1.2", "-tls1_2")):
        port = _free_port()
        out = os.path.join(srv.dir, "s_server-%s.out" % version)
        with open(out, "wb") as fo:
            p = subprocess.Popen(
                ["openssl", "s_server", "-quiet", "-naccept", "1",
                 "-accept", "127.0.0.1:%d" % port, flag,
                 "-cert", cert("selfsigned.pem")],
                stdin=subprocess.PIPE, stdout=fo, stderr=subprocess.DEVNULL)
        try:
            _wait_listening(port, p)
            r = session(srv)
            try:
                expect(r.cmd("PORT 127,0,0,1,%d,%d" % (port >> 8,
                                                        port & 255)),
                       200, "PORT")
                r.send("RETR s.bin\r\n")
                pre = reply(r)
                final = reply(r) if pre[0] in (125, 150) else pre
                p.wait(timeout=20)
            finally:
                r.close()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        with open(out, "rb") as f:
            got = f.read()
        assert final[0] == 226 and sha256(got) == sha256(data), \
            "TLS %s RETR to openssl s_server: want 226 and the file; got " \
            "%r, final %r, %d bytes (%s)" % (
                version, pre[1], final[1], len(got),
                "same" if got == data else "differ")


def _wait_listening(port, proc):
    """Wait until proc listens on port, without connecting to it."""
    deadline = time.time() + 10
    hexport = ":%04X " % port
    while time.time() < deadline:
        assert proc.poll() is None, "openssl s_server exited"
        with open("/proc/net/tcp") as f:
            if any(hexport in l and l.split()[3] == "0A" for l in f):
                return
        time.sleep(0.05)
    raise AssertionError("openssl s_server does not listen on %d" % port)
