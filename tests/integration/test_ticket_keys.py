"""Rotating session ticket keys: TLSSessionTicketKeys (issue 14).

The master makes a ticket key at its start, at every restart (SIGHUP) and
every interval; the newest encrypts, older ones decrypt until they are
"age" old or more than "count" keys exist.  Checked with real clients
(Python's ssl, TLS 1.2 and 1.3), each resumption followed by a login and a
protected download compared byte for byte (the data connection must still
prove it belongs to the session):

- a ticket issued before a SIGHUP still resumes after it (the restart
  keeps the keys and the vhost's ticket scope, and adds a key);
- "count 2": after two restarts the first key is gone, its ticket gets a
  full handshake (no error); the second key's ticket still resumes;
- "age 10": a ticket resumes while its key is young; once the key is 10 s
  old, a full handshake; the timer made new keys meanwhile;
- a session that outlives its keys ("age 10", downloads 11 s apart) keeps
  opening data connections that resume it;
- the per-vhost scope holds with rotating keys: after a SIGHUP a ticket
  from one vhost offered with another's SNI name gets a full handshake
  there, while each vhost's own ticket resumes;
- so does the scope of IP/port-based vhosts, which share the keys too;
- the ring is locked in memory in the master and in the sessions;
- the directive's grammar: mod_tls's "age secs" and "count n"; values
  out of range, unknown or repeated names, and contexts other than the
  server config are refused with the reason.
"""

import os
import re
import signal
import ssl
import time

import ftpsd
from ftpsd import Skip
from clients import (ReusingFTP_TLS, context, close_quietly, retr_bytes,
                     TIMEOUT)
from test_sni import sni_server, SniFTP_TLS

VERSIONS = ("1.2", "1.3")
DATA = os.urandom(70000)


class _Offering(ReusingFTP_TLS):
    """ftplib whose control handshake offers a given session (and SNI)."""

    offer = None
    sni = None

    def auth(self):
        resp = self.voidcmd("AUTH TLS")
        self.sock = self.context.wrap_socket(
            self.sock, server_hostname=self.sni, session=self.offer)
        self.file = self.sock.makefile(mode="r", encoding=self.encoding)
        self.data_log = []
        return resp


def _server(ctx, extra=()):
    srv = ctx.server(extra=list(extra), shared=False, start=False,
                     name="ftpsd-keys")
    srv.home_file("data.bin", DATA)
    srv.start()
    return srv


def _ticket(srv, c, sni=None):
    """A logged-in control connection's session, once it holds a ticket
    (TLS 1.3 tickets come after the handshake: a reply brings them)."""
    f = _Offering(context=c, timeout=TIMEOUT)
    f.sni = sni
    f.connect(srv.host, srv.port)
    try:
        f.auth()
        f.login(srv.user, srv.password)
        f.voidcmd("NOOP")
        sess = f.sock.session
        assert sess is not None and sess.has_ticket, \
            "the control connection got no ticket\n%s" % srv.log_tail()
        return sess
    finally:
        close_quietly(f)


def _offer(srv, c, sess, what, sni=None, want=None):
    """Offer sess on a new control connection; log in and download over a
    protected data connection.  Returns whether the control handshake
    resumed; want=True/False asserts it."""
    f = _Offering(context=c, timeout=TIMEOUT)
    f.sni, f.offer = sni, sess
    f.connect(srv.host, srv.port)
    try:
        f.auth()
        reused = f.sock.session_reused
        f.login(srv.user, srv.password)
        f.prot_p()
        got = retr_bytes(f, "data.bin")
    finally:
        close_quietly(f)
    if want is not None:
        assert reused == want, "%s: %s; want %s\n%s" % (
            what, "resumed" if reused else "full handshake",
            "a resumption" if want else "a full handshake", srv.log_tail())
    return reused, got


def _made(srv, mark):
    """The "session ticket key N made (why)" lines since mark: [(N, why)]"""
    text = ftpsd.read_text(srv.stderr_path)[mark[0]:]
    return [(int(n), why) for n, why in
            re.findall(r"session ticket key (\d+) made \((\w+)\)", text)]


