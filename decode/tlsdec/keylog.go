package tlsdec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// Random is a ClientHello or ServerHello random. It is public (it travels in
// the clear), so it may be printed; the secrets it indexes may not.
type Random [32]byte

// String returns the random in lowercase hex, as a key log line writes it.
func (r Random) String() string { return hex.EncodeToString(r[:]) }

// secrets holds what a key log knows about one connection (one client
// random). Every field is key material: never print or log it.
type secrets struct {
	master     []byte // CLIENT_RANDOM: TLS <= 1.2 master secret (48 bytes)
	clientHS   []byte // CLIENT_HANDSHAKE_TRAFFIC_SECRET
	serverHS   []byte // SERVER_HANDSHAKE_TRAFFIC_SECRET
	clientApp  []byte // CLIENT_TRAFFIC_SECRET_0
	serverApp  []byte // SERVER_TRAFFIC_SECRET_0
	clientEarl []byte // CLIENT_EARLY_TRAFFIC_SECRET
}

// maxLine bounds one key log line; a longer one is skipped as malformed.
// Real lines are at most 13+1+64+1+128 bytes.
const maxLine = 4096

// KeyLog holds TLS secrets from NSS key log lines (SSLKEYLOGFILE), indexed by
// client random. It is safe for concurrent use: a live capture can append to
// it (Write, a FileTail) while sessions look keys up.
//
// Recognised labels: CLIENT_RANDOM, CLIENT_HANDSHAKE_TRAFFIC_SECRET,
// SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0,
// SERVER_TRAFFIC_SECRET_0, CLIENT_EARLY_TRAFFIC_SECRET. Other labels
// (EXPORTER_SECRET, RSA, ...), comments (#) and blank lines are ignored;
// malformed lines are counted (Stats) and skipped.
//
// The zero value is an empty key log ready to use.
type KeyLog struct {
	mu      sync.RWMutex
	m       map[Random]*secrets
	partial []byte // an incomplete last line from Write, waiting for its newline
	skip    bool   // the partial line grew past maxLine: drop it up to the next newline
	stats   KeyLogStats
}

// KeyLogStats counts what a key log has read. It holds no key material.
type KeyLogStats struct {
	Lines     int // complete lines read (comments and blank lines included)
	Secrets   int // secret lines stored (a repeated line counts again)
	Ignored   int // lines with a label this package does not use
	Malformed int // lines that are not "LABEL <64 hex> <hex>" (or too long)
}

// ParseKeyLog reads a whole key log.
func ParseKeyLog(r io.Reader) (*KeyLog, error) {
	kl := &KeyLog{}
	if _, err := kl.ReadFrom(r); err != nil {
		return kl, err
	}
	kl.Flush()
	return kl, nil
}

// ReadKeyLogFile reads the key log file at path.
func ReadKeyLogFile(path string) (*KeyLog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key log: %w", err)
	}
	defer f.Close()
	kl, err := ParseKeyLog(f)
	if err != nil {
		return nil, fmt.Errorf("key log %s: %w", path, err)
	}
	return kl, nil
}

