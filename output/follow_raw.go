package output

import (
	"io"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/reassembly"
)

// RawWriter is follow's raw view: it writes one direction of the followed
// stream as its bytes come in order (reassembly.Options.OnData: Data), or
// decrypted (decode.TLSPlain: Plain); gaps are skipped, as in Half.Data.
// After a write error it writes nothing more; Err says what it was.
type RawWriter struct {
	W    io.Writer
	Want reassembly.StreamID
	Dir  reassembly.Direction
	Err  error
	TLS  *decode.TLSPlain // decrypting, when set: its plain bytes come to Plain
}

// Plain takes the decrypted bytes of the followed stream (TLSPlain).
func (r *RawWriter) Plain(s *reassembly.Stream, d reassembly.Direction, b []byte) {
	if d == r.Dir && r.Err == nil {
		_, r.Err = r.W.Write(b)
	}
}

// Data takes the followed stream's bytes in order (Options.OnData).
func (r *RawWriter) Data(s *reassembly.Stream, d reassembly.Direction, _ reassembly.ByteRange, b []byte, _ int) {
	if d != r.Dir || b == nil || r.Err != nil || s.StreamID() != r.Want {
		return
	}
	_, r.Err = r.W.Write(b)
}
