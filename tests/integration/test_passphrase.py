"""Encrypted private keys without TLSPassPhraseProvider: the daemon asks at
its terminal when started by hand (as mod_tls does), remembers what was
typed for restarts (SIGHUP has no terminal), and without a terminal fails
at once instead of hanging.

The terminal is a pseudo-terminal (pty.fork): proftpd -n runs in the child
with the pty as its standard input and output.
"""

import os
import pty
import select
import signal
import time

import ftpsd
from clients import ftps, close_quietly, retr_bytes
from ftpsd import sha256

PROMPT = b"Enter the passphrase of the EC key"


def _server(ctx):
    certs = ftpsd.certs()
    srv = ftpsd.Server(ctx.module, keep=ctx.keep, tls={
        "TLSRSACertificateFile": None,
        "TLSECCertificateFile": os.path.join(certs, "ec.crt"),
        "TLSECCertificateKeyFile": os.path.join(certs, "encrypted.key"),
    })
    ctx.own.append(srv)
    return srv


class Terminal:
    """proftpd -n on a pseudo-terminal."""

    def __init__(self, srv):
        self.srv = srv
        self.out = b""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            env = ftpsd.daemon_env()
            os.execve(ftpsd.PROFTPD, [ftpsd.PROFTPD, "-n", "-c", srv.conf],
                      env)

    def read_until(self, needle, timeout=15):
        end = time.time() + timeout
        while needle not in self.out and time.time() < end:
            r, _, _ = select.select([self.fd], [], [], 0.2)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.out += chunk
        return needle in self.out

    def type(self, line):
        # Let OpenSSL switch echo off first (it prints the prompt before).
        time.sleep(0.3)
        os.write(self.fd, line.encode() + b"\n")

    def alive(self):
        return os.waitpid(self.pid, os.WNOHANG) == (0, 0)

    def stop(self):
        try:
            os.kill(self.pid, signal.SIGTERM)
            os.waitpid(self.pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(self.fd)


def _serves(srv):
    data = os.urandom(20000)
    srv.home_file("p.bin", data)
    f = ftps(srv)
    try:
        assert sha256(retr_bytes(f, "p.bin")) == sha256(data), \
            "RETR p.bin: bytes differ"
    finally:
        close_quietly(f)


def test_passphrase_prompt_and_restart(ctx):
    srv = _server(ctx)
    term = Terminal(srv)
    try:
        assert term.read_until(PROMPT), \
            "no passphrase prompt on the terminal:\n%r" % term.out[-800:]
        assert b"encrypted.key" in term.out, "the prompt names no key file"
        term.type("secret")
        srv.wait_listening(srv.port)
        _serves(srv)
        tls_log = open(srv.tls_log, "rb").read() \
            if os.path.exists(srv.tls_log) else b""
        assert b"secret" not in tls_log, "the passphrase is in the TLSLog"

        # Restarts have no terminal: the passphrase typed at the start is
        # remembered (in locked memory), and nobody is asked again.
        for _ in range(2):
            os.kill(term.pid, signal.SIGHUP)
            time.sleep(1.0)
            term.read_until(b"\x00", timeout=1)
            assert term.alive(), "the daemon died on SIGHUP:\n%r" \
                % term.out[-1500:]
            srv.wait_listening(srv.port)
            _serves(srv)
        assert term.out.count(PROMPT) == 1, \
            "asked %d times for the passphrase" % term.out.count(PROMPT)
    finally:
        term.stop()


def test_passphrase_wrong_at_prompt(ctx):
    srv = _server(ctx)
    term = Terminal(srv)
    try:
        assert term.read_until(PROMPT), "no passphrase prompt"
        term.type("not-it")
        assert term.read_until(b"refusing to start", timeout=15), \
            "a wrong passphrase did not stop the start:\n%r" \
            % term.out[-1500:]
        assert b"TLSECCertificateKeyFile" in term.out
    finally:
        term.stop()


def test_passphrase_no_terminal_fails_fast(ctx):
    """Started without a terminal (init, systemd, CI): refuse to start at
    once with the reason, never wait for a prompt."""
    srv = _server(ctx)
    t0 = time.time()
    try:
        srv.start(timeout=15)
    except RuntimeError as e:
        text = str(e)
    else:
        raise AssertionError("started with an encrypted key, no provider "
                             "and no terminal")
    assert time.time() - t0 < 15
    log = open(srv.stderr_path, errors="replace").read()
    assert "encrypted.key" in log and "no terminal" in log, \
        "the reason is not logged:\n%s" % (log[-1500:] or text)
