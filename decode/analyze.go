package decode

import (
	"container/heap"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// New returns the decoder for spec on transport t. "auto" and "raw" have no
// decoder: Analyze resolves auto with Detect and frames raw by segment, so
// New returns (nil, nil) for them.
func New(spec Spec, t Transport) (Decoder, error) {
	switch spec.Name {
	case "auto", "raw":
		return nil, nil
	case "line":
		return newLine(spec, t), nil
	case "len":
		return newLength(spec, t), nil
	case "fixed":
		return newFixed(spec, t), nil
	case "http1":
		return newHTTP1(t), nil
	case "ws":
		return newWS(t), nil
	case "tls":
		return newTLS(t), nil
	case "dns":
		return newDNS(t), nil
	case "resp":
		return newRESP(t), nil
	case "h2":
		return newH2(t), nil
	case "grpc":
		return newGRPC(t), nil
	case "kafka":
		return newKafka(t), nil
	case "nats":
		return newNATS(t), nil
	case "amqp":
		return newAMQP(t), nil
	case "pgsql":
		return newPgSQL(t), nil
	case "mysql":
		return newMySQL(t), nil
	case "mqtt":
		return newMQTT(t), nil
	case "ssh":
		return newSSH(t), nil
	case "memcached":
		return newMemcached(t), nil
	case "smtp":
		return newSMTP(t), nil
	case "ftp":
		return newFTP(t), nil
	case "pop3":
		return newPOP3(t), nil
	case "imap":
		return newIMAP(t), nil
	}
	return nil, fmt.Errorf("unknown framing %q", spec.Name)
}

// FramingError is a place where the bytes could not be framed.
type FramingError struct {
	Dir      reassembly.Direction
	Offset   int64 // stream offset
	Protocol string
	Reason   string
}

// Stats summarize how messages fell across segments in one direction.
type Stats struct {
	Messages int // messages (partial ones included)
	Segments int // segments (datagrams) that supplied new bytes
	Split    int // messages whose bytes came from more than one segment
	Multi    int // segments that carried bytes of two or more messages
	Exact    int // segments that carried exactly one whole message and nothing else
	Partial  int // messages cut short by a gap or the end of the capture
	Errors   int // framing errors
	// Requests (Message.Role) sent in this direction, and of them those no
	// response answered by the end; Answered counts this direction's
	// responses that answered a request, with the median, 99th percentile
	// and longest of their service times (request's last frame to the
	// response's first).
	Requests, Unanswered int
	Answered             int
	ServiceMedian        time.Duration
	ServiceP99           time.Duration
	ServiceMax           time.Duration
}

// SegmentMessages says which messages one segment carried: the indexes (into
// Analysis.Messages[dir]) of the messages its new bytes belong to, or, for a
// segment that added nothing, the ones it re-sent.
type SegmentMessages struct {
	Carries []int
	Resends []int
}

// Analysis is the framing of one stream: messages per direction mapped onto
// the segment map.
type Analysis struct {
	Stream   *reassembly.Stream
	Framing  string // the framing used, e.g. "http1", "len:u32be"
	Reason   string // why: the user asked, or what auto-detection saw
	Messages [2][]Message
	Errors   [2][]FramingError
	Stats    [2]Stats
	// BySegment[dir][i] describes Stream.Dirs[dir].Segments[i]; nil for an
	// analysis that streamed its messages (AnalyzeTo): SegmentAt answers.
	BySegment [2][]SegmentMessages

	name string // Stream.Name(), worded once for every message
	// sink, when set, takes each message instead of Messages (AnalyzeTo);
	// ranges then keeps only where each message lies.
	sink   func(Message)
	ranges [2]reassembly.Log[reassembly.ByteRange]
	// pending holds, per direction, the requests not answered yet, by
	// pairing key; service the service times of each direction's answers.
	pending [2]map[string][]pendingRequest
	service [2][]time.Duration
}

// pendingRequest is a request waiting for its response.
type pendingRequest struct{ index, lastFrame int }

// maxPending bounds the requests a direction keeps waiting for answers
// under one key: past it the oldest is counted as never answered.
const maxPending = 4096

// pair relates message m of direction d to the other direction's
// messages: a request waits for its response; a response answers the
// oldest request waiting under its key, and gets its times.
func (a *Analysis) pair(d reassembly.Direction, m *Message) {
	switch m.Role {
	case RoleRequest:
		a.Stats[d].Requests++
		if a.pending[d] == nil {
			a.pending[d] = map[string][]pendingRequest{}
		}
		q := a.pending[d][m.Key]
		if len(q) >= maxPending {
			q = q[1:]
			a.Stats[d].Unanswered++
		}
		last := 0
		if len(m.Frames) > 0 {
			last = m.Frames[len(m.Frames)-1]
		}
		a.pending[d][m.Key] = append(q, pendingRequest{m.Index, last})
	case RoleResponse:
		o := 1 - d
		q := a.pending[o][m.Key]
		if len(q) == 0 {
			return
		}
		r := q[0]
		if len(q) == 1 {
			delete(a.pending[o], m.Key)
		} else {
			a.pending[o][m.Key] = q[1:]
		}
		m.Answers = r.index
		a.Stats[d].Answered++
		if len(m.Frames) == 0 {
			return
		}
		t0, ok0 := a.frameTime(o, r.lastFrame)
		t1, ok1 := a.frameTime(d, m.Frames[0])
		t2, ok2 := a.frameTime(d, m.Frames[len(m.Frames)-1])
		if ok0 && ok1 && ok2 {
			m.Service, m.Transfer = t1.Sub(t0), t2.Sub(t1)
			a.service[d] = append(a.service[d], m.Service)
		}
	}
}

// frameTime returns when frame f, which supplied bytes of direction d, was
// captured (false when the segment map does not say: a decrypted layer's).
func (a *Analysis) frameTime(d reassembly.Direction, f int) (time.Time, bool) {
	segs := &a.Stream.Dirs[d].Segments
	i := segs.Search(func(g *reassembly.Segment) bool { return g.Frame >= f })
	if i == segs.Len() || segs.At(i).Frame != f || segs.At(i).Time.IsZero() {
		return time.Time{}, false
	}
	return segs.At(i).Time, true
}

// endPairs counts the requests never answered and sums up service times.
func (a *Analysis) endPairs() {
	for d := range a.pending {
		for _, q := range a.pending[d] {
			a.Stats[d].Unanswered += len(q)
		}
		a.pending[d] = nil
		ts := a.service[d]
		if len(ts) == 0 {
			continue
		}
		slices.Sort(ts)
		st := &a.Stats[d]
		st.ServiceMedian, st.ServiceP99, st.ServiceMax = ts[(len(ts)-1)/2], ts[(len(ts)*99+99)/100-1], ts[len(ts)-1]
		a.service[d] = nil
	}
}

// AnalyzeTo is Analyze for a view that writes messages as they are framed
// rather than holding them: each message goes to sink, in order within
// its direction (the two directions interleave in capture order), and the
// Analysis keeps only where each lies, 16 bytes a message, so that
// framing a stream of a million messages does not hold a million
// messages. Messages and BySegment stay nil; SegmentAt gives what a
// segment carries. TLS streams are framed by AnalyzeTLS, which holds them.
func AnalyzeTo(s *reassembly.Stream, spec string, sink func(Message)) (*Analysis, error) {
	return analyzeSink(s, spec, false, sink)
}

// Release closes the temporary files of an analysis that streamed the
// messages of a long direction (AnalyzeTo): where its messages lie went to
// disk with the direction's bytes. A no-op otherwise.
func (a *Analysis) Release() {
	for d := range a.ranges {
		a.ranges[d].Release()
	}
}

// SegmentAt returns what segment i of direction d carries, as
// BySegment[d][i] does; it works for an analysis that streamed its
// messages too (AnalyzeTo). Carries and Resends index the direction's
// messages from 0 (the message's Index is one more).
func (a *Analysis) SegmentAt(d reassembly.Direction, i int, seg *reassembly.Segment) SegmentMessages {
	if a.BySegment[d] != nil || a.sink == nil {
		if i < len(a.BySegment[d]) {
			return a.BySegment[d][i]
		}
		return SegmentMessages{}
	}
	return a.segmentMessages(d, seg)
}

// MessageCount returns the number of messages framed in direction d (held
// or streamed: AnalyzeTo).
func (a *Analysis) MessageCount(d reassembly.Direction) int {
	if a.sink != nil {
		return a.ranges[d].Len()
	}
	return len(a.Messages[d])
}

// MessageFrom returns the index (from 0) of the first message of direction
// d that starts at or after stream offset off (MessageCount when none
// does): messages go up the stream. It reads at most one block of a
// streamed analysis's ranges from disk.
func (a *Analysis) MessageFrom(d reassembly.Direction, off int64) int {
	if a.sink != nil {
		return a.ranges[d].Search(func(r *reassembly.ByteRange) bool { return r.Start >= off })
	}
	ms := a.Messages[d]
	return sort.Search(len(ms), func(i int) bool { return ms[i].Range.Start >= off })
}

// MessageRange returns where message i (from 0) of direction d lies, held
// or streamed.
func (a *Analysis) MessageRange(d reassembly.Direction, i int) reassembly.ByteRange {
	if a.sink != nil {
		return *a.ranges[d].At(i)
	}
	return a.Messages[d][i].Range
}

// Analyze frames a stream whose data was kept (reassembly.Options.Keep).
// spec is a --framing value; "auto" picks by content and port and says why.
func Analyze(s *reassembly.Stream, spec string) (*Analysis, error) {
	return analyze(s, spec, false)
}

// tlsContinuer is implemented by decoders of protocols that switch to TLS
// mid-session (STARTTLS): continueInTLS says the bytes they get are the
// session going on inside TLS, after the switch (no greeting comes).
type tlsContinuer interface {
	continueInTLS()
}

// analyze is Analyze; insideTLS frames a session's bytes after its switch
// to TLS (the decrypted data of a STARTTLS stream).
func analyze(s *reassembly.Stream, spec string, insideTLS bool) (*Analysis, error) {
	return analyzeSink(s, spec, insideTLS, nil)
}

// analyzeSink is analyze, sending the messages to sink when it is set
// (AnalyzeTo).
func analyzeSink(s *reassembly.Stream, spec string, insideTLS bool, sink func(Message)) (*Analysis, error) {
	sp, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	a := &Analysis{Stream: s, Framing: sp.String(), Reason: "chosen with --framing", name: s.Name(), sink: sink}
	t := Stream
	if s.Proto == capture.ProtoUDP {
		t = Datagram
	}
	if sp.Name == "auto" {
		name, why := Detect(DetectInput{Transport: t, ClientPort: s.Client.Port(), ServerPort: s.Server.Port(),
			C2S: firstBytes(&s.Dirs[0], 1024), S2C: firstBytes(&s.Dirs[1], 1024)})
		if sp, err = ParseSpec(name); err != nil {
			return nil, fmt.Errorf("auto-detection chose %q: %w", name, err)
		}
		a.Framing, a.Reason = sp.String(), name+": "+why
		if name == sp.String() {
			a.Reason = why
		}
	}
	dec, err := New(sp, t)
	if err != nil {
		return nil, err
	}
	if c, ok := dec.(tlsContinuer); ok && insideTLS {
		c.continueInTLS()
	}
	switch {
	case sp.Name == "raw":
		for d := range s.Dirs {
			a.rawMessages(reassembly.Direction(d))
		}
	case t == Datagram:
		for d := range s.Dirs {
			a.datagrams(reassembly.Direction(d), dec)
		}
	default:
		a.stream(dec)
	}
	a.endPairs()
	for d := range s.Dirs {
		a.mapSegments(reassembly.Direction(d))
	}
	return a, nil
}

func firstBytes(h *reassembly.Half, n int) []byte {
	if h.Chunks.Len() == 0 {
		return nil
	}
	// Only the first contiguous run: bytes after a gap are not "the start".
	first := *h.Chunks.At(0)
	end := first.Range.End
	for i, c := range h.Chunks.All() {
		if i == 0 {
			continue
		}
		if c.Range.Start != end || end-first.Range.Start >= int64(n) {
			break
		}
		end = c.Range.End
	}
	return h.DataAt(first.Data, min(end-first.Range.Start, int64(n)))
}

// run is a contiguous captured range of a direction.
type run struct {
	r   reassembly.ByteRange
	off int64 // offset in Half.Data
}

func runs(h *reassembly.Half) []run {
	var out []run
	for _, c := range h.Chunks.All() {
		if n := len(out); n > 0 && out[n-1].r.End == c.Range.Start {
			out[n-1].r.End = c.Range.End
			continue
		}
		out = append(out, run{r: c.Range, off: c.Data})
	}
	return out
}

// dirCursor walks one direction's runs.
type dirCursor struct {
	h    *reassembly.Half
	runs []run
	ri   int
	pos  int64
	done bool
	eof  bool // the direction was closed (FIN or RST): the last run ends it
	// A direction spilled to disk (reassembly.Options.SpillOver) is read
	// through a window: win holds stream bytes from winAt.
	win   []byte
	winAt int64
}

// spillWindow is how much of a spilled direction a cursor reads at once;
// a message longer than that widens the window to its length.
var spillWindow int64 = 4 << 20

// spillMapOver is the window past which a spilled direction is mapped
// (reassembly.Half.MapAt) instead of read in: a decoder asking for a long
// message (an HTTP response with a 2 GiB body) touches only the pages it
// reads, the header, so memory stays bounded by what it looks at.
var spillMapOver int64 = 16 << 20

// window returns the run's bytes from the cursor: all of them when the
// direction is held in memory; spilled, at least want bytes of them (all
// when fewer are left), read through the window. whole says the bytes reach
// the end of the run.
func (c *dirCursor) window(want int64) (b []byte, whole bool) {
	r := c.runs[c.ri]
	left := r.r.End - c.pos
	if !c.h.Spilled() {
		return c.h.DataAt(r.off+(c.pos-r.r.Start), left), true
	}
	want = min(left, max(want, spillWindow/4))
	if c.pos < c.winAt || c.pos+want > c.winAt+int64(len(c.win)) {
		n := min(left, max(want, spillWindow))
		c.win = nil
		if n > spillMapOver {
			c.win = c.h.MapAt(r.off+(c.pos-r.r.Start), n)
		}
		if c.win == nil {
			c.win = c.h.DataAt(r.off+(c.pos-r.r.Start), n)
		}
		c.winAt = c.pos
		if c.win == nil {
			// The spill file failed (reassembly.Half.DataErr): what
			// could not be read is framed as missing.
			return nil, true
		}
	}
	b = c.win[c.pos-c.winAt:]
	if end := c.winAt + int64(len(c.win)); end > r.r.End {
		b = b[:r.r.End-c.pos]
	}
	return b, c.pos+int64(len(b)) == r.r.End
}

// next calls the decoder on the bytes from the cursor, widening a spilled
// direction's window while the decoder needs more than it holds. (A call
// that returned a message is never repeated: decoders keep state. So a
// decoder that frames "the bytes there are", as SSH does once its cipher
// hides packet lengths, cuts a spilled direction at the window's edges.)
func (c *dirCursor) next(dec Decoder, d reassembly.Direction, atEOF bool) (b []byte, m Message, n int, err error) {
	b, whole := c.window(0)
	for {
		m, n, err = safeNext(dec, d, b, atEOF && whole)
		if whole || !errors.Is(err, ErrNeedMore) {
			return b, m, n, err
		}
		b, whole = c.window(max(int64(n), 2*int64(len(b))))
	}
}

// resync calls the decoder's Resync on the bytes from the cursor (from
// skip bytes on), widening a spilled direction's window until it finds a
// start or reaches the end of the run.
func (c *dirCursor) resync(rs Resyncer, d reassembly.Direction, skip int) (b []byte, off int, failed string) {
	b, whole := c.window(0)
	for {
		if len(b) <= skip {
			return b, -1, ""
		}
		off, failed = safeResync(rs, d, b[skip:])
		if whole || failed != "" || off >= 0 {
			return b, off, failed
		}
		b, whole = c.window(2 * int64(len(b)))
	}
}

func (c *dirCursor) last() bool { return c.ri == len(c.runs)-1 }

// seek moves to offset pos, or to the start of the next run when pos falls in
// a gap; it reports whether bytes were skipped (a gap).
func (c *dirCursor) seek(pos int64) {
	for c.ri < len(c.runs) && c.runs[c.ri].r.End <= pos {
		c.ri++
	}
	if c.ri >= len(c.runs) {
		c.done = true
		return
	}
	c.pos = max(pos, c.runs[c.ri].r.Start)
}

// frameAt returns the frame that supplied the byte at pos.
func frameAt(h *reassembly.Half, pos int64) int {
	if i := h.ChunkAt(pos); i < h.Chunks.Len() {
		return h.Chunks.At(i).Frame
	}
	return 1 << 62
}

// stream frames both directions of a TCP stream, taking messages in the
// order their first bytes were captured, so that state one direction sets
// (an HTTP upgrade, a HEAD request) is known when the other needs it.
func (a *Analysis) stream(dec Decoder) {
	var cur [2]dirCursor
	for d := range cur {
		h := &a.Stream.Dirs[d]
		cur[d] = dirCursor{h: h, runs: runs(h), eof: h.FIN || h.RST}
		if len(cur[d].runs) == 0 {
			cur[d].done = true
		} else {
			cur[d].pos = cur[d].runs[0].r.Start
		}
	}
	for steps := 0; steps < 1<<26; steps++ {
		d := -1
		for i := range cur {
			if cur[i].done {
				continue
			}
			if d < 0 || frameAt(cur[i].h, cur[i].pos) < frameAt(cur[d].h, cur[d].pos) {
				d = i
			}
		}
		if d < 0 {
			return
		}
		a.step(reassembly.Direction(d), &cur[d], dec)
	}
}

// step decodes one message (or handles one error) in direction d.
func (a *Analysis) step(d reassembly.Direction, c *dirCursor, dec Decoder) {
	runEnd := c.runs[c.ri].r.End
	b, msg, n, err := c.next(dec, d, c.last() && c.eof)
	var fe *Error
	switch {
	case err == nil && n > 0 && n <= len(b):
		a.add(d, msg, reassembly.ByteRange{Start: c.pos, End: c.pos + int64(n)}, false)
		c.seek(c.pos + int64(n))
	case errors.Is(err, ErrNeedMore):
		if c.last() {
			m := Message{Protocol: protoOf(a.Framing), Summary: fmt.Sprintf("incomplete: %d bytes at the end of the capture", len(b))}
			if n > len(b) {
				m.Summary = fmt.Sprintf("incomplete: %d of %d bytes before the end of the capture", len(b), n)
			}
			a.add(d, m, reassembly.ByteRange{Start: c.pos, End: runEnd}, true)
			c.done = true
			return
		}
		next := c.runs[c.ri+1].r.Start
		if n > len(b) {
			// The decoder knows the message's length: it spans the gap.
			end := c.pos + int64(n)
			m := Message{Protocol: protoOf(a.Framing), Summary: fmt.Sprintf("%d-byte message with bytes [%d,%d) missing", n, runEnd, min(next, end))}
			a.add(d, m, reassembly.ByteRange{Start: c.pos, End: end}, true)
			c.seek(end)
			// The decoder may hold progress on bytes it will not see again.
			a.resync(d, c, dec, "after a gap")
			return
		}
		m := Message{Protocol: protoOf(a.Framing), Summary: fmt.Sprintf("incomplete: %d bytes before a gap of %d bytes", len(b), next-runEnd)}
		a.add(d, m, reassembly.ByteRange{Start: c.pos, End: runEnd}, true)
		c.seek(next)
		a.resync(d, c, dec, "after a gap")
	case errors.As(err, &fe):
		at := c.pos + int64(max(fe.Offset, 0))
		a.Errors[d] = append(a.Errors[d], FramingError{Dir: d, Offset: at, Protocol: fe.Protocol, Reason: fe.Reason})
		a.Stats[d].Errors++
		a.resyncFrom(d, c, dec, "framing error: "+fe.Reason)
	default:
		reason := "decoder returned an impossible length"
		if err != nil {
			reason = err.Error()
		}
		a.Errors[d] = append(a.Errors[d], FramingError{Dir: d, Offset: c.pos, Protocol: protoOf(a.Framing), Reason: reason})
		a.Stats[d].Errors++
		a.unframed(d, c, runEnd, reason)
	}
}

// resyncFrom skips from the cursor to the next plausible message start in
// this run (one byte on at least), showing the skipped bytes as unframed.
func (a *Analysis) resyncFrom(d reassembly.Direction, c *dirCursor, dec Decoder, reason string) {
	runEnd := c.runs[c.ri].r.End
	if rs, ok := dec.(Resyncer); ok {
		b, off, failed := c.resync(rs, d, 1)
		if failed != "" {
			reason += "; " + failed
		} else if off >= 0 && off+1 < len(b) {
			end := c.pos + 1 + int64(off)
			a.add(d, Message{Protocol: "unframed", Summary: reason}, reassembly.ByteRange{Start: c.pos, End: end}, false)
			c.seek(end)
			return
		}
	}
	a.unframed(d, c, runEnd, reason)
}

// resync, after a gap, skips to a plausible message start when the decoder
// can find one; otherwise decoding simply carries on.
func (a *Analysis) resync(d reassembly.Direction, c *dirCursor, dec Decoder, reason string) {
	if c.done {
		return
	}
	rs, ok := dec.(Resyncer)
	if !ok {
		return
	}
	_, off, failed := c.resync(rs, d, 0)
	switch {
	case failed != "":
		a.Errors[d] = append(a.Errors[d], FramingError{Dir: d, Offset: c.pos, Protocol: protoOf(a.Framing), Reason: failed})
		a.Stats[d].Errors++
		a.unframed(d, c, c.runs[c.ri].r.End, failed)
	case off == 0:
	case off > 0:
		end := c.pos + int64(off)
		a.add(d, Message{Protocol: "unframed", Summary: "bytes " + reason + " before the next message start"}, reassembly.ByteRange{Start: c.pos, End: end}, true)
		c.seek(end)
	default:
		a.unframed(d, c, c.runs[c.ri].r.End, "no message start found "+reason)
	}
}

func (a *Analysis) unframed(d reassembly.Direction, c *dirCursor, end int64, reason string) {
	a.add(d, Message{Protocol: "unframed", Summary: reason}, reassembly.ByteRange{Start: c.pos, End: end}, false)
	c.seek(end)
}

// safeNext contains a decoder panic to this stream: it becomes a framing error.
func safeNext(dec Decoder, d reassembly.Direction, b []byte, atEOF bool) (m Message, n int, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, n, err = Message{}, 0, &Error{Protocol: "decoder", Offset: 0, Reason: fmt.Sprintf("decoder failed: %v", r)}
		}
	}()
	return dec.Next(d, b, atEOF)
}

