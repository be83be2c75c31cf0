package decode

import (
	"fmt"
	"slices"

	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/reassembly"
)

// The Streamer's TLS layer (StreamerOptions.Keys): the stream's bytes go both
// to the outer framing, which cuts them into TLS records as without keys, and
// to a tlsdec.Session, which decrypts those records; the application data
// inside goes to an inner Streamer that frames it like any stream. Until the
// first encrypted record shows whether the stream decrypts, the record
// messages are held back: a stream that decrypts reports the messages
// inside, one that does not reports its records.

// tlsMode is what a TLS stream of a Streamer with keys reports.
type tlsMode uint8

const (
	tlsPending   tlsMode = iota // no encrypted record decrypted or failed in both directions yet
	tlsDecrypted                // the messages inside
	tlsOpaque                   // the records, as without keys
)

// maxQueued bounds the record messages held while a stream's mode is not
// known yet (a handshake is a handful of records).
const maxQueued = 256

// tlsState is the TLS layer of one stream.
type tlsState struct {
	ss      *streamState // the outer stream
	sess    *tlsdec.Session
	mode    tlsMode
	started [2]bool
	base    [2]int64     // stream offset of the first byte given to sess
	spans   [2][]tlsSpan // frames of the bytes given to sess, not yet all in complete records
	queued  []queuedMessage
	tried   [2]bool // an encrypted record of the direction failed
	reason  string  // why the first record that failed did
	recs    [2][]recordFrames
	inner   *streamState // in the inner Streamer; nil until application data came
	framed  string       // the inner framing, once picked
	// after, for a stream that switched to TLS after cleartext (STARTTLS,
	// SSLRequest...), is the cleartext framing ("imap"): a direction's
	// bytes go to the Session from its first record on (started), and
	// its records are numbered after the cleartext messages before them
	// (nOff), as follow numbers them.
	after string
	nOff  [2]int

	// Decrypted and Failed count encrypted records per direction.
	Decrypted, Failed [2]int
}

type tlsSpan struct {
	start, end int64
	frame      int
}

type queuedMessage struct {
	d       reassembly.Direction
	m       Message
	r       reassembly.ByteRange
	frames  []int
	partial bool
}

// recordFrames says which TCP frames carried record n.
type recordFrames struct {
	n      int
	frames []int
}

// startsTLSBytes says whether the first bytes held are a TLS handshake record
// (those of the client if it sent any, else the server's); known is false
// while neither side has a record header's worth.
func startsTLSBytes(c2s, s2c []byte) (isTLS, known bool) {
	for _, b := range [][]byte{c2s, s2c} {
		if len(b) >= tlsHeaderLen {
			return detectTLSRecord(b), true
		}
	}
	return false, false
}

// startTLS makes ss a TLS stream: records framed outside, decrypted inside.
// The bytes held while detecting are given to the Session, the direction
// whose bytes came first first.
func (ss *streamState) startTLS() {
	st := ss.streamer
	ss.decided, ss.framing, ss.dec = true, "tls", newTLS(Stream)
	t := &tlsState{ss: ss}
	ss.tls = t
	if st.o.Refresh != nil {
		st.o.Refresh()
	}
	t.sess = tlsdec.NewSession(tlsdec.Config{Keys: st.keys, OnRecord: t.record, Refresh: st.o.Refresh})
	first := reassembly.ClientToServer
	a, b := &ss.dirs[0], &ss.dirs[1]
	if len(a.spans) == 0 || (len(b.spans) > 0 && b.spans[0].frame < a.spans[0].frame) {
		first = reassembly.ServerToClient
	}
	for _, d := range []reassembly.Direction{first, first.Reverse()} {
		db := &ss.dirs[d]
		start := db.base
		for _, sp := range db.spans {
			lo, hi := db.off+int(start-db.base), db.off+int(sp.end-db.base)
			t.data(d, reassembly.ByteRange{Start: start, End: sp.end}, db.buf[lo:hi], sp.frame)
			start = sp.end
		}
	}
	ss.processBoth()
}

// switchTLS makes ss, a cleartext stream whose framing just turned to TLS
// records, a TLS stream from there on: each direction is given to the
// Session from its first record (startDir).
func (ss *streamState) switchTLS() {
	st := ss.streamer
	t := &tlsState{ss: ss, after: ss.framing}
	ss.tls = t
	if st.o.Refresh != nil {
		st.o.Refresh()
	}
	t.sess = tlsdec.NewSession(tlsdec.Config{Keys: st.keys, OnRecord: t.record, Refresh: st.o.Refresh})
}

