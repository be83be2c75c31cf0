package decode

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/reassembly"
)

// The TLS layer sits between a stream's TCP bytes and the framing of what
// they carry: with a key log it decrypts the records and frames the
// application data inside (the protocol ALPN names, else auto), and maps
// every inner message onto the records and the TCP segments that carried it.

// TLSRecord is one TLS record of a stream, as the layer saw it.
type TLSRecord struct {
	Dir       reassembly.Direction
	N         int                  // 1-based within its direction
	Range     reassembly.ByteRange // in the direction's TCP stream, header included
	Type      string               // outer content type: "handshake", "application_data"...
	Inner     string               // real content type once decrypted (TLS 1.3), else Type
	Decrypted bool
	Plain     int                  // plaintext bytes (decrypted, or sent in the clear)
	App       reassembly.ByteRange // its plaintext in the decrypted application data ([0,0) when none)
	Frames    []int                // TCP frames that carried it
	Err       string               // why it could not be decrypted ("" when it was, or needed no key)
	Reason    tlsdec.Reason        // Err's class (0 when Err is "")
}

// newTLSRecord is r as the layer keeps it, carried by frames.
func newTLSRecord(r *tlsdec.Record, frames []int) TLSRecord {
	rec := TLSRecord{Dir: r.Dir & 1, N: r.N, Range: r.Range, Type: r.Type.String(), Inner: r.Inner.String(), Decrypted: r.Decrypted,
		Frames: frames, Plain: len(r.Plaintext)}
	if r.Inner == 0 {
		rec.Inner = ""
	}
	if r.Err != nil {
		rec.Err = r.Err.Error()
		var de *tlsdec.DecryptError
		if errors.As(r.Err, &de) {
			rec.Reason = de.Reason
		}
	}
	if r.AppOffset >= 0 && r.Decrypted {
		rec.App = reassembly.ByteRange{Start: r.AppOffset, End: r.AppOffset + int64(len(r.Plaintext))}
	}
	return rec
}

// TLSLayer is the decryption of one stream.
type TLSLayer struct {
	// Outer is the stream framed as TLS records: the segments ↔ records
	// layer.
	Outer   *Analysis
	Info    tlsdec.Info
	Records [2][]TLSRecord
	// Decrypted counts records decrypted and Failed those that could not
	// be, per direction; Reason says why the first failure happened.
	Decrypted, Failed [2]int
	Reason            string
	// Inner is the framing of the decrypted application data, on a stream
	// whose "segments" are the records; nil when nothing was decrypted.
	// Its messages' Frames are TCP frames (of the records they span).
	Inner *Analysis
	// MsgRecords[d][i] lists the record numbers inner message i spans.
	MsgRecords [2][][]int
	// After, for a stream that switched to TLS after cleartext (STARTTLS,
	// STLS, AUTH TLS, PostgreSQL's SSLRequest), names the framing of the
	// cleartext ("imap"); Outer is then that framing, whose messages are
	// TLS records from Switch[d], the offset of direction d's first record
	// (-1 when that direction never switched). "" and Switch zero for a
	// stream that starts with TLS.
	After  string
	Switch [2]int64
}

// AnalyzeTLS decrypts a kept TCP stream with keys and frames what the TLS
// records carry (spec: the inner --framing; "" or "auto" takes ALPN, then
// Detect). It returns nil when the stream does not start as TLS.
//
// A stream that switches to TLS after cleartext (its framing, spec or
// auto, turns to TLS records: STARTTLS, STLS, AUTH TLS, SSLRequest) is
// decrypted from the switch on, and what is inside is framed as the
// cleartext was (IMAP after STARTTLS is still IMAP) unless ALPN names the
// protocol (a CONNECT tunnel's h2) or spec names a framing.
func AnalyzeTLS(s *reassembly.Stream, keys *tlsdec.KeyLog, spec string) (*TLSLayer, error) {
	if s.Proto != capture.ProtoTCP || keys == nil {
		return nil, nil
	}
	if !startsTLS(s) {
		return analyzeSwitchedTLS(s, keys, spec)
	}
	return analyzeTLS(s, keys, spec, nil)
}

// analyzeSwitchedTLS is AnalyzeTLS for a stream that does not start with
// TLS: nil when its framing never switches to TLS records.
func analyzeSwitchedTLS(s *reassembly.Stream, keys *tlsdec.KeyLog, spec string) (*TLSLayer, error) {
	if !hasClientHello(firstBytes(&s.Dirs[0], switchLook)) {
		return nil, nil // no ClientHello early on: no need to frame the stream to know
	}
	if spec == "" {
		spec = "auto"
	}
	clear, err := Analyze(s, spec)
	if err != nil {
		return nil, err
	}
	sw := [2]int64{-1, -1}
	found := false
	for d := range clear.Messages {
		for _, m := range clear.Messages[d] {
			if m.Protocol == "tls" {
				sw[d], found = m.Range.Start, true
				break
			}
		}
	}
	if !found || clear.Framing == "tls" {
		return nil, nil
	}
	return analyzeTLS(s, keys, spec, &switched{clear: clear, at: sw})
}

