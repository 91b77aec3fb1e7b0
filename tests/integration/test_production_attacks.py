"""Production failure modes of certificate renewal, stapling and ticket
keys, tried against the real daemon (issue 14, outside review).  Each test
here failed on the code before its fix."""

import os

import ftpsd
from clients import context, peer_cert_der
from test_cert_reload import (Renewal, _read, _write, _replace, _serial_of,
                              served_serial, wait_log, DEADLINE)
import time


def _lines(path):
    try:
        with open(path) as f:
            return len(f.read().splitlines())
    except FileNotFoundError:
        return 0


def _plain_pair(r, serial):
    """A certificate and its unencrypted key: (cert PEM, key PEM)."""
    k = r.pki.key("v%d" % serial)
    return _read(r.pki.cert("v%d" % serial, k, serial)), _read(k)


def _serial_at(srv, port):
    return _serial_of(peer_cert_der(srv, context(), port=port))


def _wait_serial_at(srv, port, want, what):
    deadline = time.time() + DEADLINE
    seen = None
    while time.time() < deadline:
        assert srv.running(), "%s: the daemon exited:\n%s" \
            % (what, srv.log_tail(40))
        seen = _serial_at(srv, port)
        if seen == want:
            return
        time.sleep(0.2)
    raise AssertionError("%s: serial %s, want %s:\n%s"
                         % (what, seen, want, srv.log_tail(40)))


def test_attack_hanging_provider_not_asked_at_every_look(ctx):
    """A renewed encrypted key whose TLSPassPhraseProvider hangs: the
    master waits for it (10 seconds, accepting nobody meanwhile) once, not
    again at every look of the watcher (FTPSCertificateWatch 1 made the
    daemon unreachable for good: each look hung 10 s, clients timed out).
    The last good certificate is served; changed files, once the provider
    answers, are taken."""
    r = Renewal(ctx, "watch", passphrase="first", name="hang")
    runs = os.path.join(r.srv.dir, "runs.txt")
    mode = os.path.join(r.srv.dir, "mode")
    with open(mode, "w") as f:
        f.write("first\n")
    provider = os.path.join(r.srv.dir, "provider.sh")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\necho run >> %s\n"
                "if grep -q hang %s; then exec sleep 3600; fi\n"
                "cat %s\n" % (runs, mode, mode))
    os.chmod(provider, 0o755)
    port = ftpsd.free_port()
    vcert = os.path.join(r.live, "vhost.pem")
    vkey = os.path.join(r.live, "vhost.key")
    c, k = _plain_pair(r, 11)
    _write(vcert, c)
    _write(vkey, k)
    r.srv.append_conf([
        "TLSPassPhraseProvider " + provider,
        "<VirtualHost 127.0.0.1>",
        "  Port %d" % port,
        "  TLSEngine on",
        "  TLSRequired off",
        "  TLSECCertificateFile " + vcert,
        "  TLSECCertificateKeyFile " + vkey,
        "  AuthUserFile " + os.path.join(r.srv.dir, "passwd"),
        "</VirtualHost>",
    ])
    r.start()
    r.srv.wait_listening(port)
    assert _serial_at(r.srv, port) == 11

    with open(mode, "w") as f:
        f.write("hang\n")
    mark = r.srv.log_mark()
    cert2, key2 = r.new_pair(2, passphrase="second")
    _replace(r.key, key2)
    _replace(r.cert, cert2)
    wait_log(r.srv, mark, r.key, "gave no passphrase")
    hung = _lines(runs)

    # The watcher looks again (it takes the vhost's renewal): the main
    # server's files, unchanged since the provider hung, are left alone.
    c, k = _plain_pair(r, 12)
    _replace(vkey, k)
    _replace(vcert, c)
    _wait_serial_at(r.srv, port, 12, "the vhost's renewal")
    assert _lines(runs) == hung, "the hung provider was run again (%d " \
        "runs, %d when it hung): each look holds the master up for 10 s" \
        % (_lines(runs), hung)
    assert served_serial(r.srv) == 1

    # The provider answers again, and the key is written once more: taken.
    with open(mode, "w") as f:
        f.write("second\n")
    _replace(r.key, key2)
    deadline = time.time() + DEADLINE
    while served_serial(r.srv) != 2:
        assert time.time() < deadline, r.srv.log_tail(40)
        time.sleep(0.2)