def _sighup(srv):
    """Restart the daemon; wait until its new key is made and it listens.
    Returns the new key's number."""
    mark = srv.log_mark()
    os.kill(srv.proc.pid, signal.SIGHUP)
    deadline = time.time() + 30
    while time.time() < deadline:
        made = [n for n, why in _made(srv, mark) if why == "restart"]
        if made:
            srv.wait_listening(srv.port)
            time.sleep(0.3)
            return made[-1]
        assert srv.running(), "the daemon died on SIGHUP\n%s" % srv.log_tail()
        time.sleep(0.1)
    raise AssertionError("no new ticket key after SIGHUP\n%s" % srv.log_tail())


def test_ticket_keys_resume_across_sighup(ctx):
    """Tickets issued before a SIGHUP resume after it, under TLS 1.2 and
    1.3 (old: the restart built new contexts with new keys and scopes, so
    every client made a full handshake after a reload); the data
    connection still proves it belongs to the session; tickets issued
    after the restart (under the new key) resume too."""
    srv = _server(ctx)
    cs = {v: context(v) for v in VERSIONS}
    sessions = {v: _ticket(srv, cs[v]) for v in VERSIONS}
    key = _sighup(srv)
    assert key >= 2, "the restart made key %d, not a new one" % key
    for v in VERSIONS:
        c = cs[v]
        what = "TLS %s ticket from before the SIGHUP" % v
        _, got = _offer(srv, c, sessions[v], what, want=True)
        assert got == DATA, "%s: download differs" % what
        what = "TLS %s ticket from after the SIGHUP" % v
        _offer(srv, c, _ticket(srv, c), what, want=True)


def test_ticket_keys_count_limit(ctx):
    """count 2: key 1 (start), key 2 (first SIGHUP), key 3 (second SIGHUP,
    key 1 dropped).  Key 1's ticket gets a full handshake and the session
    works; key 2's ticket still resumes."""
    srv = _server(ctx, ["TLSSessionTicketKeys count 2"])
    cs = {v: context(v) for v in VERSIONS}
    first = {v: _ticket(srv, cs[v]) for v in VERSIONS}
    _sighup(srv)
    second = {v: _ticket(srv, cs[v]) for v in VERSIONS}
    mark = srv.log_mark()
    _sighup(srv)
    text = ftpsd.read_text(srv.stderr_path)[mark[0]:]
    assert re.search(r"made \(restart\); 2 keys decrypt, 1 dropped", text), \
        "the second restart did not drop the oldest key\n%s" % text
    for v in VERSIONS:
        c = cs[v]
        _, got = _offer(srv, c, first[v], "TLS %s ticket under the dropped "
                        "key 1" % v, want=False)
        assert got == DATA
        _offer(srv, c, second[v], "TLS %s ticket under key 2" % v, want=True)


def test_ticket_keys_age_out(ctx):
    """age 10: a new key every 2 s (a quarter of the age); a ticket
    resumes while its key is young, and once every key that existed when
    it was issued is 10 s old, it gets a full handshake (no error: login
    and download work)."""
    srv = _server(ctx, ["TLSSessionTicketKeys age 10"])
    mark = srv.log_mark()
    issued, sessions = {}, {}
    cs = {v: context(v) for v in VERSIONS}
    for v in VERSIONS:
        sessions[v] = _ticket(srv, cs[v])
        issued[v] = time.time()
        _offer(srv, cs[v], sessions[v], "TLS %s ticket, just issued" % v,
               want=True)
    for v in VERSIONS:
        left = issued[v] + 11 - time.time()
        if left > 0:
            time.sleep(left)
        _, got = _offer(srv, cs[v], sessions[v], "TLS %s ticket whose "
                        "key aged out" % v, want=False)
        assert got == DATA
    rotations = [n for n, why in _made(srv, mark) if why == "rotation"]
    assert len(rotations) >= 3, "the timer made %d keys in 11 s; want a " \
        "new one every 2 s\n%s" % (len(rotations), srv.log_tail())


