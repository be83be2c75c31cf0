#!/usr/bin/env bash
# Re-records tshark's request/response pairs (HTTP and DNS) for the corpus
# and captures into tshark/pairs.tsv: one line per response tshark paired,
#   file  proto  stream  response_frame  request_frame  time
# where proto is http (tcp.stream; tshark's frame is the response's last,
# http.request_in the request's last, time http.time: request's last frame
# to response's last) or dns (udp.stream or tcp.stream; dns.response_to,
# dns.time), or kafka (kafka.request_frame; the time of the two frames).
# Needs tshark (4.0 was used); TestPairsAgainstTshark reads it.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=tshark/pairs.tsv.new
: > "$out"
for f in corpus/*.pcap* captures/*.pcap*; do
  base=$(basename "$f" .gz)
  in="$f"
  if [[ $f == *.gz ]]; then gunzip -c "$f" > "$tmp/$base"; in="$tmp/$base"; fi
  tshark -n -r "$in" -Y 'http.response && http.request_in' -T fields -e tcp.stream -e frame.number -e http.request_in -e http.time 2>/dev/null |
    awk -v f="$base" -F'\t' '{print f "\thttp\ttcp/" $1 "\t" $2 "\t" $3 "\t" $4}' >> "$out" || true
  tshark -n -r "$in" -Y 'dns.flags.response == 1 && dns.response_to' -T fields -e udp.stream -e tcp.stream -e frame.number -e dns.response_to -e dns.time 2>/dev/null |
    awk -v f="$base" -F'\t' '{s = ($1 != "") ? "udp/" $1 : "tcp/" $2; print f "\tdns\t" s "\t" $3 "\t" $4 "\t" $5}' >> "$out" || true
done
# Kafka (decode-as on the capture's broker port): tshark gives the frames,
# not a time; the time written is that of the response's last frame minus
# the request's last, as for HTTP.
for f in captures/kafka_*.pcap; do
  base=$(basename "$f")
  tshark -n -r "$f" -T fields -e frame.number -e frame.time_epoch 2>/dev/null > "$tmp/times"
  tshark -n -r "$f" -d tcp.port==19092,kafka -Y kafka.request_frame -T fields -e tcp.stream -e frame.number -e kafka.request_frame 2>/dev/null |
    awk -v f="$base" -F'\t' 'NR == FNR { t[$1] = $2; next } { printf "%s\tkafka\ttcp/%s\t%s\t%s\t%.9f\n", f, $1, $2, $3, t[$2] - t[$3] }' "$tmp/times" - >> "$out"
done
mv "$out" tshark/pairs.tsv
wc -l tshark/pairs.tsv
