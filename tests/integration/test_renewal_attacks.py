"""Certificate renewal attacked again (issue 14, second outside review):
what an unlucky administrator or a hostile file layout does to the real
daemon while the watcher (FTPSCertificateWatch) or a SIGHUP reloads its
certificates.  A test that names a defect ("was", "said nothing") failed
on the code before its fix; the others guard promises that held under
attack (client-certificate rules, descriptors and memory, SNI vhosts,
unlucky files, no key text in the logs).  No timing thresholds: the
watcher's work is seen in the log, by the serial a client gets, or by what
the passphrase provider was asked."""

import os
import time

import ftpsd
from test_cert_reload import (Renewal, _read, _write, _replace, _serial_of,
                              served_serial, wait_serial, wait_log, _run,
                              sighup, DEADLINE)


def _renew(r, serial, mode=0o600, key_first=True):
    """A new pair for r, the key written with mode (rename over)."""
    c, k = r.new_pair(serial)
    tmp = r.key + ".new"
    with open(tmp, "wb") as f:
        f.write(k)
    os.chmod(tmp, mode)
    os.rename(tmp, r.key)
    _replace(r.cert, c)
    return c, k


def test_renewal_exposed_key_warned_as_at_startup(ctx):
    """A renewal whose new key file can be read by others (a panel that
    writes 0644, certbot with a changed umask) is warned about, as the same
    file is at startup: in certbot's layout the key lies in a 0700
    directory, which the master, running as User when the watcher looks,
    could not stat(), so the check said nothing."""
    r = Renewal(ctx, "watch", name="exposed")
    os.chmod(r.live, 0o700)
    r.start()
    text = ftpsd.read_text(r.srv.stderr_path)
    assert not ftpsd.line_with(text, "can be read by group or others"), text
    mark = r.srv.log_mark()
    _renew(r, 2, mode=0o644)
    wait_serial(r.srv, 2, "renewal with a 0644 key")
    wait_log(r.srv, mark, "new certificate loaded")
    line = wait_log(r.srv, mark, "can be read by group or others")
    assert r.key in line, line

    # at startup the same file is warned about (the promise kept above)
    r.srv.stop()
    mark = r.srv.log_mark()
    r.srv.start()
    assert ftpsd.line_with(r.srv.log_since(mark, 400),
                           "can be read by group or others", r.key)


def _dh_file(path):
    _run("openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt",
         "dh_param:ffdhe2048", "-out", path)


def _side_file_fifo(ctx, directive):
    r = Renewal(ctx, "watch", name="sidefifo")
    side = os.path.join(r.live, "side.pem")
    if directive == "TLSDHParamFile":
        _dh_file(side)
    else:
        _write(side, _read(r.cert))
    r.srv.append_conf(["%s %s" % (directive, side)])
    r.start()
    good = _read(side)
    tmp = side + ".fifo"
    os.mkfifo(tmp, 0o600)
    os.rename(tmp, side)
    mark = r.srv.log_mark()
    _renew(r, 2)
    line = wait_log(r.srv, mark, directive, side)
    assert "not a regular file" in line, line
    r.still_serves_old("%s a named pipe at a renewal" % directive)
    _replace(side, good)
    wait_serial(r.srv, 2, "%s a file again" % directive)


def test_renewal_side_file_swapped_for_fifo(ctx):
    """TLSCACertificateFile or TLSDHParamFile replaced by a named pipe
    (a secrets agent that streams it, a mistaken mkfifo), then a
    certificate renewal: the master, rebuilding the server's context,
    opened the pipe and waited for a writer for good, accepting no
    session.  Now the file is refused as not a regular file (the log
    names the directive and the file), the last good certificate is
    served, and the renewal is taken once the file is back."""
    for directive in ("TLSCACertificateFile", "TLSDHParamFile"):
        _side_file_fifo(ctx, directive)


def test_renewal_client_certificate_rules_kept(ctx):
    """TLSVerifyClient on with a CA file and a CRL: after a renewal taken
    by the watcher, then a SIGHUP, then a renewal again, a client without a
    certificate and a revoked one are still refused, a good one logs in
    and transfers (its data connections resume its control session)."""
    from test_clientcert import (assert_refused, assert_accepted, roundtrip,
                                 REVOKED)
    from ftpsd import cert
    r = Renewal(ctx, "watch", name="renewcc", extra=[
        "TLSVerifyClient on", "TLSCACertificateFile " + cert("ca.pem"),
        "TLSCARevocationFile " + cert("ca.crl")])
    r.srv.start()

    def rules(what):
        for v in ("1.2", "1.3"):
            assert_refused(r.srv, None, v, what)
            assert_refused(r.srv, "mallory", v, what, alert=REVOKED)
            assert_refused(r.srv, "eve", v, what)
            assert_accepted(r.srv, "alice", v, what)
        roundtrip(r.srv, "alice")

    rules("at start: ")
    for serial, how in ((2, "watch"), (3, "sighup"), (4, "watch")):
        mark = r.srv.log_mark()
        _renew(r, serial)
        if how == "sighup":
            sighup(r.srv)
        wait_log(r.srv, mark, "new certificate loaded (serial %02X" % serial)
        rules("after the renewal to serial %d (%s): " % (serial, how))


