"""Data channel: every transfer command in every data mode, session reuse,
AUTH SSL implicit protection, truncated uploads."""

import ftplib
import io
import os
import socket
import ssl

from clients import (ReusingFTP_TLS, StockFTP_TLS, ftps, close_quietly,
                     retr_bytes, context)
from ftpsd import sha256, sha256_file

REUSE_OFF = ["TLSOptions NoSessionReuseRequired"]


def _home_sha(srv, name):
    path = os.path.join(srv.home, name)
    assert os.path.exists(path), "%s not on the server" % name
    return sha256_file(path)


# -- every command x every data mode x TLS 1.2/1.3 ---------------------------

def _matrix(ctx, version, mode):
    srv = ctx.server()
    data = os.urandom(300 * 1024 + 7)
    srv.home_file("src.bin", data)
    up = "up-%s-%s.bin" % (mode, version)
    f = ftps(srv, version=version, mode=mode)
    try:
        step = "LIST"
        lines = []
        f.retrlines("LIST", lines.append)
        assert any(line.endswith(" src.bin") for line in lines), \
            "LIST lacks src.bin: %r" % lines
        step = "NLST"
        names = f.nlst()
        assert "src.bin" in names, "NLST lacks src.bin: %r" % names
        step = "MLSD"
        facts = dict(f.mlsd())
        assert facts.get("src.bin", {}).get("size") == str(len(data)), \
            "MLSD src.bin: %r" % facts.get("src.bin")
        step = "RETR"
        got = retr_bytes(f, "src.bin")
        assert sha256(got) == sha256(data), \
            "RETR: %d bytes, sha mismatch (want %d)" % (len(got), len(data))
        step = "STOR"
        f.storbinary("STOR " + up, io.BytesIO(data))
        assert _home_sha(srv, up) == sha256(data), "STOR: content differs"
        step = "APPE"
        tail = os.urandom(4097)
        f.storbinary("APPE " + up, io.BytesIO(tail))
        assert _home_sha(srv, up) == sha256(data + tail), \
            "APPE: content differs"
        step = "STOU"
        before = set(os.listdir(srv.home))
        f.storbinary("STOU", io.BytesIO(tail))
        new = set(os.listdir(srv.home)) - before
        assert len(new) == 1, "STOU: new files %r" % new
        assert _home_sha(srv, new.pop()) == sha256(tail), "STOU: differs"
    except (ftplib.Error, OSError, EOFError) as e:
        raise AssertionError("%s over %s, TLS %s: %s: %s"
                             % (step, mode.upper(), version,
                                type(e).__name__, e))
    finally:
        close_quietly(f)


def test_data_pasv_tls12(ctx):
    _matrix(ctx, "1.2", "pasv")


def test_data_pasv_tls13(ctx):
    _matrix(ctx, "1.3", "pasv")


def test_data_epsv_tls12(ctx):
    _matrix(ctx, "1.2", "epsv")


def test_data_epsv_tls13(ctx):
    _matrix(ctx, "1.3", "epsv")


def test_data_port_tls12(ctx):
    _matrix(ctx, "1.2", "port")


def test_data_port_tls13(ctx):
    _matrix(ctx, "1.3", "port")


def test_data_eprt_tls12(ctx):
    _matrix(ctx, "1.2", "eprt")


def test_data_eprt_tls13(ctx):
    _matrix(ctx, "1.3", "eprt")


# -- AUTH SSL / TLS-P: data protected without PBSZ/PROT ----------------------

def _implicit_prot(ctx, mech):
    srv = ctx.server()
    data = os.urandom(1 << 20)
    srv.home_file("secret.bin", data)
    f = ftps(srv, mech=mech, prot_p=False)
    try:
        f._prot_p = True   # the server must protect data: wrap our side too
        try:
            got = retr_bytes(f, "secret.bin")
        except (ftplib.Error, OSError, EOFError) as e:
            raise AssertionError("RETR after AUTH %s without PROT: data "
                                 "channel not TLS-protected? %s: %s"
                                 % (mech, type(e).__name__, e))
        assert sha256(got) == sha256(data), \
            "RETR after AUTH %s: %d bytes, sha mismatch" % (mech, len(got))
        up = os.urandom(200000)
        f.storbinary("STOR up-%s.bin" % mech, io.BytesIO(up))
        assert _home_sha(srv, "up-%s.bin" % mech) == sha256(up), \
            "STOR after AUTH %s: content differs" % mech
    finally:
        close_quietly(f)


