#!/usr/bin/env bash
# record_long.sh - a real multi-GiB TCP transfer, captured: curl downloads a
# file of SIZE bytes from python's http.server across a veth pair between two
# network namespaces made here, and tcpdump on the client's side writes it.
# It is the real-traffic counterpart of bench/gen -mode long, for
# bench/follow_memory.sh (PCAP=... bash bench/follow_memory.sh).
#
#   sudo bash bench/record_long.sh                 # 2 GiB -> /tmp/sockscope-real-long.pcap
#   sudo SIZE=3G RATE=200M OUT=/tmp/x.pcap bash bench/record_long.sh
#
# curl is held to RATE bytes/s (default 120M) so that tcpdump keeps up on a
# 2-core machine: unlimited, the kernel dropped 16% of the frames here.
#
# Needs root, iproute2, tcpdump, curl and python3. Everything it starts is
# stopped by PID and the namespaces are deleted on exit. The capture is about
# 3% larger than SIZE (headers) and is not committed anywhere.
set -euo pipefail
SIZE=${SIZE:-2G} OUT=${OUT:-/tmp/sockscope-real-long.pcap}
NS_C=sslongc NS_S=sslongs DIR=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns del $NS_C 2>/dev/null || true
	ip netns del $NS_S 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT
ip netns del $NS_C 2>/dev/null || true
ip netns del $NS_S 2>/dev/null || true
ip netns add $NS_C
ip netns add $NS_S
ip link add vlc netns $NS_C type veth peer name vls netns $NS_S
ip -n $NS_C addr add 10.77.0.1/24 dev vlc
ip -n $NS_S addr add 10.77.0.2/24 dev vls
ip -n $NS_C link set vlc up
ip -n $NS_S link set vls up
ip -n $NS_C link set lo up
ip -n $NS_S link set lo up

truncate -s "$SIZE" "$DIR/big.bin" # sparse: reads as zeros, costs no disk
(cd "$DIR" && exec ip netns exec $NS_S python3 -m http.server 8080 --bind 10.77.0.2 >/dev/null 2>&1) &
PIDS+=($!)
for _ in $(seq 50); do
	ip netns exec $NS_C curl -s -o /dev/null http://10.77.0.2:8080/ && break
	sleep 0.1
done
ip netns exec $NS_C tcpdump -i vlc -s 0 -B 524288 -U -w "$OUT" 'tcp port 8080' 2>"$DIR/tcpdump.log" &
TPID=$!
PIDS+=($TPID)
# tcpdump says "listening on" once it captures: start the transfer after
# that, or the capture begins mid-connection.
for _ in $(seq 100); do
	grep -q "listening on" "$DIR/tcpdump.log" 2>/dev/null && break
	sleep 0.1
done
sleep 0.2
timeout 600 ip netns exec $NS_C curl -s --limit-rate "${RATE:-120M}" -o /dev/null -w 'curl: %{size_download} bytes in %{time_total} s\n' http://10.77.0.2:8080/big.bin
sleep 1
kill -INT $TPID
wait $TPID || true
cat "$DIR/tcpdump.log" >&2
ls -l "$OUT"
