package filter

import (
	"net/netip"
	"strings"
)

// tokKind is the class of a lexical token.
type tokKind uint8

const (
	tEOF   tokKind = iota
	tNum           // number or named constant; val holds the value
	tHID           // dotted IPv4 form: 10.1, 10.1.2, 10.1.2.3
	tHID6          // IPv6 address
	tEID           // MAC address (unsupported)
	tID            // identifier (host or service name; unsupported)
	tKW            // keyword; text holds its canonical spelling
	tPunct         // operator or bracket; text holds it
)

type token struct {
	kind tokKind
	text string // canonical text (keywords) or source text
	src  string // source text
	pos  int    // byte offset in the expression
	val  uint32 // tNum value
}

// keywords maps each supported or recognised-but-unsupported keyword to its
// canonical spelling. Synonyms (ether/link/ppp, &&/and) share one.
var keywords = map[string]string{
	"dst": "dst", "src": "src", "host": "host", "net": "net", "mask": "mask",
	"port": "port", "portrange": "portrange", "proto": "proto",
	"and": "and", "or": "or", "not": "not",
	"less": "less", "greater": "greater", "len": "len", "vlan": "vlan",
	"ip": "ip", "ip6": "ip6", "arp": "arp", "rarp": "rarp", "tcp": "tcp",
	"udp": "udp", "icmp": "icmp", "icmp6": "icmp6", "sctp": "sctp",
	"link": "ether", "ether": "ether", "ppp": "ether", "slip": "ether",
	"fddi": "ether", "tr": "ether", "wlan": "ether",
}

// unsupportedKeywords are libpcap keywords this package refuses.
var unsupportedKeywords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`igmp igrp pim vrrp carp radio ah esp atalk aarp
		decnet lat sca moprc mopdl iso esis es-is isis is-is l1 l2 iih lsp snp csnp psnp
		clnp stp ipx netbeui protochain gateway type subtype direction dir address1 addr1
		address2 addr2 address3 addr3 address4 addr4 ra ta byte broadcast multicast
		inbound outbound ifindex mpls pppoed pppoes geneve vxlan batadv lane llc metac
		bcc oam oamf4 oamf4ec oamf4sc sc ilmic vpi vci connectmsg metaconnect on ifname
		rnr rulenum reason rset ruleset srnr subrulenum action fisu lssu lsu msu hfisu
		hlssu hmsu sio opc dpc sls hsio hopc hdpc hsls`) {
		unsupportedKeywords[w] = true
	}
}

// namedConstants are libpcap's keywords that lex as numbers.
var namedConstants = map[string]uint32{
	"icmptype": 0, "icmpcode": 1,
	"icmp-echoreply": 0, "icmp-unreach": 3, "icmp-sourcequench": 4,
	"icmp-redirect": 5, "icmp-echo": 8, "icmp-routeradvert": 9,
	"icmp-routersolicit": 10, "icmp-timxceed": 11, "icmp-paramprob": 12,
	"icmp-tstamp": 13, "icmp-tstampreply": 14, "icmp-ireq": 15,
	"icmp-ireqreply": 16, "icmp-maskreq": 17, "icmp-maskreply": 18,
	"icmp6type": 0, "icmp6code": 1,
	"icmp6-destinationunreach": 1, "icmp6-packettoobig": 2,
	"icmp6-timeexceeded": 3, "icmp6-parameterproblem": 4,
	"icmp6-echo": 128, "icmp6-echoreply": 129,
	"icmp6-multicastlistenerquery": 130, "icmp6-multicastlistenerreportv1": 131,
	"icmp6-multicastlistenerdone": 132, "icmp6-routersolicit": 133,
	"icmp6-routeradvert": 134, "icmp6-neighborsolicit": 135,
	"icmp6-neighboradvert": 136, "icmp6-redirect": 137,
	"icmp6-routerrenum": 138, "icmp6-nodeinformationquery": 139,
	"icmp6-nodeinformationresponse":   140,
	"icmp6-ineighbordiscoverysolicit": 141,
	"icmp6-ineighbordiscoveryadvert":  142,
	"icmp6-multicastlistenerreportv2": 143,
	"icmp6-homeagentdiscoveryrequest": 144,
	"icmp6-homeagentdiscoveryreply":   145, "icmp6-mobileprefixsolicit": 146,
	"icmp6-mobileprefixadvert": 147, "icmp6-certpathsolicit": 148,
	"icmp6-certpathadvert": 149, "icmp6-multicastrouteradvert": 151,
	"icmp6-multicastroutersolicit": 152, "icmp6-multicastrouterterm": 153,
	"tcpflags": 13, "tcp-fin": 0x01, "tcp-syn": 0x02, "tcp-rst": 0x04,
	"tcp-push": 0x08, "tcp-ack": 0x10, "tcp-urg": 0x20, "tcp-ece": 0x40,
	"tcp-cwr": 0x80,
}

