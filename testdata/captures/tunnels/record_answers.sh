#!/usr/bin/env bash
# Records tshark 4.0's answers for every capture in this directory:
#   ../../tshark/<capture>.json   Follow TCP Stream per stream (../../record_tshark.sh)
#   ../../tshark/tunnels_facts.tsv  per capture: frames, and frames tshark decodes
#                                 as TCP, ARP, ICMPv6 (the innermost layer)
#   ../../tshark/dup_<kind>.pcap.frames.tsv  per TCP frame of the path-duplicate
#                                 captures: frame, tcp.stream, ip.id, and tshark's
#                                 retransmission and duplicate-ACK flags
#   ../../tshark/tunnel_<kind>.pcap.addrs.tsv  per TCP frame of the tunnel captures:
#                                 every ip.src/ip.dst and ipv6.src/ipv6.dst, outermost first
# Needs tshark. Run after record_tunnels.sh, record_nflog.sh or gen_links.
# Arguments (file names here) limit the Follow answers to those files; the
# facts are always rewritten for all.
set -euo pipefail
cd "$(dirname "$0")"
files=(tunnel_*.pcap link_*.pcap dup_*.pcap merged_*.pcapng)
follow=("$@")
[ ${#follow[@]} -gt 0 ] || follow=("${files[@]}")
../../record_tshark.sh "${follow[@]/#/captures/tunnels/}"
{
  printf 'capture\tframes\ttcp\tarp\ticmpv6\n'
  for f in "${files[@]}"; do
    n() { tshark -n -r "$f" ${1:+-Y "$1"} 2>/dev/null | grep -c . || true; }
    printf '%s\t%d\t%d\t%d\t%d\n' "$f" "$(n)" "$(n tcp)" "$(n arp)" "$(n icmpv6)"
  done
} > ../../tshark/tunnels_facts.tsv
echo "recorded ../../tshark/tunnels_facts.tsv"
for f in dup_*.pcap; do
  tshark -n -r "$f" -Y tcp -T fields -E header=y -e frame.number -e tcp.stream -e ip.id \
    -e tcp.analysis.retransmission -e tcp.analysis.duplicate_ack 2>/dev/null > "../../tshark/$f.frames.tsv"
  echo "recorded ../../tshark/$f.frames.tsv"
done
# Outer addresses: per TCP frame of each tunnel capture, every IPv4 and IPv6
# source and destination tshark decodes, outermost first (-E occurrence=a).
for f in tunnel_*.pcap; do
  tshark -n -r "$f" -Y tcp -T fields -E header=y -E occurrence=a -E aggregator=' ' -e frame.number \
    -e ip.src -e ip.dst -e ipv6.src -e ipv6.dst 2>/dev/null > "../../tshark/$f.addrs.tsv"
  echo "recorded ../../tshark/$f.addrs.tsv"
done
