#!/usr/bin/env bash
# Records kafka_franz_kfake.pcap: franz-go's in-process fake broker (kfake)
# on 127.0.0.1:19092 and a franz-go client (kafkago/, a module of its own so
# sockscope does not depend on franz-go) in a private network namespace
# (unshare -n), captured with tcpdump: ApiVersions, Metadata,
# InitProducerID, three produced records (11 B, 6 B, 100,000 B: the last
# spans TCP segments), then Fetch until they are back, and the consumer's
# requests while it waits (Kafka 2.4 API versions: tshark 4.0 dissects every message of them, no compression). Needs root, Go and tcpdump; then run
# record_tshark.sh and record_kafka_tshark.sh on it.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
(cd "$out/kafkago" && go build -o "$work/kafkago" .)
cd "$work"
cat > inner.sh <<'INNER'
set -u
ip link set lo up
tcpdump -i lo -s 0 -U -w "$OUT/kafka_franz_kfake.pcap" 'tcp port 19092' 2>/dev/null & TP=$!
sleep 1
timeout 30 ./kafkago
sleep 1; kill $TP; wait $TP 2>/dev/null || true
INNER
OUT=$out timeout 60 unshare -n bash inner.sh
ls -l "$out"/kafka_*.pcap
