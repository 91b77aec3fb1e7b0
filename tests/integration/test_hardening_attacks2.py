"""Attacks on the issue 13 hardening, second round (an outside review):
the key-exchange groups (the default list without ffdhe4096 and up, and
TLSECDHCurve) and cipher suites of the vhost SNI chose; StrictSNI against
server_name extensions built by hand (an empty name, two names, an empty
list, another name type); duplicate SNI and ALPN extensions; a ClientHello
trickled a byte at a time against TLSTimeoutHandshake."""

import re
import struct
import time

from clients import close_quietly
from test_alpaca import _sc, _served
from test_hostile import auth_tls, client_hello, serves, tls_records
from test_sni import assert_session_on, sni_ftps, sni_server


def _with_ext(hello, etype, body):
    """hello (one record, one ClientHello) with extension etype's body
    replaced by body, lengths fixed up."""
    assert hello[0] == 22 and hello[5] == 1
    b = hello[9:]
    p = 2 + 32
    p += 1 + b[p]
    p += 2 + int.from_bytes(b[p:p + 2], "big")
    p += 1 + b[p]
    exts, q, out = b[p + 2:], 0, b""
    while q < len(exts):
        t = int.from_bytes(exts[q:q + 2], "big")
        n = int.from_bytes(exts[q + 2:q + 4], "big")
        out += (struct.pack(">HH", t, len(body)) + body if t == etype
                else exts[q:q + 4 + n])
        q += 4 + n
    b = b[:p] + struct.pack(">H", len(out)) + out
    hs = b"\x01" + len(b).to_bytes(3, "big") + b
    return hello[:3] + struct.pack(">H", len(hs)) + hs


def _sni_body(names, kind=0):
    lst = b"".join(bytes([kind]) + struct.pack(">H", len(n)) + n
                   for n in names)
    return struct.pack(">H", len(lst)) + lst


def _first_answer(srv, hello):
    """AUTH TLS, then hello: "ServerHello", ("alert", description) or
    what else came."""
    r = auth_tls(srv)
    try:
        r.sock.sendall(hello)
        r.sock.settimeout(20)
        data = b""
        while not tls_records(data):
            try:
                chunk = r.sock.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        recs = tls_records(data)
        if recs and recs[0][0] == 22 and recs[0][1][:1] == b"\x02":
            return "ServerHello"
        if recs and recs[0][0] == 21 and recs[0][1][:1] == b"\x02":
            return ("alert", recs[0][1][1])
        return data[:40]
    finally:
        r.close()


def _temp_key(out):
    m = re.search(r"^(?:Server|Peer) Temp Key: (.*)$", out, re.M)
    return m.group(1) if m else None


def test_attack2_groups_of_the_sni_vhost(ctx):
    """The key-exchange groups of the vhost SNI chose decide, as after
    HOST: vhost a.example with "TLSECDHCurve P-384" refuses a client that
    offers only X25519 and P-256, and uses P-384 when offered; vhost
    b.example without TLSECDHCurve has the default list (no ffdhe8192,
    commit 70feea3) even where the default server allows ffdhe8192.
    Defect found (the README called it a limitation: "give name-based
    vhosts the same values"): OpenSSL copies the groups into the
    connection when it is made, and SSL_set_SSL_CTX() keeps them: every
    SNI client got the default server's groups (X25519 from a P-384-only
    vhost; ffdhe8192 from a vhost whose default list excludes it)."""
    ctx.need("openssl")
    srv = sni_server(ctx, tls={"TLSECDHCurve": "X25519:P-256:ffdhe8192"},
                     vhost_extra={"a.example": ["TLSECDHCurve P-384"]})
    got = {}
    for version in ("1.2", "1.3"):
        for sni, groups in (("a.example", "X25519:P-256"),
                            ("a.example", "X25519:P-384:P-256"),
                            ("localhost", "X25519:P-256")):
            out = _sc(srv, False, version, ["-servername", sni,
                                            "-groups", groups])
            got[version, sni, groups] = (bool(_served(out)),
                                         _temp_key(out) if _served(out)
                                         else None)
    out = _sc(srv, False, "1.3", ["-servername", "b.example",
                                  "-groups", "ffdhe8192"])
    got["1.3", "b.example", "ffdhe8192"] = (bool(_served(out)),
                                           _temp_key(out) if _served(out)
                                           else None)
    out = _sc(srv, False, "1.3", ["-groups", "ffdhe8192"])
    got["1.3", "localhost", "ffdhe8192"] = (bool(_served(out)),
                                           _temp_key(out) if _served(out)
                                           else None)
    want = {}
    for version in ("1.2", "1.3"):
        want[version, "a.example", "X25519:P-256"] = (False, None)
        want[version, "a.example", "X25519:P-384:P-256"] = (
            True, "ECDH, secp384r1, 384 bits")
        want[version, "localhost", "X25519:P-256"] = (True,
                                                      "X25519, 253 bits")
    want["1.3", "b.example", "ffdhe8192"] = (False, None)
    want["1.3", "localhost", "ffdhe8192"] = (True, "DH, 8192 bits")
    bad = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
    assert not bad, "(served, key) against the want: %r" % bad
    # A whole session on the P-384 vhost (Python offers an X25519 key
    # share first: a HelloRetryRequest on control and data connections).
    for version in ("1.2", "1.3"):
        f = sni_ftps(srv, "a.example", version)
        try:
            assert_session_on(srv, f, "a.example", "TLS %s, P-384 vhost"
                              % version)
        finally:
            close_quietly(f)
    assert srv.running()


