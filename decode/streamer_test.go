package decode

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// feed is one OnData call: bytes of a direction (nil: a gap of gap bytes),
// or the end of the direction.
type feed struct {
	dir   reassembly.Direction
	data  string
	gap   int64
	close bool
}

type gotMsg struct {
	Dir     reassembly.Direction
	Range   reassembly.ByteRange
	Frames  []int
	Proto   string
	Summary string
	Partial bool
}

func (g gotMsg) String() string {
	p := ""
	if g.Partial {
		p = " partial"
	}
	return fmt.Sprintf("%s #[%d,%d) frames %v %s %q%s", g.Dir, g.Range.Start, g.Range.End, g.Frames, g.Proto, g.Summary, p)
}

func newTestStream(proto capture.Proto, serverPort uint16) *reassembly.Stream {
	return &reassembly.Stream{Proto: proto, ID: 3,
		Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), serverPort)}
}

// runStreamer feeds the calls in order; each data call is one frame,
// numbered from 1.
func runStreamer(t *testing.T, o StreamerOptions, s *reassembly.Stream, feeds []feed) ([]gotMsg, *Streamer) {
	t.Helper()
	var got []gotMsg
	o.OnMessage = func(st *reassembly.Stream, m *Message) {
		if m.Stream != s.Name() {
			t.Errorf("message names stream %q, want %q", m.Stream, s.Name())
		}
		got = append(got, gotMsg{m.Dir, m.Range, m.Frames, m.Protocol, m.Summary, m.Partial})
	}
	st, err := NewStreamer(o)
	if err != nil {
		t.Fatal(err)
	}
	var off [2]int64
	frame := 0
	for _, f := range feeds {
		switch {
		case f.close:
			st.CloseDir(s, f.dir)
		case f.gap > 0:
			r := reassembly.ByteRange{Start: off[f.dir], End: off[f.dir] + f.gap}
			st.Data(s, f.dir, r, nil, 0)
			off[f.dir] = r.End
		default:
			frame++
			r := reassembly.ByteRange{Start: off[f.dir], End: off[f.dir] + int64(len(f.data))}
			st.Data(s, f.dir, r, []byte(f.data), frame)
			off[f.dir] = r.End
		}
	}
	st.End(s)
	if n := st.Stats().Buffered; n != 0 {
		t.Errorf("%d bytes still buffered after End", n)
	}
	if n := st.Stats().Streams; n != 0 {
		t.Errorf("%d streams still held after End", n)
	}
	return got, st
}

func c2s(s string) feed { return feed{dir: reassembly.ClientToServer, data: s} }
func s2c(s string) feed { return feed{dir: reassembly.ServerToClient, data: s} }

