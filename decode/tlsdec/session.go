package tlsdec

import (
	"bytes"
	"fmt"

	"github.com/sockscope/sockscope/reassembly"
)

const (
	headerLen = 5
	// MaxRecordLen is the largest record body TLS allows on the wire
	// (RFC 5246 §6.2.3: 2^14 + 2048). A longer length field means the bytes
	// are not TLS or the stream lost sync.
	MaxRecordLen = 1<<14 + 2048
	// DefaultMaxWaiting bounds, per direction, the complete records a
	// Session holds while it waits for the other direction's hello (see
	// Config.MaxWaiting).
	DefaultMaxWaiting = 64 << 10
)

// Config configures a Session.
type Config struct {
	// Keys is the key log secrets are looked up in. It is consulted each
	// time a key is needed and not yet known, so keys added later (a live
	// key log, FileTail) apply to the records that follow. Nil: no keys.
	Keys *KeyLog
	// OnRecord receives every record, in order within each direction. The
	// Record and its Plaintext are valid only during the call, which must
	// not call the Session's Feed, Gap or Close (Info is fine).
	OnRecord func(*Record)
	// MaxWaiting bounds the bytes of complete records held per direction
	// while the other direction's hello, which the keys depend on, has not
	// been fed yet (a driver feeding one whole direction first, 0-RTT data
	// sent before the ServerHello). Past it the held records are reported
	// without decryption (NoHandshake). 0 means DefaultMaxWaiting.
	MaxWaiting int
	// Refresh, when set, is called when a record needs a secret Keys does
	// not hold, and the lookup is tried once more before the record is
	// given up (NoKey): a live capture re-reads a key log file that the
	// client appends to during the connection (FileTail.Refresh), so a
	// record that arrives just after the client logged its secret still
	// decrypts. It must not call the Session.
	Refresh func()
}

// Info is what the Session learnt from the handshake. It holds no key material.
type Info struct {
	HaveClientHello, HaveServerHello bool
	// Version is the negotiated version (supported_versions for TLS 1.3):
	// 0x0303 TLS 1.2, 0x0304 TLS 1.3; 0 before the ServerHello.
	Version uint16
	// Suite is the negotiated cipher suite (see SuiteName, SuiteSupported).
	Suite                      uint16
	ClientRandom, ServerRandom Random
	// SNI is the ClientHello's server_name, if any.
	SNI string
	// OfferedSuites and OfferedALPN are what the (last) ClientHello offered.
	OfferedSuites []uint16
	OfferedALPN   []string
	// ALPN is the negotiated application protocol ("h2", "http/1.1"):
	// from the ServerHello (TLS 1.2) or EncryptedExtensions (TLS 1.3,
	// known once that record is decrypted). Empty if none was negotiated.
	ALPN string
	// HelloRetry says the server sent a HelloRetryRequest.
	HelloRetry bool
	// ExtendedMasterSecret and EncryptThenMAC say the server agreed to
	// them (TLS 1.2). With a CLIENT_RANDOM key log line the master secret
	// is given directly, so EMS changes nothing for decryption.
	ExtendedMasterSecret, EncryptThenMAC bool
	// Resumed says the handshake resumed a session: TLS 1.2 abbreviated
	// handshake (session ID or ticket), TLS 1.3 PSK.
	Resumed bool
	// EarlyDataOffered says the client offered 0-RTT data; EarlyDataAccepted
	// that the server's EncryptedExtensions accepted it.
	EarlyDataOffered, EarlyDataAccepted bool
	// KeyUpdates counts the TLS 1.3 key updates applied per direction: a
	// KeyUpdate message decrypted, or inferred when its record was damaged
	// and the next record opened under the next key.
	KeyUpdates [2]int
}

// phase13 is which TLS 1.3 traffic key protects a direction's records.
type phase13 uint8

const (
	phasePlain phase13 = iota
	phaseEarly
	phaseHandshake
	phaseApp
)

// half is the state of one direction.
type half struct {
	dir  reassembly.Direction
	off  int64  // stream offset of the next byte fed
	buf  []byte // the incomplete record, header included (at most one)
	n    int    // records reported
	app  int64  // decrypted application data bytes so far
	dead error  // record sync lost: later bytes are counted, not decoded
	hs   hsReader

	wait      [][]byte // complete records waiting for the peer's hello
	waitStart []int64
	waitBytes int
	gaveUp    bool

	// TLS 1.2: records are protected after this direction's ChangeCipherSpec.
	enc bool
	seq uint64
	c12 recordCipher

	// TLS 1.3.
	phase      phase13
	seq13      [4]uint64
	c13        [4]recordCipher
	appSecret  []byte       // current application traffic secret (KeyUpdate); key material
	nextC      recordCipher // the next generation's cipher, once derived
	nextSecret []byte       // its secret; key material

	toApp, toHandshake, keyUpdate bool // key changes due after this record
	sawServerHelloDone            bool
}

