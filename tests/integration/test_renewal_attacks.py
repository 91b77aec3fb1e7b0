"""Certificate renewal attacked again (issue 14, second outside review):
what an unlucky administrator or a hostile file layout does to the real
daemon while the watcher (FTPSCertificateWatch) or a SIGHUP reloads its
certificates.  Each test failed on the code before its fix (or is marked
as an expected failure, with the reason)."""

import os
import stat
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
