package filter

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// Link types (pcap LINKTYPE_ values) accepted by [Compile].
const (
	LinkTypeNull     = 0   // BSD loopback: 4-byte address family in the writer's byte order
	LinkTypeEthernet = 1   // Ethernet II
	LinkTypePPP      = 9   // PPP: address, control, 2-byte protocol
	LinkTypePPPSer   = 50  // PPP in HDLC-like framing
	LinkTypeCHDLC    = 104 // Cisco HDLC: address, control, EtherType
	LinkTypeRaw      = 101 // raw IPv4 or IPv6
	LinkTypeLoop     = 108 // OpenBSD loopback: 4-byte address family in network order
	LinkTypeLinuxSLL = 113 // Linux cooked capture v1
	LinkTypeIPv4     = 228 // raw IPv4
	LinkTypeIPv6     = 229 // raw IPv6
	LinkTypeLinuxSL2 = 276 // Linux cooked capture v2
)

// MaxInstructions is the largest program [Compile] returns; it is the Linux
// kernel's limit for a socket filter (BPF_MAXINSNS).
const MaxInstructions = 4096

const (
	etherTypeIP    = 0x0800
	etherTypeARP   = 0x0806
	etherTypeRARP  = 0x8035
	etherTypeIPv6  = 0x86dd
	etherType8021Q = 0x8100
	etherType8021A = 0x88a8
	etherTypeQinQ  = 0x9100

	ipProtoICMP   = 1
	ipProtoTCP    = 6
	ipProtoUDP    = 17
	ipProtoFrag6  = 44
	ipProtoICMPv6 = 58
	ipProtoSCTP   = 132
)

// Compile compiles a tcpdump filter expression to a classic BPF program for
// frames of the given pcap link type. The program returns snaplen for an
// accepted frame and 0 for a rejected one; an empty expression accepts
// everything. Errors are [*Error], [*UnsupportedError], or an error naming an
// unsupported link type or a program that is too large.
//
// The program follows libpcap 1.10's semantics, including its order of
// loads: a load past the end of a frame rejects the frame, as in the
// kernel and in libpcap. Port tests skip IPv4 non-first fragments and check
// the IPv6 next header directly (no extension-header walk); "tcp", "udp",
// "sctp" and "ip6 proto" also look through one IPv6 fragment header.
//
// Known differences from libpcap: for LinkTypeNull the address family is
// accepted in either byte order (libpcap uses the byte order of the file
// being read); an expression that can never match compiles to a program
// that rejects everything (tcpdump reports "expression rejects all
// packets"); constant shifts over 31 bits and division by a constant zero
// are refused even when the constant is computed ("x / (1-1)"); programs
// are longer than libpcap's optimized ones but accept the same frames.
func Compile(expr string, linkType uint16, snaplen int) ([]bpf.Instruction, error) {
	if snaplen <= 0 || snaplen > 1<<31-1 {
		return nil, fmt.Errorf("compile filter: snaplen %d out of range", snaplen)
	}
	n, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	prog, _, err := compileTree(n, linkType, uint32(snaplen))
	return prog, err
}

// compileTree compiles a parsed tree and reports whether it reads "len".
func compileTree(n Node, linkType uint16, snaplen uint32) ([]bpf.Instruction, bool, error) {
	link, err := newLinkLayer(linkType)
	if err != nil {
		return nil, false, err
	}
	if n == nil {
		return []bpf.Instruction{bpf.RetConstant{Val: snaplen}}, false, nil
	}
	c := &compiler{link: link}
	b, err := c.node(n)
	if err != nil {
		return nil, false, err
	}
	a := &asm{}
	accept, reject := a.newLabel(), a.newLabel()
	a.gen(b, accept, reject)
	a.place(accept)
	a.plain(bpf.RetConstant{Val: snaplen})
	a.place(reject)
	a.plain(bpf.RetConstant{Val: 0})
	a.dropRedundantLoads()
	prog, err := a.assemble()
	if err != nil {
		return nil, false, err
	}
	if len(prog) > MaxInstructions {
		return nil, false, fmt.Errorf("compile filter: program has %d instructions, more than the kernel limit of %d", len(prog), MaxInstructions)
	}
	return prog, c.usesLen, nil
}

// linkKind says how a link type encodes the network protocol.
type linkKind uint8

const (
	lkEtherType linkKind = iota // 16-bit EtherType at typeOff
	lkRaw                       // IP version nibble
	lkRaw4                      // always IPv4
	lkRaw6                      // always IPv6
	lkNull                      // 32-bit address family, either byte order
	lkLoop                      // 32-bit address family, network order
	lkPPP                       // 16-bit PPP protocol at typeOff
	lkMPLS                      // after "mpls": IP version nibble at pl, bottom-of-stack bit of the entry before
)

const (
	etherTypeMPLS   = 0x8847
	etherTypePPPoES = 0x8864
	pppIP           = 0x0021
	pppIPv6         = 0x0057
	pppMPLS         = 0x0281 // MPLS unicast
)

// linkLayer holds the offsets libpcap calls off_linktype and off_linkpl.
// vlan moves both by 4 bytes.
//
// After "geneve" the offsets depend on the packet (the outer IPv4 header's
// length, the Geneve options): variable is set, and typeOff and pl are
// then relative to the offsets the program stored in scratch slots
// slotLinkType and slotLinkPL, as libpcap's gen_geneve_offsets does.
type linkLayer struct {
	linkType uint16
	kind     linkKind
	typeOff  uint32
	pl       uint32
	variable bool
}

