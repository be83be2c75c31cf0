package cmd

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sockscope/sockscope/internal/demo"
	"github.com/sockscope/sockscope/internal/pcapgen"
)

// Terminal safety in every text view: captured bytes (payloads, HTTP header
// values, TLS SNI, DNS names, RESP keys, WebSocket text) and user-supplied
// names must never reach the terminal as control sequences. The captures
// carry every byte value and the known attacks; the assertions look for
// any raw control byte or rune in the output.

// attack holds the known terminal attacks: CSI (clear screen, cursor home,
// SGR), OSC 52 (clipboard write), OSC 8 (hyperlink), OSC 0 (window title),
// DCS, C1 CSI (raw byte 0x9b and U+009B), bidi overrides and isolates
// (U+202A–U+202E, U+2066–U+2069), NUL, BEL, BS, DEL, CR, and a zero-width
// joiner (harmless; may pass).
const attack = "\x1b[2J\x1b[H\x1b[31m" +
	"\x1b]52;c;cm0gLXJmIH4K\x07" +
	"\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\" +
	"\x1b]0;pwned\x07" +
	"\x1bPq#0;2;0;0;0\x1b\\" +
	"\x9b31m\u009b32m" +
	"\u202a\u202b\u202c\u202d\u202eevil\u2066\u2067\u2068\u2069" +
	"\x00\x07\x08\x7f\rX\u200d"

// attackLine is attack without LF (for protocol fields that end at one).
var attackLine = attack

// allBytes holds every byte value 0x00–0xff.
var allBytes = func() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// badRune reports a rune that must not reach a terminal raw.
func badRune(r rune) bool {
	switch {
	case r == '\n' || r == '\t':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0xfeff:
		return true
	}
	return false
}

var sgr = regexp.MustCompile(`\x1b\[[0-9;]*m`)

// checkTerminalSafe fails if out (a text view) holds invalid UTF-8 or any
// control byte or rune other than LF and TAB. With colour, the view's own
// SGR sequences are removed first.
func checkTerminalSafe(t *testing.T, what, out string, color bool) {
	t.Helper()
	if color {
		out = sgr.ReplaceAllString(out, "")
	}
	if !utf8.ValidString(out) {
		i := 0
		for i < len(out) {
			r, n := utf8.DecodeRuneInString(out[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		t.Errorf("%s: invalid UTF-8 at byte %d: %q", what, i, around(out, i))
		return
	}
	for i, r := range out {
		if badRune(r) {
			t.Errorf("%s: raw %U at byte %d: %q", what, r, i, around(out, i))
			return
		}
	}
}

func around(s string, i int) string {
	return s[max(0, i-40):min(len(s), i+40)]
}

// checkJSONLines fails unless every line of out is valid JSON and valid
// UTF-8, with no raw control byte, DEL, C1 control or bidi character (JSON
// views write those as \uXXXX escapes: textsafe.JSONWriter).
func checkJSONLines(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: JSON output is not valid UTF-8", what)
	}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		if !json.Valid([]byte(line)) || !utf8.ValidString(line) {
			t.Errorf("%s: line %d is not valid UTF-8 JSON: %q", what, i+1, around(line, 0))
			return
		}
	}
	if strings.ContainsAny(out, "\x1b\x00\x07\r") {
		t.Errorf("%s: JSON output holds a raw control byte", what)
	}
	checkTerminalSafe(t, what, out, false)
}

// --- hand-built protocol messages ------------------------------------------

func u16(v int) []byte { return binary.BigEndian.AppendUint16(nil, uint16(v)) }
func u24(v int) []byte { return []byte{byte(v >> 16), byte(v >> 8), byte(v)} }

// clientHello is a TLS 1.2-style ClientHello record whose SNI is sni.
func clientHello(sni string) []byte {
	name := append(append([]byte{0}, u16(len(sni))...), sni...)     // host_name
	list := append(u16(len(name)), name...)                         // server_name_list
	ext := append(append([]byte{0, 0}, u16(len(list))...), list...) // server_name extension
	body := []byte{3, 3}
	body = append(body, bytes.Repeat([]byte{0x11}, 32)...) // random
	body = append(body, 0)                                 // session id
	body = append(body, 0, 2, 0x13, 0x01)                  // cipher suites
	body = append(body, 1, 0)                              // compression
	body = append(body, u16(len(ext))...)
	body = append(body, ext...)
	hs := append(append([]byte{1}, u24(len(body))...), body...)
	return append(append([]byte{0x16, 3, 1}, u16(len(hs))...), hs...)
}

// dnsMsg is a DNS query (or, with answer, a response with one A record)
// for a name whose labels are given raw.
func dnsMsg(id int, response bool, labels ...string) []byte {
	b := u16(id)
	if response {
		b = append(b, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0)
	} else {
		b = append(b, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	}
	for _, l := range labels {
		b = append(append(b, byte(len(l))), l...)
	}
	b = append(b, 0, 0, 1, 0, 1) // root, A, IN
	if response {
		b = append(b, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1)
	}
	return b
}

func respArray(items ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(items))
	for _, it := range items {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(it), it)
	}
	return b
}

