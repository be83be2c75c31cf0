#!/usr/bin/env bash
# Records two more sessions that switch to TLS, with curl's key logs
# (SSLKEYLOGFILE, into ../keys/<name>.keys), on the loopback of a private
# network namespace:
#   http_connect_tls_keys.pcap  curl -x through tinyproxy (CONNECT) to
#        openssl s_server -WWW on 4433, a 3000-byte page over TLS 1.3; only
#        the client ↔ proxy leg is captured
#   ftp_auth_tls_keys.pcap      curl --ssl-reqd ftp:// against pyftpdlib's
#        TLS_FTPHandler (ftps_server.py, next to this script): AUTH TLS,
#        then inside TLS USER, PASS, PBSZ, PROT P, PWD, EPSV, TYPE I; the
#        data connection (stream 1) is reset by the server after curl's
#        ClientHello, so curl tries PASV and QUITs: no file is sent
# Needs root, curl, tcpdump, openssl, tinyproxy, Debian's python3-pyftpdlib
# and python3-openssl (for /usr/bin/python3). Then record_starttls_tshark.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
keys=$(cd "$here/../keys" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
cp "$here/ftps_server.py" .
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj "/CN=sockscope.test" 2>/dev/null
cat > inner.sh <<'INNER'
set -u
ip link set lo up
cap() { tcpdump -i lo -s 0 -U -w "$1" "$2" 2>/dev/null & TP=$!; sleep 1; }
endcap() { sleep 1; kill $TP; wait $TP 2>/dev/null || true; }

head -c 3000 /dev/zero | tr '\0' 'y' > page.html
printf 'Port 8888\nListen 127.0.0.1\nAllow 127.0.0.1\nConnectPort 4433\nMaxClients 5\nPidFile "%s/tinyproxy.pid"\n' "$PWD" > tinyproxy.conf
tinyproxy -d -c tinyproxy.conf >/dev/null 2>&1 & XP=$!
openssl s_server -quiet -accept 4433 -cert cert.pem -key key.pem -WWW >/dev/null 2>&1 & OP=$!
sleep 1
rm -f "$KEYS/http_connect_tls_keys.keys"
cap "$OUT/http_connect_tls_keys.pcap" 'tcp port 8888'
SSLKEYLOGFILE="$KEYS/http_connect_tls_keys.keys" timeout 10 curl -sk -x http://127.0.0.1:8888 https://127.0.0.1:4433/page.html -o /dev/null || true
endcap
kill $XP $OP; wait $XP $OP 2>/dev/null || true

mkdir -p ftproot; head -c 5000 /dev/zero | tr '\0' 'f' > ftproot/file.txt
/usr/bin/python3 ftps_server.py 2121 >/dev/null 2>&1 & FP=$!
sleep 1
rm -f "$KEYS/ftp_auth_tls_keys.keys"
cap "$OUT/ftp_auth_tls_keys.pcap" 'tcp'
SSLKEYLOGFILE="$KEYS/ftp_auth_tls_keys.keys" timeout 10 curl -sk --ssl-reqd ftp://127.0.0.1:2121/file.txt -o /dev/null || true
endcap
kill $FP; wait $FP 2>/dev/null || true
INNER
OUT=$here KEYS=$keys timeout 90 unshare -n bash inner.sh
chown root:root "$here/http_connect_tls_keys.pcap" "$here/ftp_auth_tls_keys.pcap"
ls -l "$here/http_connect_tls_keys.pcap" "$here/ftp_auth_tls_keys.pcap" "$keys/http_connect_tls_keys.keys" "$keys/ftp_auth_tls_keys.keys"
