#!/usr/bin/env bash
# extract_b.sh writes the reassembled bytes of real captures into the decoder
# fixture folders, so the tls/dns/resp/h2/detect tests run without tshark.
#
# Usage (from anywhere; needs tshark, xxd, gzip):
#   decode/testdata/extract_b.sh [CORPUS_DIR]     # default: testdata/corpus of the module
#
# For every TCP stream N of a capture it writes, via `tshark -q -z follow,tcp,raw,N`
# (client chunks flush left, server chunks indented by a tab):
#   <folder>/<capture>.<N>.c2s.bin   bytes the client sent (the side that opened the stream)
#   <folder>/<capture>.<N>.s2c.bin   bytes the server sent
# For UDP captures it writes one file per datagram, from `tshark -T fields -e udp.payload`:
#   <folder>/<capture>.<N>.<c2s|s2c>.<K>.bin   K-th datagram (0-based) of udp.stream N in
#                                              that direction; c2s = source of the flow's first datagram
# Files for detect/ are cut to their first 512 bytes (Detect only looks at the start).
# <capture> is the file name without .pcap/.pcapng/.gz. Gzipped captures are
# unpacked into a temporary directory first. Output is deterministic: rerun after
# the corpus changes and review the diff.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
corpus=${1:-"$here/../../testdata/corpus"}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# capture-name-prefix  folder  kind(tcp|udp)  max-bytes(0 = all)
jobs=(
	"08_redis_benchmark_pipeline_P16 resp tcp 0"
	"11_tls13_curl_openssl_sni tls tcp 0"
	"12_tls12_curl_openssl_sni tls tcp 0"
	"13_dns_udp_dnsmasq_sll2 dns udp 0"
	"14_dns_tcp_keepopen_u16be dns tcp 0"
	"19_h2c_nghttp h2 tcp 0"
	"04_http11_keepalive_curl detect tcp 512"
	"05_http11_pipelined_10req detect tcp 512"
	"18_websocket_echo detect tcp 512"
)

find_capture() {
	local f
	for f in "$corpus/$1".pcap "$corpus/$1".pcapng "$corpus/$1".pcap.gz "$corpus/$1".pcapng.gz; do
		[ -e "$f" ] || continue
		case $f in
		*.gz)
			local out="$tmp/$(basename "${f%.gz}")"
			gzip -dc "$f" >"$out"
			echo "$out"
			;;
		*) echo "$f" ;;
		esac
		return 0
	done
	echo "extract_b.sh: no capture $1 in $corpus" >&2
	return 1
}

# cut_to FILE MAX truncates FILE to MAX bytes when MAX > 0.
cut_to() {
	if [ "$2" -gt 0 ] && [ "$(stat -c %s "$1")" -gt "$2" ]; then
		head -c "$2" "$1" >"$1.tmp" && mv "$1.tmp" "$1"
	fi
}

for job in "${jobs[@]}"; do
	read -r name folder kind max <<<"$job"
	pcap=$(find_capture "$name")
	dir="$here/$folder"
	mkdir -p "$dir"
	if [ "$kind" = tcp ]; then
		for s in $(tshark -r "$pcap" -T fields -e tcp.stream 2>/dev/null | sort -un); do
			raw=$(tshark -r "$pcap" -q -z "follow,tcp,raw,$s" 2>/dev/null)
			# Data lines are hex only; server lines start with a tab.
			grep -E '^[0-9a-f]+$' <<<"$raw" | xxd -r -p >"$dir/$name.$s.c2s.bin" || true
			grep -E $'^\t[0-9a-f]+$' <<<"$raw" | tr -d '\t' | xxd -r -p >"$dir/$name.$s.s2c.bin" || true
			cut_to "$dir/$name.$s.c2s.bin" "$max"
			cut_to "$dir/$name.$s.s2c.bin" "$max"
		done
	else
		tshark -r "$pcap" -T fields -E separator=' ' -e udp.stream -e ip.src -e udp.srcport -e udp.payload 2>/dev/null |
			awk '
				!($1 in client) { client[$1] = $2 ":" $3 }
				{
					d = (client[$1] == $2 ":" $3) ? "c2s" : "s2c"
					k = n[$1 "." d]++
					print $1, d, k, $4
				}' |
			while read -r s d k hex; do
				printf '%s' "$hex" | xxd -r -p >"$dir/$name.$s.$d.$k.bin"
			done
	fi
done
