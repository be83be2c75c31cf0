#!/usr/bin/env bash
# extract.sh saves the reassembled bytes of each direction of TCP streams in a
# capture as test fixtures for the decode package, so the tests need neither
# tshark nor the pcaps:
#
#   decode/testdata/extract.sh CAPTURE DESTDIR STREAM...
#   decode/testdata/extract.sh testdata/corpus/04_http11_keepalive_curl.pcap decode/testdata/http1 0
#
# For every STREAM (Wireshark's tcp.stream) it writes DESTDIR/<capture>.<stream>.c2s.bin
# and DESTDIR/<capture>.<stream>.s2c.bin, where <capture> is the file name
# without .gz and without the pcap/pcapng extension. Gzipped captures are
# gunzipped to a temporary directory first. The client is tshark's "Node 0"
# (the side that sent the first packet); in `follow,tcp,raw` output the lines
# of Node 1 (the server) are indented by a tab. Files over 300 KB are skipped
# (kept out of the repository).
#
# Fixtures committed here were made with (run from the repository root):
#   for s in 04_http11_keepalive_curl.pcap 05_http11_pipelined_10req.pcapng \
#            17_slow_sender_1byte_per_s.pcap 20_ipv6_loopback_http_nanosec.pcap; do
#     decode/testdata/extract.sh testdata/corpus/$s decode/testdata/http1 0; done
#   decode/testdata/extract.sh testdata/corpus/06_http10_50_short_conns_ab.pcap.gz decode/testdata/http1 0 17 49
#   decode/testdata/extract.sh testdata/corpus/18_websocket_echo.pcap.gz decode/testdata/ws 0
#   decode/testdata/extract.sh testdata/corpus/09_lines_odd_chunks_nodelay.pcap decode/testdata/generic 0
#   decode/testdata/extract.sh testdata/corpus/10_lenprefix_u32be_split_coalesced.pcap.gz decode/testdata/generic 0
#   decode/testdata/extract.sh testdata/corpus/14_dns_tcp_keepopen_u16be.pcap decode/testdata/generic 0
#   decode/testdata/extract.sh testdata/captures/pg_psql_query_error.pcap decode/testdata/pgsql 0
#   decode/testdata/extract.sh testdata/captures/pg_pgbench_extended.pcap decode/testdata/pgsql 1
#   decode/testdata/extract.sh testdata/captures/mysql_query_error.pcap decode/testdata/mysql 0
#   decode/testdata/extract.sh testdata/captures/mqtt_v311_v5.pcap decode/testdata/mqtt 0
#   decode/testdata/extract.sh testdata/captures/ssh_exec.pcap decode/testdata/ssh 0
#   decode/testdata/extract.sh testdata/captures/memcached_text_binary.pcap decode/testdata/memcached 1 2 3
#   decode/testdata/extract.sh testdata/captures/smtp_curl_python.pcap decode/testdata/textproto 0
#   decode/testdata/extract.sh testdata/captures/ftp_curl_pyftpdlib.pcap decode/testdata/textproto 2
#   decode/testdata/extract.sh testdata/captures/pop3_dovecot_stls.pcap decode/testdata/textproto 1
#   decode/testdata/extract.sh testdata/captures/imap_dovecot_starttls.pcap decode/testdata/textproto 0
#   decode/testdata/extract.sh testdata/captures/kafka_franz_kfake.pcap decode/testdata/kafka 0 1 2 3
#   decode/testdata/extract.sh testdata/captures/nats_go_pub_sub_request.pcap decode/testdata/nats 0
#   decode/testdata/extract.sh testdata/captures/amqp_pika_rabbitmq.pcap decode/testdata/amqp 0
#   decode/testdata/extract.sh testdata/captures/grpc_go_unary_stream.pcap decode/testdata/grpc 0
#   decode/testdata/extract.sh testdata/captures/grpc_python_unary_stream.pcap decode/testdata/grpc 0
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 CAPTURE DESTDIR STREAM..." >&2
	exit 2
fi
capture=$1 dest=$2
shift 2
command -v tshark >/dev/null || { echo "extract.sh: tshark not found" >&2; exit 1; }
mkdir -p "$dest"

base=$(basename "$capture")
base=${base%.gz}
base=${base%.pcapng}
base=${base%.pcap}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ $capture == *.gz ]]; then
	gunzip -c "$capture" >"$tmp/capture"
	capture=$tmp/capture
fi

limit=$((300 * 1024))
for stream in "$@"; do
	tshark -r "$capture" -q -z "follow,tcp,raw,$stream" 2>/dev/null >"$tmp/follow"
	# Hex lines only: the header lines (Follow:, Filter:, Node n:) and the
	# ===== rulers contain characters that are not hex digits.
	grep -E $'^[0-9a-f]+$' "$tmp/follow" | xxd -r -p >"$tmp/c2s"
	grep -E $'^\t[0-9a-f]+$' "$tmp/follow" | tr -d '\t' | xxd -r -p >"$tmp/s2c"
	for dir in c2s s2c; do
		out=$dest/$base.$stream.$dir.bin
		size=$(stat -c %s "$tmp/$dir")
		if [ "$size" -gt "$limit" ]; then
			echo "skip $out: $size bytes > $limit" >&2
			continue
		fi
		cp "$tmp/$dir" "$out"
		echo "$out: $size bytes"
	done
done
