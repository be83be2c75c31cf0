#!/usr/bin/env bash
# Records grpc_python_unary_stream.pcap: a Python grpcio server and client
# (Debian's python3-grpcio, C-core, h2c without TLS) on the loopback of a
# private network namespace (unshare -n), captured with tcpdump. Both
# announce SETTINGS_MAX_FRAME_SIZE 16384 (C-core's own default is 4 MiB, so
# without it a 40 KB message fits one DATA frame). Raw bytes are the
# messages (no protobuf code generation), on one channel:
#   /sockscope.Echo/Unary       a 12-byte request, its echo
#   /sockscope.Echo/Unary       a 40,000-byte request (spans DATA frames), its echo
#   /sockscope.Echo/Fail        answered with status NOT_FOUND in the trailers
#   /sockscope.Echo/Chat        bidirectional stream: 20 small requests sent at
#                               once (several per DATA frame), one reply each
#   /sockscope.Echo/Download    server stream: 3 replies of 1, 20,000 and 5 bytes
# Then grpc_go_unary_stream.pcap: the same calls by grpc-go (grpcgo/, a
# module of its own so sockscope does not depend on grpc), whose 16 KiB DATA
# frames split the 40,000- and 20,000-byte messages. And
# grpc_go_tls_keylog.pcap: the same grpc-go calls over TLS 1.3 (ALPN h2, a
# throwaway self-signed certificate), with the client's key log in
# ../keys/grpc_go_tls_keylog.keys. RECORD=tls records only that one.
# Needs root, Go, tcpdump and python3-grpcio (Debian's /usr/bin/python3). Then
# run record_tshark.sh and record_grpc_tshark.sh on it.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); chmod 755 "$work"; trap 'rm -rf "$work"' EXIT
cd "$work"
cat > server.py <<'PY'
import grpc, time
from concurrent import futures
def unary(req, ctx): return b"echo:" + req
def fail(req, ctx): ctx.abort(grpc.StatusCode.NOT_FOUND, "no such thing")
def chat(it, ctx):
    for r in it: yield b"re:" + r
def download(req, ctx):
    for n in (1, 20000, 5): yield b"d" * n
h = grpc.method_handlers_generic_handler("sockscope.Echo", {
    "Unary": grpc.unary_unary_rpc_method_handler(unary),
    "Fail": grpc.unary_unary_rpc_method_handler(fail),
    "Chat": grpc.stream_stream_rpc_method_handler(chat),
    "Download": grpc.unary_stream_rpc_method_handler(download),
})
s = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.http2.max_frame_size", 16384)])
s.add_generic_rpc_handlers((h,))
s.add_insecure_port("127.0.0.1:50051")
s.start()
time.sleep(30)
PY
cat > client.py <<'PY'
import grpc
ch = grpc.insecure_channel("127.0.0.1:50051", options=[("grpc.http2.max_frame_size", 16384)])
grpc.channel_ready_future(ch).result(timeout=10)
unary = ch.unary_unary("/sockscope.Echo/Unary")
print(len(unary(b"hello framer", timeout=5)))
print(len(unary(b"x" * 40000, timeout=5)))
try:
    ch.unary_unary("/sockscope.Echo/Fail")(b"?", timeout=5)
except grpc.RpcError as e:
    print(e.code())
print(sum(1 for _ in ch.stream_stream("/sockscope.Echo/Chat")(iter([b"m%02d" % i for i in range(20)]), timeout=5)))
print([len(r) for r in ch.unary_stream("/sockscope.Echo/Download")(b"go", timeout=5)])
ch.close()
PY
(cd "$out/grpcgo" && go build -o "$work/grpcgo" .)
cat > inner.sh <<'INNER'
set -u
ip link set lo up
if [ "$RECORD" != tls ]; then
/usr/bin/python3 server.py & SRV=$!
sleep 2
tcpdump -i lo -s 0 -U -w "$OUT/grpc_python_unary_stream.pcap" 'tcp port 50051' 2>/dev/null & TP=$!
sleep 1
timeout 20 /usr/bin/python3 client.py
sleep 1; kill $TP; wait $TP 2>/dev/null || true
kill $SRV; wait $SRV 2>/dev/null || true
tcpdump -i lo -s 0 -U -w "$OUT/grpc_go_unary_stream.pcap" 'tcp port 50052' 2>/dev/null & TP=$!
sleep 1
timeout 20 ./grpcgo
sleep 1; kill $TP; wait $TP 2>/dev/null || true
fi
tcpdump -i lo -s 0 -U -w "$OUT/grpc_go_tls_keylog.pcap" 'tcp port 50053' 2>/dev/null & TP=$!
sleep 1
timeout 20 ./grpcgo -tls "$OUT/../keys/grpc_go_tls_keylog.keys"
sleep 1; kill $TP; wait $TP 2>/dev/null || true
INNER
OUT=$out RECORD=${RECORD:-all} timeout 60 unshare -n bash inner.sh
ls -l "$out"/grpc_*.pcap "$out"/../keys/grpc_go_tls_keylog.keys
