package decode

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// TestH2Corpus counts the frames of capture 19 (nghttp -> nghttpd, two
// connections) by type, as tshark does (the client preface is not a frame and
// is not counted), and checks the decoded request and response headers.
func TestH2Corpus(t *testing.T) {
	counts := map[string]int{}
	var summaries []string
	for _, stream := range []string{"0", "1"} {
		d := newH2(Stream)
		for _, dir := range []reassembly.Direction{reassembly.ClientToServer, reassembly.ServerToClient} {
			res, err := bDrive(d, dir, bFixture(t, "h2", "19_h2c_nghttp."+stream+"."+dir.String()+".bin"))
			if err != nil || res.Err != nil || res.Leftover != 0 {
				t.Fatalf("tcp/%s %s: %v %v, %d left", stream, dir, err, res.Err, res.Leftover)
			}
			for i, m := range res.Msgs {
				if dir == reassembly.ClientToServer && i == 0 {
					if m.Summary != "client preface" {
						t.Errorf("tcp/%s: first client message %q, want the preface", stream, m.Summary)
					}
					continue
				}
				counts[bField(m, "type")]++
				summaries = append(summaries, m.Summary)
			}
		}
	}
	want := map[string]int{"SETTINGS": 8, "PRIORITY": 10, "HEADERS": 8, "DATA": 11, "WINDOW_UPDATE": 4, "GOAWAY": 2}
	if !maps.Equal(counts, want) {
		t.Errorf("frames by type %v, tshark says %v", counts, want)
	}
	for _, s := range []string{
		"HEADERS stream 13 END_STREAM END_HEADERS PRIORITY · GET /a.txt",
		"HEADERS stream 13 END_HEADERS · 200",
		"DATA stream 17 16 KiB",
		"DATA stream 13 1.4 KiB END_STREAM",
		"SETTINGS ACK",
		"SETTINGS MAX_CONCURRENT_STREAMS=100 INITIAL_WINDOW_SIZE=65535",
		"PRIORITY stream 3 dep=0 weight=201",
		"WINDOW_UPDATE stream 0 +35578",
		"GOAWAY last=0 NO_ERROR",
	} {
		if !strings.Contains(strings.Join(summaries, "\n")+"\n", s+"\n") {
			t.Errorf("no frame summarised %q", s)
		}
	}
}