// puncts lists operators, longest first so that maximal munch works.
var puncts = []string{"&&", "||", "<<", ">>", ">=", "<=", "==", "!=",
	"(", ")", "[", "]", ":", "/", "+", "-", "*", "%", "&", "|", "^", "=", "<", ">", "!"}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// lex splits expr into tokens using libpcap's scanner rules: the longest
// match wins, and on a tie keywords beat numbers, numbers beat addresses,
// and addresses beat identifiers.
func lex(expr string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n' || expr[i] == '\r') {
			i++
		}
		if i >= len(expr) {
			toks = append(toks, token{kind: tEOF, pos: i, text: "end of expression"})
			return toks, nil
		}
		c := expr[i]
		if c == '\\' {
			j := i + 1
			for j < len(expr) && !strings.ContainsRune(" \t\n\r!()", rune(expr[j])) {
				j++
			}
			if j == i+1 {
				return nil, errorf(i, `expected a name after "\"`)
			}
			toks = append(toks, token{kind: tID, text: expr[i+1 : j], src: expr[i:j], pos: i})
			i = j
			continue
		}
		if v6 := v6Len(expr[i:]); v6 > 0 && (c == ':' || isAlnum(c)) {
			// Compare with the other alphanumeric rules below.
			t, n, err := lexWord(expr, i)
			if err != nil && n >= v6 {
				return nil, err
			}
			if err == nil && n >= v6 {
				toks = append(toks, t)
				i += n
				continue
			}
			toks = append(toks, token{kind: tHID6, text: expr[i : i+v6], src: expr[i : i+v6], pos: i})
			i += v6
			continue
		}
		if isAlnum(c) {
			t, n, err := lexWord(expr, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i += n
			continue
		}
		matched := false
		for _, p := range puncts {
			if strings.HasPrefix(expr[i:], p) {
				text := p
				switch p {
				case "&&":
					text = "and"
				case "||":
					text = "or"
				case "!":
					text = "not"
				case "==":
					text = "="
				}
				kind := tPunct
				if text == "and" || text == "or" || text == "not" {
					kind = tKW
				}
				toks = append(toks, token{kind: kind, text: text, src: p, pos: i})
				i += len(p)
				matched = true
				break
			}
		}
		if !matched {
			return nil, errorf(i, "unexpected character %q", c)
		}
	}
}

// v6Len returns the length of the longest prefix of s that is an IPv6
// address, or 0.
func v6Len(s string) int {
	n := 0
	for n < len(s) && (isHex(s[n]) || s[n] == ':' || s[n] == '.') {
		n++
	}
	for ; n >= 2; n-- {
		cand := s[:n]
		if !strings.Contains(cand, ":") {
			return 0
		}
		if a, err := netip.ParseAddr(cand); err == nil && a.Is6() && a.Zone() == "" {
			return n
		}
	}
	return 0
}

