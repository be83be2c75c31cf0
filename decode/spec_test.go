package decode

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    Spec
		canon   string // Spec.String(); "" means in
		wantErr string // substring of the error
	}{
		{in: "auto", want: Spec{Name: "auto"}},
		{in: "raw", want: Spec{Name: "raw"}},
		{in: "http1", want: Spec{Name: "http1"}},
		{in: "tls", want: Spec{Name: "tls"}},
		{in: "dns", want: Spec{Name: "dns"}},
		{in: "resp", want: Spec{Name: "resp"}},
		{in: "ws", want: Spec{Name: "ws"}},
		{in: "h2", want: Spec{Name: "h2"}},
		{in: "line", want: Spec{Name: "line"}},
		{in: `line:\r\n`, want: Spec{Name: "line", Delim: "\r\n"}},
		{in: `line:\0`, want: Spec{Name: "line", Delim: "\x00"}},
		{in: `line:\x1e\t`, want: Spec{Name: "line", Delim: "\x1e\t"}},
		{in: `line:END`, want: Spec{Name: "line", Delim: "END"}},
		{in: `line:a\\b`, want: Spec{Name: "line", Delim: `a\b`}},
		{in: "len:u8", want: Spec{Name: "len", Width: 1}},
		{in: "len:u16be", want: Spec{Name: "len", Width: 2}},
		{in: "len:u16le", want: Spec{Name: "len", Width: 2, LittleEndian: true}},
		{in: "len:u32be", want: Spec{Name: "len", Width: 4}},
		{in: "len:u32le", want: Spec{Name: "len", Width: 4, LittleEndian: true}},
		{in: "len:u64be", want: Spec{Name: "len", Width: 8}},
		{in: "len:u64le", want: Spec{Name: "len", Width: 8, LittleEndian: true}},
		{in: "len:u32be,offset=2,adjust=-4,include", want: Spec{Name: "len", Width: 4, Offset: 2, Adjust: -4, Include: true}},
		{in: "len:u16le,include,adjust=+3", want: Spec{Name: "len", Width: 2, LittleEndian: true, Adjust: 3, Include: true},
			canon: "len:u16le,adjust=3,include"},
		{in: "len:u8,offset=0x10", want: Spec{Name: "len", Width: 1, Offset: 16}, canon: "len:u8,offset=16"},
		{in: "fixed:16", want: Spec{Name: "fixed", Size: 16}},

		{in: "len:u24", wantErr: `len: unknown width "u24": want u8, u16be, u16le, u32be, u32le, u64be`},
		{in: "len:u16", wantErr: `unknown width "u16"`},
		{in: "len", wantErr: "len: missing width"},
		{in: "len:", wantErr: "len: missing width"},
		{in: "len:u8,offset=-1", wantErr: `len: offset "-1"`},
		{in: "len:u8,offset", wantErr: `len: offset ""`},
		{in: "len:u8,adjust=x", wantErr: `len: adjust "x"`},
		{in: "len:u8,adjust=99999999999", wantErr: `len: adjust`},
		{in: "len:u8,include=1", wantErr: "include takes no value"},
		{in: "len:u8,include,include", wantErr: "include given twice"},
		{in: "len:u8,bogus", wantErr: `unknown option "bogus"`},
		{in: "fixed", wantErr: "fixed: missing size"},
		{in: "fixed:0", wantErr: `fixed: size "0"`},
		{in: "fixed:-3", wantErr: `fixed: size "-3"`},
		{in: "fixed:10000000000", wantErr: "fixed: size"},
		{in: "line:", wantErr: "line: empty delimiter"},
		{in: `line:\q`, wantErr: `unknown escape \q`},
		{in: `line:\x4`, wantErr: `\x needs two hex digits`},
		{in: `line:\xzz`, wantErr: `want two hex digits`},
		{in: `line:ab\`, wantErr: `trailing \`},
		{in: "http1:x", wantErr: "http1: takes no parameters"},
		{in: "http", wantErr: `unknown framing "http": want auto, raw, line`},
		{in: "", wantErr: `unknown framing ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSpec(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSpec(%q) error = %v, want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSpec(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("ParseSpec(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			canon := tt.canon
			if canon == "" {
				canon = tt.in
			}
			if got.String() != canon {
				t.Errorf("String() = %q, want %q", got.String(), canon)
			}
			again, err := ParseSpec(got.String())
			if err != nil || again != got {
				t.Errorf("ParseSpec(String()) = %+v, %v; want %+v", again, err, got)
			}
		})
	}
}

func TestSpecSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 12: "12 B", 1023: "1023 B", 1024: "1.0 KiB", 1229: "1.2 KiB",
		5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 1 << 40: "1.0 TiB",
	} {
		if got := specSize(n); got != want {
			t.Errorf("specSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// specOutcome is what a driver got for one stretch of a direction: a
// message, a framing error, or the bytes left over at the end.
type specOutcome struct {
	Protocol string
	Summary  string
	Start    int    // offset in the direction
	Len      int    // bytes the message spans; for "partial", the bytes left
	Err      string // "" for a message; the *Error's reason; "partial" for leftovers
	Fields   []Field
	Parts    []Part
}

// specDrive feeds the bytes of one direction to d the way a streaming driver
// does: data arrives in pieces cut at the offsets in cuts, and after each
// piece Next is called until it returns ErrNeedMore. The last piece is given
// with atEOF. After a *Error it calls Resync (if d has it) on the bytes after
// the error's first byte and carries on there; without Resync it stops.
//
// It checks the Decoder contract on every call: 0 < n <= len(b) with a
// message, n == 0 or n > len(b) with ErrNeedMore, no other error than
// ErrNeedMore or a *Error, and the error's offset within b.
func specDrive(t testing.TB, d Decoder, dir reassembly.Direction, data []byte, cuts ...int) []specOutcome {
	t.Helper()
	var out []specOutcome
	var buf []byte
	off := 0
	resyncFrom := -1 // >= 0 while looking for a message start after an error
	prev := 0
	cuts = append(slices.Sorted(slices.Values(cuts)), len(data))
	for i, c := range cuts {
		c = max(prev, min(c, len(data)))
		if c == prev && i < len(cuts)-1 {
			continue
		}
		buf = append(buf, data[prev:c]...)
		prev = c
		atEOF := i == len(cuts)-1
	calls:
		for {
			if resyncFrom >= 0 {
				r := -1
				if resyncFrom < len(buf) {
					r = d.(Resyncer).Resync(dir, buf[resyncFrom:])
				}
				if r < 0 || resyncFrom+r > len(buf) {
					if atEOF {
						return out
					}
					break calls
				}
				off, resyncFrom = resyncFrom+r, -1
			}
			b := buf[off:]
			m, n, err := d.Next(dir, b, atEOF)
			switch e := err.(type) {
			case nil:
				if n <= 0 || n > len(b) {
					t.Fatalf("Next at %d: n = %d with a message, len(b) = %d", off, n, len(b))
				}
				out = append(out, specOutcome{Protocol: m.Protocol, Summary: m.Summary, Start: off, Len: n, Fields: m.Fields, Parts: m.Parts})
				off += n
				specCheckParts(t, m, n)
			case *Error:
				if e.Offset < 0 || e.Offset > len(b) {
					t.Fatalf("Next at %d: error offset %d outside b (len %d): %v", off, e.Offset, len(b), e)
				}
				out = append(out, specOutcome{Protocol: e.Protocol, Start: off + e.Offset, Err: e.Reason})
				if _, ok := d.(Resyncer); !ok {
					return out
				}
				resyncFrom = off + 1
			default:
				if err != ErrNeedMore {
					t.Fatalf("Next at %d: error %T %v, want ErrNeedMore or *Error", off, err, err)
				}
				if n < 0 || n > 0 && n <= len(b) {
					t.Fatalf("Next at %d: n = %d with ErrNeedMore, len(b) = %d: want 0 or more than len(b)", off, n, len(b))
				}
				if atEOF && len(b) > 0 {
					out = append(out, specOutcome{Start: off, Len: len(b), Err: "partial"})
				}
				break calls
			}
		}
	}
	return out
}

// specCheckParts checks that a message's parts are ordered, non-empty and
// inside the message.
func specCheckParts(t testing.TB, m Message, n int) {
	t.Helper()
	var end int64
	for _, p := range m.Parts {
		if p.Range.Start < end || p.Range.End <= p.Range.Start || p.Range.End > int64(n) {
			t.Fatalf("%s %q: part %q %v out of order or outside [0,%d)", m.Protocol, m.Summary, p.Label, p.Range, n)
		}
		end = p.Range.End
	}
}

// specCompare checks that two runs over the same bytes framed them the same
// way. Opaque "raw" messages (after CONNECT or an unknown upgrade) are one
// per call by design, so runs of them are compared by total length only.
func specCompare(t testing.TB, whole, pieces []specOutcome) {
	t.Helper()
	a, b := specMergeRaw(whole), specMergeRaw(pieces)
	if !reflect.DeepEqual(a, b) {
		for i := range max(len(a), len(b)) {
			var x, y specOutcome
			if i < len(a) {
				x = a[i]
			}
			if i < len(b) {
				y = b[i]
			}
			if !reflect.DeepEqual(x, y) {
				t.Fatalf("framing differs at outcome %d (of %d whole, %d in pieces):\nwhole:  %+v\npieces: %+v", i, len(a), len(b), x, y)
			}
		}
	}
}

func specMergeRaw(in []specOutcome) []specOutcome {
	var out []specOutcome
	for _, o := range in {
		if o.Protocol == "raw" && o.Err == "" {
			o.Summary, o.Fields, o.Parts = "raw", nil, nil
			if l := len(out) - 1; l >= 0 && out[l].Protocol == "raw" && out[l].Err == "" {
				out[l].Len += o.Len
				continue
			}
		}
		out = append(out, o)
	}
	return out
}

// specFixture reads decode/testdata/<dir>/<name>, made by testdata/extract.sh.
func specFixture(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// specChunks turns segment sizes (tshark's follow chunks) into cut offsets.
func specChunks(sizes ...int) []int {
	var cuts []int
	at := 0
	for _, s := range sizes {
		at += s
		cuts = append(cuts, at)
	}
	return cuts
}

// specCount counts outcomes by protocol (errors and leftovers as "error:<proto>" and "partial").
func specCount(outs []specOutcome) map[string]int {
	c := map[string]int{}
	for _, o := range outs {
		switch o.Err {
		case "":
			c[o.Protocol]++
		case "partial":
			c["partial"]++
		default:
			c["error:"+o.Protocol]++
		}
	}
	return c
}

// specBrief lists outs one line each: "<len> <summary>" for a message,
// "error@<offset> <reason>" for a framing error, "partial <len>" for bytes
// left at the end.
func specBrief(outs []specOutcome) []string {
	var s []string
	for _, o := range outs {
		switch o.Err {
		case "":
			s = append(s, fmt.Sprintf("%d %s", o.Len, o.Summary))
		case "partial":
			s = append(s, fmt.Sprintf("partial %d", o.Len))
		default:
			s = append(s, fmt.Sprintf("error@%d %s", o.Start, o.Err))
		}
	}
	return s
}

// specCheckBrief compares specBrief(outs) with want.
func specCheckBrief(t testing.TB, outs []specOutcome, want []string) {
	t.Helper()
	got := specBrief(outs)
	if !slices.Equal(got, want) {
		t.Errorf("got:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// specSplitSeed picks two cut points in a buffer of length n from fuzzer
// input, so one fuzz input also says how to split the stream.
func specSplitSeed(n int, c1, c2 uint16) []int {
	if n == 0 {
		return nil
	}
	return []int{int(c1) % (n + 1), int(c2) % (n + 1)}
}

// TestFramingNamesCover: every framing a stream can get has a code in the
// read summary (reassembly.FramingNames), so read --stats never says
// "other" for a framing sockscope knows.
func TestFramingNamesCover(t *testing.T) {
	for _, name := range Framers() {
		if !slices.Contains(reassembly.FramingNames, name) {
			t.Errorf("framing %q is not in reassembly.FramingNames", name)
		}
	}
}
