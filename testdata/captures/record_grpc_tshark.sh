#!/usr/bin/env bash
# Records tshark's gRPC dissection of the gRPC captures (record_grpc.sh)
# into tshark/<capture>.msgs.tsv: per frame, its TCP stream, source port,
# every gRPC message tshark completed in it (grpc.message_length,
# grpc.compressed_flag), every request :path, and every header name and
# value (for grpc-status in the trailers), each list joined by "|" (header
# values contain commas). Needs tshark (decode-as http2 on the port; the TLS
# capture decrypted with its key log).
set -euo pipefail
cd "$(dirname "$0")/.."
for fp in grpc_python_unary_stream.pcap:50051 grpc_go_unary_stream.pcap:50052; do
  f=${fp%%:*} port=${fp##*:}
  tshark -n -r "captures/$f" -d "tcp.port==$port,http2" -T fields -E header=y -E occurrence=a -E 'aggregator=|' \
    -e frame.number -e tcp.stream -e tcp.srcport -e grpc.message_length -e grpc.compressed_flag \
    -e http2.headers.path -e http2.header.name -e http2.header.value 2>/dev/null > "tshark/$f.msgs.tsv"
  echo "recorded $f.msgs.tsv"
done
# Over TLS: tshark decrypts with the key log and follows ALPN h2.
f=grpc_go_tls_keylog.pcap
tshark -n -r "captures/$f" -o tls.keylog_file:keys/grpc_go_tls_keylog.keys -T fields -E header=y -E occurrence=a -E 'aggregator=|' \
  -e frame.number -e tcp.stream -e tcp.srcport -e grpc.message_length -e grpc.compressed_flag \
  -e http2.headers.path -e http2.header.name -e http2.header.value 2>/dev/null > "tshark/$f.msgs.tsv"
echo "recorded $f.msgs.tsv"
