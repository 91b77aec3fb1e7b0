#!/bin/bash
# openssl_smoke.sh - kTLS with the openssl command line tools alone.
#
#   contrib/ktls-vm/run.sh -- contrib/ktls-vm/openssl_smoke.sh
#
# OpenSSL 3.0's s_server/s_client have no -ktls flag (3.2 added it), but
# SSL_OP_ENABLE_KTLS can be set through the configuration file
# (system_default "Options = KTLS"), and s_server -WWW -sendfile serves a
# file with SSL_sendfile(), which only works once the kernel owns the
# send side.  Prints /proc/net/tls_stat before and after each transfer.
set -eu

dir=$(mktemp -d)
trap 'kill $spid 2>/dev/null || true; rm -rf "$dir"' EXIT
spid=
cd "$dir"
cat > ktls.cnf <<'EOF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Options = KTLS
EOF
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
  -keyout key.pem -out cert.pem 2>/dev/null
head -c $((8 << 20)) /dev/urandom > file
want=$(sha256sum < file | cut -c1-64)
stat() {
  [ -r /proc/net/tls_stat ] || { echo '(absent)'; return; }
  tr -s ' \t' '=' < /proc/net/tls_stat | grep -E '^Tls(Tx|Rx)Sw=' | tr '\n' ' '
}

port=45000
for proto in -tls1_2 -tls1_3; do
  port=$((port + 1))
  before=$(stat)
  OPENSSL_CONF=$dir/ktls.cnf openssl s_server $proto -accept 127.0.0.1:$port \
    -cert cert.pem -key key.pem -WWW -sendfile -naccept 1 -quiet \
    > server.log 2>&1 &
  spid=$!
  sleep 1
  # -ign_eof: keep reading after the request until the server closes.
  printf 'GET /file HTTP/1.0\r\n\r\n' \
    | OPENSSL_CONF=$dir/ktls.cnf openssl s_client $proto -connect 127.0.0.1:$port \
        -quiet -ign_eof 2>client.log > reply || true
  wait $spid || true
  # Body after the blank line of the HTTP header s_server writes.
  got=$(python3 -c 'import sys,hashlib; d=open("reply","rb").read(); print(hashlib.sha256(d.split(b"\r\n\r\n",1)[-1]).hexdigest())')
  echo "s_server $proto -WWW -sendfile: $( [ "$got" = "$want" ] && echo '8 MiB ok' || echo 'BODY MISMATCH')"
  echo "  tls_stat before: $before"
  echo "  tls_stat after:  $(stat)"
  grep -iE 'ktls|kernel|error' server.log | head -3 | sed 's/^/  server: /' || true
done
