package output

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
)

// TimelineRecord is one packet of the timeline in JSON: one object per line.
type TimelineRecord struct {
	Type   string  `json:"type"`   // "packet"
	Stream string  `json:"stream"` // "tcp/0"
	Frame  int     `json:"frame"`  // 1-based frame number (frame.number)
	Time   Seconds `json:"time"`   // seconds since the stream's first packet
	Dir    string  `json:"dir"`    // "c2s" or "s2c"
	Flags  string  `json:"flags"`  // "SYN,ACK" (Wireshark's order); "" for UDP
	Seq    int64   `json:"seq"`    // relative sequence number (tcp.seq); UDP: 1 + bytes sent before
	Ack    int64   `json:"ack"`    // relative acknowledgement number (tcp.ack); 0 without ACK
	Len    int     `json:"len"`    // payload length (tcp.len, UDP payload)
	Win    int     `json:"win"`    // window field as sent (tcp.window_size_value)
	// WinBytes is the window in bytes, scaled when the scale is known; -1 when not.
	WinBytes int64 `json:"win_bytes"`
	// Label is the message summary of the messages starting in this frame
	// (joined with " · "), or "".
	Label   string   `json:"label"`
	Notes   []string `json:"notes"`             // annotations, in full
	Explain string   `json:"explain,omitempty"` // with --explain
}

// TimelineCopiesRecord follows, in the timeline's JSON, the packets of a
// stream some of whose packets were seen again through another path (and
// left out): their number and the two paths, as read's stream records
// have them.
type TimelineCopiesRecord struct {
	Type           string   `json:"type"` // "copies"
	Stream         string   `json:"stream"`
	PathDuplicates int      `json:"path_duplicates"`
	DuplicatePaths []string `json:"duplicate_paths"`
}

func copiesRecord(s *reassembly.Stream) TimelineCopiesRecord {
	return TimelineCopiesRecord{Type: "copies", Stream: s.Name(), PathDuplicates: s.Dups.Count, DuplicatePaths: []string{s.Dups.First, s.Dups.Again}}
}

// Seconds marshals a duration as decimal seconds with up to nanosecond
// precision, never in exponent form.
type Seconds time.Duration

// MarshalJSON writes s as "0.000412".
func (s Seconds) MarshalJSON() ([]byte, error) {
	d := time.Duration(s)
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	frac := strings.TrimRight(fmt.Sprintf("%09d", d%time.Second), "0")
	if frac == "" {
		frac = "0"
	}
	return []byte(fmt.Sprintf("%s%d.%s", sign, d/time.Second, frac)), nil
}

// TimelineJSON writes one TimelineRecord per packet, stream by stream.
func TimelineJSON(w io.Writer, streams []TimelineStream, o TimelineOptions) error {
	ew := &errWriter{w: w}
	enc := NewJSONEncoder(ew)
	for _, ts := range streams {
		steps, _ := buildSteps(ts, o.Explain)
		for _, st := range steps {
			if err := enc.Encode(timelineRecord(ts.Stream, st, ts.Labels[st.rec.Frame])); err != nil {
				return err
			}
		}
		if ts.Stream.Dups != nil {
			if err := enc.Encode(copiesRecord(ts.Stream)); err != nil {
				return err
			}
		}
	}
	return ew.err
}

// timelineRecord is the JSON record of one step; labels are the raw message
// summaries of its frame.
func timelineRecord(s *reassembly.Stream, st step, labels []string) TimelineRecord {
	r := st.rec
	rec := TimelineRecord{Type: "packet", Stream: s.Name(), Frame: r.Frame, Time: Seconds(st.rel), Dir: r.Dir.String(),
		Seq: r.Seq, Ack: r.Ack, Len: r.Len, Win: r.Win, WinBytes: r.WinScaled, Notes: st.details, Explain: st.explain}
	if s.Proto == capture.ProtoTCP {
		rec.Flags = r.Flags.String()
	}
	rec.Label = strings.Join(labels, " · ")
	if rec.Notes == nil {
		rec.Notes = []string{}
	}
	return rec
}

