#!/usr/bin/env bash
# Records link_nflog_kernel.pcap: the kernel's own NFLOG (link type 239).
# In a private network namespace (loopback at MTU 1500, offloads off), an
# nftables rule logs every TCP packet to or from port 8080 to NFLOG group 5,
# tcpdump captures nflog:5, and curl fetches a 6000-byte page from
# python3 -m http.server twice. Needs root, nft, tcpdump, curl, python3,
# ethtool. Then record_answers.sh records tshark's answers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=$(command -v /usr/bin/python3 || command -v python3)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
head -c 6000 /dev/zero | tr '\0' 'n' > "$work/page.html"
cat > "$work/inner.sh" <<'INNER'
set -u
ip link set lo mtu 1500 up
ethtool -K lo tso off gso off gro off >/dev/null 2>&1
nft add table inet t
nft add chain inet t out '{ type filter hook output priority 0; }'
nft add rule inet t out tcp dport 8080 log group 5
nft add rule inet t out tcp sport 8080 log group 5
timeout 30 tcpdump -Z root --immediate-mode -i nflog:5 -s 0 -w "$OUT" 2>tcpdump.err & TP=$!
for _ in $(seq 50); do grep -q listening tcpdump.err && break; sleep 0.1; done
timeout 20 "$PY" -m http.server 8080 --bind 127.0.0.1 >/dev/null 2>&1 & SP=$!
for _ in $(seq 50); do ss -ltn | grep -q ':8080 ' && break; sleep 0.1; done
for i in 1 2; do timeout 10 curl -s -o /dev/null -w "  fetch $i: %{http_code} %{size_download} B\n" http://127.0.0.1:8080/page.html || exit 1; done
sleep 2 # NFLOG batches messages for up to 1 s
kill -INT $TP; wait $TP
kill $SP; wait $SP 2>/dev/null || true
INNER
cd "$work"
OUT=$here/link_nflog_kernel.pcap PY=$py timeout 60 unshare -n bash inner.sh
echo "wrote $here/link_nflog_kernel.pcap"
