"""Transfers with real clients (curl, lftp/GnuTLS, ftplib with session
reuse): 0 B, 1 MiB and 100 MiB, both directions, TLS 1.2 and 1.3, compared
by sha256.  100 MiB runs once per client and direction (download at TLS 1.3,
upload at TLS 1.2)."""

import ftplib
import os
import re

from clients import curl, lftp, ftps, close_quietly, describe
from ftpsd import sha256_file

MiB = 1 << 20
SIZES = {"zero.bin": 0, "one.bin": MiB, "big.bin": 100 * MiB}
SMALL = ("zero.bin", "one.bin")
VERSIONS = ("1.2", "1.3")
BIG_DOWN, BIG_UP = "1.3", "1.2"


def _server(ctx):
    """The shared default server, with the source files in place."""
    srv = ctx.server()
    if not getattr(srv, "xfer_files", None):
        srv.xfer_files = {}
        for name, size in SIZES.items():
            srv.home_file(name, size=size)
            # the same bytes on the client side, as upload sources
            src = os.path.join(srv.home, name)
            dst = os.path.join(srv.client_dir, name)
            _copy(src, dst)
            srv.xfer_files[name] = sha256_file(src)
    return srv


def _copy(src, dst):
    with open(src, "rb") as i, open(dst, "wb") as o:
        while True:
            b = i.read(MiB)
            if not b:
                break
            o.write(b)


def _plan(direction):
    """(version, file name) pairs to transfer."""
    big = BIG_DOWN if direction == "down" else BIG_UP
    out = [(v, n) for v in VERSIONS for n in SMALL]
    out.append((big, "big.bin"))
    return out


def _check_down(srv, name, local, client, version):
    assert os.path.exists(local), \
        "%s TLS %s download %s: no local file" % (client, version, name)
    got = sha256_file(local)
    assert got == srv.xfer_files[name], \
        "%s TLS %s download %s: sha256 mismatch (%d bytes, want %d)" \
        % (client, version, name, os.path.getsize(local), SIZES[name])
    os.unlink(local)


def _check_up(srv, remote, name, client, version):
    path = os.path.join(srv.home, remote)
    assert os.path.exists(path), \
        "%s TLS %s upload %s: not on the server" % (client, version, name)
    got = sha256_file(path)
    assert got == srv.xfer_files[name], \
        "%s TLS %s upload %s: sha256 mismatch (%d bytes, want %d)" \
        % (client, version, name, os.path.getsize(path), SIZES[name])
    os.unlink(path)


# -- curl --------------------------------------------------------------------

def test_xfer_curl_list(ctx):
    ctx.need("curl")
    srv = _server(ctx)
    for v in VERSIONS:
        p = curl(srv, "/", version=v)
        out = p.stdout.decode(errors="replace")
        assert p.returncode == 0 and "one.bin" in out, \
            "curl TLS %s list: %s" % (v, describe(p))


def test_xfer_curl_download(ctx):
    ctx.need("curl")
    srv = _server(ctx)
    for v, name in _plan("down"):
        local = os.path.join(srv.client_dir, "curl-dl-" + name)
        p = curl(srv, "/" + name, version=v, output=local)
        assert p.returncode == 0, \
            "curl TLS %s download %s: %s" % (v, name, describe(p))
        if SIZES[name] == 0 and not os.path.exists(local):
            open(local, "wb").close()   # curl writes no file for 0 bytes
        _check_down(srv, name, local, "curl", v)


def test_xfer_curl_upload(ctx):
    ctx.need("curl")
    srv = _server(ctx)
    for v, name in _plan("up"):
        remote = "curl-up-%s-%s" % (v, name)
        p = curl(srv, "/" + remote, version=v,
                 upload=os.path.join(srv.client_dir, name))
        assert p.returncode == 0, \
            "curl TLS %s upload %s: %s" % (v, name, describe(p))
        _check_up(srv, remote, name, "curl", v)


# -- lftp (GnuTLS) -----------------------------------------------------------

def test_xfer_lftp_download(ctx):
    ctx.need("lftp")
    srv = _server(ctx)
    for v, name in _plan("down"):
        local = os.path.join(srv.client_dir, "lftp-dl-" + name)
        p = lftp(srv, ["get %s -o %s" % (name, local)], version=v)
        assert p.returncode == 0, \
            "lftp TLS %s download %s: %s" % (v, name, describe(p))
        _check_down(srv, name, local, "lftp", v)


def test_xfer_lftp_upload(ctx):
    ctx.need("lftp")
    srv = _server(ctx)
    for v, name in _plan("up"):
        remote = "lftp-up-%s-%s" % (v, name)
        p = lftp(srv, ["put %s -o %s"
                       % (os.path.join(srv.client_dir, name), remote)],
                 version=v)
        assert p.returncode == 0, \
            "lftp TLS %s upload %s: %s" % (v, name, describe(p))
        _check_up(srv, remote, name, "lftp", v)


def test_lftp_gnutls_tls13_list_get(ctx):
    """proftpd#1177: GnuTLS clients under TLS 1.3 with PROT P."""
    ctx.need("lftp")
    srv = _server(ctx)
    local = os.path.join(srv.client_dir, "lftp13-one.bin")
    p = lftp(srv, ["cls -1", "get one.bin -o " + local, "cls -1"],
             version="1.3", timeout=60, debug=True)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0 and out.count("one.bin") == 2, \
        "lftp TLS 1.3 list+get+list: %s" % describe(p)
    err = p.stderr.decode(errors="replace")
    assert re.search(r"^---> PROT P\s*$\n<--- 200", err, re.M), \
        "lftp did not get PROT P accepted:\n%s" % err[-2000:]
    _check_down(srv, "one.bin", local, "lftp", "1.3")


# -- ftplib with session reuse -----------------------------------------------

def test_xfer_ftplib_download(ctx):
    srv = _server(ctx)
    for v in VERSIONS:
        f = ftps(srv, version=v)
        try:
            for vv, name in _plan("down"):
                if vv != v:
                    continue
                local = os.path.join(srv.client_dir, "py-dl-" + name)
                with open(local, "wb") as out:
                    f.retrbinary("RETR " + name, out.write, blocksize=MiB)
                _check_down(srv, name, local, "ftplib", v)
        except (ftplib.Error, OSError, EOFError) as e:
            raise AssertionError("ftplib TLS %s download: %s: %s"
                                 % (v, type(e).__name__, e))
        finally:
            close_quietly(f)


def test_xfer_ftplib_upload(ctx):
    srv = _server(ctx)
    for v in VERSIONS:
        f = ftps(srv, version=v)
        try:
            for vv, name in _plan("up"):
                if vv != v:
                    continue
                remote = "py-up-%s-%s" % (v, name)
                with open(os.path.join(srv.client_dir, name), "rb") as inp:
                    f.storbinary("STOR " + remote, inp, blocksize=256 * 1024)
                _check_up(srv, remote, name, "ftplib", v)
        except (ftplib.Error, OSError, EOFError) as e:
            raise AssertionError("ftplib TLS %s upload: %s: %s"
                                 % (v, type(e).__name__, e))
        finally:
            close_quietly(f)
