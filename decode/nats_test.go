package decode_test

import (
	"bufio"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/reassembly"
)

// TestNATSAgainstServerTrace frames a real nats.go ↔ nats-server session
// with --framing auto and checks every operation, both ways, against the
// server's own trace of what it parsed and sent (nats-server -DV, recorded
// by record_nats.sh; tshark has no NATS dissector): the same operations in
// the same order with the same arguments, and each payload's length equal
// to the one its line declares. The server does not trace the INFO lines
// it sends, so they are left out of the comparison.
func TestNATSAgainstServerTrace(t *testing.T) {
	f, err := os.Open("../testdata/captures/nats_go_pub_sub_request.trace")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var want [2][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		d := 0
		if strings.HasPrefix(line, "->> ") {
			d = 1
		}
		op, ok := strings.CutPrefix(line[4:], "[")
		if !ok {
			continue // MSG_PAYLOAD
		}
		op = strings.TrimSuffix(op, "]")
		if v, _, _ := strings.Cut(op, " "); v == "CONNECT" {
			op = v // the JSON is cut at 100 bytes in the file
		}
		want[d] = append(want[d], strings.Join(strings.Fields(op), " "))
	}
	ss := keptStreams(t, "../testdata/captures/nats_go_pub_sub_request.pcap")
	if len(ss) != 1 {
		t.Fatalf("%d streams, want 1", len(ss))
	}
	a, err := decode.Analyze(ss[0], "auto")
	if err != nil {
		t.Fatal(err)
	}
	if a.Framing != "nats" {
		t.Fatalf("auto picked %s (%s), want nats", a.Framing, a.Reason)
	}
	for d := range 2 {
		var got []string
		for _, m := range a.Messages[d] {
			if m.Protocol != "nats" {
				t.Errorf("%s: a %s message: %s", reassembly.Direction(d), m.Protocol, m.Summary)
				continue
			}
			op := field(m, "op")
			if op == "INFO" {
				continue
			}
			if op == "CONNECT" {
				got = append(got, op)
				continue
			}
			// The operation line as sent: the message's bytes up to CRLF.
			b := a.Stream.Dirs[d].DataAt(m.Range.Start, min(m.Range.Len(), 200))
			line, _, _ := strings.Cut(string(b), "\r\n")
			got = append(got, strings.Join(strings.Fields(line), " "))
			if n := field(m, "payload_length"); n != "" {
				fs := strings.Fields(line)
				hdr := field(m, "header_length")
				if hdr == "" {
					hdr = "0"
				}
				if total := fs[len(fs)-1]; atoiOr(total) != atoiOr(n)+atoiOr(hdr) {
					t.Errorf("%s: %q framed with a %s+%s-byte payload", reassembly.Direction(d), line, hdr, n)
				}
			}
		}
		if !slices.Equal(got, want[d]) {
			t.Errorf("%s: %d operations, the server traced %d\n got %q\nwant %q", reassembly.Direction(d), len(got), len(want[d]), got, want[d])
		}
		for _, e := range a.Errors[d] {
			t.Errorf("%s: framing error at %d: %s", reassembly.Direction(d), e.Offset, e.Reason)
		}
		if len(want[d]) == 0 {
			t.Fatal("empty trace: wrong file?")
		}
		t.Logf("%s: %d operations equal the server's trace", reassembly.Direction(d), len(got))
	}
}
