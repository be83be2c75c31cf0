package decode

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// Bytes used by several HTTP/1 cases.
const (
	// A masked client text frame "hi": FIN+text, MASK|len 2, key 00 00 00 00.
	httpTestWSClientHi = "\x81\x82\x00\x00\x00\x00hi"
	// An unmasked server text frame "hi".
	httpTestWSServerHi = "\x81\x02hi"
	// An HTTP/2 SETTINGS frame with no settings: length 0, type 4, flags 0, stream 0.
	httpTestH2Settings = "\x00\x00\x00\x04\x00\x00\x00\x00\x00"
)

func TestHTTP1(t *testing.T) {
	tests := []struct {
		name     string
		c2s, s2c string
		c2sCuts  []int
		s2cCuts  []int
		wantC2S  []string
		wantS2C  []string
	}{
		{
			name: "GET and a response with Content-Length",
			c2s: "GET /index.html HTTP/1.1\r\n" +
				"Host: example.test\r\n" +
				"\r\n",
			s2c: "HTTP/1.1 200 OK\r\n" +
				"Content-Type: text/html; charset=utf-8\r\n" +
				"Content-Length: 5\r\n" + // body "hello"
				"\r\n" +
				"hello",
			wantC2S: []string{"48 GET /index.html"},
			wantS2C: []string{"83 200 OK 5 B text/html"},
		},
		{
			name: "POST with a body, split in the headers and the body",
			c2s: "POST /x HTTP/1.1\r\n" +
				"Content-Length: 12\r\n" +
				"\r\n" +
				"hello world!",
			c2sCuts: []int{10, 45},
			s2c:     "HTTP/1.1 204 No Content\r\n\r\n",
			wantC2S: []string{"52 POST /x 12 B"},
			wantS2C: []string{"27 204 No Content"},
		},
		{
			name: "HEAD response has no body whatever Content-Length says",
			c2s: "HEAD /big HTTP/1.1\r\n\r\n" +
				"GET /small HTTP/1.1\r\n\r\n",
			s2c: "HTTP/1.1 200 OK\r\n" +
				"Content-Length: 5242880\r\n" + // 5 MiB, not sent
				"\r\n" +
				"HTTP/1.1 200 OK\r\n" +
				"Content-Length: 2\r\n" +
				"\r\n" +
				"ok",
			wantC2S: []string{"22 HEAD /big", "23 GET /small"},
			wantS2C: []string{"44 200 OK", "40 200 OK 2 B"},
		},
		{
			name: "1xx interim responses answer the same request",
			c2s: "POST /up HTTP/1.1\r\n" +
				"Content-Length: 3\r\n" +
				"Expect: 100-continue\r\n" +
				"\r\n" +
				"abc" +
				"HEAD /h HTTP/1.1\r\n\r\n",
			s2c: "HTTP/1.1 100 Continue\r\n\r\n" +
				"HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" +
				"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", // answers HEAD: no body
			wantC2S: []string{"65 POST /up 3 B", "20 HEAD /h"},
			wantS2C: []string{"25 100 Continue", "44 103 Early Hints", "43 201 Created 0 B", "39 200 OK"},
		},
		{
			name: "304 has no body",
			c2s:  "GET /c HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\n",
			s2c: "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!",
			wantC2S: []string{"39 GET /c"},
			wantS2C: []string{"50 304 Not Modified", "39 200 OK 1 B"},
		},
		{
			name: "chunked response with extension and trailers, chunks split",
			c2s:  "GET /stream HTTP/1.1\r\n\r\n",
			s2c: "HTTP/1.1 200 OK\r\n" +
				"Transfer-Encoding: chunked\r\n" +
				"Content-Type: text/plain\r\n" +
				"\r\n" + // headers end at 73
				"5\r\nhello\r\n" + // chunk 1: 10 bytes
				"6;ext=1\r\n world\r\n" + // chunk 2 with an extension: 17 bytes
				"0\r\n" + // last chunk
				"X-Checksum: 42\r\n" + // trailer
				"\r\n",
			s2cCuts: []int{75, 80, 90, 101},
			wantC2S: []string{"24 GET /stream"},
			wantS2C: []string{"121 200 OK 11 B text/plain (2 chunks)"},
		},
		{
			name:    "body delimited by close completes only at EOF",
			c2s:     "GET /old HTTP/1.0\r\n\r\n",
			s2c:     "HTTP/1.0 200 OK\r\n\r\n" + "all the rest",
			s2cCuts: []int{19, 25},
			wantC2S: []string{"21 GET /old"},
			wantS2C: []string{"31 200 OK 12 B"},
		},
		{
			name: "pipelined requests in one segment",
			c2s: "GET /1 HTTP/1.1\r\n\r\n" +
				"GET /2 HTTP/1.1\r\n\r\n" +
				"POST /3 HTTP/1.1\r\nContent-Length: 1\r\n\r\nx",
			s2c: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1" +
				"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2" +
				"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3",
			wantC2S: []string{"19 GET /1", "19 GET /2", "40 POST /3 1 B"},
			wantS2C: []string{"39 200 OK 1 B", "39 200 OK 1 B", "39 200 OK 1 B"},
		},
		{
			name: "WebSocket upgrade hands both directions to the ws framer",
			c2s: "GET /chat HTTP/1.1\r\n" +
				"Upgrade: websocket\r\n" +
				"Connection: keep-alive, Upgrade\r\n" +
				"\r\n" +
				httpTestWSClientHi,
			s2c: "HTTP/1.1 101 Switching Protocols\r\n" +
				"Upgrade: websocket\r\n" +
				"Connection: Upgrade\r\n" +
				"\r\n" +
				httpTestWSServerHi,
			wantC2S: []string{"75 GET /chat", `8 WS text 2 B "hi"`},
			wantS2C: []string{"77 101 Switching Protocols → websocket", `4 WS text 2 B "hi"`},
		},
		{
			name: "upgrade declined: the client keeps speaking HTTP/1",
			c2s: "GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" +
				"GET /next HTTP/1.1\r\n\r\n",
			s2c: "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n" +
				"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			wantC2S: []string{"63 GET /chat", "22 GET /next"},
			wantS2C: []string{"47 400 Bad Request 0 B", "38 200 OK 0 B"},
		},
		{
			name: "h2c upgrade hands both directions to the h2 framer",
			c2s: "GET / HTTP/1.1\r\n" +
				"Upgrade: h2c\r\n" +
				"Connection: Upgrade, HTTP2-Settings\r\n" +
				"HTTP2-Settings: AAMAAABkAAQAAP__\r\n" +
				"\r\n" +
				httpPreface + httpTestH2Settings,
			s2c: "HTTP/1.1 101 Switching Protocols\r\n" +
				"Connection: Upgrade\r\n" +
				"Upgrade: h2c\r\n" +
				"\r\n" +
				httpTestH2Settings,
			wantC2S: []string{"103 GET /", "h2", "h2"},
			wantS2C: []string{"71 101 Switching Protocols → h2c", "h2"},
		},
		{
			name: "prior-knowledge HTTP/2 preface",
			c2s:  httpPreface + httpTestH2Settings,
			s2c:  httpTestH2Settings,
			// Only the protocol is checked: the h2 framer's summaries are its own.
			wantC2S: []string{"h2", "h2"},
			wantS2C: []string{"h2"},
		},
		{
			name:    "CONNECT tunnel: TLS inside is framed as TLS records",
			c2s:     "CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n" + "\x16\x03\x01\x00\x01\x01",
			s2c:     "HTTP/1.1 200 Connection established\r\n\r\n" + "\x16\x03\x03\x00\x01\x02",
			wantC2S: []string{"61 CONNECT example.test:443", "6 Handshake ClientHello (start)"},
			wantS2C: []string{"39 200 Connection established", "6 Handshake ServerHello (start)"},
		},
		{
			name:    "CONNECT tunnel: unknown bytes inside stay opaque",
			c2s:     "CONNECT example.test:9 HTTP/1.1\r\n\r\n" + "\x00\x01\x02\x03",
			s2c:     "HTTP/1.1 200 OK\r\n\r\n" + "\xff\xfe",
			wantC2S: []string{"35 CONNECT example.test:9", "4 tunnel data 4 B"},
			wantS2C: []string{"19 200 OK", "2 tunnel data 2 B"},
		},
		{
			name:    "101 to a protocol without a framer: opaque",
			c2s:     "GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: IRC/6.9\r\n\r\n" + "NICK x\r\n",
			s2c:     "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: IRC/6.9\r\n\r\n" + ":srv 001\r\n",
			wantC2S: []string{"57 GET /", "8 irc data 8 B"},
			wantS2C: []string{"75 101 Switching Protocols → irc", "10 irc data 10 B"},
		},
		{
			name: "leading blank lines and obs-fold",
			c2s: "\r\n" + // stray CRLF after a previous body
				"GET / HTTP/1.1\r\n" +
				"Connection: keep-alive,\r\n" +
				" Upgrade\r\n" + // folded continuation
				"Upgrade: websocket\r\n" +
				"\r\n",
			wantC2S: []string{"75 GET /"},
		},
		{
			name:    "response with no request seen is framed as answering GET",
			s2c:     "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
			wantS2C: []string{"41 200 OK 3 B"},
		},
		{
			name:    "garbage, then resync to the next request",
			c2s:     "\x00\x01garbage\n" + "GET /ok HTTP/1.1\r\n\r\n",
			wantC2S: []string{"error@0 control byte 0x00 in the message head", "20 GET /ok"},
		},
		{
			name:    "bad method byte",
			c2s:     "GE(T / HTTP/1.1\r\n\r\n",
			wantC2S: []string{"error@2 byte 0x28 cannot be in a method: not an HTTP request"},
		},
		{
			name:    "missing HTTP version",
			c2s:     "GET /\r\n\r\n",
			wantC2S: []string{"error@5 request line has no HTTP version"},
		},
		{
			name:    "header line without a colon",
			c2s:     "GET / HTTP/1.1\r\nHost example\r\n\r\n",
			wantC2S: []string{"error@16 header line without a colon"},
		},
		{
			name:    "space before the colon",
			c2s:     "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
			wantC2S: []string{"error@20 byte 0x20 cannot be in a header name"},
		},
		{
			name:    "conflicting Content-Length",
			c2s:     "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
			wantC2S: []string{"error@0 conflicting Content-Length values 1 and 2"},
		},
		{
			name:    "invalid Content-Length",
			c2s:     "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
			wantC2S: []string{`error@0 invalid Content-Length "-1"`},
		},
		{
			name:    "request Transfer-Encoding without chunked",
			c2s:     "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
			wantC2S: []string{`error@0 request Transfer-Encoding "gzip" does not end with chunked: its length cannot be known`},
		},
		{
			name:    "bad chunk size",
			c2s:     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + "zz\r\n",
			wantC2S: []string{"error@47 byte 0x7a where a chunk size (hex) should be"},
		},
		{
			name:    "chunk data longer than its size",
			c2s:     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + "2\r\nabc\r\n",
			wantC2S: []string{"error@52 chunk data not followed by CRLF"},
		},
		{
			name:    "implausible chunk size",
			c2s:     "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + "fffffffffffff\r\n",
			wantC2S: []string{"error@47 chunk size is implausible (over 1.0 TiB)"},
		},
		{
			name:    "malformed status",
			s2c:     "HTTP/1.1 2x0 OK\r\n\r\n",
			wantS2C: []string{"error@10 malformed status code"},
		},
		{
			name:    "truncated response body",
			c2s:     "GET / HTTP/1.1\r\n\r\n",
			s2c:     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
			wantC2S: []string{"18 GET /"},
			wantS2C: []string{"partial 42"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func(cuts bool) (c2s, s2c []specOutcome) {
				d := newHTTP1(Stream)
				var cc, sc []int
				if cuts {
					cc, sc = tt.c2sCuts, tt.s2cCuts
				}
				return specDrive(t, d, reassembly.ClientToServer, []byte(tt.c2s), cc...),
					specDrive(t, d, reassembly.ServerToClient, []byte(tt.s2c), sc...)
			}
			c2s, s2c := run(true)
			httpCheckBrief(t, "c2s", c2s, tt.wantC2S)
			httpCheckBrief(t, "s2c", s2c, tt.wantS2C)
			wc, ws := run(false)
			specCompare(t, wc, c2s)
			specCompare(t, ws, s2c)
		})
	}
}

