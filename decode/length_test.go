package decode

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

func TestLength(t *testing.T) {
	tests := []struct {
		name string
		spec string
		in   []byte
		cuts []int
		want []string
	}{
		{
			name: "u32be, two messages in one segment",
			spec: "len:u32be",
			in: []byte("" +
				"\x00\x00\x00\x05" + "hello" + // length 5, payload
				"\x00\x00\x00\x00"), // length 0: header only
			want: []string{"9 len=5 \"hello\"", "4 len=0"},
		},
		{
			name: "u32be split inside the header and the payload",
			spec: "len:u32be",
			in:   []byte("\x00\x00\x00\x14" + "0123456789abcdefghij"), // length 20
			cuts: []int{2, 10},
			want: []string{"24 len=20 \"0123456789abcdef\"..."},
		},
		{
			name: "u8",
			spec: "len:u8",
			in:   []byte("\x03abc" + "\x01z"),
			want: []string{"4 len=3 \"abc\"", "2 len=1 \"z\""},
		},
		{
			name: "u16le",
			spec: "len:u16le",
			in:   []byte("\x02\x00" + "hi"), // 0x0002 little-endian
			want: []string{"4 len=2 \"hi\""},
		},
		{
			name: "u32le",
			spec: "len:u32le",
			in:   []byte("\x01\x00\x00\x00" + "!"),
			want: []string{"5 len=1 \"!\""},
		},
		{
			name: "u64be",
			spec: "len:u64be",
			in:   []byte("\x00\x00\x00\x00\x00\x00\x00\x02" + "ok"),
			want: []string{"10 len=2 \"ok\""},
		},
		{
			name: "offset: type byte then u16be length",
			spec: "len:u16be,offset=1",
			in: []byte("" +
				"\x17" + // record type
				"\x00\x03" + // length 3
				"abc"),
			want: []string{"6 len=3 \"abc\""},
		},
		{
			name: "TLS-like: 5-byte header, u16be at offset 3",
			spec: "len:u16be,offset=3",
			in: []byte("" +
				"\x16\x03\x01" + // handshake, TLS 1.0 record version
				"\x00\x02" + // length 2
				"\x01\x00"),
			want: []string{"7 len=2 \"\x01\x00\""},
		},
		{
			name: "include: length counts the whole message",
			spec: "len:u16be,include",
			in:   []byte("\x00\x05" + "abc" + "\x00\x02"), // 5 = 2 header + 3
			want: []string{"5 len=3 \"abc\"", "2 len=0"},
		},
		{
			name: "adjust: length excludes a 2-byte trailer",
			spec: "len:u8,adjust=2",
			in:   []byte("\x01" + "x" + "\xCA\xFE"),
			want: []string{"4 len=3 \"x\xCA\xFE\""},
		},
		{
			name: "include with negative adjust",
			spec: "len:u16be,include,adjust=-1",
			in:   []byte("\x00\x04" + "a"), // total 4-1 = 3
			want: []string{"3 len=1 \"a\""},
		},
		{
			name: "include: length shorter than the header",
			spec: "len:u32be,include",
			in:   []byte("\x00\x00\x00\x02" + "zz"),
			want: []string{"error@0 length 2 gives a 2-byte message, shorter than its 4-byte header"},
		},
		{
			name: "adjust below the header",
			spec: "len:u8,offset=2,adjust=-5",
			in:   []byte("ab\x01" + "zzzz"),
			want: []string{"error@2 length 1 adjusted by -5 gives a -1-byte message, shorter than its 3-byte header"},
		},
		{
			name: "u64 length that cannot be right",
			spec: "len:u64be",
			in:   []byte("GET / HTTP/1.1\r\n"), // text read as a length
			want: []string{"error@0 length 5135603447292250196 is implausible (over 1.0 TiB): wrong framing or a misaligned stream?"},
		},
		{
			name: "incomplete message at the end",
			spec: "len:u32be",
			in:   []byte("\x00\x00\x00\x10" + "short"),
			want: []string{"partial 9"},
		},
		{
			name: "incomplete header at the end",
			spec: "len:u32be,offset=2",
			in:   []byte("\x00\x00\x00"),
			want: []string{"partial 3"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := ParseSpec(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			outs := specDrive(t, newLength(spec, Stream), reassembly.ClientToServer, tt.in, tt.cuts...)
			specCheckBrief(t, outs, tt.want)
			specCompare(t, specDrive(t, newLength(spec, Stream), reassembly.ClientToServer, tt.in), outs)
		})
	}
}

// TestLengthNeedMore checks that ErrNeedMore says how long the message is
// as soon as the header is in, so a driver can wait for all of it.
func TestLengthNeedMore(t *testing.T) {
	d := newLength(Spec{Name: "len", Width: 4, Offset: 1}, Stream)
	for _, c := range []struct {
		in    string
		wantN int
	}{
		{"\x07\x00\x00", 0},                  // header incomplete: unknown
		{"\x07\x00\x00\x01\x00", 5 + 256},    // header 5 + length 256
		{"\x07\x00\x00\x01\x00abc", 5 + 256}, // some payload
	} {
		_, n, err := d.Next(reassembly.ClientToServer, []byte(c.in), false)
		if err != ErrNeedMore || n != c.wantN {
			t.Errorf("Next(%q) = %d, %v; want %d, ErrNeedMore", c.in, n, err, c.wantN)
		}
	}
}

func TestLengthParts(t *testing.T) {
	d := newLength(Spec{Name: "len", Width: 2, Offset: 1}, Stream)
	m, n, err := d.Next(reassembly.ClientToServer, []byte("\x01\x00\x03abcNEXT"), false)
	if err != nil || n != 6 {
		t.Fatalf("Next = %d, %v", n, err)
	}
	want := []Part{{reassembly.ByteRange{Start: 0, End: 3}, "header"}, {reassembly.ByteRange{Start: 3, End: 6}, "body"}}
	if len(m.Parts) != 2 || m.Parts[0] != want[0] || m.Parts[1] != want[1] {
		t.Errorf("Parts = %v, want %v", m.Parts, want)
	}
	if m.Fields[0] != (Field{"length_field", "3"}) || m.Fields[1] != (Field{"payload_length", "3"}) {
		t.Errorf("Fields = %v", m.Fields)
	}
}

// TestLengthCorpus frames captures 10 (len:u32be, 10 messages each way,
// split and coalesced segments) and 14 (DNS over TCP read as len:u16be, 4
// each way), delivered in the capture's segments.
func TestLengthCorpus(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		dir  reassembly.Direction
		segs []int
		want int
	}{
		{"10_lenprefix_u32be_split_coalesced.0", Spec{Name: "len", Width: 4}, reassembly.ClientToServer,
			[]int{9, 2, 2, 3, 3, 28, 15, 5, 4, 32768, 32768, 61440, 47616, 22016, 3396, 9}, 10},
		{"10_lenprefix_u32be_split_coalesced.0", Spec{Name: "len", Width: 4}, reassembly.ServerToClient,
			[]int{15, 15, 4, 11, 15, 15, 4, 11, 15, 15, 4, 16, 16}, 10},
		{"14_dns_tcp_keepopen_u16be.0", Spec{Name: "len", Width: 2}, reassembly.ClientToServer, []int{61, 61, 61, 65}, 4},
		{"14_dns_tcp_keepopen_u16be.0", Spec{Name: "len", Width: 2}, reassembly.ServerToClient, []int{65, 77, 82, 53}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name+"."+tt.dir.String(), func(t *testing.T) {
			data := specFixture(t, "generic", tt.name+"."+tt.dir.String()+".bin")
			outs := specDrive(t, newLength(tt.spec, Stream), tt.dir, data, specChunks(tt.segs...)...)
			if got := specCount(outs); got["len"] != tt.want || len(got) != 1 {
				t.Errorf("%v, want %d len messages and nothing else", got, tt.want)
			}
			specCompare(t, specDrive(t, newLength(tt.spec, Stream), tt.dir, data), outs)
		})
	}
}

