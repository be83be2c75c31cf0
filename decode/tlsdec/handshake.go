package tlsdec

import "crypto/sha256"

// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
const (
	hsClientHello         = 1
	hsServerHello         = 2
	hsNewSessionTicket    = 4
	hsEndOfEarlyData      = 5
	hsEncryptedExtensions = 8
	hsCertificate         = 11
	hsServerHelloDone     = 14
	hsFinished            = 20
	hsKeyUpdate           = 24
)

// Extension numbers.
const (
	extServerName        = 0
	extALPN              = 16
	extEncryptThenMAC    = 22
	extExtendedMasterSec = 23
	extSessionTicket     = 35
	extPreSharedKey      = 41
	extEarlyData         = 42
	extSupportedVersions = 43
)

// helloRetryRandom is the ServerHello random that marks a HelloRetryRequest
// (RFC 8446 §4.1.3): SHA-256("HelloRetryRequest").
var helloRetryRandom = Random(sha256.Sum256([]byte("HelloRetryRequest")))

// reader reads big-endian TLS vectors; after a short read every call fails.
type reader struct {
	b  []byte
	ok bool
}

func newReader(b []byte) *reader { return &reader{b: b, ok: true} }

func (r *reader) bytes(n int) []byte {
	if !r.ok || n < 0 || n > len(r.b) {
		r.ok = false
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() int {
	v := r.bytes(1)
	if v == nil {
		return 0
	}
	return int(v[0])
}

func (r *reader) u16() int {
	v := r.bytes(2)
	if v == nil {
		return 0
	}
	return int(v[0])<<8 | int(v[1])
}

func (r *reader) vec8() []byte  { return r.bytes(r.u8()) }
func (r *reader) vec16() []byte { return r.bytes(r.u16()) }

// clientHello is what the Session keeps of a ClientHello.
type clientHello struct {
	random      Random
	sessionID   []byte
	suites      []uint16
	sni         string
	alpn        []string
	versions    []uint16 // supported_versions
	earlyData   bool     // early_data offered (0-RTT)
	ems, etm    bool
	ticket, psk bool
}

func parseClientHello(body []byte) (clientHello, bool) {
	var ch clientHello
	r := newReader(body)
	r.u16() // legacy_version
	copy(ch.random[:], r.bytes(32))
	ch.sessionID = append([]byte(nil), r.vec8()...)
	cs := newReader(r.vec16())
	for cs.ok && len(cs.b) >= 2 {
		ch.suites = append(ch.suites, uint16(cs.u16()))
	}
	r.vec8() // compression methods
	if !r.ok {
		return ch, false
	}
	if len(r.b) == 0 {
		return ch, true
	}
	exts := newReader(r.vec16())
	for exts.ok && len(exts.b) >= 4 {
		typ := exts.u16()
		data := exts.vec16()
		e := newReader(data)
		switch typ {
		case extServerName:
			list := newReader(e.vec16())
			for list.ok && len(list.b) > 0 {
				kind := list.u8()
				name := list.vec16()
				if kind == 0 && list.ok && ch.sni == "" {
					ch.sni = string(name)
				}
			}
		case extALPN:
			list := newReader(e.vec16())
			for list.ok && len(list.b) > 0 {
				p := list.vec8()
				if list.ok && len(ch.alpn) < 32 {
					ch.alpn = append(ch.alpn, string(p))
				}
			}
		case extSupportedVersions:
			list := newReader(e.vec8())
			for list.ok && len(list.b) >= 2 {
				ch.versions = append(ch.versions, uint16(list.u16()))
			}
		case extEarlyData:
			ch.earlyData = true
		case extExtendedMasterSec:
			ch.ems = true
		case extEncryptThenMAC:
			ch.etm = true
		case extSessionTicket:
			ch.ticket = len(data) > 0
		case extPreSharedKey:
			ch.psk = true
		}
	}
	return ch, r.ok
}

// serverHello is what the Session keeps of a ServerHello.
type serverHello struct {
	random    Random
	version   uint16 // negotiated: supported_versions if present, else legacy_version
	sessionID []byte
	suite     uint16
	alpn      string
	ems, etm  bool
	psk       bool // pre_shared_key accepted (TLS 1.3 resumption)
	hrr       bool
}

func parseServerHello(body []byte) (serverHello, bool) {
	var sh serverHello
	r := newReader(body)
	sh.version = uint16(r.u16())
	copy(sh.random[:], r.bytes(32))
	sh.sessionID = append([]byte(nil), r.vec8()...)
	sh.suite = uint16(r.u16())
	r.u8() // compression
	if !r.ok {
		return sh, false
	}
	sh.hrr = sh.random == helloRetryRandom
	if len(r.b) == 0 {
		return sh, true
	}
	exts := newReader(r.vec16())
	for exts.ok && len(exts.b) >= 4 {
		typ := exts.u16()
		e := newReader(exts.vec16())
		switch typ {
		case extSupportedVersions:
			if v := e.u16(); e.ok {
				sh.version = uint16(v)
			}
		case extALPN:
			list := newReader(e.vec16())
			if p := list.vec8(); list.ok {
				sh.alpn = string(p)
			}
		case extExtendedMasterSec:
			sh.ems = true
		case extEncryptThenMAC:
			sh.etm = true
		case extPreSharedKey:
			sh.psk = true
		}
	}
	return sh, r.ok
}

// parseEncryptedExtensions returns the ALPN protocol chosen in a TLS 1.3
// EncryptedExtensions message and whether the server accepted early data.
func parseEncryptedExtensions(body []byte) (alpn string, early bool) {
	r := newReader(body)
	exts := newReader(r.vec16())
	for exts.ok && len(exts.b) >= 4 {
		typ := exts.u16()
		e := newReader(exts.vec16())
		switch typ {
		case extALPN:
			list := newReader(e.vec16())
			if p := list.vec8(); list.ok {
				alpn = string(p)
			}
		case extEarlyData:
			early = true
		}
	}
	return alpn, early
}

// maxHandshakeMsg bounds a handshake message the Session keeps to parse it.
// Messages it does not parse (Certificate, ...) are skipped without being
// kept, whatever their length.
const maxHandshakeMsg = 1 << 16

// hsReader reassembles handshake messages of one direction across records.
type hsReader struct {
	hdr     [4]byte
	nhdr    int
	typ     uint8
	left    int  // body bytes still to come
	keep    bool // the body is being kept (an interesting message)
	body    []byte
	inBody  bool
	onMsg   func(typ uint8, body []byte)
	stopped bool
}

func interesting(typ uint8) bool {
	switch typ {
	case hsClientHello, hsServerHello, hsEncryptedExtensions, hsFinished, hsKeyUpdate, hsEndOfEarlyData:
		return true
	}
	return false
}

// reset drops a message in progress; the next byte starts a message.
func (h *hsReader) reset() {
	h.nhdr, h.left, h.inBody, h.body = 0, 0, false, h.body[:0]
}

// write feeds handshake-content bytes (plaintext of handshake records).
func (h *hsReader) write(p []byte) {
	for len(p) > 0 && !h.stopped {
		if !h.inBody {
			n := copy(h.hdr[h.nhdr:], p)
			h.nhdr += n
			p = p[n:]
			if h.nhdr < 4 {
				return
			}
			h.typ = h.hdr[0]
			h.left = int(h.hdr[1])<<16 | int(h.hdr[2])<<8 | int(h.hdr[3])
			h.keep = interesting(h.typ) && h.left <= maxHandshakeMsg
			h.body = h.body[:0]
			h.inBody = true
			h.nhdr = 0
		}
		n := min(h.left, len(p))
		if h.keep {
			h.body = append(h.body, p[:n]...)
		}
		h.left -= n
		p = p[n:]
		if h.left == 0 {
			h.inBody = false
			if h.keep {
				h.onMsg(h.typ, h.body)
			} else {
				h.onMsg(h.typ, nil)
			}
		}
	}
}
