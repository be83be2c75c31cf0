package decode_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"github.com/sockscope/sockscope/reassembly"
)

// tlsCaptures lists the TLS captures with their key logs: corpus 11 and 12,
// and the decryption captures of decode/tlsdec (key log "" for the pcapng
// whose secrets are embedded).
func tlsCaptures(t *testing.T) [][2]string {
	t.Helper()
	out := [][2]string{
		{"../testdata/corpus/11_tls13_curl_openssl_sni.pcap", "../testdata/keys/11_tls13_curl_openssl_sni.keys"},
		{"../testdata/corpus/12_tls12_curl_openssl_sni.pcap", "../testdata/keys/12_tls12_curl_openssl_sni.keys"},
	}
	caps, err := filepath.Glob("tlsdec/testdata/*.pcap*")
	if err != nil || len(caps) == 0 {
		t.Fatalf("no TLS captures in tlsdec/testdata: %v", err)
	}
	for _, c := range caps {
		keys := strings.TrimSuffix(strings.TrimSuffix(c, ".pcapng"), ".pcap") + ".keys"
		if _, err := os.Stat(keys); err != nil {
			keys = ""
		}
		out = append(out, [2]string{c, keys})
	}
	return out
}

// describe is one message as the comparison sees it.
func describe(m *decode.Message) string {
	return fmt.Sprintf("%s #%d %v %s %q frames=%v records=%v partial=%v", m.Dir, m.Index, m.Range, m.Protocol, m.Summary, m.Frames, m.Records, m.Partial)
}

// TestStreamerTLSMatchesAnalyzeTLS: with keys, the incremental driver (read
// --stats, live) reports the messages inside TLS that follow --keylog shows
// (AnalyzeTLS on the kept stream): same ranges, summaries, records and
// frames, on every TLS capture we have.
func TestStreamerTLSMatchesAnalyzeTLS(t *testing.T) {
	for _, c := range tlsCaptures(t) {
		t.Run(filepath.Base(c[0]), func(t *testing.T) {
			keys := &tlsdec.KeyLog{}
			if c[1] != "" {
				var err error
				if keys, err = tlsdec.ReadKeyLogFile(c[1]); err != nil {
					t.Fatal(err)
				}
			}
			src, err := capture.Open(c[0])
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			src.OnSecrets = func(typ uint32, data []byte) {
				if typ == tlsdec.SecretsTypeTLSKeyLog {
					keys.Write(data)
					keys.Flush()
				}
			}
			got := map[int][]string{}
			framings := map[int]string{}
			st, err := decode.NewStreamer(decode.StreamerOptions{Keys: keys,
				OnMessage: func(s *reassembly.Stream, m *decode.Message) {
					got[s.ID] = append(got[s.ID], describe(m))
				},
				OnFraming: func(s *reassembly.Stream, f, _ string) { framings[s.ID] = f },
			})
			if err != nil {
				t.Fatal(err)
			}
			var col reassembly.Collector
			tr := reassembly.NewTracker(reassembly.Options{Keep: func(capture.Proto, int) bool { return true },
				OnData: st.Data,
				OnStream: func(s *reassembly.Stream) {
					st.End(s)
					col.Add(s)
				}})
			if err := tr.Consume(src); err != nil {
				t.Fatal(err)
			}
			decrypted := 0
			for _, s := range col.Streams() {
				if s.Proto != capture.ProtoTCP {
					continue
				}
				l, err := decode.AnalyzeTLS(s, keys, "auto")
				if err != nil {
					t.Fatal(err)
				}
				if l == nil || l.Inner == nil {
					continue
				}
				decrypted++
				f := framings[s.ID]
				switch {
				case f == "tls/raw" && l.Inner.Framing == "raw":
					// Auto found no protocol inside: the Streamer reports no
					// messages (as for any stream), Analyze one per record.
					continue
				case strings.HasPrefix(filepath.Base(c[0]), "45_") && f == "tls/line" && l.Inner.Framing == "http1":
					// 0-RTT: a line of early data, then an HTTP request. The
					// Streamer picks the framing from the first bytes as they
					// come (a line), Analyze from the first KiB of the whole
					// stream (a request line further on), as for any stream.
					continue
				case f != "tls/"+l.Inner.Framing:
					t.Errorf("%s: Streamer framing %q, want tls/%s", s.Name(), f, l.Inner.Framing)
					continue
				}
				var want []string
				first := reassembly.ClientToServer
				if len(got[s.ID]) > 0 && strings.HasPrefix(got[s.ID][0], "s2c") {
					first = reassembly.ServerToClient
				}
				for _, d := range []reassembly.Direction{first, first.Reverse()} {
					for i := range l.Inner.Messages[d] {
						m := l.Inner.Messages[d][i]
						m.Records = l.MsgRecords[d][i]
						// The same partial message, seen at the end of the
						// stream (Streamer) or of the capture (Analyze).
						m.Summary = strings.Replace(m.Summary, "before the end of the capture", "before the end of the stream", 1)
						want = append(want, describe(&m))
					}
				}
				// The Streamer interleaves directions as messages complete:
				// compare each direction in order.
				if g, w := byDir(got[s.ID]), byDir(want); !slices.Equal(g, w) {
					i := 0
					for i < min(len(g), len(w)) && g[i] == w[i] {
						i++
					}
					t.Errorf("%s: Streamer has %d messages inside TLS, AnalyzeTLS %d; first difference at %d:\n  Streamer:   %s\n  AnalyzeTLS: %s",
						s.Name(), len(g), len(w), i, at(g, i), at(w, i))
				}
			}
			if decrypted == 0 {
				t.Errorf("no stream decrypted")
			}
		})
	}
}

