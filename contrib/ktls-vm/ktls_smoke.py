#!/usr/bin/python3
"""ktls_smoke.py - does this kernel + OpenSSL hand TLS records to the kernel?

    python3 contrib/ktls-vm/ktls_smoke.py        (in the guest: run.sh -- ...)

1. prints /proc/sys/net/ipv4/tcp_available_ulp;
2. setsockopt(SOL_TCP, TCP_ULP, "tls") on a connected 127.0.0.1 socket (the
   kernel's tls ULP attaches; no keys yet, so nothing else changes);
3. a TLS server and client in this process (Python's ssl, i.e. the system
   OpenSSL with a socket BIO, like proftpd's) with SSL_OP_ENABLE_KTLS, one
   connection per protocol version and cipher, 4 MiB each way, and prints
   /proc/net/tls_stat before and after each, so the counters show whether
   the kernel took the record layer (TlsTxSw/TlsRxSw: software kTLS
   sessions opened for send/receive).
Exit status 0 when steps 1-2 succeed (step 3 only reports).
"""

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

TCP_ULP = 31
SSL_OP_ENABLE_KTLS = 1 << 3    # OpenSSL 3.0 ssl.h; Python 3.11 lacks the name
SIZE = 4 << 20


def tls_stat():
    try:
        with open("/proc/net/tls_stat") as f:
            return dict(line.split() for line in f if line.strip())
    except FileNotFoundError:
        return {}


def diff(before, after):
    return " ".join("%s+%d" % (k, int(after[k]) - int(before.get(k, 0)))
                    for k in after if int(after[k]) != int(before.get(k, 0))) \
        or "(no change)"


def ulp_check():
    with open("/proc/sys/net/ipv4/tcp_available_ulp") as f:
        print("tcp_available_ulp:", f.read().strip())
    lsn = socket.create_server(("127.0.0.1", 0))
    cli = socket.create_connection(lsn.getsockname())
    srv, _ = lsn.accept()
    try:
        cli.setsockopt(socket.SOL_TCP, TCP_ULP, b"tls")
        print("setsockopt(SOL_TCP, TCP_ULP, \"tls\"): ok, getsockopt says %r"
              % cli.getsockopt(socket.SOL_TCP, TCP_ULP, 16).rstrip(b"\0"))
        return True
    except OSError as e:
        print("setsockopt(SOL_TCP, TCP_ULP, \"tls\"): %s" % e)
        return False
    finally:
        for s in (cli, srv, lsn):
            s.close()


def make_cert(d):
    key, crt = os.path.join(d, "k.pem"), os.path.join(d, "c.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=localhost", "-days", "1",
                    "-keyout", key, "-out", crt], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return crt, key


def one_transfer(crt, key, version, cipher):
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(crt, key)
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname, cctx.verify_mode = False, ssl.CERT_NONE
    for c in (sctx, cctx):
        c.options |= SSL_OP_ENABLE_KTLS
        c.minimum_version = c.maximum_version = version
        if cipher and version == ssl.TLSVersion.TLSv1_2:
            c.set_ciphers(cipher)
    lsn = socket.create_server(("127.0.0.1", 0))
    got = {}

    def server():
        conn, _ = lsn.accept()
        with sctx.wrap_socket(conn, server_side=True) as s:
            n = 0
            while n < SIZE:                   # receive SIZE, send SIZE
                b = s.recv(65536)
                if not b:
                    break
                n += len(b)
            s.sendall(b"s" * SIZE)
            got["server_rx"] = n
            got["cipher"] = s.cipher()

    t = threading.Thread(target=server)
    t.start()
    before = tls_stat()
    with cctx.wrap_socket(socket.create_connection(lsn.getsockname())) as c:
        c.sendall(b"c" * SIZE)
        n = 0
        while n < SIZE:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
    t.join()
    lsn.close()
    after = tls_stat()
    ok = got.get("server_rx") == SIZE and n == SIZE
    print("  %-7s %-28s %s  tls_stat: %s"
          % (version.name, got.get("cipher", ("?",))[0],
             "4 MiB each way ok" if ok else "TRANSFER FAILED",
             diff(before, after)))


def main():
    print("kernel %s, %s, Python %s" % (os.uname().release, ssl.OPENSSL_VERSION,
                                         sys.version.split()[0]))
    ok = ulp_check()
    print("/proc/net/tls_stat before:", " ".join(
        "%s=%s" % kv for kv in tls_stat().items()) or "(absent)")
    with tempfile.TemporaryDirectory() as d:
        crt, key = make_cert(d)
        print("TLS over 127.0.0.1 with SSL_OP_ENABLE_KTLS on both ends:")
        for version, cipher in (
                (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256"),
                (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES256-GCM-SHA384"),
                (ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-CHACHA20-POLY1305"),
                (ssl.TLSVersion.TLSv1_3, None)):
            try:
                one_transfer(crt, key, version, cipher)
            except Exception as e:            # report and go on
                print("  %s %s: %s" % (version.name, cipher, e))
    print("/proc/net/tls_stat after: ", " ".join(
        "%s=%s" % kv for kv in tls_stat().items()) or "(absent)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
