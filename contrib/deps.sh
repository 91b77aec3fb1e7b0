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
# The guest with kernel TLS that make check ends with (contrib/ktls-vm):
# installed here, after the one apt-get update, like everything else.
packages="$packages qemu-system-x86 busybox-static"

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