func byDir(msgs []string) []string {
	out := slices.Clone(msgs)
	slices.SortStableFunc(out, func(a, b string) int { return strings.Compare(a[:3], b[:3]) })
	return out
}

func at(x []string, i int) string {
	if i < len(x) {
		return x[i]
	}
	return "(none)"
}

// TestStreamerTLSWithoutKey: a TLS stream whose client random has no key is
// framed as TLS records, exactly as without keys, and says why.
func TestStreamerTLSWithoutKey(t *testing.T) {
	run := func(keys *tlsdec.KeyLog) (msgs []string, framing, why string) {
		src, err := capture.Open("../testdata/corpus/11_tls13_curl_openssl_sni.pcap")
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		st, err := decode.NewStreamer(decode.StreamerOptions{Keys: keys, Refresh: func() {},
			OnMessage: func(s *reassembly.Stream, m *decode.Message) { msgs = append(msgs, describe(m)) },
			OnFraming: func(s *reassembly.Stream, f, reason string) { framing, why = f, reason },
		})
		if err != nil {
			t.Fatal(err)
		}
		tr := reassembly.NewTracker(reassembly.Options{OnData: st.Data, OnStream: st.End})
		if err := tr.Consume(src); err != nil {
			t.Fatal(err)
		}
		return msgs, framing, why
	}
	other, err := tlsdec.ReadKeyLogFile("../testdata/keys/12_tls12_curl_openssl_sni.keys")
	if err != nil {
		t.Fatal(err)
	}
	want, _, _ := run(nil)
	got, framing, why := run(other)
	if !slices.Equal(byDir(got), byDir(want)) || len(got) != 15 {
		t.Errorf("without a key for this stream: %d messages, want the %d records of the run without keys", len(got), len(want))
	}
	if framing != "tls" || !strings.Contains(why, "not decrypted") || !strings.Contains(why, "no key") {
		t.Errorf("framing %q (%s), want tls, not decrypted for lack of a key", framing, why)
	}
}

// tlsPiece is one OnData call recorded from a capture.
type tlsPiece struct {
	d     reassembly.Direction
	data  []byte
	frame int
}

func recordPieces(t testing.TB, path string) []tlsPiece {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var ps []tlsPiece
	tr := reassembly.NewTracker(reassembly.Options{OnData: func(_ *reassembly.Stream, d reassembly.Direction, _ reassembly.ByteRange, b []byte, frame int) {
		if b != nil {
			ps = append(ps, tlsPiece{d, bytes.Clone(b), frame})
		}
	}})
	if err := tr.Consume(src); err != nil {
		t.Fatal(err)
	}
	return ps
}

// FuzzStreamerTLS feeds corpus 11 (TLS 1.3, with its keys) through a
// Streamer with keys, with bytes flipped where the input says and the
// pieces cut where it says. Invariants: no panic; a message inside TLS
// lists only records that decrypted (a record that fails authentication
// never reaches the framing inside); nothing stays buffered after End.
func FuzzStreamerTLS(f *testing.F) {
	ps := recordPieces(f, "../testdata/corpus/11_tls13_curl_openssl_sni.pcap")
	keys, err := tlsdec.ReadKeyLogFile("../testdata/keys/11_tls13_curl_openssl_sni.keys")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{}, uint16(0), byte(0))
	f.Add([]byte{7, 200, 13}, uint16(700), byte(0x01)) // a byte of the request record
	f.Add([]byte{1, 1, 1, 1}, uint16(3000), byte(0x80))
	f.Fuzz(fuzzStreamerTLS(ps, keys, "127.0.0.1:40324", "127.0.0.1:4433"))
}

