package filter

import (
	"fmt"
	"net/netip"
	"strings"
)

// maxDepth bounds parser recursion so hostile input cannot exhaust the stack.
const maxDepth = 200

// addrKind is the address qualifier: host, net, port, portrange or proto.
type addrKind uint8

const (
	addrDefault addrKind = iota
	addrHost
	addrNet
	addrPort
	addrPortRange
	addrProto
)

// qual is the qualifier set that libpcap carries from one term to the next,
// so that "host a or b" means "host a or host b". set is false for libpcap's
// "qerr" (no usable qualifiers, e.g. after "tcp" or "len > 3").
type qual struct {
	set   bool
	proto Proto
	dir   Dir
	addr  addrKind
	head  string // source text of the qualifiers, for messages
	pos   int
}

type parser struct {
	expr  string
	toks  []token
	i     int
	depth int
}

// Parse parses a tcpdump filter expression into a tree. An empty (or
// all-blank) expression returns a nil Node, which matches every frame.
// Errors are [*Error] for malformed input and [*UnsupportedError] for valid
// tcpdump syntax that this package does not implement.
func Parse(expr string) (Node, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	p := &parser{expr: expr, toks: toks}
	if p.peek().kind == tEOF {
		return nil, nil
	}
	n, _, err := p.parseExpr(qual{})
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tPunct && t.text == ")" {
			return nil, errorf(t.pos, `unbalanced ")"`)
		}
		return nil, p.unexpected(`"and", "or" or end of expression`)
	}
	return n, nil
}

func (p *parser) peek() token        { return p.toks[p.i] }
func (p *parser) peekAt(k int) token { return p.tokAt(p.i + k) }

// tokAt returns token k, or the final EOF token past the end.
func (p *parser) tokAt(k int) token { return p.toks[min(k, len(p.toks)-1)] }
func (p *parser) next() token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (t token) is(text string) bool {
	return (t.kind == tKW || t.kind == tPunct) && t.text == text
}

func (t token) describe() string {
	if t.kind == tEOF {
		return "end of expression"
	}
	return fmt.Sprintf("%q", t.src)
}

func (p *parser) unexpected(want string) error {
	t := p.peek()
	return errorf(t.pos, "expected %s, got %s", want, t.describe())
}

func (p *parser) expect(text string) error {
	if !p.peek().is(text) {
		return p.unexpected(fmt.Sprintf("%q", text))
	}
	p.next()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return errorf(p.peek().pos, "expression nested too deeply")
	}
	return nil
}

// parseExpr parses "term { (and|or) (term|id) }". and/or have equal
// precedence and associate to the left, as in libpcap.
func (p *parser) parseExpr(prev qual) (Node, qual, error) {
	if err := p.enter(); err != nil {
		return nil, qual{}, err
	}
	defer func() { p.depth-- }()
	x, q, err := p.parseTerm(prev)
	if err != nil {
		return nil, q, err
	}
	for p.peek().is("and") || p.peek().is("or") {
		op := p.next().text
		var y Node
		if p.startsID(p.i) {
			y, q, err = p.parseID(q)
		} else {
			y, q, err = p.parseTerm(q)
		}
		if err != nil {
			return nil, q, err
		}
		if op == "and" {
			x = &And{X: x, Y: y}
		} else {
			x = &Or{X: x, Y: y}
		}
	}
	return x, q, nil
}

// isArithOp reports whether t continues an arithmetic expression or starts a
// comparison.
func isArithOp(t token) bool {
	if t.kind != tPunct {
		return false
	}
	switch t.text {
	case "+", "-", "*", "/", "%", "&", "|", "^", "<<", ">>", "=", "!=", "<", "<=", ">", ">=":
		return true
	}
	return false
}

// matchParen returns the index of the ")" matching the "(" at k, or -1.
func (p *parser) matchParen(k int) int {
	d := 0
	for j := k; j < len(p.toks); j++ {
		switch {
		case p.toks[j].is("("):
			d++
		case p.toks[j].is(")"):
			d--
			if d == 0 {
				return j
			}
		}
	}
	return -1
}

