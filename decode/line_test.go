package decode

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

func TestLine(t *testing.T) {
	long := strings.Repeat("x", 70)
	tests := []struct {
		name string
		spec string
		t    Transport
		in   string
		cuts []int // segment boundaries
		want []string
	}{
		{
			name: "LF and CRLF",
			spec: "line",
			in:   "PING\n" + "+OK\r\n" + "\n",
			want: []string{"5 PING", "5 +OK", "1 (empty line)"},
		},
		{
			name: "line split over three segments",
			spec: "line",
			in:   "hello world\n",
			cuts: []int{3, 7},
			want: []string{"12 hello world"},
		},
		{
			name: "CR in one segment, LF in the next",
			spec: "line",
			in:   "a\r\nb\n",
			cuts: []int{2},
			want: []string{"3 a", "2 b"},
		},
		{
			name: "unterminated last line is partial",
			spec: "line",
			in:   "one\ntwo",
			want: []string{"4 one", "partial 3"},
		},
		{
			name: "datagram end ends the last line",
			spec: "line",
			t:    Datagram,
			in:   "one\ntwo",
			want: []string{"4 one", "3 two"},
		},
		{
			name: "summary truncated at 60 bytes",
			spec: "line",
			in:   long + "\n",
			want: []string{"71 " + long[:60] + "..."},
		},
		{
			name: "summary not cut inside a UTF-8 character",
			spec: "line",
			in:   strings.Repeat("a", 59) + "é!\n", // é is 2 bytes at 59-60
			want: []string{"63 " + strings.Repeat("a", 59) + "..."},
		},
		{
			name: "CRLF delimiter: bare LF is data",
			spec: `line:\r\n`,
			in:   "a\nb\r\nc\r\n",
			want: []string{"5 a\nb", "3 c"},
		},
		{
			name: "multi-byte delimiter split across segments",
			spec: `line:END`,
			in:   "fooENDbarEN" + "Dbaz",
			cuts: []int{10, 11},
			want: []string{"6 foo", "6 bar", "partial 3"},
		},
		{
			name: "NUL delimiter (STOMP frames)",
			spec: `line:\0`,
			in:   "SEND\n\nhi\x00" + "\x00",
			want: []string{"9 SEND\n\nhi", "1 (empty line)"},
		},
		{
			name: "CR before a custom delimiter is text",
			spec: `line:\x1e`,
			in:   "rec\r\x1e",
			want: []string{"5 rec\r"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec, err := ParseSpec(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			outs := specDrive(t, newLine(spec, tt.t), reassembly.ClientToServer, []byte(tt.in), tt.cuts...)
			specCheckBrief(t, outs, tt.want)
			whole := specDrive(t, newLine(spec, tt.t), reassembly.ClientToServer, []byte(tt.in))
			specCompare(t, whole, outs)
		})
	}
}

func TestLineParts(t *testing.T) {
	d := newLine(Spec{Name: "line"}, Stream)
	m, n, err := d.Next(reassembly.ClientToServer, []byte("GET\r\nmore"), false)
	if err != nil || n != 5 {
		t.Fatalf("Next = %d, %v; want 5, nil", n, err)
	}
	want := []Part{
		{Range: reassembly.ByteRange{Start: 0, End: 3}, Label: "text"},
		{Range: reassembly.ByteRange{Start: 3, End: 5}, Label: "ending"},
	}
	if len(m.Parts) != 2 || m.Parts[0] != want[0] || m.Parts[1] != want[1] {
		t.Errorf("Parts = %v, want %v", m.Parts, want)
	}
	if got := m.Fields[1]; got != (Field{"ending", "CRLF"}) {
		t.Errorf("Fields[1] = %v, want ending=CRLF", got)
	}
}

func TestLineTooLong(t *testing.T) {
	// No LF in the first MiB: a framing error at the line start, not an
	// endless wait.
	d := newLine(Spec{Name: "line"}, Stream)
	b := bytes.Repeat([]byte("z"), lineMaxLen)
	_, _, err := d.Next(reassembly.ClientToServer, b, false)
	if e, ok := err.(*Error); !ok || e.Offset != 0 || !strings.Contains(e.Reason, "no line end") {
		t.Fatalf("Next = %v, want *Error at 0 about the missing line end", err)
	}
	// Resync finds the next line after the error.
	b = append(b, "\nnext\n"...)
	if r := d.(Resyncer).Resync(reassembly.ClientToServer, b[1:]); r != lineMaxLen {
		t.Errorf("Resync = %d, want %d", r, lineMaxLen)
	}
}

// TestLineIncremental checks that a long line arriving one byte per segment
// is scanned once overall, not once per segment.
func TestLineIncremental(t *testing.T) {
	d := newLine(Spec{Name: "line"}, Stream).(*lineDecoder)
	b := bytes.Repeat([]byte("y"), 1000)
	for i := 1; i <= len(b); i++ {
		if _, _, err := d.Next(reassembly.ClientToServer, b[:i], false); err != ErrNeedMore {
			t.Fatalf("Next(%d bytes) = %v, want ErrNeedMore", i, err)
		}
		if d.scanned[0] != i {
			t.Fatalf("after %d bytes scanned = %d", i, d.scanned[0])
		}
	}
	b = append(b, '\n')
	if _, n, err := d.Next(reassembly.ClientToServer, b, false); err != nil || n != len(b) {
		t.Fatalf("Next = %d, %v; want %d", n, err, len(b))
	}
	if d.scanned[0] != 0 {
		t.Errorf("scanned = %d after a message, want 0", d.scanned[0])
	}
}

// TestLineCorpus frames capture 09 (tshark: 11 lines each way), delivered in
// the segments the capture had.
func TestLineCorpus(t *testing.T) {
	const name = "09_lines_odd_chunks_nodelay.0"
	for _, c := range []struct {
		dir  reassembly.Direction
		segs []int // tshark follow chunks
		want int
	}{
		{reassembly.ClientToServer, []int{7, 8, 15, 1, 1, 1, 1, 1, 66, 41, 15, 2}, 11},
		{reassembly.ServerToClient, []int{7, 7, 7, 7, 7, 7, 7, 9, 7, 8, 8}, 11},
	} {
		data := specFixture(t, "generic", name+"."+c.dir.String()+".bin")
		outs := specDrive(t, newLine(Spec{Name: "line"}, Stream), c.dir, data, specChunks(c.segs...)...)
		if got := specCount(outs); got["line"] != c.want || len(got) != 1 {
			t.Errorf("%s: %v, want %d lines and nothing else", c.dir, got, c.want)
		}
		specCompare(t, specDrive(t, newLine(Spec{Name: "line"}, Stream), c.dir, data), outs)
	}
}

// FuzzLine checks the Decoder contract (see specDrive) and chunking
// invariance: the stream framed whole and framed in three pieces gives the
// same messages.
func FuzzLine(f *testing.F) {
	for _, dir := range []string{"c2s", "s2c"} {
		f.Add(specFixture(f, "generic", "09_lines_odd_chunks_nodelay.0."+dir+".bin"), uint8(0), uint16(7), uint16(40))
	}
	f.Add([]byte("a\r\nbEND\x00c\r\n\r\n"), uint8(1), uint16(2), uint16(5))
	f.Add([]byte("xxENDyyEN"), uint8(3), uint16(4), uint16(8))
	specs := []Spec{
		{Name: "line"},
		{Name: "line", Delim: "\r\n"},
		{Name: "line", Delim: "\x00"},
		{Name: "line", Delim: "END"},
		{Name: "line", Delim: "\n"},
	}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8, c1, c2 uint16) {
		spec := specs[int(sel)%len(specs)]
		tr := Transport(sel / 128)
		whole := specDrive(t, newLine(spec, tr), reassembly.ClientToServer, data)
		pieces := specDrive(t, newLine(spec, tr), reassembly.ClientToServer, data, specSplitSeed(len(data), c1, c2)...)
		specCompare(t, whole, pieces)
	})
}

func BenchmarkLine(b *testing.B) {
	data := bytes.Repeat([]byte("a-typical-log-line with some words in it: 12345\r\n"), 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := newLine(Spec{Name: "line"}, Stream)
		for off := 0; off < len(data); {
			_, n, err := d.Next(reassembly.ClientToServer, data[off:], true)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}
