"""Real programs for the sockets tests (cmd/sockets_linux_test.go).

  peer.py server PORT BACKLOG MODE   listen on 127.0.0.1:PORT and
      read      accept every client and read what it sends
      close     accept every client and close at once (the server's FIN)
      noread    accept every client and never read
      noaccept  never accept
  peer.py client PORT N BYTES       open N connections, send BYTES on each,
                                    and hold them open, never closing
  peer.py churn PORT N              open and close N connections, one by one
  peer.py flood PORT N              start N connects at once (non-blocking)
                                    and hold them
  peer.py udp PORT N                bind UDP 0.0.0.0:PORT, send itself N
                                    datagrams of 100 B and never read them

Each prints one line ("listening PID", "connected PID N") when ready and exits by
itself after 60 s, so a test that dies leaves nothing running for long.
"""
import os
import select
import signal
import socket
import sys
import time

signal.alarm(60)
role = sys.argv[1]
if role == "server":
    port, backlog, mode = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mode == "noread":
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    ls.bind(("127.0.0.1", port))
    ls.listen(backlog)
    print("listening", os.getpid(), flush=True)
    if mode == "noaccept":
        time.sleep(60)
    conns = []
    while True:
        r, _, _ = select.select([ls] + (conns if mode == "read" else []), [], [], 1)
        for s in r:
            if s is ls:
                c, _ = ls.accept()
                if mode == "close":
                    c.close()
                else:
                    conns.append(c)
            elif not s.recv(65536):
                s.close()  # the client closed: so does the server
                conns.remove(s)
elif role == "churn":
    port, n = int(sys.argv[2]), int(sys.argv[3])
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.close()  # the client closes first: its end lingers in TIME_WAIT
    print("churned", os.getpid(), n, flush=True)
    time.sleep(60)
elif role == "flood":
    port, n = int(sys.argv[2]), int(sys.argv[3])
    held = []
    for i in range(n):
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.setblocking(False)
        c.connect_ex(("127.0.0.1", port))
        held.append(c)
    time.sleep(0.5)
    print("connected", os.getpid(), len(held), flush=True)
    time.sleep(60)
elif role == "udp":
    port, n = int(sys.argv[2]), int(sys.argv[3])
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("0.0.0.0", port))
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(n):
        tx.sendto(b"d" * 100, ("127.0.0.1", port))
    print("sent", os.getpid(), n, flush=True)
    time.sleep(60)
else:
    port, n, nbytes = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    held = []
    for i in range(n):
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        if nbytes:
            c.setblocking(False)
            data = b"x" * nbytes
            sent = 0
            deadline = time.time() + 5
            while sent < nbytes and time.time() < deadline:
                try:
                    sent += c.send(data[sent:])
                except BlockingIOError:
                    time.sleep(0.01)
        held.append(c)
    print("connected", os.getpid(), len(held), flush=True)
    time.sleep(60)
