#!/usr/bin/env bash
# follow_memory.sh - peak memory and time of `sockscope follow` on one long
# generated connection (bench/gen -mode long), for every output format.
#
#   bash bench/follow_memory.sh                 # 1GB, 64000-byte segments
#   bash bench/follow_memory.sh 1GB 1448        # 1GB in 1448-byte segments (a 1500-MTU link)
#   OLD=/tmp/sockscope-old bash bench/follow_memory.sh   # also time another build
#   PCAP=/tmp/sockscope-real-long.pcap bash bench/follow_memory.sh  # a real capture (bench/record_long.sh)
#   TRANSCRIPT=1 bash bench/follow_memory.sh    # the --transcript view too (slow: gigabytes of text)
#
# Peak RSS is /usr/bin/time -v's "Maximum resident set size". The capture is
# generated into /tmp once (about 1.1 GB per GB of stream) and reused.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZE=${1:-1GB} SEG=${2:-64000}
PCAP=${PCAP:-/tmp/sockscope-long-$SIZE-$SEG.pcap}
BIN=/tmp/sockscope-follow-bench
[[ -x /usr/bin/time ]] || { apt-get install -y time >/dev/null; }
(cd "$REPO" && go build -o "$BIN" ./cmd/sockscope)
if [[ ! -s $PCAP ]]; then
	(cd "$REPO" && go run ./bench/gen -mode long -size "$SIZE" -seg "$SEG" -o "$PCAP")
fi
cat "$PCAP" >/dev/null # warm the page cache
echo "| build | view | wall s | peak RSS MB |"
echo "|---|---|---|---|"
for b in "$BIN" ${OLD:+"$OLD"}; do
	# The transcript of a long stream is gigabytes of escaped text and
	# takes many minutes: TRANSCRIPT=1 adds it.
	views=("--format raw --dir s2c" "--format json" "")
	[[ -n ${TRANSCRIPT:-} ]] && views+=("--transcript")
	for view in "${views[@]}"; do
		out=$( { /usr/bin/time -v "$b" follow "$PCAP" tcp/0 $view >/dev/null; } 2>&1 ) || { echo "| $b | ${view:-text} | failed | |"; continue; }
		wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' <<<"$out")
		rss=$(awk -F': ' '/Maximum resident set size/{printf "%.1f", $2/1024}' <<<"$out")
		echo "| $(basename "$b") | ${view:-text} | $wall | $rss |"
	done
done
