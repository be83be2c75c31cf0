package decode

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// bMsg is the part of a Message that a decoder fills, plus its length: what the
// fixture and chunking tests compare. (The b prefix marks helpers shared by the
// tls, dns, resp, h2 and detect tests.)
type bMsg struct {
	Protocol string
	Summary  string
	N        int
	Fields   []Field
	Parts    []Part
}

// bResult is what a streaming driver gets from one direction: the messages,
// the first framing error (offset counted from the start of the direction),
// and how many bytes were left undecoded.
type bResult struct {
	Msgs     []bMsg
	Err      *Error
	ErrAt    int
	Leftover int
}

// bDrive feeds chunks to d like the real driver does: it appends each chunk to
// the bytes not yet consumed and calls Next until ErrNeedMore; the last chunk
// is given with atEOF. It stops at the first framing error. It returns an error
// only when d breaks the Decoder contract.
func bDrive(d Decoder, dir reassembly.Direction, chunks ...[]byte) (bResult, error) {
	var res bResult
	var buf []byte
	off := 0
	for i, c := range chunks {
		buf = append(buf, c...)
		atEOF := i == len(chunks)-1
		for {
			m, n, err := d.Next(dir, buf[off:], atEOF)
			if errors.Is(err, ErrNeedMore) {
				if n < 0 || (n > 0 && n <= len(buf)-off) {
					return res, fmt.Errorf("ErrNeedMore at +%d with n=%d but %d bytes given", off, n, len(buf)-off)
				}
				break
			}
			if err != nil {
				var fe *Error
				if !errors.As(err, &fe) {
					return res, fmt.Errorf("at +%d: error %T %v is neither ErrNeedMore nor *Error", off, err, err)
				}
				res.Err, res.ErrAt = fe, off
				res.Leftover = len(buf) - off
				for _, c := range chunks[i+1:] {
					res.Leftover += len(c)
				}
				return res, nil
			}
			if n <= 0 || n > len(buf)-off {
				return res, fmt.Errorf("at +%d: n=%d with %d bytes given", off, n, len(buf)-off)
			}
			res.Msgs = append(res.Msgs, bMsg{m.Protocol, m.Summary, n, m.Fields, m.Parts})
			off += n
		}
	}
	res.Leftover = len(buf) - off
	return res, nil
}

// bCheckChunking is the fuzz invariant shared by the stream decoders: data
// decoded whole and data fed in two pieces split at cut give the same messages
// and the same framing error.
func bCheckChunking(t *testing.T, newDec func() Decoder, dir reassembly.Direction, data []byte, cut int) {
	t.Helper()
	whole, err := bDrive(newDec(), dir, data)
	if err != nil {
		t.Fatalf("whole: %v", err)
	}
	again, err := bDrive(newDec(), dir, data)
	if err != nil {
		t.Fatalf("again: %v", err)
	}
	if !bSameResult(whole, again) {
		t.Fatalf("decoding twice differs:\n%+v\n%+v", whole, again)
	}
	if len(data) == 0 {
		return
	}
	cut %= len(data) + 1
	if cut < 0 {
		cut = -cut
	}
	split, err := bDrive(newDec(), dir, data[:cut], data[cut:])
	if err != nil {
		t.Fatalf("split at %d: %v", cut, err)
	}
	if !bSameResult(whole, split) {
		t.Fatalf("split at %d differs from whole:\nwhole: %+v\nsplit: %+v", cut, whole, split)
	}
}

func bSameResult(a, b bResult) bool {
	if len(a.Msgs) != len(b.Msgs) || a.Leftover != b.Leftover || a.ErrAt != b.ErrAt || (a.Err == nil) != (b.Err == nil) {
		return false
	}
	if a.Err != nil && *a.Err != *b.Err {
		return false
	}
	for i := range a.Msgs {
		x, y := a.Msgs[i], b.Msgs[i]
		if x.Protocol != y.Protocol || x.Summary != y.Summary || x.N != y.N ||
			!slices.Equal(x.Fields, y.Fields) || !slices.Equal(x.Parts, y.Parts) {
			return false
		}
	}
	return true
}