// lexWord lexes an alphanumeric token at expr[i:] and returns it with its
// length.
func lexWord(expr string, i int) (token, int, error) {
	// Identifier rule: [A-Za-z0-9]([-_.A-Za-z0-9]*[.A-Za-z0-9])?
	j := i + 1
	for j < len(expr) && (isAlnum(expr[j]) || expr[j] == '-' || expr[j] == '_' || expr[j] == '.') {
		j++
	}
	for j > i+1 && (expr[j-1] == '-' || expr[j-1] == '_') {
		j--
	}
	idLen := j - i
	word := expr[i:j]

	// Number rule: decimal/octal digits or 0x hex.
	numLen := 0
	if strings.HasPrefix(expr[i:], "0x") || strings.HasPrefix(expr[i:], "0X") {
		k := i + 2
		for k < len(expr) && isHex(expr[k]) {
			k++
		}
		if k > i+2 {
			numLen = k - i
		}
	}
	if numLen == 0 {
		k := i
		for k < len(expr) && isDigit(expr[k]) {
			k++
		}
		numLen = k - i
	}
	// Dotted IPv4 rule: N.N, N.N.N or N.N.N.N with decimal N.
	hidLen := 0
	if numLen > 0 && isDigit(expr[i]) {
		k, parts := i, 0
		for parts < 4 {
			s := k
			for k < len(expr) && isDigit(expr[k]) {
				k++
			}
			if k == s {
				k = s - 1 // drop the trailing dot
				break
			}
			parts++
			if parts == 4 || k >= len(expr) || expr[k] != '.' {
				break
			}
			k++
		}
		if parts >= 2 {
			hidLen = k - i
		}
	}
	// MAC rule: xx:xx:xx:xx:xx:xx (also with - or . separators).
	macLen := macLen(expr[i:])

	if canon, ok := keywords[word]; ok && idLen >= numLen && idLen >= hidLen && idLen >= macLen {
		return token{kind: tKW, text: canon, src: word, pos: i}, idLen, nil
	}
	if v, ok := namedConstants[word]; ok && idLen >= hidLen && idLen >= macLen {
		return token{kind: tNum, text: word, src: word, pos: i, val: v}, idLen, nil
	}
	if unsupportedKeywords[word] && idLen >= numLen && idLen >= hidLen {
		return token{kind: tKW, text: word, src: word, pos: i}, idLen, nil
	}
	best := max(idLen, numLen, hidLen, macLen)
	switch {
	case numLen == best:
		v, err := parseNum(expr[i:i+numLen], i)
		if err != nil {
			return token{}, numLen, err
		}
		return token{kind: tNum, text: expr[i : i+numLen], src: expr[i : i+numLen], pos: i, val: v}, numLen, nil
	case hidLen == best:
		return token{kind: tHID, text: expr[i : i+hidLen], src: expr[i : i+hidLen], pos: i}, hidLen, nil
	case macLen == best:
		return token{kind: tEID, text: expr[i : i+macLen], src: expr[i : i+macLen], pos: i}, macLen, nil
	}
	return token{kind: tID, text: word, src: word, pos: i}, idLen, nil
}

// macLen returns the length of a MAC address at the start of s, or 0.
func macLen(s string) int {
	k := 0
	for g := 0; g < 6; g++ {
		n := 0
		for k+n < len(s) && n < 2 && isHex(s[k+n]) {
			n++
		}
		if n == 0 {
			return 0
		}
		k += n
		if g < 5 {
			if k >= len(s) || (s[k] != ':' && s[k] != '-' && s[k] != '.') {
				return 0
			}
			k++
		}
	}
	return k
}

// parseNum converts a number the way libpcap's stoulen does: 0x hex,
// leading-0 octal, otherwise decimal, failing on 32-bit overflow.
func parseNum(s string, pos int) (uint32, error) {
	base, digits := uint64(10), s
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		base, digits = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, digits = 8, s[1:]
	}
	var v uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d uint64
		switch {
		case isDigit(c):
			d = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		}
		if base == 8 && d > 7 {
			return 0, errorf(pos, "number %s contains non-octal digit", s)
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, errorf(pos, "number %s overflows 32 bits", s)
		}
	}
	return uint32(v), nil
}
