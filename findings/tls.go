package findings

import (
	"fmt"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/reassembly"
)

// TLS. Every TCP stream whose first bytes are a TLS handshake record has
// its record boundaries followed (record headers only, nothing held); with
// keys (SetKeys: a key log, or the secrets of a pcapng) each TLS stream is
// also decrypted as its bytes arrive (a decode.Streamer decrypting TLS
// streams only).
//
// Rules, per stream once it is delivered (the first two with keys only):
//   - tls_not_decrypted (warning): no record of the stream could be
//     decrypted, with the first reason (no key for its client random, a
//     cipher suite not supported, named, authentication failed); or some
//     records were and others failed authentication or had no key.
//   - tls_tiny_records (info): a direction sent at least TLSTinyRecords
//     application data records in a row each carrying fewer than
//     TLSTinyBytes of plaintext: one record per small write, each paying
//     the record overhead, and a message inside cut into many records.
//   - tls_record_straddle (info): records that straddled at least
//     TLSStraddleSegments TCP segments: the receiver can decrypt such a
//     record only once its last segment is in.
//
// Memory: per TCP stream with payload a few counters; with keys the
// Streamer holds at most one incomplete record per direction and the
// application bytes of a message being framed.

// A stream's TLS state lives in its streamState (tls), found through the
// engine's last-stream cache: no map lookup per segment of its own.
type tlsDetector struct {
	e  *Engine
	st *decode.Streamer // nil without keys
	// keys are SetKeys' keys while they are still empty and nothing can
	// add to them but the file itself (pcapng secrets): the decrypting
	// Streamer starts with the first stream after they arrive, so a
	// capture with no keys pays nothing for it.
	keys *tlsdec.KeyLog
}

type tlsStream struct {
	decrypted, failed [2]int
	firstErr          string
	firstFrame        int
	keyOrAuth         int // failures by NoKey or AuthFailed (a partial decryption)
	tiny              [2]tinyRun
	split             [2]splitMessage
	straddle          [2]straddleCount
	decided, isTLS    bool
	walk              [2]recordWalk
}

// recordWalk follows one direction's TLS record boundaries from the record
// headers, counting the segments each record came in.
type recordWalk struct {
	off        int64 // stream offset of the next byte expected
	hdr        [5]byte
	nh         int   // header bytes held
	in         bool  // inside a record's body
	start, end int64 // the current record
	n          int   // records so far
	segs       int
	first      int
	last       int
	dead       bool
}

// splitMessage is the message inside TLS that came in the most records of
// under TLSTinyBytes on average.
type splitMessage struct {
	index, records int
	bytes          int64
	protocol       string
	summary        string
}

type tinyRun struct {
	n, first, last int // current run: records, first and last frame
	bytes          int64
	best           struct {
		n, first, last int
		bytes          int64
	}
}

type straddleCount struct {
	n     int
	worst struct {
		n, segs, first, last int
		bytes                int64
	}
}

// SetKeys makes the engine decrypt TLS with keys (added to as the capture
// is read, for pcapng secrets), refresh (may be nil) re-reading a live key
// log; see tls.go for the rules. Call it before the first packet.
func (e *Engine) SetKeys(keys *tlsdec.KeyLog, refresh func()) {
	if keys == nil {
		return
	}
	if refresh == nil && keys.Len() == 0 {
		e.tls.keys = keys
		return
	}
	e.tls.startStreamer(keys, refresh)
}

func (t *tlsDetector) startStreamer(keys *tlsdec.KeyLog, refresh func()) {
	e := t.e
	t.keys = nil
	st, err := decode.NewStreamer(decode.StreamerOptions{TLSOnly: true, Keys: keys, Refresh: refresh, OnTLSRecord: e.tls.record,
		OnMessage: e.tls.message})
	if err == nil {
		e.tls.st = st
	}
}

