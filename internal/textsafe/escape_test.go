package textsafe

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEscape(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "GET /index.html", "GET /index.html"},
		{"newline", "a\r\nb", `a\r\nb`},
		{"csi", "\x1b[2J\x1b[H", `\e[2J\e[H`},
		{"osc52", "\x1b]52;c;ZWNobyBoaQ==\x07", `\e]52;c;ZWNobyBoaQ==\x07`},
		{"del", "a\x7fb", `a\x7fb`},
		{"c1 csi", "a\u009b31mb", `a\u009b31mb`},
		{"bidi", "abc\u202edcb", `abc\u202edcb`},
		{"isolate", "\u2066x\u2069", `\u2066x\u2069`},
		{"invalid utf8", "\xff\xfe", `\xff\xfe`},
		{"utf8 ok", "héllo → wörld", "héllo → wörld"},
		{"nul", "\x00", `\x00`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Escape(tt.in); got != tt.want {
				t.Errorf("Escape(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzEscape(f *testing.F) {
	f.Add([]byte("\x1b[31mred\x1b[0m"))
	f.Add([]byte("\u202e\u2066\x9b\x00\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		out := Escape(string(b))
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q", b)
		}
		for _, r := range out {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidi(r) {
				t.Fatalf("control rune %U survived in %q", r, out)
			}
		}
		if strings.ContainsRune(out, 0x1b) {
			t.Fatal("ESC survived")
		}
	})
}
