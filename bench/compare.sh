#!/usr/bin/env bash
# compare.sh - time sockscope against the gopacket decode floor, tshark,
# tcptrace and tcpflow on one capture and print a markdown table.
#
#   bash bench/compare.sh --size 1GB            # generate /tmp/sockscope-bench-1GB-s1.pcap, then compare
#   bash bench/compare.sh /tmp/some.pcap        # compare on an existing capture
#   bash bench/compare.sh --size 1GB --runs 3 --no-tshark
#
# Options:
#   --size S        generate a mix capture of ~S (bench/gen -size S) unless FILE is given
#   --mode M        generator mode: mix (default) or scan
#   --flows N       scan mode: number of flows (default 1000000)
#   --seed N        generator seed (default 1)
#   -o PATH         where to write the generated capture (default /tmp/sockscope-bench-<size|flows>-s<seed>.pcap)
#   --regen         regenerate even if PATH and its .summary sidecar already exist
#   --runs N        run every tool N times and report the median wall time (default 1)
#   --no-tshark     skip tshark (it needs ~35 s per GB)
#   --stream N      tcp stream to use for the follow row (default: largest s2c stream)
#
# Each tool runs under /usr/bin/time -f '%e %U %S %M' against a warm page
# cache. A tool that is missing or exits non-zero gets a note instead of a row;
# the table is always printed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FILE="" SIZE="" MODE=mix FLOWS=1000000 SEED=1 OUT="" REGEN=0 RUNS=1 TSHARK=1 STREAM=""

die() { echo "compare.sh: $*" >&2; exit 2; }
log() { echo "# $*" >&2; }

while [[ $# -gt 0 ]]; do
	case "$1" in
	--size) SIZE=${2:?}; shift 2 ;;
	--mode) MODE=${2:?}; shift 2 ;;
	--flows) FLOWS=${2:?}; shift 2 ;;
	--seed) SEED=${2:?}; shift 2 ;;
	-o) OUT=${2:?}; shift 2 ;;
	--regen) REGEN=1; shift ;;
	--runs) RUNS=${2:?}; shift 2 ;;
	--no-tshark) TSHARK=0; shift ;;
	--stream) STREAM=${2:?}; shift 2 ;;
	-h|--help) sed -n '2,24p' "$0"; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) [[ -z "$FILE" ]] || die "only one capture file"; FILE=$1; shift ;;
	esac
done
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 && "$RUNS" -le 50 ]] || die "--runs must be 1..50"
[[ -n "$FILE" || -n "$SIZE" || "$MODE" == scan ]] || die "give a capture file or --size S (see --help)"

WORK=$(mktemp -d /tmp/sockscope-bench.XXXXXX)
SHM=""
cleanup() {
	rm -rf "$WORK"
	if [[ -n "$SHM" ]]; then rm -rf "$SHM"; fi
}
trap cleanup EXIT

NOTES=()
note() { NOTES+=("$*"); log "NOTE: $*"; }

# ---------------------------------------------------------------- tooling
if [[ ! -x /usr/bin/time ]]; then
	log "installing GNU time (Debian package 'time')"
	apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y time >/dev/null 2>&1; } ||
		die "/usr/bin/time is missing and could not be installed"
fi

cd "$REPO"
log "building bench/gen and bench/floor"
go build -o "$WORK/gen" ./bench/gen
go build -o "$WORK/floor" ./bench/floor

SS=""
if [[ -d cmd/sockscope ]] && [[ "$(go list -f '{{.Name}}' ./cmd/sockscope 2>/dev/null)" == main ]]; then
	SSPKG=./cmd/sockscope
elif [[ "$(go list -f '{{.Name}}' . 2>/dev/null)" == main ]]; then
	SSPKG=.
else
	SSPKG=""
fi
if [[ -n "$SSPKG" ]]; then
	log "building sockscope from $SSPKG"
	if go build -o /tmp/sockscope-bench "$SSPKG" 2>"$WORK/build.err"; then
		SS=/tmp/sockscope-bench
	else
		note "sockscope ($SSPKG) does not build: $(head -c 300 "$WORK/build.err" | tr '\n' ' ')"
	fi
else
	note "no sockscope main package yet (neither ./cmd/sockscope nor the repo root); sockscope rows skipped"
fi

