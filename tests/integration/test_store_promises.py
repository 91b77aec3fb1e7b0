"""Data-safety promises of uploads (README "Only a successful upload
replaces a file"): a refused data connection, a PORT target that refuses,
or a data connection that ends before its first byte loses nothing, with
and without DeleteAbortedStores and HiddenStores; what happens once bytes
have arrived; the session's memory does not grow per upload; recursive and
globbing listings under PROT C cannot reach a directory whose TLSRequired
demands a protected data channel."""

import ftplib
import io
import os
import shutil
import socket
import ssl
import subprocess
import time

import ftpsd
from clients import ftps, close_quietly, StockFTP_TLS
from ftpsd import Skip

CTRL = {"TLSRequired": "ctrl"}   # data protection left to PROT
DAS = ["DeleteAbortedStores on"]
HIDDEN = ["HiddenStores on", "DeleteAbortedStores on"]
CONFIGS = (("default", []), ("DeleteAbortedStores", DAS),
           ("HiddenStores", HIDDEN))
OLD = b"the old content, which only a successful upload may replace\n" * 50


def _path(srv, name):
    return os.path.join(srv.home, name)


def _content(srv, name):
    try:
        with open(_path(srv, name), "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def _final(f):
    """The final reply of the command in progress (1xx skipped)."""
    while True:
        try:
            resp = f.getresp()
        except ftplib.Error as e:
            return str(e)
        if not resp.startswith("1"):
            return resp


def _kept(srv, name, what):
    got = _content(srv, name)
    assert got == OLD, "%s: the old file was %s" % (
        what, "deleted" if got is None else
        "changed (%d bytes now, %d before)" % (len(got), len(OLD)))


def _cut(conn):
    """Close a data connection's TCP under its TLS: no close_notify."""
    socket.socket.shutdown(conn, socket.SHUT_RDWR)
    socket.socket.close(conn)
    conn._sslobj = None


# -- failures before the first byte ------------------------------------------

def test_store_refused_tls_keeps_file(ctx):
    """Item 13: with DeleteAbortedStores on, a STOR (or APPE) whose TLS data
    connection is refused deleted the existing file."""
    for label, extra in sorted(CONFIGS,
                               key=lambda c: c[0] != "DeleteAbortedStores"):
        for cmd in ("STOR", "APPE"):
            _refused_tls_simple(ctx, label, extra, cmd)


def _refused_tls_simple(ctx, label, extra, cmd):
    srv = ctx.server(extra=extra)
    srv.home_file("keep.bin", OLD)
    f = ftps(srv, cls=StockFTP_TLS)
    try:
        try:
            f.storbinary("%s keep.bin" % cmd, io.BytesIO(b"new" * 1000))
            resp = "transfer accepted"
        except (ftplib.error_temp, ftplib.error_perm) as e:
            resp = str(e)
        except (ssl.SSLError, OSError, EOFError):
            resp = _final(f)
        assert resp.startswith("425"), "%s without resumption (%s): %r" % (
            cmd, label, resp)
        _kept(srv, "keep.bin", "%s (%s) refused for no resumption" % (
            cmd, label))
        if label != "HiddenStores":
            assert "keep.bin failed before its first byte: the existing " \
                "file was left untouched" in open(srv.tls_log).read(), \
                "TLSLog does not say that keep.bin was kept"
    finally:
        close_quietly(f)


def _cut_before_data(ctx, label, extra, name, old, cmd="STOR", rest=None):
    """Handshake completed, then the client closes without data and
    without close_notify: 426, and nothing lost."""
    srv = ctx.server(extra=extra)
    if old is not None:
        srv.home_file(name, old)
    f = ftps(srv)
    try:
        f.voidcmd("TYPE I")
        conn, _ = f.ntransfercmd("%s %s" % (cmd, name), rest)
        _cut(conn)
        resp = _final(f)
        assert resp.startswith("426"), \
            "%s cut before data (%s): want 426, got %r" % (cmd, label, resp)
        f.voidcmd("NOOP")
    finally:
        close_quietly(f)
    return srv


def test_store_cut_before_data_keeps_file(ctx):
    """Item 14a: a STOR whose data handshake completed and which then ended
    without data and without close_notify (426) truncated the old file."""
    for label, extra in CONFIGS:
        srv = _cut_before_data(ctx, label, extra, "keep.bin", OLD)
        _kept(srv, "keep.bin", "STOR cut before data (%s)" % label)
        # APPE and a restarted STOR never truncate, but DeleteAbortedStores
        # removed the whole file
        srv = _cut_before_data(ctx, label, extra, "keep.bin", OLD, "APPE")
        _kept(srv, "keep.bin", "APPE cut before data (%s)" % label)
        if label != "HiddenStores":   # which refuses REST (501)
            srv = _cut_before_data(ctx, label, extra, "keep.bin", OLD,
                                   "STOR", rest=10)
            _kept(srv, "keep.bin", "REST 10 + STOR cut before data (%s)"
                  % label)


def test_store_cut_before_data_new_file_not_left(ctx):
    """A new file whose upload failed before its first byte is not left
    behind empty."""
    for label, extra in CONFIGS:
        srv = _cut_before_data(ctx, label, extra, "new-%s.bin" % label, None)
        got = _content(srv, "new-%s.bin" % label)
        assert got is None, "failed upload (%s) left new-%s.bin (%d bytes)" \
            % (label, label, len(got))
        left = [n for n in os.listdir(srv.home) if n.startswith(".in.")]
        assert not left, "HiddenStores files left: %r" % left


def _refusing_port():
    """A bound, not listening, socket: connecting to it is refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    return s


def test_store_port_refused_keeps_file(ctx):
    """Item 14b: the PORT target refuses the connection (425): the old file
    was truncated."""
    for (label, extra), prot in [(c, p) for c in CONFIGS for p in "PC"]:
        srv = ctx.server(CTRL, extra=extra)
        srv.home_file("keep.bin", OLD)
        f = ftps(srv, prot_p=(prot == "P"))
        s = _refusing_port()
        try:
            f.voidcmd("PROT " + prot)
            f.voidcmd("TYPE I")
            host, port = s.getsockname()
            f.voidcmd("PORT %s,%d,%d" % (host.replace(".", ","), port >> 8,
                                         port & 255))
            f.putcmd("STOR keep.bin")
            resp = _final(f)
            assert resp.startswith("425"), \
                "STOR to a refusing PORT target (%s, PROT %s): %r" % (
                    label, prot, resp)
            _kept(srv, "keep.bin", "STOR to a refusing PORT target (%s, "
                  "PROT %s)" % (label, prot))
        finally:
            s.close()
            close_quietly(f)


def test_store_empty_success_empties_file(ctx):
    """An empty upload that succeeds (close_notify) replaces the content,
    in every configuration; the 226 comes after the file is empty."""
    for label, extra in CONFIGS:
        srv = ctx.server(extra=extra)
        srv.home_file("over.bin", OLD)
        f = ftps(srv)
        try:
            resp = f.storbinary("STOR over.bin", io.BytesIO(b""))
            assert resp.startswith("226"), "empty STOR (%s): %r" % (label,
                                                                   resp)
            got = _content(srv, "over.bin")
            assert got == b"", "empty STOR (%s): over.bin has %r" % (
                label, None if got is None else len(got))
        finally:
            close_quietly(f)


# -- failures after bytes arrived --------------------------------------------

def _wait_written(srv, want, hidden):
    """Until the server has written want bytes to the target (or, with
    HiddenStores, to its hidden file)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        names = [n for n in os.listdir(srv.home)
                 if (n.startswith(".in.") if hidden else n == "keep.bin")]
        if names and os.path.getsize(_path(srv, names[0])) == want:
            return
        time.sleep(0.05)
    raise AssertionError("the server never wrote the %d bytes sent" % want)


def test_store_cut_after_data(ctx):
    """What README documents once bytes have arrived: without HiddenStores
    the file is overwritten in place (the bytes received stay; with
    DeleteAbortedStores the file is removed, as ProFTPD does); with
    HiddenStores the original is intact and the partial file removed."""
    new = os.urandom(30000)
    want = {"default": new, "DeleteAbortedStores": None,
            "HiddenStores": OLD}
    for label, extra in CONFIGS:
        srv = ctx.server(extra=extra)
        srv.home_file("keep.bin", OLD)
        f = ftps(srv)
        try:
            f.voidcmd("TYPE I")
            conn, _ = f.ntransfercmd("STOR keep.bin")
            conn.sendall(new)
            _wait_written(srv, len(new), label == "HiddenStores")
            _cut(conn)
            resp = _final(f)
            assert resp.startswith("426"), \
                "STOR cut after data (%s): want 426, got %r" % (label, resp)
        finally:
            close_quietly(f)
        got = _content(srv, "keep.bin")
        assert got == want[label], \
            "STOR cut after data (%s): keep.bin is %s, want %s" % (
                label, _what(got, new), _what(want[label], new))
        left = [n for n in os.listdir(srv.home) if n.startswith(".in.")]
        assert not left, "HiddenStores files left: %r" % left


def _what(content, new):
    if content is None:
        return "absent"
    if content == OLD:
        return "the old content"
    if content == new:
        return "the bytes received"
    return "%d other bytes" % len(content)


# -- memory ------------------------------------------------------------------

def _session_pid(srv):
    master = int(open(srv.pidfile).read().split()[0])
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            kids.append(int(d))
    assert len(kids) == 1, "session processes: %r" % kids
    return kids[0]


def _rss_anon(pid):
    with open("/proc/%d/status" % pid) as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon for %d" % pid)


def _stors(f, first, count):
    for i in range(first, first + count):
        # a path that does not exist (in a directory that does not
        # exist): mod_xfer answers 550 without a data connection
        try:
            f.sendcmd("STOR nodir/%s-%06d" % ("n" * 200, i))
        except ftplib.error_perm as e:
            assert str(e).startswith("550"), str(e)


def test_store_memory_flat(ctx):
    """Item 17: each protected STOR to a path that did not exist kept a copy
    of the path in the session pool (about 540 bytes, forever).  4000 such
    STORs of 200-character names must not grow the session by more than
    256 KiB (the old code grew by about 1.1 MB)."""
    if os.environ.get("FTPS_DAEMON_PRELOAD"):
        raise Skip("AddressSanitizer's quarantine keeps freed memory: the "
                   "session's size says nothing there")
    srv = ctx.server(shared=False)
    f = ftps(srv, version="1.2")
    try:
        _stors(f, 0, 300)         # warm-up: pools, caches, buffers
        pid = _session_pid(srv)
        before = _rss_anon(pid)
        _stors(f, 300, 4000)
        grown = _rss_anon(pid) - before
        assert grown < 256 * 1024, \
            "4000 STORs grew the session by %d bytes" % grown
    finally:
        close_quietly(f)


# -- listings that reach a protected directory --------------------------------
SECRET = "secret-name-%s.txt"


def _listing_tree(srv):
    """home/a.txt; secure/ (<Directory> TLSRequired on), vault/ (.ftpaccess
    TLSRequired on) and open/open/ (no rule), each with a file whose name
    must not travel in clear."""
    srv.home_file("a.txt", b"a\n")
    for sub in ("secure", "vault", "open", os.path.join("open", "deeper")):
        d = os.path.join(srv.home, sub)
        os.makedirs(d, 0o755, exist_ok=True)
        os.chown(d, 65534, 65534)
        srv.home_file(os.path.join(sub, SECRET % os.path.basename(sub)),
                      b"x\n")
    srv.home_file(os.path.join("vault", ".ftpaccess"), b"TLSRequired on\n")
    os.chmod(os.path.join(srv.home, "vault", ".ftpaccess"), 0o644)


def _listing(f, cmd):
    lines = []
    try:
        f.retrlines(cmd, lines.append)
    except ftplib.error_perm as e:
        return str(e), lines
    return "226", lines


def test_listing_reaching_protected_dir_522(ctx):
    """Item 7: under PROT C, LIST -R, LIST -R ., NLST */* (and friends)
    from the parent listed the names in a directory whose TLSRequired
    demands a protected data channel.  They get 522 now; listings that
    reach no such directory still work in clear, and under PROT P all of
    them list everything."""
    srv = ctx.server(CTRL, extra=["<Directory ~/secure>", "  TLSRequired on",
                                  "</Directory>"])
    _listing_tree(srv)
    f = ftps(srv, prot_p=False)
    try:
        f.voidcmd("PBSZ 0")
        f.prot_c()
        failures = []
        for cmd in ("LIST -R", "LIST -R .", "NLST */*", "LIST -laR",
                    "NLST -R", "LIST -R /", "LIST */*", "NLST s*/*",
                    "NLST v*/*", "LIST -R open/..", "LIST -R s*"):
            code, lines = _listing(f, cmd)
            text = "\n".join(lines)
            if not code.startswith("522"):
                failures.append("%s: %s (%d lines%s)" % (
                    cmd, code, len(lines), ", secret names listed"
                    if "secret-name-secure" in text or
                    "secret-name-vault" in text else ""))
        assert not failures, "PROT C listings reaching a protected " \
            "directory: " + "; ".join(failures)
        for cmd, want in (("LIST -R open", "secret-name-deeper"),
                          ("NLST o*/*", "secret-name-open"),
                          ("NLST *", "secure"), ("LIST s*", "secure"),
                          ("NLST *.txt", "a.txt"), ("LIST", "a.txt")):
            code, lines = _listing(f, cmd)
            assert code == "226" and want in "\n".join(lines), \
                "PROT C %s (reaches no protected directory): %s %r" % (
                    cmd, code, lines)
        f.prot_p()
        code, lines = _listing(f, "LIST -R")
        text = "\n".join(lines)
        assert code == "226" and "secret-name-secure" in text and \
            "secret-name-vault" in text, "PROT P LIST -R: %s %r" % (code,
                                                                   lines)
    finally:
        close_quietly(f)


def test_listing_listoptions_recursive_522(ctx):
    """ListOptions -R makes every LIST recursive: under PROT C a plain LIST
    from the parent of a protected directory gets 522 too."""
    srv = ctx.server(CTRL, extra=["<Directory ~/secure>", "  TLSRequired on",
                                  "</Directory>", 'ListOptions "-R"'])
    _listing_tree(srv)
    f = ftps(srv, prot_p=False)
    try:
        f.prot_c()
        code, lines = _listing(f, "LIST")
        assert code.startswith("522"), \
            "PROT C LIST with ListOptions -R: %s %r" % (code, lines)
        code, lines = _listing(f, "LIST open")
        assert code == "226" and "secret-name-deeper" in "\n".join(lines), \
            "PROT C LIST open with ListOptions -R: %s %r" % (code, lines)
    finally:
        close_quietly(f)


# -- quotas ------------------------------------------------------------------

QUOTATAB = ("/usr/lib/proftpd/mod_quotatab.so",
            "/usr/lib/proftpd/mod_quotatab_file.so")


def _uploaded_bytes(tally):
    out = subprocess.run(["ftpquota", "--show-records", "--type=tally",
                          "--table-path=" + tally, "--units=B"],
                         capture_output=True, text=True, timeout=30).stdout
    for line in out.splitlines():
        if "Uploaded bytes:" in line:
            value = line.split(":", 1)[1].strip()
            return 0.0 if value == "unlimited" else float(value)  # 0 shows so
    raise AssertionError("no tally record: %r" % out)


def _quota_server(ctx, order, extra=()):
    """A server with mod_quotatab (loaded before or after mod_ftps, order
    "modules" or "modules_after") and a 100 MB hard upload limit for the
    user; returns (server, tally table path).  mod_quotatab adds its own
    FSIO layer after login, above ours, and writes files by itself."""
    if not all(os.path.exists(m) for m in QUOTATAB) or \
            not shutil.which("ftpquota"):
        raise Skip("mod_quotatab or ftpquota not installed")
    srv = ftpsd.Server(ctx.module, tls=CTRL, extra=list(extra),
                       **{order: QUOTATAB})
    ctx.own.append(srv)
    limit = os.path.join(srv.dir, "limit.tab")
    tally = os.path.join(srv.dir, "tally.tab")
    for args in (["--create-table", "--table-path=" + limit,
                  "--type=limit"],
                 ["--create-table", "--table-path=" + tally,
                  "--type=tally"],
                 ["--add-record", "--type=limit", "--table-path=" + limit,
                  "--name=" + srv.user, "--quota-type=user",
                  "--bytes-upload=100", "--units=Mb",
                  "--limit-type=hard"]):
        subprocess.run(["ftpquota"] + args, check=True, timeout=30,
                       capture_output=True)
    for path in (limit, tally):
        os.chmod(path, 0o666)
    srv.append_conf(["QuotaEngine on", "QuotaLimitTable file:" + limit,
                     "QuotaTallyTable file:" + tally])
    srv.start()
    return srv, tally


def test_store_overwrite_under_quota_replaces_file(ctx):
    """mod_quotatab's layer writes past ours: a successful STOR over a
    longer file must leave exactly the new bytes (it emptied the file, and
    without the truncation it would have left the old tail)."""
    for order in ("modules", "modules_after"):
        srv, _ = _quota_server(ctx, order)
        f = ftps(srv)
        try:
            for new in (b"B" * 100, os.urandom(1 << 20), b""):
                f.storbinary("STOR q.bin", io.BytesIO(b"A" * 10000 + OLD))
                f.storbinary("STOR q.bin", io.BytesIO(new))
                got = _content(srv, "q.bin")
                assert got == new, "STOR of %d bytes over a longer file " \
                    "(mod_quotatab %s mod_ftps): %s bytes now" % (
                        len(new), "before" if order == "modules" else
                        "after", None if got is None else len(got))
        finally:
            close_quietly(f)


def test_store_cut_under_quota(ctx):
    """A STOR cut after 100 bytes under mod_quotatab: the file holds what
    arrived, never the new bytes over the old tail; DeleteAbortedStores
    then removes it (bytes arrived), as README says."""
    for label, extra in (("default", []), ("DeleteAbortedStores", DAS)):
        srv, _ = _quota_server(ctx, "modules", extra)
        f = ftps(srv)
        try:
            f.storbinary("STOR q.bin", io.BytesIO(b"A" * 10000))
            f.voidcmd("TYPE I")
            conn, _ = f.ntransfercmd("STOR q.bin")
            conn.sendall(b"B" * 100)
            time.sleep(0.5)
            _cut(conn)
            resp = _final(f)
            assert resp.startswith("426"), "cut STOR: %r" % resp
            got = _content(srv, "q.bin")
            want = None if extra else b"B" * 100
            assert got == want, "%s: a STOR cut after 100 bytes left %s, " \
                "want %s" % (label, None if got is None else
                             "%d bytes (%r...)" % (len(got), got[:4]),
                             "no file" if want is None else "the 100 bytes")
        finally:
            close_quietly(f)


STATCACHE = "/usr/lib/proftpd/mod_statcache.so"


def test_store_statcache_layer_keeps_file(ctx):
    """mod_statcache adds an FSIO layer of its own above ours, which opens
    files itself: a STOR cut before its first byte emptied the file (or,
    with DeleteAbortedStores, removed it), whichever module loaded
    first."""
    if not os.path.exists(STATCACHE):
        raise Skip("mod_statcache not installed")
    for order in ("modules", "modules_after"):
        for label, extra in (("default", []), ("DeleteAbortedStores", DAS)):
            srv = ftpsd.Server(ctx.module, tls=CTRL, extra=extra,
                               **{order: [STATCACHE]})
            ctx.own.append(srv)
            srv.append_conf(["StatCacheEngine on", "StatCacheTable " +
                             os.path.join(srv.dir, "statcache.tab")])
            srv.start()
            srv.home_file("keep.bin", OLD)
            f = ftps(srv)
            try:
                f.voidcmd("TYPE I")
                conn, _ = f.ntransfercmd("STOR keep.bin")
                _cut(conn)
                resp = _final(f)
                assert resp.startswith("426"), resp
                _kept(srv, "keep.bin", "STOR cut before data under "
                      "mod_statcache (%s, %s)" % (order, label))
                # and a complete upload still replaces it
                f.storbinary("STOR keep.bin", io.BytesIO(b"new"))
                assert _content(srv, "keep.bin") == b"new"
            finally:
                close_quietly(f)


def test_store_append_cut_delete_aborted_keeps_file(ctx):
    """DeleteAbortedStores must not remove a file that an APPE or a
    restarted STOR only added to: its earlier content was not this
    upload's to lose."""
    for cmd, rest in (("APPE", None), ("STOR", len(OLD))):
        srv = ctx.server(extra=DAS)
        srv.home_file("grow.bin", OLD)
        f = ftps(srv)
        try:
            f.voidcmd("TYPE I")
            conn, _ = f.ntransfercmd("%s grow.bin" % cmd, rest)
            conn.sendall(b"N" * 1000)
            time.sleep(0.5)
            _cut(conn)
            resp = _final(f)
            assert resp.startswith("426"), "cut %s: %r" % (cmd, resp)
            got = _content(srv, "grow.bin")
            assert got is not None and got.startswith(OLD), \
                "%s%s cut after 1000 bytes with DeleteAbortedStores: %s" % (
                    cmd, " (REST)" if rest else "",
                    "the file was deleted" if got is None else
                    "the old content changed")
        finally:
            close_quietly(f)


def test_store_empty_overwrite_quota_tally(ctx):
    """The empty upload's truncation happens after the transfer: it must
    come before mod_quotatab's POST_CMD STOR measures the file, whichever
    module is loaded first (a STOR-named handler of ours ran after
    mod_quotatab's when mod_quotatab was loaded later, and the tally kept
    the old 10000 bytes)."""
    for order in ("modules", "modules_after"):
        srv, tally = _quota_server(ctx, order)
        f = ftps(srv)
        try:
            f.storbinary("STOR q.bin", io.BytesIO(b"x" * 10000))
            assert _uploaded_bytes(tally) == 10000, "tally after 10000 bytes"
            f.storbinary("STOR q.bin", io.BytesIO(b""))
            assert _content(srv, "q.bin") == b"", "empty STOR: q.bin not empty"
            got = _uploaded_bytes(tally)
            assert got == 0, "mod_quotatab (%s mod_ftps) counts %d bytes " \
                "after an empty overwrite, want 0" % (
                    "before" if order == "modules" else "after", got)
        finally:
            close_quietly(f)


def test_listing_symlink_loop_terminates(ctx):
    """The reach check follows symbolic links (a glob or ShowSymlinks off
    would): a link back to its parent must neither hang nor refuse a PROT C
    LIST -R where nothing is protected, and a link into the protected
    directory must be refused."""
    srv = ctx.server(CTRL, extra=["<Directory ~/secure>", "  TLSRequired on",
                                  "</Directory>"])
    _listing_tree(srv)
    other = os.path.join(srv.home, "open", "deeper")
    loop = os.path.join(other, "loop")
    if not os.path.islink(loop):
        os.symlink("..", loop)
    f = ftps(srv, prot_p=False)
    try:
        f.prot_c()
        code, lines = _listing(f, "LIST -R open")
        os.unlink(loop)
        assert code == "226", "PROT C LIST -R open with a loop: %s" % code
        link = os.path.join(srv.home, "open", "to-secure")
        os.symlink("../secure", link)
        try:
            code, lines = _listing(f, "NLST o*/*/*")
            assert code.startswith("522"), \
                "PROT C NLST through a link to secure/: %s %r" % (code, lines)
        finally:
            os.unlink(link)
    finally:
        close_quietly(f)
