"""A minimal SMTP server with STARTTLS for record_starttls_keys.sh: one
connection on 127.0.0.1:PORT (argv[1]), cert.pem/key.pem from the working
directory; it accepts one message and discards it. Python 3 stdlib only."""
import socket
import ssl
import sys

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("cert.pem", "key.pem")
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1])))
ls.listen(1)
ls.settimeout(20)
c, _ = ls.accept()
c.settimeout(10)
f = c.makefile("rwb")


def send(s):
    f.write(s.encode())
    f.flush()


send("220 sockscope.test ESMTP\r\n")
tls = False
while True:
    line = f.readline()
    if not line:
        break
    cmd = line.strip().upper()
    if cmd.startswith(b"EHLO"):
        send("250-sockscope.test\r\n250-PIPELINING\r\n" + ("" if tls else "250-STARTTLS\r\n") + "250 8BITMIME\r\n")
    elif cmd == b"STARTTLS" and not tls:
        send("220 2.0.0 Ready to start TLS\r\n")
        c = ctx.wrap_socket(c, server_side=True)
        f = c.makefile("rwb")
        tls = True
    elif cmd.startswith(b"MAIL") or cmd.startswith(b"RCPT"):
        send("250 2.1.0 OK\r\n")
    elif cmd == b"DATA":
        send("354 End data with <CR><LF>.<CR><LF>\r\n")
        while f.readline() not in (b".\r\n", b""):
            pass
        send("250 2.0.0 OK queued\r\n")
    elif cmd == b"QUIT":
        send("221 2.0.0 Bye\r\n")
        break
    else:
        send("502 5.5.2 not implemented\r\n")
c.close()
