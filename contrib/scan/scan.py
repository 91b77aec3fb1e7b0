#!/usr/bin/python3
"""scan.py - testssl.sh against mod_ftps on loopback (issue 13).

Usage:
    make scan                      # explicit and implicit, a few minutes
    make scan SCAN_ARGS="--against mod_tls"
    python3 contrib/scan/scan.py [--module PATH | --against mod_tls]
        [--modes explicit,implicit] [--out DIR] [--full | --checks=...]
        [--timeout SECONDS] [--keep]

For each mode it starts /usr/sbin/proftpd -n with the module
(tests/integration/ftpsd.py: 127.0.0.1, a free port, the module's default
TLS settings apart from the certificate) and runs Debian's testssl.sh
(`testssl`, package testssl.sh) against it with JSON output:

    explicit   --starttls ftp (FEAT, AUTH TLS, then the handshake)
    implicit   TLSOptions UseImplicitSSL: TLS from the first byte

The certificate is the test suite's RSA 2048 leaf (tests/fixtures/
mkcerts.sh), sent with its intermediate (TLSCertificateChainFile); the
private test root is given to testssl with --add-ca, so that the chain of
trust is checked for real.  The checks are protocols, cipher categories,
forward secrecy, server preferences, server defaults, vulnerabilities and
ciphers per protocol (-p -s -f -P -S -U -E); --full runs testssl's default
set instead (adds the client simulations, several minutes more), and
--checks=... others.  Both modes run at once; each takes several minutes,
since every one of testssl's hundreds of connections is a ProFTPD session.

It prints every finding at LOW, MEDIUM, HIGH or CRITICAL, marking those
that come only from the test CA (TEST_CA_FINDINGS below), and testssl's
own warnings.  The JSON files (and testssl's text output) go to --out
(default tests/tmp/scan/).  testssl's own exit status is shown, not used.
Exit status 1 when a finding at LOW or above is not explained by the test
CA, when testssl stopped on a fatal error or timed out, or when it wrote no
JSON; 0 otherwise.  Python 3 standard library only; run as root.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import ftpsd  # noqa: E402

MOD_TLS = "/usr/lib/proftpd/mod_tls.so"
SEVERE = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
# Findings a certificate from a private test CA causes by itself, whatever
# the server does: a test certificate names no CRL or OCSP responder, and
# a loopback name has no CAA record.
TEST_CA_FINDINGS = {
    "cert_revocation": "the test CA publishes no CRL or OCSP URI",
    "DNS_CAArecord": "no CAA record for a loopback name",
}
CHECKS = ["-p", "-s", "-f", "-P", "-S", "-U", "-E"]
MODES = {"explicit": {}, "implicit": {"TLSOptions": "UseImplicitSSL"}}


def server_tls(mode):
    tls = {"TLSRSACertificateFile": ftpsd.cert("rsa.crt"),
           "TLSRSACertificateKeyFile": ftpsd.cert("rsa.key"),
           "TLSCertificateChainFile": ftpsd.cert("inter.pem")}
    tls.update(MODES[mode])
    return tls


def testssl(srv, mode, json_path, full, checks, timeout):
    """Runs testssl against srv; returns (exit status, text output)."""
    if os.path.exists(json_path):
        os.unlink(json_path)
    argv = ["testssl", "--quiet", "--color", "0", "--warnings", "batch",
            "--nodns", "none", "--jsonfile", json_path]
    if mode == "explicit":
        argv += ["--starttls", "ftp"]
    argv += ["--add-ca", ftpsd.cert("ca.pem")]
    if checks:
        argv += checks.split()
    elif not full:
        argv += CHECKS
    argv.append("%s:%d" % (srv.host, srv.port))
    try:
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        out = e.stdout or b""
        return None, out.decode(errors="replace") if isinstance(out, bytes) \
            else out


def findings(json_path):
    """testssl's findings (a list of dicts), or None without a JSON file."""
    try:
        with open(json_path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def scan_one(a, module, mode, results):
    srv = ftpsd.Server(module, tls=server_tls(mode), keep=a.keep,
                       name="scan-" + mode)
    json_path = os.path.join(a.out, "testssl-%s-%s.json"
                             % (ftpsd.module_name(module), mode))
    try:
        srv.start()
        rc, text = testssl(srv, mode, json_path, a.full, a.checks,
                           a.timeout)
    except Exception as e:   # a daemon that did not start
        rc, text = None, "%s: %s" % (type(e).__name__, e)
    finally:
        srv.cleanup()
    with open(json_path[:-5] + ".txt", "w") as f:
        f.write(text)
    results[mode] = (rc, json_path, findings(json_path), text)


def report(mode, rc, json_path, items, text):
    """Prints one mode's findings; returns the number of problems."""
    print("== %s: testssl exit status %s, %s" % (mode, rc, json_path))
    if items is None:
        print("   no JSON written; testssl said:\n" + text[-3000:])
        return 1
    problems = 0
    if rc is None:
        print("   testssl did not finish in time (--timeout)")
        problems += 1
    for f in items:
        sev, fid = f.get("severity", ""), f.get("id", "")
        if sev in SEVERE:
            why = TEST_CA_FINDINGS.get(fid)
            mark = "test CA: " + why if why else "NOT EXPLAINED"
            problems += why is None
            print("   %-8s %-24s %s  [%s]" % (sev, fid, f.get("finding"),
                                              mark))
        elif sev == "FATAL":
            problems += 1
            print("   FATAL    %-24s %s" % (fid, f.get("finding")))
    warns = [f for f in items if f.get("severity") == "WARN"]
    for f in warns:
        print("   (warn)   %-24s %s" % (f.get("id"), f.get("finding")))
    if not any(f.get("severity") in SEVERE for f in items):
        print("   nothing at LOW or above")
    return problems


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", help="the module .so (default ./mod_ftps.so)")
    ap.add_argument("--against", choices=["mod_tls"],
                    help="Debian's %s instead of --module" % MOD_TLS)
    ap.add_argument("--modes", default="explicit,implicit")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "tmp",
                                                  "scan"))
    ap.add_argument("--full", action="store_true",
                    help="testssl's default checks (adds client simulations)")
    ap.add_argument("--checks", help="testssl's check options instead, "
                    "e.g. --checks=-S")
    ap.add_argument("--timeout", type=float, default=1500,
                    help="seconds per testssl run (default 1500)")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args(argv)
    a.modes = [m for m in a.modes.split(",") if m]
    if not a.modes or any(m not in MODES for m in a.modes):
        ap.error("--modes: explicit and/or implicit")
    return a


def main(argv=None):
    a = parse_args(argv)
    if os.geteuid() != 0:
        print("scan.py: run as root", file=sys.stderr)
        return 1
    if not shutil.which("testssl"):
        print("scan.py: testssl not found (apt-get install testssl.sh)",
              file=sys.stderr)
        return 1
    module = MOD_TLS if a.against else os.path.abspath(
        a.module or ftpsd.default_module())
    os.makedirs(a.out, exist_ok=True)
    results = {}
    threads = [threading.Thread(target=scan_one, args=(a, module, m, results))
               for m in a.modes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("testssl against %s" % module)
    problems = sum(report(m, *results[m]) for m in a.modes)
    print("result: %s" % ("PASS" if not problems else
                          "FAIL (%d unexplained findings or errors)"
                          % problems))
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