// startsID reports whether the tokens at k form a bare value ("id" in
// libpcap's grammar) rather than a term: an address, a number not followed
// by an operator, "not" before one, or a parenthesized list of them.
func (p *parser) startsID(k int) bool {
	for steps := 0; k < len(p.toks) && steps < len(p.toks); steps++ {
		t := p.toks[k]
		switch {
		case t.kind == tHID || t.kind == tHID6 || t.kind == tEID || t.kind == tID:
			return true
		case t.kind == tNum:
			return k+1 < len(p.toks) && !isArithOp(p.toks[k+1])
		case t.is("not"):
			k++
		case t.is("("):
			j := p.matchParen(k)
			if j < 0 || (j+1 < len(p.toks) && isArithOp(p.toks[j+1])) {
				return false
			}
			k++
		default:
			return false
		}
	}
	return false
}

// isPname reports whether t is a protocol name usable as a qualifier.
func isPname(t token) (Proto, bool) {
	if t.kind != tKW {
		return 0, false
	}
	switch t.text {
	case "ether":
		return ProtoLink, true
	case "ip":
		return ProtoIP, true
	case "ip6":
		return ProtoIP6, true
	case "arp":
		return ProtoARP, true
	case "rarp":
		return ProtoRARP, true
	case "tcp":
		return ProtoTCP, true
	case "udp":
		return ProtoUDP, true
	case "sctp":
		return ProtoSCTP, true
	case "icmp":
		return ProtoICMP, true
	case "icmp6":
		return ProtoICMP6, true
	}
	return 0, false
}

func isQualWord(t token) bool {
	if t.kind != tKW {
		return false
	}
	switch t.text {
	case "src", "dst", "host", "net", "port", "portrange", "proto", "gateway", "protochain",
		"addr1", "addr2", "addr3", "addr4", "address1", "address2", "address3", "address4", "ra", "ta":
		return true
	}
	return false
}

func (p *parser) srcText(from, to int) string {
	return strings.TrimSpace(p.expr[from:to])
}