def test_auth_ssl_sendfile(ctx):
    _implicit_prot(ctx, "SSL")


def test_auth_tls_p_sendfile(ctx):
    _implicit_prot(ctx, "TLS-P")


# -- session reuse -----------------------------------------------------------

def _final_reply(f, func):
    """Run func (a data command); return the final reply text, or the
    error, whichever way ftplib reports it."""
    try:
        return "ok", func()
    except (ftplib.error_temp, ftplib.error_perm) as e:
        return "reply", str(e)
    except (ssl.SSLError, OSError, EOFError) as e:
        # the data side broke first; the reply is still on the control line
        try:
            return "reply", f.getresp()
        except (ftplib.error_temp, ftplib.error_perm) as e2:
            return "reply", str(e2)
        except Exception as e2:
            return "broken", "%s / %s" % (e, e2)


def test_reuse_stock_ftplib_425(ctx):
    """Stock ftplib never resumes: the first data command gets 425."""
    srv = ctx.server()
    srv.home_file("f.txt", b"hello\n")
    f = ftps(srv, cls=StockFTP_TLS)
    try:
        how, res = _final_reply(f, f.nlst)
        assert how == "reply" and str(res).startswith("425"), \
            "stock ftplib NLST without session reuse: expected 425, got " \
            "%s %r" % (how, res)
        # the session survives; a resuming data connection works
        f.__class__ = ReusingFTP_TLS
        assert "f.txt" in f.nlst(), "reusing NLST after the 425 failed"
    finally:
        close_quietly(f)


def test_reuse_refused_upload_leaves_no_empty_file(ctx):
    """A STOR/APPE of a new file whose data connection is refused (no
    resumption) must not leave the empty file mod_xfer created for it
    (proftpd#1931: "0-byte uploads")."""
    import io
    srv = ctx.server()
    f = ftps(srv, cls=StockFTP_TLS)
    try:
        for cmd, name in (("STOR", "refused.bin"), ("APPE", "refused2.bin")):
            how, res = _final_reply(
                f, lambda: f.storbinary("%s %s" % (cmd, name),
                                        io.BytesIO(b"x" * 1000)))
            assert how == "reply" and str(res).startswith("425"), \
                "%s without session reuse: expected 425, got %s %r" % (
                    cmd, how, res)
            path = os.path.join(srv.home, name)
            assert not os.path.exists(path), \
                "%s refused, but %s was left behind (%d bytes)" % (
                    cmd, name, os.path.getsize(path))
    finally:
        close_quietly(f)


def test_reuse_refused_overwrite_keeps_old_file(ctx):
    """STOR over an existing file whose data connection is refused leaves
    the old content intact (mod_xfer opens the target before the data
    connection exists; mod_ftps defers its truncation until data arrive)."""
    import io
    srv = ctx.server()
    old = os.urandom(50000)
    srv.home_file("keep.bin", old)
    path = os.path.join(srv.home, "keep.bin")
    f = ftps(srv, cls=StockFTP_TLS)
    try:
        how, res = _final_reply(
            f, lambda: f.storbinary("STOR keep.bin", io.BytesIO(b"new" * 10)))
        assert how == "reply" and str(res).startswith("425"), \
            "STOR without session reuse: expected 425, got %s %r" % (how, res)
        with open(path, "rb") as fh:
            now = fh.read()
        assert now == old, "refused STOR changed keep.bin: %d bytes now, " \
            "%d before" % (len(now), len(old))
    finally:
        close_quietly(f)


def test_overwrite_upload_replaces_content(ctx):
    """With the deferred truncation in place, ordinary overwrites still
    replace the file: a shorter upload, and an empty one."""
    import io
    srv = ctx.server()
    srv.home_file("over.bin", os.urandom(80000))
    path = os.path.join(srv.home, "over.bin")
    f = ftps(srv)
    try:
        for new in (os.urandom(1234), b""):
            f.storbinary("STOR over.bin", io.BytesIO(new))
            with open(path, "rb") as fh:
                now = fh.read()
            assert now == new, "after a %d-byte STOR over.bin has %d bytes" \
                % (len(new), len(now))
    finally:
        close_quietly(f)