def _fds(pid):
    # a restart opens its listening socket anew: sockets by kind only
    return sorted("socket" if t.startswith("socket:") else t
                  for t in (os.readlink("/proc/%d/fd/%s" % (pid, fd))
                            for fd in os.listdir("/proc/%d/fd" % pid)))


def _zombies(pid):
    n = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] == "Z":
            n += 1
    return n


def test_renewal_master_descriptors_steady(ctx):
    """Ten renewals of an encrypted key through TLSPassPhraseProvider
    (a child and a pipe each), with a CA file, a CRL and DH parameters read
    again each time, and a SIGHUP among them: the master holds the same
    descriptors after as before, and no provider is left a zombie."""
    from ftpsd import cert
    r = Renewal(ctx, "watch", passphrase="pw", name="renewfd")
    dh = os.path.join(r.live, "dh.pem")
    _dh_file(dh)
    provider = os.path.join(r.srv.dir, "provider.sh")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\necho pw\n")
    os.chmod(provider, 0o755)
    r.srv.append_conf(["TLSPassPhraseProvider " + provider,
                       "TLSCACertificateFile " + cert("ca.pem"),
                       "TLSCARevocationFile " + cert("ca.crl"),
                       "TLSDHParamFile " + dh])
    r.start()
    pid = r.srv.proc.pid
    _renew(r, 2)
    wait_serial(r.srv, 2, "first renewal")
    sighup(r.srv)
    assert served_serial(r.srv) == 2
    before = _fds(pid)
    for serial in range(3, 13):
        _renew(r, serial)
        wait_serial(r.srv, serial, "renewal %d" % serial)
        if serial == 7:
            sighup(r.srv)
    after = _fds(pid)
    assert after == before, "master descriptors %d -> %d:\n%s\n%s" % (
        len(before), len(after), before, after)
    assert _zombies(pid) == 0


def _rsa_pair(r, serial):
    k = os.path.join(r.pki.dir, "rsa%d.key" % serial)
    _run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
         "rsa_keygen_bits:2048", "-out", k)
    return _read(r.pki.cert("rsa%d" % serial, k, serial)), _read(k)


def test_renewal_rsa_to_ec_in_rsa_directives(ctx):
    """A mod_tls-style configuration (TLSRSACertificateFile and its key
    file only) renewed with an EC key (certbot 2's default key type): the
    EC certificate is served from then on, by the watcher and after a
    SIGHUP, and back to RSA again; the log names the directive."""
    r = Renewal(ctx, "watch", name="rsa2ec")
    c, k = _rsa_pair(r, 1)
    _write(r.cert, c)
    _write(r.key, k)
    r.srv.replace_conf("TLSECCertificateFile", "TLSRSACertificateFile " +
                       r.cert)
    r.srv.replace_conf("TLSECCertificateKeyFile", "TLSRSACertificateKeyFile "
                       + r.key)
    r.start()
    mark = r.srv.log_mark()
    _renew(r, 2)
    wait_serial(r.srv, 2, "RSA renewed with EC")
    line = wait_log(r.srv, mark, "new certificate loaded (serial 02")
    assert "TLSRSACertificateFile" in line, line
    sighup(r.srv)
    assert served_serial(r.srv) == 2
    c, k = _rsa_pair(r, 3)
    _replace(r.key, k)
    _replace(r.cert, c)
    wait_serial(r.srv, 3, "EC renewed with RSA")
    sighup(r.srv)
    assert served_serial(r.srv) == 3