// Session decrypts the TLS records of one TCP connection. Feed it each
// direction's bytes in order as they arrive, in any chunks; it calls
// Config.OnRecord once per record. It is not safe for concurrent use (one
// Session per stream, fed from one goroutine). It never panics on any input.
//
// Memory: at most one incomplete record per direction (5 + MaxRecordLen
// bytes), one record of plaintext, and up to MaxWaiting bytes of records
// waiting for the other direction's hello; buffers grow to the records
// seen, so a connection of small records holds small buffers.
type Session struct {
	cfg  Config
	h    [2]half
	info Info
	ch   clientHello
	sh   serverHello
	out  []byte // plaintext of the record being reported (grown to the largest record)
	rec  Record
}

// NewSession returns a Session for one TCP connection.
func NewSession(cfg Config) *Session {
	if cfg.MaxWaiting <= 0 {
		cfg.MaxWaiting = DefaultMaxWaiting
	}
	s := &Session{cfg: cfg}
	for d := range s.h {
		h := &s.h[d]
		h.dir = reassembly.Direction(d)
		h.hs.onMsg = func(typ uint8, body []byte) { s.handshake(h, typ, body) }
	}
	return s
}

// Info returns what the handshake has shown so far.
func (s *Session) Info() Info {
	i := s.info
	i.OfferedSuites = append([]uint16(nil), i.OfferedSuites...)
	i.OfferedALPN = append([]string(nil), i.OfferedALPN...)
	return i
}

// Err returns why direction d stopped being decoded (a malformed record, a
// gap), or nil.
func (s *Session) Err(d reassembly.Direction) error {
	if d > 1 {
		return nil
	}
	return s.h[d].dead
}

// Offset returns the stream offset of direction d's next byte: how many
// bytes have been fed (gaps included), after the StartAt offset.
func (s *Session) Offset(d reassembly.Direction) int64 {
	if d > 1 {
		return 0
	}
	return s.h[d].off
}

// StartAt says direction d's TLS begins at offset off of its TCP stream:
// the bytes before it (cleartext before a STARTTLS, a PostgreSQL
// SSLRequest) are not fed, and records' ranges count from the stream's
// start. It applies only before d's first Feed or Gap.
func (s *Session) StartAt(d reassembly.Direction, off int64) {
	if d > 1 || off < 0 || s.h[d].off != 0 || len(s.h[d].buf) > 0 {
		return
	}
	s.h[d].off = off
}

// Feed gives the Session the next bytes of direction d. b is not retained.
func (s *Session) Feed(d reassembly.Direction, b []byte) {
	if d > 1 {
		return
	}
	h := &s.h[d]
	for len(b) > 0 {
		if h.dead != nil {
			h.off += int64(len(b))
			return
		}
		if len(h.buf) == 0 && len(b) >= headerLen {
			n, ok := s.header(h, b, h.off)
			if !ok {
				continue
			}
			if len(b) >= headerLen+n {
				rec := b[:headerLen+n]
				start := h.off
				h.off += int64(len(rec))
				b = b[len(rec):]
				s.record(h, rec, start)
				continue
			}
		}
		want := headerLen // bytes of the record to hold: its header, then all of it
		if len(h.buf) >= headerLen {
			n, ok := s.header(h, h.buf, h.off-int64(len(h.buf)))
			if !ok {
				continue
			}
			want = headerLen + n
		}
		if cap(h.buf) < want {
			// Grow to this record's size only: a session with small records
			// holds small buffers; none exceeds headerLen + MaxRecordLen.
			nb := make([]byte, len(h.buf), max(want, 64))
			copy(nb, h.buf)
			h.buf = nb
		}
		take := min(want-len(h.buf), len(b))
		h.buf = append(h.buf, b[:take]...)
		b = b[take:]
		h.off += int64(take)
		if len(h.buf) < headerLen {
			continue
		}
		n, ok := s.header(h, h.buf, h.off-int64(len(h.buf)))
		if !ok {
			continue
		}
		if len(h.buf) == headerLen+n {
			start := h.off - int64(len(h.buf))
			s.record(h, h.buf, start)
			h.buf = h.buf[:0]
		}
	}
}

