#!/usr/bin/env bash
# sanity.sh - check that a bench/gen capture parses cleanly in tshark and that
# the generator's summary (connection count, largest tcp.stream) matches
# tshark's view of the same file.
#
#   bash bench/sanity.sh [SIZE] [SEED]      # default 20MB, seed 1
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=${1:-20MB} SEED=${2:-1}
WORK=$(mktemp -d /tmp/sockscope-sanity.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
F=$WORK/s.pcap
(cd "$REPO" && go run ./bench/gen -size "$SIZE" -seed "$SEED" -o "$F") 2>"$WORK/sum"
SUM=$(cat "$WORK/sum"); echo "$SUM"
field() { grep -o "\b$1=[0-9]*" <<<"$SUM" | cut -d= -f2; }
capinfos -c -s "$F" | tail -2
fail=0
malformed=$(tshark -r "$F" -Y _ws.malformed 2>/dev/null | wc -l)
unseen=$(tshark -r "$F" -Y tcp.analysis.ack_lost_segment 2>/dev/null | wc -l)
read -r streams largest lbytes < <(tshark -r "$F" -Y tcp -T fields -e tcp.stream -e frame.len 2>/dev/null |
	awk '{n[$1]+=$2} END {m=-1; for (k in n) {c++; if (n[k] > m || (n[k] == m && k+0 < mk+0)) {m=n[k]; mk=k}} print c, mk, m}')
echo "malformed=$malformed acked_unseen=$unseen tshark_streams=$streams tshark_largest=$largest ($lbytes bytes)"
[[ $malformed -eq 0 ]] || { echo "FAIL: malformed packets"; fail=1; }
[[ $unseen -eq 0 ]] || { echo "FAIL: ACKed unseen segments"; fail=1; }
[[ $streams -eq $(field tcp_connections) ]] || { echo "FAIL: stream count differs from generator"; fail=1; }
[[ $largest -eq $(field largest_stream) && $lbytes -eq $(field largest_stream_bytes) ]] || { echo "FAIL: largest stream differs"; fail=1; }
echo "expert warnings/errors (loss/reorder/retransmission are intended):"
tshark -r "$F" -Y '_ws.expert.severity >= "warning"' -T fields -e _ws.expert.message 2>/dev/null |
	tr ',' '\n' | grep -v '^$' | sort | uniq -c | sort -rn | head -12
tshark -r "$F" -q -z conv,tcp 2>/dev/null | sed -n 6,8p
[[ $fail -eq 0 ]] && echo "sanity: OK" || { echo "sanity: FAILED"; exit 1; }