def test_ticket_keys_vhost_scope_after_rotation(ctx):
    """The default server and vhosts a.example, b.example on one port,
    sharing the ring.  Tickets issued before a SIGHUP (a new key; the old
    one still decrypts), TLS 1.2 and 1.3: the default server's ticket
    offered with SNI a.example, and a's ticket offered with SNI b.example,
    get full handshakes (the vhost's own session); a's ticket with SNI
    a.example resumes."""
    srv = sni_server(ctx)
    cs = {v: context(v) for v in VERSIONS}
    tickets = {(v, sni): _ticket(srv, cs[v], sni)
               for v in VERSIONS for sni in (None, "a.example")}
    _sighup(srv)
    for v in VERSIONS:
        c = cs[v]
        for sess_of, sni, want in ((None, "a.example", False),
                                   ("a.example", "b.example", False),
                                   ("a.example", "a.example", True)):
            what = "TLS %s: the ticket of %s offered with SNI %s" % (
                v, sess_of or "the default server", sni)
            f = SniFTP_TLS(context=c, timeout=TIMEOUT)
            f.sni = sni
            f.connect(srv.host, srv.port)
            try:
                f.voidcmd("AUTH TLS")
                f.sock = c.wrap_socket(f.sock, server_hostname=sni,
                                       session=tickets[(v, sess_of)])
                f.file = f.sock.makefile(mode="r", encoding=f.encoding)
                f.data_log = []
                reused = f.sock.session_reused
                f.login(srv.user, srv.password)
                f.prot_p()
                who = retr_bytes(f, "who.txt")
            finally:
                close_quietly(f)
            assert reused == want, "%s: %s" % (
                what, "resumed" if reused else "not resumed")
            assert who == srv.vh[sni].who, "%s: not on %s's session" % (
                what, sni)


def test_ticket_keys_port_vhost_scope(ctx):
    """A <VirtualHost> on another port, same certificate, user and home,
    sharing the ring (old: each context had its own keys).  Tickets from
    the default server's port offered on the vhost's port, and the
    reverse, TLS 1.2 and 1.3, before and after a SIGHUP: full handshakes
    that serve; each port's own ticket resumes."""
    srv = ctx.server(start=False, shared=False, name="ftpsd-keys-ports")
    port2 = ftpsd.free_port()
    while port2 == srv.port:
        port2 = ftpsd.free_port()
    srv.append_conf([
        "<VirtualHost 127.0.0.1>",
        "  Port %d" % port2,
        '  ServerName "mod_ftps port vhost"',
        "  AuthOrder mod_auth_file.c",
        "  AuthUserFile " + os.path.join(srv.dir, "passwd"),
        "  RequireValidShell off",
        "  DefaultRoot ~",
        "  TLSEngine on",
        "  TLSLog " + srv.tls_log,
        "  TLSRSACertificateFile " + ftpsd.cert(),
        "  TLSProtocol TLSv1.2 TLSv1.3",
        "  TLSRequired on",
        "</VirtualHost>",
    ])
    srv.home_file("data.bin", DATA)
    srv.start()
    srv.wait_listening(port2)
    main_port = srv.port
    cs = {v: context(v) for v in VERSIONS}
    tickets = {}
    for v in VERSIONS:
        for port in (main_port, port2):
            srv.port = port
            tickets[(v, port)] = _ticket(srv, cs[v])
    srv.port = main_port
    try:
        for when in ("before", "after"):
            if when == "after":
                srv.port = main_port
                _sighup(srv)
                srv.wait_listening(port2)
            for v in VERSIONS:
                for issued, offered in ((main_port, port2),
                                        (port2, main_port),
                                        (port2, port2)):
                    srv.port = offered
                    _offer(srv, cs[v], tickets[(v, issued)],
                           "TLS %s, %s a SIGHUP: port %d's ticket on port %d"
                           % (v, when, issued, offered),
                           want=issued == offered)
    finally:
        srv.port = main_port