// bFixture reads a file written by testdata/extract_b.sh.
func bFixture(t testing.TB, folder, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", folder, name))
	if err != nil {
		t.Fatalf("fixture (regenerate with testdata/extract_b.sh): %v", err)
	}
	return b
}

// bField returns the value of the first field called name, or "".
func bField(m bMsg, name string) string {
	for _, f := range m.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// bHex decodes a hex fixture. Spaces, newlines and "|" separators are
// ignored and "//" starts a comment to the end of the line, so fixtures can be
// laid out field by field and annotated.
func bHex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for line := range strings.Lines(s) {
		line, _, _ = strings.Cut(line, "//")
		clean.WriteString(strings.NewReplacer(" ", "", "\n", "", "\t", "", "|", "").Replace(line))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex fixture: %v", err)
	}
	return b
}

// tlsRecord builds a record: type, version 3.3, 2-byte length, fragment.
func tlsRecord(typ byte, frag []byte) []byte {
	return append([]byte{typ, 3, 3, byte(len(frag) >> 8), byte(len(frag))}, frag...)
}

// tlsCorpusRecords decodes both directions of a TLS fixture stream with one
// decoder, client first, as the driver does.
func tlsCorpusRecords(t *testing.T, name string) map[reassembly.Direction][]bMsg {
	t.Helper()
	d := newTLS(Stream)
	out := map[reassembly.Direction][]bMsg{}
	for _, dir := range []reassembly.Direction{reassembly.ClientToServer, reassembly.ServerToClient} {
		res, err := bDrive(d, dir, bFixture(t, "tls", name+".0."+dir.String()+".bin"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Err != nil || res.Leftover != 0 {
			t.Fatalf("%s %s: error %v, %d bytes left over", name, dir, res.Err, res.Leftover)
		}
		out[dir] = res.Msgs
	}
	return out
}

// TestTLSCorpus checks the record counts against tshark's facts for the two
// TLS captures (testdata/corpus/README.txt). tshark's "tls_records" counts
// records, not handshake messages: in 12 it reports handshake 8, which is the
// number of records of content type 22 (ClientHello, ServerHello,
// Certificate, ServerKeyExchange, ServerHelloDone, ClientKeyExchange and the
// two encrypted Finished); it finds only 6 handshake messages with a type
// (`tshark -T fields -e tls.handshake.type`), as the Finished are encrypted.
// In 12 every handshake message happens to have its own record. For TLS 1.3
// it counts encrypted records (opaque type 23) as application_data.
func TestTLSCorpus(t *testing.T) {
	tests := []struct {
		name    string
		records map[string]int // by "type" field, both directions
		sni     string
		version string // ServerHello's selected version
		summary []string
	}{
		{
			name:    "11_tls13_curl_openssl_sni",
			records: map[string]int{"handshake": 2, "change_cipher_spec": 2, "application_data": 11},
			sni:     "sockscope.test",
			version: "TLS 1.3",
			summary: []string{
				"Handshake ClientHello SNI=sockscope.test ALPN=h2,http/1.1",
				"Handshake ServerHello TLS 1.3 TLS_AES_256_GCM_SHA384",
				"ChangeCipherSpec",
				"Application Data 4.3 KiB",
			},
		},
		{
			name:    "12_tls12_curl_openssl_sni",
			records: map[string]int{"handshake": 8, "change_cipher_spec": 2, "application_data": 2, "alert": 2},
			sni:     "sockscope.test",
			version: "TLS 1.2",
			summary: []string{
				"Handshake ClientHello SNI=sockscope.test ALPN=h2,http/1.1",
				"Handshake ServerHello TLS 1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
				"Handshake Certificate 1 cert CN=sockscope.test",
				"Handshake ServerKeyExchange",
				"Handshake ServerHelloDone",
				"Handshake ClientKeyExchange",
				"Handshake (encrypted, 40 B)",
				"Alert (encrypted, 26 B)",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := tlsCorpusRecords(t, tt.name)
			counts := map[string]int{}
			var sni, version string
			var summaries []string
			for _, dir := range []reassembly.Direction{reassembly.ClientToServer, reassembly.ServerToClient} {
				for _, m := range msgs[dir] {
					counts[bField(m, "type")]++
					if v := bField(m, "sni"); v != "" {
						sni = v
					}
					if v := bField(m, "selected_version"); v != "" {
						version = v
					}
					summaries = append(summaries, m.Summary)
				}
			}
			if !maps.Equal(counts, tt.records) {
				t.Errorf("records by type = %v, tshark says %v", counts, tt.records)
			}
			if sni != tt.sni || version != tt.version {
				t.Errorf("SNI %q version %q, want %q %q", sni, version, tt.sni, tt.version)
			}
			for _, want := range tt.summary {
				if !slices.Contains(summaries, want) {
					t.Errorf("no record summarised %q in %q", want, summaries)
				}
			}
		})
	}
}

func TestTLS(t *testing.T) {
	clientHello := bFixture(t, "tls", "12_tls12_curl_openssl_sni.0.c2s.bin")[:225]
	chMsg := clientHello[5:] // the handshake message without its record header
	type step struct {
		dir     reassembly.Direction
		n       int    // bytes consumed; with err == ErrNeedMore, the hint
		err     string // "" ok, "more" ErrNeedMore, else a substring of the *Error
		summary string
	}
	tests := []struct {
		name  string
		in    [][]byte // one Next call per element, in order (all c2s unless dir says)
		steps []step
	}{
		{
			name: "alert in clear",
			// 15 | 03 03 | 00 02 | 02 28: Alert, TLS 1.2, length 2, fatal handshake_failure
			in:    [][]byte{bHex(t, "15 | 0303 | 0002 | 02 28")},
			steps: []step{{0, 7, "", "Alert fatal handshake_failure"}},
		},
		{
			name: "change cipher spec then encrypted alert",
			in: [][]byte{
				bHex(t, "14 | 0303 | 0001 | 01"),
				bHex(t, "15 | 0303 | 0004 | deadbeef"),
			},
			steps: []step{{0, 6, "", "ChangeCipherSpec"}, {0, 9, "", "Alert (encrypted, 4 B)"}},
		},
		{
			name:  "application data",
			in:    [][]byte{tlsRecord(tlsApplicationData, make([]byte, 1234))},
			steps: []step{{0, 1239, "", "Application Data 1.2 KiB"}},
		},
		{
			name: "header only: need the whole record",
			// 17 | 0303 | 0400: Application Data of 1024 bytes, none present
			in:    [][]byte{bHex(t, "17 | 0303 | 0400")},
			steps: []step{{0, 1029, "more", ""}},
		},
		{
			name:  "short header",
			in:    [][]byte{bHex(t, "16 03")},
			steps: []step{{0, 0, "more", ""}},
		},
		{
			name: "record too long",
			// 17 | 0303 | 4801: length 18433 > 2^14+2048
			in:    [][]byte{bHex(t, "17 | 0303 | 4801")},
			steps: []step{{0, 0, "exceeds the TLS maximum", ""}},
		},
		{
			name:  "not a record type",
			in:    [][]byte{[]byte("GET / HTTP/1.1\r\n")},
			steps: []step{{0, 0, "content type 71", ""}},
		},
		{
			name:  "bad version",
			in:    [][]byte{bHex(t, "16 | 0203 | 0001 | 00")},
			steps: []step{{0, 0, "record version major byte 0x02", ""}},
		},
		{
			name: "ClientHello split across two records",
			in: [][]byte{
				tlsRecord(tlsHandshake, chMsg[:100]),
				tlsRecord(tlsHandshake, chMsg[100:]),
			},
			steps: []step{
				{0, 105, "", "Handshake ClientHello (start, 100 B of 220 B)"},
				{0, 125, "", "Handshake ClientHello SNI=sockscope.test ALPN=h2,http/1.1 (end)"},
			},
		},
		{
			name: "handshake header split across records",
			in: [][]byte{
				tlsRecord(tlsHandshake, chMsg[:2]),
				tlsRecord(tlsHandshake, chMsg[2:]),
			},
			steps: []step{
				{0, 7, "", "Handshake ClientHello (start)"},
				{0, 223, "", "Handshake ClientHello SNI=sockscope.test ALPN=h2,http/1.1 (end)"},
			},
		},
		{
			name: "two messages in one record",
			// 0e 000000: ServerHelloDone; 10 000002 0000: ClientKeyExchange (2 bytes)
			in:    [][]byte{tlsRecord(tlsHandshake, bHex(t, "0e 000000 | 10 000002 0000"))},
			steps: []step{{0, 15, "", "Handshake ServerHelloDone, ClientKeyExchange"}},
		},
		{
			name: "directions keep their own state",
			in: [][]byte{
				bHex(t, "14 | 0303 | 0001 | 01"),        // c2s ChangeCipherSpec
				bHex(t, "16 | 0303 | 0004 | 0e 000000"), // s2c: still cleartext
				bHex(t, "16 | 0303 | 0004 | 0e 000000"), // c2s: encrypted now
			},
			steps: []step{
				{0, 6, "", "ChangeCipherSpec"},
				{1, 9, "", "Handshake ServerHelloDone"},
				{0, 9, "", "Handshake (encrypted, 4 B)"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newTLS(Stream)
			for i, st := range tt.steps {
				m, n, err := d.Next(st.dir, tt.in[i], false)
				switch {
				case st.err == "":
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if m.Summary != st.summary {
						t.Errorf("step %d: summary %q, want %q", i, m.Summary, st.summary)
					}
				case st.err == "more":
					if !errors.Is(err, ErrNeedMore) {
						t.Fatalf("step %d: err %v, want ErrNeedMore", i, err)
					}
				default:
					var fe *Error
					if !errors.As(err, &fe) || !strings.Contains(fe.Reason, st.err) {
						t.Fatalf("step %d: err %v, want *Error containing %q", i, err, st.err)
					}
				}
				if n != st.n {
					t.Errorf("step %d: n = %d, want %d", i, n, st.n)
				}
			}
		})
	}
}

func TestTLSResync(t *testing.T) {
	rec := bHex(t, "17 | 0303 | 0003 | 010203")
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"at start", rec, 0},
		{"after garbage", append([]byte("\x00\x17\x03\x09xx"), rec...), 6},
		{"none", []byte("hello, world"), -1},
		{"header cut", rec[:4], -1},
		{"length too big", bHex(t, "17 0303 ffff"), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newTLS(Stream).(Resyncer).Resync(0, tt.in); got != tt.want {
				t.Errorf("Resync = %d, want %d", got, tt.want)
			}
		})
	}
}