// switchLook is how far into the client's bytes a switch to TLS is looked
// for: STARTTLS and its kin come in a session's first exchanges.
const switchLook = 1 << 20

// hasClientHello says b holds what looks like the header of a TLS
// handshake record carrying a ClientHello.
func hasClientHello(b []byte) bool {
	for {
		i := bytes.Index(b, []byte{0x16, 0x03})
		if i < 0 || i+6 > len(b) {
			return false
		}
		if b[i+2] <= 0x04 && b[i+5] == 0x01 {
			return true
		}
		b = b[i+1:]
	}
}

// switched is a stream's cleartext framing and where each direction's TLS
// begins.
type switched struct {
	clear *Analysis
	at    [2]int64
}

func analyzeTLS(s *reassembly.Stream, keys *tlsdec.KeyLog, spec string, sw *switched) (*TLSLayer, error) {
	l := &TLSLayer{}
	var plain [2][]byte
	sess := tlsdec.NewSession(tlsdec.Config{Keys: keys, MaxWaiting: 1 << 30, OnRecord: func(r *tlsdec.Record) {
		d := r.Dir & 1
		rec := newTLSRecord(r, framesIn(&s.Dirs[d], r.Range))
		if r.Err != nil {
			l.Failed[d]++
			if l.Reason == "" {
				l.Reason = rec.Err
			}
		} else if r.Decrypted {
			l.Decrypted[d]++
		}
		if r.AppOffset >= 0 && r.Decrypted {
			plain[d] = append(plain[d], r.Plaintext...)
		}
		l.Records[d] = append(l.Records[d], rec)
	}})
	var from [2]int64
	var outer *Analysis
	if sw != nil {
		from, outer = sw.at, sw.clear
		l.After, l.Switch = sw.clear.Framing, sw.at
		for d := range from {
			if from[d] >= 0 {
				sess.StartAt(reassembly.Direction(d), from[d])
			}
		}
	}
	feedInOrder(s, sess, from)
	sess.Close()
	l.Info = sess.Info()
	if outer == nil {
		var err error
		if outer, err = Analyze(s, "tls"); err != nil {
			return nil, err
		}
		outer.Reason = "first bytes are a TLS handshake record; decrypted with the key log"
	}
	// Say what each encrypted record turned out to hold.
	for d := range outer.Messages {
		recs := l.Records[d]
		for i := range outer.Messages[d] {
			m := &outer.Messages[d][i]
			j := sort.Search(len(recs), func(j int) bool { return recs[j].Range.Start >= m.Range.Start })
			if j == len(recs) || recs[j].Range != m.Range {
				continue
			}
			switch r := recs[j]; {
			case r.Decrypted:
				m.Summary += fmt.Sprintf(" → %s %s", r.Inner, specSize(int64(r.Plain)))
			case r.Err != "":
				m.Summary += " → not decrypted"
			}
		}
	}
	if sw != nil {
		// Records are numbered as the outer framing's messages, which
		// count the cleartext ones before the switch.
		for d := range l.Records {
			for i := range l.Records[d] {
				r := &l.Records[d][i]
				ms := outer.Messages[d]
				k := sort.Search(len(ms), func(k int) bool { return ms[k].Range.Start >= r.Range.Start })
				if k < len(ms) && ms[k].Range.Start == r.Range.Start {
					r.N = ms[k].Index
				}
			}
		}
	}
	l.Outer = outer
	if len(plain[0])+len(plain[1]) == 0 {
		return l, nil
	}
	inner := plainStream(s, l, plain)
	if spec == "" || spec == "auto" {
		switch l.Info.ALPN {
		case "h2":
			spec = h2Framing(plain[0], plain[1])
		case "http/1.1", "http/1.0":
			spec = "http1"
		default:
			spec = "auto"
			if sw != nil {
				spec = sw.clear.Framing // IMAP after STARTTLS is still IMAP
			}
		}
	}
	a, err := analyze(inner, spec, sw != nil)
	if err != nil {
		return nil, err
	}
	switch {
	case l.Info.ALPN != "" && a.Reason == "chosen with --framing":
		a.Reason = "ALPN " + l.Info.ALPN
	case sw != nil && a.Reason == "chosen with --framing" && spec == sw.clear.Framing:
		a.Reason = "as in the clear before the switch"
		if c := sw.at[0]; c > 0 {
			if ms := sw.clear.Messages[0]; len(ms) > 0 {
				k := sort.Search(len(ms), func(k int) bool { return ms[k].Range.Start >= c })
				if k > 0 {
					a.Reason += " (" + ms[k-1].Summary + ")"
				}
			}
		}
	}
	for d := range a.Messages {
		recs := l.appRecords(reassembly.Direction(d))
		l.MsgRecords[d] = make([][]int, len(a.Messages[d]))
		for i := range a.Messages[d] {
			m := &a.Messages[d][i]
			var frames []int
			for _, r := range recs {
				if r.App.Start < m.Range.End && m.Range.Start < r.App.End {
					l.MsgRecords[d][i] = append(l.MsgRecords[d][i], r.N)
					frames = append(frames, r.Frames...)
				}
			}
			slices.Sort(frames)
			m.Frames = slices.Compact(frames)
		}
	}
	l.Inner = a
	return l, nil
}

