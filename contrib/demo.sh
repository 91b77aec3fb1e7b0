#!/bin/sh
# demo.sh [MODULE.so] - run a throwaway explicit-FTPS proftpd on 127.0.0.1.
#
# Uses ./mod_ftps.so from the repository root unless a module is given as
# the first argument or in $FTPS_MODULE (e.g. /usr/lib/proftpd/mod_tls.so).
# Everything lives in $FTPS_DEMO_DIR (default /tmp/mod_ftps-demo): a
# self-signed certificate for CN=localhost (cert and key in one PEM file),
# a virtual user "demo", its home with a README, proftpd.conf and the logs.
# Running it again stops the previous demo first.  Needs root (proftpd
# switches to nobody) and the Debian proftpd-core, openssl and curl packages.

set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
module=${1:-${FTPS_MODULE:-$repo/mod_ftps.so}}
dir=${FTPS_DEMO_DIR:-/tmp/mod_ftps-demo}
proftpd=${PROFTPD:-/usr/sbin/proftpd}
user=demo

die() {
  echo "demo.sh: $*" >&2
  exit 1
}

[ "$(id -u)" -eq 0 ] || die "run me as root (proftpd needs it to switch to nobody)"
[ -x "$proftpd" ] || die "$proftpd not found (apt-get install proftpd-core)"
[ -f "$module" ] || die "module $module not found (build it with make, or pass a path)"
command -v openssl >/dev/null || die "openssl not found"
case $module in
  /*) ;;
  *) module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module") ;;
esac
modname=$(basename "$module" .so)

# -- stop a previous demo ----------------------------------------------------
stop_previous() {
  [ -f "$dir/proftpd.pid" ] || return 0
  pid=$(cat "$dir/proftpd.pid" 2>/dev/null || true)
  case $pid in ''|*[!0-9]*) return 0 ;; esac
  if [ -r "/proc/$pid/cmdline" ] &&
     tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q proftpd; then
    echo "Stopping the previous demo (pid $pid)"
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
      sleep 0.1
      i=$((i + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/proftpd.pid"
}
stop_previous

# -- a free port -------------------------------------------------------------
port_busy() {
  if command -v ss >/dev/null; then
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
  else
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null
  fi
}
free_port() {
  if command -v python3 >/dev/null; then
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'
  else
    p=$((20000 + $$ % 20000))
    while port_busy "$p"; do p=$((p + 1)); done
    echo "$p"
  fi
}
port=${FTPS_DEMO_PORT:-2121}
if port_busy "$port"; then
  old=$port
  port=$(free_port)
  echo "Port $old is busy; using $port"
fi
pasv_lo=50000
pasv_hi=50100

# -- files -------------------------------------------------------------------
umask 022
mkdir -p "$dir" "$dir/modules" "$dir/home"
chmod 0755 "$dir" "$dir/modules"
cp "$module" "$dir/modules/$modname.so"
chmod 0755 "$dir/modules/$modname.so"

pem=$dir/localhost.pem
if ! openssl x509 -in "$pem" -noout -checkend 86400 >/dev/null 2>&1; then
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 \
      -subj /CN=localhost \
      -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$dir/localhost.key.tmp" -out "$dir/localhost.crt.tmp" \
      2>/dev/null
    cat "$dir/localhost.crt.tmp" "$dir/localhost.key.tmp" >"$pem.tmp"
    rm -f "$dir/localhost.crt.tmp" "$dir/localhost.key.tmp"
    mv "$pem.tmp" "$pem"
  )
fi
chmod 0600 "$pem"

password=$(openssl rand -hex 8)
hash=$(openssl passwd -6 "$password")
(
  umask 077
  printf '%s:%s:65534:65534::%s/home:/bin/false\n' "$user" "$hash" "$dir" \
    >"$dir/passwd"
)
cat >"$dir/home/README" <<EOF
Hello from the $modname FTPS demo.
This file is served by proftpd over explicit FTPS (AUTH TLS).
Uploads land next to it.
EOF
chown -R 65534:65534 "$dir/home"
: >"$dir/proftpd.log"
: >"$dir/tls.log"

cat >"$dir/proftpd.conf" <<EOF
# mod_ftps demo: explicit FTPS on 127.0.0.1:$port
ServerType            standalone
DefaultServer         on
ServerName            "$modname demo"
Port                  $port
DefaultAddress        127.0.0.1
SocketBindTight       on
UseIPv6               off
User                  nobody
Group                 nogroup
PidFile               $dir/proftpd.pid
ScoreboardFile        $dir/proftpd.scoreboard
SystemLog             $dir/proftpd.log
DelayEngine           off
WtmpLog               off
UseReverseDNS         off
TransferLog           none
AuthOrder             mod_auth_file.c
AuthUserFile          $dir/passwd
RequireValidShell     off
DefaultRoot           ~
AllowOverwrite        on
PassivePorts          $pasv_lo $pasv_hi

ModulePath            $dir/modules
LoadModule            $modname.c

TLSEngine             on
TLSLog                $dir/tls.log
TLSProtocol           TLSv1.2 TLSv1.3
TLSRSACertificateFile $pem
TLSRequired           on
EOF

"$proftpd" -t -c "$dir/proftpd.conf" >"$dir/check.log" 2>&1 ||
  { cat "$dir/check.log" >&2; die "proftpd -t failed"; }

# -- start and verify ----------------------------------------------------------
"$proftpd" -c "$dir/proftpd.conf" >>"$dir/proftpd.log" 2>&1 ||
  { tail -20 "$dir/proftpd.log" >&2; die "proftpd did not start"; }
i=0
while [ ! -s "$dir/proftpd.pid" ] && [ $i -lt 100 ]; do
  sleep 0.1
  i=$((i + 1))
done
[ -s "$dir/proftpd.pid" ] || { tail -20 "$dir/proftpd.log" >&2; die "no PidFile after 10s"; }
pid=$(cat "$dir/proftpd.pid")

if command -v curl >/dev/null; then
  if listing=$(curl -sS --ssl-reqd -k --max-time 20 \
                 --user "$user:$password" "ftp://127.0.0.1:$port/" 2>&1) &&
     echo "$listing" | grep -q README; then
    echo "Verified with curl: the listing over FTPS shows README."
  else
    echo "$listing" >&2
    tail -20 "$dir/proftpd.log" "$dir/tls.log" >&2
    kill "$pid" 2>/dev/null || true
    die "curl could not list the demo server; stopped it"
  fi
else
  echo "curl not installed; skipping the check"
fi

cat <<EOF

$modname demo running: pid $pid, ftp://127.0.0.1:$port/ (explicit FTPS,
TLS required, TLS 1.2/1.3, self-signed certificate for CN=localhost).
  user:      $user
  password:  $password
  directory: $dir (proftpd.conf, proftpd.log, tls.log, home/)

Connect with curl:
  curl --ssl-reqd -k --user $user:$password ftp://127.0.0.1:$port/
  curl --ssl-reqd -k --user $user:$password ftp://127.0.0.1:$port/README
  curl --ssl-reqd -k --user $user:$password -T somefile ftp://127.0.0.1:$port/

Connect with lftp:
  lftp -e 'set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true' -u $user,$password -p $port 127.0.0.1

Stop it:
  kill \$(cat $dir/proftpd.pid)
EOF
