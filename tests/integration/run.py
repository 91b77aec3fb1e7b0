#!/usr/bin/python3
"""run.py - the FTPS integration suite against the real /usr/sbin/proftpd.

    /usr/bin/python3 tests/integration/run.py [--module PATH] [-k SUBSTR]
                                              [--keep] [-v]

Discovers tests/integration/test_*.py, runs every function named test_*
(in file order) with a Ctx argument, prints "ok - name" / "not ok - name"
(with the reason and the server log tail) / "ok - name # SKIP reason", and
ends with the line "N passed, N failed" (", N skipped" when some were).
Each line is written as its test ends, also into a pipe (tests/run.sh
shows them as they come).
Exit status 1 if any test failed.  Must run as root (proftpd binds, chroots
and switches to nobody).
"""

import argparse
import glob
import importlib.util
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import clients  # noqa: E402
import ftpsd  # noqa: E402
from ftpsd import Skip  # noqa: E402

TEST_TIMEOUT = 240  # seconds per test, enforced with SIGALRM


class TestTimeout(Exception):
    pass


class Ctx:
    """What a test gets: servers (shared per file when configs are equal)."""

    def __init__(self, module, keep, verbose):
        self.module = module
        self.keep = keep
        self.verbose = verbose
        self.shared = {}      # config key -> started Server
        self.own = []         # servers started by the current test
        self.touched = []     # (server, log mark) used by the current test

    def server(self, tls=None, extra=None, start=True, shared=True,
               name="ftpsd", modules_after=()):
        """A Server with these TLS overrides/extra lines; started unless
        start=False.  shared=True reuses an identical running server."""
        key = (tuple(sorted((tls or {}).items(), key=lambda kv: kv[0])),
               tuple(extra or ()), tuple(modules_after))
        if shared and start and key in self.shared \
                and self.shared[key].running():
            srv = self.shared[key]
        else:
            if shared and start and key in self.shared:
                self.shared.pop(key).cleanup()   # one that failed or died
            srv = ftpsd.Server(self.module, tls=tls, extra=extra,
                               keep=self.keep, name=name,
                               modules_after=modules_after)
            if shared and start:
                self.shared[key] = srv
            else:
                self.own.append(srv)
            if start:
                try:
                    srv.start()
                except Exception:
                    self.touched.append((srv, (0, 0)))
                    raise
        if all(s is not srv for s, _ in self.touched):
            self.touched.append((srv, srv.log_mark()))
        return srv

    def need(self, *binaries):
        for b in binaries:
            if not clients.have(b):
                raise Skip("%s not installed" % b)

    def end_test(self):
        for srv in self.own:
            srv.cleanup()
        self.own = []
        self.touched = []

    def end_file(self):
        for srv in self.shared.values():
            srv.cleanup()
        self.shared = {}


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def on_alarm(signum, frame):
    raise TestTimeout("test took longer than %ds" % TEST_TIMEOUT)


def indent(text, prefix="#   "):
    return "\n".join(prefix + line for line in text.splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", help="module .so (default $FTPS_MODULE or "
                    "./mod_ftps.so)")
    ap.add_argument("-k", dest="select", action="append", default=[],
                    help="run only tests whose name contains SUBSTRING")
    ap.add_argument("--keep", action="store_true",
                    help="keep temp dirs (under $FTPS_TEST_TMP or tests/tmp)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    # Line by line, also when stdout is a pipe or a file: a CI log must
    # show each result as its test ends, not minutes later in one block.
    sys.stdout.reconfigure(line_buffering=True)

    module = os.path.abspath(args.module or ftpsd.default_module())
    os.environ["FTPS_MODULE"] = module
    if not os.path.exists(module):
        print("not ok - module %s not found" % module)
        print("0 passed, 1 failed")
        return 1
    if os.geteuid() != 0:
        print("# warning: not root; proftpd needs root to run these tests")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    ctx = Ctx(module, args.keep, args.verbose)
    passed = failed = skipped = 0
    started = time.time()
    print("# module %s" % module)
    try:
        for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
            mod = load(path)
            tests = [(n, f) for n, f in vars(mod).items()
                     if n.startswith("test_") and callable(f)]
            if args.select:
                tests = [(n, f) for n, f in tests
                         if any(s in n for s in args.select)]
            try:
                for name, func in tests:
                    t0 = time.time()
                    status, reason = "ok", ""
                    signal.alarm(TEST_TIMEOUT)
                    try:
                        func(ctx)
                    except Skip as e:
                        status, reason = "skip", str(e)
                    except (Exception, TestTimeout) as e:
                        status = "fail"
                        reason = "%s: %s" % (type(e).__name__, e)
                        if args.verbose:
                            reason += "\n" + traceback.format_exc()
                    finally:
                        signal.alarm(0)
                    dt = time.time() - t0
                    if status == "ok":
                        passed += 1
                        print("ok - %s (%.1fs)" % (name, dt))
                    elif status == "skip":
                        skipped += 1
                        print("ok - %s # SKIP %s" % (name, reason))
                    else:
                        failed += 1
                        print("not ok - %s (%.1fs)" % (name, dt))
                        print(indent(reason))
                        for srv, mark in ctx.touched:
                            print("#   --- server log during the test (%s) ---"
                                  % srv.dir)
                            print(indent(srv.log_since(mark), "#   | "))
                    sys.stdout.flush()
                    ctx.end_test()
            finally:
                ctx.end_test()
                ctx.end_file()
    finally:
        ctx.end_test()
        ctx.end_file()
    print("# %.1fs" % (time.time() - started))
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