// wsFrame is a WebSocket text frame; mask is applied when non-nil.
func wsFrame(text []byte, mask []byte) []byte {
	b := []byte{0x81}
	mbit := byte(0)
	if mask != nil {
		mbit = 0x80
	}
	switch n := len(text); {
	case n < 126:
		b = append(b, mbit|byte(n))
	default:
		b = append(append(b, mbit|126), u16(n)...)
	}
	if mask == nil {
		return append(b, text...)
	}
	b = append(b, mask...)
	for i, c := range text {
		b = append(b, c^mask[i%4])
	}
	return b
}

// connsOneASecond returns conn, which writes a handshake from 10.0.0.1:port
// to server into c, a second after the previous one, closeConn, which
// closes one (client FIN, server FIN, last ACK), and next, the time the
// next one would start.
func connsOneASecond(c *pcapgen.Capture) (conn func(port uint16, server string) *pcapgen.Conn, closeConn func(*pcapgen.Conn), next func() time.Time) {
	at := pcapgen.Epoch
	conn = func(port uint16, server string) *pcapgen.Conn {
		k := pcapgen.NewConn(c, netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), port), netip.MustParseAddrPort(server), 1000, 2000)
		k.T = at
		at = at.Add(time.Second)
		k.Handshake()
		return k
	}
	return conn, func(k *pcapgen.Conn) { k.Fin(0); k.Fin(1); k.Ack(0) }, func() time.Time { return at }
}