// Scratch slots that hold the run-time offsets after "geneve" (libpcap's
// M[0] and M[2]; M[1] holds the end of the Geneve header while they are
// computed).
const (
	slotLinkType  = 0
	slotGeneveEnd = 1
	slotLinkPL    = 2
)

// loadAt returns the instructions that load size bytes at off: from the
// start of the frame, or with variable offsets, from the link-type (pl
// false) or network-layer (pl true) offset stored at run time.
func (c *compiler) loadAt(pl bool, off uint32, size int) []bpf.Instruction {
	if !c.link.variable {
		return []bpf.Instruction{bpf.LoadAbsolute{Off: off, Size: size}}
	}
	slot := slotLinkType
	if pl {
		slot = slotLinkPL
	}
	return []bpf.Instruction{bpf.LoadScratch{Dst: bpf.RegX, N: slot}, bpf.LoadIndirect{Off: off, Size: size}}
}

// at tests size bytes at off (see loadAt) for equality with v under mask.
func (c *compiler) at(pl bool, off uint32, size int, v, mask uint32) bexpr {
	stmts := c.loadAt(pl, off, size)
	if mask != 0xffffffff {
		stmts = append(stmts, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	}
	return btest{stmts: stmts, cond: bpf.JumpEqual, k: v}
}

// transportX returns the instructions that leave in X the offset of the
// transport header of the IPv4 packet at the network layer.
func (c *compiler) transportX() []bpf.Instruction {
	pl := c.link.pl
	if !c.link.variable {
		return []bpf.Instruction{bpf.LoadMemShift{Off: pl}}
	}
	return []bpf.Instruction{bpf.LoadScratch{Dst: bpf.RegX, N: slotLinkPL}, bpf.LoadIndirect{Off: pl, Size: 1},
		bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x0f}, bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2},
		bpf.ALUOpX{Op: bpf.ALUOpAdd}, bpf.TAX{}}
}

func newLinkLayer(lt uint16) (linkLayer, error) {
	switch lt {
	case LinkTypeEthernet:
		return linkLayer{lt, lkEtherType, 12, 14, false}, nil
	case LinkTypeLinuxSLL:
		return linkLayer{lt, lkEtherType, 14, 16, false}, nil
	case LinkTypeLinuxSL2:
		return linkLayer{lt, lkEtherType, 0, 20, false}, nil
	case LinkTypeRaw:
		return linkLayer{lt, lkRaw, 0, 0, false}, nil
	case LinkTypeIPv4:
		return linkLayer{lt, lkRaw4, 0, 0, false}, nil
	case LinkTypeIPv6:
		return linkLayer{lt, lkRaw6, 0, 0, false}, nil
	case LinkTypePPP, LinkTypePPPSer:
		return linkLayer{lt, lkPPP, 2, 4, false}, nil
	case LinkTypeCHDLC:
		return linkLayer{lt, lkEtherType, 2, 4, false}, nil
	case LinkTypeNull:
		return linkLayer{lt, lkNull, 0, 4, false}, nil
	case LinkTypeLoop:
		return linkLayer{lt, lkLoop, 0, 4, false}, nil
	}
	return linkLayer{}, fmt.Errorf("compile filter: unsupported link type %d (supported: 0 null, 1 Ethernet, 9 PPP, 50 PPP serial, 101 raw, 104 Cisco HDLC, 108 loop, 113 SLL, 228 IPv4, 229 IPv6, 276 SLL2)", lt)
}

// bexpr is the boolean program between the tree and the instructions.
type bexpr interface{}

type (
	band   struct{ x, y bexpr }
	bor    struct{ x, y bexpr }
	bnot   struct{ x bexpr }
	bconst bool
	// btest runs stmts, then jumps on A cond k (or A cond X when useX).
	btest struct {
		stmts []bpf.Instruction
		cond  bpf.JumpTest
		k     uint32
		useX  bool
	}
)

func and(xs ...bexpr) bexpr {
	b := xs[len(xs)-1]
	for i := len(xs) - 2; i >= 0; i-- {
		b = band{xs[i], b}
	}
	return b
}

func or(xs ...bexpr) bexpr {
	b := xs[len(xs)-1]
	for i := len(xs) - 2; i >= 0; i-- {
		b = bor{xs[i], b}
	}
	return b
}

type compiler struct {
	link    linkLayer
	usesLen bool
}