// ReadFrom reads key log text from r until EOF, as Write does.
func (kl *KeyLog) ReadFrom(r io.Reader) (int64, error) {
	var n int64
	buf := make([]byte, 32<<10)
	for {
		m, err := r.Read(buf)
		if m > 0 {
			kl.Write(buf[:m])
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Write parses key log text. It may be called with any chunks of the text
// (a file read as it grows): a line is parsed when its newline arrives; call
// Flush to parse a last line that has none. It never fails.
func (kl *KeyLog) Write(p []byte) (int, error) {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !kl.skip {
				kl.partial = append(kl.partial, p...)
				if len(kl.partial) > maxLine {
					kl.partial, kl.skip = kl.partial[:0], true
				}
			}
			break
		}
		line := p[:i]
		p = p[i+1:]
		if kl.skip {
			kl.skip = false
			kl.stats.Lines++
			kl.stats.Malformed++
			continue
		}
		if len(kl.partial) > 0 {
			kl.partial = append(kl.partial, line...)
			line = kl.partial
		}
		kl.line(line)
		kl.partial = kl.partial[:0]
	}
	return n, nil
}

// Flush parses a last line that has no newline (the end of a file).
func (kl *KeyLog) Flush() {
	kl.mu.Lock()
	defer kl.mu.Unlock()
	if kl.skip {
		kl.skip = false
		kl.stats.Lines++
		kl.stats.Malformed++
	} else if len(kl.partial) > 0 {
		kl.line(kl.partial)
	}
	kl.partial = kl.partial[:0]
}

// line parses one complete line. kl.mu is held.
func (kl *KeyLog) line(line []byte) {
	kl.stats.Lines++
	line = bytes.TrimRight(line, "\r")
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return
	}
	if len(line) > maxLine {
		kl.stats.Malformed++
		return
	}
	f := bytes.Fields(line)
	if len(f) != 3 {
		kl.stats.Malformed++
		return
	}
	var which func(*secrets) *[]byte
	switch string(f[0]) {
	case "CLIENT_RANDOM":
		which = func(s *secrets) *[]byte { return &s.master }
	case "CLIENT_HANDSHAKE_TRAFFIC_SECRET":
		which = func(s *secrets) *[]byte { return &s.clientHS }
	case "SERVER_HANDSHAKE_TRAFFIC_SECRET":
		which = func(s *secrets) *[]byte { return &s.serverHS }
	case "CLIENT_TRAFFIC_SECRET_0":
		which = func(s *secrets) *[]byte { return &s.clientApp }
	case "SERVER_TRAFFIC_SECRET_0":
		which = func(s *secrets) *[]byte { return &s.serverApp }
	case "CLIENT_EARLY_TRAFFIC_SECRET":
		which = func(s *secrets) *[]byte { return &s.clientEarl }
	default:
		kl.stats.Ignored++
		return
	}
	var cr Random
	if len(f[1]) != 64 {
		kl.stats.Malformed++
		return
	}
	if _, err := hex.Decode(cr[:], f[1]); err != nil {
		kl.stats.Malformed++
		return
	}
	sec := make([]byte, hex.DecodedLen(len(f[2])))
	if _, err := hex.Decode(sec, f[2]); err != nil || len(sec) == 0 || len(sec) > 64 {
		kl.stats.Malformed++
		return
	}
	if string(f[0]) == "CLIENT_RANDOM" && len(sec) != 48 {
		kl.stats.Malformed++
		return
	}
	if kl.m == nil {
		kl.m = make(map[Random]*secrets)
	}
	s := kl.m[cr]
	if s == nil {
		s = &secrets{}
		kl.m[cr] = s
	}
	*which(s) = sec
	kl.stats.Secrets++
}

// Merge adds every secret of other to kl (other's value wins where both have
// one). It is how keys from a pcapng's Decryption Secrets Blocks and from a
// --keylog file are combined.
func (kl *KeyLog) Merge(other *KeyLog) {
	if other == nil || other == kl {
		return
	}
	other.mu.RLock()
	defer other.mu.RUnlock()
	kl.mu.Lock()
	defer kl.mu.Unlock()
	if kl.m == nil {
		kl.m = make(map[Random]*secrets)
	}
	for cr, o := range other.m {
		s := kl.m[cr]
		if s == nil {
			s = &secrets{}
			kl.m[cr] = s
		}
		for _, p := range []struct{ dst, src *[]byte }{
			{&s.master, &o.master}, {&s.clientHS, &o.clientHS}, {&s.serverHS, &o.serverHS},
			{&s.clientApp, &o.clientApp}, {&s.serverApp, &o.serverApp}, {&s.clientEarl, &o.clientEarl},
		} {
			if *p.src != nil {
				*p.dst = *p.src
			}
		}
	}
}

// Len returns the number of client randoms with at least one secret.
func (kl *KeyLog) Len() int {
	if kl == nil {
		return 0
	}
	kl.mu.RLock()
	defer kl.mu.RUnlock()
	return len(kl.m)
}

// Has reports whether kl holds any secret for the client random cr.
func (kl *KeyLog) Has(cr Random) bool {
	if kl == nil {
		return false
	}
	kl.mu.RLock()
	defer kl.mu.RUnlock()
	return kl.m[cr] != nil
}

// Stats returns counts of what kl has read.
func (kl *KeyLog) Stats() KeyLogStats {
	kl.mu.RLock()
	defer kl.mu.RUnlock()
	return kl.stats
}

