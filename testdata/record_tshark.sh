#!/usr/bin/env bash
# Re-records tshark's Follow TCP Stream answers for every capture in corpus/
# and captures/ into tshark/<capture>.json (format described in README.md).
# Needs tshark. Arguments (paths relative to testdata/) limit it to those files.
set -euo pipefail
cd "$(dirname "$0")"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(corpus/*.pcap* captures/*.pcap*)
for f in "${files[@]}"; do
  base=$(basename "$f" .gz)
  in="$f"
  if [[ $f == *.gz ]]; then gunzip -c "$f" > "$tmp/$base"; in="$tmp/$base"; fi
  n=$(tshark -n -r "$in" -T fields -e tcp.stream 2>/dev/null | sort -n | uniq | grep -c . || true)
  u=$(tshark -n -r "$in" -T fields -e udp.stream 2>/dev/null | sort -n | uniq | grep -c . || true)
  {
    printf '{"file":"%s","tcp_streams":%d,"udp_streams":%d,"tcp":[' "$base" "$n" "$u"
    for ((i = 0; i < n; i++)); do
      [ $i -gt 0 ] && printf ','
      tshark -n -r "$in" -q -z "follow,tcp,yaml,$i" 2>/dev/null | python3 -c '
import sys, re, base64, hashlib, json
peers, data = {}, {0: b"", 1: b""}
chunks = {0: [], 1: []}
cur = None; frame = None; doc = sys.stdin.read()
for m in re.finditer(r"- peer: (\d+)\n\s+host: (\S+)\n\s+port: (\d+)", doc):
    h = m.group(2); peers[int(m.group(1))] = ("[%s]" % h if ":" in h else h) + ":" + m.group(3)
for m in re.finditer(r"- packet: (\d+)\n\s+peer: (\d+)\n(?:\s+index: \d+\n)?\s+timestamp: \S+\n\s+data: !!binary \|\n((?:\s+\S+\n)+)", doc):
    b = base64.b64decode("".join(m.group(3).split()))
    p = int(m.group(2)); data[p] += b; chunks[p].append([int(m.group(1)), len(b)])
sides = [{"endpoint": peers.get(p, ":0"), "bytes": len(data[p]), "sha256": hashlib.sha256(data[p]).hexdigest(), "chunks": chunks[p]} for p in (0, 1)]
print(json.dumps({"id": '$i', "sides": sides}), end="")'
    done
    printf ']}\n'
  } > "tshark/$base.json.new"
  mv "tshark/$base.json.new" "tshark/$base.json"
  echo "recorded $base"
done
