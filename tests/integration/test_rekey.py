"""TLSRenegotiate: TLS 1.3 key updates (RFC 8446 section 4.6.3).

`TLSRenegotiate data KB` gives a data connection new keys every KB
kilobytes, `ctrl SECS` the control connection once SECS have passed; TLS 1.2
is never renegotiated.  The Python clients count the KeyUpdate messages the
server sends (OpenSSL's message callback, ssl.SSLContext._msg_callback);
curl (OpenSSL) and lftp (GnuTLS) prove that real clients follow the new
keys, with the transferred bytes compared both ways.
"""

import os
import ssl
import time

import ftpsd
from clients import (ReusingFTP_TLS, close_quietly, context, curl, describe,
                     lftp, retr_bytes)
from ftpsd import sha256

KEY_UPDATE = 24     # HandshakeType key_update (RFC 8446 section 4)
HELLO_REQUEST = 0   # TLS 1.2 renegotiation request


class Counter:
    """Handshake messages received from (and sent to) the server, by type."""

    def __init__(self):
        self.seen = []
        self.sent = []
        self.times = []     # arrival of each KeyUpdate

    def __call__(self, conn, direction, version, content_type, msg_type,
                 data):
        if content_type == ssl._TLSContentType.HANDSHAKE:
            (self.seen if direction == "read" else self.sent).append(
                int(msg_type))
            if direction == "read" and msg_type == KEY_UPDATE:
                self.times.append(time.monotonic())

    def count(self, msg_type):
        return self.seen.count(msg_type)

    def count_sent(self, msg_type):
        return self.sent.count(msg_type)


def counting_context(counter, version="1.3"):
    ctx = context(version)
    if not hasattr(ctx, "_msg_callback"):
        raise ftpsd.Skip("this Python has no ssl message callback")
    ctx._msg_callback = counter
    return ctx


def client(srv, ctx, cls=ReusingFTP_TLS):
    f = cls(context=ctx, timeout=30)
    f.connect(srv.host, srv.port)
    f.auth()
    f.login(srv.user, srv.password)
    f.prot_p()
    return f


def rekey_server(ctx, directive, version=None, extra=()):
    """A server with TLSRenegotiate directive; in user space, where keys can
    be updated (kernel TLS keeps its keys: test_ktls)."""
    tls = {}
    if version:
        tls["TLSProtocol"] = version
    return ctx.server(tls=tls, extra=["TLSRenegotiate " + directive,
                                      "FTPSKernelTLS off"] + list(extra))


def key_update_lines(srv):
    return [l for l in ftpsd_log(srv).splitlines()
            if "key updates (TLSRenegotiate)" in l]