func TestStreamer(t *testing.T) {
	const req = "GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
	const resp = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
	tests := []struct {
		name    string
		framing string
		max     int
		proto   capture.Proto
		port    uint16
		feeds   []feed
		want    []string
	}{
		{
			name:  "auto http1, request split, response coalesced with the next",
			port:  8000,
			feeds: []feed{c2s(req[:10]), c2s(req[10:]), s2c(resp + resp[:3]), c2s(req), s2c(resp[3:])},
			want: []string{
				`c2s #[0,37) frames [1 2] http1 "GET /index.html"`,
				`s2c #[0,43) frames [3] http1 "200 OK 5 B"`,
				`c2s #[37,74) frames [4] http1 "GET /index.html"`,
				`s2c #[43,86) frames [3 5] http1 "200 OK 5 B"`,
			},
		},
		{
			name:    "len:u16be split, coalesced, then an incomplete one at the close",
			framing: "len:u16be",
			feeds:   []feed{c2s("\x00\x02a"), c2s("b\x00\x01c\x00\x05xy"), {dir: 0, close: true}},
			want: []string{
				`c2s #[0,4) frames [1 2] len "len=2 \"ab\""`,
				`c2s #[4,7) frames [2] len "len=1 \"c\""`,
				`c2s #[7,11) frames [2] len "incomplete: 4 of 7 bytes before the end of the stream" partial`,
			},
		},
		{
			name:    "gap cuts a message; line framing resyncs after it",
			framing: "line",
			feeds:   []feed{c2s("one\ntw"), {dir: 0, gap: 5}, c2s("ee\nfour\n")},
			want: []string{
				`c2s #[0,4) frames [1] line "one"`,
				`c2s #[4,6) frames [1] line "incomplete: 2 bytes before a gap of 5 bytes" partial`,
				`c2s #[11,14) frames [2] unframed "bytes before the next message start" partial`,
				`c2s #[14,19) frames [2] line "four"`,
			},
		},
		{
			name:    "message over the buffer cap is skipped to its end",
			framing: "len:u8",
			max:     8,
			feeds:   []feed{c2s("\x02hi\x0a0123"), c2s("456789"), c2s("\x01z")},
			want: []string{
				`c2s #[0,3) frames [1] len "len=2 \"hi\""`,
				`c2s #[3,14) frames [1] len "11 B message larger than the 8 B buffer: not decoded" partial`,
				`c2s #[14,16) frames [3] len "len=1 \"z\""`,
			},
		},
		{
			name:  "auto: unknown bytes report nothing",
			port:  5201,
			feeds: []feed{c2s("\x01\x02\x03\x04"), s2c("\xff\xfe"), c2s(strings.Repeat("\x00", 1000))},
		},
		{
			name:    "raw: one message per segment",
			framing: "raw",
			feeds:   []feed{c2s("abc"), s2c("de")},
			want:    []string{`c2s #[0,3) frames [1] raw "3 bytes"`, `s2c #[0,2) frames [2] raw "2 bytes"`},
		},
		{
			name:  "auto UDP DNS",
			proto: capture.ProtoUDP,
			port:  53,
			feeds: []feed{c2s("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01")},
			want:  []string{`c2s #[0,29) frames [1] dns "#4660 A? example.com"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto := tt.proto
			if proto == 0 {
				proto = capture.ProtoTCP
			}
			got, _ := runStreamer(t, StreamerOptions{Framing: tt.framing, MaxBuffer: tt.max}, newTestStream(proto, tt.port), tt.feeds)
			var lines []string
			for _, g := range got {
				lines = append(lines, g.String())
			}
			if !reflect.DeepEqual(lines, tt.want) {
				t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(lines, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

// TestStreamerChunking checks that how the bytes are cut into segments
// changes only the frame lists, never the messages.
func TestStreamerChunking(t *testing.T) {
	var stream strings.Builder
	for i := range 50 {
		fmt.Fprintf(&stream, "%c%s", byte(i%7), strings.Repeat(string(rune('a'+i%26)), i%7))
	}
	whole, _ := runStreamer(t, StreamerOptions{Framing: "len:u8"}, newTestStream(capture.ProtoTCP, 9000), []feed{c2s(stream.String())})
	for _, size := range []int{1, 2, 3, 5, 8, 13} {
		var feeds []feed
		b := stream.String()
		for len(b) > 0 {
			n := min(size, len(b))
			feeds = append(feeds, c2s(b[:n]))
			b = b[n:]
		}
		got, _ := runStreamer(t, StreamerOptions{Framing: "len:u8"}, newTestStream(capture.ProtoTCP, 9000), feeds)
		if len(got) != len(whole) {
			t.Fatalf("chunks of %d: %d messages, want %d", size, len(got), len(whole))
		}
		for i := range got {
			g, w := got[i], whole[i]
			if g.Range != w.Range || g.Summary != w.Summary || g.Partial != w.Partial {
				t.Errorf("chunks of %d: message %d = %v, want %v", size, i, g, w)
			}
			if want := int((g.Range.End-1)/int64(size)-g.Range.Start/int64(size)) + 1; len(g.Frames) != want {
				t.Errorf("chunks of %d: message %d spans frames %v, want %d frames", size, i, g.Frames, want)
			}
		}
	}
}

func TestStreamerBadFraming(t *testing.T) {
	if _, err := NewStreamer(StreamerOptions{Framing: "len:u24"}); err == nil {
		t.Error("NewStreamer accepted len:u24")
	}
}