// safeResync contains a panic in a decoder's Resync the same way: it
// returns -1 and says what failed.
func safeResync(rs Resyncer, d reassembly.Direction, b []byte) (off int, failed string) {
	defer func() {
		if r := recover(); r != nil {
			off, failed = -1, fmt.Sprintf("decoder failed while looking for a message start: %v", r)
		}
	}()
	return rs.Resync(d, b), ""
}

func protoOf(framing string) string {
	for i := 0; i < len(framing); i++ {
		if framing[i] == ':' {
			return framing[:i]
		}
	}
	return framing
}

// add appends a message, filling the driver's fields.
func (a *Analysis) add(d reassembly.Direction, m Message, r reassembly.ByteRange, partial bool) {
	h := &a.Stream.Dirs[d]
	if a.name == "" {
		a.name = a.Stream.Name()
	}
	m.Stream = a.name
	m.Dir = d
	m.Index = a.MessageCount(d) + 1
	m.Range = r
	m.Partial = partial || r.End > h.End
	m.Frames = framesIn(h, r)
	if m.Partial {
		a.Stats[d].Partial++
	}
	if m.Role != "" {
		a.pair(d, &m)
	}
	if a.sink != nil {
		if h.Spilled() && a.ranges[d].OnDisk() == 0 {
			// A long direction: where its messages lie goes to disk too.
			reassembly.SpillRanges(&a.ranges[d])
		}
		a.ranges[d].Append(r)
		if len(m.Frames) > 1 {
			a.Stats[d].Split++
		}
		a.sink(m)
		return
	}
	a.Messages[d] = append(a.Messages[d], m)
}