// startDir gives the Session direction d's held bytes from offset at, its
// first TLS record, on.
func (t *tlsState) startDir(d reassembly.Direction, at int64) {
	db := &t.ss.dirs[d]
	t.nOff[d] = db.index
	t.started[d], t.base[d] = true, at
	start := db.base
	for _, sp := range db.spans {
		if sp.end > at {
			lo := max(start, at)
			t.data(d, reassembly.ByteRange{Start: lo, End: sp.end}, db.buf[db.off+int(lo-db.base):db.off+int(sp.end-db.base)], sp.frame)
		}
		start = sp.end
	}
}

// data gives the Session direction d's next bytes r (a gap when b is nil).
func (t *tlsState) data(d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
	if !t.started[d] {
		t.started[d], t.base[d] = true, r.Start
	}
	if b == nil {
		t.spans[d] = t.spans[d][:0]
		t.sess.Gap(d, r.Len())
		return
	}
	if t.sess.Err(d) == nil { // no records come once sync is lost: nothing to map
		t.spans[d] = append(t.spans[d], tlsSpan{start: r.Start, end: r.End, frame: frame})
	}
	t.sess.Feed(d, b)
}

// framesFor lists the frames that carried stream bytes r (a complete record)
// and forgets those no later record can need.
func (t *tlsState) framesFor(d reassembly.Direction, r reassembly.ByteRange) []int {
	var out []int
	sp := t.spans[d]
	for _, s := range sp {
		if s.start < r.End && r.Start < s.end && (len(out) == 0 || out[len(out)-1] != s.frame) {
			out = append(out, s.frame)
		}
	}
	i := 0
	for i < len(sp) && sp[i].end <= r.End {
		i++
	}
	t.spans[d] = sp[:copy(sp, sp[i:])]
	return out
}

// record takes one record from the Session.
func (t *tlsState) record(rec *tlsdec.Record) {
	d := rec.Dir & 1
	r := reassembly.ByteRange{Start: t.base[d] + rec.Range.Start, End: t.base[d] + rec.Range.End}
	frames := t.framesFor(d, r)
	n := rec.N + t.nOff[d]
	if f := t.ss.streamer.o.OnTLSRecord; f != nil {
		tr := newTLSRecord(rec, frames)
		tr.Range, tr.N = r, n
		f(t.ss.s, &tr)
	}
	switch {
	case rec.Decrypted:
		t.Decrypted[d]++
		if t.mode == tlsPending {
			t.mode, t.queued = tlsDecrypted, nil
		}
	case rec.Err != nil:
		if rec.Encrypted {
			t.Failed[d]++
			t.tried[d] = true
		}
		if t.reason == "" {
			t.reason = rec.Err.Error()
		}
		if t.mode == tlsPending && t.tried[0] && t.tried[1] {
			t.opaque()
		}
	}
	if t.mode != tlsDecrypted {
		return
	}
	switch {
	case rec.Decrypted && rec.AppOffset >= 0:
		t.openInner()
		t.recs[d] = append(t.recs[d], recordFrames{n: n, frames: frames})
		in := t.ss.streamer.inner
		in.Data(t.ss.s, d, reassembly.ByteRange{Start: rec.AppOffset, End: rec.AppOffset + int64(len(rec.Plaintext))}, rec.Plaintext, n)
		t.trim(d)
	case rec.Err != nil:
		t.lost(d)
	}
}

// openInner starts the framing of the application data: the protocol ALPN
// named, else the Streamer's framing (auto detects from the plaintext).
// ALPN h2 is h2, or grpc once the first call says so (as follow's
// h2Framing decides): tryDetect waits for the client's first HEADERS.
func (t *tlsState) openInner() {
	if t.inner != nil {
		return
	}
	in := t.ss.streamer.inner
	ss := &streamState{s: t.ss.s, t: Stream, maxBuf: in.o.MaxBuffer, streamer: in}
	in.streams[streamKey{t.ss.s.Proto, t.ss.s.ID}] = ss
	t.inner = ss
	alpn := t.sess.Info().ALPN
	switch {
	case !in.auto:
		ss.decide(in.spec, "chosen with --framing")
	case alpn == "h2":
		ss.alpnH2 = true
	case alpn == "http/1.1" || alpn == "http/1.0":
		ss.decide(Spec{Name: "http1"}, "ALPN "+alpn)
	case t.after != "":
		// IMAP after STARTTLS is still IMAP, with no new greeting.
		ss.decide(Spec{Name: t.after}, "as in the clear before the switch")
		if c, ok := ss.dec.(tlsContinuer); ok {
			c.continueInTLS()
		}
	}
}

