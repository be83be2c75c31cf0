package findings

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/reassembly"
)

// Content: cleartext versus TLS.
//
// Rule: each TCP stream's framing is picked from its ports and its first
// SniffBytes per direction, as `follow --framing auto` does (decode.Detect).
// http1, resp, dns, line, h2 (HTTP/2 without TLS, h2c), grpc (over h2c), mqtt, kafka,
// nats, amqp, memcached,
// and pgsql, mysql, smtp, pop3 and ftp unless they switched to TLS in their
// first bytes (SSLRequest, STARTTLS, STLS, AUTH TLS), are readable
// application protocols: the stream is cleartext. tls is encrypted (ssh too,
// but it is not TLS: no finding). Streams
// whose bytes match no protocol (raw, or a guessed length prefix), or that
// Detect classified by port alone, are neither: sockscope does not call binary it cannot read "cleartext".
// Findings are per server address:port: cleartext is a warning when either
// end is not a loopback address (it crossed a wire), info on loopback. TLS
// is info, with the SNI names and versions seen.
//
// When Detect finds nothing, a length prefix is guessed for the framing-
// hazard check: u32be or u16be lengths (not counting themselves) that chain
// exactly through at least 3 whole messages in one direction, and through
// every byte seen in the other.

type contentClass uint8

const (
	classNone contentClass = iota
	classClear
	classTLS
)

// contentState is the sniffing and framing state of one stream.
type contentState struct {
	decided bool
	pre     [2][]byte  // bytes of each direction before the decision
	preSpan [2][]span  // which frames supplied pre
	preEnd  [2]int64   // stream offset after pre
	preGap  [2]bool    // a gap before the decision: stop collecting that direction
	first   [2]int     // first frame with payload, per direction
	framing string     // the framing picked ("" none)
	why     string     // why
	hazard  bool       // framing is one of HazardFramings: framers run
	fr      [2]*framer // framers (hazard framings only)
}

// protoNames says what a detected framing is, in words.
var protoNames = map[string]string{
	"http1": "HTTP/1", "resp": "Redis (RESP)", "dns": "DNS over TCP", "line": "text lines", "h2": "HTTP/2 without TLS (h2c)", "grpc": "gRPC without TLS (h2c)", "tls": "TLS",
	"pgsql": "PostgreSQL", "mysql": "MySQL", "mqtt": "MQTT", "kafka": "Kafka", "nats": "NATS", "amqp": "AMQP", "memcached": "memcached",
	"smtp": "SMTP", "pop3": "POP3", "ftp": "FTP", "imap": "IMAP",
}

func (st *streamState) data(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
	ct := &st.ct
	if b != nil && ct.first[d] == 0 {
		ct.first[d] = frame
	}
	if ct.decided {
		if f := ct.fr[d]; f != nil {
			f.data(r, b, frame)
		}
		return
	}
	if ct.preGap[d] {
		return
	}
	if b == nil || r.Start != ct.preEnd[d] {
		ct.preGap[d] = true
		return
	}
	ct.pre[d] = append(ct.pre[d], b...)
	ct.preSpan[d] = append(ct.preSpan[d], span{r.Start, r.End, frame})
	ct.preEnd[d] = r.End
	if len(ct.pre[d]) >= st.e.cfg.SniffBytes {
		st.decide(s)
	}
}