// parseTerm parses "not term", "( expr )", a qualified primitive, a bare
// protocol, vlan/less/greater, or an arithmetic comparison.
func (p *parser) parseTerm(prev qual) (Node, qual, error) {
	if err := p.enter(); err != nil {
		return nil, qual{}, err
	}
	defer func() { p.depth-- }()
	t := p.peek()
	switch {
	case t.is("not"):
		p.next()
		x, q, err := p.parseTerm(prev)
		if err != nil {
			return nil, q, err
		}
		return &Not{X: x}, q, nil
	case t.is("("):
		j := p.matchParen(p.i)
		if j < 0 {
			return nil, prev, errorf(t.pos, `unbalanced "("`)
		}
		if isArithOp(p.toks[j+1]) {
			return p.parseRelation()
		}
		p.next()
		x, _, err := p.parseExpr(prev)
		if err != nil {
			return nil, prev, err
		}
		if err := p.expect(")"); err != nil {
			return nil, prev, err
		}
		return x, prev, nil
	case t.kind == tNum || t.is("len") || t.is("-"):
		return p.parseRelation()
	case t.is("vlan"):
		p.next()
		n := &Vlan{Pos: t.pos}
		if v, ok := p.pnum(); ok {
			if v > 4095 {
				return nil, qual{}, errorf(t.pos, "VLAN tag %d greater than maximum 4095", v)
			}
			n.ID, n.HasID = v, true
		}
		return n, qual{}, nil
	case t.is("mpls"):
		p.next()
		n := &MPLS{Pos: t.pos}
		if v, ok := p.pnum(); ok {
			if v > 1048575 {
				return nil, qual{}, errorf(t.pos, "MPLS label %d greater than maximum 1048575", v)
			}
			n.Label, n.HasLabel = v, true
		}
		return n, qual{}, nil
	case t.is("geneve"):
		p.next()
		n := &Geneve{Pos: t.pos}
		if v, ok := p.pnum(); ok {
			if v > 16777215 {
				return nil, qual{}, errorf(t.pos, "Geneve VNI %d greater than maximum 16777215", v)
			}
			n.VNI, n.HasVNI = v, true
		}
		return n, qual{}, nil
	case t.is("pppoes"):
		p.next()
		n := &PPPoES{Pos: t.pos}
		if v, ok := p.pnum(); ok {
			if v > 65535 {
				return nil, qual{}, errorf(t.pos, "PPPoE session number %d greater than maximum 65535", v)
			}
			n.ID, n.HasID = v, true
		}
		return n, qual{}, nil
	case t.is("less") || t.is("greater"):
		p.next()
		nt := p.peek()
		if nt.kind != tNum {
			return nil, qual{}, p.unexpected(fmt.Sprintf("a number after %q", t.src))
		}
		p.next()
		op := ">="
		if t.text == "less" {
			op = "<="
		}
		return &Relation{Pos: t.pos, Op: op, X: &Len{}, Y: &Num{V: nt.val}}, qual{}, nil
	}
	if proto, ok := isPname(t); ok {
		nt := p.peekAt(1)
		switch {
		case nt.is("["):
			return p.parseRelation()
		case isQualWord(nt):
			return p.parseHead()
		case nt.kind == tKW && (nt.text == "broadcast" || nt.text == "multicast"):
			return nil, qual{}, &UnsupportedError{Part: p.srcText(t.pos, nt.pos+len(nt.src)), Pos: t.pos}
		}
		if proto == ProtoLink {
			return nil, qual{}, &UnsupportedError{Part: t.src, Pos: t.pos,
				Reason: `link-layer tests are not supported; "ether[offset]" loads are`}
		}
		p.next()
		return &ProtoAbbrev{Pos: t.pos, Proto: proto}, qual{}, nil
	}
	if isQualWord(t) {
		return p.parseHead()
	}
	if t.kind == tKW && unsupportedKeywords[t.text] {
		return nil, qual{}, &UnsupportedError{Part: t.src, Pos: t.pos}
	}
	if t.kind == tEOF {
		return nil, qual{}, p.unexpected("a filter primitive such as host, port or tcp")
	}
	if t.kind == tHID || t.kind == tHID6 || t.kind == tID || t.kind == tEID {
		return nil, qual{}, errorf(t.pos, "expected a qualifier such as host, net or port before %s", t.describe())
	}
	return nil, qual{}, p.unexpected("a filter primitive such as host, port or tcp")
}

// pnum consumes "NUM" or "( pnum )" if present.
func (p *parser) pnum() (uint32, bool) {
	if p.peek().kind == tNum && !isArithOp(p.peekAt(1)) {
		return p.next().val, true
	}
	if p.peek().is("(") {
		k := p.i + 1
		for p.tokAt(k).is("(") {
			k++
		}
		if p.tokAt(k).kind == tNum {
			depth := k - p.i
			for d := 1; d <= depth; d++ {
				if !p.tokAt(k + d).is(")") {
					return 0, false
				}
			}
			v := p.toks[k].val
			p.i = k + depth + 1
			return v, true
		}
	}
	return 0, false
}

