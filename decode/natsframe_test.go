package decode

import (
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// Unit tests, the fuzz target and the benchmark of the nats framing; its
// answers on a real session are checked against nats-server's own trace in
// nats_test.go.

func TestNATS(t *testing.T) {
	c2s := "CONNECT {\"name\":\"me\",\"lang\":\"go\",\"version\":\"1.0\",\"headers\":true}\r\nsub a.* q 1\r\nPUB a.b _INBOX.1 5\r\nhello\r\n" +
		"HPUB a.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\nUNSUB 1 3\nPING\r\n"
	want := []string{`CONNECT name "me" go 1.0 headers`, `SUB "a.*" queue "q" sid 1`, `PUB "a.b" reply "_INBOX.1" 5 B "hello"`,
		`HPUB "a.h" headers 12 B 2 B "hi"`, "UNSUB sid 1 after 3", "PING"}
	if got := bSummaryList(t, newNATS(Stream), reassembly.ClientToServer, []byte(c2s)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("client:\n got %q\nwant %q", got, want)
	}
	s2c := "INFO {\"server_name\":\"n1\",\"version\":\"2.15.3\",\"max_payload\":1048576}\r\nMSG a.b 1 _INBOX.1 0\r\n\r\nHMSG a.h 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n+OK\r\n-ERR 'Unknown Protocol Operation'\r\n"
	want = []string{`INFO server "n1" 2.15.3 max_payload 1048576`, `MSG "a.b" sid 1 reply "_INBOX.1" 0 B`, `HMSG "a.h" sid 1 headers 12 B 2 B "hi"`,
		"+OK", "-ERR 'Unknown Protocol Operation'"}
	if got := bSummaryList(t, newNATS(Stream), reassembly.ServerToClient, []byte(s2c)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server:\n got %q\nwant %q", got, want)
	}
	for _, bad := range []struct{ in, want string }{
		{"GET / HTTP/1.1\r\n", "not a NATS operation"},
		{"PUB a 5\r\nhelloXY", "not followed by CRLF"},
		{"PUB a 99999999999\r\n", "payload size"},
		{"HPUB a 9 5\r\n", "header size"},
		{"PUB a\r\n", "PUB with 1 arguments"},
	} {
		if got := bSummaryList(t, newNATS(Stream), reassembly.ClientToServer, []byte(bad.in)); len(got) != 1 || !strings.Contains(got[0], bad.want) {
			t.Errorf("%q: %q, want %q", bad.in, got, bad.want)
		}
	}
	if off := newNATS(Stream).(Resyncer).Resync(reassembly.ServerToClient, []byte("xx\r\nPONG\r\n")); off != 4 {
		t.Errorf("Resync = %d, want 4", off)
	}
}

// FuzzNATS checks the Decoder contract, chunking invariance and Resync.
func FuzzNATS(f *testing.F) {
	fuzzSeeds(f, "nats", "nats_go_pub_sub_request.0.c2s.bin", "nats_go_pub_sub_request.0.s2c.bin")
	f.Add([]byte("HPUB a.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPING\r\n"), 20, false)
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		bCheckChunking(t, func() Decoder { return newNATS(Stream) }, fuzzDir(server), data, cut)
		newNATS(Stream).(Resyncer).Resync(fuzzDir(server), data)
	})
}

// BenchmarkDecodeNATS frames the server side of the nats.go session: INFO,
// PONGs and MSG/HMSG deliveries, one of 100,000 bytes.
func BenchmarkDecodeNATS(b *testing.B) {
	benchDecoder(b, "nats", "nats_go_pub_sub_request.0.s2c.bin", reassembly.ServerToClient, func() Decoder { return newNATS(Stream) })
}
