"""Implicit FTPS (TLSOptions UseImplicitSSL): TLS from the first byte, the
banner over TLS, data protected without PBSZ/PROT (clear under TLSRequired
!data), with ftplib, curl, lftp, openssl s_client and gnutls-cli; plaintext
and silent clients dropped; explicit and implicit on one daemon."""

import ftplib
import io
import os
import re
import socket
import ssl
import time

from clients import (Raw, ImplicitRaw, expect, implicit_ftps, close_quietly,
                     retr_bytes, curl, curl_implicit, lftp_implicit,
                     s_client, gnutls_cli, describe)
from ftpsd import sha256, sha256_file, cert, free_port

IMPLICIT = {"TLSOptions": "UseImplicitSSL"}
MiB = 1 << 20


def _srv(ctx, **tls):
    t = dict(IMPLICIT)
    t.update(tls)
    return ctx.server(t)


def _home_sha(srv, name):
    path = os.path.join(srv.home, name)
    assert os.path.exists(path), "%s not on the server" % name
    return sha256_file(path)


def _raw_transfer(r, cmd, tls, upload=None):
    """One data command on Raw r over PASV; the data connection in TLS
    (resuming r's session) or in clear.  Returns (bytes read, final reply)."""
    data = r.pasv()
    try:
        r.send(cmd + "\r\n")
        expect(r.reply(), (125, 150), cmd)
        if tls:
            try:
                data = r.sock.context.wrap_socket(data, server_hostname="localhost",
                                             session=r.sock.session)
            except (ssl.SSLError, OSError) as e:
                raise AssertionError("%s: no TLS on the data connection "
                                     "(plaintext sent?): %s" % (cmd, e))
        got = b""
        if upload is not None:
            data.sendall(upload)
            if tls:
                data = data.unwrap()
        else:
            try:
                while True:
                    chunk = data.recv(65536)
                    if not chunk:
                        break
                    got += chunk
            except ssl.SSLError as e:
                raise AssertionError("%s: not TLS records on the data "
                                     "connection after %d bytes (plaintext, "
                                     "sendfile?): %s" % (cmd, len(got), e))
    finally:
        data.close()
    return got, r.reply()


# -- the control connection ---------------------------------------------------

def test_implicit_banner_over_tls(ctx):
    srv = _srv(ctx)
    with ImplicitRaw(srv) as r:
        expect(r.banner, 220, "banner over TLS")
        assert r.sock.version() in ("TLSv1.2", "TLSv1.3"), r.sock.version()
        r.login()
        expect(r.cmd("PWD"), 257, "PWD")
        expect(r.cmd("AUTH TLS"), 503, "AUTH TLS on the implicit port")


def test_implicit_auth_tls_503_before_login(ctx):
    srv = _srv(ctx)
    with ImplicitRaw(srv) as r:
        expect(r.cmd("AUTH TLS"), 503, "AUTH TLS on the implicit port")
        expect(r.cmd("AUTH SSL"), 503, "AUTH SSL on the implicit port")
        # TLSRequired on is satisfied: USER is allowed, PBSZ/PROT work
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ 0")
        expect(r.cmd("PROT P"), 200, "PROT P")


def test_implicit_plaintext_dropped(ctx):
    """A plain FTP client on the implicit port: no banner, no 2xx, closed."""
    srv = _srv(ctx)
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    try:
        s.settimeout(2)
        try:
            early = s.recv(4096)
        except socket.timeout:
            early = b""
        assert b"220" not in early, \
            "banner in clear before any TLS: %r" % early
        s.sendall(b"USER %s\r\n" % srv.user.encode())
        s.settimeout(10)
        data, eof = early, False
        t0 = time.time()
        while time.time() - t0 < 10:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                break
            except ConnectionError:
                eof = True
                break
            if not chunk:
                eof = True
                break
            data += chunk
    finally:
        s.close()
    text = data.decode("latin-1")
    assert not re.search(r"(^|\n)[23]\d\d[ -]", text), \
        "plaintext client got an FTP reply: %r" % data
    assert eof, "plaintext client still connected after 10s (got %r)" % data


