package textsafe

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
)

// TestPlainPrefix: the word-at-a-time scan stops at the first byte >= 0x7f,
// whatever its value and position, and never before.
func TestPlainPrefix(t *testing.T) {
	for n := range 20 {
		for at := range n {
			for c := 0x70; c <= 0xff; c++ {
				p := bytes.Repeat([]byte{'a'}, n)
				p[at] = byte(c)
				want := n
				if c >= 0x7f {
					want = at
				}
				if got := plainPrefix(p); got != want {
					t.Fatalf("plainPrefix(%q) = %d, want %d", p, got, want)
				}
			}
		}
		if got := plainPrefix(bytes.Repeat([]byte{0x7e}, n)); got != n {
			t.Fatalf("plainPrefix(%d × 0x7e) = %d", n, got)
		}
	}
}

// FuzzJSONWriter: any string, marshalled and written in chunks of any
// size, decodes to the same string and holds no raw DEL, C1 or bidi rune.
func FuzzJSONWriter(f *testing.F) {
	f.Add("plain ascii text, long enough for a word or two", uint8(0))
	f.Add("a\x7fb\u009b31m\u202eevil\u2066\ufeff é → ok \x1b[2J", uint8(3))
	f.Add("\xff\xfe caf\xc3", uint8(1))
	f.Fuzz(func(t *testing.T, s string, chunk uint8) {
		raw, _ := json.Marshal(s)
		var out bytes.Buffer
		w := JSONWriter(&out)
		n := int(chunk)
		if n == 0 {
			n = len(raw)
		}
		for i := 0; i < len(raw); i += n {
			w.Write(raw[i:min(i+n, len(raw))])
		}
		var want, got string
		json.Unmarshal(raw, &want)
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || got != want {
			t.Fatalf("%q decodes to %q (%v), want %q", out.Bytes(), got, err, want)
		}
		for _, r := range out.String() {
			if r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidi(r) || r == 0xfeff {
				t.Fatalf("raw %U in %q", r, out.String())
			}
		}
	})
}

// jsonLines is JSON output like follow's: records of ASCII fields, some
// with non-ASCII text.
func jsonLines(nonASCII bool) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	s := "GET /index.html HTTP/1.1 Host: example.com"
	if nonASCII {
		s = "GET /caf\u00e9 \u2192 \u202eevil\u009b31m HTTP/1.1"
	}
	for i := range 200 {
		enc.Encode(map[string]any{"type": "message", "dir": "c2s", "index": i, "summary": s, "frames": []int{i, i + 1}})
	}
	return b.Bytes()
}

func benchmarkJSONWriter(b *testing.B, p []byte) {
	lines := bytes.SplitAfter(p, []byte("\n"))
	w := JSONWriter(io.Discard)
	b.SetBytes(int64(len(p)))
	b.ResetTimer()
	for range b.N {
		for _, l := range lines {
			w.Write(l)
		}
	}
}

func BenchmarkJSONWriterASCII(b *testing.B)    { benchmarkJSONWriter(b, jsonLines(false)) }
func BenchmarkJSONWriterNonASCII(b *testing.B) { benchmarkJSONWriter(b, jsonLines(true)) }

// BenchmarkEncodeOnly is the encoder alone, for scale.
func BenchmarkEncodeOnly(b *testing.B) {
	enc := json.NewEncoder(io.Discard)
	v := map[string]any{"type": "message", "dir": "c2s", "index": 1, "summary": "GET /index.html HTTP/1.1 Host: example.com", "frames": []int{1, 2}}
	b.ResetTimer()
	for range b.N {
		enc.Encode(v)
	}
}
