#!/usr/bin/env bash
# Writes merged_paths.pcapng: HTTP that crossed different paths, as one
# capture (a user merging the captures of several taps): the corpus's
# loopback keep-alive HTTP (no encapsulation) and the VXLAN, GRE, VLAN, QinQ
# and MPLS tunnel captures here, merged in time order by mergecap (one
# pcapng interface per input). Needs mergecap (wireshark-common); then
# record_answers.sh merged_paths.pcapng for tshark's answers.
set -euo pipefail
cd "$(dirname "$0")"
mergecap -w merged_paths.pcapng ../../corpus/04_http11_keepalive_curl.pcap \
  tunnel_vxlan.pcap tunnel_gre.pcap tunnel_vlan.pcap tunnel_qinq.pcap tunnel_mpls.pcap
echo "wrote merged_paths.pcapng ($(stat -c %s merged_paths.pcapng) bytes)"