// FuzzTLS checks the Decoder contract on arbitrary bytes: no panic, 0 < n <=
// len(b) on success, only ErrNeedMore or *Error, the same result twice, and
// the same messages whether the bytes arrive whole or in two pieces.
func FuzzTLS(f *testing.F) {
	for _, name := range []string{"11_tls13_curl_openssl_sni", "12_tls12_curl_openssl_sni"} {
		for _, dir := range []string{"c2s", "s2c"} {
			b := bFixture(f, "tls", name+".0."+dir+".bin")
			f.Add(b[:min(len(b), 2000)], 7)
		}
	}
	f.Add(tlsRecord(tlsHandshake, []byte{11, 0, 0, 9, 0, 0, 6, 0, 0, 3, 1, 2, 3}), 3)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		bCheckChunking(t, func() Decoder { return newTLS(Stream) }, reassembly.ServerToClient, data, cut)
		newTLS(Stream).(Resyncer).Resync(0, data)
	})
}

func BenchmarkDecodeTLS(b *testing.B) {
	data := bFixture(b, "tls", "12_tls12_curl_openssl_sni.0.s2c.bin")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := newTLS(Stream)
		for off := 0; off < len(data); {
			_, n, err := d.Next(reassembly.ServerToClient, data[off:], true)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}