// FuzzLength checks the Decoder contract and chunking invariance (see
// FuzzLine) over all widths, byte orders, offsets, adjustments and include.
func FuzzLength(f *testing.F) {
	for _, dir := range []string{"c2s", "s2c"} {
		f.Add(specFixture(f, "generic", "14_dns_tcp_keepopen_u16be.0."+dir+".bin"), uint8(1), uint8(0), int16(0), false, uint16(30), uint16(100))
	}
	f.Add(specFixture(f, "generic", "10_lenprefix_u32be_split_coalesced.0.s2c.bin"), uint8(2), uint8(0), int16(0), false, uint16(3), uint16(70))
	f.Add([]byte("\x00\x05abc\x00\x02"), uint8(1), uint8(0), int16(0), true, uint16(1), uint16(4))
	f.Add([]byte("\x00\x00\x00\x00\x00\x00\x00\x02ok"), uint8(5), uint8(0), int16(-3), false, uint16(1), uint16(9))
	f.Add([]byte(strings.Repeat("\xff", 12)), uint8(6), uint8(2), int16(7), true, uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, w, offset uint8, adjust int16, include bool, c1, c2 uint16) {
		ws := specWidths[int(w)%len(specWidths)]
		spec := Spec{Name: "len", Width: ws.width, LittleEndian: ws.little, Offset: int(offset % 8), Adjust: int(adjust), Include: include}
		whole := specDrive(t, newLength(spec, Stream), reassembly.ClientToServer, data)
		pieces := specDrive(t, newLength(spec, Stream), reassembly.ClientToServer, data, specSplitSeed(len(data), c1, c2)...)
		specCompare(t, whole, pieces)
	})
}

func BenchmarkLength(b *testing.B) {
	msg := append([]byte("\x00\x00\x00\x40"), bytes.Repeat([]byte("p"), 64)...)
	data := bytes.Repeat(msg, 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := newLength(Spec{Name: "len", Width: 4}, Stream)
		for off := 0; off < len(data); {
			_, n, err := d.Next(reassembly.ClientToServer, data[off:], true)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}
