#!/usr/bin/env bash
# Records the tunnel captures in this directory: two network namespaces
# (sst16-a, sst16-b) joined by a veth pair (10.99.0.1/24, fd99::1/64 ↔
# 10.99.0.2/24, fd99::2/64); for each kind, a tunnel link t0 over it (the
# kernel's VXLAN driver, or a TUN/TAP device driven by tunnel.py for the
# encapsulations the recording kernel had no driver for), python3 -m http.server in sst16-b on the tunnel's inner
# address, two curl fetches of a 6000-byte page from sst16-a, and tcpdump -s 0
# on the underlay veth in sst16-a. Offloads are off, so frames are what a wire
# would carry. Then the tshark answers (../../tshark/<capture>.json) are
# recorded with ../../record_tshark.sh.
# Needs root, iproute2, tcpdump, curl, python3, ethtool (and tshark for the
# answers). Usage: record_tunnels.sh [kind...] (default: all kinds).
set -euo pipefail
py=$(command -v /usr/bin/python3 || command -v python3)
here=$(cd "$(dirname "$0")" && pwd)
A=sst16-a B=sst16-b
work=$(mktemp -d)
cleanup() {
  [ -n "${SP:-}" ] && kill "$SP" 2>/dev/null || true
  [ -n "${TP:-}" ] && kill "$TP" 2>/dev/null || true
  for u in ${U1:-} ${U2:-}; do kill "$u" 2>/dev/null || true; done
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
head -c 6000 /dev/zero | tr '\0' 'a' | fold -w 99 | sed 's/$/ tunnel page/' | head -c 6000 > "$work/page.html"

a() { ip netns exec $A "$@"; }
b() { ip netns exec $B "$@"; }

setup() {
  ip netns del $A 2>/dev/null || true
  ip netns del $B 2>/dev/null || true
  ip netns add $A; ip netns add $B
  ip link add va netns $A type veth peer name vb netns $B
  for ns in $A $B; do ip netns exec $ns ip link set lo up; done
  a ip addr add 10.99.0.1/24 dev va; b ip addr add 10.99.0.2/24 dev vb
  a ip addr add fd99::1/64 dev va nodad; b ip addr add fd99::2/64 dev vb nodad
  # No router solicitations or DAD: only the exchange and what it needs.
  for ns in $A $B; do ip netns exec $ns sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0; done
  a ip link set va up; b ip link set vb up
  a ethtool -K va tso off gso off gro off >/dev/null 2>&1 || true
  b ethtool -K vb tso off gso off gro off >/dev/null 2>&1 || true
}

# userspace KIND: a TUN or TAP device t0 in each namespace, with tunnel.py
# moving its packets over the underlay (this kernel has no driver for these).
userspace() {
  local k=$1 dk=tun la=10.99.0.1 ra=10.99.0.2 lb=10.99.0.2 rb=10.99.0.1 mtu=1400
  case $k in gretap|erspan2|erspan3|geneve|vlan|qinq|mplspw) dk=tap ;; esac
  case $k in ip6gre|ip6tnl|ip4ip6) la=fd99::1 ra=fd99::2 lb=fd99::2 rb=fd99::1 ;; esac
  a ip tuntap add dev t0 mode $dk; b ip tuntap add dev t0 mode $dk
  # gre-frag: the tunnel's MTU is the veth's, so full-size inner packets
  # make outer IPv4 packets the kernel must fragment.
  if [ "$k" = gre-frag ]; then k=gre mtu=1500; fi
  a ip link set t0 mtu $mtu; b ip link set t0 mtu $mtu
  ip netns exec $A timeout 40 $py "$here/tunnel.py" "$k" t0 $la $ra va "$(b cat /sys/class/net/vb/address)" 30 & U1=$!
  ip netns exec $B timeout 40 $py "$here/tunnel.py" "$k" t0 $lb $rb vb "$(a cat /sys/class/net/va/address)" 30 & U2=$!
  for _ in $(seq 50); do
    a ip link show t0 | grep -q NO-CARRIER || b ip link show t0 | grep -q NO-CARRIER || break
    sleep 0.1
  done
}

# tunnel KIND: makes link t0 in both namespaces (or the VLAN links) and sets
# INNER_A / INNER_B (the server's address) and URL_HOST.
tunnel() {
  local k=$1 pa=24 v6=0
  case $k in
    vxlan)   a ip link add t0 type vxlan id 42 local 10.99.0.1 remote 10.99.0.2 dstport 4789 dev va
             b ip link add t0 type vxlan id 42 local 10.99.0.2 remote 10.99.0.1 dstport 4789 dev vb ;;
    ipip|sit|gre|gre-frag|ip6gre|ip6tnl|ip4ip6|gretap|erspan2|erspan3|geneve|gtpu|greudp|vlan|qinq|mpls|mplspw|pppoe|pppoe-qinq)
             userspace "$k"
             case $k in sit|ip6tnl) v6=1 ;; esac ;;
    *) echo "unknown kind $k" >&2; exit 2 ;;
  esac
  if [ $v6 = 1 ]; then
    a ip addr add fd98::1/64 dev t0 nodad; b ip addr add fd98::2/64 dev t0 nodad
    URL_HOST='[fd98::2]' BIND=fd98::2
  else
    a ip addr add 10.98.0.1/$pa dev t0; b ip addr add 10.98.0.2/$pa dev t0
    URL_HOST=10.98.0.2 BIND=10.98.0.2
  fi
  a ip link set t0 up; b ip link set t0 up
  for ns in $A $B; do ip netns exec $ns ethtool -K t0 tso off gso off gro off >/dev/null 2>&1 || true; done
}

untunnel() {
  for ns in $A $B; do
    for l in t0 va.201 vb.201 va.200 vb.200; do ip netns exec $ns ip link del $l 2>/dev/null || true; done
  done
}

record() {
  local k=$1 out="$here/tunnel_$1.pcap"
  tunnel "$k"
  (cd "$work" && exec ip netns exec $B timeout 30 $py -m http.server 8080 --bind "$BIND" >/dev/null 2>&1) & SP=$!
  for _ in $(seq 50); do b ss -ltn | grep -q ':8080 ' && break; sleep 0.1; done
  ip netns exec $A timeout 30 tcpdump -Z root --immediate-mode -i va -s 0 -U -w "$out" 2>"$work/tcpdump.err" & TP=$!
  for _ in $(seq 50); do grep -q listening "$work/tcpdump.err" 2>/dev/null && break; sleep 0.1; done
  echo "$1:"
  for i in 1 2; do a timeout 10 curl -s -o /dev/null -w "  fetch $i: %{http_code} %{size_download} B\n" "http://$URL_HOST:8080/page.html" || { echo "  fetch $i failed" >&2; exit 1; }; done
  sleep 0.5
  kill -INT $TP; wait $TP 2>/dev/null || true; TP=
  kill $SP; wait $SP 2>/dev/null || true; SP=
  for u in ${U1:-} ${U2:-}; do kill $u 2>/dev/null || true; wait $u 2>/dev/null || true; done; U1= U2=
  untunnel
  echo "wrote $out ($(stat -c %s "$out") bytes)"
}

kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(vxlan gre gre-frag gretap ip6gre ipip sit ip6tnl ip4ip6 erspan2 erspan3 geneve gtpu greudp vlan qinq mpls mplspw pppoe pppoe-qinq)
setup
for k in "${kinds[@]}"; do record "$k"; done