// cmp tests size bytes at absolute offset off for equality with v under mask.
func mcmp(off uint32, size int, v, mask uint32) bexpr {
	stmts := []bpf.Instruction{bpf.LoadAbsolute{Off: off, Size: size}}
	if mask != 0xffffffff {
		stmts = append(stmts, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
	}
	return btest{stmts: stmts, cond: bpf.JumpEqual, k: v}
}

func cmp(off uint32, size int, v uint32) bexpr { return mcmp(off, size, v, 0xffffffff) }

// linktype tests the network protocol, as libpcap's gen_linktype.
func (c *compiler) linktype(et uint32) bexpr {
	l := c.link
	switch l.kind {
	case lkEtherType:
		return c.at(false, l.typeOff, 2, et, 0xffffffff)
	case lkRaw:
		switch et {
		case etherTypeIP:
			return mcmp(0, 1, 0x40, 0xf0)
		case etherTypeIPv6:
			return mcmp(0, 1, 0x60, 0xf0)
		}
	case lkPPP:
		switch et {
		case etherTypeIP:
			return cmp(l.typeOff, 2, pppIP)
		case etherTypeIPv6:
			return cmp(l.typeOff, 2, pppIPv6)
		case etherTypeMPLS:
			return cmp(l.typeOff, 2, pppMPLS)
		}
	case lkMPLS:
		// libpcap's gen_mpls_linktype: the entry before is the bottom of
		// the stack, and the IP version is right.
		bos := mcmp(l.pl-2, 1, 0x01, 0x01)
		switch et {
		case etherTypeIP:
			return and(bos, mcmp(l.pl, 1, 0x40, 0xf0))
		case etherTypeIPv6:
			return and(bos, mcmp(l.pl, 1, 0x60, 0xf0))
		}
	case lkRaw4:
		return bconst(et == etherTypeIP)
	case lkRaw6:
		return bconst(et == etherTypeIPv6)
	case lkNull, lkLoop:
		var afs []uint32
		switch et {
		case etherTypeIP:
			afs = []uint32{2}
		case etherTypeIPv6:
			afs = []uint32{24, 28, 30}
		default:
			return bconst(false)
		}
		var tests []bexpr
		for _, af := range afs {
			tests = append(tests, cmp(0, 4, af))
			if l.kind == lkNull {
				tests = append(tests, cmp(0, 4, af<<24))
			}
		}
		return or(tests...)
	}
	return bconst(false)
}

func (c *compiler) ipProto(p uint32) bexpr {
	return and(c.linktype(etherTypeIP), c.at(true, c.link.pl+9, 1, p, 0xffffffff))
}

func (c *compiler) ip6Proto(p uint32) bexpr {
	pl := c.link.pl
	return and(c.linktype(etherTypeIPv6),
		or(c.at(true, pl+6, 1, p, 0xffffffff), and(c.at(true, pl+6, 1, ipProtoFrag6, 0xffffffff), c.at(true, pl+40, 1, p, 0xffffffff))))
}

// notFragment is true for an unfragmented IPv4 packet or a first fragment.
func (c *compiler) notFragment() bexpr {
	return bnot{btest{stmts: c.loadAt(true, c.link.pl+6, 2), cond: bpf.JumpBitsSet, k: 0x1fff}}
}

func (c *compiler) protoAbbrev(p Proto) bexpr {
	switch p {
	case ProtoIP:
		return c.linktype(etherTypeIP)
	case ProtoIP6:
		return c.linktype(etherTypeIPv6)
	case ProtoARP:
		return c.linktype(etherTypeARP)
	case ProtoRARP:
		return c.linktype(etherTypeRARP)
	case ProtoTCP:
		return or(c.ipProto(ipProtoTCP), c.ip6Proto(ipProtoTCP))
	case ProtoUDP:
		return or(c.ipProto(ipProtoUDP), c.ip6Proto(ipProtoUDP))
	case ProtoSCTP:
		return or(c.ipProto(ipProtoSCTP), c.ip6Proto(ipProtoSCTP))
	case ProtoICMP:
		return c.ipProto(ipProtoICMP)
	case ProtoICMP6:
		return c.ip6Proto(ipProtoICMPv6)
	}
	return bconst(false)
}

func (c *compiler) node(n Node) (bexpr, error) {
	switch n := n.(type) {
	case *And:
		x, err := c.node(n.X)
		if err != nil {
			return nil, err
		}
		y, err := c.node(n.Y)
		if err != nil {
			return nil, err
		}
		return band{x, y}, nil
	case *Or:
		x, err := c.node(n.X)
		if err != nil {
			return nil, err
		}
		y, err := c.node(n.Y)
		if err != nil {
			return nil, err
		}
		return bor{x, y}, nil
	case *Not:
		x, err := c.node(n.X)
		if err != nil {
			return nil, err
		}
		return bnot{x}, nil
	case *ProtoAbbrev:
		if n.Proto == ProtoLink {
			return nil, &UnsupportedError{Part: "ether", Pos: n.Pos}
		}
		return c.protoAbbrev(n.Proto), nil
	case *ProtoNum:
		switch n.Proto {
		case ProtoIP:
			return c.ipProto(n.Num), nil
		case ProtoIP6:
			return c.ip6Proto(n.Num), nil
		}
		return or(c.ipProto(n.Num), c.ip6Proto(n.Num)), nil
	case *Host:
		return c.host(n)
	case *Port:
		return c.port(n), nil
	case *Vlan:
		return c.vlan(n)
	case *MPLS:
		return c.mpls(n)
	case *PPPoES:
		return c.pppoes(n)
	case *Geneve:
		return c.geneve(n)
	case *Relation:
		return c.relation(n)
	}
	return nil, fmt.Errorf("compile filter: unknown node type %T", n)
}

// dirTest combines the source and destination tests for a direction.
func dirTest(d Dir, src, dst func() bexpr) bexpr {
	switch d {
	case DirSrc:
		return src()
	case DirDst:
		return dst()
	case DirSrcAndDst:
		return band{src(), dst()}
	}
	return bor{src(), dst()}
}

func (c *compiler) host(n *Host) (bexpr, error) {
	if !n.Addr.IsValid() || !n.Mask.IsValid() || n.Addr.Is4() != n.Mask.Is4() {
		return nil, fmt.Errorf("compile filter: invalid host node %v", n)
	}
	pl := c.link.pl
	if n.Addr.Is4() {
		a4, m4 := n.Addr.As4(), n.Mask.As4()
		addr := uint32(a4[0])<<24 | uint32(a4[1])<<16 | uint32(a4[2])<<8 | uint32(a4[3])
		mask := uint32(m4[0])<<24 | uint32(m4[1])<<16 | uint32(m4[2])<<8 | uint32(m4[3])
		// libpcap tests the link type once per address; testing it once
		// per qualifier is equivalent (the repeated load cannot fail).
		addrs := func(srcOff, dstOff uint32) bexpr {
			at := func(off uint32) func() bexpr {
				return func() bexpr { return c.at(true, pl+off, 4, addr&mask, mask) }
			}
			return dirTest(n.Dir, at(srcOff), at(dstOff))
		}
		switch n.Proto {
		case ProtoIP:
			return band{c.linktype(etherTypeIP), addrs(12, 16)}, nil
		case ProtoARP:
			return band{c.linktype(etherTypeARP), addrs(14, 24)}, nil
		case ProtoRARP:
			return band{c.linktype(etherTypeRARP), addrs(14, 24)}, nil
		case ProtoDefault:
			return bor{band{c.linktype(etherTypeIP), addrs(12, 16)},
				band{bor{c.linktype(etherTypeARP), c.linktype(etherTypeRARP)}, addrs(14, 24)}}, nil
		}
		return nil, &Error{Pos: n.Pos, Msg: fmt.Sprintf("'%s' modifier applied to host", n.Proto)}
	}
	if n.Proto != ProtoDefault && n.Proto != ProtoIP6 {
		return nil, &Error{Pos: n.Pos, Msg: fmt.Sprintf("'%s' modifier applied to ip6 host", n.Proto)}
	}
	a16, m16 := n.Addr.As16(), n.Mask.As16()
	word := func(b [16]byte, i int) uint32 {
		return uint32(b[4*i])<<24 | uint32(b[4*i+1])<<16 | uint32(b[4*i+2])<<8 | uint32(b[4*i+3])
	}
	at := func(off uint32) func() bexpr {
		return func() bexpr {
			var tests []bexpr
			for i := 0; i < 4; i++ {
				m := word(m16, i)
				tests = append(tests, c.at(true, pl+off+uint32(4*i), 4, word(a16, i)&m, m))
			}
			return and(tests...)
		}
	}
	return band{c.linktype(etherTypeIPv6), dirTest(n.Dir, at(8), at(24))}, nil
}

func (c *compiler) port(n *Port) bexpr {
	var protos []uint32
	switch n.Proto {
	case ProtoTCP:
		protos = []uint32{ipProtoTCP}
	case ProtoUDP:
		protos = []uint32{ipProtoUDP}
	case ProtoSCTP:
		protos = []uint32{ipProtoSCTP}
	default:
		protos = []uint32{ipProtoSCTP, ipProtoTCP, ipProtoUDP}
	}
	pl := c.link.pl
	inRange := func(load []bpf.Instruction) bexpr {
		if n.Lo == n.Hi {
			return btest{stmts: load, cond: bpf.JumpEqual, k: uint32(n.Lo)}
		}
		return band{btest{stmts: load, cond: bpf.JumpGreaterOrEqual, k: uint32(n.Lo)},
			bnot{btest{stmts: load, cond: bpf.JumpGreaterThan, k: uint32(n.Hi)}}}
	}
	at4 := func(off uint32) func() bexpr {
		return func() bexpr {
			return inRange(append(c.transportX(), bpf.LoadIndirect{Off: pl + off, Size: 2}))
		}
	}
	at6 := func(off uint32) func() bexpr {
		return func() bexpr {
			return inRange(c.loadAt(true, pl+40+off, 2))
		}
	}
	var p4, p6 []bexpr
	for _, p := range protos {
		p4 = append(p4, c.at(true, pl+9, 1, p, 0xffffffff))
		p6 = append(p6, c.at(true, pl+6, 1, p, 0xffffffff))
	}
	v6 := and(c.linktype(etherTypeIPv6), or(p6...), dirTest(n.Dir, at6(0), at6(2)))
	v4 := and(c.linktype(etherTypeIP), or(p4...), c.notFragment(), dirTest(n.Dir, at4(0), at4(2)))
	return bor{v6, v4}
}

// afterGeneve refuses what this package does not compile with run-time
// offsets (libpcap does).
func (c *compiler) afterGeneve(part string, pos int) error {
	if !c.link.variable {
		return nil
	}
	return &UnsupportedError{Part: part, Pos: pos, Reason: part + " after geneve (its offsets are computed at run time)"}
}

func (c *compiler) vlan(n *Vlan) (bexpr, error) {
	if err := c.afterGeneve(n.String(), n.Pos); err != nil {
		return nil, err
	}
	if c.link.kind != lkEtherType || c.link.linkType != LinkTypeEthernet {
		return nil, &UnsupportedError{Part: n.String(), Pos: n.Pos,
			Reason: fmt.Sprintf("vlan needs Ethernet frames (link type 1), not link type %d", c.link.linkType)}
	}
	b := or(c.linktype(etherType8021Q), c.linktype(etherType8021A), c.linktype(etherTypeQinQ))
	if n.HasID {
		b = band{b, mcmp(c.link.pl, 2, n.ID, 0x0fff)}
	}
	c.link.typeOff += 4
	c.link.pl += 4
	return b, nil
}

// mpls follows libpcap's gen_mpls: the first "mpls" tests the EtherType
// (Ethernet and Cisco HDLC) or the PPP protocol (PPP, link type 9, but not
// PPP serial, as libpcap); a later one, that the entry before is not the
// bottom of the stack. Each moves the network layer 4 bytes on.
func (c *compiler) mpls(n *MPLS) (bexpr, error) {
	if err := c.afterGeneve(n.String(), n.Pos); err != nil {
		return nil, err
	}
	var b bexpr
	switch {
	case c.link.kind == lkMPLS:
		b = mcmp(c.link.pl-2, 1, 0, 0x01)
	case c.link.kind == lkEtherType && (c.link.linkType == LinkTypeEthernet || c.link.linkType == LinkTypeCHDLC),
		c.link.kind == lkPPP && c.link.linkType == LinkTypePPP:
		b = c.linktype(etherTypeMPLS)
	default:
		return nil, &UnsupportedError{Part: n.String(), Pos: n.Pos,
			Reason: fmt.Sprintf("no MPLS support for link type %d (Ethernet, PPP and Cisco HDLC have it)", c.link.linkType)}
	}
	if n.HasLabel {
		b = band{b, mcmp(c.link.pl, 4, n.Label<<12, 0xfffff000)}
	}
	c.link.kind = lkMPLS
	c.link.pl += 4
	c.link.typeOff = c.link.pl
	return b, nil
}

// pppoes follows libpcap's gen_pppoes: the PPPoE session EtherType (on a
// link without EtherTypes it matches nothing, as libpcap's), the session ID
// in the low 16 bits of the header's first word, then the PPP protocol at 6
// and the payload at 8.
func (c *compiler) pppoes(n *PPPoES) (bexpr, error) {
	if err := c.afterGeneve(n.String(), n.Pos); err != nil {
		return nil, err
	}
	b := c.linktype(etherTypePPPoES)
	if n.HasID {
		b = band{b, mcmp(c.link.pl, 4, n.ID, 0x0000ffff)}
	}
	c.link.kind = lkPPP
	c.link.typeOff = c.link.pl + 6
	c.link.pl += 8
	return b, nil
}

// geneve follows libpcap's gen_geneve: UDP destination port 6081 over
// IPv4 (not a later fragment) or IPv6, version 0, the VNI when given; then
// the offsets of what is inside, computed at run time into scratch slots:
// with protocol type 0x6558 an Ethernet frame after the options (its
// EtherType at 12, its payload at 14), else the packet of that EtherType
// right after the options.
func (c *compiler) geneve(n *Geneve) (bexpr, error) {
	if err := c.afterGeneve(n.String(), n.Pos); err != nil {
		return nil, err
	}
	const portGeneve = 6081
	pl := c.link.pl
	ff := uint32(0xffffffff)
	// msh loads at off from the UDP header of an IPv4 packet.
	msh := func(off uint32, size int, mask, v uint32) bexpr {
		stmts := []bpf.Instruction{bpf.LoadMemShift{Off: pl}, bpf.LoadIndirect{Off: pl + off, Size: size}}
		if mask != ff {
			stmts = append(stmts, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: mask})
		}
		return btest{stmts: stmts, cond: bpf.JumpEqual, k: v}
	}
	// offsets: prefix leaves the Geneve header's offset in A.
	offsets := func(prefix []bpf.Instruction) bexpr {
		end := []bpf.Instruction{bpf.LoadIndirect{Off: 0, Size: 1}, bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0x3f},
			bpf.ALUOpConstant{Op: bpf.ALUOpMul, Val: 4}, bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 8}, bpf.ALUOpX{Op: bpf.ALUOpAdd}}
		var teb []bpf.Instruction
		teb = append(teb, prefix...)
		teb = append(teb, bpf.TAX{})
		teb = append(teb, end...)
		teb = append(teb, bpf.StoreScratch{Src: bpf.RegA, N: slotGeneveEnd}, bpf.LoadIndirect{Off: 2, Size: 2})
		tebStore := []bpf.Instruction{bpf.LoadScratch{Dst: bpf.RegA, N: slotGeneveEnd},
			bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 12}, bpf.StoreScratch{Src: bpf.RegA, N: slotLinkType},
			bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 2}, bpf.StoreScratch{Src: bpf.RegA, N: slotLinkPL},
			bpf.LoadConstant{Dst: bpf.RegA, Val: 0}}
		var other []bpf.Instruction
		other = append(other, prefix...)
		other = append(other, bpf.TAX{}, bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 2}, bpf.StoreScratch{Src: bpf.RegA, N: slotLinkType})
		other = append(other, end...)
		other = append(other, bpf.StoreScratch{Src: bpf.RegA, N: slotLinkPL}, bpf.LoadConstant{Dst: bpf.RegA, Val: 0})
		return or(and(btest{stmts: teb, cond: bpf.JumpEqual, k: 0x6558}, btest{stmts: tebStore, cond: bpf.JumpEqual, k: 0}),
			btest{stmts: other, cond: bpf.JumpEqual, k: 0})
	}
	v4 := []bexpr{c.linktype(etherTypeIP), c.at(true, pl+9, 1, ipProtoUDP, ff), c.notFragment(),
		msh(2, 2, ff, portGeneve), msh(8, 1, 0xc0, 0)}
	v6 := []bexpr{c.linktype(etherTypeIPv6), c.at(true, pl+6, 1, ipProtoUDP, ff),
		c.at(true, pl+40+2, 2, portGeneve, ff), c.at(true, pl+48, 1, 0, 0xc0)}
	if n.HasVNI {
		v4 = append(v4, msh(12, 4, 0xffffff00, n.VNI<<8))
		v6 = append(v6, c.at(true, pl+52, 4, n.VNI<<8, 0xffffff00))
	}
	v4 = append(v4, offsets([]bpf.Instruction{bpf.LoadMemShift{Off: pl}, bpf.TXA{}, bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: pl + 8}}))
	v6 = append(v6, offsets([]bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: pl + 48}}))
	b := or(and(v4...), and(v6...))
	c.link = linkLayer{linkType: c.link.linkType, kind: lkEtherType, variable: true}
	return b, nil
}

