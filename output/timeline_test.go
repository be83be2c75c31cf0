package output

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/demo"
	"github.com/sockscope/sockscope/reassembly"
)

// demoStreams tracks a demo scenario's capture, keeping every stream.
func demoStreams(t *testing.T, name string) []*reassembly.Stream {
	t.Helper()
	sc, ok := demo.Find(name)
	if !ok {
		t.Fatalf("no demo %q", name)
	}
	src, err := capture.NewReader(name, bytes.NewReader(sc.Pcap()))
	if err != nil {
		t.Fatal(err)
	}
	var col reassembly.Collector
	tr := reassembly.NewTracker(reassembly.Options{Keep: func(capture.Proto, int) bool { return true }, OnStream: col.Add})
	if err := tr.Consume(src); err != nil {
		t.Fatal(err)
	}
	return col.Streams()
}

// TestTimelineEscapesLabels: a message summary full of terminal escape
// sequences, bidi overrides and control bytes is printed as visible escapes
// in the ladder (and in Mermaid), never as raw bytes.
func TestTimelineEscapesLabels(t *testing.T) {
	s := demoStreams(t, "handshake")[0]
	evil := "\x1b]52;c;cGF3bmVk\x07\x1b[2J\x1b[31mGET /\u202egnp.exe\r\n\x00\x9b"
	ts := []TimelineStream{{Stream: s, Labels: map[int][]string{4: {evil}}, Framing: "http1\x1b[5m"}}
	for _, o := range []TimelineOptions{{Width: 80}, {Width: 200, Color: true}, {Width: 60, ASCII: true, Explain: true}} {
		var b bytes.Buffer
		if err := TimelineText(&b, ts, o); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if o.Color {
			// Colour codes are ours; strip them before looking for raw bytes.
			for _, c := range []string{ansiReset, ansiBold, ansiDim, ansiRed, ansiGreen, ansiYell, ansiCyan} {
				out = strings.ReplaceAll(out, c, "")
			}
		}
		if strings.ContainsAny(out, "\x1b\x07\x00\r\u202e\u009b") {
			t.Errorf("%+v: raw control or bidi character in output:\n%q", o, out)
		}
		if !strings.Contains(out, `\e]52;c;cGF3`) || o.Width >= 200 && !strings.Contains(out, `\e]52;c;cGF3bmVk\x07\e[2J\e[31mGET /\u202egnp.exe\r\n\x00\x9b`) {
			t.Errorf("%+v: escapes not shown:\n%s", o, out)
		}
		if !strings.Contains(out, `http1\e[5m`) {
			t.Errorf("%+v: framing not escaped:\n%s", o, out)
		}
	}
	var b bytes.Buffer
	if err := TimelineMermaid(&b, ts, TimelineOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(regexp.MustCompile(`#[0-9]+;`).ReplaceAllString(b.String(), ""), "\x1b\x07\x00\r\u202e;") {
		t.Errorf("mermaid: raw control, bidi or ; in output:\n%q", b.String())
	}
	if !strings.Contains(b.String(), `\e]52#59;c#59;cGF3bmVk\x07\e[2J`) {
		t.Errorf("mermaid: escapes not shown:\n%s", b.String())
	}
}

func TestMermaidEscape(t *testing.T) {
	tests := []struct{ in, want string }{
		{"SYN seq=0", "SYN seq=0"},
		{"a;b#c", "a#59;b#35;c"},
		{"<script>&", "#60;script#62;#38;"},
		{"%%{init: {}}%%", "#37;#37;#123;init: #123;#125;#125;#37;#37;"},
		{"line\nbreak\x1b", `line\nbreak\e`},
		{"[::1]:80 → ok", "[::1]:80 → ok"},
	}
	for _, tt := range tests {
		if got := MermaidEscape(tt.in); got != tt.want {
			t.Errorf("MermaidEscape(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecondsJSON(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0.0"}, {412 * time.Microsecond, "0.000412"}, {100 * time.Nanosecond, "0.0000001"},
		{3*time.Second + 5*time.Millisecond, "3.005"}, {-2 * time.Millisecond, "-0.002"},
	}
	for _, tt := range tests {
		b, _ := json.Marshal(Seconds(tt.d))
		if string(b) != tt.want {
			t.Errorf("Seconds(%v) = %s, want %s", tt.d, b, tt.want)
		}
	}
}

// TestTimelineOddInput: renderers never panic, whatever the records say
// (a stream with no packets, extreme numbers, a tiny width, odd flags).
func TestTimelineOddInput(t *testing.T) {
	base := demoStreams(t, "retransmission")[0]
	odd := *base
	odd.Packets = base.Packets.Clone()
	odd.Packets.At(3).Seq = -1 << 40
	odd.Packets.At(4).Flags = capture.TCPFlags(0x1ff)
	odd.Packets.At(5).Time = base.Start.Add(-time.Hour)
	odd.Packets.At(6).AddNote(reassembly.Note{Kind: reassembly.NoteKind(250), Text: strings.Repeat("x", 300)})
	odd.Packets.At(7).Opts = reassembly.SYNOptions{HasWScale: true, WScale: 200, HasMSS: true}
	empty := *base
	empty.Packets = reassembly.Log[reassembly.PacketRecord]{}
	for _, ts := range [][]TimelineStream{{{Stream: &odd}}, {{Stream: &empty}}, {{Stream: &odd, Labels: map[int][]string{5: {strings.Repeat("界", 500)}}}}} {
		for _, o := range []TimelineOptions{{}, {Width: 1, Explain: true}, {Width: 1000, Color: true, ASCII: true, Explain: true, Omitted: 3}} {
			var b bytes.Buffer
			if err := TimelineText(&b, ts, o); err != nil {
				t.Fatal(err)
			}
			if err := TimelineJSON(&b, ts, o); err != nil {
				t.Fatal(err)
			}
			if err := TimelineMermaid(&b, ts, o); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestTimelineDemoNotes: the notes the demos are about appear, on the right
// packets, in every format.
func TestTimelineDemoNotes(t *testing.T) {
	tests := []struct {
		demo  string
		frame int
		note  string
	}{
		{"handshake", 3, "handshake complete, RTT 10.1 ms"},
		{"handshake", 7, "client closes first (FIN)"},
		{"handshake", 8, "server closes too (FIN)"},
		{"refused", 2, "connection refused"},
		{"reset", 8, "reset by server"},
		{"half-close", 5, "client closes first (FIN)"},
		{"simultaneous-close", 8, "simultaneous close"},
		{"retransmission", 10, "duplicate ACK #1"},
		{"retransmission", 12, "duplicate ACK #3"},
		{"retransmission", 13, "retransmission of frame 5"},
		{"zero-window", 10, "zero window"},
		{"zero-window", 11, "window update"},
	}
	for _, tt := range tests {
		streams := demoStreams(t, tt.demo)
		var b bytes.Buffer
		TimelineJSON(&b, []TimelineStream{{Stream: streams[0]}}, TimelineOptions{})
		found := false
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			var r TimelineRecord
			json.Unmarshal([]byte(line), &r)
			if r.Frame != tt.frame {
				continue
			}
			for _, p := range streams[0].Packets.All() {
				if p.Frame == tt.frame {
					for _, n := range p.Notes() {
						found = found || n.Text == tt.note
					}
				}
			}
			if len(r.Notes) == 0 {
				t.Errorf("%s frame %d: no notes in JSON", tt.demo, tt.frame)
			}
		}
		if !found {
			t.Errorf("%s frame %d: no note %q", tt.demo, tt.frame, tt.note)
		}
	}
}
