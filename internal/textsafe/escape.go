// Package textsafe makes network-derived text safe to print on a terminal.
//
// A captured byte stream must never be able to move the cursor, change
// colours, set the window title, write the clipboard (OSC 52) or reorder what
// the reader sees (bidi overrides). Escape turns every such byte or rune into
// a visible escape sequence; everything else passes through.
package textsafe

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape returns s with control characters (C0, DEL, C1), invalid UTF-8 and
// bidirectional formatting characters replaced by visible escapes: \n, \r,
// \t, \e (ESC), \xHH for other bytes, \u202E for runes.
func Escape(s string) string {
	if safe(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteString(`\x`)
			b.WriteString(hex2(s[i]))
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == 0x1b:
			b.WriteString(`\e`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex2(byte(r)))
		case r >= 0x80 && r <= 0x9f, isBidi(r), r == 0xfeff:
			b.WriteString(`\u`)
			h := strconv.FormatInt(int64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)))
			b.WriteString(h)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// Bytes escapes a payload for display, at most max input bytes (0: all),
// adding "…" when it was cut.
func Bytes(p []byte, max int) string {
	cut := false
	if max > 0 && len(p) > max {
		p, cut = p[:max], true
	}
	s := Escape(string(p))
	if cut {
		s += "…"
	}
	return s
}

func safe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// isBidi reports the Unicode bidirectional formatting characters (Trojan
// Source, CVE-2021-42574) and invisible direction marks.
func isBidi(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}
