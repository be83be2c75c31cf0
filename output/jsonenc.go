package output

import (
	"encoding/json"
	"io"

	"github.com/sockscope/sockscope/internal/textsafe"
)

// NewJSONEncoder returns the JSON lines encoder every JSON view uses: HTML
// characters are left alone, and the output goes through
// textsafe.JSONWriter so that DEL, C1 controls (a U+009B is a one-character
// CSI) and bidi overrides in network-derived strings reach the terminal as
// \uXXXX escapes, not raw (encoding/json escapes only C0 controls); the
// values decode the same.
//
// Nothing needs flushing: json.Encoder.Encode writes each value, newline
// included, in one Write of valid UTF-8, so the JSONWriter never holds a
// partial rune between values, and passes every Write on at once (no
// buffering of its own): text written to w between values stays in order.
func NewJSONEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(textsafe.JSONWriter(w))
	enc.SetEscapeHTML(false)
	return enc
}