func TestH2(t *testing.T) {
	c2s, s2c := reassembly.ClientToServer, reassembly.ServerToClient
	type step struct {
		dir     reassembly.Direction
		in      string // hex
		n       int
		err     string // "" ok, "more" ErrNeedMore, else a substring of the *Error
		summary string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"preface then SETTINGS", []step{
			{c2s, "505249202a20485454502f322e300d0a0d0a534d0d0a0d0a", 24, "", "client preface"},
			// length 6, SETTINGS, no flags, stream 0 | MAX_CONCURRENT_STREAMS=100
			{c2s, "000006 04 00 00000000 | 0003 00000064", 15, "", "SETTINGS MAX_CONCURRENT_STREAMS=100"},
		}},
		{"preface in pieces", []step{
			{c2s, "505249202a2048", 24, "more", ""},
		}},
		{"bad preface", []step{
			{c2s, "505249202a20485454502f312e310d0a0d0a534d0d0a0d0a", 0, "bad client connection preface", ""},
		}},
		{"no preface: picked up mid-connection", []step{
			{c2s, "000000 04 01 00000000", 9, "", "SETTINGS ACK"},
		}},
		{"frames", []step{
			// length 4, WINDOW_UPDATE, stream 0, +1048576
			{s2c, "000004 08 00 00000000 | 00100000", 13, "", "WINDOW_UPDATE stream 0 +1048576"},
			// length 8, GOAWAY: last stream 3, NO_ERROR
			{s2c, "000008 07 00 00000000 | 00000003 00000000", 17, "", "GOAWAY last=3 NO_ERROR"},
			// length 4, RST_STREAM stream 1, CANCEL
			{s2c, "000004 03 00 00000001 | 00000008", 13, "", "RST_STREAM stream 1 CANCEL"},
			// length 8, PING ACK
			{s2c, "000008 06 01 00000000 | 0102030405060708", 17, "", "PING ACK"},
			// length 16384, DATA, END_STREAM, stream 1: only the header here
			{s2c, "004000 00 01 00000001", 16393, "more", ""},
			// length 3, DATA stream 1 END_STREAM|PADDED: pad 1, "a", padding
			{s2c, "000003 00 09 00000001 | 01 61 00", 12, "", "DATA stream 1 3 B END_STREAM PADDED"},
			// length 2, unknown type 0xfa
			{s2c, "000002 fa 00 00000000 | 0000", 11, "", "type 0xfa stream 0 2 B"},
			// PING with 7 bytes
			{s2c, "000007 06 00 00000000 | 01020304050607", 16, "", "PING (bad length 7, want 8)"},
		}},
		{"HEADERS with HPACK, then CONTINUATION", []step{
			// HEADERS stream 1 END_STREAM (no END_HEADERS): :method GET (idx 2), :path / (idx 4)
			{c2s, "000002 01 01 00000001 | 82 84", 11, "", "HEADERS stream 1 END_STREAM · GET /"},
			// CONTINUATION stream 1 END_HEADERS: :scheme http (idx 6)
			{c2s, "000001 09 04 00000001 | 86", 10, "", "CONTINUATION stream 1 END_HEADERS"},
			// response HEADERS stream 1 END_HEADERS: :status 200 (idx 8)
			{s2c, "000001 01 04 00000001 | 88", 10, "", "HEADERS stream 1 END_HEADERS · 200"},
		}},
		{"HPACK error stops decoding for the direction", []step{
			// index 70 does not exist in an empty dynamic table
			{c2s, "000001 01 04 00000001 | c6", 10, "", "HEADERS stream 1 END_HEADERS"},
			{c2s, "000002 01 04 00000003 | 82 84", 11, "", "HEADERS stream 3 END_HEADERS"},
		}},
		{"PUSH_PROMISE with bad padding", []step{
			{s2c, "000002 05 0c 00000001 | 09 00", 11, "", "PUSH_PROMISE stream 1 END_HEADERS PADDED (bad padding)"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newH2(Stream)
			for i, st := range tt.steps {
				m, n, err := d.Next(st.dir, bHex(t, st.in), false)
				switch st.err {
				case "":
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if m.Summary != st.summary {
						t.Errorf("step %d: summary %q, want %q", i, m.Summary, st.summary)
					}
				case "more":
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

func TestH2Resync(t *testing.T) {
	settingsAck := bHex(t, "000000 04 01 00000000")
	tests := []struct {
		name string
		in   []byte
		want int
	}{
		{"at start", settingsAck, 0},
		{"after a partial DATA payload", append([]byte("tail of a body"), settingsAck...), 14},
		{"SETTINGS on a stream is not plausible", bHex(t, "000000 04 01 00000001"), -1},
		{"too short", settingsAck[:8], -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newH2(Stream).(Resyncer).Resync(0, tt.in); got != tt.want {
				t.Errorf("Resync = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestH2NewFunc checks the hook the http1 decoder uses for h2c upgrades.
func TestH2NewFunc(t *testing.T) {
	if _, ok := newH2Func(Stream).(*h2Decoder); !ok {
		t.Fatal("newH2Func does not make an h2 decoder")
	}
}

// FuzzH2 checks the Decoder contract and chunking invariance for both
// directions (the preface is looked for only in client bytes).
func FuzzH2(f *testing.F) {
	for _, name := range []string{"0.c2s", "0.s2c", "1.c2s", "1.s2c"} {
		b := bFixture(f, "h2", "19_h2c_nghttp."+name+".bin")
		f.Add(b[:min(len(b), 1500)], 30, name[2] == 's')
	}
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		dir := reassembly.ClientToServer
		if server {
			dir = reassembly.ServerToClient
		}
		bCheckChunking(t, func() Decoder { return newH2(Stream) }, dir, data, cut)
		newH2(Stream).(Resyncer).Resync(dir, data)
	})
}
