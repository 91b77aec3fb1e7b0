"""Kernel TLS (FTPSKernelTLS): protected data connections are offered to
the kernel's `tls` ULP where the kernel has it, and every data connection's
TLSLog line says which path its records took.

The expected path is what this kernel can do, asked the same way the
module asks (TCP_ULP "tls" on a loopback connection): on a kernel with the
tls module, TLS 1.2 data connections go to the kernel both ways and TLS 1.3
ones at least for what the server sends (OpenSSL 3.0 offloads TLS 1.3
sending only); on a kernel without it, every connection stays in user space
and the log names the reason.  contrib/ktls-vm boots a kernel that has the
module, to run this file on both kinds.  Either way the bytes must arrive
intact, with curl (OpenSSL), lftp (GnuTLS) and Python ftplib.
"""

import functools
import io
import os
import socket

import ftpsd
from clients import close_quietly, curl, describe, ftps, lftp, retr_bytes
from ftpsd import sha256, tls_log_since

TCP_ULP = 31


@functools.lru_cache(maxsize=None)
def kernel_offers_tls():
    """Does this kernel accept the tls ULP on a TCP connection?  (Asked
    once: the answer does not change while the suite runs.)"""
    lsock = socket.socket()
    try:
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(1)
        c = socket.create_connection(lsock.getsockname())
        s, _ = lsock.accept()
        try:
            s.setsockopt(socket.IPPROTO_TCP, TCP_ULP, b"tls")
            return True
        except OSError:
            return False
        finally:
            s.close()
            c.close()
    finally:
        lsock.close()


def path_lines(log):
    return [l for l in log.splitlines() if "data connection protected" in l]


def expected_path(version):
    """What a data connection's log line must say, on this kernel."""
    if not kernel_offers_tls():
        return "user-space TLS (kernel TLS unavailable: "
    return "kernel TLS (send and receive)" if version == "1.2" else \
        "kernel TLS send"


def check_paths(log, version, kinds, what):
    """kinds: "down" or "up" per data connection, in order.  A download on
    a kernel-TLS connection goes by sendfile (the kernel encrypts it); an
    upload, or any user-space connection, never does."""
    lines = path_lines(log)
    assert len(lines) == len(kinds), \
        "%s: want %d 'data connection protected' lines, got %r" \
        % (what, len(kinds), lines)
    want = expected_path(version)
    for line, kind in zip(lines, kinds):
        assert ("TLSv%s" % version) in line and want in line, \
            "%s: data connection line should say %r (kernel offers tls " \
            "ULP: %s), got %r" % (what, want, kernel_offers_tls(), line)
        by_sendfile = "(files by sendfile)" in line
        assert by_sendfile == (kind == "down" and kernel_offers_tls()), \
            "%s: %s connection %s sendfile: %r" \
            % (what, kind, "uses" if by_sendfile else "does not use", line)


def test_ktls_paths_curl_lftp_ftplib(ctx):
    """TLS 1.2 and 1.3: a 3 MiB download and upload with curl, lftp and
    ftplib arrive intact, and each data connection logs its path.  Where
    downloads go by sendfile, the clients' decryption of every byte proves
    the kernel encrypted them."""
    data = os.urandom((3 << 20) + 5)
    for version in ("1.2", "1.3"):
        srv = ctx.server(tls={"TLSProtocol": "TLSv" + version})
        srv.home_file("big.bin", data)
        src = os.path.join(srv.client_dir, "src.bin")
        with open(src, "wb") as fh:
            fh.write(data)

        mark = srv.log_mark()
        out = os.path.join(srv.client_dir, "curl.bin")
        p = curl(srv, "/big.bin", version=version, output=out)
        assert p.returncode == 0, "curl RETR: %s" % describe(p)
        p = curl(srv, "/curl-up.bin", version=version, upload=src)
        assert p.returncode == 0, "curl STOR: %s" % describe(p)
        check_paths(tls_log_since(srv, mark), version, ["down", "up"],
                    "curl TLS %s" % version)

        mark = srv.log_mark()
        p = lftp(srv, ["get big.bin -o %s" % os.path.join(srv.client_dir,
                                                          "lftp.bin"),
                       "put %s -o lftp-up.bin" % src], version=version)
        assert p.returncode == 0, "lftp get/put: %s" % describe(p)
        check_paths(tls_log_since(srv, mark), version, ["down", "up"],
                    "lftp TLS %s" % version)

        mark = srv.log_mark()
        f = ftps(srv, version=version)
        try:
            got = retr_bytes(f, "big.bin")
            f.storbinary("STOR py-up.bin", io.BytesIO(data))
        finally:
            close_quietly(f)
        assert sha256(got) == sha256(data), "ftplib RETR differs"
        check_paths(tls_log_since(srv, mark), version, ["down", "up"],
                    "ftplib TLS %s" % version)

        for name in ("curl.bin", "lftp.bin"):
            with open(os.path.join(srv.client_dir, name), "rb") as fh:
                assert sha256(fh.read()) == sha256(data), \
                    "TLS %s: %s download differs" % (version, name)
        for name in ("curl-up.bin", "lftp-up.bin", "py-up.bin"):
            with open(os.path.join(srv.home, name), "rb") as fh:
                assert sha256(fh.read()) == sha256(data), \
                    "TLS %s: upload %s differs" % (version, name)


