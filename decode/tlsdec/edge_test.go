package tlsdec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

const (
	c2s = reassembly.ClientToServer
	s2c = reassembly.ServerToClient
)

// collect runs f on a fresh Session and returns the records it reported
// (Plaintext copied).
func collect(cfg Config, f func(s *Session)) (*Session, []Record) {
	var recs []Record
	cfg.OnRecord = func(r *Record) {
		c := *r
		c.Plaintext = bytes.Clone(r.Plaintext)
		recs = append(recs, c)
	}
	s := NewSession(cfg)
	f(s)
	return s, recs
}

func reason(err error) Reason {
	var de *DecryptError
	if errors.As(err, &de) {
		return de.Reason
	}
	return 0
}

// hellos12 is a TLS 1.2 ClientHello and a ServerHello choosing suite at version v.
func hellos12(v uint16, suite uint16) (ch, sh []byte) {
	body := append([]byte{3, 3}, make([]byte, 32)...)
	body = append(body, 0, 0, 2, byte(suite>>8), byte(suite), 1, 0)
	ch = plainRecord(22, hsMsg(hsClientHello, body))
	sb := append([]byte{byte(v >> 8), byte(v)}, bytes.Repeat([]byte{9}, 32)...)
	sb = append(sb, 0, byte(suite>>8), byte(suite), 0)
	sh = plainRecord(22, hsMsg(hsServerHello, sb))
	return ch, sh
}

func TestUnsupported(t *testing.T) {
	for _, c := range []struct {
		name    string
		version uint16
		suite   uint16
		reason  Reason
		msg     string
	}{
		{"rc4", 0x0303, 0x0005, UnsupportedSuite, "record 3: cipher suite TLS_RSA_WITH_RC4_128_SHA (0x0005) not supported"},
		{"unknown suite", 0x0303, 0xABCD, UnsupportedSuite, "record 3: cipher suite 0xABCD (0xABCD) not supported"},
		{"tls1.1", 0x0302, 0x002F, UnsupportedVersion, "record 3: TLS 1.1 not supported (TLS 1.2 and 1.3 only)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch, sh := hellos12(c.version, c.suite)
			_, recs := collect(Config{Keys: &KeyLog{}}, func(s *Session) {
				s.Feed(c2s, ch)
				s.Feed(s2c, sh)
				s.Feed(s2c, plainRecord(20, []byte{1}))
				s.Feed(s2c, plainRecord(22, make([]byte, 40))) // encrypted Finished
				s.Close()
			})
			last := recs[len(recs)-1]
			if last.Dir != s2c || !last.Encrypted || last.Decrypted || reason(last.Err) != c.reason || last.Plaintext != nil {
				t.Fatalf("last record %+v", last)
			}
			if last.Err.Error() != c.msg {
				t.Errorf("message %q, want %q", last.Err, c.msg)
			}
		})
	}
}

func TestMalformedStopsDirection(t *testing.T) {
	s, recs := collect(Config{}, func(s *Session) {
		s.Feed(c2s, []byte("GET / HTTP/1.1\r\n\r\n"))
		s.Feed(c2s, []byte("more"))
		s.Close()
	})
	if len(recs) != 1 || reason(recs[0].Err) != Malformed || recs[0].Range != (reassembly.ByteRange{Start: 0, End: 5}) {
		t.Fatalf("records %+v", recs)
	}
	if !strings.Contains(recs[0].Err.Error(), "content type 71 is not TLS") || s.Err(c2s) == nil || s.Offset(c2s) != 22 {
		t.Errorf("err %v, Err %v, Offset %d", recs[0].Err, s.Err(c2s), s.Offset(c2s))
	}
	// A length past the maximum, split over two chunks.
	_, recs = collect(Config{}, func(s *Session) {
		s.Feed(s2c, []byte{23, 3})
		s.Feed(s2c, []byte{3, 0xff, 0xff, 1, 2})
	})
	if len(recs) != 1 || reason(recs[0].Err) != Malformed || !strings.Contains(recs[0].Err.Error(), "length 65535 exceeds") {
		t.Fatalf("records %+v", recs)
	}
}

func TestGapAndTruncated(t *testing.T) {
	ch, sh := hellos12(0x0303, 0xC02F)
	s, recs := collect(Config{}, func(s *Session) {
		s.Feed(c2s, ch[:10])
		s.Gap(c2s, 100)
		s.Feed(c2s, ch[10:])
		s.Feed(s2c, sh[:len(sh)-1])
		s.Close()
	})
	if len(recs) != 2 {
		t.Fatalf("records %+v", recs)
	}
	lost, trunc := recs[0], recs[1]
	if lost.Dir != c2s || reason(lost.Err) != Lost || lost.Range != (reassembly.ByteRange{Start: 0, End: 110}) || lost.Type != Handshake {
		t.Errorf("lost record %+v", lost)
	}
	if trunc.Dir != s2c || reason(trunc.Err) != Truncated || trunc.Range.End != int64(len(sh)-1) {
		t.Errorf("truncated record %+v", trunc)
	}
	if s.Offset(c2s) != int64(len(ch))+100 {
		t.Errorf("c2s offset %d", s.Offset(c2s))
	}
}

// TestMidStream: records with no hello seen say NoHandshake, after the
// waiting bound (c2s) or at Close (s2c).
func TestMidStream(t *testing.T) {
	rec := plainRecord(23, make([]byte, 1000))
	_, recs := collect(Config{MaxWaiting: 4096}, func(s *Session) {
		for range 10 {
			s.Feed(c2s, rec)
			s.Feed(s2c, rec)
		}
		s.Close()
	})
	if len(recs) != 20 {
		t.Fatalf("%d records, want 20", len(recs))
	}
	for _, r := range recs {
		if reason(r.Err) != NoHandshake || r.Plaintext != nil || !r.Encrypted {
			t.Fatalf("record %+v", r)
		}
	}
}

// TestMemoryBound: a session holds at most one incomplete record and
// MaxWaiting bytes of waiting records per direction.
func TestMemoryBound(t *testing.T) {
	rec := plainRecord(23, make([]byte, MaxRecordLen))
	s := NewSession(Config{MaxWaiting: 50000})
	for range 20 {
		for i := 0; i < len(rec); i += 777 {
			s.Feed(c2s, rec[i:min(i+777, len(rec))])
		}
		for d := range 2 {
			h := &s.h[d]
			if cap(h.buf) > headerLen+MaxRecordLen || h.waitBytes > 50000 {
				t.Fatalf("buffer %d, waiting %d", cap(h.buf), h.waitBytes)
			}
		}
	}
}

// TestKeyLogConcurrent: a key log written while sessions look keys up
// (go test -race).
func TestKeyLogConcurrent(t *testing.T) {
	kl := &KeyLog{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 200 {
			kl.Write([]byte("CLIENT_RANDOM " + cr1 + " " + ms + "\n"))
		}
	}()
	c := newSynthConn(t, 20, 1000)
	for range 20 {
		s := NewSession(Config{Keys: kl})
		s.Feed(c2s, c.c2s)
		s.Feed(s2c, c.s2c)
		s.Close()
	}
	<-done
}