// header checks a record header at the start of b (at stream offset start)
// and returns the body length. A bad header ends the direction (the bytes
// are not TLS, or sync was lost): it is reported as a Malformed record and
// ok is false.
func (s *Session) header(h *half, b []byte, start int64) (int, bool) {
	typ, major := b[0], b[1]
	n := int(b[3])<<8 | int(b[4])
	var detail string
	switch {
	case typ < 20 || typ > 24:
		detail = fmt.Sprintf("content type %d is not TLS", typ)
	case major != 3 || b[2] > 4:
		detail = fmt.Sprintf("record version 0x%02x%02x is not TLS", b[1], b[2])
	case n > MaxRecordLen:
		detail = fmt.Sprintf("length %d exceeds the maximum %d", n, MaxRecordLen)
	default:
		return n, true
	}
	h.n++
	err := &DecryptError{Reason: Malformed, Record: h.n, Detail: detail}
	h.dead = err
	h.buf = h.buf[:0]
	s.emit(Record{Dir: h.dir, N: h.n, Range: reassembly.ByteRange{Start: start, End: start + headerLen},
		Type: ContentType(typ), Version: uint16(b[1])<<8 | uint16(b[2]), AppOffset: -1, Err: err})
	return 0, false
}

// Gap says n bytes of direction d are missing from the capture. Record
// boundaries are lost with them, so the direction is not decoded further
// (its bytes are still counted); an incomplete record is reported as Lost.
func (s *Session) Gap(d reassembly.Direction, n int64) {
	if d > 1 || n <= 0 {
		return
	}
	h := &s.h[d]
	if h.dead == nil {
		s.giveUp(h)
		h.n++
		err := &DecryptError{Reason: Lost, Record: h.n}
		h.dead = err
		start := h.off - int64(len(h.buf))
		r := Record{Dir: h.dir, N: h.n, Range: reassembly.ByteRange{Start: start, End: h.off + n}, AppOffset: -1, Err: err}
		if len(h.buf) > 0 {
			r.Type = ContentType(h.buf[0])
		}
		if len(h.buf) >= 3 {
			r.Version = uint16(h.buf[1])<<8 | uint16(h.buf[2])
		}
		h.buf = h.buf[:0]
		s.emit(r)
	}
	h.off += n
}

// Close ends the connection: records still waiting for a hello are reported
// (NoHandshake), and an incomplete record as Truncated. The buffers are
// released; Info stays available.
func (s *Session) Close() {
	for d := range s.h {
		h := &s.h[d]
		s.giveUp(h)
		if h.dead == nil && len(h.buf) > 0 {
			h.n++
			err := &DecryptError{Reason: Truncated, Record: h.n}
			r := Record{Dir: h.dir, N: h.n, Range: reassembly.ByteRange{Start: h.off - int64(len(h.buf)), End: h.off},
				Type: ContentType(h.buf[0]), AppOffset: -1, Err: err}
			if len(h.buf) >= 3 {
				r.Version = uint16(h.buf[1])<<8 | uint16(h.buf[2])
			}
			h.buf = h.buf[:0]
			h.dead = err
			s.emit(r)
		}
		h.buf = nil
	}
	s.out = nil
}

func (s *Session) emit(r Record) {
	if s.cfg.OnRecord != nil {
		s.rec = r
		s.cfg.OnRecord(&s.rec)
	}
}

// giveUp stops waiting for the peer's hello and reports what was held.
func (s *Session) giveUp(h *half) {
	h.gaveUp = true
	s.drain(h)
}

// blocked says whether a record of type typ in direction h must wait for the
// other direction's hello: keys are chosen from both hellos.
func (s *Session) blocked(h *half, typ byte) bool {
	if h.gaveUp {
		return false
	}
	if typ != byte(ChangeCipherSpec) && typ != byte(ApplicationData) {
		return false
	}
	if h.dir == reassembly.ClientToServer {
		return !s.info.HaveServerHello
	}
	return !s.info.HaveClientHello
}

// record handles one complete record of direction h at stream offset start.
func (s *Session) record(h *half, rec []byte, start int64) {
	if len(h.wait) > 0 || s.blocked(h, rec[0]) {
		if h.waitBytes+len(rec) > s.cfg.MaxWaiting {
			s.giveUp(h)
		} else {
			h.wait = append(h.wait, bytes.Clone(rec))
			h.waitStart = append(h.waitStart, start)
			h.waitBytes += len(rec)
			return
		}
	}
	s.process(h, rec, start)
	o := &s.h[1-h.dir]
	if len(o.wait) > 0 {
		s.drain(o)
	}
}

