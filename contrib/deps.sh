#!/bin/sh
# deps.sh - install what mod_ftps needs to build and to be tested, from
# Debian's archive (Debian 12).  Runs apt-get as root (or through sudo).
set -eu

packages="build-essential autoconf pkg-config proftpd-core proftpd-dev
  libssl-dev openssl check curl lftp gnutls-bin python3 ca-certificates"
# The libFuzzer harnesses (make fuzz; a short run in make check):
# libclang-rt-14-dev holds libFuzzer, and is only a Recommends of clang's
# own packages, which --no-install-recommends leaves out.
packages="$packages clang libclang-rt-14-dev"
# mod_tls, for side-by-side comparisons (make bench).
packages="$packages proftpd-mod-crypto"
# The Debian package (make deb, make lintian; tests/integration/test_package.py).
packages="$packages dpkg-dev debhelper lintian"
# OCSP stapling tests (tests/integration/test_stapling.py): a network
# namespace for "openssl ocsp -port" (ip), and expired responses.
packages="$packages iproute2 python3-cryptography"
# TLS scanners: sslscan in make check (test_scan.py), testssl.sh in make scan.
packages="$packages sslscan testssl.sh"
# The guest with kernel TLS that make check ends with (contrib/ktls-vm):
# installed here, after the one apt-get update, like everything else.
packages="$packages qemu-system-x86 busybox-static"
# ACME end to end (tests/integration/test_cert_reload.py): Let's Encrypt's
# test CA and an ACME client, both on loopback.
packages="$packages pebble lego"
# Restart attacks (tests/integration/test_restart_attacks.py): gdb asks the
# master's libcrypto for its next indices; valgrind's memcheck watches the
# master across restarts (also test_valgrind.py).
packages="$packages gdb valgrind"
# The daily certificate expiry warning (tests/integration/
# test_renewal_judgement.py): libfaketime moves the daemon's clock a day on.
packages="$packages faketime"

missing=""
for p in $packages; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
      grep -q '^install ok installed$'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "deps: everything is installed"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