// parseHead parses "[proto] [src|dst|src or dst|src and dst] [host|net|port|portrange]"
// or "[proto] proto", then the value that follows.
func (p *parser) parseHead() (Node, qual, error) {
	start := p.peek().pos
	q := qual{set: true, pos: start}
	if proto, ok := isPname(p.peek()); ok {
		q.proto = proto
		p.next()
	}
	t := p.peek()
	dirSeen := false
	switch {
	case t.is("src") || t.is("dst"):
		dirSeen = true
		p.next()
		q.dir = DirSrc
		if t.text == "dst" {
			q.dir = DirDst
		}
		other := "dst"
		if t.text == "dst" {
			other = "src"
		}
		if (p.peek().is("or") || p.peek().is("and")) && p.peekAt(1).is(other) {
			if p.next().text == "or" {
				q.dir = DirDefault
			} else {
				q.dir = DirSrcAndDst
			}
			p.next()
		}
	case t.kind == tKW && isQualWord(t) && t.text != "host" && t.text != "net" &&
		t.text != "port" && t.text != "portrange" && t.text != "proto":
		// gateway, protochain, 802.11 address qualifiers.
		p.next()
		return nil, q, &UnsupportedError{Part: p.srcText(start, t.pos+len(t.src)), Pos: start}
	}
	t = p.peek()
	switch {
	case t.is("host"):
		q.addr = addrHost
	case t.is("net"):
		q.addr = addrNet
	case t.is("port"):
		q.addr = addrPort
	case t.is("portrange"):
		q.addr = addrPortRange
	case t.is("proto") && !dirSeen:
		q.addr = addrProto
	case t.kind == tKW && (t.text == "gateway" || t.text == "protochain") && !dirSeen:
		p.next()
		return nil, q, &UnsupportedError{Part: p.srcText(start, t.pos+len(t.src)), Pos: start}
	default:
		if !dirSeen {
			return nil, q, p.unexpected("host, net, port, portrange or proto")
		}
	}
	if q.addr != addrDefault {
		p.next()
	}
	q.head = p.srcText(start, p.toks[p.i-1].pos+len(p.toks[p.i-1].src))
	if q.proto == ProtoLink {
		return nil, q, &UnsupportedError{Part: q.head, Pos: start,
			Reason: "MAC address filters are not supported; sockscope supports IP host, net, port and proto filters"}
	}
	return p.parseID(q)
}

// parseID parses a value using the qualifiers q: "not id", "( id {and|or id} )",
// a number, an IPv4 or IPv6 address or network, or a name.
func (p *parser) parseID(q qual) (Node, qual, error) {
	if err := p.enter(); err != nil {
		return nil, q, err
	}
	defer func() { p.depth-- }()
	t := p.peek()
	if t.is("not") {
		p.next()
		x, q2, err := p.parseID(q)
		if err != nil {
			return nil, q, err
		}
		return &Not{X: x}, q2, nil
	}
	if t.is("(") {
		p.next()
		x, _, err := p.parseID(q)
		if err != nil {
			return nil, q, err
		}
		for p.peek().is("and") || p.peek().is("or") {
			op := p.next().text
			y, _, err := p.parseID(q)
			if err != nil {
				return nil, q, err
			}
			if op == "and" {
				x = &And{X: x, Y: y}
			} else {
				x = &Or{X: x, Y: y}
			}
		}
		if err := p.expect(")"); err != nil {
			return nil, q, err
		}
		return x, q, nil
	}
	if !q.set {
		if t.kind == tHID || t.kind == tHID6 || t.kind == tNum || t.kind == tID || t.kind == tEID {
			return nil, q, errorf(t.pos, "%s needs a qualifier such as host, net or port (the previous term has none to reuse)", t.describe())
		}
		return nil, q, p.unexpected("a filter primitive")
	}
	switch t.kind {
	case tNum:
		p.next()
		n, err := p.numValue(q, t)
		return n, q, err
	case tHID:
		p.next()
		n, err := p.hidValue(q, t)
		return n, q, err
	case tHID6:
		p.next()
		n, err := p.hid6Value(q, t)
		return n, q, err
	case tEID:
		p.next()
		return nil, q, &UnsupportedError{Part: t.src, Pos: t.pos, Reason: "MAC address filters are not supported"}
	case tID:
		p.next()
		n, err := p.nameValue(q, t)
		return n, q, err
	}
	return nil, q, p.unexpected(fmt.Sprintf("a value after %q", q.head))
}

