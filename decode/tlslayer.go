package decode

import (
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
}

// AnalyzeTLS decrypts a kept TCP stream with keys and frames what the TLS
// records carry (spec: the inner --framing; "" or "auto" takes ALPN, then
// Detect). It returns nil when the stream does not start as TLS.
func AnalyzeTLS(s *reassembly.Stream, keys *tlsdec.KeyLog, spec string) (*TLSLayer, error) {
	if s.Proto != capture.ProtoTCP || keys == nil || !startsTLS(s) {
		return nil, nil
	}
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
	feedInOrder(s, sess)
	sess.Close()
	l.Info = sess.Info()
	outer, err := Analyze(s, "tls")
	if err != nil {
		return nil, err
	}
	outer.Reason = "first bytes are a TLS handshake record; decrypted with the key log"
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
		}
	}
	a, err := Analyze(inner, spec)
	if err != nil {
		return nil, err
	}
	if l.Info.ALPN != "" && a.Reason == "chosen with --framing" {
		a.Reason = "ALPN " + l.Info.ALPN
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
// were sent in), gaps as gaps.
func feedInOrder(s *reassembly.Stream, sess *tlsdec.Session) {
	type piece struct {
		d     reassembly.Direction
		r     reassembly.ByteRange
		data  int64 // offset in Half.Data; -1 for a gap
		frame int
	}
	var ps []piece
	for d := range s.Dirs {
		h := &s.Dirs[d]
		pos := int64(0)
		for _, c := range h.Chunks {
			if c.Range.Start > pos {
				ps = append(ps, piece{reassembly.Direction(d), reassembly.ByteRange{Start: pos, End: c.Range.Start}, -1, c.Frame})
			}
			ps = append(ps, piece{reassembly.Direction(d), c.Range, c.Data, c.Frame})
			pos = c.Range.End
		}
	}
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].frame < ps[j].frame })
	// Within a direction the pieces must stay in stream order.
	var next [2]int64
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
			h.Chunks = append(h.Chunks, reassembly.Chunk{Range: r.App, Data: r.App.Start, Frame: last})
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
	if b == nil {
		if ps.tls {
			ps.sess.Gap(d, r.Len())
		}
		return
	}
	t.pass(s, ps, d, b)
}

func (t *TLSPlain) pass(s *reassembly.Stream, ps *plainState, d reassembly.Direction, b []byte) {
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