// maxScratch is the number of cBPF scratch memory slots.
const maxScratch = 16

var aluOps = map[string]bpf.ALUOp{
	"+": bpf.ALUOpAdd, "-": bpf.ALUOpSub, "*": bpf.ALUOpMul, "/": bpf.ALUOpDiv,
	"%": bpf.ALUOpMod, "&": bpf.ALUOpAnd, "|": bpf.ALUOpOr, "^": bpf.ALUOpXor,
	"<<": bpf.ALUOpShiftLeft, ">>": bpf.ALUOpShiftRight,
}

// fold evaluates a constant expression.
func fold(e Expr) (uint32, bool, error) {
	switch e := e.(type) {
	case *Num:
		return e.V, true, nil
	case *Neg:
		v, ok, err := fold(e.X)
		return -v, ok, err
	case *BinOp:
		x, okx, err := fold(e.X)
		if err != nil {
			return 0, false, err
		}
		y, oky, err := fold(e.Y)
		if err != nil || !oky {
			return 0, false, err
		}
		if err := checkConstOperand(e, y); err != nil {
			return 0, false, err
		}
		if !okx {
			return 0, false, nil
		}
		switch e.Op {
		case "+":
			return x + y, true, nil
		case "-":
			return x - y, true, nil
		case "*":
			return x * y, true, nil
		case "/":
			return x / y, true, nil
		case "%":
			return x % y, true, nil
		case "&":
			return x & y, true, nil
		case "|":
			return x | y, true, nil
		case "^":
			return x ^ y, true, nil
		case "<<":
			return x << y, true, nil
		case ">>":
			return x >> y, true, nil
		}
		return 0, false, &Error{Pos: e.Pos, Msg: fmt.Sprintf("unknown operator %q", e.Op)}
	}
	return 0, false, nil
}