// trim forgets the frames of records the inner framing no longer holds.
func (t *tlsState) trim(d reassembly.Direction) {
	db := &t.inner.dirs[d]
	keep := 0
	if len(db.held()) > 0 && len(db.spans) > 0 {
		first := db.spans[0].frame // a record number here
		for keep < len(t.recs[d]) && t.recs[d][keep].n < first {
			keep++
		}
		t.recs[d] = t.recs[d][:copy(t.recs[d], t.recs[d][keep:])]
		return
	}
	t.recs[d] = t.recs[d][:0]
}

// lost ends, as partial, the message inside that a record which could not
// be decrypted was part of; framing resumes at the next message start.
func (t *tlsState) lost(d reassembly.Direction) {
	in := t.inner
	if in == nil {
		return
	}
	db := &in.dirs[d]
	if b := db.held(); len(b) > 0 {
		if in.decided && !in.raw && !db.dead {
			m := Message{Protocol: protoOf(in.framing), Summary: fmt.Sprintf("incomplete: %d bytes before a TLS record that could not be decrypted", len(b))}
			in.emitHeld(d, m, len(b), true)
		} else {
			in.consume(d, len(b))
		}
	}
	db.need = 0
	if in.dec != nil {
		_, db.resync = in.dec.(Resyncer)
	}
	t.trim(d)
}

// outerMessage decides what becomes of a record message of the outer
// framing: reported (true), held until the stream's mode is known, or
// dropped because the stream decrypts.
func (t *tlsState) outerMessage(d reassembly.Direction, m Message, r reassembly.ByteRange, frames []int, partial bool) bool {
	switch t.mode {
	case tlsDecrypted:
		return false
	case tlsPending:
		if len(t.queued) < maxQueued {
			t.queued = append(t.queued, queuedMessage{d, m, r, frames, partial})
			return false
		}
		t.opaque()
	}
	return true
}

// opaque settles that the stream is not decrypted: its records are reported.
func (t *tlsState) opaque() {
	t.mode = tlsOpaque
	q := t.queued
	t.queued = nil
	why := t.reason
	if why == "" {
		why = "no encrypted record was seen"
	}
	if f := t.ss.streamer.o.OnFraming; f != nil {
		first := "first bytes are a TLS handshake record"
		if t.after != "" {
			first = t.after + " switched to TLS"
		}
		f(t.ss.s, "tls", first+"; not decrypted: "+why)
	}
	for _, qm := range q {
		t.ss.emit(qm.d, qm.m, qm.r, qm.frames, qm.partial)
	}
}

func (t *tlsState) closeDir(d reassembly.Direction) {
	if t.inner != nil {
		t.ss.streamer.inner.CloseDir(t.ss.s, d)
	}
}

// end closes the Session and flushes the framing inside.
func (t *tlsState) end() {
	t.sess.Close()
	switch {
	case t.mode == tlsPending:
		t.opaque()
	case t.mode == tlsDecrypted && t.inner == nil:
		if f := t.ss.streamer.o.OnFraming; f != nil {
			f(t.ss.s, "tls", "decrypted with the key log; it carried no application data")
		}
	}
	if t.inner != nil {
		t.ss.streamer.inner.End(t.ss.s)
	}
}

func (t *tlsState) framing() string {
	if t.mode == tlsDecrypted && t.framed != "" {
		return "tls/" + t.framed
	}
	return "tls"
}

// innerFraming passes on the framing picked inside a TLS stream.
func (st *Streamer) innerFraming(s *reassembly.Stream, framing, reason string) {
	o := st.outer
	if ss := o.streams[streamKey{s.Proto, s.ID}]; ss != nil && ss.tls != nil {
		ss.tls.framed = framing
	}
	if o.o.OnFraming != nil {
		o.o.OnFraming(s, "tls/"+framing, reason+"; decrypted with the key log")
	}
}

// innerMessage passes on a message framed inside a TLS stream: the "frames"
// the inner framing saw are record numbers.
func (st *Streamer) innerMessage(s *reassembly.Stream, m *Message) {
	o := st.outer
	ss := o.streams[streamKey{s.Proto, s.ID}]
	if ss == nil || ss.tls == nil {
		return
	}
	m.Records = m.Frames
	var frames []int
	for _, rf := range ss.tls.recs[m.Dir] {
		for _, n := range m.Records {
			if rf.n == n {
				frames = append(frames, rf.frames...)
			}
		}
	}
	m.Frames = sortedUnique(frames)
	if o.o.OnMessage != nil {
		o.o.OnMessage(s, m)
	}
}

func sortedUnique(x []int) []int {
	slices.Sort(x)
	return slices.Compact(x)
}
