#!/usr/bin/env python3
"""A userspace tunnel endpoint for record_tunnels.sh.

The kernel the captures were recorded on has no GRE, IPIP, sit, ip6tnl,
Geneve, 802.1Q, MPLS-routing or PPP drivers (only VXLAN), so this program
plays the tunnel driver: it reads the kernel's own inner packets from a
TUN (IP) or TAP (Ethernet) device, adds the tunnel header as the RFCs lay it
out, and sends the result over a raw IP socket (the kernel writes the outer
IP header), a UDP socket (outer IP and UDP from the kernel), or an AF_PACKET
socket on the underlay veth (Ethernet-level encapsulations). The peer strips
the header and writes the inner packet into its own TUN/TAP device. The
traffic inside is real: the kernel's TCP, curl and python3 -m http.server.

usage: tunnel.py MODE DEV LOCAL REMOTE UNDERLAY PEER_MAC SECONDS
"""
import fcntl, os, select, socket, struct, sys, time

mode, dev, local, remote, underlay, peer_mac, seconds = sys.argv[1:8]
deadline = time.time() + float(seconds)

# mode: (transport, device kind, IP protocol / UDP port)
MODES = {
    "ipip": ("ip4", "tun", 4), "sit": ("ip4", "tun", 41), "gre": ("ip4", "tun", 47),
    "ip6gre": ("ip6", "tun", 47), "ip6tnl": ("ip6", "tun", 41), "ip4ip6": ("ip6", "tun", 4),
    "gretap": ("ip4", "tap", 47), "erspan2": ("ip4", "tap", 47), "erspan3": ("ip4", "tap", 47),
    "geneve": ("udp4", "tap", 6081), "gtpu": ("udp4", "tun", 2152), "greudp": ("udp4", "tun", 4754),
    "vlan": ("eth", "tap", 0), "qinq": ("eth", "tap", 0), "mpls": ("eth", "tun", 0),
    "mplspw": ("eth", "tap", 0), "pppoe": ("eth", "tun", 0), "pppoe-qinq": ("eth", "tun", 0),
}
transport, kind, num = MODES[mode]

TUNSETIFF, IFF_TUN, IFF_TAP, IFF_NO_PI = 0x400454CA, 1, 2, 0x1000
tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", dev.encode(), (IFF_TAP if kind == "tap" else IFF_TUN) | IFF_NO_PI))

seq = 0


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ethertype_of(ip):
    return 0x86DD if ip[0] >> 4 == 6 else 0x0800


def encap(inner):
    global seq
    seq += 1
    if mode in ("ipip", "sit", "ip6tnl", "ip4ip6"):
        return inner
    if mode == "gre":  # RFC 2784 checksum + RFC 2890 key 7 and sequence number
        body = struct.pack("!HHHHII", 0xB000, ethertype_of(inner), 0, 0, 7, seq) + inner
        return body[:4] + struct.pack("!H", csum(body)) + body[6:]
    if mode == "ip6gre":
        return struct.pack("!HH", 0, ethertype_of(inner)) + inner
    if mode == "gretap":
        return struct.pack("!HH", 0, 0x6558) + inner
    if mode == "erspan2":  # GRE with sequence number, ERSPAN type II: ver 1, VLAN 0, session 5, index 0
        return struct.pack("!HHI", 0x1000, 0x88BE, seq) + struct.pack("!HHI", 0x1000, 0x1805, 0) + inner
    if mode == "erspan3":  # type III: ver 2, session 6, timestamp, hw ID 1, O flag and an 8-byte platform subheader
        hdr = struct.pack("!HHIHH", 0x2000, 0x0006, int(time.time() * 1e6) & 0xFFFFFFFF, 0, 0x0041)
        return struct.pack("!HHI", 0x1000, 0x22EB, seq) + hdr + struct.pack("!II", 0x0C000000, 0x12345678) + inner
    if mode == "geneve":  # one 4-byte option (class 0x0102, type 0x80), Ethernet, VNI 42
        return struct.pack("!BBHI", 0x02, 0, 0x6558, 42 << 8) + struct.pack("!HBB", 0x0102, 0x80, 1) + b"opt1" + inner
    if mode == "gtpu":  # G-PDU, TEID 0x1234, sequence number, PDU session container extension
        ext = bytes([1, 0x10, 0x09, 0])
        rest = struct.pack("!HBB", seq & 0xFFFF, 0, 0x85) + ext + inner
        return struct.pack("!BBHI", 0x36, 0xFF, len(rest), 0x1234) + rest
    if mode == "greudp":
        return struct.pack("!HH", 0, ethertype_of(inner)) + inner
    mac = bytes.fromhex(peer_mac.replace(":", "")) + my_mac
    if mode == "vlan":
        return inner[:12] + struct.pack("!HH", 0x8100, 100) + inner[12:]
    if mode == "qinq":
        return inner[:12] + struct.pack("!HHHH", 0x88A8, 200, 0x8100, 100) + inner[12:]
    if mode == "mpls":  # two labels: 16004, then 17 with bottom of stack
        return mac + struct.pack("!HII", 0x8847, 16004 << 12 | 64, 17 << 12 | 1 << 8 | 64) + inner
    if mode == "mplspw":  # Ethernet pseudowire, label 100, control word
        return mac + struct.pack("!HII", 0x8847, 100 << 12 | 1 << 8 | 64, seq & 0xFFFF) + inner
    ppp = struct.pack("!H", 0x0057 if inner[0] >> 4 == 6 else 0x0021) + inner
    pppoe = struct.pack("!BBHH", 0x11, 0, 0x1234, len(ppp)) + ppp
    if mode == "pppoe":
        return mac + struct.pack("!H", 0x8864) + pppoe
    return mac + struct.pack("!HHHHH", 0x88A8, 300, 0x8100, 10, 0x8864) + pppoe