// lookup returns a copy of the secrets for cr (nil slices where unknown).
func (kl *KeyLog) lookup(cr Random) (secrets, bool) {
	if kl == nil {
		return secrets{}, false
	}
	kl.mu.RLock()
	defer kl.mu.RUnlock()
	s := kl.m[cr]
	if s == nil {
		return secrets{}, false
	}
	return *s, true
}

// FileTail re-reads a key log file as it grows, adding new lines to a KeyLog:
// curl and browsers append to SSLKEYLOGFILE during a connection, so a live
// capture calls Refresh (say, when a ClientHello's random has no key yet, or
// on a timer) and later connections still decrypt. If the file shrinks
// (truncated or replaced), it is read again from the start.
type FileTail struct {
	Path string
	KL   *KeyLog
	off  int64
}

// NewFileTail returns a FileTail that adds path's lines to kl. Nothing is
// read until Refresh.
func NewFileTail(path string, kl *KeyLog) *FileTail { return &FileTail{Path: path, KL: kl} }

// Refresh reads what was appended to the file since the last call and
// returns the number of bytes read.
func (t *FileTail) Refresh() (int64, error) {
	f, err := os.Open(t.Path)
	if err != nil {
		return 0, fmt.Errorf("key log: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("key log: %w", err)
	}
	if st.Size() < t.off {
		t.off = 0
		t.KL.mu.Lock()
		t.KL.partial, t.KL.skip = t.KL.partial[:0], false
		t.KL.mu.Unlock()
	}
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return 0, fmt.Errorf("key log: %w", err)
	}
	n, err := t.KL.ReadFrom(bufio.NewReader(io.LimitReader(f, st.Size()-t.off)))
	t.off += n
	if err != nil {
		return n, fmt.Errorf("key log %s: %w", t.Path, err)
	}
	return n, nil
}

// pcapng Decryption Secrets Block (pcapng spec §4.7).
const (
	// DSBBlockType is the pcapng block type of a Decryption Secrets Block.
	DSBBlockType = 0x0000000A
	// SecretsTypeTLSKeyLog is the DSB secrets type of TLS key log text ("TLSK").
	SecretsTypeTLSKeyLog = 0x544c534b
)

// ErrDSB is wrapped by every error ParseDSB returns.
var ErrDSB = errors.New("decryption secrets block")

// ParseDSB parses the body of a pcapng Decryption Secrets Block: the bytes
// after the block type and block total length, up to (not including) the
// trailing block total length. order is the section's byte order. It returns
// the secrets type and the secrets data (a sub-slice of body, without the
// padding; options are ignored).
func ParseDSB(body []byte, order binary.ByteOrder) (secretsType uint32, data []byte, err error) {
	if len(body) < 8 {
		return 0, nil, fmt.Errorf("%w: body is %d bytes, want at least 8", ErrDSB, len(body))
	}
	secretsType = order.Uint32(body[0:4])
	n := order.Uint32(body[4:8])
	if uint64(n) > uint64(len(body)-8) {
		return secretsType, nil, fmt.Errorf("%w: secrets length %d exceeds the block (%d bytes left)", ErrDSB, n, len(body)-8)
	}
	return secretsType, body[8 : 8+int(n)], nil
}

// AddDSB parses a Decryption Secrets Block body (see ParseDSB) and, if it
// holds a TLS key log, adds its lines to kl. It reports whether the block was
// a TLS key log; a block of another secrets type (WireGuard, ...) is not an
// error.
func (kl *KeyLog) AddDSB(body []byte, order binary.ByteOrder) (bool, error) {
	typ, data, err := ParseDSB(body, order)
	if err != nil {
		return false, err
	}
	if typ != SecretsTypeTLSKeyLog {
		return false, nil
	}
	// A separate KeyLog, so a partial line pending from a file is untouched.
	var add KeyLog
	add.Write(data)
	add.Flush()
	kl.Merge(&add)
	kl.mu.Lock()
	st := add.stats
	kl.stats.Lines += st.Lines
	kl.stats.Secrets += st.Secrets
	kl.stats.Ignored += st.Ignored
	kl.stats.Malformed += st.Malformed
	kl.mu.Unlock()
	return true, nil
}