# ---------------------------------------------------------------- capture
SUMMARY=""
if [[ -z "$FILE" ]]; then
	if [[ "$MODE" == scan ]]; then
		FILE=${OUT:-/tmp/sockscope-bench-scan${FLOWS}-s${SEED}.pcap}
		GENARGS=(-mode scan -flows "$FLOWS" -seed "$SEED")
	else
		FILE=${OUT:-/tmp/sockscope-bench-${SIZE}-s${SEED}.pcap}
		GENARGS=(-mode mix -size "$SIZE" -seed "$SEED")
	fi
	if [[ $REGEN == 0 && -s "$FILE" && -s "$FILE.summary" ]] && grep -q "seed=$SEED " "$FILE.summary"; then
		log "reusing $FILE ($(cat "$FILE.summary"))"
	else
		log "generating $FILE: gen ${GENARGS[*]}"
		"$WORK/gen" "${GENARGS[@]}" -o "$FILE" 2>"$FILE.summary.tmp"
		mv "$FILE.summary.tmp" "$FILE.summary"
		log "$(cat "$FILE.summary")"
	fi
fi
[[ -r "$FILE" ]] || die "cannot read $FILE"
if [[ -s "$FILE.summary" ]]; then SUMMARY=$(cat "$FILE.summary"); fi
sumfield() { grep -o "\b$1=[0-9]*" <<<"$SUMMARY" | head -1 | cut -d= -f2; }

FILE_BYTES=$(stat -c %s "$FILE")
PACKETS=$(sumfield packets || true)
if [[ -z "$PACKETS" ]] && command -v capinfos >/dev/null; then
	PACKETS=$(capinfos -M -c "$FILE" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}' | tr -d ' ' || true)
fi
if [[ -z "$STREAM" ]]; then STREAM=$(sumfield largest_s2c_stream || true); fi
[[ "$STREAM" =~ ^[0-9]+$ ]] || STREAM=""

# Warm the page cache so every tool sees the same (cached) input.
cat "$FILE" >/dev/null
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- measuring
declare -A WALL CPU RSS
ORDER=()

# measure NAME COMMAND: run COMMAND (a bash string, exec'd so /usr/bin/time
# measures the tool itself) RUNS times; keep the run with the median wall.
measure() {
	local name=$1 cmd=$2 i rc results=() line
	for ((i = 1; i <= RUNS; i++)); do
		log "run $i/$RUNS: $name"
		rc=0
		/usr/bin/time -f '%e %U %S %M' -o "$WORK/time" bash -c "exec $cmd" 2>"$WORK/stderr" || rc=$?
		if [[ -n "${PRE_RUN_CLEAN:-}" ]]; then eval "$PRE_RUN_CLEAN"; fi
		if [[ $rc -ne 0 ]]; then
			note "$name: exit status $rc, skipped ($(grep -v '^Command exited' "$WORK/stderr" | head -c 300 | tr '\n' ' '))"
			return 1
		fi
		results+=("$(tail -1 "$WORK/time")")
	done
	line=$(printf '%s\n' "${results[@]}" | sort -n -k1,1 | sed -n "$(((RUNS + 1) / 2))p")
	read -r w u s m <<<"$line"
	WALL[$name]=$w
	CPU[$name]=$(awk -v u="$u" -v s="$s" 'BEGIN{printf "%.2f", u+s}')
	RSS[$name]=$(awk -v m="$m" 'BEGIN{printf "%.0f", m/1024}')
	ORDER+=("$name")
	log "$name: wall ${w}s cpu ${CPU[$name]}s rss ${RSS[$name]}MB"
}

have() { command -v "$1" >/dev/null 2>&1; }
q() { printf '%q' "$1"; }
F=$(q "$FILE")

measure "floor (gopacket decode only)" "$WORK/floor $F >$WORK/floor.out" || true
[[ -s "$WORK/floor.out" ]] && log "floor: $(cat "$WORK/floor.out")"

