"""TLSRequired path rules against an outside attacker (README "Protocol"):
a listing in clear (PROT C) reads its target exactly as mod_ls does (the
whole rest of the line, so names may hold blanks; ~ and ~user expanded),
so it cannot reach a <Directory> whose TLSRequired demands a protected
data channel by spelling the path another way; mod_digest's commands
(HASH, XMD5, XCRC, ...) are judged by the rule of the file they name; and
a server where no rule can require a protected data channel (none in the
configuration, AllowOverride off) lists any tree in clear, while one where
.ftpaccess files could add a rule refuses a tree too large to check with
a reason the admin can read."""

import ftplib
import os
import subprocess

import ftpsd
from clients import Raw, expect, ftps, close_quietly
from ftpsd import Skip

CTRL = {"TLSRequired": "ctrl"}   # data protection left to PROT
RULES = ["<Directory ~/prot>", "  TLSRequired data", "</Directory>",
         "<Directory \"~/sp ace/prot\">", "  TLSRequired data",
         "</Directory>"]
DIGEST = "/usr/lib/proftpd/mod_digest.so"


def _tree(srv):
    for d in ("prot", "sp ace", "sp ace/prot", "pub"):
        p = os.path.join(srv.home, d)
        os.makedirs(p, exist_ok=True)
        os.chown(p, ftpsd.UID, ftpsd.GID)
    srv.home_file("prot/SECRET-A.txt", b"a\n")
    srv.home_file("sp ace/prot/SECRET-B.txt", b"b\n")
    srv.home_file("pub/open.txt", b"open\n")


def _listing(f, cmd):
    lines = []
    try:
        f.retrlines(cmd, lines.append)
    except (ftplib.error_perm, ftplib.error_temp, ftplib.error_reply) as e:
        return str(e), lines
    return "226", lines


def _all_refused(f, cmds):
    failures = []
    for cmd in cmds:
        code, lines = _listing(f, cmd)
        if not code.startswith("522") or any("SECRET" in l for l in lines):
            failures.append("%s: %s %r" % (cmd, code, lines[:4]))
    assert not failures, "PROT C listings reaching a directory that " \
        "requires a protected data channel: " + "; ".join(failures)


def test_policy_listing_name_with_blanks(ctx):
    """mod_ls lists the whole line after the options as one path: LIST -R
    "sp ace" and NLST "sp ace/*/*" reached sp ace/prot/ (TLSRequired data)
    and listed SECRET-B.txt in clear, since the check took each word as a
    path of its own.  Listings of the same directory that do not reach
    prot/ still work, and PROT P lists it all."""
    srv = ctx.server(CTRL, extra=RULES)
    _tree(srv)
    f = ftps(srv, prot_p=False)
    try:
        f.voidcmd("PBSZ 0")
        f.prot_c()
        _all_refused(f, ("LIST -R sp ace", "NLST sp ace/*/*",
                         "LIST -lR sp ace", "NLST -R sp ace",
                         "LIST -R sp ace/", "NLST sp\\ ace/*/*"))
        code, lines = _listing(f, "LIST sp ace")
        assert code == "226" and any(l.endswith(" prot") for l in lines), \
            "PROT C LIST sp ace (names prot/, lists nothing in it): %s %r" \
            % (code, lines)
        code, lines = _listing(f, "LIST -R pub")
        assert code == "226" and any("open.txt" in l for l in lines), \
            "PROT C LIST -R pub: %s %r" % (code, lines)
        f.prot_p()
        code, lines = _listing(f, "LIST -R sp ace")
        assert code == "226" and any("SECRET-B" in l for l in lines), \
            "PROT P LIST -R sp ace: %s %r" % (code, lines)
    finally:
        close_quietly(f)


def test_policy_listing_home_tilde(ctx):
    """Without DefaultRoot mod_ls expands ~ and ~user to the home
    directory: LIST -R ~, LIST -R ~USER, NLST ~/*/*, NLST ~USER/*/* listed
    prot/SECRET-A.txt and sp ace/prot/SECRET-B.txt in clear, since the
    check looked for a directory literally named "~"."""
    srv = ctx.server(CTRL, extra=RULES, start=False)
    srv.replace_conf("DefaultRoot", "# no DefaultRoot")
    _tree(srv)
    srv.start()
    f = ftps(srv, prot_p=False)
    u = srv.user
    try:
        f.voidcmd("PBSZ 0")
        f.prot_c()
        _all_refused(f, ("LIST -R ~", "LIST -R ~" + u, "NLST ~/*/*",
                         "NLST ~%s/*/*" % u, "LIST -R ~/sp ace",
                         "NLST ~/sp ace/*/*", "NLST -R ~/"))
        code, lines = _listing(f, "NLST ~/pub/*")
        assert code == "226" and any(l.endswith("/pub/open.txt")
                                     for l in lines), \
            "PROT C NLST ~/pub/* (reaches nothing protected): %s %r" % (
                code, lines)
    finally:
        close_quietly(f)


