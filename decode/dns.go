package decode

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

const (
	// dnsHeaderLen is the fixed DNS header: id, flags and four counts.
	dnsHeaderLen = 12
	// dnsMaxName is the longest presentation of a name the decoder builds.
	// RFC 1035 limits a name to 255 octets on the wire; escaped bytes (\DDD)
	// can make the text up to four times longer.
	dnsMaxName = 255
	// dnsMaxPointers bounds compression pointers followed for one name, so a
	// pointer loop costs a few steps instead of hanging the decoder.
	dnsMaxPointers = 32
	// dnsMaxAnswers bounds how many resource records are parsed for the
	// summary; a claimed count never drives an allocation.
	dnsMaxAnswers = 64
)

// dnsDecoder frames DNS messages: one per datagram over UDP, and one per 2-byte
// length prefix over TCP (RFC 1035 §4.2.2). It is stateless apart from the
// transport.
type dnsDecoder struct {
	transport Transport
}

var _ Decoder = (*dnsDecoder)(nil)

// newDNS returns a DNS decoder for the transport (Datagram: b is one whole
// datagram; Stream: length-prefixed messages).
func newDNS(t Transport) Decoder { return &dnsDecoder{transport: t} }

func dnsErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "dns", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Next implements Decoder.
func (d *dnsDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if d.transport == Datagram {
		if len(b) == 0 {
			return Message{}, 0, ErrNeedMore
		}
		m, err := dnsMessage(b, 0)
		if err != nil {
			return Message{}, 0, err
		}
		return m, len(b), nil
	}
	if len(b) < 2 {
		return Message{}, 0, ErrNeedMore
	}
	l := int(binary.BigEndian.Uint16(b))
	if l < dnsHeaderLen {
		return Message{}, 0, dnsErr(0, "length prefix %d is shorter than a DNS header (12 bytes)", l)
	}
	if len(b) < 2+l {
		return Message{}, 2 + l, ErrNeedMore
	}
	m, err := dnsMessage(b[2:2+l], 2)
	if err != nil {
		return Message{}, 0, err
	}
	m.Parts = append([]Part{{reassembly.ByteRange{Start: 0, End: 2}, "length"}}, m.Parts...)
	m.Fields = append(m.Fields, Field{"length", strconv.Itoa(l)})
	return m, 2 + l, nil
}

