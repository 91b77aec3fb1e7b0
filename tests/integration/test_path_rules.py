"""TLSRequired in <Directory> and .ftpaccess for the commands that name a
path (README "Protocol"): a control command (STAT, SIZE, MDTM, MLST, MKD,
RMD, DELE, RNFR, RNTO, MFMT, SITE CHMOD, CWD, CDUP) is judged by the rule
of the path it names, as transfers are; a STAT listing over a clear
control connection is judged like LIST under PROT C; and a command that
names no path is judged where the session is (its working directory),
never by the path the previous command named: no refusal outlives its
command (issue 11, the session that jammed on 550 after "STAT secure")."""

import os
import ssl

import ftpsd
from clients import Raw, expect

# TLSRequired off for the server; secure/ wants TLS on both channels, its
# open/ subdirectory nothing, dsec/ a protected data channel only.
TLS = {"TLSRequired": "off"}
EXTRA = ["<Directory ~/secure>", "  TLSRequired on", "</Directory>",
         "<Directory ~/secure/open>", "  TLSRequired off", "</Directory>",
         "<Directory ~/dsec>", "  TLSRequired data", "</Directory>"]
CTRL_550 = "SSL/TLS required on the control channel"
A = b"in home\n"


class Tree:
    """home/a.txt, home/sub/, secure/<S> and secure/sub/, secure/open/o.txt,
    dsec/<D>, fsec/<F> with .ftpaccess "TLSRequired on"; the secret names
    are new for each test (the server is shared)."""

    def __init__(self, srv):
        tag = os.urandom(4).hex()
        self.srv = srv
        self.S, self.D, self.F = ("secret-%s.txt" % tag, "dsecret-%s.txt" % tag,
                                  "fsecret-%s.txt" % tag)
        for d in ("sub", "secure", "secure/sub", "secure/open", "dsec",
                  "fsec"):
            self._dir(d)
        srv.home_file("a.txt", A)
        srv.home_file("sub/in-sub.txt", b"sub\n")
        srv.home_file("secure/" + self.S, b"secret\n")
        srv.home_file("secure/open/o.txt", b"open\n")
        srv.home_file("dsec/" + self.D, b"data secret\n")
        srv.home_file("fsec/" + self.F, b"ftpaccess secret\n")
        srv.home_file("fsec/.ftpaccess", b"TLSRequired on\n")
        os.chmod(self.path("fsec/.ftpaccess"), 0o644)

    def _dir(self, d):
        os.makedirs(self.path(d), 0o755, exist_ok=True)
        os.chown(self.path(d), ftpsd.UID, ftpsd.GID)

    def path(self, rel):
        return os.path.join(self.srv.home, rel)

    def state(self):
        """What a refused command must not change: the names in secure/,
        dsec/, fsec/ and home, and the secrets' modes and times."""
        out = {}
        for d in (".", "secure", "dsec", "fsec"):
            out[d] = sorted(os.listdir(self.path(d)))
        for f in ("secure/" + self.S, "dsec/" + self.D, "fsec/" + self.F):
            st = os.stat(self.path(f))
            out[f] = (st.st_mode, st.st_mtime_ns)
        return out


def _server(ctx):
    srv = ctx.server(TLS, extra=EXTRA)
    return srv, Tree(srv)


def _plain(srv):
    r = Raw(srv)
    r.login()
    expect(r.cmd("TYPE I"), 200, "TYPE I")   # SIZE is refused in ASCII
    return r


def _tls(srv, prot="C"):
    r = Raw(srv)
    expect(r.cmd("AUTH TLS"), 234, "AUTH TLS")
    r.starttls()
    r.login()
    expect(r.cmd("PBSZ 0"), 200, "PBSZ 0")
    expect(r.cmd("PROT " + prot), 200, "PROT " + prot)
    expect(r.cmd("TYPE I"), 200, "TYPE I")
    return r


def _ccc(r):
    expect(r.cmd("CCC"), 200, "CCC")
    r.sock = r.sock.unwrap()


def _goes_on(r, after, cwd="/"):
    """The session is not stuck in the rule of what `after` named: PWD,
    NOOP, CWD to where it was, PWD."""
    for cmd, code in (("PWD", 257), ("NOOP", 200), ("CWD " + cwd, 250),
                      ("PWD", 257)):
        text = expect(r.cmd(cmd), code, "%s after %r" % (cmd, after))
        if cmd == "PWD":
            assert '"%s"' % cwd in text, "PWD after %r: %r" % (after, text)