// data takes a TCP stream's bytes as they become contiguous.
func (t *tlsDetector) data(st *streamState, s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
	if t.st != nil {
		t.st.Data(s, d, r, b, frame)
	}
	ts := st.tls
	if ts == nil {
		if st.notTLS || b == nil || r.Start != 0 {
			return
		}
		if t.keys != nil && t.keys.Len() > 0 {
			if t.startStreamer(t.keys, nil); t.st != nil {
				t.st.Data(s, d, r, b, frame)
			}
		}
		// The first bytes of the first direction to send say TLS or not;
		// a stream that is not costs one flag.
		if !(len(b) >= 5 && b[0] == 22 && b[1] == 3 && b[2] <= 4) {
			st.notTLS = true
			return
		}
		ts = &tlsStream{decided: true, isTLS: true}
		st.tls = ts
	}
	if !ts.decided {
		// Made by the decrypting Streamer's callbacks (state) before
		// these bytes were looked at.
		ts.decided = true
		ts.isTLS = b != nil && r.Start == 0 && len(b) >= 5 && b[0] == 22 && b[1] == 3 && b[2] <= 4
	}
	if !ts.isTLS {
		return
	}
	w := &ts.walk[d]
	if w.dead {
		return
	}
	if b == nil || r.Start != w.off {
		w.dead = true // a gap: record boundaries are lost
		return
	}
	cfg := &t.e.cfg
	touch := func() {
		if frame != w.last || w.segs == 0 {
			w.segs++
			w.last = frame
		}
	}
	for pos := 0; pos < len(b); {
		if !w.in {
			if w.nh == 0 {
				w.start, w.first, w.segs = r.Start+int64(pos), frame, 0
			}
			k := copy(w.hdr[w.nh:], b[pos:])
			w.nh += k
			pos += k
			touch()
			if w.nh < 5 {
				break
			}
			n := int(w.hdr[3])<<8 | int(w.hdr[4])
			if w.hdr[0] < 20 || w.hdr[0] > 24 || w.hdr[1] != 3 || n > tlsdec.MaxRecordLen {
				w.dead = true // not TLS any more: sync lost
				return
			}
			w.in, w.end, w.nh = true, w.start+5+int64(n), 0
		}
		at := r.Start + int64(pos)
		if k := min(w.end-at, int64(len(b)-pos)); k > 0 {
			touch()
			pos += int(k)
		}
		if r.Start+int64(pos) == w.end {
			w.in = false
			w.n++
			if w.segs >= cfg.TLSStraddleSegments {
				sc := &ts.straddle[d]
				sc.n++
				if w.segs > sc.worst.segs {
					sc.worst.n, sc.worst.segs, sc.worst.first, sc.worst.last, sc.worst.bytes = w.n, w.segs, w.first, w.last, w.end-w.start
				}
			}
		}
	}
	w.off = r.End
}

func (t *tlsDetector) state(s *reassembly.Stream) *tlsStream {
	st := t.e.state(s)
	if st.tls == nil {
		st.tls = &tlsStream{}
	}
	return st.tls
}

func (t *tlsDetector) record(s *reassembly.Stream, r *decode.TLSRecord) {
	cfg := &t.e.cfg
	ts := t.state(s)
	d := r.Dir & 1
	first := 0
	if len(r.Frames) > 0 {
		first = r.Frames[0]
	}
	switch {
	case r.Decrypted:
		ts.decrypted[d]++
	case r.Err != "":
		ts.failed[d]++
		if r.Reason == tlsdec.NoKey || r.Reason == tlsdec.AuthFailed {
			ts.keyOrAuth++
		}
		if ts.firstErr == "" {
			ts.firstErr, ts.firstFrame = r.Err, first
		}
	}
	tr := &ts.tiny[d]
	if r.App.Len() > 0 && r.App.Len() < int64(cfg.TLSTinyBytes) {
		if tr.n == 0 {
			tr.first, tr.bytes = first, 0
		}
		tr.n++
		tr.bytes += r.App.Len()
		tr.last = first
		if len(r.Frames) > 0 {
			tr.last = r.Frames[len(r.Frames)-1]
		}
		if tr.n > tr.best.n {
			tr.best.n, tr.best.first, tr.best.last, tr.best.bytes = tr.n, tr.first, tr.last, tr.bytes
		}
	} else if r.App.Len() > 0 {
		tr.n = 0
	}
}