// checkConstOperand applies libpcap's checks on a constant right operand.
func checkConstOperand(e *BinOp, y uint32) error {
	switch {
	case e.Op == "/" && y == 0:
		return &Error{Pos: e.Pos, Msg: "division by zero"}
	case e.Op == "%" && y == 0:
		return &Error{Pos: e.Pos, Msg: "modulus by zero"}
	case (e.Op == "<<" || e.Op == ">>") && y > 31:
		return &Error{Pos: e.Pos, Msg: "shift by more than 31 bits"}
	}
	return nil
}

// conds returns the protocol tests that must hold before e's loads, in
// libpcap's order.
func (c *compiler) conds(e Expr) ([]bexpr, error) {
	switch e := e.(type) {
	case *Neg:
		return c.conds(e.X)
	case *BinOp:
		x, err := c.conds(e.X)
		if err != nil {
			return nil, err
		}
		y, err := c.conds(e.Y)
		return append(x, y...), err
	case *Load:
		idx, err := c.conds(e.Index)
		if err != nil {
			return nil, err
		}
		switch e.Proto {
		case ProtoLink:
			return idx, nil
		case ProtoIP, ProtoIP6, ProtoARP, ProtoRARP:
			return append(idx, c.protoAbbrev(e.Proto)), nil
		case ProtoTCP, ProtoUDP, ProtoSCTP, ProtoICMP:
			out := []bexpr{c.linktype(etherTypeIP)}
			out = append(out, idx...)
			return append(out, c.protoAbbrev(e.Proto), c.notFragment()), nil
		case ProtoICMP6:
			return append(idx, c.linktype(etherTypeIPv6), c.at(true, c.link.pl+6, 1, ipProtoICMPv6, 0xffffffff)), nil
		}
		return nil, &UnsupportedError{Part: e.Proto.String() + "[]", Pos: e.Pos}
	}
	return nil, nil
}