def _refused(r, cmd, secrets, cwd="/"):
    code, text = r.cmd(cmd)
    assert code == 550 and CTRL_550 in text, "%s over a clear control " \
        "connection: want 550 %s, got %r" % (cmd, CTRL_550, text)
    for s in secrets:
        assert s not in text, "%s: the reply names %s: %r" % (cmd, s, text)
    _goes_on(r, cmd, cwd)


def _nlst_clear(r, what, between=None):
    """PASV, then the command `between` (its reply returned too), then NLST
    over the plain data connection: (reply to between, NLST's final reply,
    the names listed)."""
    d = r.pasv()
    got = r.cmd(between) if between else None
    names = b""
    try:
        r.send("NLST\r\n")
        code, text = r.reply()
        if code in (125, 150):
            while True:
                chunk = d.recv(65536)
                if not chunk:
                    break
                names += chunk
            d.close()   # the server's lingering close waits for ours
            code, text = r.reply()
    finally:
        d.close()
    return got, (code, text), names.decode(errors="replace").split()


def test_path_rules_control_commands_in_clear(ctx):
    """A plain login (no AUTH): every control command that names
    secure/ (TLSRequired on) gets 550, reveals nothing, changes nothing;
    PWD, NOOP, CWD / and a clear listing of home work after each."""
    srv, t = _server(ctx)
    S = t.S
    before = t.state()
    r = _plain(srv)
    try:
        for cmd in ("STAT secure", "STAT -la secure", "STAT secure/" + S,
                    "SIZE secure/" + S, "MDTM secure/" + S,
                    "MLST secure/" + S, "MLST secure", "MKD secure/new",
                    "XMKD secure/new", "RMD secure/sub", "XRMD secure/sub",
                    "DELE secure/" + S, "RNFR secure/" + S,
                    "SITE CHMOD 600 secure/" + S,
                    "MFMT 20000101000000 secure/" + S,
                    "CWD secure", "XCWD secure", "CWD /secure",
                    "CWD sub/../secure", "CWD secure/open/..",
                    "CWD ~/secure", "SIZE ./secure/./" + S,
                    "LIST secure", "NLST secure/" + S):
            _refused(r, cmd, (S,))
        # into secure/ from elsewhere: the name it is given is the path
        expect(r.cmd("RNFR a.txt"), 350, "RNFR a.txt")
        _refused(r, "RNTO secure/stolen.txt", (S,))
        assert t.state() == before, "refused commands changed the tree:" \
            " %r, was %r" % (t.state(), before)
        _, fin, names = _nlst_clear(r, "after the refusals")
        assert fin[0] == 226 and "a.txt" in names, (fin, names)
        expect(r.cmd("SIZE a.txt"), 213, "SIZE a.txt")
    finally:
        r.close()


def test_path_rules_ftpaccess_in_clear(ctx):
    """The same for a directory protected by its .ftpaccess file."""
    srv, t = _server(ctx)
    before = t.state()
    r = _plain(srv)
    try:
        for cmd in ("STAT fsec", "SIZE fsec/" + t.F, "MKD fsec/new",
                    "DELE fsec/" + t.F, "CWD fsec"):
            _refused(r, cmd, (t.F,))
        assert t.state() == before, "refused commands changed the tree"
    finally:
        r.close()


def test_path_rules_cdup_and_nested(ctx):
    """secure/open/ (TLSRequired off inside secure/) is usable in clear;
    CDUP from there names secure/ and is refused; the session stays in
    secure/open/ and goes on."""
    srv, t = _server(ctx)
    r = _plain(srv)
    try:
        expect(r.cmd("CWD secure/open"), 250, "CWD secure/open in clear")
        expect(r.cmd("SIZE o.txt"), 213, "SIZE o.txt in secure/open")
        for cmd in ("CDUP", "XCUP", "SIZE ../" + t.S, "CWD .."):
            _refused(r, cmd, (t.S,), cwd="/secure/open")
        expect(r.cmd("SIZE /a.txt"), 213, "SIZE /a.txt from secure/open")
        expect(r.cmd("CWD /"), 250, "CWD / from secure/open")
    finally:
        r.close()