// decide picks the framing from the bytes collected so far, records the
// stream's content class, and starts the framers of a hazard framing.
func (st *streamState) decide(s *reassembly.Stream) {
	ct := &st.ct
	if ct.decided {
		return
	}
	ct.decided = true
	n := st.e.cfg.SniffBytes
	sniff := func(d int) []byte { return ct.pre[d][:min(len(ct.pre[d]), n)] }
	if len(ct.pre[0])+len(ct.pre[1]) > 0 {
		name, why := decode.Detect(decode.DetectInput{Transport: decode.Stream, ClientPort: s.Client.Port(), ServerPort: s.Server.Port(),
			C2S: sniff(0), S2C: sniff(1)})
		if name == "raw" {
			if g, gwhy := guessLengthPrefix(sniff(0), sniff(1)); g != "" {
				name, why = g, gwhy
			}
		}
		if name != "raw" {
			ct.framing, ct.why = name, why
		}
		if strings.HasPrefix(why, "port ") {
			name = "" // a port is no evidence of what the bytes are
		}
		switch name {
		case "http1", "resp", "dns", "line", "h2", "grpc", "mqtt", "kafka", "nats", "amqp", "memcached":
			st.e.content.add(s, classClear, protoNames[name], ct.first, "")
		case "pgsql", "mysql", "smtp", "pop3", "ftp", "imap":
			// Cleartext unless the session switched to TLS (SSLRequest,
			// STARTTLS, STLS, AUTH TLS) in its first bytes.
			if c, v, ok := decode.TLSUpgrade(name, sniff(0), sniff(1)); ok {
				st.e.content.add(s, classTLS, "TLS", ct.first, tlsDetail(sniff(0)[c:], sniff(1)[v:]))
			} else {
				st.e.content.add(s, classClear, protoNames[name], ct.first, "")
			}
		case "tls":
			st.e.content.add(s, classTLS, "TLS", ct.first, tlsDetail(sniff(0), sniff(1)))
		}
	}
	if sp, err := decode.ParseSpec(ct.framing); err == nil && ct.framing != "" && slices.Contains(st.e.cfg.HazardFramings, sp.Name) {
		if dec, err := decode.New(sp, decode.Stream); err == nil && dec != nil {
			ct.hazard = true
			stateless := sp.Name == "len" || sp.Name == "fixed"
			for d := range ct.fr {
				f := &framer{e: st.e, ref: st.ref, dir: reassembly.Direction(d), dec: dec, stateless: stateless}
				ct.fr[d] = f
				for _, sp := range ct.preSpan[d] {
					off := sp.start - ct.preSpan[d][0].start
					f.data(reassembly.ByteRange{Start: sp.start, End: sp.end}, ct.pre[d][off:off+sp.end-sp.start], sp.frame)
				}
				if ct.preGap[d] {
					f.stop("")
				}
			}
		}
	}
	ct.pre, ct.preSpan = [2][]byte{}, [2][]span{}
}

func (st *streamState) contentFinish(s *reassembly.Stream) {
	st.decide(s)
	for _, f := range st.ct.fr {
		if f != nil {
			f.finish()
		}
	}
}

// guessLengthPrefix tries u32be then u16be length prefixes on the first
// bytes of both directions (see the package rule above).
func guessLengthPrefix(c2s, s2c []byte) (string, string) {
	for _, w := range []int{4, 2} {
		whole := 0
		ok := true
		for _, b := range [][]byte{c2s, s2c} {
			n, fits := chainLengths(b, w)
			if !fits {
				ok = false
				break
			}
			whole = max(whole, n)
		}
		if ok && whole >= 3 {
			spec := map[int]string{4: "len:u32be", 2: "len:u16be"}[w]
			return spec, fmt.Sprintf("guessed: %d-byte big-endian lengths chain exactly through %d messages", w, whole)
		}
	}
	return "", ""
}

// chainLengths walks b as length-prefixed messages of width w: it returns
// the number of whole messages and whether every length was plausible and
// the walk ended exactly at the end of b or inside a last, plausible message.
func chainLengths(b []byte, w int) (int, bool) {
	n := 0
	for pos := 0; pos < len(b); {
		if len(b)-pos < w {
			return n, n > 0
		}
		var v uint64
		if w == 4 {
			v = uint64(binary.BigEndian.Uint32(b[pos:]))
		} else {
			v = uint64(binary.BigEndian.Uint16(b[pos:]))
		}
		if v > 16<<20 {
			return n, false
		}
		end := pos + w + int(v)
		if end > len(b) {
			return n, n > 0
		}
		n++
		pos = end
	}
	return n, true
}

