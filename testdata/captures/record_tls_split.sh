#!/usr/bin/env bash
# Records tls13_records_split_mtu1500.pcap: curl fetches a 40000-byte page from
# `openssl s_server -WWW` over TLS 1.3, on loopback inside a private network
# namespace with MTU 1500 and segmentation offloads off, so 16 KiB TLS records
# are split across 1448-byte segments as on a real Ethernet path.
# Needs root, openssl, curl, tcpdump, ethtool.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)/tls13_records_split_mtu1500.pcap
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 3650 -subj "/CN=sockscope.test" 2>/dev/null
head -c 40000 /dev/zero | tr '\0' 'x' > page.html
cat > inner.sh <<'INNER'
set -u
ip link set lo mtu 1500 up
ethtool -K lo tso off gso off gro off >/dev/null 2>&1
tcpdump -i lo -s 0 -U -w "$OUT" 'tcp port 4433' 2>/dev/null & TP=$!
sleep 1
openssl s_server -quiet -accept 4433 -cert cert.pem -key key.pem -WWW >/dev/null 2>&1 & SP=$!
sleep 1
timeout 10 curl -sk --resolve sockscope.test:4433:127.0.0.1 https://sockscope.test:4433/page.html -o /dev/null
sleep 1
kill $SP; sleep 0.5; kill $TP; wait $TP 2>/dev/null || true
INNER
OUT=$out timeout 60 unshare -n bash inner.sh
echo "wrote $out"