// attackCapture writes a capture with one conversation per protocol, each
// carrying the attacks where that protocol puts text:
//
//	tcp/0 HTTP/1.1: request path, header names' values, response reason and body
//	tcp/1 TLS: ClientHello SNI
//	tcp/2 RESP: SET key and value, error reply
//	tcp/3 HTTP upgrade to WebSocket: text frames both ways
//	tcp/4 port 9999: every byte value, both ways, then the attacks
//	tcp/5 DNS over TCP, port 53
//	udp/0 DNS over UDP, port 53: a label holding the attacks
//	udp/1 port 9999: every byte value in one datagram
func attackCapture(t *testing.T) string {
	t.Helper()
	var c pcapgen.Capture
	conn, closeConn, next := connsOneASecond(&c)
	noLF := strings.ReplaceAll(attackLine, "\n", "")

	// No ASCII control bytes: the request parses, and the path, headers,
	// reason and body reach the summaries.
	soft := "\u202eevil\u2066\u009b31m\u200d"
	k := conn(40000, "10.0.0.2:80")
	k.Send(0, []byte("GET /"+soft+"?q="+soft+" HTTP/1.1\r\nHost: "+soft+"\r\nUser-Agent: "+soft+"\r\n\r\n"))
	k.Send(1, []byte("HTTP/1.1 404 "+soft+"\r\nContent-Type: "+soft+"\r\nContent-Length: "+fmt.Sprint(len(attack))+"\r\n\r\n"+attack))
	// Every attack: the HTTP decoder refuses control bytes in a message head.
	k.Send(0, []byte("GET /"+noLF+"?q="+noLF+" HTTP/1.1\r\nHost: "+noLF+"\r\nUser-Agent: "+noLF+"\r\nX-"+noLF+": v\r\n\r\n"))
	body := attack + string(allBytes)
	k.Send(1, []byte("HTTP/1.1 200 "+noLF+"\r\nContent-Type: "+noLF+"\r\nContent-Length: "+fmt.Sprint(len(body))+"\r\n\r\n"+body))
	closeConn(k)

	k = conn(40001, "10.0.0.2:443")
	k.Send(0, clientHello("evil"+noLF+".example"))
	closeConn(k)

	k = conn(40002, "10.0.0.2:6379")
	k.Send(0, respArray("SET", attack+string(allBytes), attack))
	k.Send(1, []byte("-ERR "+noLF+"\r\n"))
	k.Send(0, respArray("GET", attack))
	k.Send(1, fmt.Appendf(nil, "$%d\r\n%s\r\n", len(attack), attack))
	closeConn(k)

	k = conn(40003, "10.0.0.2:8080")
	k.Send(0, []byte("GET /chat"+noLF+" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	k.Send(1, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
	k.Send(0, wsFrame([]byte(attack), []byte{1, 2, 3, 4}))
	k.Send(1, wsFrame([]byte(attack+"\xff\xfe"), nil))
	closeConn(k)

	k = conn(40004, "10.0.0.2:9999")
	k.Send(0, allBytes)
	k.Send(1, allBytes)
	k.Send(0, []byte(attack+"\n"))
	closeConn(k)

	k = conn(40005, "10.0.0.2:53")
	label := noLF[:min(len(noLF), 63)] // a DNS label holds at most 63 bytes
	q := dnsMsg(7, false, label, noLF[63:min(len(noLF), 126)], "example")
	k.Send(0, append(u16(len(q)), q...))
	r := dnsMsg(7, true, label, noLF[63:min(len(noLF), 126)], "example")
	k.Send(1, append(u16(len(r)), r...))
	closeConn(k)

	cli, dns := netip.MustParseAddrPort("10.0.0.1:5353"), netip.MustParseAddrPort("10.0.0.3:53")
	at := next()
	c.UDP(at, cli, dns, dnsMsg(9, false, label, "example"))
	c.UDP(at.Add(time.Millisecond), dns, cli, dnsMsg(9, true, label, "example"))
	c.UDP(at.Add(2*time.Millisecond), cli, netip.MustParseAddrPort("10.0.0.3:9999"), allBytes)

	path := filepath.Join(t.TempDir(), "attack.pcap")
	if err := os.WriteFile(path, c.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEscapeEveryView runs every text view over the attack capture and
// checks that no raw control byte, C1 control, bidi control or invalid
// UTF-8 reaches the output; every JSON view must be valid UTF-8 JSON line
// by line.
func TestEscapeEveryView(t *testing.T) {
	path := attackCapture(t)
	streams := []string{"tcp/0", "tcp/1", "tcp/2", "tcp/3", "tcp/4", "tcp/5", "udp/0", "udp/1"}
	framings := []string{"auto", "raw", "line", "line:X", "fixed:16", "len:u8", "len:u16be", "len:u32be", "http1", "tls", "dns", "resp", "ws", "h2"}
	type run struct {
		args  []string
		json  bool
		color bool
	}
	var runs []run
	add := func(json bool, args ...string) { runs = append(runs, run{args: args, json: json}) }
	add(false, "read", path)
	add(false, "read", path, "--all", "--sort", "bytes")
	add(true, "read", path, "--format", "json")
	add(false, "timeline", path, "--all")
	add(false, "timeline", path, "--all", "--explain")
	add(false, "timeline", path, "--all", "--ascii", "--explain")
	add(false, "timeline", path, "--all", "--format", "mermaid")
	add(true, "timeline", path, "--all", "--format", "json")
	runs = append(runs, run{args: []string{"timeline", path, "--all", "--explain", "--color", "always"}, color: true})
	add(false, "demo")
	for _, s := range streams {
		add(false, "follow", path, s)
		add(false, "follow", path, s, "--all")
		add(false, "follow", path, s, "--transcript")
		add(true, "follow", path, s, "--format", "json")
		add(false, "timeline", path, s, "--explain")
		for _, f := range framings {
			add(false, "follow", path, s, "--framing", f, "--all")
			add(false, "follow", path, s, "--framing", f, "--transcript")
			add(true, "follow", path, s, "--framing", f, "--format", "json")
			add(false, "timeline", path, s, "--framing", f)
		}
	}
	for _, r := range runs {
		what := strings.ReplaceAll(strings.Join(r.args, " "), path, "FILE")
		out, errOut, code := runCLI(t, nil, r.args...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", what, code, errOut)
		}
		checkTerminalSafe(t, what+" (stderr)", errOut, false)
		if r.json {
			checkJSONLines(t, what, out)
			continue
		}
		checkTerminalSafe(t, what, out, r.color)
	}
}

// TestEscapeProtocolFields makes sure the views did decode the attack
// fields (the test above would pass trivially on empty output): the
// escaped forms appear where the protocol puts them.
func TestEscapeProtocolFields(t *testing.T) {
	path := attackCapture(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"follow", path, "tcp/0", "--width", "300"}, `GET /\u202eevil\u2066\u009b31m`},
		{[]string{"follow", path, "tcp/0", "--width", "300"}, `404 \u202eevil`},
		{[]string{"follow", path, "tcp/0", "--transcript"}, `GET /\e[2J\e[H`},
		{[]string{"follow", path, "tcp/1"}, `SNI=evil\e[2J`},
		{[]string{"read", path}, `SNI evil\e[2J`},
		{[]string{"follow", path, "tcp/2", "--width", "300"}, `-ERR \e[2J`},
		{[]string{"follow", path, "tcp/2", "--transcript"}, `SET\r\n$`},
		{[]string{"follow", path, "tcp/3"}, `WS text 147 B "\e[2J`},
		{[]string{"follow", path, "udp/0"}, `A? \027[2J`},
		{[]string{"follow", path, "tcp/5"}, `A? \027[2J`},
		{[]string{"follow", path, "tcp/4", "--transcript"}, `\x00\x01\x02`},
		{[]string{"follow", path, "tcp/4", "--transcript"}, `\u202e`},
	}
	for _, tt := range tests {
		out, errOut, code := runCLI(t, nil, tt.args...)
		if code != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("%v: exit %d, output lacks %q:\n%s%s", tt.args[2:], code, tt.want, out, errOut)
		}
	}
}

// TestEscapeTableRows: a table row is one line, whatever its cells hold:
// the streams table of read has exactly one line per stream, and every
// line of a follow message table starts with its message number.
func TestEscapeTableRows(t *testing.T) {
	path := attackCapture(t)
	out, _, _ := runCLI(t, nil, "read", path, "--all", "--no-findings")
	rows := 0
	inTable := false
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "-----"):
			inTable = true
		case inTable && l == "":
			inTable = false
		case inTable && strings.HasPrefix(l, "c→s, s→c"):
			inTable = false
		case inTable:
			rows++
			if !regexp.MustCompile(`^(tcp|udp)/\d+ `).MatchString(l) {
				t.Errorf("read: table line %q is not a stream row", l)
			}
		}
	}
	if rows != 8 {
		t.Errorf("read: %d table rows, want 8 (one per stream):\n%s", rows, out)
	}
	// follow: segment rows start with their number, message rows with #N.
	row := regexp.MustCompile(`^\s*#?\d+\s`)
	for _, s := range []string{"tcp/0", "tcp/1", "tcp/2", "tcp/3", "tcp/4", "tcp/5", "udp/0", "udp/1"} {
		for _, framing := range []string{"auto", "raw", "line", "resp"} {
			out, _, _ := runCLI(t, nil, "follow", path, s, "--all", "--width", "300", "--framing", framing)
			inTable, rows := false, 0
			for _, l := range strings.Split(out, "\n") {
				switch {
				case strings.HasPrefix(l, "-----"):
					inTable = true
				case inTable && l == "":
					inTable = false
				case inTable:
					rows++
					if !row.MatchString(l) {
						t.Errorf("follow %s --framing %s: table line %q is not a row of its own", s, framing, l)
					}
				}
			}
			if rows == 0 {
				t.Errorf("follow %s --framing %s: no table rows:\n%s", s, framing, out)
			}
		}
	}
}