def max_in_window(times, window=1.0):
    best, lo = 0, 0
    for hi in range(len(times)):
        while times[hi] - times[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_rekey_data_retr_and_stor(ctx):
    """data 64: a 2 MiB download carries KeyUpdates, at most one per 64 KiB
    and never more than 8 within a second, asking the client for no answer
    (it never writes); an upload gets none (the client never reads) and
    arrives intact.  (How updates are spaced in time: check_rekey.)"""
    srv = rekey_server(ctx, "data 64")
    data = os.urandom((2 << 20) + 17)
    srv.home_file("big.bin", data)
    counter = Counter()
    f = client(srv, counting_context(counter))
    try:
        before = counter.count(KEY_UPDATE)
        got = retr_bytes(f, "big.bin")
        assert sha256(got) == sha256(data), \
            "RETR with key updates: %d bytes, sha256 differs" % len(got)
        n = counter.count(KEY_UPDATE) - before
        assert 1 <= n <= 32, \
            "RETR 2 MiB under 'TLSRenegotiate data 64': %d KeyUpdates " \
            "received, want 1 to 32 (one per 64 KiB at most)" % n
        burst = max_in_window(counter.times)
        assert burst <= 8, \
            "%d KeyUpdates within one second: GnuTLS clients drop " \
            "connections that get more than 8" % burst
        answered = counter.count_sent(KEY_UPDATE)
        lines = key_update_lines(srv)
        assert len(lines) == 1 and \
            "data connection: %d TLS 1.3 key updates" % n in lines[0], \
            "TLSLog after RETR: want one 'data connection: %d TLS 1.3 key " \
            "updates' line, got %r" % (n, lines)
        import io
        f.storbinary("STOR up.bin", io.BytesIO(data))
        # the download connection carries on without a reply from us
        again = retr_bytes(f, "big.bin")
        assert sha256(again) == sha256(data), "second RETR differs"
    finally:
        close_quietly(f)
    assert answered == 0, \
        "the client answered %d KeyUpdates on a download (the server must " \
        "not request answers it never reads)" % answered
    with open(os.path.join(srv.home, "up.bin"), "rb") as fh:
        assert sha256(fh.read()) == sha256(data), \
            "STOR with key updates: stored file differs"
    lines = key_update_lines(srv)
    assert len(lines) == 2, \
        "want key updates on the two downloads only, got %r" % lines


def test_rekey_data_none(ctx):
    """Without TLSRenegotiate, and with 'none', no key is ever updated."""
    for srv in (ctx.server(), rekey_server(ctx, "none")):
        data = os.urandom(1 << 20)
        srv.home_file("big.bin", data)
        counter = Counter()
        f = client(srv, counting_context(counter))
        try:
            assert sha256(retr_bytes(f, "big.bin")) == sha256(data)
        finally:
            close_quietly(f)
        assert counter.count(KEY_UPDATE) == 0, \
            "%d KeyUpdates without TLSRenegotiate data (%s)" \
            % (counter.count(KEY_UPDATE), srv.extra)


def test_rekey_ctrl(ctx):
    """ctrl 1: the first command after a second gets the control connection
    new keys; one right after it does not."""
    srv = rekey_server(ctx, "ctrl 1")
    counter = Counter()
    f = client(srv, counting_context(counter))
    try:
        f.voidcmd("NOOP")
        quick = counter.count(KEY_UPDATE)
        time.sleep(1.3)
        f.voidcmd("NOOP")
        after = counter.count(KEY_UPDATE)
        f.voidcmd("NOOP")
        again = counter.count(KEY_UPDATE)
        answered = counter.count_sent(KEY_UPDATE)
        # the control connection still works with the new keys
        assert f.pwd() == "/", "PWD after a key update"
    finally:
        close_quietly(f)
    assert quick == 0, "KeyUpdate before 'ctrl 1' elapsed (%d)" % quick
    assert after == 1, \
        "after 1.3 s, NOOP brought %d KeyUpdates, want 1" % after
    assert again == 1, "a NOOP right after the update brought another one"
    assert answered == 1, \
        "the client sent %d KeyUpdates: the control connection's update " \
        "must ask it to renew its keys too" % answered


def test_rekey_tls12_never(ctx):
    """Under TLS 1.2 nothing is renegotiated; the transfer works and the
    TLSLog says why keys stay."""
    srv = rekey_server(ctx, "ctrl 1 data 64", version="TLSv1.2")
    data = os.urandom(300 * 1024)
    srv.home_file("f.bin", data)
    counter = Counter()
    f = client(srv, counting_context(counter, "1.2"))
    try:
        time.sleep(1.1)
        assert sha256(retr_bytes(f, "f.bin")) == sha256(data)
    finally:
        close_quietly(f)
    assert counter.count(HELLO_REQUEST) == 0, \
        "TLS 1.2 connection got a HelloRequest (renegotiation)"
    log = ftpsd_log(srv)
    assert "keys are never renegotiated" in log, \
        "TLSLog does not say TLS 1.2 is not renegotiated:\n%s" % log[-2000:]


def test_rekey_curl_lftp(ctx):
    """Real clients follow the new keys: curl (OpenSSL) and lftp (GnuTLS),
    download and upload of 8 MiB under 'data 16'.  Unspaced, the 512 key
    updates of such a download make GnuTLS drop the connection."""
    ctx.need("curl", "lftp")
    srv = rekey_server(ctx, "data 16")
    data = os.urandom(8 << 20)
    srv.home_file("down.bin", data)
    src = srv.client_file("src.bin", data)

    out = os.path.join(srv.client_dir, "curl.bin")
    p = curl(srv, "/down.bin", version="1.3", output=out)
    assert p.returncode == 0, "curl RETR: %s" % describe(p)
    assert ftpsd.sha256_file(out) == sha256(data), "curl RETR: bytes differ"
    p = curl(srv, "/curl-up.bin", version="1.3", upload=src)
    assert p.returncode == 0, "curl STOR: %s" % describe(p)
    assert ftpsd.sha256_file(os.path.join(srv.home, "curl-up.bin")) == \
        sha256(data), "curl STOR: bytes differ"

    got = os.path.join(srv.client_dir, "lftp.bin")
    p = lftp(srv, ["set net:max-retries 0",
                   "get down.bin -o %s" % got,
                   "put %s -o lftp-up.bin" % src])
    assert p.returncode == 0, "lftp get/put under key updates: %s" \
        % describe(p)
    assert ftpsd.sha256_file(got) == sha256(data), "lftp get: bytes differ"
    assert ftpsd.sha256_file(os.path.join(srv.home, "lftp-up.bin")) == \
        sha256(data), "lftp put: bytes differ"
    assert "key updates" in ftpsd_log(srv), "no key update was logged"


def ftpsd_log(srv):
    try:
        with open(srv.tls_log, errors="replace") as f:
            return f.read()
    except OSError:
        return ""