// appRecords are the records of direction d that carried application data.
func (l *TLSLayer) appRecords(d reassembly.Direction) []TLSRecord {
	var out []TLSRecord
	for _, r := range l.Records[d] {
		if r.App.Len() > 0 {
			out = append(out, r)
		}
	}
	return out
}

// startsTLS says the stream's first bytes, in either direction, are a TLS
// handshake record.
func startsTLS(s *reassembly.Stream) bool {
	for d := range s.Dirs {
		if b := firstBytes(&s.Dirs[d], 16); len(b) >= tlsHeaderLen {
			return detectTLSRecord(b)
		}
	}
	return false
}

// feedInOrder gives a kept stream's bytes to sess run by run, both
// directions interleaved by the frames that supplied them (the order they
// were sent in), gaps as gaps: direction d's from offset from[d] on (none
// of it when from[d] < 0).
func feedInOrder(s *reassembly.Stream, sess *tlsdec.Session, from [2]int64) {
	type piece struct {
		d     reassembly.Direction
		r     reassembly.ByteRange
		data  int64 // offset in Half.Data; -1 for a gap
		frame int
	}
	var ps []piece
	for d := range s.Dirs {
		if from[d] < 0 {
			continue
		}
		h := &s.Dirs[d]
		pos := int64(0)
		add := func(r reassembly.ByteRange, data int64, frame int) {
			if r.End <= from[d] {
				return
			}
			if r.Start < from[d] {
				if data >= 0 {
					data += from[d] - r.Start
				}
				r.Start = from[d]
			}
			ps = append(ps, piece{reassembly.Direction(d), r, data, frame})
		}
		for _, c := range h.Chunks.All() {
			if c.Range.Start > pos {
				add(reassembly.ByteRange{Start: pos, End: c.Range.Start}, -1, c.Frame)
			}
			add(c.Range, c.Data, c.Frame)
			pos = c.Range.End
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].frame < ps[j].frame })
	// Within a direction the pieces must stay in stream order.
	next := [2]int64{max(from[0], 0), max(from[1], 0)}
	var held [2][]piece
	flush := func(d reassembly.Direction) {
		for {
			i := slices.IndexFunc(held[d], func(p piece) bool { return p.r.Start == next[d] })
			if i < 0 {
				return
			}
			p := held[d][i]
			held[d] = slices.Delete(held[d], i, i+1)
			if p.data < 0 {
				sess.Gap(d, p.r.Len())
			} else {
				sess.Feed(d, s.Dirs[d].DataAt(p.data, p.r.Len()))
			}
			next[d] = p.r.End
		}
	}
	for _, p := range ps {
		held[p.d] = append(held[p.d], p)
		flush(p.d)
	}
	for d := range held {
		flush(reassembly.Direction(d))
	}
}

// plainStream is the decrypted application data of s as a stream of its
// own, each record one "segment", for Analyze.
func plainStream(s *reassembly.Stream, l *TLSLayer, plain [2][]byte) *reassembly.Stream {
	v := &reassembly.Stream{ID: s.ID, Proto: s.Proto, Client: s.Client, Server: s.Server, Start: s.Start, End: s.End,
		State: s.State, KeptData: true}
	for d := range v.Dirs {
		h, th := &v.Dirs[d], &s.Dirs[d]
		h.Data, h.FIN, h.RST, h.SYN = plain[d], th.FIN, th.RST, th.SYN
		for _, r := range l.appRecords(reassembly.Direction(d)) {
			last := 0
			if len(r.Frames) > 0 {
				last = r.Frames[len(r.Frames)-1]
			}
			h.Chunks.Append(reassembly.Chunk{Range: r.App, Data: r.App.Start, Frame: last})
			h.Segments.Append(reassembly.Segment{Frame: last, Seq: r.App.Start + 1, Len: int(r.App.Len()), Captured: int(r.App.Len()),
				Added: r.App, NewBytes: r.App.Len(), Dir: reassembly.Direction(d), Kind: reassembly.KindNew})
			h.Bytes += r.App.Len()
			h.Packets++
		}
		h.End = int64(len(plain[d]))
		h.Captured = h.End
	}
	return v
}