def test_path_rules_no_jam_after_allowed_path(ctx):
    """AUTH TLS, PROT C: the control commands that name secure/ or dsec/
    run (the control channel is protected).  A listing that follows one
    (PASV, the command, NLST: nothing in between looks at the working
    directory again) is judged by the working directory's rule, not by the
    path the command named: home's names are listed, and in dsec/
    (TLSRequired data) "SIZE /a.txt" does not let NLST list dsec/ in
    clear."""
    srv, t = _server(ctx)
    r = _tls(srv, "C")
    try:
        for cmd, code in (("SIZE secure/" + t.S, 213),
                          ("MDTM dsec/" + t.D, 213),
                          ("STAT dsec", (211, 212, 213)),
                          ("MLST secure/" + t.S, 250),
                          ("DELE secure/nonexistent", 550)):
            got, fin, names = _nlst_clear(r, cmd, between=cmd)
            expect(got, code, cmd + " with TLS on the control channel")
            assert fin[0] == 226 and "a.txt" in names, "PASV, %s, NLST " \
                "in home under PROT C: want 226 and home's names, got %r " \
                "%r" % (cmd, fin, names)
            _goes_on(r, cmd)
        expect(r.cmd("CWD dsec"), 250, "CWD dsec")
        for cmd in ("SIZE /a.txt", "MDTM /a.txt", "STAT /sub"):
            got, fin, names = _nlst_clear(r, cmd, between=cmd)
            expect(got, (211, 212, 213), cmd + " from dsec/")
            assert fin[0] == 522 and t.D not in names, "PASV, %s, NLST " \
                "in dsec/ under PROT C: want 522, got %r %r" % (
                    cmd, fin, names)
            _goes_on(r, cmd, cwd="/dsec")
    finally:
        r.close()


def test_path_rules_stat_listing_in_clear(ctx):
    """A plain login: STAT lists over the clear control connection, so it
    is judged like LIST under PROT C: the names of dsec/ (TLSRequired data)
    are not listed, by naming it or by reaching it (-R); listings that do
    not reach it work."""
    srv, t = _server(ctx)
    D = t.D
    r = _plain(srv)
    try:
        for cmd in ("STAT dsec", "STAT -l dsec", "STAT dsec/" + D,
                    "STAT ~/dsec", "STAT dsec/*", "STAT */*",
                    "STAT -a -R", "STAT -l -lR .", "STAT -a -R /"):
            _refused(r, cmd, (D,))
        # mod_ls's STAT drops its first word of options: "STAT -R" lists
        # the names in . only, none in dsec/
        text = expect(r.cmd("STAT -R"), (211, 212, 213), "STAT -R")
        assert "dsec" in text and D not in text, text
        for cmd in ("LIST dsec", "NLST -R"):
            code, text = r.cmd(cmd)
            assert code == 522 and D not in text, "%s in clear: %r" % (
                cmd, text)
            _goes_on(r, cmd)
        expect(r.cmd("STAT"), 211, "STAT (server status)")
        text = expect(r.cmd("STAT a.txt"), (211, 212, 213), "STAT a.txt")
        assert "a.txt" in text, text
        text = expect(r.cmd("STAT -R sub"), (211, 212, 213), "STAT -R sub")
        assert "in-sub.txt" in text, text
        expect(r.cmd("CWD sub"), 250, "CWD sub")
        text = expect(r.cmd("STAT -la"), (211, 212, 213), "STAT -la in sub")
        assert "in-sub.txt" in text, text
    finally:
        r.close()


def test_path_rules_after_ccc(ctx):
    """With TLS on the control connection STAT dsec lists (protected);
    after CCC the same STAT, STAT -R, and the commands that name secure/
    are refused, and the session goes on; CCC itself is refused inside
    secure/ (TLSRequired on there) and accepted from home."""
    srv, t = _server(ctx)
    r = _tls(srv, "P")
    try:
        text = expect(r.cmd("STAT dsec"), (211, 212, 213), "STAT dsec, TLS")
        assert t.D in text, "STAT dsec with TLS on the control channel"
        expect(r.cmd("CWD secure"), 250, "CWD secure, TLS")
        expect(r.cmd("CCC"), 534, "CCC in secure/")
        expect(r.cmd("CWD /"), 250, "CWD /, TLS")
        _ccc(r)
        _goes_on(r, "CCC")
        before = t.state()
        for cmd in ("STAT dsec", "STAT -a -R", "STAT secure", "CWD secure",
                    "SIZE secure/" + t.S, "MKD secure/new",
                    "RNFR secure/" + t.S):
            _refused(r, cmd, (t.S, t.D))
        assert t.state() == before, "refused commands changed the tree"
        expect(r.cmd("SIZE a.txt"), 213, "SIZE a.txt after CCC")
    finally:
        try:
            r.close()
        except (OSError, ssl.SSLError):
            pass