// drain processes the records of h that no longer need to wait.
func (s *Session) drain(h *half) {
	for len(h.wait) > 0 && !s.blocked(h, h.wait[0][0]) {
		rec, start := h.wait[0], h.waitStart[0]
		h.wait[0] = nil
		h.wait, h.waitStart = h.wait[1:], h.waitStart[1:]
		h.waitBytes -= len(rec)
		s.process(h, rec, start)
	}
	if len(h.wait) == 0 {
		h.wait, h.waitStart = nil, nil
	}
}

// process decodes one record and reports it.
func (s *Session) process(h *half, rec []byte, start int64) {
	h.n++
	r := Record{
		Dir: h.dir, N: h.n,
		Range: reassembly.ByteRange{Start: start, End: start + int64(len(rec))},
		Type:  ContentType(rec[0]), Version: uint16(rec[1])<<8 | uint16(rec[2]),
		Inner: ContentType(rec[0]), AppOffset: -1,
	}
	tls13 := s.info.HaveServerHello && s.info.Version == 0x0304
	var encrypted bool
	if tls13 {
		encrypted = h.phase != phasePlain && r.Type == ApplicationData
	} else {
		encrypted = h.enc || r.Type == ApplicationData
	}
	if !encrypted {
		r.Plaintext = rec[headerLen:]
		switch r.Type {
		case Handshake:
			h.hs.write(r.Plaintext)
		case ChangeCipherSpec:
			s.changeCipherSpec(h)
		}
		s.emit(r)
		return
	}
	r.Encrypted = true
	r.Inner = 0
	pt, inner, err := s.decrypt(h, rec)
	if err != nil {
		if de, ok := err.(*DecryptError); ok {
			de.Record = h.n
		}
		r.Err = err
		// A handshake message in progress cannot be finished without this
		// record's bytes: drop it rather than misread what follows.
		h.hs.reset()
		s.emit(r)
		s.afterRecord(h)
		return
	}
	r.Decrypted, r.Inner, r.Plaintext = true, inner, pt
	switch inner {
	case Handshake:
		h.hs.write(pt)
	case ApplicationData:
		r.AppOffset = h.app
		h.app += int64(len(pt))
	}
	s.emit(r)
	s.afterRecord(h)
}

// changeCipherSpec switches a TLS 1.2 direction to protected records. In
// TLS 1.3 it is the compatibility no-op.
func (s *Session) changeCipherSpec(h *half) {
	// A CCS before the ServerHello is TLS 1.3's compatibility CCS after a
	// HelloRetryRequest (or noise): it changes nothing.
	if !s.info.HaveServerHello || s.info.Version == 0x0304 {
		return
	}
	if h.enc {
		return
	}
	h.enc, h.seq, h.c12 = true, 0, nil
	if h.dir == reassembly.ServerToClient && s.info.HaveServerHello && !h.sawServerHelloDone {
		s.info.Resumed = true // abbreviated handshake: the server's CCS comes right after its hello
	}
}

