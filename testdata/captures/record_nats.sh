#!/usr/bin/env bash
# Records nats_go_pub_sub_request.pcap: nats-server 2.15 (go install
# github.com/nats-io/nats-server/v2@v2.15.3, or NATS_SERVER=path) on
# 127.0.0.1:14222 and a nats.go 1.56 client (natsgo/, a module of its own)
# in a private network namespace (unshare -n), captured with tcpdump: INFO,
# CONNECT, SUB, PING/PONG, PUB, HPUB (a header), a 100,000-byte PUB spanning
# segments, the MSG/HMSG deliveries, and a request answered by the client's
# own responder. With it, nats_go_pub_sub_request.trace: the server's trace
# (-DV) of every operation it parsed and sent, which the decode tests compare
# the framing with, tshark having no NATS dissector. Needs root, Go and
# tcpdump.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
server=${NATS_SERVER:-$(go env GOPATH)/bin/nats-server}
(cd "$out/natsgo" && go build -o "$work/natsgo" .)
cp "$server" "$work/nats-server"
cd "$work"
cat > inner.sh <<'INNER'
set -u
ip link set lo up
./nats-server -a 127.0.0.1 -p 14222 -n sockscope-nats -DV -l trace.log >/dev/null 2>&1 & NS=$!
sleep 1
tcpdump -i lo -s 0 -U -w "$OUT/nats_go_pub_sub_request.pcap" 'tcp port 14222' 2>/dev/null & TP=$!
sleep 1
timeout 20 ./natsgo
sleep 1; kill $TP; wait $TP 2>/dev/null || true
kill $NS; wait $NS 2>/dev/null || true
# The server's own trace of the operations it parsed (<<-) and sent (->>):
# the answer to check the framing against (tshark has no NATS dissector;
# the server does not trace the INFO it sends; payload lines are cut at 100).
grep -E ' (<<-|->>) ' trace.log | sed -E 's/^.* (<<-|->>) /\1 /' | cut -c1-100 > "$OUT/nats_go_pub_sub_request.trace"
INNER
OUT=$out timeout 60 unshare -n bash inner.sh
ls -l "$out"/nats_*.pcap