// FuzzStreamerSwitchedTLS is FuzzStreamerTLS on an IMAP session that
// switches to TLS after STARTTLS (the cleartext framing finds the switch).
func FuzzStreamerSwitchedTLS(f *testing.F) {
	ps := recordPieces(f, "../testdata/captures/imap_dovecot_starttls_keys.pcap")
	keys, err := tlsdec.ReadKeyLogFile("../testdata/keys/imap_dovecot_starttls_keys.keys")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{}, uint16(0), byte(0))
	f.Add([]byte{5, 9}, uint16(40), byte(0x20))      // the STARTTLS command
	f.Add([]byte{1, 1, 1}, uint16(1500), byte(0x01)) // a record after the switch
	f.Fuzz(fuzzStreamerTLS(ps, keys, "127.0.0.1:35376", "127.0.0.1:1143"))
}

// fuzzStreamerTLS feeds ps, cut at cuts and with the byte at flipped, to a
// Streamer with keys: no message may come from a record that did not
// decrypt, and nothing may be left buffered after End.
func fuzzStreamerTLS(ps []tlsPiece, keys *tlsdec.KeyLog, client, server string) func(*testing.T, []byte, uint16, byte) {
	return func(t *testing.T, cuts []byte, at uint16, flip byte) {
		s := &reassembly.Stream{Proto: capture.ProtoTCP, Client: netip.MustParseAddrPort(client),
			Server: netip.MustParseAddrPort(server)}
		decrypted := [2]map[int]bool{{}, {}}
		var bad []string
		st, err := decode.NewStreamer(decode.StreamerOptions{Keys: keys,
			OnTLSRecord: func(_ *reassembly.Stream, r *decode.TLSRecord) {
				if r.Decrypted {
					decrypted[r.Dir][r.N] = true
				}
			},
			OnMessage: func(_ *reassembly.Stream, m *decode.Message) {
				for _, n := range m.Records {
					if !decrypted[m.Dir][n] {
						bad = append(bad, describe(m))
					}
				}
			}})
		if err != nil {
			t.Fatal(err)
		}
		var off [2]int64
		pos, ci := 0, 0
		for _, p := range ps {
			b := bytes.Clone(p.data)
			if int(at) >= pos && int(at) < pos+len(b) {
				b[int(at)-pos] ^= flip
			}
			pos += len(b)
			for len(b) > 0 {
				n := len(b)
				if ci < len(cuts) && cuts[ci] > 0 {
					n = min(n, int(cuts[ci]))
				}
				ci++
				st.Data(s, p.d, reassembly.ByteRange{Start: off[p.d], End: off[p.d] + int64(n)}, b[:n], p.frame)
				off[p.d] += int64(n)
				b = b[n:]
			}
		}
		st.End(s)
		if len(bad) > 0 {
			t.Errorf("messages from records that did not decrypt: %v", bad)
		}
		if b := st.Stats().Buffered; b != 0 {
			t.Errorf("%d bytes still buffered after End", b)
		}
	}
}

// TestStreamerTLSUnsupportedSuite: a suite tlsdec does not decrypt is named
// in why the stream was not decrypted.
func TestStreamerTLSUnsupportedSuite(t *testing.T) {
	c2s, s2c, kl := pcapgen.TLS12Handshake(0x000A) // TLS_RSA_WITH_3DES_EDE_CBC_SHA
	keys, err := tlsdec.ParseKeyLog(strings.NewReader(kl))
	if err != nil {
		t.Fatal(err)
	}
	var framing, why string
	var msgs int
	st, err := decode.NewStreamer(decode.StreamerOptions{Keys: keys,
		OnFraming: func(_ *reassembly.Stream, f, r string) { framing, why = f, r },
		OnMessage: func(*reassembly.Stream, *decode.Message) { msgs++ }})
	if err != nil {
		t.Fatal(err)
	}
	s := &reassembly.Stream{Proto: capture.ProtoTCP, Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:443")}
	st.Data(s, reassembly.ClientToServer, reassembly.ByteRange{End: int64(len(c2s) - 59)}, c2s[:len(c2s)-59], 1)
	st.Data(s, reassembly.ServerToClient, reassembly.ByteRange{End: int64(len(s2c))}, s2c, 2)
	st.Data(s, reassembly.ClientToServer, reassembly.ByteRange{Start: int64(len(c2s) - 59), End: int64(len(c2s))}, c2s[len(c2s)-59:], 3)
	st.End(s)
	if framing != "tls" || !strings.Contains(why, "cipher suite TLS_RSA_WITH_3DES_EDE_CBC_SHA (0x000A) not supported") || msgs != 5 {
		t.Errorf("framing %q (%s), %d messages; want tls records, the suite named", framing, why, msgs)
	}
}
