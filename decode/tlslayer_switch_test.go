package decode_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/reassembly"
)

// TestAnalyzeTLSAfterSwitch: an IMAP STARTTLS and a POP3 STLS session
// (dovecot and curl) and an SMTP STARTTLS one (curl to a small Python
// server), with curl's key logs, and a PostgreSQL SSLRequest one (a small
// Python client's key log), a CONNECT tunnel through tinyproxy and an FTP
// AUTH TLS session against pyftpdlib (curl's key logs) are decrypted from the switch
// on: the application data is tshark's Follow TLS Stream, byte for byte;
// what is inside is framed as the cleartext was, with no greeting
// expected; records are numbered as the cleartext framing's messages.
func TestAnalyzeTLSAfterSwitch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		framing string
		switchs [2]int64
		inner   [2]int
	}{
		{"imap_dovecot_starttls_keys", "imap", [2]int64{32, 346}, [2]int{5, 16}},
		{"pop3_dovecot_stls_keys", "pop3", [2]int64{12, 150}, [2]int{5, 5}},
		{"smtp_python_starttls_keys", "smtp", [2]int64{28, 120}, [2]int{6, 6}},
		{"pg_sslrequest_tls_keys", "pgsql", [2]int64{8, 1}, [2]int{3, 69}},
		{"http_connect_tls_keys", "http1", [2]int64{112, 70}, [2]int{1, 1}},
		{"ftp_auth_tls_keys", "ftp", [2]int64{10, 54}, [2]int{9, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := tlsdec.ReadKeyLogFile("../testdata/keys/" + tc.name + ".keys")
			if err != nil {
				t.Fatal(err)
			}
			s := keptStreams(t, "../testdata/captures/"+tc.name+".pcap")[0]
			l, err := decode.AnalyzeTLS(s, keys, "")
			if err != nil || l == nil {
				t.Fatalf("AnalyzeTLS: %v, %v", l, err)
			}
			if l.After != tc.framing || l.Switch != tc.switchs || l.Inner == nil || l.Inner.Framing != tc.framing {
				t.Fatalf("after %q at %v, inner %v; want %s at %v", l.After, l.Switch, l.Inner, tc.framing, tc.switchs)
			}
			for d, ext := range []string{".tshark.c2s", ".tshark.s2c"} {
				want, err := os.ReadFile("../testdata/tshark/starttls/" + tc.name + ext)
				if err != nil {
					t.Fatal(err)
				}
				h := &l.Inner.Stream.Dirs[d]
				if got := h.DataAt(0, h.DataLen()); !bytes.Equal(got, want) {
					t.Errorf("%s: %d decrypted bytes, tshark %d", ext, len(got), len(want))
				}
				msgs := l.Inner.Messages[d]
				if len(msgs) != tc.inner[d] {
					t.Errorf("dir %d: %d messages inside, want %d", d, len(msgs), tc.inner[d])
				}
				for _, m := range msgs {
					if m.Protocol != tc.framing {
						t.Errorf("dir %d: message #%d inside is %s %q", d, m.Index, m.Protocol, m.Summary)
					}
				}
				outer := l.Outer.Messages[d]
				for _, r := range l.Records[d] {
					if r.N < 1 || r.N > len(outer) || outer[r.N-1].Range != r.Range || outer[r.N-1].Protocol != "tls" {
						t.Errorf("dir %d: record %d %v is not the cleartext framing's message %d", d, r.N, r.Range, r.N)
					}
					if r.Range.Start < tc.switchs[d] {
						t.Errorf("dir %d: record %d starts at %d, before the switch", d, r.N, r.Range.Start)
					}
				}
			}
		})
	}
}

