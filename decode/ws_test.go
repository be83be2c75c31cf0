package decode

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

func TestWS(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cuts []int
		want []string
	}{
		{
			name: "unmasked text (server to client)",
			in:   "\x81\x05" + "hello", // FIN+text, len 5
			want: []string{`7 WS text 5 B "hello"`},
		},
		{
			name: "masked text, RFC 6455 §5.7 example",
			in: "\x81\x85" + // FIN+text, MASK|len 5
				"\x37\xfa\x21\x3d" + // masking key
				"\x7f\x9f\x4d\x51\x58", // "Hello" masked
			cuts: []int{1, 6},
			want: []string{`11 WS text 5 B "Hello"`},
		},
		{
			name: "fragmented text with a ping between the fragments",
			in: "\x01\x03" + "Hel" + // text, no FIN: part 1
				"\x89\x05" + "Hello" + // ping between fragments
				"\x80\x02" + "lo", // continuation, FIN: final part
			want: []string{
				`5 WS text 3 B "Hel" (part 1, more follow)`,
				"7 WS ping 5 B",
				"4 WS continuation of text message (part 2, final) 2 B",
			},
		},
		{
			name: "16-bit length",
			in:   "\x82\x7e\x01\x00" + strings.Repeat("b", 256), // binary, len 126 → next 2 bytes: 256
			cuts: []int{3, 100},
			want: []string{"260 WS binary 256 B"},
		},
		{
			name: "64-bit length",
			in:   "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00" + strings.Repeat("b", 65536), // len 127 → next 8 bytes: 65536
			cuts: []int{9, 5000},
			want: []string{"65546 WS binary 64.0 KiB"},
		},
		{
			name: "masked close with code and reason",
			in: "\x88\x85" + // FIN+close, MASK|len 5
				"\x01\x02\x03\x04" + // key
				"\x02\xea\x61\x7d\x64", // 03 e8 "bye" masked: code 1000
			want: []string{`11 WS close 1000 "bye"`},
		},
		{
			name: "empty control frames",
			in:   "\x88\x00" + "\x8a\x00" + "\x89\x00", // close, pong, ping
			want: []string{"2 WS close", "2 WS pong", "2 WS ping"},
		},
		{
			name: "continuation without its start",
			in:   "\x00\x01" + "x" + "\x80\x01" + "y",
			want: []string{"3 WS continuation 1 B (start of message not seen)", "3 WS continuation 1 B (final; start of message not seen)"},
		},
		{
			name: "permessage-deflate (RSV1) text: no preview",
			in:   "\xc1\x03" + "\xf2\x48\x05",
			want: []string{"5 WS text 3 B (compressed)"},
		},
		{
			name: "text preview cut at 32 bytes",
			in:   "\x81\x28" + strings.Repeat("0123456789", 4), // len 40
			want: []string{`42 WS text 40 B "01234567890123456789012345678901"...`},
		},
		{name: "reserved opcode", in: "\x83\x00", want: []string{"error@0 reserved opcode 0x3"}},
		{name: "fragmented ping", in: "\x09\x00", want: []string{"error@0 ping frame without FIN: control frames cannot be fragmented"}},
		{name: "long control frame", in: "\x88\x7e\x00\x80", want: []string{"error@1 close frame with a long payload: control payloads are at most 125 bytes"}},
		{
			name: "64-bit length with the top bit set",
			in:   "\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00",
			want: []string{"error@2 payload length 9223372036854775808 is implausible (over 1.0 TiB)"},
		},
		{name: "frame cut short", in: "\x81\x05" + "hel", want: []string{"partial 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			outs := specDrive(t, &wsDecoder{}, reassembly.ServerToClient, []byte(tt.in), tt.cuts...)
			specCheckBrief(t, outs, tt.want)
			specCompare(t, specDrive(t, &wsDecoder{}, reassembly.ServerToClient, []byte(tt.in)), outs)
		})
	}
}

