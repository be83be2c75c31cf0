#!/usr/bin/env bash
# Records captures in which the same inner packets are seen twice, through
# two paths (a capture artifact, not retransmissions):
#   dup_mirror.pcap  the kernel's tc mirred copies every HTTP frame on the
#                    veth va (both directions) into a VXLAN device (VNI 77,
#                    underlay 10.97.0.1 → 10.97.0.2), as traffic mirroring to
#                    a collector does; tcpdump on va sees each frame plain and
#                    again inside VXLAN.
#   dup_any.pcap     HTTP through the kernel's VXLAN tunnel t0 (VNI 42), with
#                    tcpdump -i any: each packet is seen on t0 (inner) and on
#                    va (inside VXLAN), Linux cooked v2.
# Two namespaces sst16d-a, sst16d-b joined by a veth pair, offloads off;
# python3 -m http.server in sst16d-b, curl fetches a 6000-byte page twice.
# Needs root, iproute2 (tc with u32 and mirred), tcpdump, curl, python3,
# ethtool. Usage: record_dups.sh [mirror|any ...] (default: both). Then
# record_answers.sh for the tshark answers, and record_dups_tshark.sh.
set -euo pipefail
py=$(command -v /usr/bin/python3 || command -v python3)
here=$(cd "$(dirname "$0")" && pwd)
A=sst16d-a B=sst16d-b
work=$(mktemp -d)
cleanup() {
  [ -n "${SP:-}" ] && kill "$SP" 2>/dev/null || true
  [ -n "${TP:-}" ] && kill "$TP" 2>/dev/null || true
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
head -c 6000 /dev/zero | tr '\0' 'a' | fold -w 99 | sed 's/$/ tunnel page/' | head -c 6000 > "$work/page.html"

a() { ip netns exec $A "$@"; }
b() { ip netns exec $B "$@"; }

setup() {
  cleanup_ns
  ip netns add $A; ip netns add $B
  ip link add va netns $A type veth peer name vb netns $B
  for ns in $A $B; do
    ip netns exec $ns ip link set lo up
    ip netns exec $ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  done
  a ip addr add 10.99.0.1/24 dev va; b ip addr add 10.99.0.2/24 dev vb
  a ip addr add 10.97.0.1/24 dev va; b ip addr add 10.97.0.2/24 dev vb
  a ip link set va up; b ip link set vb up
  a ethtool -K va tx off tso off gso off gro off >/dev/null 2>&1 || true
  b ethtool -K vb tx off tso off gso off gro off >/dev/null 2>&1 || true
}
cleanup_ns() { ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true; }

# mirror: HTTP over 10.99.0.0/24 with a 1400-byte route MTU (so that a
# mirrored frame plus VXLAN's 50 bytes fits the veth), mirrored into m0.
mirror() {
  for ns in $A $B; do ip netns exec $ns ip route change 10.99.0.0/24 dev $( [ $ns = $A ] && echo va || echo vb ) mtu lock 1400; done
  a ip link add m0 type vxlan id 77 local 10.97.0.1 remote 10.97.0.2 dstport 4789 dev va
  b ip link add m0 type vxlan id 77 local 10.97.0.2 remote 10.97.0.1 dstport 4789 dev vb
  a ip link set m0 up; b ip link set m0 up
  a tc qdisc add dev va clsact
  a tc filter add dev va egress protocol ip u32 match ip protocol 6 0xff match ip dport 8080 0xffff action mirred egress mirror dev m0
  a tc filter add dev va ingress protocol ip u32 match ip protocol 6 0xff match ip sport 8080 0xffff action mirred egress mirror dev m0
  URL_HOST=10.99.0.2 BIND=10.99.0.2 IFACE=va
}

# any: the kernel's VXLAN tunnel t0, captured on every interface.
any() {
  a ip link add t0 type vxlan id 42 local 10.99.0.1 remote 10.99.0.2 dstport 4789 dev va
  b ip link add t0 type vxlan id 42 local 10.99.0.2 remote 10.99.0.1 dstport 4789 dev vb
  a ip addr add 10.98.0.1/24 dev t0; b ip addr add 10.98.0.2/24 dev t0
  a ip link set t0 up; b ip link set t0 up
  for ns in $A $B; do ip netns exec $ns ethtool -K t0 tx off tso off gso off gro off >/dev/null 2>&1 || true; done
  URL_HOST=10.98.0.2 BIND=10.98.0.2 IFACE=any
}

record() {
  local k=$1 out="$here/dup_$1.pcap"
  setup
  $k
  (cd "$work" && exec ip netns exec $B timeout 30 $py -m http.server 8080 --bind "$BIND" >/dev/null 2>&1) & SP=$!
  for _ in $(seq 50); do b ss -ltn | grep -q ':8080 ' && break; sleep 0.1; done
  ip netns exec $A timeout 30 tcpdump -Z root --immediate-mode -i $IFACE -s 0 -U -w "$out" 2>"$work/tcpdump.err" & TP=$!
  for _ in $(seq 50); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
  echo "$k:"
  for i in 1 2; do a timeout 10 curl -s -o /dev/null -w "  fetch $i: %{http_code} %{size_download} B\n" "http://$URL_HOST:8080/page.html" || { echo "  fetch $i failed" >&2; exit 1; }; done
  sleep 0.5
  kill -INT $TP; wait $TP 2>/dev/null || true; TP=
  kill $SP; wait $SP 2>/dev/null || true; SP=
  cleanup_ns
  echo "wrote $out ($(stat -c %s "$out") bytes)"
}

kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(mirror any)
for k in "${kinds[@]}"; do record "$k"; done