def _stock_ftplib_works(ctx, version):
    srv = ctx.server(extra=REUSE_OFF)
    data = os.urandom(100000)
    srv.home_file("f.bin", data)
    f = ftps(srv, cls=StockFTP_TLS, version=version)
    try:
        assert "f.bin" in f.nlst(), "NLST lacks f.bin"
        assert sha256(retr_bytes(f, "f.bin")) == sha256(data), "RETR differs"
        f.storbinary("STOR s.bin", io.BytesIO(data))
        assert _home_sha(srv, "s.bin") == sha256(data), "STOR differs"
    except (ftplib.Error, OSError, EOFError) as e:
        raise AssertionError("stock ftplib with NoSessionReuseRequired, TLS "
                             "%s: %s: %s" % (version, type(e).__name__, e))
    finally:
        close_quietly(f)


def test_reuse_not_required_stock_ftplib_tls12(ctx):
    _stock_ftplib_works(ctx, "1.2")


def test_reuse_not_required_stock_ftplib_tls13(ctx):
    _stock_ftplib_works(ctx, "1.3")


def _raw_data(f, cmd, session, ctx):
    """Data command whose TLS data connection uses `session` (None: full
    handshake) in context ctx; returns (final reply, data error)."""
    try:
        raw, _ = ftplib.FTP.ntransfercmd(f, cmd)
    except (ftplib.error_temp, ftplib.error_perm) as e:
        return str(e), None
    err = None
    try:
        conn = ctx.wrap_socket(raw, server_hostname="localhost",
                               session=session)
        raw = conn
        while conn.recv(65536):
            pass
    except (ssl.SSLError, OSError) as e:
        err = e
    finally:
        raw.close()
    try:
        return f.voidresp(), err
    except (ftplib.error_temp, ftplib.error_perm) as e:
        return str(e), err


def _no_resume_425(ctx, version):
    srv = ctx.server()
    srv.home_file("f.txt", b"hello\n")
    f = ftps(srv, version=version)
    other = ftps(srv, version=version)
    try:
        for what, sess, c in (("no session", None, context(version)),
                              ("another control connection's session",
                               other.sock.session, other.context)):
            reply, err = _raw_data(f, "NLST", sess, c)
            assert reply.startswith("425"), \
                "data TLS with %s (TLS %s): expected 425, got %r (data " \
                "side: %s)" % (what, version, reply, err)
        assert "f.txt" in f.nlst(), "resuming NLST after the 425s failed"
    finally:
        close_quietly(other)
        close_quietly(f)


def test_reuse_required_no_resume_425_tls12(ctx):
    _no_resume_425(ctx, "1.2")


def test_reuse_required_no_resume_425_tls13(ctx):
    _no_resume_425(ctx, "1.3")


# -- truncated upload --------------------------------------------------------

def _truncated_upload(ctx, version):
    srv = ctx.server()
    f = ftps(srv, version=version)
    try:
        f.voidcmd("TYPE I")
        conn, _ = f.ntransfercmd("STOR trunc.bin")
        conn.sendall(os.urandom(1 << 20))
        # close the TCP connection under TLS: no close_notify
        socket.socket.shutdown(conn, socket.SHUT_RDWR)
        socket.socket.close(conn)
        conn._sslobj = None
        try:
            resp = f.voidresp()
        except ftplib.error_temp as e:
            resp = str(e)
        except ftplib.error_perm as e:
            raise AssertionError("truncated upload: expected 4xx, got %s" % e)
        assert resp[:1] == "4", \
            "truncated upload (TLS %s, no close_notify): expected 426/451, " \
            "got %r" % (version, resp)
        f.voidcmd("NOOP")
    finally:
        close_quietly(f)


def test_truncated_upload_tls12(ctx):
    _truncated_upload(ctx, "1.2")


def test_truncated_upload_tls13(ctx):
    _truncated_upload(ctx, "1.3")
