"""gnutls-cli in explicit mode (--starttls-proto=ftp: plain banner, AUTH
TLS, then the handshake), TLS 1.2 and TLS 1.3, then a login over TLS."""

import re

from clients import gnutls_cli

PRIORITY = {"1.2": "NORMAL:-VERS-ALL:+VERS-TLS1.2",
            "1.3": "NORMAL:-VERS-ALL:+VERS-TLS1.3"}


def _gnutls_explicit(ctx, version):
    ctx.need("gnutls-cli")
    srv = ctx.server()
    rc, out = gnutls_cli(srv, lines=("USER " + srv.user,
                                     "PASS " + srv.password, "PWD", "QUIT"),
                         extra=["--starttls-proto=ftp",
                                "--priority", PRIORITY[version]])
    assert "Handshake was completed" in out, \
        "gnutls-cli --starttls-proto=ftp, TLS %s: no handshake:\n%s" \
        % (version, out[-2000:])
    want = "TLS" + version
    m = re.search(r"^- Description: \((TLS1\.\d)-", out, re.M)
    assert m and m.group(1) == want, \
        "gnutls-cli: want %s, got %s:\n%s" % (want, m and m.group(1),
                                              out[-2000:])
    for code in ("331", "230", "257", "221"):
        assert re.search(r"^%s[ -]" % code, out, re.M), \
            "gnutls-cli TLS %s: no %s reply:\n%s" % (version, code,
                                                     out[-2000:])


def test_gnutls_cli_explicit_tls12(ctx):
    _gnutls_explicit(ctx, "1.2")


def test_gnutls_cli_explicit_tls13(ctx):
    _gnutls_explicit(ctx, "1.3")