def test_implicit_silent_client_timeout(ctx):
    """Connects and sends nothing: dropped after TLSTimeoutHandshake 2,
    while another session logs in and lists."""
    t = dict(IMPLICIT, TLSTimeoutHandshake="2")
    srv = ctx.server(t, shared=False)
    srv.home_file("x.txt", b"x\n")
    s = socket.create_connection((srv.host, srv.port), timeout=12)
    try:
        start = time.time()
        f = implicit_ftps(srv)
        try:
            assert "x.txt" in f.nlst(), "NLST in the other session lacks x.txt"
        finally:
            close_quietly(f)
        data = b""
        eof = False
        while time.time() - start < 12:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                break
            except ConnectionError:
                eof = True
                break
            if not chunk:
                eof = True
                break
            data += chunk
        waited = time.time() - start
    finally:
        s.close()
    assert eof, "silent client still connected after %.1fs " \
        "(TLSTimeoutHandshake 2)" % waited
    assert waited < 10, "silent client dropped only after %.1fs " \
        "(TLSTimeoutHandshake 2)" % waited
    assert waited >= 1.5, "silent client dropped too early (%.1fs)" % waited
    assert not re.search(rb"(^|\n)[23]\d\d[ -]", data), \
        "silent client got an FTP reply: %r" % data


# -- data channel --------------------------------------------------------------

def test_implicit_retr_without_prot_is_tls(ctx):
    """No PBSZ/PROT: RETR (the sendfile case), LIST and STOR run over TLS
    data connections with the right bytes."""
    srv = _srv(ctx)
    data = os.urandom(2 * MiB + 11)
    srv.home_file("big.bin", data)
    with ImplicitRaw(srv) as r:
        r.login()
        expect(r.cmd("TYPE I"), 200, "TYPE I")
        got, final = _raw_transfer(r, "RETR big.bin", tls=True)
        expect(final, 226, "RETR big.bin (final)")
        assert sha256(got) == sha256(data), \
            "RETR without PROT: %d bytes, sha mismatch (want %d)" \
            % (len(got), len(data))
        got, final = _raw_transfer(r, "LIST", tls=True)
        expect(final, 226, "LIST (final)")
        assert b"big.bin" in got, "LIST lacks big.bin: %r" % got[:500]
        up = os.urandom(300000)
        _, final = _raw_transfer(r, "STOR up.bin", tls=True, upload=up)
        expect(final, 226, "STOR up.bin (final)")
    assert _home_sha(srv, "up.bin") == sha256(up), "STOR: content differs"


def _nodata(ctx, required):
    srv = ctx.server(dict(IMPLICIT, TLSRequired=required))
    data = os.urandom(MiB + 3)
    srv.home_file("clear.bin", data)
    with ImplicitRaw(srv) as r:
        r.login()
        expect(r.cmd("TYPE I"), 200, "TYPE I")
        got, final = _raw_transfer(r, "RETR clear.bin", tls=False)
        expect(final, 226, "RETR clear.bin in clear (TLSRequired %s)"
               % required)
        assert sha256(got) == sha256(data), \
            "RETR in clear (TLSRequired %s): %d bytes, sha mismatch; first " \
            "bytes %r" % (required, len(got), got[:16])
        expect(r.cmd("PROT P"), 534, "PROT P under TLSRequired %s" % required)
    f = implicit_ftps(srv, data_tls=False)
    try:
        assert "clear.bin" in f.nlst(), "clear NLST lacks clear.bin"
        up = os.urandom(100000)
        f.storbinary("STOR cup.bin", io.BytesIO(up))
        assert _home_sha(srv, "cup.bin") == sha256(up), "clear STOR differs"
    finally:
        close_quietly(f)


def test_implicit_nodata_clear(ctx):
    _nodata(ctx, "!data")


def test_implicit_ctrl_nodata_clear(ctx):
    _nodata(ctx, "ctrl+!data")