def test_renewal_sni_vhosts_each_on_its_own(ctx):
    """Two name-based vhosts on one port (SNI), each renewed by the
    watcher: vhost a's renewal is cut short while vhost b's is complete.
    A session opened on a before keeps transferring; a new session on b
    gets b's new certificate and its data connections (which resume the
    control session, under b's new context) work; a keeps its last good
    certificate until its file is complete, the default server is
    untouched."""
    import tempfile
    import test_sni as ts
    from test_cert_reload import Pki
    from clients import close_quietly as ftpsd_close, retr_bytes as retr
    files = {}

    def pair(pki, name, serial):
        k = pki.key("%s%d" % (name, serial))
        return _read(pki.cert("%s%d" % (name, serial), k, serial)), _read(k)

    d = tempfile.mkdtemp(prefix="renewsni-", dir=ftpsd.tmp_root())
    pki = Pki(os.path.join(d, "pki"))
    extra = {}
    for name, serial in (("a.example", 11), ("b.example", 21)):
        c, k = pair(pki, name, serial)
        cf, kf = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
        _write(cf, c)
        _write(kf, k)
        files[name] = (cf, kf)
        extra[name] = ["TLSECCertificateFile " + cf,
                       "TLSECCertificateKeyFile " + kf]
    srv = ts.sni_server(ctx, vhost_extra=extra,
                        more=["FTPSCertificateWatch 1"])

    def serial(sni):
        f = ts.sni_ftps(srv, sni, login=False, prot_p=False)
        try:
            return _serial_of(f.sock.getpeercert(True))
        finally:
            ftpsd_close(f)

    def transfer(f, key):
        got = retr(f, "data.bin")
        assert got == srv.vh[key].data, "%s: data differs" % key

    assert serial("a.example") == 11 and serial("b.example") == 21
    default = serial(None)
    early = ts.sni_ftps(srv, "a.example")
    try:
        transfer(early, "a.example")
        mark = srv.log_mark()
        ca2, ka2 = pair(pki, "a.example", 12)
        cb2, kb2 = pair(pki, "b.example", 22)
        _replace(files["a.example"][1], ka2)
        _write(files["a.example"][0], ca2[:len(ca2) // 2])
        _replace(files["b.example"][1], kb2)
        _replace(files["b.example"][0], cb2)
        wait_log(srv, mark, "new certificate loaded (serial 16")
        wait_log(srv, mark, "TLSECCertificateFile", files["a.example"][0])
        assert serial("b.example") == 22
        assert serial("a.example") == 11
        assert serial(None) == default
        transfer(early, "a.example")
        for version in ("1.2", "1.3"):
            f = ts.sni_ftps(srv, "b.example", version=version)
            try:
                transfer(f, "b.example")
                assert _serial_of(f.sock.getpeercert(True)) == 22
                assert f.data_log and all(
                    der == f.sock.getpeercert(True) and reused
                    for der, reused in f.data_log), (version, f.data_log)
            finally:
                ftpsd_close(f)
        _write(files["a.example"][0], ca2)
        deadline = time.time() + DEADLINE
        while serial("a.example") != 12:
            assert time.time() < deadline, srv.log_tail(40)
            time.sleep(0.2)
        transfer(early, "a.example")
        assert early.sock.getpeercert(True) == early.data_log[-1][0]
    finally:
        ftpsd_close(early)


def _key_lines(pem):
    """The base64 lines of a PEM key (each long enough to be telling)."""
    return [l for l in pem.decode().splitlines()
            if len(l) >= 40 and not l.startswith("-----")]


def test_renewal_key_text_never_logged(ctx):
    """Renewals gone wrong in every way that puts key text where a
    certificate belongs (files swapped, the key alone in the certificate's
    file, a key with a damaged line, a key appended twice, a key and
    certificate pasted in one file with a typo), through the watcher and a
    SIGHUP, with DebugLevel 10 and TLSLog: no line of any private key
    appears in any log."""
    r = Renewal(ctx, "watch", name="keyleak", extra=["DebugLevel 10"])
    r.start()
    keys = [_read(r.key)]
    for serial, how in enumerate(("swap", "keyonly", "damaged", "twice",
                                  "typo"), 2):
        c, k = r.new_pair(serial)
        keys.append(k)
        mark = r.srv.log_mark()
        if how == "swap":
            _write(r.cert, k)
            _write(r.key, c)
        elif how == "keyonly":
            _write(r.cert, k)
        elif how == "damaged":
            lines = k.splitlines(True)
            lines[2] = lines[2][:10] + b"!!" + lines[2][12:]
            _write(r.key, b"".join(lines))
            _write(r.cert, c)
        elif how == "twice":
            _write(r.key, k + keys[0])
            _write(r.cert, c)
        else:
            _write(r.key, k.replace(b"-----END", b"----END"))
            _write(r.cert, c)
        if how == "swap":
            # each file read for what it holds: a valid pair, served
            wait_serial(r.srv, serial, how)
            good = serial
            continue
        wait_log(r.srv, mark, "server 'mod_ftps test'", r.srv.dir)
        sighup(r.srv)
        assert served_serial(r.srv) == good, how
    for path in (r.srv.stderr_path, r.srv.tls_log):
        text = ftpsd.read_text(path)
        for k in keys:
            for line in _key_lines(k):
                assert line not in text, "key text in %s: %s" % (path, line)


def test_renewal_sighup_while_provider_answers(ctx):
    """A SIGHUP arrives while the watcher waits for TLSPassPhraseProvider
    (slow, 3 s) to open a renewed key: the daemon survives, serves the new
    certificate after the restart, and its watcher still takes the next
    renewal."""
    import signal
    r = Renewal(ctx, "watch", passphrase="pw", name="hupslow")
    runs = os.path.join(r.srv.dir, "runs.txt")
    provider = os.path.join(r.srv.dir, "provider.sh")
    slow = os.path.join(r.srv.dir, "slow")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\necho run >> %s\n"
                "if [ -e %s ]; then sleep 3; fi\necho pw\n" % (runs, slow))
    os.chmod(provider, 0o755)
    r.srv.append_conf(["TLSPassPhraseProvider " + provider])
    r.start()
    open(slow, "w").close()
    n = len(_read(runs).splitlines())
    _renew(r, 2)
    deadline = time.time() + DEADLINE
    while len(_read(runs).splitlines()) == n:
        assert time.time() < deadline, r.srv.log_tail(40)
        time.sleep(0.05)
    mark = r.srv.log_mark()
    os.kill(r.srv.proc.pid, signal.SIGHUP)
    wait_log(r.srv, mark, "eparsing")
    os.unlink(slow)
    wait_serial(r.srv, 2, "after a SIGHUP during the renewal")
    _renew(r, 3)
    wait_serial(r.srv, 3, "the next renewal")
    assert r.srv.running()


def test_renewal_near_expiry_warned_when_taken(ctx):
    """A renewal that brings a certificate within
    FTPSCertificateExpiryWarning days of its end (a panel's short-lived
    staging certificate, a clock gone wrong at the CA) is taken, and warned
    about when taken, as it would be at startup, not only at the next
    daily look up to a day later."""
    r = Renewal(ctx, "watch", name="nearexp",
                extra=["FTPSCertificateExpiryWarning 10"]).start()
    mark = r.srv.log_mark()
    c, k = r.new_pair(2, days=5)
    _replace(r.key, k)
    _replace(r.cert, c)
    wait_serial(r.srv, 2, "short-lived renewal")
    line = wait_log(r.srv, mark, "serial 02", "renew it")
    assert "expires in" in line, line


def test_renewal_fullchain_as_chain_file_taken(ctx):
    """A common layout mistake: TLSCertificateChainFile names certbot's
    fullchain.pem (the leaf, then the intermediate) beside cert.pem.  The
    daemon starts with it (clients accept the repeated leaf), so a renewal
    in the same layout must be taken too, by the watcher and by a SIGHUP,
    not refused for good as "the first certificate of the chain did not
    issue the certificate" while the old certificate runs out."""
    from test_production_attacks import _ca, _leaf
    from test_cert_reload import _link
    r = Renewal(ctx, "watch", name="fullchain")
    d = r.pki.dir
    root = _ca(d, "root")
    inter = _ca(d, "inter", root)
    arch = os.path.join(r.srv.dir, "archive")
    os.makedirs(arch, 0o700)
    live = os.path.join(r.srv.dir, "lv")
    os.makedirs(live, 0o755)

    def issue(n):
        leaf = _leaf(d, "l%d" % n, n, inter)
        _write(os.path.join(arch, "cert%d.pem" % n), _read(leaf[0]))
        _write(os.path.join(arch, "privkey%d.pem" % n), _read(leaf[1]))
        _write(os.path.join(arch, "fullchain%d.pem" % n),
               _read(leaf[0]) + _read(inter[0]))
        for k in ("cert", "privkey", "fullchain"):
            _link("../archive/%s%d.pem" % (k, n),
                  os.path.join(live, k + ".pem"))

    issue(1)
    r.srv.replace_conf("TLSECCertificateFile", "TLSECCertificateFile " +
                       os.path.join(live, "cert.pem"))
    r.srv.replace_conf("TLSECCertificateKeyFile", "TLSECCertificateKeyFile "
                       + os.path.join(live, "privkey.pem"))
    r.srv.append_conf(["TLSCertificateChainFile " +
                       os.path.join(live, "fullchain.pem")])
    r.srv.start()
    assert served_serial(r.srv) == 1
    issue(2)
    wait_serial(r.srv, 2, "watcher, fullchain.pem as the chain file")
    r.srv.replace_conf("FTPSCertificateWatch", "FTPSCertificateWatch off")
    sighup(r.srv)
    issue(3)
    sighup(r.srv)
    wait_serial(r.srv, 3, "SIGHUP, fullchain.pem as the chain file")


def test_renewal_vhost_without_certificate_recovers(ctx):
    """A restart adds a vhost whose certificate file is still being
    written: its sessions are refused.  Once the file is complete the
    watcher takes it (no second SIGHUP): the vhost greets, serves its
    certificate, and a whole session with a protected transfer works."""
    from test_production_attacks import _serial_at
    from clients import (ReusingFTP_TLS, context, TIMEOUT, close_quietly,
                         retr_bytes)
    r = Renewal(ctx, "watch", name="vhrecover").start()
    port = ftpsd.free_port()
    vcert = os.path.join(r.live, "v.pem")
    vkey = os.path.join(r.live, "v.key")
    c, k = r.new_pair(31)
    _write(vkey, k)
    _write(vcert, c[:len(c) // 3])
    r.srv.append_conf([
        "<VirtualHost 127.0.0.1>", "  Port %d" % port, "  TLSEngine on",
        "  TLSRequired on", "  TLSECCertificateFile " + vcert,
        "  TLSECCertificateKeyFile " + vkey,
        "  AuthUserFile " + os.path.join(r.srv.dir, "passwd"),
        "  AuthOrder mod_auth_file.c", "  RequireValidShell off",
        "  DefaultRoot ~", "</VirtualHost>"])
    mark = sighup(r.srv)
    wait_log(r.srv, mark, "no usable certificate")
    r.srv.wait_listening(port)
    _replace(vcert, c)
    deadline = time.time() + DEADLINE
    while True:
        try:
            if _serial_at(r.srv, port) == 31:
                break
        except (ConnectionError, EOFError, OSError, AssertionError):
            pass
        assert time.time() < deadline, r.srv.log_since(mark, 60)
        time.sleep(0.3)
    r.srv.home_file("v.bin", b"v" * 70000)
    f = ReusingFTP_TLS(context=context(), timeout=TIMEOUT)
    try:
        f.connect(r.srv.host, port)
        f.auth()
        f.login(r.srv.user, r.srv.password)
        f.prot_p()
        assert retr_bytes(f, "v.bin") == b"v" * 70000
    finally:
        close_quietly(f)
    assert served_serial(r.srv) == 1


def test_renewal_stapled_master_steady(ctx):
    """Twenty renewals of a stapled certificate (FTPSStaplingFile, the
    RSA and the EC leaf in turn), each stapled with its own response: the
    master neither grows by a context set per renewal nor gains
    descriptors."""
    import shutil
    import test_stapling as st
    from test_cert_reload import _master_kb
    if ftpsd.sanitized():
        raise ftpsd.Skip("memory figures are the sanitizer's")
    ctx.need("openssl")
    d = st.fixtures(ftpsd.free_port())
    served, served_key = os.path.join(d, "served.pem"), \
        os.path.join(d, "served.key")
    shutil.copy(os.path.join(d, "leaf.pem"), served)
    shutil.copy(os.path.join(d, "leaf.key"), served_key)
    tls = st.tls_for(d, TLSECCertificateFile=served,
                     TLSECCertificateKeyFile=served_key)
    srv = ctx.server(tls=tls, extra=[
        "FTPSCertificateWatch 1",
        "FTPSStaplingFile " + os.path.join(d, "good.der"),
        "FTPSStaplingFile " + os.path.join(d, "good-rsa.der")], shared=False)
    pid = srv.proc.pid

    def renew(i):
        names = ("leaf-rsa", "1006") if i % 2 else ("leaf", "1001")
        mark = srv.log_mark()
        for src, dst in ((names[0] + ".key", served_key),
                         (names[0] + ".pem", served)):
            shutil.copy(os.path.join(d, src), dst + ".new")
            os.rename(dst + ".new", dst)
        wait_log(srv, mark, "new certificate loaded")
        end = time.time() + DEADLINE
        while True:
            out = st.status(srv, "1.3")
            if "Serial Number: " + names[1] in out and st.GOOD in out:
                break
            assert time.time() < end, out + srv.log_tail()
            time.sleep(0.2)

    for i in range(1, 5):
        renew(i)
    before, fds = _master_kb(pid), _fds(pid)
    for i in range(5, 25):
        renew(i)
    after = _master_kb(pid)
    assert _fds(pid) == fds
    for f in ("VmRSS", "VmData"):
        grown = after[f] - before[f]
        assert grown < 1024, "%s grew by %d kB over 20 stapled renewals " \
            "(%d -> %d kB)" % (f, grown, before[f], after[f])


def test_renewal_unlucky_files(ctx):
    """Through the watcher, then a SIGHUP, each: the chain file deleted,
    the certificate path made a directory, the key a link to /dev/zero,
    the chain a named pipe, a 5 MB certificate file, the key file empty.
    Each is refused with the directive and file named, the last good
    certificate is served (the master never waits on a pipe nor reads a
    device), and the completed renewal is then taken."""
    r = Renewal(ctx, "watch", name="unlucky")
    chain = os.path.join(r.live, "chain.pem")
    _write(chain, _read(r.cert))     # self-signed: issued by itself
    r.srv.append_conf(["TLSCertificateChainFile " + chain])
    r.start()
    c2, k2 = r.new_pair(2)
    # the new pair is self-signed too: its chain is itself
    cases = [
        ("chain deleted", chain, lambda: None, "TLSCertificateChainFile"),
        ("cert a directory", r.cert, lambda: os.mkdir(r.cert),
         "TLSECCertificateFile"),
        ("key a link to /dev/zero", r.key,
         lambda: os.symlink("/dev/zero", r.key), "TLSECCertificateKeyFile"),
        ("chain a named pipe", chain, lambda: os.mkfifo(chain),
         "TLSCertificateChainFile"),
        ("cert of 5 MB", r.cert,
         lambda: _write(r.cert, c2 + b"\n" * (5 << 20)),
         "TLSECCertificateFile"),
        ("key empty", r.key, lambda: _write(r.key, b""),
         "TLSECCertificateKeyFile"),
    ]

    def clear(p):
        if os.path.isdir(p) and not os.path.islink(p):
            os.rmdir(p)
        elif os.path.lexists(p):
            os.unlink(p)

    content = {r.cert: c2, r.key: k2, chain: c2}
    for what, path, breakit, directive in cases:
        mark = r.srv.log_mark()
        # broken first, then the other files completed: the server never
        # sees a good new set during a case
        clear(path)
        breakit()
        for p, data in content.items():
            if p != path:
                clear(p)
                _write(p, data)
        wait_log(r.srv, mark, directive, path)
        assert r.srv.running(), what
        mark = sighup(r.srv)
        wait_log(r.srv, mark, directive, path)
        assert served_serial(r.srv) == 1, what
    for p, data in content.items():
        clear(p)
        _write(p, data)
    wait_serial(r.srv, 2, "complete renewal")


def test_renewal_not_yet_valid_warned_at_startup(ctx):
    """A certificate whose notBefore lies ahead (a CA's clock, or this
    server's, set wrong; a certificate issued for a later switch-over) is
    refused by every client: a renewal of that kind is refused with "not
    valid yet", and a start with one was silent.  Now the start warns,
    naming the file, as it does for an expired certificate."""
    import datetime
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives import hashes, serialization
    r = Renewal(ctx, "sighup", name="notyet")
    k = r.pki.key("k7")
    key = serialization.load_pem_private_key(_read(k), None)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(7)
            .not_valid_before(now + datetime.timedelta(days=2))
            .not_valid_after(now + datetime.timedelta(days=60))
            .sign(key, hashes.SHA256()))
    _write(r.key, _read(k))
    _write(r.cert, cert.public_bytes(serialization.Encoding.PEM))
    r.srv.start()
    text = ftpsd.read_text(r.srv.stderr_path)
    line = ftpsd.line_with(text, "not valid yet")
    assert line and r.cert in line and "TLSECCertificateFile" in line, \
        text[-3000:]


def _curve_pair(r, serial, curve, passphrase=None):
    k = os.path.join(r.pki.dir, "cv%d.key" % serial)
    _run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
         "ec_paramgen_curve:" + curve, "-pkeyopt", "ec_param_enc:named_curve",
         "-out", k)
    c = r.pki.cert("cv%d" % serial, k, serial)
    if passphrase is not None:
        _run("openssl", "pkcs8", "-topk8", "-in", k, "-v2", "aes-256-cbc",
             "-passout", "pass:" + passphrase, "-out", k + ".enc")
        os.rename(k + ".enc", k)
    return _read(c), _read(k)


def test_renewal_unservable_certificate_refused(ctx):
    """A renewal that passes every file check but that no TLS client can
    be served with (an internal CA moved to brainpool curves, which
    OpenSSL 3.0 signs with in no TLS version its clients offer): it was
    taken, and every handshake failed from then on, an outage the log
    called "new certificate loaded".  Now a new certificate with which
    no test handshake succeeds, where the last good one's do, is refused
    (the log names the file and why), the last good one served; a good
    renewal is then taken."""
    r = Renewal(ctx, "watch", name="brainpool").start()
    c, k = _curve_pair(r, 2, "brainpoolP256r1")
    mark = r.srv.log_mark()
    _replace(r.key, k)
    _replace(r.cert, c)
    wait_log(r.srv, mark, "TLSECCertificateFile", r.cert, "handshake")
    r.still_serves_old("brainpool renewal")
    mark = sighup(r.srv)
    wait_log(r.srv, mark, "TLSECCertificateFile", r.cert, "handshake")
    r.still_serves_old("brainpool renewal, SIGHUP")
    c, k = _curve_pair(r, 3, "secp384r1")
    _replace(r.key, k)
    _replace(r.cert, c)
    wait_serial(r.srv, 3, "P-384 renewal")


def test_renewal_name_moved_to_common_name_only_is_said(ctx):
    """A renewal from a certificate naming ftp.example.org in its
    subjectAltName to one naming it only in its common name (a private
    CA that adds no subjectAltName to a hand-made CSR): browsers and Go
    clients (rclone) ignore the common name (RFC 6125 section 6.4.4), so
    the name is lost for them; the lost-name warning said nothing.  A
    renewal from common name to common name still says nothing."""
    from test_production_attacks import _named_pair, _renew_to
    r = Renewal(ctx, "watch", name="cnonly").start()
    lost = "does not name"
    _, mark = _renew_to(r, _named_pair(r, 2, "x", "ftp.example.org"), 2)
    _, mark = _renew_to(r, _named_pair(r, 3, "ftp.example.org"), 3)
    line = wait_log(r.srv, mark, lost)
    assert "'ftp.example.org'" in line, line
    _, mark = _renew_to(r, _named_pair(r, 4, "ftp.example.org"), 4)
    _renew_to(r, _named_pair(r, 5, "ftp.example.org", "ftp.example.org"), 5)
    assert not ftpsd.line_with(r.srv.log_since(mark, 400), lost)


def test_renewal_failing_retries_master_steady(ctx):
    """A renewal that keeps failing is tried again at every look of the
    watcher (FTPSCertificateWatch 1): a key that does not match, then a
    certificate no handshake succeeds with (two contexts built and freed
    per look).  Over thirty looks each, the master neither grows nor gains
    descriptors, and it still serves the last good certificate."""
    from test_cert_reload import _master_kb
    if ftpsd.sanitized():
        raise ftpsd.Skip("memory figures are the sanitizer's")
    r = Renewal(ctx, "watch", passphrase="pw", name="retrymem")
    # each look reads the key: the provider counts the looks
    runs = os.path.join(r.srv.dir, "runs.txt")
    provider = os.path.join(r.srv.dir, "provider.sh")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\necho run >> %s\necho pw\n" % runs)
    os.chmod(provider, 0o755)
    r.srv.append_conf(["TLSPassPhraseProvider " + provider])
    r.start()
    pid = r.srv.proc.pid
    looks = lambda: len(_read(runs).splitlines())
    for what, pair in (("mismatch", None),
                       ("brainpool", _curve_pair(r, 3, "brainpoolP256r1", "pw"))):
        if pair is None:
            c, _ = r.new_pair(2)
            _, k = r.new_pair(4)
        else:
            c, k = pair
        _replace(r.key, k)
        _replace(r.cert, c)
        time.sleep(3)
        before, fds, n = _master_kb(pid), _fds(pid), looks()
        time.sleep(20)
        after = _master_kb(pid)
        assert looks() >= n + 10, "the watcher did not look again (%d)" \
            % (looks() - n)
        assert _fds(pid) == fds, what
        for f in ("VmRSS", "VmData"):
            grown = after[f] - before[f]
            assert grown < 512, "%s: %s grew by %d kB over ~20 failed " \
                "looks (%d -> %d kB)" % (what, f, grown, before[f], after[f])
        assert served_serial(r.srv) == 1, what


def test_renewal_sighup_reordered_sni_vhosts_keep_their_own(ctx):
    """Name-based vhosts told apart by ServerAlias only (a hosting panel
    gives them all one ServerName).  A SIGHUP that adds another such vhost
    before them, while vhost a's new certificate is cut short: a must keep
    its own last good certificate (the last good material was looked up
    by address, port, ServerName and position, so a got the material of
    the vhost that used to come before it), and vhost b's good files
    must not be reported as replacing another vhost's certificate."""
    import tempfile
    import test_sni as ts
    from test_cert_reload import Pki
    d = tempfile.mkdtemp(prefix="renewsni2-", dir=ftpsd.tmp_root())
    pki = Pki(os.path.join(d, "pki"))
    files, extra = {}, {}
    for name, serial in (("a.example", 11), ("b.example", 21),
                         ("c.example", 31)):
        k = pki.key("%s%d" % (name, serial))
        cf, kf = os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")
        _write(cf, _read(pki.cert("%s%d" % (name, serial), k, serial)))
        _write(kf, _read(k))
        files[name] = (cf, kf)
        extra[name] = ['ServerName "panel"', "TLSECCertificateFile " + cf,
                       "TLSECCertificateKeyFile " + kf]
    srv = ts.sni_server(ctx, vhost_extra=extra,
                        more=["FTPSCertificateWatch off"])

    def serial(sni):
        from clients import close_quietly
        f = ts.sni_ftps(srv, sni, login=False, prot_p=False)
        try:
            return _serial_of(f.sock.getpeercert(True))
        finally:
            close_quietly(f)

    assert serial("a.example") == 11 and serial("b.example") == 21
    passwd = os.path.join(srv.dir, "passwd-c")
    with open(os.path.join(srv.dir, "passwd")) as f, open(passwd, "w") as g:
        g.write(f.read())
    os.chmod(passwd, 0o600)
    block = ts._vhost_block(srv, "c.example", passwd, extra["c.example"])
    with open(srv.conf) as f:
        text = f.read()
    at = text.index("<VirtualHost 127.0.0.1>")
    with open(srv.conf, "w") as f:
        f.write(text[:at] + "\n".join(block) + "\n" + text[at:])
    c = _read(files["a.example"][0])
    _write(files["a.example"][0], c[:len(c) // 2])
    mark = sighup(srv)
    wait_log(srv, mark, "TLSECCertificateFile", files["a.example"][0])
    assert serial("c.example") == 31
    assert serial("b.example") == 21
    assert serial("a.example") == 11, "vhost a serves another vhost's " \
        "certificate after the SIGHUP"
    text = srv.log_since(mark, 400)
    assert not ftpsd.line_with(text, "new certificate loaded"), text
    assert not ftpsd.line_with(text, "does not name"), text


def _ip_pair(r, serial, cn, *sans):
    k = r.pki.key("ip%d" % serial)
    crt = os.path.join(r.pki.dir, "ip%d.crt" % serial)
    san = ["-addext", "subjectAltName=" + ",".join(sans)] if sans else []
    _run("openssl", "req", "-x509", "-new", "-key", k, "-subj", "/CN=" + cn,
         *san, "-set_serial", str(serial), "-days", "30", "-out", crt)
    return _read(crt), _read(k)


def test_renewal_lost_ip_address_is_said(ctx):
    """FTP clients often connect by address: a renewal from a certificate
    with an iPAddress subjectAltName (127.0.0.1) to one naming only a DNS
    name makes those clients refuse it; the lost-name warning looked at
    DNS names only.  Now it names the lost address; keeping it says
    nothing."""
    from test_production_attacks import _renew_to
    r = Renewal(ctx, "watch", name="lostip").start()
    lost = "does not name"
    _renew_to(r, _ip_pair(r, 2, "localhost", "DNS:localhost",
                          "IP:127.0.0.1"), 2)
    _, mark = _renew_to(r, _ip_pair(r, 3, "x", "IP:127.0.0.1",
                                    "DNS:localhost"), 3)
    _, mark2 = _renew_to(r, _ip_pair(r, 4, "localhost", "DNS:localhost"), 4)
    line = wait_log(r.srv, mark2, lost)
    assert "'127.0.0.1'" in line, line
    assert not ftpsd.line_with(r.srv.log_since(mark, 400).split(
        "serial 04")[0], lost)


def test_renewal_other_key_not_held_for_a_hung_provider(ctx):
    """Two servers with encrypted keys of their own.  The watcher looks
    while both were renewed; TLSPassPhraseProvider hangs on the vhost's
    key (10 s), so the main server's key is not asked for in that look
    (once per look, as intended).  The main server was then held like the
    vhost (its files read again only once they change, or at a restart),
    although the provider was never asked for its key: its renewal was
    lost until its certificate ran out.  Now it is read again at a later
    look and taken.  The hung key waits (not asked at every look) until
    the provider is seen answering again (it opened a key), then it is
    read again and taken too, once."""
    from test_production_attacks import _serial_at, _wait_serial_at
    r = Renewal(ctx, "watch", passphrase="pb", name="hangother")
    port = ftpsd.free_port()
    d = r.srv.dir
    runs = os.path.join(d, "runs.txt")
    hang = os.path.join(d, "hang")
    pb = os.path.join(d, "pb")
    with open(pb, "w") as f:
        f.write("pb\n")
    provider = os.path.join(d, "provider.sh")
    with open(provider, "w") as f:
        f.write("#!/bin/sh\necho \"$1\" >> %s\n"
                "case \"$1\" in *:%d) [ -e %s ] && exec sleep 3600; "
                "echo pa; exit;; esac\ncat %s\n" % (runs, port, hang, pb))
    os.chmod(provider, 0o755)
    # each server's key in its certificate's file: one rename renews both
    va = os.path.join(r.live, "a.pem")
    c, k = r.new_pair(11, passphrase="pa")
    _write(va, k + c)
    _write(r.cert, _read(r.key) + _read(r.cert))
    r.srv.replace_conf("TLSECCertificateKeyFile", "# key in " + r.cert)
    r.srv.append_conf([
        "TLSPassPhraseProvider " + provider,
        "<VirtualHost 127.0.0.1>", "  Port %d" % port, "  TLSEngine on",
        "  TLSRequired off", "  TLSECCertificateFile " + va,
        "  AuthUserFile " + os.path.join(d, "passwd"), "</VirtualHost>"])
    r.start()
    r.srv.wait_listening(port)
    assert _serial_at(r.srv, port) == 11
    vhost_asks = lambda: [x for x in _read(runs).decode().splitlines()
                          if x.endswith(":%d" % port)]

    # the main server's renewal, under a passphrase the provider does not
    # give yet: refused at each look, tried again at the next
    mark = r.srv.log_mark()
    c2, k2 = r.new_pair(2, passphrase="pb2")
    _replace(r.cert, k2 + c2)
    wait_log(r.srv, mark, r.cert, "wrong passphrase")
    # the vhost's renewal, and the provider hangs on its key
    open(hang, "w").close()
    mark = r.srv.log_mark()
    c, k = r.new_pair(12, passphrase="pa")
    _replace(va, k + c)
    wait_log(r.srv, mark, "gave no passphrase in time")
    hung = len(vhost_asks())
    # the provider recovers, and gives the main server's new passphrase
    os.unlink(hang)
    with open(pb, "w") as f:
        f.write("pb2\n")
    wait_serial(r.srv, 2, "the other server's renewal after the hang")
    _wait_serial_at(r.srv, port, 12, "the hung key, once the provider "
                    "answered again")
    assert len(vhost_asks()) == hung + 1, vhost_asks()
