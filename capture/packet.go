package capture

import (
	"net/netip"
	"strings"
	"time"
)

// LinkType is a pcap LINKTYPE_* value (the numbers in pcap and pcapng headers).
type LinkType uint16

// Link types sockscope decodes.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in the writer's byte order
	LinkEthernet  LinkType = 1   // Ethernet II, with 802.1Q / 802.1ad tags
	LinkPPP       LinkType = 9   // PPP, with or without HDLC address and control
	LinkPPPHDLC   LinkType = 50  // PPP in HDLC-like framing (RFC 1662)
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6 (version nibble decides)
	LinkCHDLC     LinkType = 104 // Cisco HDLC
	LinkIEEE80211 LinkType = 105 // IEEE 802.11 without a radio header
	LinkLoop      LinkType = 108 // OpenBSD loopback: 4-byte address family, network byte order
	LinkSLL       LinkType = 113 // Linux cooked capture v1
	LinkRadiotap  LinkType = 127 // IEEE 802.11 with a radiotap header
	LinkPPI       LinkType = 192 // Per-Packet Information header, then the link type it names
	LinkIPv4      LinkType = 228 // raw IPv4
	LinkIPv6      LinkType = 229 // raw IPv6
	LinkNFLOG     LinkType = 239 // Linux netfilter NFLOG
	LinkSLL2      LinkType = 276 // Linux cooked capture v2
)

// SupportedLinks lists the link types sockscope decodes (Supported), for
// messages that must say what is supported.
var SupportedLinks = []LinkType{LinkNull, LinkEthernet, LinkPPP, LinkPPPHDLC, LinkRaw, LinkCHDLC,
	LinkIEEE80211, LinkLoop, LinkSLL, LinkRadiotap, LinkPPI, LinkIPv4, LinkIPv6, LinkNFLOG, LinkSLL2}

// SupportedList names the supported link types for a user, with their
// numbers: "0 null, 1 ethernet, ...".
func SupportedList() string {
	var b strings.Builder
	for i, l := range SupportedLinks {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(itoa(int(l)) + " " + l.String())
	}
	return b.String()
}

// String returns the name tshark and tcpdump use for the link type.
func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "null"
	case LinkEthernet:
		return "ethernet"
	case LinkPPP:
		return "ppp"
	case LinkPPPHDLC:
		return "ppp-hdlc"
	case LinkRaw, 12, 14:
		return "raw"
	case LinkCHDLC:
		return "cisco-hdlc"
	case LinkIEEE80211:
		return "802.11"
	case LinkLoop:
		return "loop"
	case LinkRadiotap:
		return "802.11-radiotap"
	case LinkPPI:
		return "ppi"
	case LinkNFLOG:
		return "nflog"
	case LinkSLL:
		return "linux-sll"
	case LinkIPv4:
		return "ipv4"
	case LinkIPv6:
		return "ipv6"
	case LinkSLL2:
		return "linux-sll2"
	}
	return "linktype-" + itoa(int(l))
}

// Proto is the transport protocol of a packet as far as sockscope follows it.
type Proto uint8

const (
	ProtoOther Proto = iota // not TCP or UDP over IP (ARP, ICMP, an IP fragment still waiting, ...)
	ProtoTCP
	ProtoUDP
)

func (p Proto) String() string {
	switch p {
	case ProtoTCP:
		return "tcp"
	case ProtoUDP:
		return "udp"
	}
	return "other"
}

// TCPFlags is the TCP flag byte (plus NS in bit 8).
type TCPFlags uint16

// TCP flag bits.
const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
	NS
)

// Has reports whether all bits of f2 are set.
func (f TCPFlags) Has(f2 TCPFlags) bool { return f&f2 == f2 }

// String lists the flags in the order Wireshark prints them, comma separated:
// "SYN", "SYN,ACK", "PSH,ACK", "FIN,ACK", "RST".
func (f TCPFlags) String() string {
	var b strings.Builder
	add := func(s string) {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s)
	}
	for _, x := range [...]struct {
		bit  TCPFlags
		name string
	}{{NS, "NS"}, {CWR, "CWR"}, {ECE, "ECE"}, {URG, "URG"}, {FIN, "FIN"}, {SYN, "SYN"}, {RST, "RST"}, {PSH, "PSH"}, {ACK, "ACK"}} {
		if f&x.bit != 0 {
			add(x.name)
		}
	}
	if b.Len() == 0 {
		return "none"
	}
	return b.String()
}