// numValue is libpcap's gen_ncode for a plain number.
func (p *parser) numValue(q qual, t token) (Node, error) {
	v := t.val
	switch q.addr {
	case addrDefault, addrHost, addrNet:
		mask := uint32(0xffffffff)
		if q.addr == addrNet {
			// Promote a short network number: "net 10" is 10.0.0.0/8.
			for v != 0 && v&0xff000000 == 0 {
				v <<= 8
				mask <<= 8
			}
		}
		return p.host4(q, t, v, mask)
	case addrPort, addrPortRange:
		return p.port(q, t, v, v)
	case addrProto:
		return p.protoNum(q, t, v)
	}
	return nil, errorf(t.pos, "unexpected qualifier")
}

func (p *parser) protoNum(q qual, t token, v uint32) (Node, error) {
	switch q.proto {
	case ProtoDefault, ProtoIP, ProtoIP6:
		return &ProtoNum{Pos: q.pos, Proto: q.proto, Num: v}, nil
	}
	return nil, &UnsupportedError{Part: q.head, Pos: q.pos, Reason: `only "proto", "ip proto" and "ip6 proto" are supported`}
}

// atoin is libpcap's __pcap_atoin: a dotted IPv4 prefix and its bit length.
func atoin(s string) (uint32, int, bool) {
	var addr uint32
	n := 0
	for _, part := range strings.Split(s, ".") {
		v := 0
		for i := 0; i < len(part); i++ {
			if v > 25 {
				return 0, 0, false
			}
			v = v*10 + int(part[i]-'0')
		}
		if v > 255 || part == "" {
			return 0, 0, false
		}
		addr = addr<<8 | uint32(v)
		n += 8
	}
	return addr, n, true
}

// hidValue handles "a.b.c.d", "a.b/len" and "a.b.c.d mask m.m.m.m".
func (p *parser) hidValue(q qual, t token) (Node, error) {
	v, vlen, ok := atoin(t.text)
	if !ok {
		return nil, errorf(t.pos, "invalid IPv4 address %q", t.text)
	}
	switch q.addr {
	case addrPort, addrPortRange, addrProto:
		return nil, errorf(t.pos, "%q modifier applied to IP address", q.head)
	}
	if p.peek().is("/") || p.peek().is("mask") {
		sep := p.next()
		var m uint32
		var what string
		if sep.text == "/" {
			nt := p.peek()
			if nt.kind != tNum {
				return nil, p.unexpected("a prefix length after \"/\"")
			}
			p.next()
			if nt.val > 32 {
				return nil, errorf(nt.pos, "mask length must be <= 32")
			}
			if nt.val > 0 {
				m = 0xffffffff << (32 - nt.val)
			}
			what = fmt.Sprintf("%s/%d", t.text, nt.val)
		} else {
			nt := p.peek()
			if nt.kind != tHID {
				return nil, p.unexpected(`a dotted netmask after "mask"`)
			}
			p.next()
			mv, mlen, ok := atoin(nt.text)
			if !ok {
				return nil, errorf(nt.pos, "invalid IPv4 address %q", nt.text)
			}
			m = mv << (32 - mlen)
			what = t.text + " mask " + nt.text
		}
		v <<= 32 - vlen
		if v&^m != 0 {
			return nil, errorf(t.pos, "non-network bits set in %q", what)
		}
		if q.addr != addrNet {
			return nil, errorf(t.pos, "mask syntax for networks only (use \"net %s\")", what)
		}
		return p.host4(q, t, v, m)
	}
	// Promote a short address: "host 10.1" is 10.1.0.0/16.
	mask := uint32(0xffffffff) << (32 - vlen)
	v <<= 32 - vlen
	return p.host4(q, t, v, mask)
}