// framesIn lists, ascending, the frames that supplied bytes of r.
func framesIn(h *reassembly.Half, r reassembly.ByteRange) []int {
	var out []int
	for i := h.ChunkAt(r.Start); i < h.Chunks.Len(); i++ {
		c := h.Chunks.At(i)
		if c.Range.Start >= r.End {
			break
		}
		out = append(out, c.Frame)
	}
	sort.Ints(out)
	k := 0
	for j, f := range out {
		if j == 0 || f != out[k-1] {
			out[k] = f
			k++
		}
	}
	return out[:k]
}

// rawMessages makes one message per segment (per datagram for UDP), in
// stream order: a segment that came ahead of a hole waits for the bytes
// before it, so that messages, like every framing's, go up the stream (a
// segment's message is found by its offset). Only segments waiting for a
// hole are held, never the messages.
func (a *Analysis) rawMessages(d reassembly.Direction) {
	h := &a.Stream.Dirs[d]
	// One message per segment with new bytes: sized once, as a stream of
	// a million segments would otherwise hold twice that while the slice
	// grows.
	n := 0
	for _, seg := range h.Segments.All() {
		if seg.NewBytes != 0 {
			n++
		}
	}
	if a.sink == nil {
		a.Messages[d] = slices.Grow(a.Messages[d], n)
	}
	emit := func(p rawSeg) {
		m := Message{Protocol: "raw", Summary: fmt.Sprintf("%d byte%s", p.r.Len(), plural(p.r.Len()))}
		if p.captured < p.len {
			m.Summary += fmt.Sprintf(" (%d captured: snaplen)", p.captured)
		}
		a.add(d, m, p.r, p.captured < p.len)
	}
	var ahead rawHeap       // segments that came ahead of a hole
	next, gi := int64(0), 0 // the stream offset up to which messages were made; the gaps passed
	pass := func() {        // past the gaps that start where the messages reach
		for ; gi < len(h.Gaps) && h.Gaps[gi].Range.Start <= next; gi++ {
			next = max(next, h.Gaps[gi].Range.End)
		}
	}
	for _, seg := range h.Segments.All() {
		if seg.NewBytes == 0 {
			continue
		}
		p := rawSeg{r: seg.Added, len: seg.Len, captured: seg.Captured}
		if a.Stream.Proto == capture.ProtoUDP {
			p.r = reassembly.ByteRange{Start: seg.Seq - 1, End: seg.Seq - 1 + int64(seg.Len)}
			emit(p)
			continue
		}
		heap.Push(&ahead, p)
		for pass(); ahead.Len() > 0 && ahead[0].r.Start <= next; pass() {
			q := heap.Pop(&ahead).(rawSeg)
			emit(q)
			next = max(next, q.r.End)
		}
	}
	for ahead.Len() > 0 { // ahead of bytes never captured
		emit(heap.Pop(&ahead).(rawSeg))
	}
}