// arith appends code that leaves e's value in A. depth is the first free
// scratch slot.
func (c *compiler) arith(e Expr, depth int, out []bpf.Instruction) ([]bpf.Instruction, error) {
	if v, ok, err := fold(e); err != nil {
		return nil, err
	} else if ok {
		return append(out, bpf.LoadConstant{Dst: bpf.RegA, Val: v}), nil
	}
	switch e := e.(type) {
	case *Len:
		c.usesLen = true
		return append(out, bpf.LoadExtension{Num: bpf.ExtLen}), nil
	case *Neg:
		out, err := c.arith(e.X, depth, out)
		if err != nil {
			return nil, err
		}
		return append(out, bpf.ALUOpConstant{Op: bpf.ALUOpXor, Val: 0xffffffff},
			bpf.ALUOpConstant{Op: bpf.ALUOpAdd, Val: 1}), nil
	case *BinOp:
		op, ok := aluOps[e.Op]
		if !ok {
			return nil, &Error{Pos: e.Pos, Msg: fmt.Sprintf("unknown operator %q", e.Op)}
		}
		if y, ok, _ := fold(e.Y); ok {
			out, err := c.arith(e.X, depth, out)
			if err != nil {
				return nil, err
			}
			return append(out, bpf.ALUOpConstant{Op: op, Val: y}), nil
		}
		if depth >= maxScratch {
			return nil, &Error{Pos: e.Pos, Msg: "arithmetic expression too complex (needs more than 16 scratch slots)"}
		}
		out, err := c.arith(e.Y, depth, out)
		if err != nil {
			return nil, err
		}
		out = append(out, bpf.StoreScratch{Src: bpf.RegA, N: depth})
		out, err = c.arith(e.X, depth+1, out)
		if err != nil {
			return nil, err
		}
		return append(out, bpf.LoadScratch{Dst: bpf.RegX, N: depth}, bpf.ALUOpX{Op: op}), nil
	case *Load:
		return c.load(e, depth, out)
	}
	return nil, fmt.Errorf("compile filter: unknown expression type %T", e)
}