// TestWSFragmentFields checks that the fragments of one message can be put
// back together from their Fields: the same message number, parts in order,
// the last marked final.
func TestWSFragmentFields(t *testing.T) {
	in := []byte("" +
		"\x81\x01" + "a" + // message 1: one frame
		"\x02\x01" + "b" + // message 2, part 1 (binary)
		"\x00\x01" + "c" + // message 2, part 2
		"\x8a\x00" + // pong: no message number
		"\x80\x01" + "d") // message 2, part 3, final
	d := &wsDecoder{}
	var got []string
	for off := 0; off < len(in); {
		m, n, err := d.Next(reassembly.ClientToServer, in[off:], false)
		if err != nil {
			t.Fatal(err)
		}
		var fs []string
		for _, f := range m.Fields {
			if f.Name == "message" || f.Name == "part" || f.Name == "final" || f.Name == "opcode" {
				fs = append(fs, f.Name+"="+f.Value)
			}
		}
		got = append(got, strings.Join(fs, " "))
		off += n
	}
	want := []string{
		"opcode=text message=1",
		"opcode=binary message=2 part=1",
		"opcode=continuation message=2 part=2",
		"opcode=pong",
		"opcode=continuation message=2 part=3 final=true",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestWSNeedMoreAndParts(t *testing.T) {
	d := &wsDecoder{}
	for _, c := range []struct {
		in    string
		wantN int
	}{
		{"\x82", 0},
		{"\x82\xfe\x01", 0},                       // 16-bit length incomplete
		{"\x82\xfe\x01\x00\x00\x00", 0},           // mask key incomplete
		{"\x82\xfe\x01\x00\x00\x00\x00\x00", 264}, // 2 + 2 + 4 + 256
		{"\x82\x7f\x00\x00\x00\x00\x00\x00\x01\x00", 266},
	} {
		if _, n, err := d.Next(reassembly.ClientToServer, []byte(c.in), false); err != ErrNeedMore || n != c.wantN {
			t.Errorf("Next(%q) = %d, %v; want %d, ErrNeedMore", c.in, n, err, c.wantN)
		}
	}
	m, _, err := d.Next(reassembly.ClientToServer, []byte("\x81\x82\x00\x00\x00\x00hi"), false)
	if err != nil {
		t.Fatal(err)
	}
	want := []Part{{reassembly.ByteRange{Start: 0, End: 6}, "header"}, {reassembly.ByteRange{Start: 6, End: 8}, "payload"}}
	if fmt.Sprint(m.Parts) != fmt.Sprint(want) {
		t.Errorf("Parts = %v, want %v", m.Parts, want)
	}
}

// TestWSWithoutHandshake: --framing ws on a connection picked up after the
// upgrade frames from the first byte.
func TestWSWithoutHandshake(t *testing.T) {
	d := newWS(Stream)
	outs := specDrive(t, d, reassembly.ServerToClient, []byte("\x81\x02hi"+"\x88\x02\x03\xe8"))
	specCheckBrief(t, outs, []string{`4 WS text 2 B "hi"`, "4 WS close 1000"})
}

// TestWSCorpus frames capture 18 (a Python websockets echo session) with
// both the http1 and the ws framers and checks tshark's counts: one 101
// upgrade, then text 8, binary 2, ping 1, pong 1, close 2 over both
// directions.
func TestWSCorpus(t *testing.T) {
	const name = "18_websocket_echo.0"
	c2sData := specFixture(t, "ws", name+".c2s.bin")
	s2cData := specFixture(t, "ws", name+".s2c.bin")
	c2sSegs := []int{229, 11, 20, 208, 15, 32768, 32768, 4478, 15, 8}
	s2cSegs := []int{203, 7, 16, 204, 11, 32768, 32768, 4474, 11, 4}
	for _, mk := range []struct {
		name string
		new  func(Transport) Decoder
	}{{"http1", newHTTP1}, {"ws", newWS}} {
		t.Run(mk.name, func(t *testing.T) {
			d := mk.new(Stream)
			c2s := specDrive(t, d, reassembly.ClientToServer, c2sData, specChunks(c2sSegs...)...)
			s2c := specDrive(t, d, reassembly.ServerToClient, s2cData, specChunks(s2cSegs...)...)
			ops := map[string]int{}
			for _, o := range append(c2s, s2c...) {
				if o.Err != "" {
					t.Errorf("%+v", o)
				}
				if o.Protocol == "http1" {
					ops[o.Summary]++
				}
				for _, f := range o.Fields {
					if o.Protocol == "ws" && f.Name == "opcode" {
						ops[f.Value]++
					}
				}
			}
			want := map[string]int{"GET /chat": 1, "101 Switching Protocols → websocket": 1,
				"text": 8, "binary": 2, "ping": 1, "pong": 1, "close": 2}
			if fmt.Sprint(ops) != fmt.Sprint(want) {
				t.Errorf("got %v\nwant %v", ops, want)
			}
			d = mk.new(Stream)
			specCompare(t, specDrive(t, d, reassembly.ClientToServer, c2sData), c2s)
			specCompare(t, specDrive(t, d, reassembly.ServerToClient, s2cData), s2c)
		})
	}
}

// FuzzWS checks the Decoder contract and chunking invariance (see FuzzHTTP1)
// for the ws framer, handshake included.
func FuzzWS(f *testing.F) {
	httpFuzzSeeds(f, "ws", "18_websocket_echo.0")
	f.Add([]byte("\x01\x03Hel\x89\x05Hello\x80\x02lo\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"),
		[]byte("\x82\x7e\x00\x05abcde\x88\x02\x03\xe8\x83\x00"), uint16(4), uint16(9))
	f.Add([]byte("\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x03xyz"), []byte("\x00\x01x"), uint16(9), uint16(1))
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, c1, c2 uint16) {
		whole := newWS(Stream)
		wc := specDrive(t, whole, reassembly.ClientToServer, c2s)
		ws := specDrive(t, whole, reassembly.ServerToClient, s2c)
		pieces := newWS(Stream)
		pc := specDrive(t, pieces, reassembly.ClientToServer, c2s, specSplitSeed(len(c2s), c1, c2)...)
		ps := specDrive(t, pieces, reassembly.ServerToClient, s2c, specSplitSeed(len(s2c), c2, c1)...)
		specCompare(t, wc, pc)
		specCompare(t, ws, ps)
	})
}

func BenchmarkWS(b *testing.B) {
	frame := append([]byte("\x81\xfe\x00\x80\x01\x02\x03\x04"), bytes.Repeat([]byte("m"), 128)...) // masked text, 128 B
	data := bytes.Repeat(frame, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := &wsDecoder{}
		for off := 0; off < len(data); {
			_, n, err := d.Next(reassembly.ClientToServer, data[off:], true)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}