// tlsDetail returns "SNI x, TLS 1.3" from a ClientHello and ServerHello at
// the start of each direction, as far as the sniffed bytes hold them.
func tlsDetail(c2s, s2c []byte) string {
	dec, err := decode.New(decode.Spec{Name: "tls"}, decode.Stream)
	if err != nil || dec == nil {
		return ""
	}
	var parts []string
	field := func(d reassembly.Direction, b []byte, name string) string {
		defer func() { recover() }()
		if len(b) == 0 {
			return ""
		}
		m, _, err := dec.Next(d, b, false)
		if err != nil {
			return ""
		}
		for _, f := range m.Fields {
			if f.Name == name {
				return f.Value
			}
		}
		return ""
	}
	if v := field(reassembly.ClientToServer, c2s, "sni"); v != "" {
		parts = append(parts, "SNI "+v)
	}
	if v := field(reassembly.ServerToClient, s2c, "selected_version"); v != "" {
		parts = append(parts, v)
	}
	return strings.Join(parts, ", ")
}

// contentDetector aggregates cleartext and TLS streams per server endpoint.
//
// Memory: one entry per server address:port and protocol, at most
// MaxTracked; each remembers at most maxClients client addresses (a count
// past that is "at least"), and all of them together at most MaxTracked.
type contentDetector struct {
	cfg     *Config
	eps     map[contentKey]*contentEP
	clients int // client addresses remembered, all endpoints together
	dropped int
}

const maxClients = 1000

type contentKey struct {
	server netip.AddrPort
	class  contentClass
	proto  string
}

type contentEP struct {
	ev      evidence
	clients map[netip.Addr]bool
	more    bool // more clients than remembered
	wire    bool // an end is not loopback
	details []string
}

func (c *contentDetector) init(cfg *Config) {
	c.cfg = cfg
	c.eps = make(map[contentKey]*contentEP)
}

func (c *contentDetector) add(s *reassembly.Stream, class contentClass, proto string, first [2]int, detail string) {
	k := contentKey{s.Server, class, proto}
	ep := c.eps[k]
	if ep == nil {
		if len(c.eps) >= c.cfg.MaxTracked {
			c.dropped++
			return
		}
		ep = &contentEP{ev: evidence{max: c.cfg.MaxEvidence}, clients: map[netip.Addr]bool{}}
		c.eps[k] = ep
	}
	ep.ev.stream(RefOf(s))
	for _, f := range first {
		ep.ev.frame(f)
	}
	if a := s.Client.Addr(); !ep.clients[a] {
		if len(ep.clients) < maxClients && c.clients < c.cfg.MaxTracked {
			ep.clients[a] = true
			c.clients++
		} else {
			ep.more = true
		}
	}
	if !s.Client.Addr().IsLoopback() || !s.Server.Addr().IsLoopback() {
		ep.wire = true
	}
	if detail != "" && !slices.Contains(ep.details, detail) && len(ep.details) < c.cfg.MaxEvidence {
		ep.details = append(ep.details, detail)
	}
}

func (c *contentDetector) findings(out *[]Finding) {
	keys := make([]contentKey, 0, len(c.eps))
	for k := range c.eps {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b contentKey) int {
		return cmp.Or(a.server.Compare(b.server), cmp.Compare(a.class, b.class), cmp.Compare(a.proto, b.proto))
	})
	for _, k := range keys {
		ep := c.eps[k]
		n := ep.ev.count
		f := Finding{Endpoint: k.server.String()}
		switch k.class {
		case classClear:
			f.Kind, f.Severity = KindCleartext, Info
			where := "on loopback only"
			if ep.wire {
				f.Severity = Warning
				where = "across the network"
			}
			f.Message = fmt.Sprintf("%s served %s in cleartext over %s from %s (%s): anyone who can capture the traffic can read it.",
				k.server, k.proto, plural(n, "connection", "connections"), ep.clientsText(), where)
		case classTLS:
			f.Kind, f.Severity = KindTLS, Info
			f.Message = fmt.Sprintf("%s spoke TLS (encrypted) on %s from %s.", k.server, plural(n, "connection", "connections"), ep.clientsText())
			f.Details = ep.details
		}
		ep.ev.finish(&f)
		*out = append(*out, f)
	}
}

func (ep *contentEP) clientsText() string {
	t := plural(len(ep.clients), "client address", "client addresses")
	if ep.more {
		t = "at least " + t
	}
	return t
}
