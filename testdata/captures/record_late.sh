#!/usr/bin/env bash
# Regenerates the late-packet captures (go run ./testdata/captures/gen_late)
# and records tshark's answers for each: tshark/<capture>.json (Follow TCP
# Stream, via record_tshark.sh) and tshark/<capture>.frames.tsv (per frame:
# tcp.stream and the TCP analysis flags). Needs Go and tshark.
set -euo pipefail
cd "$(dirname "$0")/../.."
go run ./testdata/captures/gen_late
for f in late_retrans_3s_after_close.pcap late_ack_after_close.pcap \
         port_reuse_new_isn_1s.pcap late_old_after_reuse.pcap; do
  bash testdata/record_tshark.sh "captures/$f"
  tshark -n -r "testdata/captures/$f" -T fields -E header=y \
    -e frame.number -e tcp.stream -e tcp.srcport -e tcp.seq -e tcp.len \
    -e tcp.analysis.retransmission -e tcp.analysis.spurious_retransmission \
    -e tcp.analysis.out_of_order -e tcp.analysis.lost_segment \
    -e tcp.analysis.ack_lost_segment -e tcp.flags.str \
    2>/dev/null > "testdata/tshark/$f.frames.tsv"
  echo "recorded $f.frames.tsv"
done