// TCPOptions holds the TCP options sockscope shows (on SYN and SYN-ACK mostly).
type TCPOptions struct {
	MSS       uint16
	HasMSS    bool
	WScale    uint8
	HasWScale bool
	SACKPerm  bool
	HasTS     bool
	TSVal     uint32
	TSEcr     uint32
	NSACK     int          // number of SACK blocks (at most 4 kept)
	SACK      [4][2]uint32 // left, right edges, raw sequence numbers
}

// Packet is one captured frame, decoded as far as sockscope needs it.
//
// Payload aliases the source's buffer: it is valid only until the next call to
// the source's Next. Copy it to keep it.
type Packet struct {
	Frame   int       // 1-based frame number, as Wireshark's frame.number
	Time    time.Time // capture timestamp
	Iface   int       // pcapng interface index (0 for pcap)
	Link    LinkType
	CapLen  int // bytes captured
	WireLen int // bytes on the wire

	Proto    Proto
	IPv6     bool
	Src, Dst netip.AddrPort // ports are zero for ProtoOther
	// IPID is the identification field of the innermost IPv4 header (0
	// for IPv6): with the TCP numbers it tells a packet captured twice
	// (a mirror copy) from a retransmission, which gets a new one.
	IPID uint16

	// TCP header fields (raw values; relative numbers are computed in reassembly).
	Seq, Ack uint32
	Flags    TCPFlags
	Window   uint16
	Opts     TCPOptions

	Payload    []byte // captured payload bytes (may be shorter than PayloadLen)
	PayloadLen int    // payload length the IP header says was sent

	// Truncated is set when the frame was cut by the snapshot length before the
	// end of its payload (or header): PayloadLen-len(Payload) bytes are missing.
	Truncated bool
	// Reassembled is set on the packet rebuilt from IPv4 fragments; it carries
	// the frame number of the last fragment, as Wireshark shows it.
	Reassembled bool
	// Fragment is set on an IPv4 fragment that did not (yet) complete a datagram.
	Fragment bool
	// filtered marks a frame the file's Filter rejected, returned (with
	// only its number and time) to a merge, which numbers it and skips it.
	filtered bool
	// Issue says why the frame could not be decoded; "" when it could. Such
	// frames are counted and shown as anomalies, never fatal.
	Issue string
	// NotIP is set for frames that are not IPv4/IPv6 (ARP, LLDP, ...).
	NotIP bool
	// What names what a frame that is not TCP or UDP carried, for the
	// capture's accounting: a protocol ("ARP", "ICMP", "802.11 management")
	// or, with Code, a number that was not followed ("EtherType" 0x88b5,
	// "GRE protocol" 0x1234, "IP protocol" 253). Empty for TCP and UDP and
	// for frames with an Issue (which says why instead). Both are constants
	// so that setting them costs nothing.
	What string
	Code uint32
	// Path is the encapsulations the packet arrived in, outermost first
	// (VLAN tags, MPLS labels, tunnels); zero for a bare packet.
	Path Path

	frag fragInfo // set on fragments, for the Defragmenter
}

// Missing returns how many payload bytes were sent but not captured.
func (p *Packet) Missing() int {
	if m := p.PayloadLen - len(p.Payload); m > 0 {
		return m
	}
	return 0
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// Describe writes a Packet's What and Code for a user: "ARP", "EtherType
// 0x88b5", "IP protocol 253". Protocol numbers that are EtherTypes (and
// other 16-bit fields) are hex, as tshark shows them; counts and small
// numbers are decimal.
func Describe(what string, code uint32) string {
	if code == 0 {
		return what
	}
	switch what {
	case "IP protocol", "address family", "GRE version", "PPI link type", "VXLAN-GPE next protocol", "GTP-U packet with IP version":
		return what + " " + itoa(int(code))
	case "SNAP OUI":
		return what + " " + hex(code, 6)
	case "LLC SAP":
		return what + " " + hex(code, 2)
	}
	return what + " " + hex(code, 4)
}

func hex(v uint32, digits int) string {
	const h = "0123456789abcdef"
	b := []byte("0x")
	for i := digits - 1; i >= 0; i-- {
		b = append(b, h[v>>(4*i)&0xf])
	}
	return string(b)
}
