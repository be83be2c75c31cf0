"""A PostgreSQL client for record_pg_ssl_keys.sh: SSLRequest, then TLS
(Python's ssl, secrets written to the key log argv[3]), a StartupMessage
for user postgres (trust auth), one simple Query (argv[4]) and Terminate,
to argv[1]:argv[2]. Python 3 stdlib only."""
import socket
import ssl
import struct
import sys

host, port, keylog, query = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.create_connection((host, port), timeout=10)
s.sendall(struct.pack("!II", 8, 80877103))  # SSLRequest
if s.recv(1) != b"S":
    sys.exit("server refused SSL")
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.keylog_filename = keylog
t = ctx.wrap_socket(s)


def msg(typ, body):
    return typ + struct.pack("!I", len(body) + 4) + body


def until_ready():
    buf = b""
    while True:
        while len(buf) >= 5:
            n = struct.unpack("!I", buf[1:5])[0]
            if len(buf) < 1 + n:
                break
            typ, buf = buf[:1], buf[1 + n:]
            if typ == b"Z":
                return
            if typ == b"E":
                sys.exit("error from the server")
        b = t.recv(65536)
        if not b:
            sys.exit("connection closed")
        buf += b


params = b"user\0postgres\0database\0postgres\0\0"
t.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
until_ready()
t.sendall(msg(b"Q", query.encode() + b"\0"))
until_ready()
t.sendall(msg(b"X", b""))
t.close()