// TLSPlain decrypts the TLS of followed streams as their bytes arrive
// (reassembly.Options.OnData) and hands on the decrypted application data:
// follow --format raw with keys.
type TLSPlain struct {
	keys     *tlsdec.KeyLog
	onPlain  func(s *reassembly.Stream, d reassembly.Direction, b []byte)
	sessions map[int]*plainState
	// Refresh, when set, is called before a stream's first bytes and when
	// a record finds no key: a live key log re-read as it grows.
	Refresh func()
	// Auto passes a TLS stream through undecrypted when no key at all is
	// known by its first bytes (follow --layer auto without a key log).
	Auto bool
}

type plainState struct {
	sess      *tlsdec.Session
	tls       bool // the stream starts with a TLS record
	decided   bool
	first     [2][]byte // bytes held until the first record header says TLS or not
	decrypted int
	failed    int
	reason    string
	watch     *switchWatch // a stream not starting with TLS, with keys: watched for a switch to TLS
}

// switchWatch frames a cleartext stream (a Streamer, auto) to find where
// it switches to TLS (STARTTLS, STLS, AUTH TLS, SSLRequest, CONNECT): the
// bytes of complete cleartext messages go on as they are; from the first
// TLS record of a direction on, its bytes are decrypted. Bytes of a
// message not yet complete are held (at most switchHold per direction).
type switchWatch struct {
	st   *Streamer
	held [2][]byte
	base [2]int64 // stream offset of held[d][0]
	next [2]int64 // stream offset of the next byte
	at   [2]int64 // where direction d's TLS begins; -1 until it does
	done bool     // stopped watching: everything passes through
}

// switchHold bounds the bytes a switchWatch holds per direction before it
// gives up and passes the stream through.
const switchHold = 1 << 20

// switchFramings are the framings that turn to TLS records mid-stream.
var switchFramings = map[string]bool{"smtp": true, "ftp": true, "pop3": true, "imap": true, "pgsql": true, "http1": true}

func (t *TLSPlain) newWatch(s *reassembly.Stream, ps *plainState) *switchWatch {
	w := &switchWatch{at: [2]int64{-1, -1}}
	st, err := NewStreamer(StreamerOptions{Framing: "auto", MaxBuffer: switchHold, OnMessage: func(s *reassembly.Stream, m *Message) {
		d := m.Dir & 1
		if w.done || w.at[d] >= 0 {
			return
		}
		if m.Protocol != "tls" {
			w.release(t, s, d, m.Range.End)
			return
		}
		w.at[d] = m.Range.Start
		w.release(t, s, d, m.Range.Start)
		ps.tls = true
		ps.sess.StartAt(d, m.Range.Start)
		if rest := w.held[d]; len(rest) > 0 {
			w.held[d] = nil
			ps.sess.Feed(d, rest)
		}
	}})
	if err != nil {
		return nil
	}
	w.st = st
	return w
}

// release passes direction d's held bytes before offset end on as they are.
func (w *switchWatch) release(t *TLSPlain, s *reassembly.Stream, d reassembly.Direction, end int64) {
	n := min(max(end-w.base[d], 0), int64(len(w.held[d])))
	if n > 0 {
		t.onPlain(s, d, w.held[d][:n])
		w.held[d] = w.held[d][n:]
		w.base[d] += n
	}
	if len(w.held[d]) == 0 {
		w.held[d] = nil
	}
}

// stop passes everything held on and watches no more.
func (w *switchWatch) stop(t *TLSPlain, s *reassembly.Stream) {
	if w.done {
		return
	}
	w.done = true
	for d := range w.held {
		if w.at[d] < 0 {
			w.release(t, s, reassembly.Direction(d), w.base[d]+int64(len(w.held[d])))
		}
	}
}