// TestEscapeErrorMessages: a file name holding terminal escapes appears
// escaped in every error message (missing file, damaged file, no such
// stream), and in the read header.
func TestEscapeErrorMessages(t *testing.T) {
	dir := t.TempDir()
	evil := "cap\x1b]52;c;cm0gLXJmIH4K\x07\u202e\x9b31m\r.pcap"
	missing := filepath.Join(dir, evil+"-missing")
	var c pcapgen.Capture
	k := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), 1, 2)
	k.Handshake()
	k.Send(0, []byte("hi"))
	damaged := filepath.Join(dir, evil)
	b := c.Bytes()
	b = append(b, 1, 2, 3) // a record header cut short
	if err := os.WriteFile(damaged, b, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := [][]string{
		{"read", missing},
		{"read", damaged},
		{"read", damaged, "--format", "json"},
		{"follow", missing, "0"},
		{"follow", damaged, "tcp/7"},
		{"follow", damaged, "0"},
		{"timeline", missing},
		{"timeline", damaged},
		{"follow", damaged, "tcp\x1b[2J/0"},
		{"demo", "no\x1b[2Jsuch"},
	}
	for _, args := range tests {
		out, errOut, code := runCLI(t, nil, args...)
		if code == 0 {
			t.Errorf("%q: exit 0", args)
		}
		checkTerminalSafe(t, fmt.Sprintf("%q stderr", args), errOut, false)
		if args[len(args)-1] != "json" {
			checkTerminalSafe(t, fmt.Sprintf("%q stdout", args), out, false)
		} else {
			checkJSONLines(t, fmt.Sprintf("%q", args), out)
		}
		if !strings.Contains(errOut, `\e]52;c;`) && !strings.Contains(errOut, `\e[2J`) && !strings.Contains(errOut, `\x1b[2J`) {
			t.Errorf("%q: error does not show the name escaped: %q", args, errOut)
		}
	}
}