// TimelineMermaid writes one Mermaid sequenceDiagram with a client and a
// server participant per stream: solid arrows (->>) for packets that carry
// data, SYN, FIN or RST, dashed arrows (-->>) for pure ACKs, and notes for the
// annotations (and, with Explain, the plain-language notes).
func TimelineMermaid(w io.Writer, streams []TimelineStream, o TimelineOptions) error {
	ew := &errWriter{w: w}
	fmt.Fprintln(ew, "sequenceDiagram")
	for i, ts := range streams {
		s := ts.Stream
		c, sv := "C"+strconv.Itoa(i), "S"+strconv.Itoa(i)
		mermaidParticipants(ew, s, c, sv)
		fmt.Fprintf(ew, "    Note over %s,%s: %s\n", c, sv, MermaidEscape(s.Name()+": "+s.Describe()))
		if s.Dups != nil {
			fmt.Fprintf(ew, "    Note over %s,%s: %s\n", c, sv, MermaidEscape("copies: "+dupsText(s.Dups)))
		}
		steps, summary := buildSteps(ts, o.Explain)
		for _, st := range steps {
			mermaidStep(ew, s, st, c, sv)
		}
		if summary != "" {
			fmt.Fprintf(ew, "    Note over %s,%s: %s\n", c, sv, MermaidEscape(summary))
		}
	}
	return ew.err
}

// mermaidParticipants declares a stream's client c and server sv.
func mermaidParticipants(w io.Writer, s *reassembly.Stream, c, sv string) {
	cn, sn := "client", "server"
	if s.ClientGuessed {
		cn = "client?"
	}
	fmt.Fprintf(w, "    participant %s as %s\n", c, MermaidEscape(fmt.Sprintf("%s %s %s", s.Name(), cn, s.Client)))
	fmt.Fprintf(w, "    participant %s as %s\n", sv, MermaidEscape(fmt.Sprintf("%s %s %s", s.Name(), sn, s.Server)))
}

// mermaidStep writes one packet's arrow between c and sv, its annotations
// and its explanation.
func mermaidStep(w io.Writer, s *reassembly.Stream, st step, c, sv string) {
	r := st.rec
	from, to := c, sv
	if r.Dir == reassembly.ServerToClient {
		from, to = sv, c
	}
	arrow := "->>"
	if s.Proto == capture.ProtoTCP && r.Len == 0 && r.Flags&(capture.SYN|capture.FIN|capture.RST) == 0 {
		arrow = "-->>"
	}
	text := fmt.Sprintf("%d %s %s", r.Frame, relTime(st.rel), strings.Join(st.words, " "))
	if len(st.labels) > 0 {
		text += " · " + strings.Join(st.labels, " · ")
	}
	fmt.Fprintf(w, "    %s%s%s: %s\n", from, arrow, to, MermaidEscape(text))
	for _, n := range st.notes {
		fmt.Fprintf(w, "    Note right of %s: %s\n", sv, MermaidEscape(n))
	}
	if st.explain != "" {
		fmt.Fprintf(w, "    Note over %s,%s: %s\n", c, sv, MermaidEscape(st.explain))
	}
}

// MermaidEscape makes s safe as Mermaid text (a message, note or participant
// label): it escapes control characters and invisible direction marks as
// textsafe does, then replaces the characters Mermaid's parser or its HTML
// rendering treats specially with Mermaid entity codes ("#35;"): # starts an
// entity, ; ends a statement, < > & would be HTML, and % { } could form a
// %%{init}%% directive.
func MermaidEscape(s string) string {
	s = textsafe.Escape(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '#', ';', '<', '>', '&', '%', '{', '}':
			fmt.Fprintf(&b, "#%d;", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