// message takes a message framed inside a decrypted TLS stream.
func (t *tlsDetector) message(s *reassembly.Stream, m *decode.Message) {
	n := len(m.Records)
	if n < 2 || m.Range.Len() >= int64(n)*int64(t.e.cfg.TLSTinyBytes) {
		return
	}
	ts := t.state(s)
	if sp := &ts.split[m.Dir&1]; n > sp.records {
		summary := m.Summary
		if r := []rune(summary); len(r) > 60 {
			summary = string(r[:60]) + "…"
		}
		*sp = splitMessage{index: m.Index, records: n, bytes: m.Range.Len(), protocol: m.Protocol, summary: summary}
	}
}

// end frames what is left of s and returns its TLS findings.
func (t *tlsDetector) end(s *reassembly.Stream) []Finding {
	if s.Proto != capture.ProtoTCP {
		return nil
	}
	if t.st != nil {
		t.st.End(s)
	}
	ref := RefOf(s)
	st := t.e.lookup(s)
	if st == nil || st.tls == nil {
		return nil
	}
	ts := st.tls
	st.tls = nil
	cfg := &t.e.cfg
	one := func(f Finding, frames ...int) Finding {
		ev := evidence{max: cfg.MaxEvidence}
		ev.stream(ref)
		for _, fr := range frames {
			if fr > 0 {
				ev.frame(fr)
			}
		}
		ev.finish(&f)
		return f
	}
	var out []Finding
	dec, failed := ts.decrypted[0]+ts.decrypted[1], ts.failed[0]+ts.failed[1]
	switch {
	case dec == 0 && failed > 0:
		out = append(out, one(Finding{Kind: KindTLSNotDecrypted, Severity: Warning,
			Message: fmt.Sprintf("TLS could not be decrypted (%d encrypted record%s): %s.", failed, ess(failed), ts.firstErr),
			Details: []string{"c→s " + decryptCounts(ts, 0), "s→c " + decryptCounts(ts, 1)}}, ts.firstFrame))
	case dec > 0 && ts.keyOrAuth > 0:
		out = append(out, one(Finding{Kind: KindTLSNotDecrypted, Severity: Warning,
			Message: fmt.Sprintf("%d of %d encrypted TLS records could not be decrypted: %s.", failed, failed+dec, ts.firstErr),
			Details: []string{"c→s " + decryptCounts(ts, 0), "s→c " + decryptCounts(ts, 1)}}, ts.firstFrame))
	}
	for d := range ts.tiny {
		b := ts.tiny[d].best
		if b.n < cfg.TLSTinyRecords {
			continue
		}
		dir := reassembly.Direction(d)
		details := []string{fmt.Sprintf("%s frames %d–%d", dir.Arrow(), b.first, b.last)}
		if sp := ts.split[d]; sp.records > 0 {
			details = append(details, fmt.Sprintf("%s %s message #%d (%s) came in %d records: %s", dir.Arrow(), sp.protocol, sp.index,
				bytesText(sp.bytes), sp.records, sp.summary))
		}
		out = append(out, one(Finding{Kind: KindTLSTinyRecords, Severity: Info,
			Message: fmt.Sprintf("The %s sent %d TLS records in a row of under %s of application data each (%s in all, %s on average): one record per small write, each with its own header and tag; buffering the writes would send fewer, fuller records.",
				who(dir), b.n, bytesText(int64(cfg.TLSTinyBytes)), bytesText(b.bytes), bytesText((b.bytes+int64(b.n)/2)/int64(b.n))),
			Details: details}, b.first, b.last))
	}
	for d := range ts.straddle {
		sc := ts.straddle[d]
		if sc.n == 0 {
			continue
		}
		dir, w := reassembly.Direction(d), sc.worst
		out = append(out, one(Finding{Kind: KindTLSStraddle, Severity: Info,
			Message: fmt.Sprintf("The %s sent %d TLS record%s that straddled %d or more TCP segments: the receiver can decrypt such a record only once its last segment is in.",
				who(dir), sc.n, ess(sc.n), cfg.TLSStraddleSegments),
			Details: []string{fmt.Sprintf("%s record %d: %s over %d segments (frames %d–%d)", dir.Arrow(), w.n, bytesText(w.bytes), w.segs, w.first, w.last)}},
			w.first, w.last))
	}
	return out
}

func decryptCounts(ts *tlsStream, d int) string {
	return fmt.Sprintf("%d record%s decrypted, %d not", ts.decrypted[d], ess(ts.decrypted[d]), ts.failed[d])
}

func ess(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