// jsonHostile holds the characters encoding/json leaves raw in a string
// (DEL, the C1 CSI U+009B, a bidi override) and ESC, which it escapes.
const jsonHostile = "\x1b[2J\x7f\u009b31m\u202eevil"

// jsonAttackCapture writes, under a file name holding jsonHostile, a
// capture carrying it where each protocol puts text:
//
//	tcp/0 HTTP/1.1: request path, Host and User-Agent values, reason,
//	      body (the head without ASCII controls, which HTTP refuses)
//	tcp/1 TLS: ClientHello SNI
//	tcp/2 port 9999: text lines
//	tcp/3 DNS over TCP: a query name's label
//	udp/0 DNS over UDP: the same
func jsonAttackCapture(t *testing.T) string {
	t.Helper()
	var c pcapgen.Capture
	conn, closeConn, next := connsOneASecond(&c)
	soft := jsonSoft
	k := conn(41000, "10.0.0.2:80")
	k.Send(0, []byte("GET /"+soft+" HTTP/1.1\r\nHost: "+soft+"\r\nUser-Agent: "+soft+"\r\n\r\n"))
	k.Send(1, []byte("HTTP/1.1 200 "+soft+"\r\nContent-Type: text/plain\r\nContent-Length: "+fmt.Sprint(len(jsonHostile))+"\r\n\r\n"+jsonHostile))
	closeConn(k)

	k = conn(41001, "10.0.0.2:443")
	k.Send(0, clientHello(jsonHostile+".example"))
	closeConn(k)

	k = conn(41002, "10.0.0.2:9999")
	k.Send(0, []byte(jsonHostile+"\n"+jsonHostile+"\n"))
	k.Send(1, []byte(jsonHostile+"\n"))
	closeConn(k)

	k = conn(41003, "10.0.0.2:53")
	q := dnsMsg(7, false, jsonHostile, "example")
	k.Send(0, append(u16(len(q)), q...))
	r := dnsMsg(7, true, jsonHostile, "example")
	k.Send(1, append(u16(len(r)), r...))
	closeConn(k)

	cli, dns := netip.MustParseAddrPort("10.0.0.1:5353"), netip.MustParseAddrPort("10.0.0.3:53")
	at := next()
	c.UDP(at, cli, dns, dnsMsg(9, false, jsonHostile, "example"))
	c.UDP(at.Add(time.Millisecond), dns, cli, dnsMsg(9, true, jsonHostile, "example"))

	path := filepath.Join(t.TempDir(), "cap"+jsonHostile+".pcap")
	if err := os.WriteFile(path, c.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// jsonSoft is jsonHostile without ASCII controls (an HTTP head refuses them).
const jsonSoft = "\u009b31m\u202eevil\u2066"

// dnsHostile is jsonHostile's label as the DNS decoder writes a name
// (presentation format: \DDD for every byte outside printable ASCII).
const dnsHostile = `\027[2J\127\194\15531m\226\128\174evil.example`

// checkJSONSafe fails unless out is valid JSON line by line and holds no
// raw control byte, DEL, C1 control or bidi character; it returns every
// string (object keys included) the lines decode to.
func checkJSONSafe(t *testing.T, what, out string) map[string]bool {
	t.Helper()
	checkJSONLines(t, what, out)
	got := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			got[x] = true
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				got[k] = true
				walk(e)
			}
		}
	}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var v any
		if json.Unmarshal([]byte(line), &v) == nil {
			walk(v)
		}
	}
	return got
}

