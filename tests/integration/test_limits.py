"""<Limit AUTH PBSZ PROT CCC SSCN>: the core leaves these checks to the
module that handles the command; refusals get 534 (AUTH PBSZ PROT CCC) or
550 (SSCN).  Each test also runs the same commands against the same
configuration without the <Limit>, so a refusal for another reason does not
pass for the <Limit>."""

from clients import Raw, expect

OFF = {"TLSRequired": "off"}
CCC_OK = {"TLSRequired": "auth+data"}


def _deny(cmd):
    return ["<Limit %s>" % cmd, "  DenyAll", "</Limit>"]


def _auth(srv):
    r = Raw(srv)
    expect(r.banner, 220, "banner")
    expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
    r.starttls()
    return r


def _servers(ctx, cmd, tls=OFF):
    """(server with <Limit cmd> DenyAll, the same server without it)"""
    return (ctx.server(tls, extra=_deny(cmd)),
            ctx.server(tls, extra=["# no <Limit %s>" % cmd]))


def test_limit_prot_534(ctx):
    denied, allowed = _servers(ctx, "PROT")
    with _auth(allowed) as r:
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ 0 (no <Limit>)")
        expect(r.cmd("PROT P"), 200, "PROT P (no <Limit>)")
    with _auth(denied) as r:
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ 0 (<Limit PROT>)")
        expect(r.cmd("PROT P"), 534, "PROT P under <Limit PROT> DenyAll")
        expect(r.cmd("PROT C"), 534, "PROT C under <Limit PROT> DenyAll")
        expect(r.cmd("PWD"), 257, "PWD after the refusals")


def test_limit_pbsz_534(ctx):
    denied, allowed = _servers(ctx, "PBSZ")
    with _auth(allowed) as r:
        r.login()
        expect(r.cmd("PBSZ 0"), 200, "PBSZ 0 (no <Limit>)")
    with _auth(denied) as r:
        r.login()
        expect(r.cmd("PBSZ 0"), 534, "PBSZ 0 under <Limit PBSZ> DenyAll")
        expect(r.cmd("PWD"), 257, "PWD after the refusal")


def test_limit_ccc_534(ctx):
    denied, allowed = _servers(ctx, "CCC", CCC_OK)
    with _auth(allowed) as r:
        r.login()
        expect(r.cmd("CCC"), 200, "CCC (no <Limit>)")
    with _auth(denied) as r:
        r.login()
        expect(r.cmd("CCC"), 534, "CCC under <Limit CCC> DenyAll")
        assert r.sock._sslobj is not None, "control connection left TLS"
        expect(r.cmd("PWD"), 257, "PWD over TLS after the refused CCC")


def test_limit_sscn_550(ctx):
    denied, allowed = _servers(ctx, "SSCN")
    with _auth(allowed) as r:
        r.login()
        expect(r.cmd("SSCN ON"), 200, "SSCN ON (no <Limit>)")
    with _auth(denied) as r:
        r.login()
        expect(r.cmd("SSCN ON"), 550, "SSCN ON under <Limit SSCN> DenyAll")
        expect(r.cmd("SSCN"), 550, "SSCN under <Limit SSCN> DenyAll")
        expect(r.cmd("PWD"), 257, "PWD after the refusals")


def test_limit_auth_refused(ctx):
    """AUTH TLS refused with 534, no handshake: the session goes on in
    clear (plain login works)."""
    denied, allowed = _servers(ctx, "AUTH")
    with Raw(allowed) as r:
        expect(r.cmd("AUTH TLS"), 234, "AUTH TLS (no <Limit>)")
    with Raw(denied) as r:
        expect(r.cmd("AUTH TLS"), 534, "AUTH TLS under <Limit AUTH> DenyAll")
        # a server waiting for a ClientHello would not answer in clear
        r.sock.settimeout(5)
        try:
            got = r.cmd("SYST")
        except (OSError, EOFError) as e:
            raise AssertionError("no clear reply after the refused AUTH "
                                 "(handshake pending?): %s" % e)
        expect(got, 215, "SYST in clear after the refused AUTH")
        expect(r.cmd("AUTH SSL"), 534, "AUTH SSL under <Limit AUTH> DenyAll")
        r.login()
        expect(r.cmd("PWD"), 257, "PWD on the plain session")