def _vmlck_kb(pid):
    """VmLck of process pid, in kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmLck:"):
                return int(line.split()[1])
    return 0


def test_ticket_keys_memory_locked(ctx):
    """The ring is locked in memory in the master and, again (fork passes
    no locks on), in each session: both have locked memory (old: none,
    the keys were OpenSSL's, in swappable heap)."""
    if ftpsd.sanitized():
        raise Skip("AddressSanitizer turns mlock() into a no-op")
    srv = _server(ctx)
    f = ReusingFTP_TLS(context=context("1.3"), timeout=TIMEOUT)
    f.connect(srv.host, srv.port)
    try:
        f.auth()
        f.login(srv.user, srv.password)
        kids = [int(p) for p in os.listdir("/proc") if p.isdigit()
                and _ppid(int(p)) == srv.proc.pid]
        assert kids, "no session process found"
        assert _vmlck_kb(srv.proc.pid) > 0, "the master locks no memory"
        for pid in kids:
            assert _vmlck_kb(pid) > 0, "session %d locks no memory" % pid
    finally:
        close_quietly(f)


def _ppid(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def test_ticket_keys_directive_grammar(ctx):
    """mod_tls's grammar: 'age secs' and 'count n' pairs.  Accepted:
    durations as ProFTPD writes them; refused, with the reason: an age
    under 10 s, a count outside 1..1000, an unknown or repeated name, a
    missing value, and a <VirtualHost> context."""
    good = ["age 12h count 25", "count 10", "AGE 00:30:00", "age 90",
            "age 15m COUNT 1"]
    bad = {"age 5": "below the minimum",
           "count 0": "expected a count",
           "count 1001": "expected a count",
           "count many": "expected a count",
           "age soon": "error parsing age",
           "age 1h age 2h": "given twice",
           "size 3": "unknown parameter",
           "age": "expected: [age secs] [count n]"}
    for args in good:
        srv = ctx.server(extra=["TLSSessionTicketKeys " + args],
                         start=False, shared=False)
        rc, out = srv.check()
        assert rc == 0, "TLSSessionTicketKeys %s refused:\n%s" % (args, out)
        assert "not supported" not in out, out
    for args, why in bad.items():
        srv = ctx.server(extra=["TLSSessionTicketKeys " + args],
                         start=False, shared=False)
        rc, out = srv.check()
        assert rc != 0 and why in out and "TLSSessionTicketKeys" in out, \
            "TLSSessionTicketKeys %s: rc %d, want a refusal saying %r:\n%s" \
            % (args, rc, why, out)
    srv = ctx.server(extra=["<VirtualHost 127.0.0.1>", "Port %d" %
                            ftpsd.free_port(), "TLSSessionTicketKeys count 5",
                            "</VirtualHost>"], start=False, shared=False)
    rc, out = srv.check()
    assert rc != 0 and "TLSSessionTicketKeys" in out, \
        "TLSSessionTicketKeys in <VirtualHost> accepted:\n%s" % out


def test_ticket_keys_long_session_keeps_transferring(ctx):
    """age 10: a session that outlives its keys (it got the ring when it
    forked; only the master rotates) still opens protected data
    connections that resume its own session, TLS 1.2 and 1.3: one download
    at once, one after 11 s (TLS 1.3: its fresh tickets come from a key of
    its own; TLS 1.2: the data connection resumes the control connection's
    ticket, under a key that aged out since, which its own data
    connections may still use)."""
    srv = _server(ctx, ["TLSSessionTicketKeys age 10"])
    sessions = {}
    try:
        for v in VERSIONS:
            f = ReusingFTP_TLS(context=context(v), timeout=TIMEOUT)
            f.connect(srv.host, srv.port)
            f.auth()
            f.login(srv.user, srv.password)
            f.prot_p()
            assert retr_bytes(f, "data.bin") == DATA
            sessions[v] = f
        time.sleep(11)
        for v, f in sessions.items():
            try:
                got = retr_bytes(f, "data.bin")
            except Exception as e:
                raise AssertionError("TLS %s: download 11 s into a session "
                                     "with age 10: %s: %s\n%s" % (
                                         v, type(e).__name__, e,
                                         srv.log_tail()))
            assert got == DATA, "TLS %s: download differs" % v
    finally:
        for f in sessions.values():
            close_quietly(f)