# -- real clients ---------------------------------------------------------------

def _ftplib(ctx, version, mode):
    srv = _srv(ctx)
    data = os.urandom(300 * 1024 + 5)
    srv.home_file("py.bin", data)
    up = "py-up-%s-%s.bin" % (version, mode)
    f = implicit_ftps(srv, version=version, mode=mode)
    step = "connect"
    try:
        assert f.sock.version() == "TLSv" + version, f.sock.version()
        step = "NLST"
        assert "py.bin" in f.nlst(), "NLST lacks py.bin"
        for i in range(5):
            step = "RETR #%d" % (i + 1)
            assert sha256(retr_bytes(f, "py.bin")) == sha256(data), \
                "RETR #%d differs" % (i + 1)
        step = "STOR"
        f.storbinary("STOR " + up, io.BytesIO(data))
        assert _home_sha(srv, up) == sha256(data), "STOR differs"
        step = "MLSD"
        facts = dict(f.mlsd())
        assert facts.get(up, {}).get("size") == str(len(data)), facts
    except (ftplib.Error, OSError, EOFError) as e:
        raise AssertionError("implicit ftplib (reusing) %s over %s, TLS %s: "
                             "%s: %s" % (step, mode.upper(), version,
                                         type(e).__name__, e))
    finally:
        close_quietly(f)


def test_implicit_ftplib_reuse_tls12(ctx):
    _ftplib(ctx, "1.2", "pasv")


def test_implicit_ftplib_reuse_tls13(ctx):
    _ftplib(ctx, "1.3", "epsv")


def test_implicit_curl(ctx):
    ctx.need("curl")
    srv = _srv(ctx)
    data = os.urandom(MiB + 17)
    srv.home_file("c.bin", data)
    for v in ("1.2", "1.3"):
        p = curl_implicit(srv, "/", version=v)
        assert p.returncode == 0 and b"c.bin" in p.stdout, \
            "curl ftps:// list, TLS %s: %s" % (v, describe(p))
        local = os.path.join(srv.client_dir, "c-%s.bin" % v)
        p = curl_implicit(srv, "/c.bin", version=v, output=local)
        assert p.returncode == 0, \
            "curl ftps:// download, TLS %s: %s" % (v, describe(p))
        assert sha256_file(local) == sha256(data), \
            "curl ftps:// download, TLS %s: sha mismatch" % v
        remote = "cu-%s.bin" % v
        p = curl_implicit(srv, "/" + remote, version=v, upload=local)
        assert p.returncode == 0, \
            "curl ftps:// upload, TLS %s: %s" % (v, describe(p))
        assert _home_sha(srv, remote) == sha256(data), \
            "curl ftps:// upload, TLS %s: sha mismatch" % v


def test_implicit_lftp(ctx):
    ctx.need("lftp")
    srv = _srv(ctx)
    data = os.urandom(MiB + 29)
    srv.home_file("l.bin", data)
    for v in ("1.2", "1.3"):
        local = os.path.join(srv.client_dir, "l-%s.bin" % v)
        remote = "lu-%s.bin" % v
        p = lftp_implicit(srv, ["cls -1", "get l.bin -o " + local,
                                "put %s -o %s" % (local, remote)],
                          version=v)
        assert p.returncode == 0 and b"l.bin" in p.stdout, \
            "lftp ftps:// ls/get/put, TLS %s: %s" % (v, describe(p))
        assert sha256_file(local) == sha256(data), \
            "lftp ftps:// get, TLS %s: sha mismatch" % v
        assert _home_sha(srv, remote) == sha256(data), \
            "lftp ftps:// put, TLS %s: sha mismatch" % v