// handshake handles one complete handshake message of direction h; body is
// nil for a message this package does not parse.
func (s *Session) handshake(h *half, typ uint8, body []byte) {
	tls13 := s.info.HaveServerHello && s.info.Version == 0x0304
	switch {
	case typ == hsClientHello && h.dir == reassembly.ClientToServer && (!s.info.HaveClientHello || s.info.HelloRetry && !s.info.HaveServerHello):
		ch, ok := parseClientHello(body)
		if !ok {
			return
		}
		s.ch = ch
		s.info.HaveClientHello = true
		s.info.ClientRandom = ch.random
		s.info.SNI = ch.sni
		s.info.OfferedSuites = ch.suites
		s.info.OfferedALPN = ch.alpn
		s.info.EarlyDataOffered = ch.earlyData
		s.clientPhase13()
	case typ == hsServerHello && h.dir == reassembly.ServerToClient && !h.enc && h.phase == phasePlain && !s.info.HaveServerHello:
		sh, ok := parseServerHello(body)
		if !ok {
			return
		}
		if sh.hrr {
			s.info.HelloRetry = true
			return
		}
		s.sh = sh
		s.info.HaveServerHello = true
		s.info.ServerRandom = sh.random
		s.info.Version = sh.version
		s.info.Suite = sh.suite
		if sh.version == 0x0304 {
			s.info.Resumed = sh.psk
			h.phase = phaseHandshake
			s.clientPhase13()
		} else {
			s.info.ALPN = sh.alpn
			s.info.ExtendedMasterSecret = sh.ems
			s.info.EncryptThenMAC = sh.etm
			if len(sh.sessionID) > 0 && bytes.Equal(sh.sessionID, s.ch.sessionID) {
				s.info.Resumed = true
			}
		}
	case typ == hsServerHelloDone || typ == hsCertificate:
		if h.dir == reassembly.ServerToClient {
			h.sawServerHelloDone = true
		}
	case typ == hsEncryptedExtensions && tls13 && h.dir == reassembly.ServerToClient:
		alpn, early := parseEncryptedExtensions(body)
		s.info.ALPN = alpn
		s.info.EarlyDataAccepted = early
	case typ == hsFinished && tls13 && h.phase == phaseHandshake:
		h.toApp = true
	case typ == hsEndOfEarlyData && tls13 && h.phase == phaseEarly:
		h.toHandshake = true
	case typ == hsKeyUpdate && tls13 && h.phase == phaseApp:
		h.keyUpdate = true
	}
}

// clientPhase13 starts the client's TLS 1.3 record protection once both
// hellos are known (in whichever order they were fed): early data keys if
// the client offered 0-RTT, else handshake keys.
func (s *Session) clientPhase13() {
	c := &s.h[reassembly.ClientToServer]
	if !s.info.HaveClientHello || !s.info.HaveServerHello || s.info.Version != 0x0304 || c.phase != phasePlain {
		return
	}
	c.phase = phaseHandshake
	if s.ch.earlyData {
		c.phase = phaseEarly
	}
}

// afterRecord applies the key changes that take effect after a record.
func (s *Session) afterRecord(h *half) {
	if h.toHandshake {
		h.toHandshake = false
		if h.phase == phaseEarly {
			h.phase = phaseHandshake
		}
	}
	if h.toApp {
		h.toApp = false
		if h.phase == phaseHandshake {
			h.phase = phaseApp
		}
	}
	if h.keyUpdate {
		h.keyUpdate = false
		if suite := suites[s.info.Suite]; suite != nil && h.appSecret != nil {
			next := nextTrafficSecret(suite, h.appSecret)
			if c, err := newTLS13Cipher(suite, next); err == nil {
				h.appSecret, h.c13[phaseApp], h.seq13[phaseApp] = next, c, 0
				h.nextC, h.nextSecret = nil, nil
				s.info.KeyUpdates[h.dir]++
			}
		}
	}
}

// decrypt authenticates and decrypts a protected record. The plaintext is
// in s.out, valid until the next record.
func (s *Session) decrypt(h *half, rec []byte) ([]byte, ContentType, error) {
	if !s.info.HaveClientHello || !s.info.HaveServerHello {
		return nil, 0, &DecryptError{Reason: NoHandshake}
	}
	v := s.info.Version
	if v != 0x0303 && v != 0x0304 {
		return nil, 0, &DecryptError{Reason: UnsupportedVersion, Version: v}
	}
	suite := suites[s.info.Suite]
	if suite == nil || suite.tls13 != (v == 0x0304) {
		return nil, 0, &DecryptError{Reason: UnsupportedSuite, Suite: s.info.Suite}
	}
	if v == 0x0303 {
		return s.decrypt12(h, suite, rec)
	}
	return s.decrypt13(h, suite, rec)
}

// dst returns the plaintext buffer, with room for a record of n bytes.
func (s *Session) dst(n int) []byte {
	if cap(s.out) < n {
		s.out = make([]byte, 0, max(n, 2*cap(s.out)))
	}
	return s.out[:0]
}