// rawSeg is a segment waiting to be made a raw message; rawHeap orders
// them by stream offset.
type rawSeg struct {
	r             reassembly.ByteRange
	len, captured int
}

type rawHeap []rawSeg

func (h rawHeap) Len() int           { return len(h) }
func (h rawHeap) Less(i, j int) bool { return h[i].r.Start < h[j].r.Start }
func (h rawHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rawHeap) Push(x any)        { *h = append(*h, x.(rawSeg)) }
func (h *rawHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// datagrams frames each UDP datagram on its own: one datagram can hold
// several messages of a generic framing, never part of one.
func (a *Analysis) datagrams(d reassembly.Direction, dec Decoder) {
	h := &a.Stream.Dirs[d]
	for _, seg := range h.Segments.All() {
		start := seg.Seq - 1
		end := start + int64(seg.Captured)
		if seg.Captured < seg.Len {
			a.add(d, Message{Protocol: protoOf(a.Framing), Summary: fmt.Sprintf("datagram cut by the snaplen: %d of %d bytes", seg.Captured, seg.Len)},
				reassembly.ByteRange{Start: start, End: start + int64(seg.Len)}, true)
			continue
		}
		data := datagramBytes(h, start, end)
		for pos := 0; pos < len(data); {
			msg, n, err := safeNext(dec, d, data[pos:], true)
			if err != nil || n <= 0 || n > len(data)-pos {
				reason := "incomplete message in a datagram"
				var fe *Error
				if errors.As(err, &fe) {
					reason = "framing error: " + fe.Reason
				}
				a.Errors[d] = append(a.Errors[d], FramingError{Dir: d, Offset: start + int64(pos), Protocol: protoOf(a.Framing), Reason: reason})
				a.Stats[d].Errors++
				a.add(d, Message{Protocol: "unframed", Summary: reason}, reassembly.ByteRange{Start: start + int64(pos), End: end}, false)
				break
			}
			a.add(d, msg, reassembly.ByteRange{Start: start + int64(pos), End: start + int64(pos+n)}, false)
			pos += n
		}
	}
}

func datagramBytes(h *reassembly.Half, start, end int64) []byte {
	i := h.ChunkAt(start)
	if i == h.Chunks.Len() || h.Chunks.At(i).Range.Start > start {
		return nil
	}
	c := h.Chunks.At(i)
	return h.DataAt(c.Data+(start-c.Range.Start), end-start)
}

// mapSegments relates segments and messages and computes the statistics.
// An analysis that streamed its messages (AnalyzeTo) computes the same
// statistics and keeps no BySegment: SegmentAt works it out again.
func (a *Analysis) mapSegments(d reassembly.Direction) {
	h := &a.Stream.Dirs[d]
	st := &a.Stats[d]
	st.Messages = a.MessageCount(d)
	if a.sink == nil {
		for _, m := range a.Messages[d] {
			if len(m.Frames) > 1 {
				st.Split++
			}
		}
		a.BySegment[d] = make([]SegmentMessages, h.Segments.Len())
	}
	for i, seg := range h.Segments.All() {
		sm := a.segmentMessages(d, seg)
		if seg.NewBytes > 0 {
			st.Segments++
			if len(sm.Carries) > 1 {
				st.Multi++
			}
			if len(sm.Carries) == 1 && a.MessageRange(d, sm.Carries[0]) == seg.Added && seg.NewBytes == seg.Added.Len() {
				st.Exact++
			}
		}
		if a.sink == nil {
			a.BySegment[d][i] = sm
		}
	}
}

// segmentMessages works out which messages a segment carries: those that
// overlap the bytes it added to the stream (captured or not), or, for a
// TCP segment that added none, those its bytes were sent again for.
func (a *Analysis) segmentMessages(d reassembly.Direction, seg *reassembly.Segment) SegmentMessages {
	n := a.MessageCount(d)
	overlapping := func(r reassembly.ByteRange) []int {
		var i int
		if a.sink != nil {
			i = a.ranges[d].Search(func(m *reassembly.ByteRange) bool { return m.End > r.Start })
		} else {
			i = sort.Search(n, func(i int) bool { return a.Messages[d][i].Range.End > r.Start })
		}
		var out []int
		for ; i < n && a.MessageRange(d, i).Start < r.End; i++ {
			out = append(out, i)
		}
		return out
	}
	var sm SegmentMessages
	if seg.NewBytes > 0 {
		sm.Carries = overlapping(seg.Added)
	} else if seg.Len > 0 && a.Stream.Proto == capture.ProtoTCP {
		sm.Resends = overlapping(reassembly.ByteRange{Start: seg.Seq - 1, End: seg.Seq - 1 + int64(seg.Len)})
	}
	return sm
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}
