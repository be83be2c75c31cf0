package filter

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
)

// Node is a boolean filter expression: [*And], [*Or], [*Not], [*Host],
// [*Port], [*ProtoNum], [*ProtoAbbrev], [*Vlan], [*MPLS], [*PPPoES], [*Geneve] or [*Relation]. String
// prints it back in tcpdump syntax with every and/or parenthesized; the
// printed form parses to the same tree.
type Node interface {
	String() string
	node()
}

// Expr is an arithmetic expression inside a [*Relation]: [*Num], [*Len],
// [*Load], [*BinOp] or [*Neg].
type Expr interface {
	String() string
	expr()
}

// Proto is a protocol qualifier such as the "tcp" in "tcp port 80".
type Proto uint8

// Protocol qualifiers. ProtoDefault means none was given.
const (
	ProtoDefault Proto = iota
	ProtoLink          // "ether" or "link": the link-layer header
	ProtoIP
	ProtoIP6
	ProtoARP
	ProtoRARP
	ProtoTCP
	ProtoUDP
	ProtoSCTP
	ProtoICMP
	ProtoICMP6
)

var protoNames = [...]string{"", "ether", "ip", "ip6", "arp", "rarp", "tcp", "udp", "sctp", "icmp", "icmp6"}

func (p Proto) String() string {
	if int(p) < len(protoNames) {
		return protoNames[p]
	}
	return "proto(" + strconv.Itoa(int(p)) + ")"
}

// Dir is a direction qualifier.
type Dir uint8

// Direction qualifiers. DirDefault (none, or "src or dst") matches either
// address or port.
const (
	DirDefault   Dir = iota
	DirSrc           // "src"
	DirDst           // "dst"
	DirSrcAndDst     // "src and dst": both must match
)

func (d Dir) String() string {
	switch d {
	case DirSrc:
		return "src"
	case DirDst:
		return "dst"
	case DirSrcAndDst:
		return "src and dst"
	}
	return ""
}

// And is true when both X and Y are.
type And struct{ X, Y Node }

// Or is true when X or Y is.
type Or struct{ X, Y Node }

// Not negates X.
type Not struct{ X Node }

// Host matches an IPv4 or IPv6 address or network, as in "host 10.0.0.1",
// "src net 10.0.0.0/8" or "ip6 dst host ::1". Addr and Mask have the same
// family; Mask is all ones for a single host. Proto is ProtoDefault, ProtoIP,
// ProtoIP6, ProtoARP or ProtoRARP; an IPv4 Host with ProtoDefault also
// matches ARP and RARP sender/target addresses, as in libpcap.
type Host struct {
	Pos   int
	Proto Proto
	Dir   Dir
	Addr  netip.Addr
	Mask  netip.Addr
}

// Port matches TCP, UDP or SCTP ports in [Lo, Hi] over IPv4 (first fragments
// only) and IPv6 (next header checked directly), as in "tcp dst port 80" or
// "portrange 8000-9000". Proto is ProtoDefault, ProtoTCP, ProtoUDP or
// ProtoSCTP.
type Port struct {
	Pos    int
	Proto  Proto
	Dir    Dir
	Lo, Hi uint16
	Range  bool // written as portrange
}

// ProtoNum matches the IPv4 protocol or IPv6 next header number, as in
// "ip proto 6". Proto is ProtoDefault (both), ProtoIP or ProtoIP6.
type ProtoNum struct {
	Pos   int
	Proto Proto
	Num   uint32
}

// ProtoAbbrev is a bare protocol name such as "tcp", "ip6" or "arp".
type ProtoAbbrev struct {
	Pos   int
	Proto Proto
}

// Vlan matches an 802.1Q/802.1ad tagged frame, optionally with VLAN ID ID.
// Like libpcap, tests compiled after it look 4 bytes further into the frame.
type Vlan struct {
	Pos   int
	ID    uint32
	HasID bool
}

// MPLS matches an MPLS label stack entry (the first: EtherType 0x8847;
// after another "mpls": the previous entry is not the bottom of the stack),
// optionally with label Label. Like libpcap, tests compiled after it look 4
// bytes further, and "ip"/"ip6" then test the bottom of the stack and the IP
// version.
type MPLS struct {
	Pos      int
	Label    uint32
	HasLabel bool
}

// Geneve matches a Geneve packet (UDP destination port 6081 over IPv4 or
// IPv6, version 0), optionally with VNI VNI. Like libpcap, tests compiled
// after it look at the packet inside: its Ethernet frame (protocol type
// 0x6558) or the packet of the protocol type, at offsets that depend on
// the outer IPv4 header and the Geneve options, so they are computed at
// run time.
type Geneve struct {
	Pos    int
	VNI    uint32
	HasVNI bool
}

// PPPoES matches a PPPoE session frame (EtherType 0x8864), optionally with
// session ID ID. Like libpcap, tests compiled after it look at the PPP
// frame inside (ip is PPP protocol 0x0021, ip6 0x0057).
type PPPoES struct {
	Pos   int
	ID    uint32
	HasID bool
}