def test_policy_digest_commands_by_path(ctx):
    """mod_digest's HASH, MD5, XCRC, XMD5, XSHA, XSHA1, XSHA256, XSHA512
    name a file: from home, over a clear control connection, they sent the
    checksums of secure/s.txt although <Directory ~/secure> has
    TLSRequired on.  They get 550 now; on a file in home they still
    work."""
    if not os.path.exists(DIGEST):
        raise Skip("%s not installed" % DIGEST)
    srv = ctx.server({"TLSRequired": "off"},
                     extra=["<Directory ~/secure>", "  TLSRequired on",
                            "</Directory>"],
                     modules_after=(DIGEST,))
    d = os.path.join(srv.home, "secure")
    os.makedirs(d, exist_ok=True)
    os.chown(d, ftpsd.UID, ftpsd.GID)
    srv.home_file("secure/s.txt", b"the secret\n" * 10)
    srv.home_file("open.txt", b"the secret\n" * 10)
    r = Raw(srv)
    try:
        r.login()
        expect(r.cmd("TYPE I"), 200, "TYPE I")
        failures = []
        for cmd in ("HASH", "MD5", "XCRC", "XMD5", "XSHA", "XSHA1",
                    "XSHA256", "XSHA512"):
            for arg in ("secure/s.txt", "secure/s.txt 0 10"):
                if cmd in ("HASH", "MD5") and " " in arg:
                    continue
                code, text = r.cmd("%s %s" % (cmd, arg))
                if code != 550 or "SSL/TLS required" not in text:
                    failures.append("%s %s: %r" % (cmd, arg, text))
        assert not failures, "digests of a file in a TLSRequired on " \
            "directory over a clear control connection: " + \
            "; ".join(failures)
        text = expect(r.cmd("XMD5 open.txt"), 250, "XMD5 open.txt")
        assert "150680F148836241D0FFE0152394161B" in text, text
        expect(r.cmd("NOOP"), 200, "NOOP after the refusals")
    finally:
        r.close()


def _big_tree(srv, n=8100):
    """More directories than the listing check looks at (8000)."""
    for i in range(n):
        os.makedirs(os.path.join(srv.home, "big", "d%02d" % (i % 50),
                                 "e%04d" % i))
    subprocess.run(["chown", "-R", "%d:%d" % (ftpsd.UID, ftpsd.GID),
                    os.path.join(srv.home, "big")], check=True, timeout=60)


def test_policy_big_tree_without_data_rule(ctx):
    """No TLSRequired that requires data anywhere, and AllowOverride off
    (no .ftpaccess can add one): LIST -R of 8100 directories under PROT C
    got 522 "a tree too large to be checked", although nothing in it can
    be protected.  It lists the tree now."""
    srv = ctx.server(CTRL, extra=["AllowOverride off"])
    _big_tree(srv)
    f = ftps(srv, prot_p=False)
    try:
        f.voidcmd("PBSZ 0")
        f.prot_c()
        code, lines = _listing(f, "LIST -R big")
        assert code == "226", "PROT C LIST -R of a big tree with no data " \
            "rule: %s" % code
        assert sum(1 for l in lines if l.endswith(" e8099")) == 1, \
            "the listing lacks e8099 (%d lines)" % len(lines)
    finally:
        close_quietly(f)


def test_policy_big_tree_refusal_says_why(ctx):
    """Where .ftpaccess files may add a TLSRequired (AllowOverride is on by
    default), a tree too large to check is still refused in clear (fail
    closed), and the TLSLog tells the admin why and what to do."""
    srv = ctx.server(CTRL, extra=["<Directory ~/prot>", "  TLSRequired data",
                                  "</Directory>"])
    _big_tree(srv)
    f = ftps(srv, prot_p=False)
    try:
        f.voidcmd("PBSZ 0")
        f.prot_c()
        mark = srv.log_mark()
        code, lines = _listing(f, "LIST -R big")
        assert code.startswith("522") and not lines, code
        log = srv.log_since(mark, 40)
        assert "too large or too deep to check for protected directories" \
            in log and "use PROT P" in log, log
        f.prot_p()
        code, lines = _listing(f, "LIST -R big")
        assert code == "226", "PROT P LIST -R big: %s" % code
    finally:
        close_quietly(f)