// httpCheckBrief is specCheckBrief, except that a wanted line that is just a
// protocol name ("h2") matches any message of that protocol: the h2 framer's
// summaries belong to its own tests.
func httpCheckBrief(t *testing.T, dir string, outs []specOutcome, want []string) {
	t.Helper()
	got := specBrief(outs)
	for i, w := range want {
		if i < len(outs) && !strings.Contains(w, " ") && outs[i].Protocol == w && outs[i].Err == "" {
			got[i] = w
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s got:\n\t%s\nwant:\n\t%s", dir, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestHTTP1FieldsAndParts(t *testing.T) {
	d := newHTTP1(Stream)
	req := "GET /a HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"
	if _, _, err := d.Next(reassembly.ClientToServer, []byte(req), false); err != nil {
		t.Fatal(err)
	}
	resp := "HTTP/1.1 200 OK\r\n" +
		"transfer-encoding: chunked\r\n" + // any case; Fields use the canonical name
		"\r\n" + // head: 47 bytes
		"3\r\nabc\r\n" + // [47,55)
		"0\r\n" + // [55,58)
		"T: 1\r\n" + // trailers [58,66)
		"\r\n"
	m, n, err := d.Next(reassembly.ServerToClient, []byte(resp), false)
	if err != nil || n != len(resp) {
		t.Fatalf("Next = %d, %v; want %d", n, err, len(resp))
	}
	wantFields := []Field{
		{"version", "HTTP/1.1"}, {"status", "200"}, {"reason", "OK"},
		{"Transfer-Encoding", "chunked"}, {"body_length", "3"}, {"chunks", "1"},
	}
	if fmt.Sprint(m.Fields) != fmt.Sprint(wantFields) {
		t.Errorf("Fields = %v\nwant %v", m.Fields, wantFields)
	}
	wantParts := []Part{
		{reassembly.ByteRange{Start: 0, End: 47}, "headers"},
		{reassembly.ByteRange{Start: 47, End: 55}, "chunk 1"},
		{reassembly.ByteRange{Start: 55, End: 58}, "last chunk"},
		{reassembly.ByteRange{Start: 58, End: 66}, "trailers"},
	}
	if fmt.Sprint(m.Parts) != fmt.Sprint(wantParts) {
		t.Errorf("Parts = %v\nwant %v", m.Parts, wantParts)
	}
}

// TestHTTP1NeedMore checks the n returned with ErrNeedMore: the whole
// message's length once Content-Length is known, 0 otherwise.
func TestHTTP1NeedMore(t *testing.T) {
	head := "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n"
	for _, c := range []struct {
		in    string
		atEOF bool
		wantN int
	}{
		{"POST / HTT", false, 0},
		{head, false, len(head) + 100},
		{head + "some", false, len(head) + 100},
		{head + "some", true, len(head) + 100},
	} {
		d := newHTTP1(Stream)
		_, n, err := d.Next(reassembly.ClientToServer, []byte(c.in), c.atEOF)
		if err != ErrNeedMore || n != c.wantN {
			t.Errorf("Next(%q) = %d, %v; want %d, ErrNeedMore", c.in, n, err, c.wantN)
		}
	}
	// A body delimited by the close: not complete until atEOF.
	d := newHTTP1(Stream)
	resp := []byte("HTTP/1.0 200 OK\r\n\r\nbody")
	if _, n, err := d.Next(reassembly.ServerToClient, resp, false); err != ErrNeedMore || n != 0 {
		t.Errorf("before EOF: %d, %v; want 0, ErrNeedMore", n, err)
	}
	if m, n, err := d.Next(reassembly.ServerToClient, resp, true); err != nil || n != len(resp) || m.Summary != "200 OK 4 B" {
		t.Errorf("at EOF: %q %d, %v", m.Summary, n, err)
	}
}

func TestHTTP1HeaderLimit(t *testing.T) {
	big := "GET / HTTP/1.1\r\nX-Big: " + strings.Repeat("a", httpMaxHeader) + "\r\n\r\n"
	outs := specDrive(t, newHTTP1(Stream), reassembly.ClientToServer, []byte(big), 1000, 40000)
	specCheckBrief(t, outs, []string{"error@0 no end of the header block within 64.0 KiB"})
}

// TestHTTP1Incremental checks that a head and a chunked body arriving in
// tiny segments are parsed once overall: the scan position survives
// ErrNeedMore.
func TestHTTP1Incremental(t *testing.T) {
	var body strings.Builder
	for range 500 {
		body.WriteString("1\r\nx\r\n")
	}
	body.WriteString("0\r\n\r\n")
	msg := []byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body.String())
	d := newHTTP1(Stream).(*httpDecoder)
	for i := 1; i < len(msg); i++ {
		_, _, err := d.Next(reassembly.ServerToClient, msg[:i], false)
		if err != ErrNeedMore {
			t.Fatalf("Next(%d bytes) = %v", i, err)
		}
		rs := d.resume[1]
		if rs.head == nil && rs.scan.pos < i-5 { // up to 5 bytes to tell "HTTP/" from a method
			t.Fatalf("after %d bytes the head scan is at %d", i, rs.scan.pos)
		}
		if rs.head != nil && rs.chunks.pos < i-10 {
			t.Fatalf("after %d bytes the chunk parser is at %d", i, rs.chunks.pos)
		}
	}
	m, n, err := d.Next(reassembly.ServerToClient, msg, false)
	if err != nil || n != len(msg) || m.Summary != "200 OK 500 B (500 chunks)" {
		t.Fatalf("Next = %q, %d, %v", m.Summary, n, err)
	}
	if len(m.Parts) != 1+500+1 {
		t.Errorf("%d parts, want headers + 500 chunks + last chunk", len(m.Parts))
	}
}

func TestHTTP1ManyChunksShareParts(t *testing.T) {
	var b strings.Builder
	b.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	for range httpMaxParts + 50 {
		b.WriteString("1\r\nx\r\n")
	}
	b.WriteString("0\r\n\r\n")
	m, _, err := newHTTP1(Stream).Next(reassembly.ServerToClient, []byte(b.String()), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parts) != httpMaxParts+1 {
		t.Errorf("%d parts, want %d", len(m.Parts), httpMaxParts+1)
	}
	if last := m.Parts[len(m.Parts)-1]; last.Label != "chunk 1000 and later" {
		t.Errorf("last part %q", last.Label)
	}
}

func TestHTTP1H2Unavailable(t *testing.T) {
	saved := newH2Func
	newH2Func = nil
	t.Cleanup(func() { newH2Func = saved })
	d := newHTTP1(Stream)
	c2s := specDrive(t, d, reassembly.ClientToServer, []byte(httpPreface+httpTestH2Settings))
	specCheckBrief(t, c2s, []string{"33 h2c data 33 B"})
}

func TestHTTP1Resync(t *testing.T) {
	d := newHTTP1(Stream).(*httpDecoder)
	for _, c := range []struct {
		in   string
		want int
	}{
		{"GET / HTTP/1.1\r\n", 0},
		{"junk\r\nHTTP/1.1 200 OK\r\n", 6},
		{"body GET /x\nPOST /y HTTP/1.1\r\n", 12}, // "GET" mid-line does not count
		{"abc\nGETX /\nGET", -1},
		{"abc\nDELETE /r HTTP/1.1", 4},
	} {
		if got := d.Resync(reassembly.ClientToServer, []byte(c.in)); got != c.want {
			t.Errorf("Resync(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestHTTP1Corpus frames real captures both ways and checks the message
// counts tshark found (testdata/tshark/*.json).
func TestHTTP1Corpus(t *testing.T) {
	tests := []struct {
		name               string
		c2sSegs, s2cSegs   []int // tshark follow chunks; nil: one buffer
		wantReqs, wantResp int
	}{
		{"04_http11_keepalive_curl.0", []int{88, 83, 83, 83, 89}, []int{185, 52, 188, 1405, 188, 1405, 188, 1405, 186, 13}, 5, 5},
		{"05_http11_pipelined_10req.0", []int{831}, // all 10 requests in one segment
			[]int{186, 13, 186, 13, 186, 13, 186, 13, 186, 13, 186, 13, 186, 13, 186, 13, 186, 13, 186, 14}, 10, 10},
		{"06_http10_50_short_conns_ab.0", []int{88}, []int{249, 1024}, 1, 1},
		{"06_http10_50_short_conns_ab.17", nil, nil, 1, 1},
		{"06_http10_50_short_conns_ab.49", nil, nil, 1, 1},
		{"17_slow_sender_1byte_per_s.0", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 57}, []int{186, 14}, 1, 1},
		{"20_ipv6_loopback_http_nanosec.0", []int{79, 81}, []int{188, 1405, 203, 10240}, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c2sData := specFixture(t, "http1", tt.name+".c2s.bin")
			s2cData := specFixture(t, "http1", tt.name+".s2c.bin")
			d := newHTTP1(Stream)
			c2s := specDrive(t, d, reassembly.ClientToServer, c2sData, specChunks(tt.c2sSegs...)...)
			s2c := specDrive(t, d, reassembly.ServerToClient, s2cData, specChunks(tt.s2cSegs...)...)
			if got := specCount(c2s); got["http1"] != tt.wantReqs || len(got) != 1 {
				t.Errorf("c2s: %v, want %d requests and nothing else", got, tt.wantReqs)
			}
			if got := specCount(s2c); got["http1"] != tt.wantResp || len(got) != 1 {
				t.Errorf("s2c: %v, want %d responses and nothing else", got, tt.wantResp)
			}
			d = newHTTP1(Stream)
			specCompare(t, specDrive(t, d, reassembly.ClientToServer, c2sData), c2s)
			specCompare(t, specDrive(t, d, reassembly.ServerToClient, s2cData), s2c)
		})
	}
}

// httpFuzzSeeds are the first bytes of each direction of the HTTP fixtures.
func httpFuzzSeeds(f *testing.F, dir string, names ...string) {
	for _, name := range names {
		c2s := specFixture(f, dir, name+".c2s.bin")
		s2c := specFixture(f, dir, name+".s2c.bin")
		f.Add(c2s[:min(len(c2s), 2048)], s2c[:min(len(s2c), 2048)], uint16(len(c2s)/2), uint16(100))
	}
}

// FuzzHTTP1 checks the Decoder contract and chunking invariance for both
// directions of a connection through one decoder: client bytes first, then
// server bytes, each whole and in three pieces.
func FuzzHTTP1(f *testing.F) {
	httpFuzzSeeds(f, "http1", "04_http11_keepalive_curl.0", "05_http11_pipelined_10req.0", "06_http10_50_short_conns_ab.0")
	httpFuzzSeeds(f, "ws", "18_websocket_echo.0")
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x\r\nhello\r\n0\r\nT: 1\r\n\r\n"),
		[]byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nrest"), uint16(30), uint16(60))
	f.Add([]byte("HEAD / HTTP/1.1\r\n\r\nCONNECT h:1 HTTP/1.1\r\n\r\n\x16\x03"),
		[]byte("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.1 200 OK\r\n\r\n\x16\x03\x03"), uint16(20), uint16(45))
	f.Add([]byte("GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"+httpPreface+httpTestH2Settings),
		[]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n"+httpTestH2Settings), uint16(60), uint16(3))
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, c1, c2 uint16) {
		whole := newHTTP1(Stream)
		wc := specDrive(t, whole, reassembly.ClientToServer, c2s)
		ws := specDrive(t, whole, reassembly.ServerToClient, s2c)
		pieces := newHTTP1(Stream)
		pc := specDrive(t, pieces, reassembly.ClientToServer, c2s, specSplitSeed(len(c2s), c1, c2)...)
		ps := specDrive(t, pieces, reassembly.ServerToClient, s2c, specSplitSeed(len(s2c), c2, c1)...)
		specCompare(t, wc, pc)
		specCompare(t, ws, ps)
	})
}

func BenchmarkHTTP1(b *testing.B) {
	c2s := specFixture(b, "http1", "05_http11_pipelined_10req.0.c2s.bin")
	s2c := specFixture(b, "http1", "05_http11_pipelined_10req.0.s2c.bin")
	b.ReportAllocs()
	b.SetBytes(int64(len(c2s) + len(s2c)))
	for b.Loop() {
		d := newHTTP1(Stream)
		for _, x := range []struct {
			dir  reassembly.Direction
			data []byte
		}{{reassembly.ClientToServer, c2s}, {reassembly.ServerToClient, s2c}} {
			for off := 0; off < len(x.data); {
				_, n, err := d.Next(x.dir, x.data[off:], true)
				if err != nil {
					b.Fatal(err)
				}
				off += n
			}
		}
	}
}

// BenchmarkHTTP1Chunked measures a large chunked body delivered in
// MSS-sized segments, the case where rescanning would be quadratic.
func BenchmarkHTTP1Chunked(b *testing.B) {
	var msg bytes.Buffer
	msg.WriteString("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
	chunk := bytes.Repeat([]byte("z"), 4096)
	for range 256 {
		fmt.Fprintf(&msg, "%x\r\n%s\r\n", len(chunk), chunk)
	}
	msg.WriteString("0\r\n\r\n")
	data := msg.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := newHTTP1(Stream)
		for end := 1448; ; end += 1448 {
			end = min(end, len(data))
			_, n, err := d.Next(reassembly.ServerToClient, data[:end], false)
			if err == nil {
				if n != len(data) {
					b.Fatal(n)
				}
				break
			}
			if err != ErrNeedMore {
				b.Fatal(err)
			}
		}
	}
}