// data takes direction d's next bytes (a gap when b is nil).
func (w *switchWatch) data(t *TLSPlain, s *reassembly.Stream, ps *plainState, d reassembly.Direction, n int64, b []byte) {
	r := reassembly.ByteRange{Start: w.next[d], End: w.next[d] + n}
	w.next[d] = r.End
	switch {
	case w.at[d] >= 0:
		if b == nil {
			ps.sess.Gap(d, n)
		} else {
			ps.sess.Feed(d, b)
		}
		return
	case w.done:
		if b != nil {
			t.onPlain(s, d, b)
		}
		return
	case b == nil:
		w.stop(t, s) // a gap: the framing is lost; what follows passes through
		return
	}
	if len(w.held[d]) == 0 {
		w.base[d] = r.Start
	}
	w.held[d] = append(w.held[d], b...)
	w.st.Data(s, d, r, b, 0)
	if f := w.st.Framing(s); f != "" && !switchFramings[f] || len(w.held[d]) > switchHold {
		w.stop(t, s)
	}
}

// NewTLSPlain returns a TLSPlain that gives each stream's decrypted bytes
// to onPlain; streams that are not TLS pass their bytes through unchanged.
func NewTLSPlain(keys *tlsdec.KeyLog, onPlain func(s *reassembly.Stream, d reassembly.Direction, b []byte)) *TLSPlain {
	return &TLSPlain{keys: keys, onPlain: onPlain, sessions: map[int]*plainState{}}
}

// Data takes a stream's in-order bytes (a gap when b is nil).
func (t *TLSPlain) Data(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, _ int) {
	ps := t.sessions[s.ID]
	if ps == nil {
		if t.Refresh != nil {
			t.Refresh()
		}
		ps = &plainState{}
		ps.sess = tlsdec.NewSession(tlsdec.Config{Keys: t.keys, Refresh: t.Refresh, OnRecord: func(rec *tlsdec.Record) {
			switch {
			case rec.Err != nil:
				ps.failed++
				if ps.reason == "" {
					ps.reason = rec.Err.Error()
				}
				var de *tlsdec.DecryptError
				if errors.As(rec.Err, &de) && de.Reason == tlsdec.NoKey && t.Refresh != nil {
					t.Refresh()
				}
			case rec.Decrypted && rec.AppOffset >= 0:
				ps.decrypted++
				t.onPlain(s, rec.Dir&1, rec.Plaintext)
			case rec.Decrypted:
				ps.decrypted++
			}
		}})
		t.sessions[s.ID] = ps
	}
	if !ps.decided {
		// Hold the first bytes until a record header's worth says whether
		// the stream is TLS.
		if b != nil {
			ps.first[d] = append(ps.first[d], b...)
		}
		if b != nil && len(ps.first[d]) < tlsHeaderLen {
			return
		}
		ps.decided, ps.tls = true, b != nil && detectTLSRecord(ps.first[d]) && !(t.Auto && t.keys.Len() == 0)
		if !ps.tls && t.keys.Len() > 0 {
			ps.watch = t.newWatch(s, ps)
		}
		held := ps.first
		ps.first = [2][]byte{}
		for hd := range held {
			if len(held[hd]) > 0 {
				t.pass(s, ps, reassembly.Direction(hd), held[hd])
			}
		}
		if b != nil {
			return
		}
	}
	if ps.watch != nil {
		ps.watch.data(t, s, ps, d, r.Len(), b)
		return
	}
	if b == nil {
		if ps.tls {
			ps.sess.Gap(d, r.Len())
		}
		return
	}
	t.pass(s, ps, d, b)
}

func (t *TLSPlain) pass(s *reassembly.Stream, ps *plainState, d reassembly.Direction, b []byte) {
	if ps.watch != nil {
		ps.watch.data(t, s, ps, d, int64(len(b)), b)
		return
	}
	if ps.tls {
		ps.sess.Feed(d, b)
	} else {
		t.onPlain(s, d, b)
	}
}

// End says what became of stream s: an error when it was TLS and nothing
// of it could be decrypted, with the reason.
func (t *TLSPlain) End(s *reassembly.Stream) error {
	ps := t.sessions[s.ID]
	if ps == nil {
		return nil
	}
	for d, b := range ps.first {
		if !ps.decided && len(b) > 0 {
			t.onPlain(s, reassembly.Direction(d), b) // fewer bytes than a record header: not TLS
		}
	}
	if w := ps.watch; w != nil {
		w.st.End(s)
		w.stop(t, s)
	}
	ps.sess.Close()
	delete(t.sessions, s.ID)
	if ps.tls && ps.decrypted == 0 {
		why := ps.reason
		if why == "" {
			why = "no encrypted record was seen"
		}
		return fmt.Errorf("%s: no TLS record could be decrypted (%s); --layer tcp writes the TCP bytes", s.Name(), why)
	}
	return nil
}