func (c *compiler) load(e *Load, depth int, out []bpf.Instruction) ([]bpf.Instruction, error) {
	var base uint32
	transport := false
	switch e.Proto {
	case ProtoLink:
		base = 0
	case ProtoIP, ProtoIP6, ProtoARP, ProtoRARP:
		base = c.link.pl
	case ProtoICMP6:
		base = c.link.pl + 40
	case ProtoTCP, ProtoUDP, ProtoSCTP, ProtoICMP:
		base, transport = c.link.pl, true
	default:
		return nil, &UnsupportedError{Part: e.Proto.String() + "[]", Pos: e.Pos}
	}
	idx, isConst, err := fold(e.Index)
	if err != nil {
		return nil, err
	}
	switch {
	case isConst && transport:
		return append(out, bpf.LoadMemShift{Off: base},
			bpf.LoadIndirect{Off: base + idx, Size: e.Size}), nil
	case isConst:
		return append(out, bpf.LoadAbsolute{Off: base + idx, Size: e.Size}), nil
	}
	out, err = c.arith(e.Index, depth, out)
	if err != nil {
		return nil, err
	}
	if transport {
		out = append(out, bpf.LoadMemShift{Off: base}, bpf.ALUOpX{Op: bpf.ALUOpAdd})
	}
	return append(out, bpf.TAX{}, bpf.LoadIndirect{Off: base, Size: e.Size}), nil
}

func (c *compiler) relation(n *Relation) (bexpr, error) {
	if err := c.afterGeneve("a byte comparison", n.Pos); err != nil {
		return nil, err
	}
	cx, err := c.conds(n.X)
	if err != nil {
		return nil, err
	}
	cy, err := c.conds(n.Y)
	if err != nil {
		return nil, err
	}
	t := btest{}
	if y, ok, err := fold(n.Y); err != nil {
		return nil, err
	} else if ok {
		if t.stmts, err = c.arith(n.X, 0, nil); err != nil {
			return nil, err
		}
		t.k = y
	} else {
		if t.stmts, err = c.arith(n.Y, 0, nil); err != nil {
			return nil, err
		}
		t.stmts = append(t.stmts, bpf.StoreScratch{Src: bpf.RegA, N: 0})
		if t.stmts, err = c.arith(n.X, 1, t.stmts); err != nil {
			return nil, err
		}
		t.stmts = append(t.stmts, bpf.LoadScratch{Dst: bpf.RegX, N: 0})
		t.useX = true
	}
	var b bexpr
	switch n.Op {
	case "=":
		t.cond = bpf.JumpEqual
		b = t
	case "!=":
		t.cond = bpf.JumpEqual
		b = bnot{t}
	case ">":
		t.cond = bpf.JumpGreaterThan
		b = t
	case ">=":
		t.cond = bpf.JumpGreaterOrEqual
		b = t
	case "<":
		t.cond = bpf.JumpGreaterOrEqual
		b = bnot{t}
	case "<=":
		t.cond = bpf.JumpGreaterThan
		b = bnot{t}
	default:
		return nil, &Error{Pos: n.Pos, Msg: fmt.Sprintf("unknown comparison %q", n.Op)}
	}
	all := append(append(cx, cy...), b)
	return and(all...), nil
}

// asm lays out a bexpr as instructions with symbolic forward jumps.
type asm struct {
	code   []ainsn
	labels []int // label -> index in code
}

type ainsnKind uint8

const (
	aPlain ainsnKind = iota
	aCond
	aJump
)

type ainsn struct {
	kind   ainsnKind
	ins    bpf.Instruction // aPlain
	cond   bpf.JumpTest    // aCond
	k      uint32
	useX   bool
	jt, jf int // labels; aJump uses jt
}

func (a *asm) newLabel() int {
	a.labels = append(a.labels, -1)
	return len(a.labels) - 1
}

func (a *asm) place(l int)               { a.labels[l] = len(a.code) }
func (a *asm) plain(ins bpf.Instruction) { a.code = append(a.code, ainsn{kind: aPlain, ins: ins}) }

// gen emits code that jumps to tl when b is true and to fl when it is false.
func (a *asm) gen(b bexpr, tl, fl int) {
	switch b := b.(type) {
	case band:
		m := a.newLabel()
		a.gen(b.x, m, fl)
		a.place(m)
		a.gen(b.y, tl, fl)
	case bor:
		m := a.newLabel()
		a.gen(b.x, tl, m)
		a.place(m)
		a.gen(b.y, tl, fl)
	case bnot:
		a.gen(b.x, fl, tl)
	case bconst:
		target := fl
		if b {
			target = tl
		}
		a.code = append(a.code, ainsn{kind: aJump, jt: target})
	case btest:
		for _, s := range b.stmts {
			a.plain(s)
		}
		a.code = append(a.code, ainsn{kind: aCond, cond: b.cond, k: b.k, useX: b.useX, jt: tl, jf: fl})
	}
}

