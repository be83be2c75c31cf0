package textsafe

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestJSONWriter: JSON through the writer decodes to the same value, and
// holds no raw DEL, C1 or bidi character, even when written byte by byte.
func TestJSONWriter(t *testing.T) {
	in := map[string]string{"s": "a\x7fb\u009b31m\u202eevil\u2066\ufeff é → ok \x1b[2J"}
	raw, _ := json.Marshal(in)
	for _, chunk := range []int{0, 1, 2, 3} {
		var out bytes.Buffer
		w := JSONWriter(&out)
		if chunk == 0 {
			w.Write(raw)
		} else {
			for i := 0; i < len(raw); i += chunk {
				w.Write(raw[i:min(i+chunk, len(raw))])
			}
		}
		var got map[string]string
		if err := json.Unmarshal(out.Bytes(), &got); err != nil || got["s"] != in["s"] {
			t.Fatalf("chunk %d: %q decodes to %q (%v)", chunk, out.Bytes(), got["s"], err)
		}
		for _, r := range out.String() {
			if r == 0x7f || (r >= 0x80 && r <= 0x9f) || isBidi(r) || r == 0xfeff {
				t.Fatalf("chunk %d: raw %U in %q", chunk, r, out.String())
			}
		}
		if !bytes.Contains(out.Bytes(), []byte(`é → ok`)) {
			t.Errorf("chunk %d: plain text changed: %q", chunk, out.Bytes())
		}
	}
}
