"""TLSSessionCache: the session lifetime (a session that outlives it must
still resume its data connections: under TLS 1.3 the server hands out a
fresh ticket before each transfer), "off" (no session reuse required, and
none happens), and the external cache types (accepted with a warning)."""

import ftplib
import os
import re
import time

import ftpsd
from clients import (ftps, close_quietly, retr_bytes, StockFTP_TLS)
from ftpsd import sha256

LIFETIME = 3          # seconds, TLSSessionCache internal: LIFETIME
PAST = LIFETIME + 2   # a pause longer than the lifetime


def _data_lines(srv, mark):
    """TLSLog messages about data connections since mark."""
    return [m for _, m in ftpsd.tls_messages(srv, mark)
            if "data connection" in m]


def _retr_past_lifetime(ctx, version):
    srv = ctx.server({"TLSSessionCache": "internal: %d" % LIFETIME})
    data = os.urandom(100 * 1024 + 1)
    srv.home_file("life.bin", data)
    mark = srv.log_mark()
    f = ftps(srv, version=version)
    step = "RETR #1"
    try:
        assert sha256(retr_bytes(f, "life.bin")) == sha256(data), \
            "RETR #1 differs"
        time.sleep(PAST)
        step = "RETR #2, %ds after the first (lifetime %ds)" % (PAST, LIFETIME)
        assert sha256(retr_bytes(f, "life.bin")) == sha256(data), \
            "RETR #2 differs"
        step = "NOOP"
        f.voidcmd("NOOP")
    except (ftplib.Error, OSError, EOFError) as e:
        raise AssertionError(
            "TLS %s, TLSSessionCache internal: %d: %s failed: %s: %s\n"
            "TLSLog data lines: %s"
            % (version, LIFETIME, step, type(e).__name__, e,
               _data_lines(srv, mark)))
    finally:
        close_quietly(f)
    lines = [l for l in _data_lines(srv, mark)
             if l.startswith("data connection protected")]
    assert len(lines) == 2 and all(", resumed;" in l for l in lines), \
        "TLS %s: want 2 resumed data connections, TLSLog: %r" % (version,
                                                                  lines)


def test_lifetime_tls13_retr_after_expiry(ctx):
    _retr_past_lifetime(ctx, "1.3")


def test_lifetime_tls12_expiry_is_a_clean_refusal(ctx):
    """TLS 1.2 cannot hand out a fresh session without renegotiation (which
    mod_ftps refuses), so once the control session is older than the
    lifetime, data connections cannot resume it (the README says so).  The
    refusal must be clean: 425 on that transfer, no file damage, and the
    control connection carries on; within the lifetime it works."""
    srv = ctx.server({"TLSSessionCache": "internal: %d" % LIFETIME})
    data = os.urandom(100 * 1024 + 1)
    srv.home_file("life12.bin", data)
    f = ftps(srv, version="1.2")
    try:
        assert sha256(retr_bytes(f, "life12.bin")) == sha256(data), \
            "RETR within the lifetime differs"
        time.sleep(PAST)
        try:
            retr_bytes(f, "life12.bin")
            raise AssertionError("RETR past the lifetime resumed under TLS "
                                 "1.2: the README's limit is out of date")
        except ftplib.error_temp as e:
            assert str(e).startswith("425"), "want 425, got %s" % e
        f.voidcmd("NOOP")
        f.voidcmd("PWD")
    finally:
        close_quietly(f)


# -- TLSSessionCache off ------------------------------------------------------------

def test_lifetime_cache_off_stock_ftplib(ctx):
    """No session cache: resumption cannot be required, so stock ftplib
    (which never resumes) transfers without NoSessionReuseRequired."""
    srv = ctx.server({"TLSSessionCache": "off"})
    data = os.urandom(64 * 1024)
    srv.home_file("off.bin", data)
    f = ftps(srv, cls=StockFTP_TLS)
    try:
        for i in range(2):
            got = retr_bytes(f, "off.bin")
            assert sha256(got) == sha256(data), "RETR #%d differs" % (i + 1)
        assert "off.bin" in f.nlst(), "NLST lacks off.bin"
    except ftplib.all_errors as e:
        raise AssertionError("stock ftplib, TLSSessionCache off: %s" % e)
    finally:
        close_quietly(f)


def test_lifetime_cache_off_no_resumption(ctx):
    """A client that offers the control session on its data connections
    gets full handshakes: TLSLog's data lines lack "resumed"."""
    srv = ctx.server({"TLSSessionCache": "off"})
    data = os.urandom(64 * 1024)
    srv.home_file("off2.bin", data)
    for version in ("1.2", "1.3"):
        mark = srv.log_mark()
        f = ftps(srv, version=version)
        try:
            for i in range(2):
                got = retr_bytes(f, "off2.bin")
                assert sha256(got) == sha256(data), \
                    "TLS %s RETR #%d differs" % (version, i + 1)
        except ftplib.all_errors as e:
            raise AssertionError("reusing ftplib, TLS %s, TLSSessionCache "
                                 "off: %s" % (version, e))
        finally:
            close_quietly(f)
        lines = [l for l in _data_lines(srv, mark)
                 if l.startswith("data connection protected")]
        assert len(lines) == 2, "TLS %s: want 2 protected data connections " \
            "in TLSLog, got %r" % (version, lines)
        assert not any("resumed" in l for l in lines), \
            "TLS %s, TLSSessionCache off: data connection resumed: %r" \
            % (version, lines)


def test_lifetime_cache_shm_warning(ctx):
    srv = ctx.server({"TLSSessionCache": "shm:/file=/x"}, start=False,
                     shared=False)
    rc, out = srv.check()
    assert rc == 0, "proftpd -t refused TLSSessionCache shm:\n%s" % out
    assert re.search(r"TLSSessionCache shm:/file=/x: .*not supported", out), \
        "no warning about the shm: cache:\n%s" % out
    srv.start()
    f = ftps(srv)
    try:
        srv.home_file("shm.txt", b"shm\n")
        assert "shm.txt" in f.nlst(), "NLST with TLSSessionCache shm:"
    finally:
        close_quietly(f)
