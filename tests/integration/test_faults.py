"""Faults (issue 13): clients killed in the middle of a transfer, a full
disk, a certificate file turned to garbage, a TLSLog that cannot be
written, MaxInstances reached during a handshake.  Each ends with a second
client's whole session on the same daemon (test_hostile.serves).

Covered elsewhere: a data connection cut without close_notify, with and
without DeleteAbortedStores and HiddenStores (test_store_promises
test_store_cut_after_data, test_store_cut_before_data_*); a download whose
final close_notify cannot be sent (test_data_promises
test_promise_close_notify_unsent_is_426_*)."""

import errno
import io
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import ftpsd
from clients import close_quietly, context, expect, ftps, peer_cert_der
from ftpsd import Skip, cert
from test_hostile import (auth_tls, children, client_hello,
                          closed_without_reply, fd_count, serves, wait_gone,
                          wait_session)

DAS = ["DeleteAbortedStores on"]


def _xferlog_server(ctx, extra=()):
    """A server of the test's own with a TransferLog (xferlog format)."""
    srv = ctx.server(extra=list(extra), start=False, shared=False)
    xferlog = os.path.join(srv.dir, "xferlog")
    srv.replace_conf("TransferLog", "TransferLog " + xferlog)
    srv.start()
    return srv, xferlog


def _xfer_entries(path, name):
    """(direction, completion) of the xferlog lines for file name: the
    direction is 'i' (upload) or 'o', the completion 'c' or 'i'."""
    out = []
    for line in ftpsd.read_text(path).splitlines():
        f = line.split()
        if len(f) >= 18 and f[8].endswith("/" + name):
            out.append((f[11], f[-1]))
    return out