// TestEscapeJSONViews runs every JSON view (read, read --stats, timeline,
// timeline --explain, follow, demo, interfaces) over a capture, and a file
// name, holding ESC, DEL, U+009B (a one-character CSI) and U+202E (a bidi
// override): each line is valid JSON, none of those reaches the output
// raw, and the strings decode to exactly the captured values.
func TestEscapeJSONViews(t *testing.T) {
	path := jsonAttackCapture(t)
	type run struct {
		args []string
		want []string // strings some record must decode to
	}
	runs := []run{
		{[]string{"read", path, "--format", "json"}, []string{path, "SNI " + jsonHostile + ".example"}},
		{[]string{"read", path, "--format", "json", "--stats"}, []string{path, "SNI " + jsonHostile + ".example"}},
		{[]string{"timeline", path, "--all", "--format", "json"},
			[]string{"#1 GET /" + jsonSoft, "#1 200 " + jsonSoft + " 17 B text/plain (answers #1 after 0.100 ms)", "#1 Handshake ClientHello SNI=" + jsonHostile + ".example", "#1 #9 A? " + dnsHostile}},
		{[]string{"timeline", path, "--all", "--format", "json", "--explain"}, []string{"#1 Handshake ClientHello SNI=" + jsonHostile + ".example"}},
		{[]string{"timeline", path, "tcp/2", "--format", "json", "--framing", "line"}, []string{"#1 " + jsonHostile + " · #2 " + jsonHostile}},
		{[]string{"follow", path, "tcp/0", "--format", "json"}, []string{"GET /" + jsonSoft, "/" + jsonSoft, jsonSoft}},
		{[]string{"follow", path, "tcp/1", "--format", "json"}, []string{jsonHostile + ".example", "Handshake ClientHello SNI=" + jsonHostile + ".example"}},
		{[]string{"follow", path, "tcp/2", "--format", "json", "--framing", "line"}, []string{jsonHostile}},
		{[]string{"follow", path, "tcp/3", "--format", "json"}, []string{dnsHostile}},
		{[]string{"follow", path, "udp/0", "--format", "json"}, []string{dnsHostile}},
	}
	for _, s := range []string{"tcp/0", "tcp/1", "tcp/2", "tcp/3", "udp/0"} {
		for _, f := range []string{"raw", "line", "len:u8", "http1", "tls", "dns"} {
			runs = append(runs, run{args: []string{"follow", path, s, "--format", "json", "--framing", f}},
				run{args: []string{"timeline", path, s, "--format", "json", "--framing", f}})
		}
	}
	for _, name := range demo.Names() {
		runs = append(runs, run{args: []string{"demo", name, "--format", "json", "--explain"}})
	}
	for _, r := range runs {
		what := strings.ReplaceAll(strings.Join(r.args, " "), path, "FILE")
		out, errOut, code := runCLI(t, nil, r.args...)
		if code != 0 {
			t.Errorf("%s: exit %d: %s", what, code, errOut)
		}
		checkTerminalSafe(t, what+" (stderr)", errOut, false)
		got := checkJSONSafe(t, what, out)
		for _, w := range r.want {
			if !got[w] {
				t.Errorf("%s: no string decodes to %q:\n%s", what, w, out)
			}
		}
	}
	// The interfaces of this machine: nothing hostile, but JSON all the same.
	if out, errOut, code := runCLI(t, nil, "interfaces", "--format", "json"); code == 0 {
		checkJSONSafe(t, "interfaces --format json", out)
	} else {
		t.Logf("interfaces: exit %d: %s", code, errOut)
	}
}
