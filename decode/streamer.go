package decode

import (
	"errors"
	"fmt"
	"slices"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// DefaultMaxBuffer is how many bytes a Streamer holds per stream direction
// while it waits for the end of a message.
const DefaultMaxBuffer = 16 << 20

// detectWait is how many bytes auto-detection waits for, when neither side
// has given it a clear answer yet, before it settles on what it has.
const detectWait = 512

// resyncKeep is how many bytes are kept, while looking for a message start
// after a gap, in case a start straddles the next segment.
const resyncKeep = 64

// StreamerOptions configures a Streamer.
type StreamerOptions struct {
	// Framing is a --framing value. "" or "auto" picks one per stream with
	// Detect, from its ports and first bytes. With auto, streams detected
	// as "raw" (no known protocol) report no messages; ask for --framing raw
	// to get one per segment.
	Framing string
	// MaxBuffer bounds the bytes held per stream direction while a message
	// is incomplete (0: DefaultMaxBuffer). A message that outgrows it is
	// reported as partial and skipped (to its end when its length is known;
	// otherwise the rest of that direction is not decoded).
	MaxBuffer int
	// OnMessage receives each message as soon as it is complete, with
	// Stream, Dir, Index, Range, Frames and Partial filled in. m is valid
	// during the call only.
	OnMessage func(s *reassembly.Stream, m *Message)
	// OnFraming, when set, is told the framing picked for a stream, and why.
	// A TLS stream decrypted with Keys is "tls/" and the framing inside
	// ("tls/http1"); one that is not decrypted is "tls".
	OnFraming func(s *reassembly.Stream, framing, reason string)
	// Keys, when set, decrypts TLS (not with Framing "tls", which asks
	// for the records): a TCP stream whose first bytes are a TLS handshake
	// record is decrypted as its bytes arrive, and the application data
	// inside is framed (the protocol ALPN named, else Framing: auto
	// detects), as AnalyzeTLS does for a kept stream. Its messages have
	// Range in the direction's decrypted application data, Records set,
	// and Frames the TCP frames of those records. A TLS stream that cannot
	// be decrypted (no key for its client random, a cipher not supported)
	// is framed as TLS records, as without keys.
	Keys *tlsdec.KeyLog
	// Refresh, when set, is called when a TLS record needs a key that Keys
	// does not hold yet (live: re-read the key log file as it grows).
	Refresh func()
	// OnTLSRecord, when set, receives every record of the TLS streams
	// decrypted with Keys (or that could not be), in order within each
	// direction, as the Session reports it. r is valid during the call only.
	OnTLSRecord func(s *reassembly.Stream, r *TLSRecord)
	// TLSOnly decrypts and frames the TLS streams Keys can decrypt, and
	// nothing else: other streams (and all of them while Keys is empty and
	// there is no Refresh) report no messages.
	TLSOnly bool
}

// StreamerStats counts a Streamer's work and memory.
type StreamerStats struct {
	Streams      int   // streams with decoding state now
	Buffered     int64 // bytes held now
	PeakBuffered int64 // most bytes held at once
	Messages     int   // messages reported (partial and unframed included)
	Skipped      int64 // bytes not decoded: messages over MaxBuffer, lost sync
}

// Streamer frames the messages of many streams incrementally, as their
// bytes arrive during a capture (reassembly.Options.OnData), holding for
// each direction only the bytes not yet part of a complete message. Batch
// views use Analyze on kept streams instead. Like the Tracker that feeds
// it, it is not safe for concurrent use.
type Streamer struct {
	o       StreamerOptions
	spec    Spec
	auto    bool
	streams map[streamKey]*streamState
	stats   *StreamerStats // shared with inner
	// keys are o.Keys unless the framing asks for TLS records; inner frames
	// the application data of decrypted TLS streams.
	keys  *tlsdec.KeyLog
	inner *Streamer
	outer *Streamer // for an inner Streamer: the one whose TLS it frames
}

type streamKey struct {
	proto capture.Proto
	id    int
}

type streamState struct {
	s        *reassembly.Stream
	t        Transport
	dec      Decoder
	framing  string
	decided  bool
	raw      bool // raw framing: one message per chunk, or none when auto-detected
	silent   bool
	tls      *tlsState // decrypting: this stream is TLS and the Streamer has keys
	alpnH2   bool      // the data inside TLS whose ALPN is h2: h2, or grpc when its first call is
	dirs     [2]dirBuf
	maxBuf   int
	streamer *Streamer
}

// dirBuf is one direction's undecoded tail: buf[off:] holds stream bytes
// [base, base+len(buf)-off).
type dirBuf struct {
	buf    []byte
	off    int
	base   int64
	spans  []frameSpan // which frame supplied the held bytes, in stream order
	need   int         // wait until this many bytes are held (0: try at once)
	index  int         // messages reported so far
	eof    bool        // no more bytes expected (FIN, RST, end of capture)
	dead   bool        // decoding this direction stopped
	resync bool        // look for a message start before decoding
	skipTo int64       // drop bytes before this offset (an oversized message)
	seen   bool        // bytes arrived
}

// frameSpan says that the held bytes up to end came from frame.
type frameSpan struct {
	end   int64
	frame int
}

func (db *dirBuf) held() []byte { return db.buf[db.off:] }
func (db *dirBuf) end() int64   { return db.base + int64(len(db.buf)-db.off) }

// hold appends b to the held bytes. The buffer doubles as it grows (append
// grows large slices by a quarter, copying a big message many times), up to
// the length of the message being waited for when the decoder said it: never
// more than twice the bytes held, whatever length a message claims.
func (db *dirBuf) hold(b []byte) {
	if len(db.buf)+len(b) > cap(db.buf) {
		h := db.held()
		n := len(h) + len(b)
		c := max(2*n, 512)
		if db.need > n && db.need < c {
			c = db.need
		}
		nb := make([]byte, len(h), c)
		copy(nb, h)
		db.buf, db.off = nb, 0
	}
	db.buf = append(db.buf, b...)
}

// NewStreamer returns a Streamer for o. The only error is a bad Framing.
func NewStreamer(o StreamerOptions) (*Streamer, error) {
	if o.Framing == "" {
		o.Framing = "auto"
	}
	sp, err := ParseSpec(o.Framing)
	if err != nil {
		return nil, err
	}
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	st := &Streamer{o: o, spec: sp, auto: sp.Name == "auto", streams: make(map[streamKey]*streamState), stats: &StreamerStats{}}
	if o.Keys != nil && sp.Name != "tls" {
		st.keys = o.Keys
		st.inner = &Streamer{o: StreamerOptions{Framing: o.Framing, MaxBuffer: o.MaxBuffer}, spec: sp, auto: st.auto,
			streams: make(map[streamKey]*streamState), stats: st.stats, outer: st}
		st.inner.o.OnMessage, st.inner.o.OnFraming = st.inner.innerMessage, st.inner.innerFraming
	}
	return st, nil
}

// Stats returns the counters so far.
func (st *Streamer) Stats() StreamerStats {
	s := *st.stats
	s.Streams = len(st.streams)
	return s
}

// Framing returns the framing picked for s so far ("" while undecided).
func (st *Streamer) Framing(s *reassembly.Stream) string {
	if ss := st.streams[streamKey{s.Proto, s.ID}]; ss != nil {
		if ss.tls != nil {
			return ss.tls.framing()
		}
		return ss.framing
	}
	return ""
}

// decrypting says whether TLS streams are decrypted: there are keys, or a
// key log that may still get them.
func (st *Streamer) decrypting() bool {
	return st.keys != nil && (st.keys.Len() > 0 || st.o.Refresh != nil)
}

func (st *Streamer) state(s *reassembly.Stream) *streamState {
	k := streamKey{s.Proto, s.ID}
	ss := st.streams[k]
	if ss == nil {
		ss = &streamState{s: s, t: Stream, maxBuf: st.o.MaxBuffer, streamer: st}
		if s.Proto == capture.ProtoUDP {
			ss.t = Datagram
		}
		st.streams[k] = ss
		if !st.auto && (!st.decrypting() || ss.t == Datagram) {
			// With keys, a TCP stream's first bytes say whether it is TLS first.
			ss.decide(st.spec, "chosen with --framing")
		}
	}
	ss.s = s // a flow flushed early comes back as a new *Stream with the same ID
	return ss
}

// Data takes the bytes of direction d as they become contiguous; use it as
// reassembly.Options.OnData. b == nil means range r is missing (a gap).
func (st *Streamer) Data(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
	ss := st.state(s)
	if ss.t == Datagram {
		if len(b) > 0 {
			ss.datagram(d, r, b, frame)
		}
		return
	}
	db := &ss.dirs[d]
	db.seen = true
	if ss.tls != nil {
		if ss.tls.after == "" || ss.tls.started[d] {
			ss.tls.data(d, r, b, frame)
		}
		if ss.tls.mode == tlsDecrypted {
			// The messages inside are reported, not the records: the
			// outer framing has nothing left to do.
			ss.consume(reassembly.ClientToServer, len(ss.dirs[0].held()))
			ss.consume(reassembly.ServerToClient, len(ss.dirs[1].held()))
			return
		}
	}
	if b == nil {
		ss.gap(d, r)
		return
	}
	if db.dead || (ss.decided && ss.raw) {
		if ss.decided && ss.raw && !ss.silent {
			ss.emit(d, Message{Protocol: "raw", Summary: fmt.Sprintf("%d byte%s", len(b), plural(int64(len(b))))}, r, []int{frame}, false)
		} else if db.dead {
			st.stats.Skipped += int64(len(b))
		}
		return
	}
	if r.Start < db.skipTo {
		cut := min(db.skipTo, r.End) - r.Start
		st.stats.Skipped += cut
		b, r.Start = b[cut:], r.Start+cut
		if len(b) == 0 {
			return
		}
	}
	if len(db.held()) == 0 {
		db.buf, db.off, db.base, db.spans = db.buf[:0], 0, r.Start, db.spans[:0]
	} else if r.Start != db.end() {
		// Not contiguous with what is held (cannot happen with a Tracker
		// feeding us, which reports gaps): treat it as one.
		ss.gap(d, reassembly.ByteRange{Start: db.end(), End: r.Start})
		db.base = r.Start
	}
	db.hold(b)
	db.spans = append(db.spans, frameSpan{end: r.End, frame: frame})
	st.grow(int64(len(b)))
	if !ss.decided {
		ss.tryDetect(false)
		return
	}
	ss.process(d)
}

// Event takes the tracker's events (reassembly.Options.OnEvent) and closes
// the directions they end: a half-close closes one, a close, reset or
// refusal both, so a message cut short there is reported at once.
func (st *Streamer) Event(e reassembly.Event) {
	switch e.Kind {
	case reassembly.EventHalfClosed:
		st.CloseDir(e.Stream, e.Dir)
	case reassembly.EventClosed, reassembly.EventReset, reassembly.EventRefused:
		st.CloseDir(e.Stream, reassembly.ClientToServer)
		st.CloseDir(e.Stream, reassembly.ServerToClient)
	}
}

// CloseDir says that no more bytes will come in direction d of s (its FIN
// or a RST was seen): a message delimited by the close is complete, and
// what is left incomplete is reported as partial.
func (st *Streamer) CloseDir(s *reassembly.Stream, d reassembly.Direction) {
	ss := st.streams[streamKey{s.Proto, s.ID}]
	if ss == nil || ss.t == Datagram {
		return
	}
	ss.s = s
	ss.dirs[d].eof = true
	if !ss.decided {
		if !ss.dirs[0].eof || !ss.dirs[1].eof {
			// The other side may still send what decides the framing.
			if len(ss.dirs[0].held())+len(ss.dirs[1].held()) < detectWait {
				return
			}
		}
		ss.tryDetect(true)
		return
	}
	ss.process(d)
	if ss.tls != nil {
		ss.tls.closeDir(d)
	}
}

// End flushes s (both directions at their end) and forgets it; use it from
// reassembly.Options.OnStream.
func (st *Streamer) End(s *reassembly.Stream) {
	k := streamKey{s.Proto, s.ID}
	ss := st.streams[k]
	if ss == nil {
		return
	}
	ss.s = s
	if ss.t == Stream {
		ss.dirs[0].eof, ss.dirs[1].eof = true, true
		if !ss.decided {
			ss.tryDetect(true)
		} else {
			ss.processBoth()
		}
		if ss.tls != nil {
			ss.tls.end()
		}
	}
	for d := range ss.dirs {
		st.grow(-int64(len(ss.dirs[d].held())))
	}
	delete(st.streams, k)
}

func (st *Streamer) grow(n int64) {
	st.stats.Buffered += n
	st.stats.PeakBuffered = max(st.stats.PeakBuffered, st.stats.Buffered)
}

// tryDetect picks the framing of an auto stream once there is enough to go
// on: a clear answer from content or port, bytes from both sides, or
// detectWait bytes; force decides with whatever is held.
func (ss *streamState) tryDetect(force bool) {
	c2s, s2c := ss.dirs[0].held(), ss.dirs[1].held()
	if st := ss.streamer; st.o.TLSOnly {
		isTLS, known := startsTLSBytes(c2s, s2c)
		switch {
		case !known && !force:
			return
		case !isTLS || ss.t != Stream || !st.decrypting():
			ss.decide(Spec{Name: "raw"}, "not decrypted TLS")
			ss.silent = true
			ss.processBoth()
			return
		}
	}
	if st := ss.streamer; ss.t == Stream && st.decrypting() {
		// With keys, TLS is looked for first, whatever the framing.
		isTLS, known := startsTLSBytes(c2s, s2c)
		switch {
		case known && isTLS:
			ss.startTLS()
			return
		case !known && !force:
			return
		case !st.auto:
			ss.decide(st.spec, "chosen with --framing")
			ss.processBoth()
			return
		}
	}
	name, why := Detect(DetectInput{Transport: ss.t, ClientPort: ss.s.Client.Port(), ServerPort: ss.s.Server.Port(), C2S: c2s, S2C: s2c})
	if !force && (name == "raw" || name == "line") && (len(c2s) == 0 || len(s2c) == 0) && len(c2s)+len(s2c) < detectWait {
		return
	}
	if !force && (name == "h2" || ss.alpnH2) && !h2HeadersSeen(c2s) && len(c2s) < detectMaxLook {
		// The preface (or ALPN) says HTTP/2; the client's first HEADERS
		// says whether it is gRPC, as Analyze sees it with the whole
		// stream.
		return
	}
	if ss.alpnH2 && name != "grpc" {
		name, why = "h2", "ALPN h2" // what the TLS handshake agreed, as follow's h2Framing takes it
	}
	sp, err := ParseSpec(name)
	if err != nil {
		sp, why = Spec{Name: "raw"}, fmt.Sprintf("auto-detection chose %q, which is not a framing", name)
	}
	if name != sp.String() || why == "" {
		why = name + ": " + why
	}
	ss.decide(sp, why)
	ss.processBoth()
}

func (ss *streamState) decide(sp Spec, why string) {
	ss.decided, ss.framing = true, sp.String()
	st := ss.streamer
	if sp.Name == "raw" || sp.Name == "auto" {
		ss.raw, ss.silent = true, st.auto
	} else if dec, err := New(sp, ss.t); err != nil || dec == nil {
		ss.raw, ss.silent = true, st.auto
	} else {
		ss.dec = dec
	}
	if st.o.OnFraming != nil {
		st.o.OnFraming(ss.s, ss.framing, why)
	}
}

// processBoth decodes what both directions hold, the one whose bytes came
// first first, so that state one side sets (an HTTP request method, an
// upgrade) is there when the other side needs it.
func (ss *streamState) processBoth() {
	first := reassembly.ClientToServer
	a, b := &ss.dirs[0], &ss.dirs[1]
	if len(a.spans) == 0 || (len(b.spans) > 0 && b.spans[0].frame < a.spans[0].frame) {
		first = reassembly.ServerToClient
	}
	ss.process(first)
	ss.process(first.Reverse())
}

// process decodes the messages complete in direction d.
func (ss *streamState) process(d reassembly.Direction) {
	db := &ss.dirs[d]
	if ss.raw {
		// Bytes held while detecting: report them once, as one chunk each span.
		if !ss.silent {
			start := db.base
			for _, sp := range db.spans {
				n := sp.end - start
				ss.emit(d, Message{Protocol: "raw", Summary: fmt.Sprintf("%d byte%s", n, plural(n))}, reassembly.ByteRange{Start: start, End: sp.end}, []int{sp.frame}, false)
				start = sp.end
			}
		}
		ss.consume(d, len(db.held()))
		return
	}
	for steps := 0; steps < 1<<20 && !db.dead; steps++ {
		b := db.held()
		if len(b) == 0 {
			return
		}
		if db.resync && !ss.findStart(d) {
			return
		}
		b = db.held()
		if len(b) < db.need && !db.eof {
			return
		}
		m, n, err := safeNext(ss.dec, d, b, db.eof)
		var fe *Error
		switch {
		case err == nil && n > 0 && n <= len(b):
			ss.emitHeld(d, m, n, false)
			db.need = 0
		case errors.Is(err, ErrNeedMore):
			if db.eof {
				m := Message{Protocol: protoOf(ss.framing), Summary: fmt.Sprintf("incomplete: %d bytes before the end of the stream", len(b))}
				if n > len(b) {
					m.Summary = fmt.Sprintf("incomplete: %d of %d bytes before the end of the stream", len(b), n)
				}
				ss.emitHeld(d, m, len(b), true)
				return
			}
			db.need = max(n, len(b)+1)
			if len(b) < ss.maxBuf && db.need <= ss.maxBuf {
				return
			}
			ss.oversize(d, n)
			return
		case errors.As(err, &fe):
			ss.framingError(d, "framing error: "+fe.Reason)
		default:
			reason := "decoder returned an impossible length"
			if err != nil {
				reason = err.Error()
			}
			ss.emitHeld(d, Message{Protocol: "unframed", Summary: reason + "; the rest of this direction is not decoded"}, len(b), false)
			db.dead = true
		}
	}
}

// oversize handles a message larger than MaxBuffer: reported as partial,
// then skipped to its end when the decoder knows its length, else the
// direction stops being decoded.
func (ss *streamState) oversize(d reassembly.Direction, n int) {
	db := &ss.dirs[d]
	b := db.held()
	proto := protoOf(ss.framing)
	if n > len(b) {
		m := Message{Protocol: proto, Summary: fmt.Sprintf("%s message larger than the %s buffer: not decoded", human.Bytes(int64(n)), human.Bytes(int64(ss.maxBuf)))}
		r := reassembly.ByteRange{Start: db.base, End: db.base + int64(n)}
		frames := ss.framesIn(db, r)
		ss.emit(d, m, r, frames, true)
		db.skipTo = r.End
		ss.streamer.stats.Skipped += int64(len(b))
		ss.consume(d, len(b))
		db.need = 0
		return
	}
	m := Message{Protocol: "unframed", Summary: fmt.Sprintf("no message end within %s: the rest of this direction is not decoded", human.Bytes(int64(len(b))))}
	ss.streamer.stats.Skipped += int64(len(b))
	ss.emitHeld(d, m, len(b), true)
	db.dead = true
}

// framingError reports bytes that are not a message start and skips to the
// next plausible one (or, for decoders that cannot find one, stops).
func (ss *streamState) framingError(d reassembly.Direction, reason string) {
	db := &ss.dirs[d]
	b := db.held()
	rs, ok := ss.dec.(Resyncer)
	if !ok {
		ss.emitHeld(d, Message{Protocol: "unframed", Summary: reason + "; the rest of this direction is not decoded"}, len(b), false)
		db.dead = true
		return
	}
	if len(b) > 1 {
		off, failed := safeResync(rs, d, b[1:])
		if failed != "" {
			ss.emitHeld(d, Message{Protocol: "unframed", Summary: reason + "; " + failed + "; the rest of this direction is not decoded"}, len(b), false)
			db.dead = true
			return
		}
		if off >= 0 && off+1 < len(b) {
			ss.emitHeld(d, Message{Protocol: "unframed", Summary: reason}, off+1, false)
			return
		}
	}
	ss.emitHeld(d, Message{Protocol: "unframed", Summary: reason}, len(b), false)
	db.resync = true
}

// findStart, after a gap or a framing error, drops held bytes up to the
// next plausible message start. It reports whether one was found.
func (ss *streamState) findStart(d reassembly.Direction) bool {
	db := &ss.dirs[d]
	rs, ok := ss.dec.(Resyncer)
	if !ok {
		db.resync = false
		return true
	}
	b := db.held()
	off, failed := safeResync(rs, d, b)
	switch {
	case failed != "":
		ss.emitHeld(d, Message{Protocol: "unframed", Summary: failed + "; the rest of this direction is not decoded"}, len(b), false)
		db.dead = true
		return false
	case off == 0:
	case off > 0:
		ss.emitHeld(d, Message{Protocol: "unframed", Summary: "bytes before the next message start"}, off, true)
	default:
		if drop := len(b) - resyncKeep; drop > 0 {
			ss.streamer.stats.Skipped += int64(drop)
			ss.consume(d, drop)
		}
		return false
	}
	db.resync = false
	return true
}

// gap handles missing bytes r: what was held is a partial message.
func (ss *streamState) gap(d reassembly.Direction, r reassembly.ByteRange) {
	db := &ss.dirs[d]
	if r.End <= db.skipTo {
		return
	}
	if b := db.held(); len(b) > 0 {
		if ss.decided && !ss.raw && !db.dead {
			m := Message{Protocol: protoOf(ss.framing), Summary: fmt.Sprintf("incomplete: %d bytes before a gap of %d bytes", len(b), r.Len())}
			ss.emitHeld(d, m, len(b), true)
		} else {
			ss.consume(d, len(b))
		}
	}
	db.base, db.need = r.End, 0
	db.skipTo = max(db.skipTo, r.End)
	if ss.dec != nil {
		_, db.resync = ss.dec.(Resyncer)
	}
}

// datagram frames one UDP datagram (several messages may share it).
func (ss *streamState) datagram(d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
	if !ss.decided {
		in := DetectInput{Transport: Datagram, ClientPort: ss.s.Client.Port(), ServerPort: ss.s.Server.Port()}
		if d == reassembly.ClientToServer {
			in.C2S = b
		} else {
			in.S2C = b
		}
		name, why := Detect(in)
		sp, err := ParseSpec(name)
		if err != nil {
			sp = Spec{Name: "raw"}
		}
		ss.decide(sp, why)
	}
	frames := []int{frame}
	if ss.raw {
		if !ss.silent {
			ss.emit(d, Message{Protocol: "raw", Summary: fmt.Sprintf("%d byte%s", len(b), plural(int64(len(b))))}, r, frames, false)
		}
		return
	}
	for pos := 0; pos < len(b); {
		m, n, err := safeNext(ss.dec, d, b[pos:], true)
		at := r.Start + int64(pos)
		if err != nil || n <= 0 || n > len(b)-pos {
			reason := "incomplete message in a datagram"
			var fe *Error
			if errors.As(err, &fe) {
				reason = "framing error: " + fe.Reason
			}
			ss.emit(d, Message{Protocol: "unframed", Summary: reason}, reassembly.ByteRange{Start: at, End: r.End}, frames, false)
			return
		}
		ss.emit(d, m, reassembly.ByteRange{Start: at, End: at + int64(n)}, frames, false)
		pos += n
	}
}

// emitHeld reports the first n held bytes as message m and consumes them.
func (ss *streamState) emitHeld(d reassembly.Direction, m Message, n int, partial bool) {
	db := &ss.dirs[d]
	r := reassembly.ByteRange{Start: db.base, End: db.base + int64(n)}
	ss.emit(d, m, r, ss.framesIn(db, r), partial)
	ss.consume(d, n)
}

func (ss *streamState) emit(d reassembly.Direction, m Message, r reassembly.ByteRange, frames []int, partial bool) {
	if m.Protocol == "tls" && ss.framing != "tls" && ss.t == Stream && ss.streamer.decrypting() && ss.streamer.outer == nil {
		// A cleartext framing turned to TLS records (STARTTLS...): the
		// stream decrypts from here, each direction from its first record.
		if ss.tls == nil {
			ss.switchTLS()
		}
		if t := ss.tls; t.after != "" && !t.started[d] {
			t.startDir(d, r.Start)
		}
	}
	if ss.tls != nil && !ss.tls.outerMessage(d, m, r, frames, partial) {
		return
	}
	db := &ss.dirs[d]
	db.index++
	m.Stream, m.Dir, m.Index, m.Range, m.Frames, m.Partial = ss.s.Name(), d, db.index, r, frames, partial
	ss.streamer.stats.Messages++
	if ss.streamer.o.OnMessage != nil {
		ss.streamer.o.OnMessage(ss.s, &m)
	}
}

// framesIn lists, ascending and once each, the frames that supplied held
// bytes of r.
func (ss *streamState) framesIn(db *dirBuf, r reassembly.ByteRange) []int {
	var out []int
	start := db.base
	for _, sp := range db.spans {
		if sp.end > r.Start && start < r.End {
			out = append(out, sp.frame)
		}
		if start >= r.End {
			break
		}
		start = sp.end
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// consume drops the first n held bytes and the spans they used up.
func (ss *streamState) consume(d reassembly.Direction, n int) {
	db := &ss.dirs[d]
	if n <= 0 {
		return
	}
	db.off += n
	db.base += int64(n)
	ss.streamer.grow(-int64(n))
	i := 0
	for i < len(db.spans) && db.spans[i].end <= db.base {
		i++
	}
	db.spans = db.spans[:copy(db.spans, db.spans[i:])]
	switch {
	case db.off == len(db.buf):
		db.off = 0
		if cap(db.buf) > 1<<20 {
			db.buf = nil // don't keep a big message's buffer for a quiet stream
		} else {
			db.buf = db.buf[:0]
		}
	case db.off > 64<<10 && db.off > len(db.buf)/2:
		db.buf = db.buf[:copy(db.buf, db.buf[db.off:])]
		db.off = 0
	}
}