def test_implicit_s_client(ctx):
    ctx.need("openssl")
    srv = _srv(ctx)
    for v in ("1.2", "1.3"):
        rc, out = s_client(srv, v, starttls=False,
                           lines=("USER " + srv.user, "PASS " + srv.password,
                                  "PWD", "QUIT"))
        m = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
        assert m and m.group(1) == "TLSv" + v and m.group(2) != "(NONE)", \
            "s_client -connect (implicit), TLS %s: no handshake:\n%s" \
            % (v, out[-2000:])
        b = re.search(r"^220[ -]", out, re.M)
        assert b and b.start() > m.start(), \
            "s_client TLS %s: no 220 banner after the handshake:\n%s" \
            % (v, out[-2000:])
        for code in ("331", "230", "257", "221"):
            assert re.search(r"^%s[ -]" % code, out, re.M), \
                "s_client TLS %s: no %s reply:\n%s" % (v, code, out[-2000:])


def test_implicit_gnutls_cli(ctx):
    ctx.need("gnutls-cli")
    srv = _srv(ctx)
    rc, out = gnutls_cli(srv, lines=("USER " + srv.user,
                                     "PASS " + srv.password, "PWD", "QUIT"))
    assert re.search(r"Handshake was completed", out), \
        "gnutls-cli: no handshake:\n%s" % out[-2000:]
    for code in ("220", "331", "230", "257", "221"):
        assert re.search(r"^%s[ -]" % code, out, re.M), \
            "gnutls-cli: no %s reply:\n%s" % (code, out[-2000:])


# -- explicit and implicit on one daemon ----------------------------------------

def _vhost_server(ctx):
    """Main server explicit (TLSRequired on) on srv.port, a <VirtualHost>
    with implicit FTPS on srv.implicit_port; same user and home."""
    srv = ctx.server(start=False, shared=False, name="ftpsd-vhost")
    port2 = free_port()
    while port2 == srv.port:
        port2 = free_port()
    srv.implicit_port = port2
    srv.append_conf([
        "<VirtualHost 127.0.0.1>",
        "  Port %d" % port2,
        '  ServerName "mod_ftps implicit vhost"',
        "  AuthOrder mod_auth_file.c",
        "  AuthUserFile " + os.path.join(srv.dir, "passwd"),
        "  RequireValidShell off",
        "  DefaultRoot ~",
        "  AllowOverwrite on",
        "  Umask 022",
        "  TLSEngine on",
        "  TLSLog " + srv.tls_log,
        "  TLSRSACertificateFile " + cert(),
        "  TLSProtocol TLSv1.2 TLSv1.3",
        "  TLSRequired on",
        "  TLSOptions UseImplicitSSL",
        "</VirtualHost>",
    ])
    srv.start()
    srv.wait_listening(port2)
    return srv


def test_implicit_and_explicit_one_daemon(ctx):
    ctx.need("curl")
    srv = _vhost_server(ctx)
    data = os.urandom(MiB + 1)
    srv.home_file("both.bin", data)
    # explicit port: plaintext banner, AUTH TLS
    with Raw(srv) as r:
        expect(r.banner, 220, "explicit port banner in clear")
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS on the explicit port")
    # implicit port: banner over TLS only
    with ImplicitRaw(srv, port=srv.implicit_port) as r:
        expect(r.banner, 220, "implicit port banner over TLS")
        expect(r.cmd("AUTH TLS"), 503, "AUTH TLS on the implicit port")
    for what, p, local in (
            ("explicit ftp:// --ssl-reqd", None, "ex.bin"),
            ("implicit ftps://", srv.implicit_port, "im.bin")):
        path = os.path.join(srv.client_dir, local)
        if p is None:
            res = curl(srv, "/both.bin", output=path)
        else:
            res = curl_implicit(srv, "/both.bin", port=p, output=path)
        assert res.returncode == 0, "curl %s download: %s" \
            % (what, describe(res))
        assert sha256_file(path) == sha256(data), \
            "curl %s download: sha mismatch" % what
        if p is None:
            res = curl(srv, "/up-" + local, upload=path)
        else:
            res = curl_implicit(srv, "/up-" + local, port=p, upload=path)
        assert res.returncode == 0, "curl %s upload: %s" % (what, describe(res))
        assert _home_sha(srv, "up-" + local) == sha256(data), \
            "curl %s upload: sha mismatch" % what