// dnsMessage describes one DNS message msg, which starts base bytes into the
// Message (the TCP length prefix). Compression pointers are offsets into msg.
func dnsMessage(msg []byte, base int) (Message, error) {
	if len(msg) < dnsHeaderLen {
		return Message{}, dnsErr(base, "%d bytes is shorter than a DNS header (12 bytes)", len(msg))
	}
	id := binary.BigEndian.Uint16(msg[0:])
	flags := binary.BigEndian.Uint16(msg[2:])
	qd := int(binary.BigEndian.Uint16(msg[4:]))
	an := int(binary.BigEndian.Uint16(msg[6:]))
	ns := int(binary.BigEndian.Uint16(msg[8:]))
	ar := int(binary.BigEndian.Uint16(msg[10:]))
	resp := flags&0x8000 != 0
	opcode := int(flags>>11) & 0xf
	rcode := int(flags) & 0xf
	part := func(start, end int, label string) Part {
		return Part{reassembly.ByteRange{Start: int64(base + start), End: int64(base + end)}, label}
	}
	m := Message{Protocol: "dns", Parts: []Part{part(0, dnsHeaderLen, "header")}}

	off := dnsHeaderLen
	var qname, qtype string
	if qd > 0 {
		name, next, err := dnsName(msg, off)
		if err != "" {
			return Message{}, dnsErr(base+off, "question name: %s", err)
		}
		if next+4 > len(msg) {
			return Message{}, dnsErr(base+next, "question truncated: no type and class")
		}
		qname, qtype = name, dnsTypeName(binary.BigEndian.Uint16(msg[next:]))
		off = next + 4
		// Further questions (almost never sent) are skipped, not described.
		for i := 1; i < qd && off < len(msg); i++ {
			_, next, err := dnsName(msg, off)
			if err != "" || next+4 > len(msg) {
				break
			}
			off = next + 4
		}
		m.Parts = append(m.Parts, part(dnsHeaderLen, off, "question"))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "#%d ", id)
	if opcode != 0 {
		b.WriteString(dnsOpcodeName(opcode) + " ")
	}
	if qd > 0 {
		b.WriteString(qtype + "? " + qname)
	} else {
		b.WriteString("(no question)")
	}
	var rdataText []string
	if resp {
		answers, types, end := dnsAnswers(msg, off, an)
		if end > off {
			m.Parts = append(m.Parts, part(off, end, "answers"))
		}
		if end < len(msg) && ns+ar > 0 {
			m.Parts = append(m.Parts, part(end, len(msg), "authority and additional"))
		}
		rdataText = answers
		b.WriteString(" → ")
		switch {
		case rcode != 0:
			b.WriteString(dnsRcodeName(rcode))
		case an == 0:
			b.WriteString("no answers")
		case an == 1 && len(answers) == 1:
			b.WriteString(answers[0])
		default:
			fmt.Fprintf(&b, "%d answers", an)
			if len(types) > 0 {
				b.WriteString(" (" + strings.Join(types, ", ") + ")")
			}
		}
		if flags&0x0200 != 0 {
			b.WriteString(" (truncated)")
		}
	}
	m.Summary = b.String()

	qr := "query"
	m.Role, m.Key = RoleRequest, strconv.Itoa(int(id))
	if resp {
		qr = "response"
		m.Role = RoleResponse
	}
	m.Fields = []Field{
		{"id", strconv.Itoa(int(id))},
		{"qr", qr},
		{"opcode", dnsOpcodeName(opcode)},
		{"flags", dnsFlags(flags)},
		{"rcode", dnsRcodeName(rcode)},
	}
	if qd > 0 {
		m.Fields = append(m.Fields, Field{"qname", qname}, Field{"qtype", qtype})
	}
	m.Fields = append(m.Fields,
		Field{"qdcount", strconv.Itoa(qd)},
		Field{"ancount", strconv.Itoa(an)},
		Field{"nscount", strconv.Itoa(ns)},
		Field{"arcount", strconv.Itoa(ar)},
	)
	for i, a := range rdataText {
		if i == 8 {
			break
		}
		m.Fields = append(m.Fields, Field{"answer", a})
	}
	return m, nil
}

// dnsAnswers parses up to count answer records starting at off and returns
// each one as text ("A 93.184.216.34"; just the type for record types it does
// not render), the distinct types in order, and where parsing stopped. A
// malformed record ends the list: the counts in the header still say how many
// there should be.
func dnsAnswers(msg []byte, off, count int) (texts, types []string, end int) {
	for i := 0; i < count && i < dnsMaxAnswers; i++ {
		_, next, err := dnsName(msg, off)
		if err != "" || next+10 > len(msg) {
			break
		}
		typ := binary.BigEndian.Uint16(msg[next:])
		rdlen := int(binary.BigEndian.Uint16(msg[next+8:]))
		rdStart := next + 10
		if rdStart+rdlen > len(msg) {
			break
		}
		name := dnsTypeName(typ)
		if !slices.Contains(types, name) {
			types = append(types, name)
		}
		texts = append(texts, dnsRdata(msg, typ, rdStart, rdlen))
		off = rdStart + rdlen
	}
	return texts, types, off
}

// dnsRdata renders the data of one record for a summary; the address alone
// for A/AAAA, since "A? example.com → 93.184.216.34" already says the type.
func dnsRdata(msg []byte, typ uint16, start, n int) string {
	rd := msg[start : start+n]
	name := dnsTypeName(typ)
	switch typ {
	case 1:
		if n == 4 {
			return netip.AddrFrom4([4]byte(rd)).String()
		}
	case 28:
		if n == 16 {
			return netip.AddrFrom16([16]byte(rd)).String()
		}
	case 2, 5, 12: // NS, CNAME, PTR
		if s, _, err := dnsName(msg, start); err == "" {
			return name + " " + s
		}
	case 15: // MX
		if n >= 3 {
			if s, _, err := dnsName(msg, start+2); err == "" {
				return fmt.Sprintf("MX %d %s", binary.BigEndian.Uint16(rd), s)
			}
		}
	case 16: // TXT: the first character-string, shortened
		if n >= 1 && int(rd[0]) < n {
			txt := rd[1 : 1+int(rd[0])]
			if len(txt) > 60 {
				return "TXT " + strconv.Quote(string(txt[:60])) + "…"
			}
			return "TXT " + strconv.Quote(string(txt))
		}
	}
	return name
}

