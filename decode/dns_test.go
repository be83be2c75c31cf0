package decode

import (
	"errors"
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// dnsTally counts queries, responses and response rcodes, as tshark's facts do.
type dnsTally struct {
	queries, responses int
	rcodes             map[string]int
}

func (c *dnsTally) add(m bMsg) {
	if bField(m, "qr") == "query" {
		c.queries++
		return
	}
	c.responses++
	c.rcodes[bField(m, "rcode")]++
}

// TestDNSCorpus checks the counts of captures 13 (UDP, one file per datagram)
// and 14 (TCP, 2-byte length prefixes) against tshark's facts.
func TestDNSCorpus(t *testing.T) {
	t.Run("13 udp", func(t *testing.T) {
		files, err := filepath.Glob("testdata/dns/13_dns_udp_dnsmasq_sll2.*.bin")
		if err != nil || len(files) == 0 {
			t.Fatalf("no fixtures (regenerate with testdata/extract_b.sh): %v", err)
		}
		tally := dnsTally{rcodes: map[string]int{}}
		for _, f := range files {
			b := bFixture(t, "dns", filepath.Base(f))
			m, n, err := newDNS(Datagram).Next(0, b, true)
			if err != nil || n != len(b) {
				t.Fatalf("%s: n=%d of %d, err %v", f, n, len(b), err)
			}
			// A query is sent by the client, a response by the server.
			if got, want := bField(bMsg{Fields: m.Fields}, "qr"), map[bool]string{true: "query", false: "response"}[strings.Contains(f, ".c2s.")]; got != want {
				t.Errorf("%s: qr %q, want %q", f, got, want)
			}
			tally.add(bMsg{Fields: m.Fields})
		}
		want := dnsTally{8, 8, map[string]int{"NOERROR": 6, "NXDOMAIN": 1, "REFUSED": 1}}
		if tally.queries != want.queries || tally.responses != want.responses || !maps.Equal(tally.rcodes, want.rcodes) {
			t.Errorf("got %+v, tshark says %+v", tally, want)
		}
	})
	t.Run("14 tcp", func(t *testing.T) {
		d := newDNS(Stream)
		tally := dnsTally{rcodes: map[string]int{}}
		for _, dir := range []reassembly.Direction{reassembly.ClientToServer, reassembly.ServerToClient} {
			res, err := bDrive(d, dir, bFixture(t, "dns", "14_dns_tcp_keepopen_u16be.0."+dir.String()+".bin"))
			if err != nil || res.Err != nil || res.Leftover != 0 {
				t.Fatalf("%s: %v %v, %d left", dir, err, res.Err, res.Leftover)
			}
			for _, m := range res.Msgs {
				tally.add(m)
			}
		}
		want := dnsTally{4, 4, map[string]int{"NOERROR": 3, "NXDOMAIN": 1}}
		if tally.queries != want.queries || tally.responses != want.responses || !maps.Equal(tally.rcodes, want.rcodes) {
			t.Errorf("got %+v, tshark says %+v", tally, want)
		}
	})
}

// dnsCNAMEResponse is capture 13's response to "A? alias.sockscope.test".
const dnsCNAMEResponse = `
0d65 8580 0001 0002 0000 0001                   // id 3429, qr aa rd ra NOERROR, 1 question, 2 answers, 1 additional
05 616c696173 09 736f636b73636f7065 04 74657374 00 // alias.sockscope.test
0001 0001                                       // A IN
c00c 0005 0001 00000000 0014                    // -> name at 12, CNAME IN, ttl 0, rdlength 20
03 777777 09 736f636b73636f7065 04 74657374 00  // www.sockscope.test
c032 0001 0001 00000000 0004 7f00002a           // -> name at 50, A IN, 127.0.0.42
00 0029 04d0 00000000 0000                      // OPT (EDNS0), udp 1232
`

func TestDNS(t *testing.T) {
	tests := []struct {
		name      string
		transport Transport
		in        []byte
		n         int    // bytes consumed; with ErrNeedMore, the hint
		err       string // "" ok, "more" ErrNeedMore, else a substring of the *Error
		summary   string
	}{
		{
			name: "query", transport: Datagram,
			// id 0x1234, rd, 1 question: example.com A IN
			in:      bHex(t, "1234 0100 0001 0000 0000 0000 | 07 6578616d706c65 03 636f6d 00 | 0001 0001"),
			n:       29,
			summary: "#4660 A? example.com",
		},
		{
			name: "CNAME chain response", transport: Datagram,
			in: bHex(t, dnsCNAMEResponse), n: 97,
			summary: "#3429 A? alias.sockscope.test → 2 answers (CNAME, A)",
		},
		{
			name: "answer with an address", transport: Datagram,
			// qr rd ra, 1 question, 1 answer: example.com A 93.184.216.34
			in: bHex(t, `1234 8180 0001 0001 0000 0000 | 07 6578616d706c65 03 636f6d 00 | 0001 0001
				c00c 0001 0001 00000e10 0004 5db8d822`),
			n:       45,
			summary: "#4660 A? example.com → 93.184.216.34",
		},
		{
			name: "SERVFAIL, truncated", transport: Datagram,
			in:      bHex(t, "0001 8302 0001 0000 0000 0000 | 00 | 0002 0001"),
			n:       17,
			summary: "#1 NS? . → SERVFAIL (truncated)",
		},
		{
			name: "over TCP", transport: Stream,
			in:      bHex(t, "001d | 1234 0100 0001 0000 0000 0000 | 07 6578616d706c65 03 636f6d 00 | 0001 0001"),
			n:       31,
			summary: "#4660 A? example.com",
		},
		{
			name: "over TCP, need the whole message", transport: Stream,
			in: bHex(t, "001d | 1234 0100"), n: 31, err: "more",
		},
		{
			name: "over TCP, prefix too short", transport: Stream,
			in: bHex(t, "0005 | 1234 0100 00"), err: "shorter than a DNS header",
		},
		{
			name: "short datagram", transport: Datagram,
			in: bHex(t, "1234 0100 0001"), err: "shorter than a DNS header",
		},
		{
			name: "pointer loop", transport: Datagram,
			// the question name is a pointer to itself
			in: bHex(t, "1234 0100 0001 0000 0000 0000 | c00c | 0001 0001"), err: "does not point before the name",
		},
		{
			name: "pointer chain loop", transport: Datagram,
			// name at 12: label "a" then a pointer to 12
			in: bHex(t, "1234 0100 0001 0000 0000 0000 | 01 61 c00c | 0001 0001"), err: "does not point before the name",
		},
		{
			name: "name too long", transport: Datagram,
			in: append(append(bHex(t, "1234 0100 0001 0000 0000 0000"),
				[]byte(strings.Repeat("\x3f"+strings.Repeat("a", 63), 5))...), 0, 0, 1, 0, 1),
			err: "longer than 255",
		},
		{
			name: "question cut short", transport: Datagram,
			in: bHex(t, "1234 0100 0001 0000 0000 0000 | 07 6578616d"), err: "label runs past the end",
		},
		{
			name: "odd label bytes are escaped", transport: Datagram,
			in:      bHex(t, "0001 0000 0001 0000 0000 0000 | 03 612e20 00 | 0010 0001"),
			n:       21,
			summary: `#1 TXT? a\.\032`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, n, err := newDNS(tt.transport).Next(0, tt.in, tt.transport == Datagram)
			switch tt.err {
			case "":
				if err != nil {
					t.Fatal(err)
				}
				if m.Summary != tt.summary {
					t.Errorf("summary %q, want %q", m.Summary, tt.summary)
				}
			case "more":
				if !errors.Is(err, ErrNeedMore) {
					t.Fatalf("err %v, want ErrNeedMore", err)
				}
			default:
				var fe *Error
				if !errors.As(err, &fe) || !strings.Contains(fe.Reason, tt.err) {
					t.Fatalf("err %v, want *Error containing %q", err, tt.err)
				}
			}
			if n != tt.n {
				t.Errorf("n = %d, want %d", n, tt.n)
			}
		})
	}
}

// FuzzDNS checks the Decoder contract over both transports: over UDP a
// message is the whole datagram or an *Error; over TCP the chunking
// invariance holds.
func FuzzDNS(f *testing.F) {
	files, _ := filepath.Glob("testdata/dns/*.bin")
	for _, file := range files {
		f.Add(bFixture(f, "dns", filepath.Base(file)), 5)
	}
	f.Add(bHex(f, dnsCNAMEResponse), 0)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		m, n, err := newDNS(Datagram).Next(0, data, true)
		var fe *Error
		switch {
		case err == nil:
			if n != len(data) || m.Protocol != "dns" {
				t.Fatalf("datagram: n=%d of %d, protocol %q", n, len(data), m.Protocol)
			}
		case errors.Is(err, ErrNeedMore):
			if len(data) != 0 {
				t.Fatalf("datagram of %d bytes: ErrNeedMore", len(data))
			}
		case !errors.As(err, &fe):
			t.Fatalf("datagram: error %T %v", err, err)
		}
		bCheckChunking(t, func() Decoder { return newDNS(Stream) }, reassembly.ClientToServer, data, cut)
	})
}
