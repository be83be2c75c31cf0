#!/usr/bin/env python3
"""Split `tshark -q -z follow,tls,raw,N` output into the decrypted bytes of each
direction. Usage: tshark_follow.py SERVER_PORT OUT_PREFIX < follow.txt
writes OUT_PREFIX.c2s and OUT_PREFIX.s2c (binary). tshark prints Node 0's data
unindented and Node 1's indented with a tab; Node 0 is whichever endpoint sent
first, so the server port says which node is the server."""
import sys

port, prefix = sys.argv[1], sys.argv[2]
node0_is_server = None
data = {True: bytearray(), False: bytearray()}  # key: line indented?
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("Node 0: "):
        node0_is_server = line.endswith(":" + port)
        continue
    if line.startswith("Node ") or line.startswith("=") or line.startswith("Follow") or line.startswith("Filter") or not line.strip():
        continue
    indented = line.startswith("\t")
    data[indented] += bytes.fromhex(line.strip())
if node0_is_server is None:
    sys.exit("no Node 0 line in tshark output")
server, client = (data[False], data[True]) if node0_is_server else (data[True], data[False])
open(prefix + ".c2s", "wb").write(client)
open(prefix + ".s2c", "wb").write(server)
print(f"{prefix}: c2s {len(client)} B, s2c {len(server)} B")