def _wait(pred, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def _login_prot_p(srv):
    """A logged-in Raw client, PROT P, TYPE I; and its session's pid."""
    before = children(srv)
    r = auth_tls(srv)
    pid = wait_session(srv, before)
    r.starttls()
    r.login()
    expect(r.cmd("PBSZ 0"), 200, "PBSZ 0")
    expect(r.cmd("PROT P"), 200, "PROT P")
    expect(r.cmd("TYPE I"), 200, "TYPE I")
    return r, pid


# -- killed mid-transfer -----------------------------------------------------

def _child_transfer(r, upload, notify):
    """In a forked child: TLS on the data socket (resuming the control
    session), then send forever (upload) or read slowly (download); one
    byte on notify once 256 KiB went through.  Never returns."""
    code = 0
    try:
        d = r.data_sock
        d = r.sock.context.wrap_socket(d, server_hostname="localhost",
                                       session=r.sock.session)
        moved, told = 0, False
        chunk = os.urandom(64 * 1024)
        while True:
            if upload:
                d.sendall(chunk)
                moved += len(chunk)
            else:
                got = d.recv(16384)
                if not got:
                    break
                moved += len(got)
                time.sleep(0.01)
            if moved >= 256 * 1024 and not told:
                os.write(notify, b"x")
                told = True
    except BaseException:
        code = 1
    os._exit(code)


def _killed_transfer(r, cmd, upload):
    """cmd over PASV, its data connection in a child process that is
    SIGKILLed mid-transfer; the final reply."""
    r.data_sock = r.pasv()
    r.send(cmd + "\r\n")
    expect(r.reply(), (125, 150), cmd)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        _child_transfer(r, upload, wr)
    os.close(wr)
    r.data_sock.close()     # the child's copy is the only one left
    try:
        import select
        ready, _, _ = select.select([rd], [], [], 30)
        assert ready, "%s: the child moved no 256 KiB in 30 s" % cmd
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(rd)
    r.sock.settimeout(60)
    return r.reply()


def test_fault_client_killed_mid_transfer(ctx):
    """Three uploads and three downloads whose data connection's process is
    SIGKILLed mid-transfer: each gets a 4xx reply, TransferLog records each
    as incomplete, TLSLog says the connection ended without close_notify,
    DeleteAbortedStores removes the partial uploads, and the session holds
    as many descriptors after as before; it then transfers normally."""
    srv, xferlog = _xferlog_server(ctx, DAS)
    srv.home_file("big.bin", size=64 << 20)
    mark = srv.log_mark()
    r, pid = _login_prot_p(srv)
    try:
        expect(r.cmd("NOOP"), 200, "NOOP")
        fds = fd_count(pid)
        for i in range(3):
            name = "up%d.bin" % i
            reply = _killed_transfer(r, "STOR " + name, upload=True)
            assert 400 <= reply[0] < 500, \
                "STOR %s, its client killed: %r" % (name, reply)
            assert not os.path.exists(os.path.join(srv.home, name)), \
                "DeleteAbortedStores on: the partial %s is left" % name
            reply = _killed_transfer(r, "RETR big.bin", upload=False)
            assert 400 <= reply[0] < 500, \
                "RETR big.bin, its client killed: %r" % (reply,)
            expect(r.cmd("NOOP"), 200, "NOOP after the killed transfers")
        assert fd_count(pid) == fds, \
            "the session holds %d descriptors after 6 killed transfers, " \
            "%d before: %s" % (fd_count(pid), fds,
                               os.listdir("/proc/%d/fd" % pid))
    finally:
        r.close()
    for i in range(3):
        assert _xfer_entries(xferlog, "up%d.bin" % i) == [("i", "i")], \
            "TransferLog for the killed upload up%d.bin: %r\n%s" \
            % (i, _xfer_entries(xferlog, "up%d.bin" % i),
               ftpsd.read_text(xferlog))
    downs = _xfer_entries(xferlog, "big.bin")
    assert downs == [("o", "i")] * 3, \
        "TransferLog for the 3 killed downloads: %r" % downs
    log = ftpsd.tls_log_since(srv, mark)
    n = log.count("data connection: connection closed without close_notify")
    assert n >= 3, "TLSLog: %d data connections ended without " \
        "close_notify, want at least the 3 uploads:\n%s" % (n, log)
    # a download whose write failed was never complete: no close_notify is
    # due, nor a "final" one missed
    assert "final close_notify" not in log, log
    serves(srv)


def test_fault_whole_client_killed(ctx):
    """curl SIGKILLed mid-upload and mid-download (control and data
    connections gone at once), three times each: the sessions end, the
    partial uploads are removed (DeleteAbortedStores), TransferLog says
    incomplete, and the master holds as many descriptors as before."""
    ctx.need("curl")
    srv, xferlog = _xferlog_server(ctx, DAS)
    srv.home_file("big.bin", size=64 << 20)
    local = srv.client_file("local.bin", size=64 << 20)
    master = srv.proc.pid
    fds = fd_count(master)
    for i in range(3):
        for up in (True, False):
            name = "cu%d.bin" % i
            argv = ["curl", "-sS", "--ssl-reqd", "-k", "--limit-rate", "2M",
                    "--user", "%s:%s" % (srv.user, srv.password)]
            if up:
                argv += ["-T", local, "ftp://%s:%d/%s" % (srv.host, srv.port,
                                                          name)]
            else:
                argv += ["-o", os.devnull, "ftp://%s:%d/big.bin"
                         % (srv.host, srv.port)]
            before = children(srv)
            mark = srv.log_mark()
            p = subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            try:
                sess = wait_session(srv, before)
                path = os.path.join(srv.home, name)
                if up:
                    assert _wait(lambda: os.path.exists(path) and
                                 os.path.getsize(path) > 256 * 1024), \
                        "curl's upload did not start"
                else:
                    assert _wait(lambda: any(
                        who == str(sess) and m.startswith(
                            "data connection protected")
                        for who, m in ftpsd.tls_messages(srv, mark))), \
                        "curl's download did not start"
                    time.sleep(0.5)
            finally:
                p.kill()
                p.wait(timeout=10)
            assert wait_gone([sess]) == [], \
                "the session of a killed curl still runs 20 s later"
            if up:
                assert not os.path.exists(path), \
                    "DeleteAbortedStores on: the partial %s is left" % name
    for i in range(3):
        assert _xfer_entries(xferlog, "cu%d.bin" % i) == [("i", "i")], \
            "TransferLog for curl's killed upload cu%d.bin: %r" \
            % (i, _xfer_entries(xferlog, "cu%d.bin" % i))
    assert _xfer_entries(xferlog, "big.bin") == [("o", "i")] * 3, \
        "TransferLog for curl's killed downloads: %r" \
        % _xfer_entries(xferlog, "big.bin")
    serves(srv)
    assert wait_gone(children(srv)) == []
    assert fd_count(master) == fds, \
        "the master holds %d descriptors after 6 killed clients, %d " \
        "before" % (fd_count(master), fds)


# -- disk full during STOR ---------------------------------------------------

def _mount_tmpfs(path, size, uid=ftpsd.UID):
    res = subprocess.run(["mount", "-t", "tmpfs", "-o",
                          "size=%s,mode=0755,uid=%d,gid=%d" % (size, uid,
                                                               uid),
                          "tmpfs", path], capture_output=True, text=True,
                         timeout=30)
    if res.returncode != 0:
        raise Skip("cannot mount a tmpfs here (needed for a full disk): %s"
                   % res.stderr.strip())


def _umount(path):
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def test_fault_disk_full_during_stor(ctx):
    """The user's home is a 1 MiB tmpfs: a 3 MiB STOR gets 452 or 552 (RFC
    959: insufficient storage), never 226, TransferLog says incomplete; the
    control session stays usable (NOOP, DELE, a small STOR and RETR)."""
    srv = ctx.server(start=False, shared=False)
    _mount_tmpfs(srv.home, "1m")
    try:
        xferlog = os.path.join(srv.dir, "xferlog")
        srv.replace_conf("TransferLog", "TransferLog " + xferlog)
        srv.start()
        r, pid = _login_prot_p(srv)
        try:
            d = r.pasv()
            r.send("STOR full.bin\r\n")
            expect(r.reply(), (125, 150), "STOR full.bin")
            d = r.sock.context.wrap_socket(d, server_hostname="localhost",
                                           session=r.sock.session)
            data = os.urandom(3 << 20)
            try:
                d.sendall(data)
                d.unwrap()
            except (ssl.SSLError, OSError):
                pass
            d.close()
            r.sock.settimeout(60)
            reply = r.reply()
            assert reply[0] in (452, 552), \
                "STOR onto a full disk: %r (want 452 or 552)" % (reply,)
            expect(r.cmd("NOOP"), 200, "NOOP after the full disk")
            code, _ = r.cmd("DELE full.bin")
            assert code in (250, 550), code
            small = os.urandom(5000)
            d = r.pasv()
            r.send("STOR small.bin\r\n")
            expect(r.reply(), (125, 150), "STOR small.bin")
            d = r.sock.context.wrap_socket(d, server_hostname="localhost",
                                           session=r.sock.session)
            d.sendall(small)
            d.unwrap()
            d.close()
            expect(r.reply(), 226, "STOR small.bin after the full disk")
        finally:
            r.close()
        with open(os.path.join(srv.home, "small.bin"), "rb") as f:
            assert f.read() == small
        entries = [e for e in _xfer_entries(xferlog, "full.bin")
                   if e[0] != "d"]     # DELE's line
        assert entries == [("i", "i")], \
            "TransferLog for the STOR onto a full disk: %r\n%s" \
            % (entries, ftpsd.read_text(xferlog))
        os.unlink(os.path.join(srv.home, "small.bin"))
        serves(srv)
    finally:
        srv.stop()
        _umount(srv.home)


# -- the certificate file replaced by garbage --------------------------------

def _roundtrip(f, name):
    data = os.urandom(200000)
    f.storbinary("STOR " + name, io.BytesIO(data))
    buf = []
    f.retrbinary("RETR " + name, buf.append)
    assert b"".join(buf) == data, "the running session's RETR differs"


def test_fault_certificate_file_replaced_by_garbage(ctx):
    """Overwriting the certificate file with garbage while the daemon runs
    changes nothing for a running session (its transfers) nor for new ones
    (same certificate).  A restart (SIGHUP) then reads it: the log names
    the file, the daemon keeps serving its last good certificate (issue
    14: a bad renewal is no outage), and the running session still
    transfers."""
    srv = ctx.server(start=False, shared=False)
    pem = os.path.join(srv.dir, "server.pem")
    shutil.copy(cert(), pem)
    os.chmod(pem, 0o600)
    srv.replace_conf("TLSRSACertificateFile", "TLSRSACertificateFile " + pem)
    srv.start()
    want = peer_cert_der(srv, context())
    f = ftps(srv)
    try:
        with open(pem, "wb") as out:
            out.write(b"-----BEGIN CERTIFICATE-----\n" + os.urandom(700)
                      + b"\n-----END CERTIFICATE-----\n")
        _roundtrip(f, "run.bin")
        assert peer_cert_der(srv, context()) == want, \
            "a new session got another certificate after the file changed"
        serves(srv, what="after the certificate file became garbage")
        mark = srv.log_mark()
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 30
        while not ftpsd.line_with(srv.log_since(mark, n=50),
                                  "keeps its last good certificate"):
            assert srv.running(), "the master exited on a SIGHUP with a " \
                "garbage certificate file:\n%s" % srv.log_since(mark, n=50)
            assert time.time() < deadline, srv.log_since(mark, n=50)
            time.sleep(0.1)
        err = srv.log_since(mark, n=50)
        assert ftpsd.line_with(err, "TLSRSACertificateFile", pem), err
        srv.wait_listening(srv.port)
        _roundtrip(f, "after-hup.bin")
        serves(srv, what="after a SIGHUP with a garbage certificate file")
        assert peer_cert_der(srv, context()) == want, \
            "a new session got another certificate after the SIGHUP"
    finally:
        close_quietly(f)


# -- the TLSLog cannot be written --------------------------------------------

def test_fault_tlslog_is_a_directory(ctx):
    """A directory where the TLSLog should be: the system log says the
    TLSLog cannot be opened, naming it; the daemon serves."""
    srv = ctx.server(start=False, shared=False)
    os.mkdir(srv.tls_log)
    srv.start()
    serves(srv)
    err = ftpsd.read_text(srv.stderr_path)
    assert ftpsd.line_with(err, "TLSLog", srv.tls_log, "cannot open"), \
        "the system log does not say the TLSLog cannot be opened:\n%s" \
        % err[-2000:]


def _fill(path):
    """Fill the filesystem of directory path; the filler's name."""
    filler = os.path.join(path, "filler")
    block = b"\0" * 4096
    with open(filler, "wb", buffering=0) as f:
        while True:
            try:
                f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
    return filler


def test_fault_tlslog_on_a_full_disk(ctx):
    """The TLSLog's filesystem fills up while the daemon runs: sessions go
    on, the system log says TLSLog lines are lost (once per session, not
    once per line); once there is room, TLSLog lines come back."""
    srv = ctx.server(start=False, shared=False)
    logdir = os.path.join(srv.dir, "logs")
    os.mkdir(logdir, 0o755)
    _mount_tmpfs(logdir, "64k", uid=0)
    try:
        srv.replace_conf("TLSLog", "TLSLog " + os.path.join(logdir,
                                                            "tls.log"))
        srv.tls_log = os.path.join(logdir, "tls.log")
        srv.start()
        serves(srv, what="before the disk is full")
        # pad the log to a whole page: its next line needs a new one
        size = os.path.getsize(srv.tls_log)
        with open(srv.tls_log, "ab") as f:
            f.write(b"#" * (4095 - size % 4096) + b"\n")
        filler = _fill(logdir)
        mark = srv.log_mark()
        serves(srv, what="with the TLSLog's disk full")
        serves(srv, what="with the TLSLog's disk full (2)")
        err = srv.log_since(mark, n=200)
        lost = [l for l in err.splitlines()
                if "TLSLog: cannot write: No space left on device" in l]
        assert len(lost) == 2, \
            "two sessions with the TLSLog's disk full: want one system log " \
            "line each, got %d:\n%s" % (len(lost), err)
        assert os.path.getsize(srv.tls_log) % 4096 == 0, \
            "the TLSLog grew on a full disk?"
        os.unlink(filler)
        mark = srv.log_mark()
        serves(srv, what="after room came back")
        assert "control connection protected" in \
            ftpsd.tls_log_since(srv, mark), "no TLSLog line after room " \
            "came back"
    finally:
        srv.stop()
        _umount(logdir)


# -- MaxInstances during a TLS handshake -------------------------------------

def test_fault_max_instances_during_handshake(ctx):
    """MaxInstances 2: one client stalls in its handshake, another is
    logged in; a third connection is refused by the master without a
    session (no 220); the logged-in one goes on; once the stalled
    handshake times out (TLSTimeoutHandshake 8), its slot serves a whole
    new session."""
    srv = ctx.server({"TLSTimeoutHandshake": "8"},
                     extra=["MaxInstances 2"], shared=False)
    mark = srv.log_mark()
    stalled = auth_tls(srv)
    stalled.send(client_hello("1.3")[:40])
    f = ftps(srv)
    try:
        assert len(children(srv)) == 2, children(srv)
        third = socket.create_connection((srv.host, srv.port), timeout=10)
        try:
            third.settimeout(10)
            data = b""
            try:
                while True:
                    chunk = third.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            except (socket.timeout, OSError):
                pass
        finally:
            third.close()
        assert data == b"", \
            "a third connection over MaxInstances 2 got %r (want it closed " \
            "without a byte)" % data
        f.storbinary("STOR m.bin", io.BytesIO(b"m" * 70000))
        f.voidcmd("NOOP")
    finally:
        close_quietly(f)
    closed, data = closed_without_reply(stalled.sock)
    stalled.close()
    assert closed, "the stalled handshake was not closed (TLSTimeoutHandshake)"
    assert wait_gone(children(srv)) == []
    serves(srv, what="after the stalled handshake's slot came free")
    err = srv.log_since(mark, n=200)
    assert "MaxInstances (2) reached, new connection denied" in err, err
    assert "TLS handshake timed out after 8 seconds" in err, err


# -- a read error on the file in the middle of a download --------------------

# While CUT_FILE exists, read(2) of a regular file fails with EIO (a disk
# that fails under a download).
EIO_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

ssize_t read(int fd, void *buf, size_t len) {
  static ssize_t (*real)(int, void *, size_t);
  struct stat st;

  if (real == NULL) {
    real = (ssize_t (*)(int, void *, size_t)) dlsym(RTLD_NEXT, "read");
  }
  if (access(CUT_FILE, F_OK) == 0 &&
      fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 1000000) {
    errno = EIO;
    return -1;
  }
  return real(fd, buf, len);
}
"""


def test_fault_read_error_mid_download(ctx):
    """The file's disk fails in the middle of a download (read(2) gets EIO,
    injected): the reply is 451, and the data connection must not end with
    close_notify, or the client's TLS would call the cut file complete."""
    from test_data_promises import _shim_server, _data_read
    srv, trigger = _shim_server(ctx, EIO_SHIM, tls={})
    size = 16 << 20
    srv.home_file("eio.bin", size=size)
    r, _ = _login_prot_p(srv)
    try:
        tctx = r.sock.context
        tctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
        d = r.pasv()
        r.send("RETR eio.bin\r\n")
        expect(r.reply(), (125, 150), "RETR eio.bin")
        d = tctx.wrap_socket(d, server_hostname="localhost",
                             session=r.sock.session,
                             suppress_ragged_eofs=False)
        got = len(d.recv(65536))
        open(trigger, "w").close()
        more, end = _data_read(d)
        got += more
        d.close()
        r.sock.settimeout(30)
        reply = r.reply()
        os.unlink(trigger)
        after = r.cmd("NOOP")
    finally:
        r.close()
    assert got < size, "the whole file arrived despite the read error"
    assert reply[0] == 451, "RETR with a read error: %r (want 451)" % (reply,)
    assert end != "close_notify", \
        "a download cut by a read error after %d of %d bytes ended with " \
        "close_notify (reply %r): the client's TLS calls it complete" \
        % (got, size, reply)
    assert after[0] == 200, after
    serves(srv)
