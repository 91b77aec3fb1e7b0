#!/bin/bash
# run.sh - run one command inside a throw-away QEMU guest whose kernel has
# the kernel TLS ULP (net/tls/tls.ko), with the host's whole filesystem
# visible, so mod_ftps' kTLS path can be exercised on a host whose own
# kernel has no "tls" ULP (see README.md here).
#
#   contrib/ktls-vm/run.sh [-a kvm|tcg|auto] [-t SECONDS] [-w DIR]... [-v] -- COMMAND [ARG]...
#
# The guest boots Debian 12's own kernel (linux-image-6.1.0-N-amd64) with a
# busybox initramfs, mounts the host's / read-only over 9p, puts a tmpfs
# overlay on top of it (so everything is writable in the guest and nothing
# written there reaches the host), loads tls.ko, chroots into that overlay,
# cds to the directory run.sh was called from and runs COMMAND as root with
# the caller's environment.  The command's output comes back on the serial
# console; its exit status is printed as "KTLS-VM-EXIT=N" and is run.sh's
# exit status.  125: the guest failed before or around the command;
# 124: timeout.
#
#   -a ACCEL    kvm, tcg (emulation) or auto (default; $KTLS_VM_ACCEL):
#               kvm when /dev/kvm exists and is not PVM, else tcg
#   -t SECONDS  kill the guest after this long (default 1800)
#   -w DIR      also share host DIR read-write at the same path in the guest
#               (e.g. -w tests/tmp with --keep, to look at server logs later)
#   -v          show the kernel's boot messages and the guest's dmesg at the end
#
# Needs: root, apt-get access to Debian's archive on the first run.
set -eu

CACHE=/var/cache/mod_ftps-ktls-vm
TIMEOUT=1800
VERBOSE=0
RW_DIRS=()

usage() {
  sed -n '7,8p' "$0" | sed 's/^# *//' >&2
  exit 125
}

ACCEL=${KTLS_VM_ACCEL:-auto}
while getopts a:t:w:vh opt; do
  case $opt in
    a) ACCEL=$OPTARG ;;
    t) TIMEOUT=$OPTARG ;;
    w) RW_DIRS+=("$(realpath -e "$OPTARG")") ;;
    v) VERBOSE=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ "${1:-}" = -- ] && shift