func (s *Session) decrypt12(h *half, suite *suiteInfo, rec []byte) ([]byte, ContentType, error) {
	seq := h.seq
	h.seq++
	if h.c12 == nil {
		sec, _ := s.cfg.Keys.lookup(s.info.ClientRandom)
		if sec.master == nil && s.cfg.Refresh != nil {
			s.cfg.Refresh()
			sec, _ = s.cfg.Keys.lookup(s.info.ClientRandom)
		}
		if sec.master == nil {
			return nil, 0, &DecryptError{Reason: NoKey, ClientRandom: s.info.ClientRandom}
		}
		ck, sk := keyBlock12(suite, sec.master, s.info.ClientRandom, s.info.ServerRandom)
		k := ck
		if h.dir == reassembly.ServerToClient {
			k = sk
		}
		c, err := newTLS12Cipher(suite, k, s.info.EncryptThenMAC)
		if err != nil {
			return nil, 0, &DecryptError{Reason: NoKey, ClientRandom: s.info.ClientRandom}
		}
		h.c12 = c
	}
	pt, ok := h.c12.open(s.dst(len(rec)), rec, seq)
	if !ok {
		return nil, 0, &DecryptError{Reason: AuthFailed}
	}
	return pt, ContentType(rec[0]), nil
}

// candidates lists, for a TLS 1.3 direction in phase p, the keys a record
// may be under: the current one, then the next one (a key change whose
// message could not be read: a damaged record, a key log without handshake
// secrets, early data the client stopped sending).
func candidates(p phase13) ([2]phase13, int) {
	switch p {
	case phaseEarly:
		return [2]phase13{phaseEarly, phaseHandshake}, 2
	case phaseHandshake:
		return [2]phase13{phaseHandshake, phaseApp}, 2
	}
	return [2]phase13{phaseApp}, 1
}

func (s *Session) decrypt13(h *half, suite *suiteInfo, rec []byte) ([]byte, ContentType, error) {
	haveKey := false
	cands, nc := candidates(h.phase)
	for try := 0; try < 2; try++ {
		for _, p := range cands[:nc] {
			c := s.cipher13(h, suite, p)
			if c == nil {
				continue
			}
			haveKey = true
			pt, ok := c.open(s.dst(len(rec)), rec, h.seq13[p])
			if !ok {
				continue
			}
			h.seq13[p]++
			h.phase = p
			return innerType(pt)
		}
		if haveKey || s.cfg.Refresh == nil {
			break
		}
		s.cfg.Refresh() // the secret may have been logged since the last look
	}
	h.seq13[h.phase]++
	if !haveKey {
		return nil, 0, &DecryptError{Reason: NoKey, ClientRandom: s.info.ClientRandom}
	}
	// The record may be the first under the next application key: a
	// KeyUpdate this session could not read (its record was damaged).
	if h.phase == phaseApp && h.appSecret != nil {
		if h.nextC == nil {
			next := nextTrafficSecret(suite, h.appSecret)
			if c, err := newTLS13Cipher(suite, next); err == nil {
				h.nextC, h.nextSecret = c, next
			}
		}
		if h.nextC != nil {
			if pt, ok := h.nextC.open(s.dst(len(rec)), rec, 0); ok {
				h.appSecret, h.c13[phaseApp], h.seq13[phaseApp] = h.nextSecret, h.nextC, 1
				h.nextC, h.nextSecret = nil, nil
				s.info.KeyUpdates[h.dir]++
				return innerType(pt)
			}
		}
	}
	return nil, 0, &DecryptError{Reason: AuthFailed}
}

// innerType splits a TLS 1.3 plaintext into its content and inner content
// type, removing the zero padding (RFC 8446 §5.4).
func innerType(pt []byte) ([]byte, ContentType, error) {
	i := len(pt) - 1
	for i >= 0 && pt[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, &DecryptError{Reason: Malformed, Detail: "decrypted record has no content type"}
	}
	return pt[:i], ContentType(pt[i]), nil
}

// cipher13 returns the record cipher of phase p for direction h, deriving it
// from the key log the first time its secret is there; nil if it is not.
func (s *Session) cipher13(h *half, suite *suiteInfo, p phase13) recordCipher {
	if c := h.c13[p]; c != nil {
		return c
	}
	sec, ok := s.cfg.Keys.lookup(s.info.ClientRandom)
	if !ok {
		return nil
	}
	var secret []byte
	client := h.dir == reassembly.ClientToServer
	switch {
	case p == phaseEarly && client:
		secret = sec.clientEarl
	case p == phaseHandshake && client:
		secret = sec.clientHS
	case p == phaseHandshake:
		secret = sec.serverHS
	case p == phaseApp && client:
		secret = sec.clientApp
	case p == phaseApp:
		secret = sec.serverApp
	}
	if secret == nil {
		return nil
	}
	c, err := newTLS13Cipher(suite, secret)
	if err != nil {
		return nil
	}
	if p == phaseApp {
		h.appSecret = bytes.Clone(secret)
	}
	h.c13[p] = c
	return c
}