// TestTLSPlainAfterSwitch: the streaming decryption (follow --format raw)
// passes the cleartext before a switch on as it is and decrypts after it;
// a stream that never switches passes through unchanged, keys or not.
func TestTLSPlainAfterSwitch(t *testing.T) {
	keys, err := tlsdec.ReadKeyLogFile("../testdata/keys/imap_dovecot_starttls_keys.keys")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, tshark string }{
		{"../testdata/captures/imap_dovecot_starttls_keys.pcap", "../testdata/tshark/starttls/imap_dovecot_starttls_keys.tshark"},
		{corpusPath(t, "04_http11_keepalive_curl.pcap"), ""},
		{"../testdata/captures/smtp_curl_python.pcap", ""},
	} {
		s := keptStreams(t, tc.path)[0]
		var got [2][]byte
		p := decode.NewTLSPlain(keys, func(_ *reassembly.Stream, d reassembly.Direction, b []byte) { got[d] = append(got[d], b...) })
		feedStream(s, p.Data)
		if err := p.End(s); err != nil {
			t.Errorf("%s: %v", tc.path, err)
		}
		for d := range got {
			h := &s.Dirs[d]
			tcp := h.DataAt(0, h.DataLen())
			want := tcp
			if tc.tshark != "" {
				inside, err := os.ReadFile(tc.tshark + []string{".c2s", ".s2c"}[d])
				if err != nil {
					t.Fatal(err)
				}
				at := []int{32, 346}[d]
				want = append(append([]byte{}, tcp[:at]...), inside...)
			}
			if !bytes.Equal(got[d], want) {
				t.Errorf("%s dir %d: %d bytes out, want %d", tc.path, d, len(got[d]), len(want))
			}
		}
	}
}

// feedStream gives a kept stream's bytes to data as reassembly's OnData
// would: both directions interleaved by frame, in chunks.
func feedStream(s *reassembly.Stream, data func(*reassembly.Stream, reassembly.Direction, reassembly.ByteRange, []byte, int)) {
	type piece struct {
		d reassembly.Direction
		c reassembly.Chunk
	}
	var ps []piece
	for d := range s.Dirs {
		for _, c := range s.Dirs[d].Chunks.All() {
			ps = append(ps, piece{reassembly.Direction(d), *c})
		}
	}
	for i := 1; i < len(ps); i++ { // insertion sort by frame, stable
		for j := i; j > 0 && ps[j].c.Frame < ps[j-1].c.Frame; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	for _, p := range ps {
		h := &s.Dirs[p.d]
		data(s, p.d, p.c.Range, h.DataAt(p.c.Data, p.c.Range.Len()), p.c.Frame)
	}
}

// TestStreamerAfterSwitch: the Streamer (read --stats, live) decrypts a
// session after its switch to TLS as AnalyzeTLS does: the cleartext
// messages, then the messages inside, with the same summaries, and the
// records numbered as follow numbers them.
func TestStreamerAfterSwitch(t *testing.T) {
	for _, name := range []string{"imap_dovecot_starttls_keys", "pop3_dovecot_stls_keys", "smtp_python_starttls_keys", "pg_sslrequest_tls_keys",
		"http_connect_tls_keys", "ftp_auth_tls_keys"} {
		t.Run(name, func(t *testing.T) {
			keys, err := tlsdec.ReadKeyLogFile("../testdata/keys/" + name + ".keys")
			if err != nil {
				t.Fatal(err)
			}
			s := keptStreams(t, "../testdata/captures/"+name+".pcap")[0]
			l, err := decode.AnalyzeTLS(s, keys, "")
			if err != nil || l == nil || l.Inner == nil {
				t.Fatalf("AnalyzeTLS: %v, %v", l, err)
			}
			var got [2][]string
			framing := ""
			st, err := decode.NewStreamer(decode.StreamerOptions{Keys: keys, OnMessage: func(_ *reassembly.Stream, m *decode.Message) {
				got[m.Dir] = append(got[m.Dir], fmt.Sprint(m.Protocol, " ", m.Summary, " ", m.Records))
			}, OnFraming: func(_ *reassembly.Stream, f, _ string) { framing = f }})
			if err != nil {
				t.Fatal(err)
			}
			feedStream(s, st.Data)
			st.End(s)
			if want := "tls/" + l.After; framing != want {
				t.Errorf("framing %q, want %q", framing, want)
			}
			for d := range got {
				var want []string
				for _, m := range l.Outer.Messages[d] {
					if l.Switch[d] < 0 || m.Range.Start < l.Switch[d] {
						want = append(want, fmt.Sprint(m.Protocol, " ", m.Summary, " []"))
					}
				}
				for i, m := range l.Inner.Messages[d] {
					want = append(want, fmt.Sprint(m.Protocol, " ", m.Summary, " ", l.MsgRecords[d][i]))
				}
				if strings.Join(got[d], "\n") != strings.Join(want, "\n") {
					t.Errorf("dir %d: the Streamer's messages\n%s\nwant (AnalyzeTLS)\n%s", d, strings.Join(got[d], "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}
