package textsafe

import (
	"encoding/binary"
	"io"
	"unicode/utf8"
)

// JSONWriter returns a writer that passes JSON text to w with DEL, C1
// controls and bidirectional formatting characters written as \uXXXX
// escapes. encoding/json leaves those raw inside strings (it escapes only
// C0 controls, U+2028 and U+2029), so JSON printed on a terminal could
// still carry a C1 CSI (U+009B) or a Trojan Source override. The escapes
// decode to the same strings: jq and every JSON parser see no difference.
//
// The input must be valid UTF-8 (encoding/json output always is); a rune
// split across two writes is held until the next one.
func JSONWriter(w io.Writer) io.Writer { return &jsonWriter{w: w} }

type jsonWriter struct {
	w    io.Writer
	tail []byte // start of a rune cut by the previous write
	buf  []byte
}

func (j *jsonWriter) Write(p []byte) (int, error) {
	if len(j.tail) == 0 && plainPrefix(p) == len(p) {
		// All ASCII below DEL (most JSON): passed on as is, not copied.
		if _, err := j.w.Write(p); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	in := p
	if len(j.tail) > 0 {
		in = append(j.tail, p...)
		j.tail = nil
	}
	out := j.buf[:0]
	for i := 0; i < len(in); {
		if in[i] < 0x7f {
			n := plainPrefix(in[i:])
			out = append(out, in[i:i+n]...)
			i += n
			continue
		}
		r, size := utf8.DecodeRune(in[i:])
		if r == utf8.RuneError && size <= 1 && !utf8.FullRune(in[i:]) {
			j.tail = append([]byte(nil), in[i:]...)
			break
		}
		if r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidi(r) || r == 0xfeff {
			const digits = "0123456789abcdef"
			out = append(out, '\\', 'u', digits[r>>12&15], digits[r>>8&15], digits[r>>4&15], digits[r&15])
		} else {
			out = append(out, in[i:i+size]...)
		}
		i += size
	}
	j.buf = out
	if _, err := j.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// plainPrefix returns the length of p's leading run of bytes below 0x7f
// (ASCII without DEL), eight bytes at a time.
func plainPrefix(p []byte) int {
	const hi = 0x8080808080808080
	i := 0
	for ; i+8 <= len(p); i += 8 {
		x := binary.LittleEndian.Uint64(p[i:])
		// A byte is >= 0x7f iff its top bit is set in x or in x+1. Adding
		// 1 to every byte carries into the next only from a 0xff byte,
		// whose own top bit already reports it.
		if (x|(x+0x0101010101010101))&hi != 0 {
			break
		}
	}
	for ; i < len(p) && p[i] < 0x7f; i++ {
	}
	return i
}