def test_ktls_off(ctx):
    """FTPSKernelTLS off: user space, said so, whatever the kernel offers."""
    srv = ctx.server(extra=["FTPSKernelTLS off"])
    data = os.urandom(1 << 20)
    srv.home_file("f.bin", data)
    mark = srv.log_mark()
    f = ftps(srv)
    try:
        assert sha256(retr_bytes(f, "f.bin")) == sha256(data)
    finally:
        close_quietly(f)
    lines = path_lines(tls_log_since(srv, mark))
    assert len(lines) == 1 and "user-space TLS (FTPSKernelTLS off)" in \
        lines[0], "FTPSKernelTLS off: want 'user-space TLS (FTPSKernelTLS " \
        "off)', got %r" % lines


def test_ktls_startup_says_which(ctx):
    """The daemon says once, at startup, whether the kernel offers TLS."""
    srv = ctx.server()
    log = ftpsd.read_text(srv.stderr_path)
    want = "kernel TLS available" if kernel_offers_tls() else \
        "kernel TLS unavailable (the kernel offers no tls ULP"
    assert want in log, "startup log lacks %r:\n%s" % (want, log[-1500:])


def test_ktls_directive_values(ctx):
    """FTPSKernelTLS takes on|off only; anything else stops the startup
    naming the directive."""
    srv = ctx.server(extra=["FTPSKernelTLS maybe"], start=False)
    rc, out = ftpsd.check_config(srv)
    assert rc != 0 and "FTPSKernelTLS" in out, \
        "FTPSKernelTLS maybe: want a refused configuration naming the " \
        "directive, got rc %d: %s" % (rc, out[-800:])


def test_ktls_rekey(ctx):
    """TLSRenegotiate data with kernel TLS: OpenSSL 3.0 cannot give the
    kernel new keys, so a kernel-TLS connection keeps its keys and still
    arrives intact: a binary download (by sendfile, past OpenSSL) has no
    key update at all, an ASCII one (through OpenSSL) logs why it has none.
    In user space the keys are updated as usual."""
    srv = ctx.server(tls={"TLSProtocol": "TLSv1.3"},
                     extra=["TLSRenegotiate data 256"])
    # no CR or LF: an ASCII transfer leaves these bytes as they are
    data = bytes(b for b in os.urandom(3 << 20) if b not in (10, 13))
    srv.home_file("f.bin", data)
    for ascii_mode in (False, True):
        mark = srv.log_mark()
        out = os.path.join(srv.client_dir, "f.bin")
        p = curl(srv, "/f.bin", version="1.3", output=out,
                 extra=["--use-ascii"] if ascii_mode else [])
        what = "ASCII" if ascii_mode else "binary"
        assert p.returncode == 0, "curl %s RETR: %s" % (what, describe(p))
        with open(out, "rb") as fh:
            assert sha256(fh.read()) == sha256(data), \
                "%s download differs" % what
        log = tls_log_since(srv, mark)
        if not kernel_offers_tls():
            assert "TLS 1.3 key updates" in log, \
                "user-space %s download under TLSRenegotiate data 256: no " \
                "key updates logged:\n%s" % (what, log)
            continue
        assert "TLS 1.3 key updates" not in log, \
            "kernel TLS %s download got key updates:\n%s" % (what, log)
        if ascii_mode:
            assert "kernel TLS keys are not updated" in log, \
                "kernel TLS ASCII download under TLSRenegotiate: no note " \
                "why keys stay:\n%s" % log
