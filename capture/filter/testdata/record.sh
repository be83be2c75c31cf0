#!/usr/bin/env bash
# record.sh records which frames tcpdump (libpcap) accepts for every filter
# expression in expressions.txt (one per line; the empty first line is the
# empty filter) over every capture in testdata/corpus/, in
# capture/filter/testdata/synth/, the tunnel captures and the link-type
# captures the compiler supports in testdata/captures/tunnels/, and writes tcpdump_accepts.json next to
# this script. TestAgainstTcpdump replays that file against filter.Matcher,
# so the tests never need tcpdump.
#
# Rerun after changing expressions.txt, the corpus or the synthetic captures:
#
#     go run ./capture/filter/testdata/gen      # only if gen/main.go changed
#     capture/filter/testdata/record.sh
#
# from the module root (any directory works). Needs tcpdump, jq, xargs and go.
# It takes a few minutes (one tcpdump run per expression and capture, 16 at
# a time).
#
# Notes on the recording:
#   - Each expression is passed with tcpdump -F, so quoting never matters.
#   - tcpdump -# numbers only the frames it prints, so the accepted frames
#     are written with tcpdump -w and located in the capture by
#     "gen match" (content and lengths, in order).
#   - A compile error is recorded as "error" (our compiler must refuse it
#     too), except tcpdump's "expression rejects all packets", which is an
#     optimizer verdict and is recorded as accepting nothing.
#   - .pcap.gz files are gunzipped into a temporary directory first.
#   - tcpdump cannot filter a pcapng file whose interfaces have different
#     link types (24_mixed_linktypes_eth_sll_sll2.pcapng stops at the first
#     SLL2 frame). Such files are split per interface by "gen split", each
#     part is filtered on its own, and the part is recorded as FILE#ifN
#     with the original frame numbers.
#   - Truncated or corrupt captures (25, 26, 27) are recorded up to where
#     tcpdump stops reading; "frames" is the number of frames it read and
#     "stop" is its message.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
gen="$tmp/gen"
go build -o "$gen" ./capture/filter/testdata/gen

# One file per expression, named by its line number from 0.
mkdir -p "$tmp/expr"
n=0
while IFS= read -r e || [[ -n $e ]]; do
	printf '%s\n' "$e" >"$tmp/expr/$n"
	n=$((n + 1))
done <"$here/expressions.txt"

# The captures: label, file to read, frame map ("-" for none).
: >"$tmp/captures"
for f in testdata/corpus/* capture/filter/testdata/synth/*.pcap testdata/captures/tunnels/tunnel_*.pcap \
	testdata/captures/tunnels/link_{ppp,ppp_hdlc,cisco_hdlc,raw_ipv4,raw_ipv6,null_ipv6_af24,loop_ipv6}.pcap; do
	src=$f
	if [[ $f == *.gz ]]; then
		src="$tmp/$(basename "${f%.gz}")"
		gunzip -c "$f" >"$src"
	fi
	probe=$(tcpdump -n -r "$src" 2>&1 >/dev/null || true)
	if [[ $probe == *"different from the type of the first interface"* ]]; then
		part="$tmp/split-$(basename "$f")"
		mkdir -p "$part"
		"$gen" split "$src" "$part"
		for p in "$part"/if*.pcap; do
			printf '%s\t%s\t%s\n' "$f#$(basename "${p%.pcap}")" "$p" "${p%.pcap}.frames" >>"$tmp/captures"
		done
		continue
	fi
	printf '%s\t%s\t-\n' "$f" "$src" >>"$tmp/captures"
done

# results.tsv: label, expression number, error or "", accepted ranges, note.
: >"$tmp/results.tsv"
: >"$tmp/captures.tsv"
c=0
while IFS=$'\t' read -r label src map; do
	d="$tmp/run/$c"
	mkdir -p "$d"
	c=$((c + 1))
	echo "recording $label" >&2
	seq 0 $((n - 1)) | xargs -P 16 -I{} sh -c \
		'rc=0; tcpdump -n -r "$1" -F "$2/{}" -w "$3/{}.pcap" 2>"$3/{}.err" || rc=$?; echo $rc >"$3/{}.rc"' \
		_ "$src" "$tmp/expr" "$d"
	rm -f "$d"/all.pcap
	tcpdump -n -r "$src" -w "$d/all.pcap" 2>"$d/all.err" || true
	files=()
	for ((i = 0; i < n; i++)); do
		[[ -s $d/$i.pcap ]] && files+=("$d/$i.pcap")
	done
	"$gen" match "$src" "$map" "$d/all.pcap" "${files[@]}" >"$d/match.tsv"
	frames=$(awk -F'\t' -v p="$d/all.pcap" '$1 == p { split($2, r, ","); n = 0
		for (i in r) { k = split(r[i], ab, "-"); n += (k == 2 ? ab[2] - ab[1] + 1 : 1) } print n }' "$d/match.tsv")
	stop=$(grep 'pcap_loop:' "$d/all.err" | sed 's/^tcpdump: //' | tr '\t' ' ' || true)
	printf '%s\t%s\t%s\n' "$label" "$frames" "$stop" >>"$tmp/captures.tsv"
	for ((i = 0; i < n; i++)); do
		rc=$(cat "$d/$i.rc")
		err="" note="" acc=""
		if [[ $rc -ne 0 ]] && ! grep -q 'pcap_loop:' "$d/$i.err"; then
			err=$(grep -v -e '^reading from file' -e '^Warning:' "$d/$i.err" | sed 's/^tcpdump: //' | head -1 | tr '\t' ' ')
			[[ -n $err ]] || err="tcpdump exited with status $rc"
		fi
		if [[ $err == "expression rejects all packets" ]]; then
			note="tcpdump: $err"
			err=""
		fi
		if [[ -z $err ]]; then
			acc=$(awk -F'\t' -v p="$d/$i.pcap" '$1 == p { print $2 }' "$d/match.tsv")
		fi
		printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$i" "$err" "$acc" "$note" >>"$tmp/results.tsv"
	done
done <"$tmp/captures"

version=$(tcpdump --version 2>&1 | head -2 | paste -sd ' ')
jq -n --arg v "$version" --rawfile exprs "$here/expressions.txt" \
	--rawfile caps "$tmp/captures.tsv" --rawfile res "$tmp/results.tsv" '
	($exprs | rtrimstr("\n") | split("\n")) as $e
	| {
		tcpdump: $v,
		captures: [$caps | rtrimstr("\n") | split("\n")[] | split("\t")
			| {file: .[0], frames: (.[1] | tonumber)} + (if .[2] != "" then {stop: .[2]} else {} end)],
		results: [$res | rtrimstr("\n") | split("\n")[] | split("\t")
			| {expr: $e[.[1] | tonumber], file: .[0]}
			+ (if .[2] != "" then {error: .[2]} else {accepts: .[3]} end)
			+ (if .[4] != "" then {note: .[4]} else {} end)]
	}' >"$here/tcpdump_accepts.json"
echo "wrote $here/tcpdump_accepts.json" >&2
