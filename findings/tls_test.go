package findings

import (
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"github.com/sockscope/sockscope/reassembly"
)

// analyzeTLS runs the engine with keys (the text of a key log) over a capture file.
func analyzeTLS(t *testing.T, path, keys string) []Finding {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	kl, err := tlsdec.ParseKeyLog(strings.NewReader(keys))
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{})
	e.SetKeys(kl, nil)
	tr := reassembly.NewTracker(e.Hooks(reassembly.Options{}))
	if err := tr.Consume(src); err != nil {
		t.Fatal(err)
	}
	return e.Finish(Summary{Info: src.Info(), Stats: tr.Stats})
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTLSFindings: with keys, streams that cannot be decrypted say why (no
// key for the client random, authentication failed), runs of tiny records
// and records over many segments are pointed out; a stream that decrypts
// cleanly gives none of them.
func TestTLSFindings(t *testing.T) {
	const (
		c11   = "../testdata/corpus/11_tls13_curl_openssl_sni.pcap"
		k11   = "../testdata/keys/11_tls13_curl_openssl_sni.keys"
		k12   = "../testdata/keys/12_tls12_curl_openssl_sni.keys"
		tiny  = "../decode/tlsdec/testdata/52_tls13_python_tiny_records"
		split = "../testdata/captures/tls13_records_split_mtu1500.pcap"
	)
	tlsKinds := func(fs []Finding) []string {
		return slices.DeleteFunc(kindsOf(fs), func(k string) bool { return !strings.HasPrefix(k, "tls_") })
	}
	if k := tlsKinds(analyzeTLS(t, c11, readText(t, k11))); len(k) != 0 {
		t.Errorf("decrypted cleanly, yet %v", k)
	}
	// The key log of another connection: no key for this client random.
	fs := ofKind(analyzeTLS(t, c11, readText(t, k12)), KindTLSNotDecrypted)
	if len(fs) != 1 || fs[0].Severity != Warning || !regexp.MustCompile(`^TLS could not be decrypted \(11 encrypted records\): record 3: no key for client random 5ee30250[0-9a-f]{56}\.$`).MatchString(fs[0].Message) ||
		!slices.Equal(fs[0].Frames, []int{6}) {
		t.Errorf("no key: %+v", fs)
	}
	// The right client random with the wrong secrets: authentication fails.
	wrong := regexp.MustCompile(`(?m) ([0-9a-f]{64})$`).ReplaceAllStringFunc(readText(t, k11), func(s string) string {
		return " " + strings.Repeat("ab", (len(s)-1)/2)
	})
	wrong = regexp.MustCompile(`(?m) ([0-9a-f]{96})$`).ReplaceAllStringFunc(wrong, func(s string) string {
		return " " + strings.Repeat("cd", (len(s)-1)/2)
	})
	fs = ofKind(analyzeTLS(t, c11, wrong), KindTLSNotDecrypted)
	if len(fs) != 1 || !strings.Contains(fs[0].Message, "failed authentication: wrong key or damaged capture") {
		t.Errorf("wrong key: %+v", fs)
	}
	for _, f := range fs {
		for _, l := range append([]string{f.Message}, f.Details...) {
			if strings.Contains(l, "abab") || strings.Contains(l, "cdcd") {
				t.Errorf("key material in a finding: %s", l)
			}
		}
	}
	// 200 small writes, one record each.
	fs = ofKind(analyzeTLS(t, tiny+".pcap", readText(t, tiny+".keys")), KindTLSTinyRecords)
	if len(fs) != 2 || !strings.HasPrefix(fs[0].Message, "The client sent 201 TLS records in a row of under 64 B") ||
		!strings.HasPrefix(fs[1].Message, "The server sent 129 TLS records in a row") {
		for _, f := range fs {
			t.Log(f.Message)
		}
		t.Errorf("tiny records: %d findings, want the client's 201 and the server's 129", len(fs))
	}
	// 16 KiB records over a 1500-byte MTU: 12 segments each. The record
	// boundaries need no key: the same with the wrong keys and with none.
	for _, fs := range [][]Finding{analyzeTLS(t, split, readText(t, k12)), analyze(t, split, mustRead(t, split), Config{})} {
		fs = ofKind(fs, KindTLSStraddle)
		if len(fs) != 1 || !strings.Contains(fs[0].Message, "The server sent 2 TLS records that straddled 10 or more TCP segments") ||
			fs[0].Details[0] != "s→c record 9: 16.0 KiB over 12 segments (frames 12–24)" || !slices.Equal(fs[0].Frames, []int{12, 24}) {
			t.Errorf("straddling records: %+v", fs)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTLSFindingUnsupportedSuite: a cipher suite that cannot be decrypted
// is named (a TLS 1.2 handshake negotiating 3DES, with its key log line).
func TestTLSFindingUnsupportedSuite(t *testing.T) {
	c2s, s2c, kl := pcapgen.TLS12Handshake(0x000A) // TLS_RSA_WITH_3DES_EDE_CBC_SHA
	keys, err := tlsdec.ParseKeyLog(strings.NewReader(kl))
	if err != nil {
		t.Fatal(err)
	}
	e := New(Config{})
	e.SetKeys(keys, nil)
	s := &reassembly.Stream{Proto: capture.ProtoTCP, ID: 0, Client: netip.MustParseAddrPort("10.0.0.1:40000"),
		Server: netip.MustParseAddrPort("10.0.0.2:443"), FirstFrame: 1, LastFrame: 3}
	e.Data(s, reassembly.ClientToServer, reassembly.ByteRange{End: int64(len(c2s))}, c2s, 1)
	e.Data(s, reassembly.ServerToClient, reassembly.ByteRange{End: int64(len(s2c))}, s2c, 2)
	e.Stream(s)
	fs := ofKind(e.Pop(), KindTLSNotDecrypted)
	if len(fs) != 1 || fs[0].Message != "TLS could not be decrypted (1 encrypted record): record 3: cipher suite TLS_RSA_WITH_3DES_EDE_CBC_SHA (0x000A) not supported." {
		t.Errorf("unsupported suite: %+v", fs)
	}
}

// TestTLSTinyRecordsNamesMessage: when the bytes inside were framed, the
// tiny-records finding names the message cut into the most records.
func TestTLSTinyRecordsNamesMessage(t *testing.T) {
	e := New(Config{})
	e.SetKeys(&tlsdec.KeyLog{}, nil)
	s := &reassembly.Stream{Proto: capture.ProtoTCP, ID: 3}
	for i := range 20 {
		e.tls.record(s, &decode.TLSRecord{Dir: reassembly.ClientToServer, N: i + 1, Decrypted: true,
			App: reassembly.ByteRange{Start: int64(5 * i), End: int64(5*i + 5)}, Frames: []int{10 + i}})
	}
	e.tls.message(s, &decode.Message{Dir: reassembly.ClientToServer, Index: 1, Protocol: "http1", Summary: "GET /slow",
		Range: reassembly.ByteRange{End: 100}, Records: []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}})
	fs := ofKind(e.tls.end(s), KindTLSTinyRecords)
	if len(fs) != 1 || len(fs[0].Details) != 2 || fs[0].Details[1] != "c→s http1 message #1 (100 B) came in 20 records: GET /slow" ||
		!strings.HasPrefix(fs[0].Message, "The client sent 20 TLS records in a row of under 64 B") {
		t.Errorf("%+v", fs)
	}
}