func u32Addr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// host4 is libpcap's gen_host qualifier check for an IPv4 address.
func (p *parser) host4(q qual, t token, v, mask uint32) (Node, error) {
	switch q.proto {
	case ProtoDefault, ProtoIP, ProtoARP, ProtoRARP:
	case ProtoIP6:
		return nil, errorf(q.pos, "'ip6' modifier applied to ip host")
	default:
		return nil, errorf(q.pos, "'%s' modifier applied to host", q.proto)
	}
	return &Host{Pos: q.pos, Proto: q.proto, Dir: q.dir, Addr: u32Addr(v & mask), Mask: u32Addr(mask)}, nil
}

// hid6Value handles "addr" and "addr/len" for IPv6.
func (p *parser) hid6Value(q qual, t token) (Node, error) {
	a, err := netip.ParseAddr(t.text)
	if err != nil {
		return nil, errorf(t.pos, "invalid IPv6 address %q", t.text)
	}
	bitsLen, what := 128, t.text
	if p.peek().is("/") {
		p.next()
		nt := p.peek()
		if nt.kind != tNum {
			return nil, p.unexpected(`a prefix length after "/"`)
		}
		p.next()
		if nt.val > 128 {
			return nil, errorf(nt.pos, "mask length must be <= 128")
		}
		bitsLen = int(nt.val)
		what = fmt.Sprintf("%s/%d", t.text, nt.val)
	}
	switch q.addr {
	case addrPort, addrPortRange, addrProto:
		return nil, errorf(t.pos, "%q modifier applied to IP address", q.head)
	}
	pfx := netip.PrefixFrom(a, bitsLen)
	if pfx.Masked().Addr() != a {
		return nil, errorf(t.pos, "non-network bits set in %q", what)
	}
	if bitsLen != 128 && q.addr != addrNet {
		return nil, errorf(t.pos, "mask syntax for networks only (use \"net %s\")", what)
	}
	switch q.proto {
	case ProtoDefault, ProtoIP6:
	default:
		return nil, errorf(q.pos, "'%s' modifier applied to ip6 host", q.proto)
	}
	return &Host{Pos: q.pos, Proto: q.proto, Dir: q.dir, Addr: a, Mask: maskOf(false, bitsLen)}, nil
}

// port builds a Port after libpcap's qualifier checks.
func (p *parser) port(q qual, t token, lo, hi uint32) (Node, error) {
	switch q.proto {
	case ProtoDefault, ProtoTCP, ProtoUDP, ProtoSCTP:
	default:
		return nil, errorf(q.pos, "illegal qualifier of 'port' (%q)", q.proto.String())
	}
	if lo > 65535 {
		return nil, errorf(t.pos, "illegal port number %d > 65535", lo)
	}
	if hi > 65535 {
		return nil, errorf(t.pos, "illegal port number %d > 65535", hi)
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return &Port{Pos: q.pos, Proto: q.proto, Dir: q.dir, Lo: uint16(lo), Hi: uint16(hi), Range: q.addr == addrPortRange}, nil
}

// protoNames maps the names accepted after "proto" (escaped, as in
// "ip proto \tcp") to numbers.
var protoByName = map[string]uint32{"icmp": 1, "tcp": 6, "udp": 17, "icmp6": 58, "ipv6-icmp": 58, "sctp": 132}

// nameValue handles identifiers: port ranges written "lo-hi" and protocol
// names; host and service names are refused.
func (p *parser) nameValue(q qual, t token) (Node, error) {
	switch q.addr {
	case addrPortRange:
		// libpcap reads "lo-hi" with sscanf("%d-%d"): decimal only.
		lo, hi, ok := strings.Cut(t.text, "-")
		l, okl := decimal(lo)
		h, okh := decimal(hi)
		if ok && okl && okh {
			return p.port(q, t, l, h)
		}
		return nil, &UnsupportedError{Part: t.src, Pos: t.pos, Reason: "service names are not resolved; use numeric ports such as 8000-9000"}
	case addrPort:
		return nil, &UnsupportedError{Part: t.src, Pos: t.pos, Reason: "service names are not resolved; use a port number"}
	case addrProto:
		if v, ok := protoByName[t.text]; ok {
			return p.protoNum(q, t, v)
		}
		return nil, &UnsupportedError{Part: t.src, Pos: t.pos, Reason: `protocol names other than tcp, udp, sctp, icmp and icmp6 are not resolved; use a number`}
	}
	return nil, &UnsupportedError{Part: t.src, Pos: t.pos, Reason: "host names are not resolved; use an IP address"}
}

// decimal parses a non-empty run of decimal digits up to 65536 (larger
// values are clamped so that the port range check reports them).
func decimal(s string) (uint32, bool) {
	if s == "" {
		return 0, false
	}
	var v uint32
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		v = min(v*10+uint32(s[i]-'0'), 1<<20)
	}
	return v, true
}

