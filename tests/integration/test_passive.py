"""Passive mode under TLS: TLSMasqueradeAddress in FTPS PASV replies (and
not in plain FTP ones), and a small PassivePorts range shared by several
concurrent TLS sessions."""

import ftplib
import io
import os
import re
import socket
import threading

from clients import (Raw, ReusingFTP_TLS, expect, ftps, close_quietly,
                     retr_bytes)
import ftpsd
from ftpsd import sha256, sha256_file

MASQ = "192.0.2.10"
PASV_RE = re.compile(r"\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)")


def _pasv_addr(text):
    m = PASV_RE.search(text)
    assert m, "no address in PASV reply %r" % text
    n = [int(x) for x in m.groups()]
    return "%d.%d.%d.%d" % tuple(n[:4]), n[4] * 256 + n[5]


# -- TLSMasqueradeAddress ------------------------------------------------------

def _masq_server(ctx):
    srv = ctx.server({"TLSRequired": "off"},
                     extra=["TLSMasqueradeAddress " + MASQ])
    srv.home_file("m.txt", b"masquerade\n")
    return srv


def test_masquerade_ftps_pasv(ctx):
    srv = _masq_server(ctx)
    with Raw(srv) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.starttls()
        r.login()
        addr, _ = _pasv_addr(expect(r.cmd("PASV"), 227, "PASV over FTPS"))
        assert addr == MASQ, \
            "FTPS PASV advertises %s, want TLSMasqueradeAddress %s" \
            % (addr, MASQ)
        text = expect(r.cmd("EPSV"), 229, "EPSV over FTPS")
        assert re.search(r"\(\|\|\|\d+\|\)", text), "EPSV reply %r" % text


def test_masquerade_ftps_transfers(ctx):
    """PASV data still reaches the server on loopback (ftplib connects to
    the control address), EPSV too; PROT P and PROT C."""
    srv = _masq_server(ctx)
    for mode in ("epsv", "pasv"):
        f = ftps(srv, mode=mode)
        try:
            assert "m.txt" in f.nlst(), "NLST over %s (PROT P)" % mode
            assert retr_bytes(f, "m.txt") == b"masquerade\n", \
                "RETR over %s (PROT P)" % mode
            f.prot_c()
            assert retr_bytes(f, "m.txt") == b"masquerade\n", \
                "RETR over %s (PROT C)" % mode
        except (ftplib.Error, OSError, EOFError) as e:
            raise AssertionError("FTPS with TLSMasqueradeAddress, %s: %s: %s"
                                 % (mode.upper(), type(e).__name__, e))
        finally:
            close_quietly(f)


def test_masquerade_plain_ftp_pasv(ctx):
    srv = _masq_server(ctx)
    with Raw(srv) as r:
        r.login()
        addr, _ = _pasv_addr(expect(r.cmd("PASV"), 227, "PASV in plain FTP"))
        assert addr == "127.0.0.1", \
            "plain FTP PASV advertises %s, want 127.0.0.1 (the " \
            "TLSMasqueradeAddress is for FTPS sessions only)" % addr
    f = ftplib.FTP(timeout=10)
    f.connect(srv.host, srv.port)
    try:
        f.login(srv.user, srv.password)
        assert "m.txt" in f.nlst(), "plain FTP NLST over PASV"
    finally:
        close_quietly(f)


# -- PassivePorts and concurrent TLS sessions -----------------------------------

# Four sessions share the range: a PASV finds a free port only among those
# no other session's listener holds (ProFTPD gives up after a few tries,
# "425 Address already in use", seen with 6 ports on a loaded machine).
N_PORTS = 10
N_SESSIONS = 4
N_RETR = 10
N_STOR = 5
SIZE = 256 * 1024


def _free_range(width):
    """width consecutive ports on 127.0.0.1 that can all be bound now,
    outside the ephemeral ports (ftpsd.port_span)."""
    import random
    a, b = ftpsd.port_span()
    for _ in range(200):
        lo = random.randrange(a, b - width)
        socks = []
        try:
            for p in range(lo, lo + width):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return lo, lo + width - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free range of %d ports" % width)


class PortLogFTP_TLS(ReusingFTP_TLS):
    """Remembers the port of every PASV reply."""

    def makepasv(self):
        host, port = ftplib.parse227(self.sendcmd("PASV"))
        self.pasv_ports.append(port)
        return self.host, port


def test_passive_ports_concurrent_tls(ctx):
    srv = ctx.server(start=False, shared=False)
    lo, hi = _free_range(N_PORTS)
    srv.replace_conf("PassivePorts", "PassivePorts %d %d" % (lo, hi))
    srv.start()
    data = os.urandom(SIZE)
    srv.home_file("pp.bin", data)
    errors = []
    ports = []
    uploads = {}
    lock = threading.Lock()

    def worker(n):
        f = None
        step = "login"
        try:
            f = ftps(srv, cls=PortLogFTP_TLS, login=False, prot_p=False)
            f.pasv_ports = []
            f.login(srv.user, srv.password)
            f.prot_p()
            for i in range(N_RETR):
                step = "RETR #%d" % (i + 1)
                got = retr_bytes(f, "pp.bin")
                if sha256(got) != sha256(data):
                    raise AssertionError("%d bytes, sha mismatch" % len(got))
                if i % 2 == 1 and i // 2 < N_STOR:
                    step = "STOR #%d" % (i // 2 + 1)
                    up = os.urandom(SIZE // 2 + 1000 * n + i)
                    name = "pp-%d-%d.bin" % (n, i)
                    f.storbinary("STOR " + name, io.BytesIO(up))
                    with lock:
                        uploads[name] = sha256(up)
        except Exception as e:
            with lock:
                errors.append("session %d, %s: %s: %s"
                              % (n, step, type(e).__name__, e))
        finally:
            if f is not None:
                with lock:
                    ports.extend(getattr(f, "pasv_ports", []))
                close_quietly(f)

    threads = [threading.Thread(target=worker, args=(n,))
               for n in range(N_SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "sessions still running"
    assert not errors, "PassivePorts %d-%d, %d TLS sessions:\n%s" \
        % (lo, hi, N_SESSIONS, "\n".join(errors))
    assert len(uploads) == N_SESSIONS * N_STOR, uploads
    for name, h in uploads.items():
        assert sha256_file(os.path.join(srv.home, name)) == h, \
            "%s differs on the server" % name
    want = N_SESSIONS * (N_RETR + N_STOR)
    assert len(ports) == want, "%d PASV replies, want %d" % (len(ports), want)
    outside = sorted(set(p for p in ports if not lo <= p <= hi))
    assert not outside, "PASV ports outside PassivePorts %d-%d: %r" \
        % (lo, hi, outside)
