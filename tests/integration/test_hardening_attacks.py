"""Attacks on the issue 13 hardening (an outside review): a full disk
under APPE, REST STOR and HiddenStores is never reported complete nor
costs an existing file the content the upload did not replace; a client on
an IPv4-mapped address is not foreign; ALPN lists with "ftp" in odd places
and the ALPN rule of the vhost SNI or HOST chose; StrictSNI and the
spellings of names and IP literals."""

import ftplib
import os
import re
import socket
import ssl

import ftpsd
from clients import Raw, context, expect, tls_data_bytes
from test_alpaca import (_alert, _alpn_line, _refused_120, _sc, _served,
                         _server)
from test_faults import EIO_SHIM, _login_prot_p, _mount_tmpfs, _umount
from test_hostile import (_foreign_retr, auth_tls, client_hello,
                          closed_without_reply, tls_records)
from test_sni import sni_server

OLD = 300 * 1024


def _full_disk_upload(ctx, cmd, extra=(), rest=None, fill=False,
                      payload=None):
    """A 1 MiB tmpfs home holding old.bin (OLD random bytes), and with fill
    a file filling the rest; cmd (APPE or STOR) of payload (3 MiB) onto
    old.bin, after REST rest if given.  Returns (reply, old content, file
    content afterwards or None, names in the home)."""
    srv = ctx.server(extra=list(extra), start=False, shared=False)
    _mount_tmpfs(srv.home, "1m")
    try:
        old = os.urandom(OLD)
        path = os.path.join(srv.home, "old.bin")
        ftpsd.write_file(path, old)
        os.chown(path, ftpsd.UID, ftpsd.GID)
        if fill:
            fd = os.open(os.path.join(srv.home, "filler"),
                         os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                while os.write(fd, b"\0" * 4096) > 0:
                    pass
            except OSError:
                pass
            os.close(fd)
        srv.start()
        r, _ = _login_prot_p(srv)
        try:
            if rest is not None:
                expect(r.cmd("REST %d" % rest), 350, "REST")
            d = r.pasv()
            r.send("%s old.bin\r\n" % cmd)
            expect(r.reply(), (125, 150), cmd)
            d = r.sock.context.wrap_socket(d, server_hostname="localhost",
                                           session=r.sock.session)
            try:
                d.sendall(payload or os.urandom(3 << 20))
                d.unwrap()
            except (ssl.SSLError, OSError):
                pass
            d.close()
            r.sock.settimeout(60)
            reply = r.reply()
            expect(r.cmd("NOOP"), 200, "NOOP after the full disk")
        finally:
            r.close()
        after = None
        if os.path.exists(path):
            with open(path, "rb") as f:
                after = f.read()
        names = sorted(os.listdir(srv.home))

        return reply, old, after, names
    finally:
        srv.stop()
        _umount(srv.home)


def _not_complete(reply, what):
    assert reply[0] in (451, 452, 552, 426), \
        "%s onto a full disk: %r (want 452 or 552, never 226)" % (what, reply)


def test_attack_full_disk_appe_keeps_old_content(ctx):
    for extra in ((), ("DeleteAbortedStores on",)):
        reply, old, after, _ = _full_disk_upload(ctx, "APPE", extra)
        _not_complete(reply, "APPE %r" % (extra,))
        assert after is not None and after[:OLD] == old, \
            "APPE %r lost old.bin's content" % (extra,)


def test_attack_full_disk_rest_stor_keeps_prefix(ctx):
    for extra in ((), ("DeleteAbortedStores on",)):
        reply, old, after, _ = _full_disk_upload(
            ctx, "STOR", ("AllowStoreRestart on",) + extra, rest=1000)
        _not_complete(reply, "REST STOR %r" % (extra,))
        assert after is not None and after[:1000] == old[:1000], \
            "REST 1000 STOR %r lost old.bin's first 1000 bytes" % (extra,)


def test_attack_full_disk_stor_over_a_file(ctx):
    """STOR onto old.bin on a disk already full: 452 (never 226); old.bin
    then holds a prefix of the new upload, never old bytes after new ones,
    or (DeleteAbortedStores on) is gone."""
    new = os.urandom(3 << 20)
    for extra in ((), ("DeleteAbortedStores on",)):
        reply, old, after, names = _full_disk_upload(
            ctx, "STOR", extra, fill=True, payload=new)
        _not_complete(reply, "STOR over a file %r" % (extra,))
        if extra:
            assert after is None, "DeleteAbortedStores: old.bin is still " \
                "there (%d bytes)" % len(after)
        else:
            assert after is not None and new.startswith(after), \
                "old.bin after the failed STOR: %d bytes, a prefix of the " \
                "upload: %s" % (len(after or b""),
                                after is not None and new.startswith(after))


def test_attack_full_disk_hidden_stores_keeps_target(ctx):
    for extra in (("HiddenStores on",),
                  ("HiddenStores on", "DeleteAbortedStores on")):
        reply, old, after, names = _full_disk_upload(ctx, "STOR", extra)
        _not_complete(reply, "STOR %r" % (extra,))
        assert after == old, "STOR %r changed old.bin" % (extra,)
        assert names == ["old.bin"], names


# -- foreign address: IPv4-mapped IPv6 ----------------------------------------


def _listening6(port):
    want = ":%04X" % port
    with open("/proc/net/tcp6") as f:
        for line in f:
            p = line.split()
            if len(p) > 3 and p[1].endswith(want) and p[3] == "0A":
                return True
    return False


def _dual_stack_server(ctx, extra=()):
    """A server on the IPv6 wildcard (UseIPv6 on): a client of 127.0.0.1
    is ::ffff:127.0.0.1 to it."""
    srv = ctx.server(extra=list(extra), start=False, shared=False)
    srv.replace_conf("UseIPv6", "UseIPv6 on")
    srv.replace_conf("SocketBindTight", "SocketBindTight off")
    srv.replace_conf("DefaultAddress", "DefaultAddress ::")
    srv._listening = lambda port=None: _listening6(port or srv.port)
    srv.start()
    return srv


def _protected_retr(r, mode, host="127.0.0.1"):
    """RETR f.bin over a data connection set up by mode (PASV, EPSV, PORT,
    EPRT) with host: (final reply, bytes)."""
    lsock = None
    v6 = ":" in host
    if mode == "PASV":
        _, port = ftplib.parse227(expect(r.cmd("PASV"), 227, "PASV"))
        d = socket.create_connection((host, port), 10)
    elif mode == "EPSV":
        _, port = ftplib.parse229(expect(r.cmd("EPSV"), 229, "EPSV"),
                                  (host, 0))
        d = socket.create_connection((host, port), 10)
    else:
        lsock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
        lsock.bind((host, 0))
        lsock.listen(1)
        lsock.settimeout(10)
        p = lsock.getsockname()[1]
        if mode == "PORT":
            arg = "127,0,0,1,%d,%d" % (p >> 8, p & 255)
        else:
            arg = "|%d|%s|%d|" % (2 if v6 else 1, host, p)
        expect(r.cmd("%s %s" % (mode, arg)), 200, mode)
    r.send("RETR f.bin\r\n")
    first = r.reply()
    if first[0] not in (125, 150):
        return first, b""
    if lsock is not None:
        d, _ = lsock.accept()
        lsock.close()
    got = tls_data_bytes(r.sock.context, d, r.sock.session)
    return r.reply(), got


def test_attack_ipv4_mapped_client_is_not_foreign(ctx):
    """UseIPv6 on, the control and data connections both from 127.0.0.1
    (::ffff:127.0.0.1 to the server, or plain 127.0.0.1 for active mode):
    served in every data mode, without AllowForeignAddress; and a client
    on ::1 (EPSV, EPRT) too."""
    data = os.urandom(70000)
    for extra in ((), ("AllowForeignAddress off",)):
        srv = _dual_stack_server(ctx, extra)
        try:
            srv.home_file("f.bin", data)
            r = Raw(srv)
            try:
                expect(r.banner, 220, "banner")
                expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
                r.starttls()
                r.login()
                expect(r.cmd("PBSZ 0"), 200, "PBSZ")
                expect(r.cmd("PROT P"), 200, "PROT P")
                expect(r.cmd("TYPE I"), 200, "TYPE I")
                for mode in ("PASV", "EPSV", "PORT", "EPRT"):
                    final, got = _protected_retr(r, mode)
                    assert final[0] == 226 and got == data, \
                        "%r, %s from the client's own address: %r, %d " \
                        "bytes\n%s" % (extra, mode, final, len(got),
                                       srv.log_tail())
            finally:
                r.close()
            # Native IPv6: control and data over ::1 (EPSV, EPRT).
            srv.host = "::1"
            r = Raw(srv)
            try:
                expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
                r.starttls()
                r.login()
                expect(r.cmd("PBSZ 0"), 200, "PBSZ")
                expect(r.cmd("PROT P"), 200, "PROT P")
                expect(r.cmd("TYPE I"), 200, "TYPE I")
                for mode in ("EPSV", "EPRT"):
                    final, got = _protected_retr(r, mode, "::1")
                    assert final[0] == 226 and got == data, \
                        "%r, ::1, %s: %r, %d bytes" % (extra, mode, final,
                                                       len(got))
            finally:
                r.close()
                srv.host = "127.0.0.1"
        finally:
            srv.stop()


# -- ALPN: "ftp" in odd places ------------------------------------------------


def test_attack_alpn_odd_lists(ctx):
    """RFC 7301 section 3.1: protocol names are compared as bytes.  "ftp"
    first, last, twice, beside a 255-byte name is selected; "FTP" alone,
    or "ftp" only inside a longer name, is refused with 120."""
    ctx.need("openssl")
    srv = _server(ctx)
    long_ = "a" * 255
    for implicit in (False,):
        for version in ("1.2", "1.3"):
            for offer in ("ftp,ftp", "ftp,http/1.1", "http/1.1,ftp,ftp",
                          long_ + ",ftp", "ftp," + long_, "h2,ftp,h2"):
                out = _sc(srv, implicit, version, ["-alpn", offer])
                assert _served(out) and \
                    _alpn_line(out) == "ALPN protocol: ftp", \
                    "TLS %s, ALPN %s: %r\n%s" % (version, offer[:40],
                                                _alpn_line(out), out[-800:])
            for offer in ("FTP", "Ftp", "ftp ", " ftp", "ftpx", long_):
                out = _sc(srv, implicit, version, ["-alpn", offer])
                assert not _served(out) and \
                    _alert(out, 120, "no application protocol"), \
                    "TLS %s, ALPN %r: served\n%s" % (version, offer[:40],
                                                     out[-800:])
    assert srv.running()


# -- ALPN rule of the vhost SNI or HOST chose ----------------------------------


def _alpn_handshake(srv, sni, host=None, version=None):
    """AUTH TLS (after HOST host if given) offering ALPN http/1.1 with SNI
    sni (None: no SNI): None when served, else the error."""
    c = context(version)
    c.set_alpn_protocols(["http/1.1"])
    r = Raw(srv)
    try:
        if host is not None:
            expect(r.cmd("HOST " + host), 220, "HOST")
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        try:
            r.sock = c.wrap_socket(r.sock, server_hostname=sni)
            expect(r.cmd("NOOP"), 200, "NOOP")
            return None
        except ssl.SSLError as e:
            return e
    finally:
        r.close()


def test_attack_alpn_rule_follows_the_chosen_vhost(ctx):
    """The default server has AllowAnyALPN, vhost a.example not: a foreign
    ALPN list reaching a.example, by SNI or by HOST, is refused there;
    one on the default server (no SNI, an unknown name) is served."""
    srv = sni_server(ctx, tls={"TLSOptions": "AllowAnyALPN"})
    for version in ("1.2", "1.3"):
        for sni, host in (("a.example", None), (None, "a.example"),
                          ("a.example", "a.example")):
            e = _alpn_handshake(srv, sni, host, version)
            assert e is not None and _refused_120(e), \
                "TLS %s, SNI %s, HOST %s: ALPN http/1.1 on a.example " \
                "(no AllowAnyALPN): %s" % (version, sni, host, e or "served")
        for sni in (None, "c.example"):
            e = _alpn_handshake(srv, sni, None, version)
            assert e is None, "TLS %s, SNI %s, default server with " \
                "AllowAnyALPN: %s" % (version, sni, e)
    assert srv.running()


# -- StrictSNI: the spellings of names -------------------------------------------

def _sni_served(srv, name, version="1.3"):
    out = _sc(srv, False, version, ["-servername", name])
    return bool(_served(out)), out


def test_attack_strict_sni_spellings(ctx):
    """StrictSNI: IP literals (IPv4, IPv6) are no names and are served;
    case does not matter (RFC 4343); a ServerAlias pattern of the default
    server admits what it matches, only that; unknown names are refused.
    Defect found: under "UseIPv6 off" (the test servers', and a common
    setting) an IPv6 literal was refused, since pr_netaddr_is_v6() says no
    to every IPv6 address then."""
    ctx.need("openssl")
    srv = sni_server(ctx, tls={"TLSOptions": "StrictSNI"},
                     more=["ServerAlias *.w.example xn--bcher-kva.example"])
    want = {"a.example": True, "A.EXAMPLE": True, "B.Example": True,
            "127.0.0.1": True, "::1": True, "fe80::1": True,
            "x.w.example": True, "X.Y.W.EXAMPLE": True,
            "xn--bcher-kva.example": True,
            "c.example": False, "w.example": False, "x.w.example.evil": False,
            "a.example.evil": False, "evil.a.example": False}
    got = {}
    for name in want:
        got[name] = _sni_served(srv, name)[0]
    bad = {n: got[n] for n in want if got[n] != want[n]}
    assert not bad, "StrictSNI, served or not against the want: %r" % bad
    assert srv.running()


# -- README Security: "enforced by default" -------------------------------------

def _cipher_of(out):
    m = re.search(r"^New, \S+, Cipher is (\S+)", out, re.M)
    return m.group(1) if m else None


def test_attack_default_suites_and_order(ctx):
    """The default server: no CBC, no RSA key exchange, no TLS 1.3 CCM_8
    suite; TLS 1.2 picks by the server's order, whatever the client's."""
    ctx.need("openssl")
    srv = _server(ctx)
    for suite in ("ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                  "AES128-GCM-SHA256", "AES256-SHA", "ECDHE-RSA-AES128-SHA",
                  "DHE-RSA-AES128-GCM-SHA256"):
        out = _sc(srv, False, "1.2", ["-cipher", suite])
        assert not _served(out), "TLS 1.2 %s served:\n%s" % (suite,
                                                             out[-800:])
    out = _sc(srv, False, "1.3", ["-ciphersuites",
                                  "TLS_AES_128_CCM_8_SHA256"])
    assert not _served(out), "TLS 1.3 CCM_8 served"
    a, b = "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-ECDSA-AES128-GCM-SHA256"
    c1 = _cipher_of(_sc(srv, False, "1.2", ["-cipher", a + ":" + b]))
    c2 = _cipher_of(_sc(srv, False, "1.2", ["-cipher", b + ":" + a]))
    assert c1 and c1 == c2, "TLS 1.2: the client's order decides: %s, %s" \
        % (c1, c2)
    assert srv.running()


def test_attack_rsa_certificate_dhe_and_suites(ctx):
    """An RSA certificate without TLSDHParamFile: a DHE suite, if served,
    uses a group of at least 2048 bits; CBC and RSA key exchange are not
    served with it either."""
    ctx.need("openssl")
    srv = _server(ctx, tls={"TLSRSACertificateFile": ftpsd.cert("rsa.crt"),
                            "TLSRSACertificateKeyFile": ftpsd.cert("rsa.key")},
                  shared=False)
    out = _sc(srv, False, "1.2", ["-cipher", "DHE-RSA-AES128-GCM-SHA256"])
    if _served(out):
        m = re.search(r"Server Temp Key: DH, (\d+) bits", out)
        assert m and int(m.group(1)) >= 2048, out[-1500:]
    for suite in ("AES128-GCM-SHA256", "AES256-SHA256", "ECDHE-RSA-AES128-SHA",
                  "DHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA384"):
        out = _sc(srv, False, "1.2", ["-cipher", suite])
        assert not _served(out), "TLS 1.2 %s served (RSA)" % suite
    out = _sc(srv, False, "1.2", [])
    assert _served(out), out[-1500:]
    m = re.search(r"Server public key is (\d+) bit", out)
    assert m and int(m.group(1)) >= 2048, "not the RSA key:\n" + out[-1500:]
    assert srv.running()


def _data_alpn_after_sni(srv, sni, version, host=None):
    """AUTH TLS with SNI sni (after HOST host if given) and no ALPN, login,
    then RETR data.bin over a data connection that offers ALPN http/1.1:
    (final reply, bytes)."""
    c = context(version)
    r = Raw(srv)
    try:
        if host is not None:
            expect(r.cmd("HOST " + host), 220, "HOST")
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
        r.sock = c.wrap_socket(r.sock, server_hostname=sni)
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ")
        expect(r.cmd("PROT P"), 200, "PROT P")
        expect(r.cmd("TYPE I"), 200, "TYPE I")
        d = r.pasv()
        r.send("RETR data.bin\r\n")
        first = r.reply()
        if first[0] not in (125, 150):
            return first, b""
        c.set_alpn_protocols(["http/1.1"])   # the data connection only
        got = tls_data_bytes(c, d, r.sock.session, server_hostname=sni)
        return r.reply(), got
    finally:
        r.close()


def test_attack_data_alpn_rule_of_the_sni_vhost(ctx):
    """A data connection follows the ALPN rule of the vhost the session
    moved to by SNI (or HOST), not the default server's: refused on a.example (no
    AllowAnyALPN) under a lenient default, served on b.example
    (AllowAnyALPN) under a strict default."""
    for default_any, name, served in ((True, "a.example", False),
                                      (False, "b.example", True)):
        tls = {"TLSOptions": "AllowAnyALPN"} if default_any else None
        extra = {} if default_any else {"b.example":
                                         ["TLSOptions AllowAnyALPN"]}
        srv = sni_server(ctx, tls=tls, vhost_extra=extra)
        try:
            for version, sni, host in (("1.2", name, None),
                                       ("1.3", name, None),
                                       ("1.3", None, name)):
                final, got = _data_alpn_after_sni(srv, sni, version, host)
                if served:
                    assert final[0] == 226 and got == srv.vh[name].data, \
                        "TLS %s, %s: %r, %d bytes" % (version, name, final,
                                                      len(got))
                else:
                    assert final[0] == 425 and got == b"", \
                        "TLS %s, %s: %r, %d bytes" % (version, name, final,
                                                      len(got))
        finally:
            srv.stop()


# -- AllowForeignAddress <Class> ----------------------------------------------


def test_attack_foreign_address_class(ctx):
    """AllowForeignAddress naming a <Class>: a passive data connection from
    an address outside the class (127.0.0.2, class 10.0.0.0/8) is refused,
    one from inside the class (127.0.0.2/32) is served."""
    data = os.urandom(50000)
    for net, allowed in (("10.0.0.0/8", False), ("127.0.0.2/32", True)):
        srv = ctx.server(extra=["<Class fxp>", "From " + net, "</Class>",
                                "AllowForeignAddress fxp"], shared=False)
        try:
            srv.home_file("f.bin", data)
            final, got = _foreign_retr(srv)
            if allowed:
                assert final[0] == 226 and got == data, (net, final,
                                                         len(got))
            else:
                assert final[0] == 425 and got == b"", \
                    "class %s, data from 127.0.0.2: %r, %d bytes" % (
                        net, final, len(got))
        finally:
            srv.stop()


# -- a failed read under REST -------------------------------------------------


def test_attack_read_error_with_rest(ctx):
    """REST 2000000 then RETR of a 16 MiB file whose reads fail (EIO) from
    the start, or after the first bytes: 451, never 226, and the data
    connection never ends with close_notify; the next RETR (reads work
    again) is complete, with close_notify."""
    from test_data_promises import _shim_server, _how_ended, _data_read
    srv, trigger = _shim_server(ctx, EIO_SHIM, tls={})
    size = 16 << 20
    srv.home_file("eio.bin", size=size)
    r, _ = _login_prot_p(srv)
    try:
        tctx = r.sock.context
        tctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
        for early in (True, False, None):
            expect(r.cmd("REST 2000000"), 350, "REST")
            if early:
                open(trigger, "w").close()
            d = r.pasv()
            r.send("RETR eio.bin\r\n")
            expect(r.reply(), (125, 150), "RETR eio.bin")
            d = tctx.wrap_socket(d, server_hostname="localhost",
                                 session=r.sock.session,
                                 suppress_ragged_eofs=False)
            got = 0
            try:
                got = len(d.recv(65536))
                if early is False:
                    open(trigger, "w").close()
                more, end = _data_read(d)
                got += more
            except (ssl.SSLError, OSError) as e:
                end = _how_ended(e)
            d.close()
            r.sock.settimeout(30)
            reply = r.reply()
            if os.path.exists(trigger):
                os.unlink(trigger)
            what = {True: "from the start", False: "mid-way",
                    None: "no fault"}[early]
            if early is None:
                assert reply[0] == 226 and end == "close_notify" and \
                    got == size - 2000000, (what, reply, end, got)
            else:
                assert reply[0] == 451 and end != "close_notify" and \
                    got < size - 2000000, \
                    "REST, read error %s: %r, %s, %d bytes" % (
                        what, reply, end, got)
            expect(r.cmd("NOOP"), 200, "NOOP")
    finally:
        r.close()


# -- TLS 1.3 HelloRetryRequest: the second ClientHello --------------------------

def test_attack_hrr_keeps_sni_and_alpn_rules(ctx):
    """A TLS 1.3 client whose first key share the server does not take
    (HelloRetryRequest, RFC 8446 section 4.1.4) sends a second ClientHello:
    the vhost its SNI chose and that vhost's ALPN rule hold for both."""
    ctx.need("openssl")
    srv = sni_server(ctx, tls={"TLSECDHCurve": "X25519"}, vhost_extra={
        "a.example": ["TLSECDHCurve X25519"],
        "b.example": ["TLSOptions AllowAnyALPN", "TLSECDHCurve X25519"]})
    groups = ["-groups", "P-256:X25519", "-msg"]
    for name, alpn, served in (("a.example", "http/1.1", False),
                               ("b.example", "http/1.1", True),
                               ("a.example", "ftp", True),
                               ("c.example", "http/1.1", False)):
        out = _sc(srv, False, "1.3", groups + ["-servername", name,
                                               "-alpn", alpn])
        assert out.count(", ClientHello") >= 2 or not served, \
            "no HelloRetryRequest happened:\n" + out[-1500:]
        assert bool(_served(out)) == served, \
            "HRR, SNI %s, ALPN %s: want %s\n%s" % (
                name, alpn, "served" if served else "refused", out[-1500:])
        if served:
            m = re.search(r"subject=.*CN ?= ?([\w.]+)", out)
            assert m and (name in m.group(1) or name == "c.example"), \
                "HRR, SNI %s: certificate %s" % (name, m and m.group(1))
    assert srv.running()


def test_attack_sni_wildcard_alias_of_a_vhost(ctx):
    """A vhost's ServerAlias pattern: SNI names it matches (any case) move
    the session there (certificate, home), under StrictSNI too; the login
    and a download work there."""
    from test_sni import assert_session_on, sni_ftps
    from clients import close_quietly
    for strict in (False, True):
        tls = {"TLSOptions": "StrictSNI"} if strict else None
        srv = sni_server(ctx, tls=tls, vhost_extra={"a.example": [
            "ServerAlias a.example *.w.example"]})
        try:
            for name in ("q.w.example", "Q.W.EXAMPLE", "r.s.w.example"):
                f = sni_ftps(srv, name)
                try:
                    assert_session_on(srv, f, "a.example",
                                      "SNI %s (StrictSNI %s)" % (name,
                                                                 strict))
                finally:
                    close_quietly(f)
        finally:
            srv.stop()


def test_attack_active_mode_to_a_foreign_address(ctx):
    """PORT and EPRT naming another address than the client's (127.0.0.2,
    the FTP bounce, RFC 2577): refused, at the command or at the data
    connection, and no byte of the file reaches the foreign listener."""
    data = os.urandom(50000)
    srv = ctx.server(extra=["# active-foreign"])
    srv.home_file("f.bin", data)
    with auth_tls(srv) as r:
        r.starttls()
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ")
        expect(r.cmd("PROT P"), 200, "PROT P")
        expect(r.cmd("TYPE I"), 200, "TYPE I")
        for mode in ("PORT", "EPRT"):
            lsock = socket.socket()
            lsock.bind(("127.0.0.2", 0))
            lsock.listen(1)
            lsock.settimeout(5)
            p = lsock.getsockname()[1]
            arg = ("127,0,0,2,%d,%d" % (p >> 8, p & 255) if mode == "PORT"
                   else "|1|127.0.0.2|%d|" % p)
            code, _ = r.cmd("%s %s" % (mode, arg))
            got = b""
            if code == 200:
                r.send("RETR f.bin\r\n")
                first = r.reply()
                if first[0] in (125, 150):
                    try:
                        d, _ = lsock.accept()
                        d.settimeout(5)
                        while True:
                            chunk = d.recv(65536)
                            if not chunk:
                                break
                            got += chunk
                        d.close()
                    except OSError:
                        pass
                    final = r.reply()
                else:
                    final = first
                assert final[0] != 226, "%s to 127.0.0.2: %r" % (mode, final)
            lsock.close()
            assert data[:1000] not in got, mode
        expect(r.cmd("NOOP"), 200, "NOOP")


# -- ALPN lists that are not well formed ----------------------------------------


def _hello_with_alpn(version, fix):
    """Python's ClientHello offering ALPN ftp,abc, its ALPN list bytes
    (\\x03ftp\\x03abc) replaced by fix(list) of the same length."""
    hello = client_hello(version, alpn=["ftp", "abc"])
    good = b"\x00\x10\x00\x0a\x00\x08\x03ftp\x03abc"
    assert hello.count(good) == 1
    new = fix(b"\x03ftp\x03abc")
    assert len(new) == 8
    return hello.replace(good, b"\x00\x10\x00\x0a\x00\x08" + new)


def test_attack_alpn_malformed_lists(ctx):
    """A zero-length entry, an entry that runs past the list, an entry
    that stops short of it: the handshake ends with a fatal alert
    (decode_error 50 or no_application_protocol 120), no ServerHello; the
    daemon serves on.  The unmodified list is served (the control)."""
    srv = _server(ctx)
    fixes = {"well formed": lambda l: l,
             "zero-length entry": lambda l: b"\x03ftp\x00\x02bc",
             "zero-length first": lambda l: b"\x00\x03ftp\x02bc",
             "runs past": lambda l: b"\x03ftp\x05abc",
             "stops short": lambda l: b"\x03ftp\x02abc",
             "255 length": lambda l: b"\xffftp\x03abc"}
    for version in ("1.2", "1.3"):
        for what, fix in fixes.items():
            r = auth_tls(srv)
            try:
                r.sock.sendall(_hello_with_alpn(version, fix))
                if what == "well formed":
                    r.sock.settimeout(10)
                    data = r.sock.recv(5)
                    assert data[:1] == b"\x16", \
                        "TLS %s, %s: no ServerHello: %r" % (version, what,
                                                           data[:40])
                    continue
                _, data = closed_without_reply(r.sock, 20)
                recs = tls_records(data)
                assert recs and recs[0][0] == 21 and \
                    recs[0][1][:1] == b"\x02" and \
                    recs[0][1][1:2] in (b"\x32", b"\x78"), \
                    "TLS %s, ALPN list with a %s: %r" % (version, what,
                                                         data[:40])
            finally:
                r.close()
    assert srv.running()


def test_attack_weak_dh_inside_the_certificate_file(ctx):
    """1024-bit DH parameters inside the certificate file (mod_tls reads
    DH parameters there): the daemon does not start, or never uses them
    (README: DH parameters of at least 2048 bits)."""
    ctx.need("openssl")
    srv = ctx.server(start=False, shared=False)
    combo = os.path.join(srv.dir, "rsa-dh1024.pem")
    with open(combo, "wb") as f:
        for name in ("rsa.crt", "rsa.key", "dh1024.pem"):
            with open(ftpsd.cert(name), "rb") as g:
                f.write(g.read())
    srv.replace_conf("TLSRSACertificateFile", "TLSRSACertificateFile " + combo)
    try:
        srv.start()
    except RuntimeError:
        return          # refused at startup: fine
    out = _sc(srv, False, "1.2", ["-cipher", "DHE-RSA-AES128-GCM-SHA256"])
    m = re.search(r"Server Temp Key: DH, (\d+) bits", out)
    assert not _served(out) or (m and int(m.group(1)) >= 2048), \
        "DHE with the certificate file's DH parameters: %s\n%s" % (
            m and m.group(0), out[-1500:])
    srv.stop()