// dnsName reads the possibly compressed name at off in msg and returns it in
// presentation form ("example.com", "." for the root) and the offset just
// after it in the original position. Each compression pointer must point
// before the labels read so far, so pointers strictly go backwards and a loop
// is impossible; at most dnsMaxPointers are followed, and a name longer than
// 255 octets is an error.
func dnsName(msg []byte, off int) (string, int, string) {
	var b strings.Builder
	next := -1 // offset after the name where it started, set at the first pointer
	wire := 0  // octets of the uncompressed name, for the 255 limit
	pointers := 0
	limit := off // a pointer must point before this: the start of the labels being read
	for {
		if off >= len(msg) {
			return "", 0, "runs past the end of the message"
		}
		l := int(msg[off])
		switch {
		case l == 0:
			if next < 0 {
				next = off + 1
			}
			if b.Len() == 0 {
				return ".", next, ""
			}
			return b.String(), next, ""
		case l&0xc0 == 0xc0:
			if off+1 >= len(msg) {
				return "", 0, "compression pointer runs past the end"
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if ptr >= limit {
				return "", 0, fmt.Sprintf("compression pointer to %d does not point before the name", ptr)
			}
			if pointers++; pointers > dnsMaxPointers {
				return "", 0, "too many compression pointers"
			}
			if next < 0 {
				next = off + 2
			}
			off, limit = ptr, ptr
		case l&0xc0 != 0:
			return "", 0, fmt.Sprintf("label type 0x%02x is not supported", l&0xc0)
		default:
			if off+1+l > len(msg) {
				return "", 0, "label runs past the end of the message"
			}
			if wire += l + 1; wire > dnsMaxName {
				return "", 0, "name longer than 255 octets"
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			for _, c := range msg[off+1 : off+1+l] {
				switch {
				case c == '.' || c == '\\':
					b.WriteByte('\\')
					b.WriteByte(c)
				case c < 0x21 || c > 0x7e:
					fmt.Fprintf(&b, "\\%03d", c)
				default:
					b.WriteByte(c)
				}
			}
			off += 1 + l
		}
	}
}

// dnsTypeNames names the common record types (IANA DNS RR TYPEs).
var dnsTypeNames = map[uint16]string{
	1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT",
	17: "RP", 18: "AFSDB", 24: "SIG", 25: "KEY", 28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR",
	36: "KX", 37: "CERT", 39: "DNAME", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY",
	46: "RRSIG", 47: "NSEC", 48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA",
	53: "SMIMEA", 55: "HIP", 59: "CDS", 60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD",
	64: "SVCB", 65: "HTTPS", 99: "SPF", 108: "EUI48", 109: "EUI64", 249: "TKEY", 250: "TSIG",
	251: "IXFR", 252: "AXFR", 255: "ANY", 256: "URI", 257: "CAA",
}

func dnsTypeName(t uint16) string {
	if s, ok := dnsTypeNames[t]; ok {
		return s
	}
	return "TYPE" + strconv.Itoa(int(t)) // RFC 3597 notation
}

func dnsRcodeName(r int) string {
	names := [...]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI"}
	if r >= 0 && r < len(names) {
		return names[r]
	}
	return "RCODE" + strconv.Itoa(r)
}

func dnsOpcodeName(o int) string {
	switch o {
	case 0:
		return "QUERY"
	case 1:
		return "IQUERY"
	case 2:
		return "STATUS"
	case 4:
		return "NOTIFY"
	case 5:
		return "UPDATE"
	case 6:
		return "DSO"
	}
	return "OPCODE" + strconv.Itoa(o)
}

// dnsFlags lists the header flags that are set, dig style: "qr rd ra".
func dnsFlags(f uint16) string {
	var s []string
	for _, fl := range []struct {
		bit  uint16
		name string
	}{{0x8000, "qr"}, {0x0400, "aa"}, {0x0200, "tc"}, {0x0100, "rd"}, {0x0080, "ra"}, {0x0020, "ad"}, {0x0010, "cd"}} {
		if f&fl.bit != 0 {
			s = append(s, fl.name)
		}
	}
	return strings.Join(s, " ")
}
