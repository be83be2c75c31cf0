package decode

import (
	"bytes"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

func TestFixed(t *testing.T) {
	tests := []struct {
		name string
		size int
		in   string
		cuts []int
		want []string
	}{
		{
			name: "three records, the last cut short",
			size: 4,
			in:   "abcd" + "efgh" + "ij",
			want: []string{`4 4 bytes "abcd"`, `4 4 bytes "efgh"`, "partial 2"},
		},
		{
			name: "record split over segments",
			size: 6,
			in:   "ab" + "cdef",
			cuts: []int{2},
			want: []string{`6 6 bytes "abcdef"`},
		},
		{
			name: "preview cut at 16 bytes",
			size: 20,
			in:   "0123456789abcdefghij",
			want: []string{`20 20 bytes "0123456789abcdef"...`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := Spec{Name: "fixed", Size: tt.size}
			outs := specDrive(t, newFixed(spec, Stream), reassembly.ClientToServer, []byte(tt.in), tt.cuts...)
			specCheckBrief(t, outs, tt.want)
		})
	}
}

func TestFixedNeedMore(t *testing.T) {
	d := newFixed(Spec{Name: "fixed", Size: 512}, Stream)
	if _, n, err := d.Next(reassembly.ClientToServer, []byte("abc"), false); err != ErrNeedMore || n != 512 {
		t.Errorf("Next = %d, %v; want 512, ErrNeedMore", n, err)
	}
	// A Spec not made by ParseSpec: an error, not a loop or a panic.
	d = newFixed(Spec{Name: "fixed"}, Stream)
	if _, _, err := d.Next(reassembly.ClientToServer, []byte("abc"), false); err == nil || err == ErrNeedMore {
		t.Errorf("size 0: Next error = %v, want *Error", err)
	}
}

// FuzzFixed checks the Decoder contract and chunking invariance (see FuzzLine).
func FuzzFixed(f *testing.F) {
	f.Add(specFixture(f, "generic", "09_lines_odd_chunks_nodelay.0.s2c.bin"), uint16(7), uint16(3), uint16(20))
	f.Add([]byte("abcdefgh"), uint16(3), uint16(1), uint16(7))
	f.Fuzz(func(t *testing.T, data []byte, size, c1, c2 uint16) {
		spec := Spec{Name: "fixed", Size: int(size%512) + 1}
		whole := specDrive(t, newFixed(spec, Stream), reassembly.ClientToServer, data)
		pieces := specDrive(t, newFixed(spec, Stream), reassembly.ClientToServer, data, specSplitSeed(len(data), c1, c2)...)
		specCompare(t, whole, pieces)
	})
}

func BenchmarkFixed(b *testing.B) {
	data := bytes.Repeat([]byte("0123456789abcdef0123456789abcdef"), 2000)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := newFixed(Spec{Name: "fixed", Size: 32}, Stream)
		for off := 0; off < len(data); {
			_, n, err := d.Next(reassembly.ClientToServer, data[off:], true)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}