[ $# -gt 0 ] || usage

die() { echo "ktls-vm: $*" >&2; exit 125; }

[ "$(id -u)" = 0 ] || die "must run as root (qemu shares / as root; proftpd tests need root)"
case $PWD/ in
  # The guest mounts fresh tmpfs there, hiding the host's contents.
  /tmp/*|/run/*|/var/run/*|/dev/*|/proc/*|/sys/*)
    die "the working directory $PWD is not visible in the guest (tmpfs there)" ;;
esac

# --- host packages ---------------------------------------------------------
# qemu-system-x86 for the guest; busybox-static because the initramfs has no
# libraries (a dynamically linked busybox would not start there).
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
dpkg-query -W -f '${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' \
  || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  echo "ktls-vm: apt-get install ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${need[@]}" >&2 || die "apt-get install ${need[*]} failed"
fi
BUSYBOX=/bin/busybox

# --- guest kernel ----------------------------------------------------------
# The package linux-image-amd64 depends on the current ABI's image
# (linux-image-6.1.0-N-amd64); apt-cache answers from local lists, so this
# costs nothing once the package is cached.  Without apt lists, the newest
# cached kernel is used.
mkdir -p "$CACHE"
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null \
  | sed -n 's/^ *Depends: \(linux-image-[0-9].*-amd64\)$/\1/p' | head -n 1)
if [ -z "$KPKG" ]; then
  KPKG=$(for d in "$CACHE"/linux-image-*-amd64; do
           [ -d "$d" ] && basename "$d"; done | sort -V | tail -n 1)
  [ -n "$KPKG" ] || die "cannot find a linux-image-*-amd64 package"
fi
KDIR=$CACHE/$KPKG
KVER=${KPKG#linux-image-}
if [ ! -f "$KDIR/lib/modules/$KVER/modules.dep" ]; then
  echo "ktls-vm: fetching $KPKG" >&2
  rm -rf "$KDIR" "$KDIR.tmp" "$CACHE"/dl && mkdir -p "$CACHE"/dl
  # The sandbox user _apt cannot write into a root-only cache directory.
  (cd "$CACHE"/dl && apt-get -q -o APT::Sandbox::User=root download "$KPKG" >&2) \
    || die "apt-get download $KPKG failed"
  dpkg-deb -x "$CACHE"/dl/"$KPKG"_*.deb "$KDIR.tmp"
  rm -rf "$CACHE"/dl
  # The package's postinst normally runs depmod; the host has no kmod, but
  # busybox' depmod writes modules.dep and modules.alias, which is all that
  # busybox' modprobe in the guest reads.
  "$BUSYBOX" depmod -b "$KDIR.tmp" "$KVER"
  mv "$KDIR.tmp" "$KDIR"
fi
VMLINUZ=$KDIR/boot/vmlinuz-$KVER
MODDIR=$KDIR/lib/modules/$KVER

# --- initramfs -------------------------------------------------------------
# Only what it takes to reach the host's filesystem (virtio-pci, 9p); every
# other module is loaded from $MODDIR through the share.  Rebuilt when this
# script (which holds /init) or the kernel changes.
modclosure() {  # modules.dep paths of the named modules and their deps
  for m in "$@"; do
    grep -E "(^|/)$m\.ko:" "$MODDIR/modules.dep" | tr -d ':' | tr ' ' '\n'
  done | sed '/^$/d' | sort -u
}

write_init() {
  cat > "$1" <<'EOF'
#!/bin/sh
# /init of the ktls-vm initramfs (busybox sh), written by run.sh.
export PATH=/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
. /etc/ktls-vm.conf
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^ktlsvm\.$1=//p"; }
JOB=$(arg job)
VERBOSE=$(arg verbose)
RW=$(arg rw | tr ',' ' ')
finish() {  # $1: exit status; the marker run.sh looks for, then power off
  [ "$VERBOSE" = 1 ] && { echo "--- guest dmesg ---"; dmesg; }
  echo "KTLS-VM-EXIT=$1"
  sync
  reboot -f   # qemu runs with -no-reboot: a reboot ends it
}
fail() { echo "ktls-vm: guest: $*"; finish 125; }

for m in virtio_pci 9pnet_virtio 9p; do modprobe "$m" || fail "modprobe $m"; done
# Host / read-only; cache=loose because nothing changes it under us during
# a run and python imports many small files.
mkdir -p /host /rw /root
mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro \
  hostroot /host || fail "mount 9p hostroot"
# From now on modprobe (also the kernel's, via /proc/sys/kernel/modprobe,
# which runs in this initramfs' root) sees the whole module tree.
mount -o bind "/host$MODDIR" "/lib/modules/$KVER" || fail "bind modules"
for m in overlay virtio-rng tls gcm ccm aesni_intel ghash_clmulni_intel \
         chacha20poly1305 chacha_x86_64 poly1305_x86_64; do
  modprobe "$m" || echo "ktls-vm: guest: modprobe $m failed"
done

# Writable everywhere in the guest, nothing written reaches the host.
mount -t tmpfs -o mode=0755 rw /rw && mkdir /rw/upper /rw/work \
  && mount -t overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work \
       overlay /root || fail "mount overlay"
mount -t proc proc /root/proc
mount -t sysfs sysfs /root/sys
mount -t devtmpfs devtmpfs /root/dev
mkdir -p /root/dev/pts /root/dev/shm
mount -t devpts devpts /root/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /root/dev/shm
mount -t tmpfs -o mode=1777 tmpfs /root/tmp
mount -t tmpfs -o mode=0755 tmpfs /root/run   # /var/run -> /run on Debian
n=0
for d in $RW; do
  mkdir -p "/root$d"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 "rw$n" "/root$d" \
    || fail "mount 9p rw$n on $d"
  n=$((n + 1))
done
ip link set lo up
hostname -F /root/etc/hostname 2>/dev/null || hostname ktls-vm

chroot /root /bin/bash "$JOB" </dev/null
finish $?
EOF
  chmod 755 "$1"
}

HASH=$( { sha256sum "$0"; echo "$KVER"; } | sha256sum | cut -c1-16)
INITRD=$CACHE/initrd-$KVER-$HASH.cpio.gz
if [ ! -f "$INITRD" ]; then
  echo "ktls-vm: building $INITRD" >&2
  stage=$(mktemp -d "$CACHE/stage.XXXXXX")
  mkdir -p "$stage"/{bin,sbin,etc,proc,sys,dev,lib/modules/"$KVER"}
  cp "$BUSYBOX" "$stage/bin/busybox"
  for a in $("$BUSYBOX" --list); do
    [ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
  done
  ln -s ../bin/busybox "$stage/sbin/modprobe"
  cp "$MODDIR"/modules.* "$stage/lib/modules/$KVER/"
  for ko in $(modclosure virtio_pci 9pnet_virtio 9p); do
    mkdir -p "$stage/lib/modules/$KVER/$(dirname "$ko")"
    cp "$MODDIR/$ko" "$stage/lib/modules/$KVER/$ko"
  done
  printf 'KVER=%s\nMODDIR=%s\n' "$KVER" "$MODDIR" > "$stage/etc/ktls-vm.conf"
  write_init "$stage/init"
  (cd "$stage" && find . | "$BUSYBOX" cpio -o -H newc 2>/dev/null) \
    | gzip -1 > "$INITRD.tmp"
  mv "$INITRD.tmp" "$INITRD"
  rm -rf "$stage"
  # Older initramfs images of earlier versions of this script.
  find "$CACHE" -maxdepth 1 -name 'initrd-*.cpio.gz' ! -path "$INITRD" -delete
fi

# --- the job ---------------------------------------------------------------
# A bash script on the host's disk (so the guest sees it through the share):
# the caller's exported environment, its working directory and the command,
# each word quoted with printf %q.
RUN=$(mktemp -d "$CACHE/run.XXXXXX")
QPID=
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  # Every exit path: never leave qemu behind.
  if [ -n "$QPID" ] && kill -0 "$QPID" 2>/dev/null; then
    kill "$QPID" 2>/dev/null || true
    sleep 1
    kill -9 "$QPID" 2>/dev/null || true
  fi
  rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

{
  echo '# job for contrib/ktls-vm/run.sh'
  while IFS= read -r -d '' kv; do
    name=${kv%%=*}
    case $name in
      PWD|OLDPWD|SHLVL|_|BASH_*|BASHOPTS|SHELLOPTS) continue ;;
    esac
    [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
    printf 'export %s=%q\n' "$name" "${kv#*=}"
  done < <(env -0)
  printf 'cd %q || exit 125\n' "$PWD"
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} > "$RUN/job.sh"

# --- boot ------------------------------------------------------------------
# KVM where it can run a stock kernel.  A /dev/kvm backed by kvm_pvm (PVM,
# KVM nested without hardware virtualisation, as on the sandbox VMs this was
# written on) only runs PVM-enabled guest kernels: Debian's stock kernel
# hangs right after the real-mode setup there, so use TCG (emulation,
# several times slower, but the same kernel and the same tls.ko).
case $ACCEL in
  auto) if [ -c /dev/kvm ] && [ ! -d /sys/module/kvm_pvm ]; then ACCEL=kvm; else ACCEL=tcg; fi ;;
  kvm|tcg) ;;
  *) die "-a $ACCEL: kvm, tcg or auto" ;;
esac
if [ "$ACCEL" = kvm ]; then
  # shellcheck disable=SC2054  # the commas belong to -cpu
  # arch-capabilities: some nested KVMs refuse to set MSR 0x10a and qemu aborts.
  QEMU=(qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities)
else
  # shellcheck disable=SC2054
  QEMU=(qemu-system-x86_64 -accel tcg,thread=multi -cpu max)
fi
QEMU+=(-m 2G -smp 2
  -display none -monitor none -no-reboot
  -serial "file:$RUN/console.log"
  -kernel "$VMLINUZ" -initrd "$INITRD"
  -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
  -device virtio-rng-pci
  -nic none)
RW_TAGS=
n=0
for d in ${RW_DIRS[@]+"${RW_DIRS[@]}"}; do
  case $d in *,*|*' '*) die "-w $d: no commas or spaces, please" ;; esac
  QEMU+=(-virtfs "local,path=$d,mount_tag=rw$n,security_model=none,multidevs=remap")
  RW_TAGS=$RW_TAGS${RW_TAGS:+,}$d
  n=$((n + 1))
done
LOGLEVEL=$([ "$VERBOSE" = 1 ] && echo 7 || echo 3)
APPEND="console=ttyS0 panic=-1 loglevel=$LOGLEVEL rdinit=/init"
APPEND="$APPEND ktlsvm.job=$RUN/job.sh ktlsvm.verbose=$VERBOSE"
[ -n "$RW_TAGS" ] && APPEND="$APPEND ktlsvm.rw=$RW_TAGS"
QEMU+=(-append "$APPEND")

: > "$RUN/console.log"
"${QEMU[@]}" </dev/null >"$RUN/qemu.log" 2>&1 &
QPID=$!
# Stream the console while the guest runs (\r from the guest's tty removed,
# and the kernel's last words after the exit marker).
# sed -u: unbuffered, so output shows up live also through a pipe.
tail -n +1 -F --pid="$QPID" "$RUN/console.log" 2>/dev/null \
  | sed -u -e 's/\r$//' -e '/^\[ *[0-9.]*\] reboot: Restarting system$/d' &
TAILPID=$!

deadline=$((SECONDS + TIMEOUT))
while kill -0 "$QPID" 2>/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "ktls-vm: timeout after ${TIMEOUT}s, killing qemu (pid $QPID)" >&2
    kill "$QPID" 2>/dev/null || true
    wait "$TAILPID" 2>/dev/null || true
    echo "KTLS-VM-EXIT=124"
    exit 124
  fi
  sleep 1
done
wait "$QPID" && qrc=0 || qrc=$?
wait "$TAILPID" 2>/dev/null || true

rc=$(tr -d '\r' < "$RUN/console.log" | sed -n 's/^KTLS-VM-EXIT=\([0-9]*\)$/\1/p' | tail -n 1)
if [ -z "$rc" ]; then
  echo "ktls-vm: no exit marker from the guest (qemu status $qrc)" >&2
  cat "$RUN/qemu.log" >&2
  exit 125
fi
exit "$rc"