def strip_tags(f):
    while len(f) >= 18 and f[12:14] in (b"\x81\x00", b"\x88\xa8"):
        f = f[:12] + f[16:]
    return f


def decap(b):
    if mode in ("ipip", "sit", "ip6tnl", "ip4ip6"):
        return b
    if mode in ("gre", "ip6gre", "gretap", "erspan2", "erspan3", "greudp"):
        flags = struct.unpack("!H", b[:2])[0]
        n = 4 + 4 * bool(flags & 0xC000) + 4 * bool(flags & 0x2000) + 4 * bool(flags & 0x1000)
        if mode == "erspan2":
            n += 8
        if mode == "erspan3":
            n += 12 + (8 if b[n + 11] & 1 else 0)
        return b[n:]
    if mode == "geneve":
        return b[8 + (b[0] & 0x3F) * 4:]
    if mode == "gtpu":
        n = 8
        if b[0] & 7:
            n, nxt = 12, b[11]
            while nxt:
                nxt, n = b[n + b[n] * 4 - 1], n + b[n] * 4
        return b[n:]
    f = strip_tags(b)
    et = f[12:14]
    if mode in ("vlan", "qinq"):
        return f
    if et != (b"\x88\x64" if mode.startswith("pppoe") else b"\x88\x47"):
        return None
    # Ethernet header, then two labels (mpls), a label and the control word
    # (mplspw), or the PPPoE header and the PPP protocol (pppoe): 8 bytes each.
    return f[22:]


if transport == "ip4":
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, num)
elif transport == "ip6":
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, num)
elif transport == "udp4":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((local, num))
else:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.bind((underlay, 0))
my_mac = open("/sys/class/net/%s/address" % underlay).read().strip()
my_mac = bytes.fromhex(my_mac.replace(":", ""))

while time.time() < deadline:
    r, _, _ = select.select([tun, s], [], [], 0.2)
    if tun in r:
        inner = os.read(tun, 65536)
        if transport in ("ip4", "ip6"):
            s.sendto(encap(inner), (remote, 0))
        elif transport == "udp4":
            s.sendto(encap(inner), (remote, num))
        else:
            s.send(encap(inner))
    if s in r:
        if transport == "eth":
            b, addr = s.recvfrom(65536)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
        else:
            b, addr = s.recvfrom(65536)
            if addr[0] != remote:
                continue
        if transport == "ip4":
            b = b[(b[0] & 15) * 4:]
        inner = decap(b)
        if inner:
            try:
                os.write(tun, inner)
            except OSError:  # EIO: our device is not up yet
                pass