// Relation compares two arithmetic expressions as unsigned 32-bit numbers.
// Op is one of = != < <= > >=. "greater N" is "len >= N" and "less N" is
// "len <= N".
type Relation struct {
	Pos  int
	Op   string
	X, Y Expr
}

// Num is a constant.
type Num struct{ V uint32 }

// Len is the frame length on the wire ("len").
type Len struct{}

// Load reads Size (1, 2 or 4) bytes at offset Index of the Proto header, as
// in "tcp[13]" or "ip[2:2]".
type Load struct {
	Pos   int
	Proto Proto
	Index Expr
	Size  int
}

// BinOp is X Op Y with Op one of + - * / % & | ^ << >>.
type BinOp struct {
	Pos  int
	Op   string
	X, Y Expr
}

// Neg is unary minus.
type Neg struct{ X Expr }

func (*And) node()         {}
func (*Or) node()          {}
func (*Not) node()         {}
func (*Host) node()        {}
func (*Port) node()        {}
func (*ProtoNum) node()    {}
func (*ProtoAbbrev) node() {}
func (*Vlan) node()        {}
func (*MPLS) node()        {}
func (*Geneve) node()      {}
func (*PPPoES) node()      {}
func (*Relation) node()    {}

func (*Num) expr()   {}
func (*Len) expr()   {}
func (*Load) expr()  {}
func (*BinOp) expr() {}
func (*Neg) expr()   {}

func (n *And) String() string { return "(" + n.X.String() + " and " + n.Y.String() + ")" }
func (n *Or) String() string  { return "(" + n.X.String() + " or " + n.Y.String() + ")" }
func (n *Not) String() string { return "not " + n.X.String() }

func qualPrefix(p Proto, d Dir) string {
	s := ""
	if p != ProtoDefault {
		s = p.String() + " "
	}
	if d != DirDefault {
		s += d.String() + " "
	}
	return s
}

func (n *Host) String() string {
	s := qualPrefix(n.Proto, n.Dir)
	ones := 0
	for _, b := range n.Mask.AsSlice() {
		ones += bits.OnesCount8(b)
	}
	if ones == n.Mask.BitLen() {
		return s + "host " + n.Addr.String()
	}
	if p := netip.PrefixFrom(n.Addr, ones); p.Masked().Addr() == n.Addr && maskOf(n.Addr.Is4(), ones) == n.Mask {
		return s + "net " + p.String()
	}
	return s + "net " + n.Addr.String() + " mask " + n.Mask.String()
}

func (n *Port) String() string {
	s := qualPrefix(n.Proto, n.Dir)
	if n.Range {
		return fmt.Sprintf("%sportrange %d-%d", s, n.Lo, n.Hi)
	}
	return fmt.Sprintf("%sport %d", s, n.Lo)
}

func (n *ProtoNum) String() string {
	return fmt.Sprintf("%sproto %d", qualPrefix(n.Proto, DirDefault), n.Num)
}

func (n *ProtoAbbrev) String() string { return n.Proto.String() }

func (n *Vlan) String() string {
	if n.HasID {
		return fmt.Sprintf("vlan %d", n.ID)
	}
	return "vlan"
}

func (n *MPLS) String() string {
	if n.HasLabel {
		return fmt.Sprintf("mpls %d", n.Label)
	}
	return "mpls"
}

func (n *Geneve) String() string {
	if n.HasVNI {
		return fmt.Sprintf("geneve %d", n.VNI)
	}
	return "geneve"
}

func (n *PPPoES) String() string {
	if n.HasID {
		return fmt.Sprintf("pppoes %d", n.ID)
	}
	return "pppoes"
}

func (n *Relation) String() string { return n.X.String() + " " + n.Op + " " + n.Y.String() }

func (n *Num) String() string { return strconv.FormatUint(uint64(n.V), 10) }
func (*Len) String() string   { return "len" }
func (n *Load) String() string {
	if n.Size == 1 {
		return fmt.Sprintf("%s[%s]", n.Proto, n.Index)
	}
	return fmt.Sprintf("%s[%s:%d]", n.Proto, n.Index, n.Size)
}
func (n *BinOp) String() string { return "(" + n.X.String() + " " + n.Op + " " + n.Y.String() + ")" }
func (n *Neg) String() string   { return "-" + n.X.String() }

// maskOf returns the netmask with the given number of leading ones.
func maskOf(v4 bool, ones int) netip.Addr {
	if v4 {
		var b [4]byte
		fillMask(b[:], ones)
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	fillMask(b[:], ones)
	return netip.AddrFrom16(b)
}

func fillMask(b []byte, ones int) {
	for i := range b {
		switch {
		case ones >= 8:
			b[i] = 0xff
			ones -= 8
		case ones > 0:
			b[i] = byte(0xff << (8 - ones))
			ones = 0
		}
	}
}
