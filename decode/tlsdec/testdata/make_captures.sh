#!/bin/bash
# Records the openssl captures in this directory (see README.md). Loopback
# only; needs root (tcpdump), openssl 3.0, tshark 4.0 and python3. Each
# capture: tcpdump on lo for one port, openssl s_server and s_client talking
# over 127.0.0.1, the client's key log, then tshark's decrypted Follow TLS
# Stream recorded with tshark_follow.py. Every process is started here and
# stopped by its PID; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")"
gen=$(mktemp -d)
trap 'rm -rf "$gen"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=sockscope.test \
  -keyout "$gen/key.pem" -out "$gen/cert.pem" 2>/dev/null
# Payload lines start with 'l': s_client and s_server read a chunk of stdin
# that starts with Q, q, P, S (or is K/R alone on a line) as a command.
seq -f 'line %06g of the server to client test data, some padding text' 1 650 >"$gen/s2c.txt" # ~40 KB
seq -f 'line %06g of the client to server test data' 1 90 >"$gen/c2s.txt"

# Arguments, if any, name the captures to record (default: all of them).
only=("$@")
wanted() {
  [ ${#only[@]} -eq 0 ] && return 0
  local n
  for n in "${only[@]}"; do [ "$n" = "$1" ] && return 0; done
  return 1
}

# start_dump FILE PORT: tcpdump in the background, waits until it listens.
start_dump() {
  rm -f "$gen/dump.err"
  tcpdump -i lo -U -w "$1" "tcp port $2" 2>"$gen/dump.err" &
  dump=$!
  for _ in $(seq 50); do grep -q listening "$gen/dump.err" 2>/dev/null && return; sleep 0.1; done
  echo "tcpdump did not start" >&2; exit 1
}
stop_dump() { sleep 0.3; kill -INT "$dump"; wait "$dump" || true; }

# server PORT ARGS...: s_server in the background ($srv), its stdin from
# $gen/srv.in (a script run with its output piped in).
server() {
  local port=$1; shift
  rm -f "$gen/srv.out"
  bash "$gen/srv.in" | timeout 20 openssl s_server -accept 127.0.0.1:$port -cert "$gen/cert.pem" -key "$gen/key.pem" \
    -naccept "${NACCEPT:-1}" "$@" >"$gen/srv.out" 2>&1 &
  srv=$!
  for _ in $(seq 50); do grep -q ACCEPT "$gen/srv.out" 2>/dev/null && return; sleep 0.1; done
  echo "s_server did not start" >&2; exit 1
}
# client PORT KEYS ARGS...: s_client, its stdin from $gen/cli.in run as a script.
client() {
  local port=$1 keys=$2; shift 2
  bash "$gen/cli.in" | timeout 20 openssl s_client -connect 127.0.0.1:$port -servername sockscope.test \
    -keylogfile "$keys" "$@" >"$gen/cli.out" 2>&1 || true
}
# default conversation: client request, server sends 40 KB, client more, close.
conversation() {
  cat >"$gen/cli.in" <<EOT
printf 'GET / HTTP/1.1\r\nHost: sockscope.test\r\n\r\n'; sleep 0.4; cat $gen/c2s.txt; sleep 0.8
EOT
  cat >"$gen/srv.in" <<EOT
sleep 0.2; printf 'HTTP/1.1 200 OK\r\n\r\n'; cat $gen/s2c.txt; sleep 1.5
EOT
}
# record NAME PORT: tshark's decrypted application data of every TCP stream.
record() {
  local name=$1 port=$2
  local n
  n=$(tshark -r "$name.pcap" -T fields -e tcp.stream 2>/dev/null | sort -un | wc -l)
  for ((i = 0; i < n; i++)); do
    local out="$name.tshark"
    [ "$i" -gt 0 ] && out="$name.$i.tshark"
    tshark -r "$name.pcap" -o "tls.keylog_file:$name.keys" -q -z "follow,tls,raw,$i" 2>/dev/null |
      python3 tshark_follow.py "$port" "$out"
  done
}
# one NAME PORT SERVER_ARGS -- CLIENT_ARGS: one connection.
one() {
  local name=$1 port=$2; shift 2
  wanted "$name" || return 0
  local sargs=() cargs=()
  while [ "$1" != -- ]; do sargs+=("$1"); shift; done; shift
  cargs=("$@")
  rm -f "$name.keys"
  start_dump "$name.pcap" "$port"
  server "$port" "${sargs[@]}"
  client "$port" "$name.keys" "${cargs[@]}"
  wait "$srv" || true
  stop_dump
  record "$name" "$port"
}

conversation
one 30_tls13_aes128gcm 4501 -- -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
one 31_tls13_aes256gcm 4502 -- -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
one 32_tls13_chacha20 4503 -- -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
one 33_tls12_ecdhe_rsa_aes128gcm 4504 -- -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
one 34_tls12_ecdhe_rsa_aes256gcm 4505 -- -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
one 35_tls12_ecdhe_rsa_chacha20 4506 -- -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
one 36_tls12_ecdhe_rsa_aes128sha_etm 4507 -- -tls1_2 -cipher ECDHE-RSA-AES128-SHA
one 37_tls12_ecdhe_rsa_aes128sha_noetm 4508 -- -tls1_2 -cipher ECDHE-RSA-AES128-SHA -no_etm
one 38_tls12_rsa_aes256sha256 4509 -- -tls1_2 -cipher AES256-SHA256 -no_etm
one 39_tls12_ecdhe_rsa_aes256sha384 4510 -- -tls1_2 -cipher ECDHE-RSA-AES256-SHA384
# HelloRetryRequest: the client's first key share (X25519) is not one the server takes.
one 40_tls13_hrr 4511 -groups P-256 -- -tls1_3 -groups X25519:P-256
# ALPN: TLS 1.3 negotiates it in EncryptedExtensions, TLS 1.2 in the ServerHello.
one 46_tls13_alpn_h2 4517 -alpn h2 -- -tls1_3 -alpn h2,http/1.1
one 47_tls12_alpn_http11 4518 -alpn http/1.1 -- -tls1_2 -alpn h2,http/1.1
# AES-128-CCM (TLS 1.3; openssl enables it only when asked).
one 48_tls13_aes128ccm 4519 -ciphersuites TLS_AES_128_CCM_SHA256 -- -tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256
one 49_tls12_rsa_aes128ccm 4520 -cipher AES128-CCM -- -tls1_2 -cipher AES128-CCM

# KeyUpdate both ways: 'K' on s_client's and s_server's stdin sends a
# KeyUpdate with update_requested (so the peer updates too).
cat >"$gen/cli.in" <<'EOT'
printf 'before key update\n'; sleep 0.5; printf 'K\n'; sleep 0.5; printf 'after client key update\n'; sleep 1.2
EOT
cat >"$gen/srv.in" <<'EOT'
sleep 0.2; printf 'server before\n'; sleep 1.2; printf 'K\n'; sleep 0.3; printf 'server after its key update\n'; sleep 1
EOT
one 41_tls13_keyupdate 4512 -- -tls1_3

# Resumption: two connections, the second resumes the first's session
# (TLS 1.2 ticket, TLS 1.2 session ID, TLS 1.3 PSK).
resume() {
  local name=$1 port=$2; shift 2
  wanted "$name" || return 0
  local sargs=() cargs=()
  while [ "$1" != -- ]; do sargs+=("$1"); shift; done; shift
  cargs=("$@")
  rm -f "$name.keys" "$gen/sess.pem"
  start_dump "$name.pcap" "$port"
  NACCEPT=2 server "$port" "${sargs[@]}"
  client "$port" "$name.keys" "${cargs[@]}" -sess_out "$gen/sess.pem"
  client "$port" "$name.keys" "${cargs[@]}" -sess_in "$gen/sess.pem"
  wait "$srv" || true
  stop_dump
  record "$name" "$port"
}
conversation
# the server answers each connection (the second starts about 1.5 s in)
cat >"$gen/srv.in" <<EOT
sleep 0.2; printf 'HTTP/1.1 200 OK\r\n\r\n'; head -c 3000 $gen/s2c.txt; sleep 2
printf 'HTTP/1.1 200 OK\r\n\r\nsecond'; head -c 2000 $gen/s2c.txt; sleep 3
EOT
resume 42_tls12_resume_ticket 4513 -- -tls1_2
resume 43_tls12_resume_sessionid 4514 -no_ticket -- -tls1_2
resume 44_tls13_resume_psk 4515 -- -tls1_3

# 0-RTT: the second connection resumes and sends early data (the server
# accepts it).
printf 'early data line sent in 0-RTT\n' >"$gen/early.txt"
early() {
  local name=$1 port=$2
  wanted "$name" || return 0
  rm -f "$name.keys" "$gen/sess.pem"
  start_dump "$name.pcap" "$port"
  NACCEPT=2 server "$port" -early_data -max_early_data 16384
  client "$port" "$name.keys" -tls1_3 -sess_out "$gen/sess.pem"
  client "$port" "$name.keys" -tls1_3 -sess_in "$gen/sess.pem" -early_data "$gen/early.txt"
  wait "$srv" || true
  stop_dump
  record "$name" "$port"
}
early 45_tls13_early_data 4516

# curl (HTTP/2, ALPN h2) to nghttpd, key log from SSLKEYLOGFILE.
if wanted 51_tls13_curl_nghttpd_h2; then
  name=51_tls13_curl_nghttpd_h2 port=4521
  rm -f "$name.keys"
  mkdir -p "$gen/htdocs"
  seq -f 'line %06g of the http2 body' 1 2000 >"$gen/htdocs/body.txt"
  timeout 20 nghttpd -a 127.0.0.1 -d "$gen/htdocs" "$port" "$gen/key.pem" "$gen/cert.pem" >"$gen/nghttpd.out" 2>&1 &
  ngh=$!
  for _ in $(seq 50); do ss -ltn "sport = :$port" | grep -q LISTEN && break; sleep 0.1; done
  start_dump "$name.pcap" "$port"
  SSLKEYLOGFILE="$PWD/$name.keys" timeout 20 curl -sk --http2 -o /dev/null -o /dev/null \
    "https://127.0.0.1:$port/body.txt" "https://127.0.0.1:$port/body.txt"
  stop_dump
  kill "$ngh"; wait "$ngh" || true
  record "$name" "$port"
fi

# Python: the client writes 200 tiny messages, one TLS record each
# (TCP_NODELAY), and the server echoes each; ssl keylog_filename.
if wanted 52_tls13_python_tiny_records; then
  name=52_tls13_python_tiny_records port=4522
  rm -f "$name.keys"
  start_dump "$name.pcap" "$port"
  KEYS="$PWD/$name.keys" CERT="$gen/cert.pem" KEY="$gen/key.pem" PORT=$port timeout 30 python3 - <<'EOT'
import os, socket, ssl, threading
port = int(os.environ["PORT"])
sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
sctx.load_cert_chain(os.environ["CERT"], os.environ["KEY"])
ls = socket.create_server(("127.0.0.1", port))
def serve():
    c, _ = ls.accept()
    with sctx.wrap_socket(c, server_side=True) as s:
        while True:
            b = s.recv(4096)
            if not b:
                break
            s.sendall(b.upper())
t = threading.Thread(target=serve); t.start()
cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
cctx.check_hostname = False
cctx.verify_mode = ssl.CERT_NONE
cctx.keylog_filename = os.environ["KEYS"]
raw = socket.create_connection(("127.0.0.1", port))
raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
with cctx.wrap_socket(raw, server_hostname="sockscope.test") as s:
    for i in range(200):
        s.sendall(b"msg %03d;" % i)
    s.sendall(b"END")
    got = b""
    while not got.endswith(b"END"):
        got += s.recv(4096)
    s.unwrap() if False else None
t.join(timeout=5)
EOT
  stop_dump
  record "$name" "$port"
fi