// assemble resolves labels. A conditional jump whose target is more than
// 255 instructions away jumps to two "ja" trampolines placed after it.
func (a *asm) assemble() ([]bpf.Instruction, error) {
	n := len(a.code)
	for i, in := range a.code {
		if in.kind == aPlain {
			continue
		}
		targets := []int{in.jt, in.jf}
		if in.kind == aJump {
			targets = targets[:1]
		}
		for _, l := range targets {
			if at := a.labels[l]; at <= i || at >= n {
				return nil, fmt.Errorf("compile filter: internal error: bad jump target at %d", i)
			}
		}
	}
	expand := make([]bool, n)
	pos := make([]int, n+1)
	for {
		p := 0
		for i := range a.code {
			pos[i] = p
			p++
			if expand[i] {
				p += 2
			}
		}
		pos[n] = p
		changed := false
		for i, in := range a.code {
			if in.kind != aCond || expand[i] {
				continue
			}
			next := pos[i] + 1
			if pos[a.labels[in.jt]]-next > 255 || pos[a.labels[in.jf]]-next > 255 {
				expand[i] = true
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	out := make([]bpf.Instruction, 0, n)
	for i, in := range a.code {
		switch in.kind {
		case aPlain:
			out = append(out, in.ins)
			continue
		case aJump:
			skip := pos[a.labels[in.jt]] - (pos[i] + 1)
			if skip < 0 {
				return nil, fmt.Errorf("compile filter: internal error: backward jump at %d", i)
			}
			out = append(out, bpf.Jump{Skip: uint32(skip)})
			continue
		}
		tgtT, tgtF := pos[a.labels[in.jt]], pos[a.labels[in.jf]]
		next := pos[i] + 1
		if tgtT < next || tgtF < next {
			return nil, fmt.Errorf("compile filter: internal error: backward jump at %d", i)
		}
		var st, sf uint8
		if expand[i] {
			st, sf = 0, 1
		} else {
			st, sf = uint8(tgtT-next), uint8(tgtF-next)
		}
		if in.useX {
			out = append(out, bpf.JumpIfX{Cond: in.cond, SkipTrue: st, SkipFalse: sf})
		} else {
			out = append(out, bpf.JumpIf{Cond: in.cond, Val: in.k, SkipTrue: st, SkipFalse: sf})
		}
		if expand[i] {
			out = append(out, bpf.Jump{Skip: uint32(tgtT - (next + 1))}, bpf.Jump{Skip: uint32(tgtF - (next + 2))})
		}
	}
	return out, nil
}

// regState is what the A and X registers are known to hold: a description
// of the load that set them, or "" when unknown.
type regState struct {
	reached bool
	a, x    string
}

func (s regState) meet(t regState) regState {
	switch {
	case !s.reached:
		return t
	case !t.reached:
		return s
	}
	if s.a != t.a {
		s.a = ""
	}
	if s.x != t.x {
		s.x = ""
	}
	return s
}

// dropRedundantLoads removes loads that put into A or X what every path to
// them has already loaded there, and code that no path reaches. Packet data
// does not change and a repeated load cannot fail where the first one
// succeeded, so this never changes what the program accepts. All jumps go
// forward, so one pass in order sees every predecessor first.
func (a *asm) dropRedundantLoads() {
	n := len(a.code)
	labelsAt := make([][]int, n)
	for l, at := range a.labels {
		if at >= 0 && at < n {
			labelsAt[at] = append(labelsAt[at], l)
		}
	}
	pending := make([]regState, len(a.labels))
	keep := make([]bool, n)
	var fall regState // state falling through from the previous instruction
	fall.reached = true
	for i, in := range a.code {
		st := fall
		for _, l := range labelsAt[i] {
			st = st.meet(pending[l])
		}
		fall = regState{}
		if !st.reached {
			continue // dead code
		}
		keep[i] = true
		switch in.kind {
		case aJump:
			pending[in.jt] = pending[in.jt].meet(st)
			continue
		case aCond:
			pending[in.jt] = pending[in.jt].meet(st)
			pending[in.jf] = pending[in.jf].meet(st)
			continue
		}
		switch ins := in.ins.(type) {
		case bpf.LoadAbsolute:
			key := fmt.Sprintf("abs %d %d", ins.Off, ins.Size)
			if st.a == key {
				keep[i] = false
			}
			st.a = key
		case bpf.LoadIndirect:
			key := ""
			if st.x != "" {
				key = fmt.Sprintf("ind %d %d %s", ins.Off, ins.Size, st.x)
			}
			if key != "" && st.a == key {
				keep[i] = false
			}
			st.a = key
		case bpf.LoadMemShift:
			key := fmt.Sprintf("msh %d", ins.Off)
			if st.x == key {
				keep[i] = false
			}
			st.x = key
		case bpf.RetConstant, bpf.RetA:
			continue // no fall through
		case bpf.StoreScratch:
		case bpf.TAX, bpf.LoadScratch, bpf.LoadConstant:
			if ld, ok := ins.(bpf.LoadScratch); ok && ld.Dst == bpf.RegA {
				st.a = ""
			} else if lc, ok := ins.(bpf.LoadConstant); ok && lc.Dst == bpf.RegA {
				st.a = ""
			} else {
				st.x = ""
			}
		default:
			st.a = ""
		}
		fall = st
	}
	// Compact, pointing each label at the next kept instruction.
	newIndex := make([]int, n+1)
	var code []ainsn
	for i := 0; i < n; i++ {
		newIndex[i] = len(code)
		if keep[i] {
			code = append(code, a.code[i])
		}
	}
	newIndex[n] = len(code)
	for l, at := range a.labels {
		if at >= 0 {
			a.labels[l] = newIndex[at]
		}
	}
	a.code = code
}