# Spellings of a listing: options glued, doubled blanks, tabs, escapes,
# globs in odd places, "..", trailing "/" and "/.", ~ and ~user (no
# DefaultRoot here: "/" is the whole filesystem, left out).
SPELLINGS = ("LIST -R", "LIST -R .", "NLST */*", "NLST */*/*",
             "LIST -R sp ace", "LIST -R  sp ace", "LIST -R\tsp ace",
             "LIST -R/sp ace", "LIST -l-R sp ace", "LIST -lR sp ace",
             "LIST -a -R sp ace", "LIST -R -a sp ace", "NLST -R sp ace",
             "LIST -R sp ace/", "LIST -R sp ace/.", "LIST -R ./sp ace",
             "LIST -R sp ace/prot/..", "LIST -R pub/../sp ace",
             "NLST sp?ace/*/*", "NLST sp\\ ace/*/*", "NLST [s]p ace/*/*",
             "NLST sp ace/*/*", "NLST sp ace/p*", "NLST sp ace/*",
             "LIST sp ace/prot", "NLST sp ace/prot", "LIST -d sp ace/*",
             "LIST sp ace/prot/", "LIST -R ~", "LIST -R ~/sp ace",
             "NLST ~/*/*", "NLST ~/sp ace/*/*", "LIST -R ~/", "NLST -R ~",
             "LIST prot",
             "LIST -R prot/..", "NLST p?ot", "LIST -R \\sp ace")


# ListOptions change what mod_ls reads: strict ignores the client's
# options, +R clears -R, NLSTOnly/LISTOnly apply to one command.
LISTOPTIONS = ((), ('ListOptions "-a" strict',), ('ListOptions "+R"',),
               ('ListOptions "-R" NLSTOnly',), ('ListOptions "-R" strict',))


def test_policy_listing_spellings_differential(ctx):
    """For every spelling in SPELLINGS, with each ListOptions in
    LISTOPTIONS: when the same command under PROT P lists a secret name (a
    file in a directory with TLSRequired data), under PROT C it must get
    522: the check reads the command as mod_ls does, whatever the
    spelling."""
    for lo in LISTOPTIONS:
        _differential(ctx, list(lo))


def _differential(ctx, listoptions):
    srv = ctx.server(CTRL, extra=RULES + listoptions, start=False)
    srv.replace_conf("DefaultRoot", "# no DefaultRoot")
    _tree(srv)
    srv.start()
    f = ftps(srv, prot_p=False)
    u = srv.user
    try:
        f.voidcmd("PBSZ 0")
        failures, leaking = [], 0
        for cmd in SPELLINGS + ("LIST -R ~" + u, "NLST ~%s/*/*" % u):
            f.prot_p()
            _, lines = _listing(f, cmd)
            if not any("SECRET" in l for l in lines):
                continue
            leaking += 1
            f.prot_c()
            code, lines = _listing(f, cmd)
            if not code.startswith("522") or lines:
                failures.append("%s: %s %r" % (cmd, code, lines[:3]))
        assert leaking >= 8, "%s: only %d spellings list a secret under " \
            "PROT P: the tree is not what this test expects" % (
                listoptions, leaking)
        assert not failures, "%s: PROT C listings of what PROT P shows " \
            "as protected: %s" % (listoptions, "; ".join(failures))
    finally:
        close_quietly(f)


# mod_ls's STAT lists a path only if it exists as spelled, then reads it
# as LIST would: directories literally named "-R", "~/prot", "*/*" make it
# recursive, expand ~, glob.
STAT_SPELLINGS = ("STAT -R sp ace", "STAT -a -R sp ace", "STAT -a -R",
                  "STAT -x -R", "STAT -a  -R", "STAT -R\t-R",
                  "STAT sp ace/prot", "STAT ~/prot", "STAT ~/sp ace/prot",
                  "STAT */*", "STAT ~", "STAT -R\tsp ace", "STAT prot",
                  "STAT -l prot/", "STAT ./*/*")
STAT_TRAPS = ("-R", "~/prot", "~/sp ace/prot", "*/*", "./*/*")


def test_policy_stat_spellings_differential(ctx):
    """STAT lists over the control connection (mod_ls drops its first word
    of options).  For every spelling in STAT_SPELLINGS: when STAT over TLS
    shows a secret name, the same STAT over a clear control connection
    gets 550 and shows none."""
    srv = ctx.server({"TLSRequired": "off"}, extra=RULES, start=False)
    srv.replace_conf("DefaultRoot", "# no DefaultRoot")
    _tree(srv)
    for d in STAT_TRAPS:
        os.makedirs(os.path.join(srv.home, d), exist_ok=True)
    srv.start()
    t, p = Raw(srv), Raw(srv)
    try:
        expect(t.cmd("AUTH TLS"), 234, "AUTH TLS")
        t.starttls()
        t.login()
        p.login()
        failures, leaking = [], 0
        for cmd in STAT_SPELLINGS:
            if "SECRET" not in t.cmd(cmd)[1]:
                continue
            leaking += 1
            code, text = p.cmd(cmd)
            if code != 550 or "SECRET" in text:
                failures.append("%s: %r" % (cmd, text[:300]))
        assert leaking >= 7, "only %d STATs show a secret over TLS" % leaking
        assert not failures, "STAT over a clear control connection shows " \
            "what requires a protected channel: " + "; ".join(failures)
    finally:
        t.close()
        p.close()