if [[ -n "$SS" ]]; then
	measure "sockscope read --format json" "$SS read $F --format json >/dev/null" || true

	if [[ -z "$STREAM" ]]; then
		log "finding the largest s2c stream from sockscope read --format json"
		if "$SS" read "$FILE" --format json >"$WORK/read.json" 2>/dev/null; then
			STREAM=$(python3 - "$WORK/read.json" <<-'PY' || true
				import json, sys
				text = open(sys.argv[1]).read()
				try:
				    docs = [json.loads(text)]
				except ValueError:
				    docs = [json.loads(l) for l in text.splitlines() if l.strip().startswith(("{", "["))]
				best = None
				def walk(o):
				    global best
				    if isinstance(o, list):
				        for x in o: walk(x)
				    elif isinstance(o, dict):
				        if "bytes_s2c" in o:
				            proto = str(o.get("proto", o.get("protocol", o.get("transport", "tcp")))).lower()
				            sid = None
				            for k in ("stream", "stream_id", "tcp_stream", "id", "index"):
				                v = o.get(k)
				                if isinstance(v, int): sid = v; break
				                if isinstance(v, str) and v.split("/")[-1].isdigit(): sid = int(v.split("/")[-1]); break
				            if sid is not None and proto.startswith("tcp") and (best is None or o["bytes_s2c"] > best[0]):
				                best = (o["bytes_s2c"], sid)
				        for v in o.values(): walk(v)
				for d in docs: walk(d)
				if best: print(best[1])
			PY
			)
		fi
	fi
	if [[ -n "$STREAM" ]]; then
		measure "sockscope follow tcp/$STREAM --dir s2c" "$SS follow $F tcp/$STREAM --format raw --dir s2c >/dev/null" || true
	else
		note "sockscope follow: could not determine the largest stream; row skipped"
	fi

	measure "sockscope read --stats --format json" "$SS read $F --stats --format json >/dev/null" || true
else
	note "sockscope rows skipped (no binary)"
fi

if [[ $TSHARK == 1 ]]; then
	if have tshark; then
		measure "tshark -q -z conv,tcp" "tshark -q -z conv,tcp -r $F >/dev/null" || true
	else note "tshark not installed"; fi
else
	note "tshark skipped (--no-tshark)"
fi

if have tcptrace; then
	measure "tcptrace -n" "tcptrace -n $F >/dev/null" || true
else note "tcptrace not installed"; fi

if have tcpflow; then
	SHM=$(mktemp -d /dev/shm/sockscope-bench-tcpflow.XXXXXX)
	PRE_RUN_CLEAN="rm -rf $(q "$SHM") && mkdir -p $(q "$SHM")"
	measure "tcpflow -r (to tmpfs)" "tcpflow -r $F -o $(q "$SHM") >/dev/null" || true
	PRE_RUN_CLEAN=""
	rm -rf "$SHM"; SHM=""
else note "tcpflow not installed"; fi

# ---------------------------------------------------------------- report
FLOORK="floor (gopacket decode only)"
TSK="tshark -q -z conv,tcp"
echo
echo "## sockscope benchmark"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
echo "- nproc: $(nproc); CPU: $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); RAM: $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "- load average before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine inflates wall times)"
echo "- capture: $FILE, $(awk -v b="$FILE_BYTES" 'BEGIN{printf "%.1f MB (%d bytes)", b/1e6, b}'), ${PACKETS:-?} packets"
if [[ -n "$SUMMARY" ]]; then echo "- generator: ${SUMMARY#gen: }"; fi
if [[ -n "$STREAM" ]]; then echo "- follow stream: tcp/$STREAM"; fi
echo "- runs per tool: $RUNS (median wall)"
echo
echo "| tool | wall s | CPU s (user+sys) | peak RSS MB | wall / floor | tshark wall / wall |"
echo "|---|---:|---:|---:|---:|---:|"
for name in "${ORDER[@]}"; do
	w=${WALL[$name]}
	rf="n/a"; rt="n/a"
	if [[ -n "${WALL[$FLOORK]:-}" ]]; then rf=$(awk -v a="$w" -v b="${WALL[$FLOORK]}" 'BEGIN{ if (b > 0) printf "%.1fx", a/b; else print "n/a"}'); fi
	if [[ -n "${WALL[$TSK]:-}" ]]; then rt=$(awk -v a="${WALL[$TSK]}" -v b="$w" 'BEGIN{ if (b > 0) printf "%.1fx", a/b; else print "n/a"}'); fi
	echo "| \`$name\` | $w | ${CPU[$name]} | ${RSS[$name]} | $rf | $rt |"
done
if [[ ${#NOTES[@]} -gt 0 ]]; then
	echo
	echo "Notes:"
	for n in "${NOTES[@]}"; do echo "- $n"; done
fi