def test_attack2_ciphers_of_the_sni_vhost(ctx):
    """The TLSCipherSuite lists (TLS 1.2 and TLS 1.3) of the vhost SNI
    chose decide: a suite only the default server allows is refused there,
    the vhost's own is served (held)."""
    ctx.need("openssl")
    srv = sni_server(ctx, vhost_extra={"a.example": [
        "TLSCipherSuite ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLSCipherSuite TLSv1.3 TLS_CHACHA20_POLY1305_SHA256"]})
    for version, opt, other, own in (
            ("1.2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256",
             "ECDHE-ECDSA-CHACHA20-POLY1305"),
            ("1.3", "-ciphersuites", "TLS_AES_128_GCM_SHA256",
             "TLS_CHACHA20_POLY1305_SHA256")):
        out = _sc(srv, False, version, ["-servername", "a.example",
                                        opt, other])
        assert not _served(out), "TLS %s, SNI a.example, %s: served" % (
            version, other)
        out = _sc(srv, False, version, ["-servername", "a.example",
                                        opt, other + ":" + own])
        m = re.search(r"Cipher is (\S+)", out)
        assert _served(out) and m and m.group(1) == own, \
            "TLS %s, SNI a.example: %s\n%s" % (version, m and m.group(1),
                                              out[-1000:])
    assert srv.running()


def test_attack2_strict_sni_odd_extensions(ctx):
    """StrictSNI against server_name extensions built by hand: a known
    name is served; an empty name is refused with unrecognized_name (112);
    two names (an unknown one first or last), an empty list, a name of
    another type: a fatal alert (OpenSSL's decode_error), never a
    ServerHello.  Without StrictSNI the empty name is served, as no SNI.
    Defect found: OpenSSL takes an empty host_name (RFC 6066 section 3
    allows none) and mod_ftps read it as no SNI: StrictSNI served it."""
    cases = {"known": (_sni_body([b"a.example"]), "ServerHello"),
             "empty": (_sni_body([b""]), ("alert", 112)),
             "unknown first": (_sni_body([b"c.example", b"a.example"]),
                               "alert"),
             "unknown last": (_sni_body([b"a.example", b"c.example"]),
                              "alert"),
             "empty list": (struct.pack(">H", 0), "alert"),
             "another type": (_sni_body([b"c.example"], kind=1), "alert")}
    srv = sni_server(ctx, tls={"TLSOptions": "StrictSNI"})
    bad = {}
    for version in ("1.2", "1.3"):
        hello = client_hello(version)
        for what, (body, want) in cases.items():
            got = _first_answer(srv, _with_ext(hello, 0, body))
            ok = (got[0] == "alert" if want == "alert" else got == want)
            if not ok:
                bad[version, what] = got
    assert not bad, "StrictSNI, what came instead of the want: %r" % bad
    assert srv.running()
    srv.stop()
    srv = sni_server(ctx)
    for version in ("1.2", "1.3"):
        got = _first_answer(srv, _with_ext(client_hello(version), 0,
                                           _sni_body([b""])))
        assert got == "ServerHello", "no StrictSNI, empty name: %r" % (got,)


def _with_extra_ext(hello, etype, body):
    """hello with one more extension etype (body) before the others."""
    b = hello[9:]
    p = 2 + 32
    p += 1 + b[p]
    p += 2 + int.from_bytes(b[p:p + 2], "big")
    p += 1 + b[p]
    exts = struct.pack(">HH", etype, len(body)) + body + b[p + 2:]
    b = b[:p] + struct.pack(">H", len(exts)) + exts
    hs = b"\x01" + len(b).to_bytes(3, "big") + b
    return hello[:3] + struct.pack(">H", len(hs)) + hs


def test_attack2_duplicate_extensions(ctx):
    """Two server_name extensions (an unknown name before a known one,
    under StrictSNI) or two ALPN extensions (http/1.1 before ftp): which
    one would the module read, and which OpenSSL?  Neither: a fatal alert
    (illegal_parameter), no ServerHello (held)."""
    srv = sni_server(ctx, tls={"TLSOptions": "StrictSNI"})
    for version in ("1.2", "1.3"):
        hello = client_hello(version, alpn=["ftp"], name="a.example")
        assert _first_answer(srv, hello) == "ServerHello", version
        for what, etype, body in (
                ("SNI", 0, _sni_body([b"c.example"])),
                ("ALPN", 16, b"\x00\x09\x08http/1.1")):
            got = _first_answer(srv, _with_extra_ext(hello, etype, body))
            assert got[0] == "alert", "TLS %s, two %s extensions: %r" % (
                version, what, got)
    assert srv.running()


def test_attack2_trickled_client_hello(ctx):
    """TLSTimeoutHandshake 3 against a ClientHello sent one byte every
    0.1 s (some 25 s for the whole): the deadline counts from the start
    of the handshake, not from the last byte, so the server closes the
    connection long before the hello is complete; a second session is
    served meanwhile (held)."""
    srv = ctx.server({"TLSRequired": "off", "TLSTimeoutHandshake": "3"},
                     shared=False)
    hello = client_hello("1.3")
    r = auth_tls(srv)
    sent = 0
    try:
        for i, byte in enumerate(hello):
            if i == 5:
                serves(srv, what="while a ClientHello trickles in")
            try:
                r.sock.send(bytes([byte]))
            except OSError:
                break
            sent += 1
            time.sleep(0.1)
    finally:
        r.close()
    assert sent < len(hello), \
        "the whole ClientHello (%d bytes, one every 0.1 s) went through " \
        "under TLSTimeoutHandshake 3" % len(hello)
    serves(srv)