// Arithmetic precedence, lowest first, as in libpcap's grammar. % and ^
// have no precedence there, which makes them take everything to their right.
var binPrec = map[string]int{"|": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5}

var relOps = map[string]bool{"=": true, "!=": true, "<": true, "<=": true, ">": true, ">=": true}

// parseRelation parses "arith relop arith".
func (p *parser) parseRelation() (Node, qual, error) {
	start := p.peek().pos
	x, err := p.parseArith(1)
	if err != nil {
		return nil, qual{}, err
	}
	t := p.peek()
	if t.kind != tPunct || !relOps[t.text] {
		return nil, qual{}, p.unexpected("a comparison operator (=, !=, <, <=, >, >=)")
	}
	p.next()
	y, err := p.parseArith(1)
	if err != nil {
		return nil, qual{}, err
	}
	return &Relation{Pos: start, Op: t.text, X: x, Y: y}, qual{}, nil
}

func (p *parser) parseArith(minPrec int) (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for {
		t := p.peek()
		prec, ok := binPrec[t.text]
		if t.kind != tPunct || !ok || prec < minPrec {
			return x, nil
		}
		p.next()
		y, err := p.parseArith(prec + 1)
		if err != nil {
			return nil, err
		}
		x = &BinOp{Pos: t.pos, Op: t.text, X: x, Y: y}
	}
}

func (p *parser) parseUnary() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.peek().is("-") {
		p.next()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		return &Neg{X: x}, nil
	}
	x, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.is("%") || t.is("^") {
		p.next()
		y, err := p.parseArith(1)
		if err != nil {
			return nil, err
		}
		return &BinOp{Pos: t.pos, Op: t.text, X: x, Y: y}, nil
	}
	return x, nil
}

func (p *parser) parsePrimary() (Expr, error) {
	t := p.peek()
	switch {
	case t.kind == tNum:
		p.next()
		return &Num{V: t.val}, nil
	case t.is("len"):
		p.next()
		return &Len{}, nil
	case t.is("("):
		p.next()
		x, err := p.parseArith(1)
		if err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		return x, nil
	}
	if proto, ok := isPname(t); ok && p.peekAt(1).is("[") {
		p.next()
		p.next()
		idx, err := p.parseArith(1)
		if err != nil {
			return nil, err
		}
		size := 1
		if p.peek().is(":") {
			p.next()
			st := p.peek()
			if st.kind != tNum {
				return nil, p.unexpected("a size (1, 2 or 4) after \":\"")
			}
			p.next()
			if st.val != 1 && st.val != 2 && st.val != 4 {
				return nil, errorf(st.pos, "data size must be 1, 2, or 4")
			}
			size = int(st.val)
		}
		if err := p.expect("]"); err != nil {
			return nil, err
		}
		return &Load{Pos: t.pos, Proto: proto, Index: idx, Size: size}, nil
	}
	if t.kind == tKW && unsupportedKeywords[t.text] && p.peekAt(1).is("[") {
		return nil, &UnsupportedError{Part: t.src + "[]", Pos: t.pos}
	}
	return nil, p.unexpected("a number, len, or proto[offset]")
}
