package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
)

// TimelineLive draws the timeline of a live capture as packets arrive
// (timeline -i): each packet's arrow, with its annotations, is written the
// moment Packet is called, in the look of the file view. A stream's header
// is written with its first packet; since the streams of a live capture
// interleave, a row of a stream other than the previous row's is preceded
// by the stream's title line again.
//
// The file view labels the arrow that carried a message's first byte; a
// live view cannot know a message's end at that point, so the labels given
// to Packet are those of the messages the packet completed, and messages
// completed later (at a FIN, or when the capture stops) are written with
// Labels under the last arrow. Columns are fixed per stream when its header
// is written: frame numbers and times wider than planned push the row.
type TimelineLive struct {
	w       *errWriter
	o       TimelineOptions
	format  string // text, json, mermaid
	g       glyphs
	p       painter
	width   int
	enc     *json.Encoder
	ladders map[liveKey]*liveLadder
	last    *liveLadder // the stream of the last row written
	begun   bool
}

type liveKey struct {
	proto capture.Proto
	id    int
}

// liveLadder is one stream's drawing state.
type liveLadder struct {
	s     *reassembly.Stream
	start time.Time // the stream's first packet: times are relative to it
	l     layout
	ex    *explainer
	c, sv string // Mermaid participants
}

// liveArrowRoom is the room between the lifelines a live ladder asks for:
// a data segment's arrow ("PSH,ACK seq=1000000 ack=1000000 len=1448
// win=65536") on one line, when the width allows.
const liveArrowRoom = 55

// TimelineLabelRecord is, in a live timeline's JSON, a message that
// completed after its packet's record was written (at a close, or when the
// capture stopped).
type TimelineLabelRecord struct {
	Type   string `json:"type"` // "label"
	Stream string `json:"stream"`
	Dir    string `json:"dir"`
	Label  string `json:"label"`
}

// TimelineFramingRecord is, in a live timeline's JSON, the framing chosen
// for a stream's message labels.
type TimelineFramingRecord struct {
	Type    string `json:"type"` // "framing"
	Stream  string `json:"stream"`
	Framing string `json:"framing"`
}

// NewTimelineLive returns a live timeline writing format ("text", "json" or
// "mermaid") to w.
func NewTimelineLive(w io.Writer, format string, o TimelineOptions) *TimelineLive {
	t := &TimelineLive{w: &errWriter{w: w}, o: o, format: format, g: unicodeGlyphs, p: painter(o.Color),
		width: fitWidth(o.Width), ladders: map[liveKey]*liveLadder{}}
	if o.ASCII {
		t.g = asciiGlyphs
	}
	t.enc = NewJSONEncoder(t.w)
	return t
}

func (t *TimelineLive) begin() {
	if !t.begun && t.format == "mermaid" {
		fmt.Fprintln(t.w, "sequenceDiagram")
	}
	t.begun = true
}

// ladder returns s's drawing state, writing its header when s is new.
func (t *TimelineLive) ladder(s *reassembly.Stream, first *reassembly.PacketRecord) *liveLadder {
	k := liveKey{s.Proto, s.ID}
	if ld := t.ladders[k]; ld != nil {
		ld.s = s
		return ld
	}
	t.begin()
	ld := &liveLadder{s: s, start: s.Start}
	if first != nil && (ld.start.IsZero() || first.Time.Before(ld.start)) {
		ld.start = first.Time
	}
	if t.o.Explain {
		ld.ex = newExplainer(s)
	}
	n := len(t.ladders)
	t.ladders[k] = ld
	switch t.format {
	case "text":
		frame := 1
		if first != nil {
			frame = first.Frame
		}
		ld.l = fitLayout(max(4, len(strconv.Itoa(frame))+2), len("+00.000000"), liveArrowRoom, t.width)
		if t.last != nil {
			fmt.Fprintln(t.w)
		}
		info := []string{Stamp(ld.start), "first frame " + strconv.Itoa(frame)}
		ladderHeader(t.w, s, info, "", ld.l, t.g, t.p, t.width)
	case "mermaid":
		ld.c, ld.sv = "C"+strconv.Itoa(n), "S"+strconv.Itoa(n)
		mermaidParticipants(t.w, s, ld.c, ld.sv)
	}
	t.last = ld
	return ld
}

// switchTo writes ld's title line again when the previous row was another
// stream's.
func (t *TimelineLive) switchTo(ld *liveLadder) {
	if t.last == ld {
		return
	}
	t.last = ld
	if t.format != "text" {
		return
	}
	s := ld.s
	client, server, guess := sides(s)
	fmt.Fprintf(t.w, "\n%s  %s %s%s %s %s %s\n", t.p.paint(ansiBold, s.Name()), client, s.Client, guess, t.g.to, server, s.Server)
}

// Packet writes the arrow of r, a packet of s, with its annotations and the
// labels of the messages it completed (raw network text: escaped here).
func (t *TimelineLive) Packet(s *reassembly.Stream, r *reassembly.PacketRecord, labels []string) error {
	ld := t.ladder(s, r)
	t.switchTo(ld)
	rec := r
	if ld.ex != nil {
		c := *r // the explainer keeps the records it has seen
		rec = &c
	}
	st := newStep(s, rec, ld.start, labels, ld.ex)
	switch t.format {
	case "json":
		if t.w.err == nil {
			t.w.err = t.enc.Encode(timelineRecord(s, st, labels))
		}
	case "mermaid":
		mermaidStep(t.w, s, st, ld.c, ld.sv)
	default:
		drawStep(t.w, st, ld.l, t.g, t.p, t.width)
	}
	return t.w.err
}

// Labels writes message labels (raw text) of s's direction d that completed
// after the arrow of their last packet was written.
func (t *TimelineLive) Labels(s *reassembly.Stream, d reassembly.Direction, labels []string) error {
	ld := t.ladder(s, nil)
	t.switchTo(ld)
	for _, lab := range labels {
		switch t.format {
		case "json":
			if t.w.err == nil {
				t.w.err = t.enc.Encode(TimelineLabelRecord{Type: "label", Stream: s.Name(), Dir: d.String(), Label: lab})
			}
		case "mermaid":
			fmt.Fprintf(t.w, "    Note over %s,%s: %s\n", ld.c, ld.sv, MermaidEscape(lab))
		default:
			l := ld.l
			pad := strings.Repeat(" ", l.left)
			for _, line := range wrapLabel(textsafe.Escape(lab), l.arrow-4, t.g.ell) {
				gap := max(0, l.arrow-width0(line)-3)
				text := t.p.paint(ansiBold, line)
				if d == reassembly.ClientToServer {
					fmt.Fprintf(t.w, "%s%s  %s%s%s\n", pad, t.g.life, text, strings.Repeat(" ", gap+1), t.g.life)
				} else {
					fmt.Fprintf(t.w, "%s%s%s%s  %s\n", pad, t.g.life, strings.Repeat(" ", gap+1), text, t.g.life)
				}
			}
		}
	}
	return t.w.err
}

// Framing writes how s's messages are found ("http1 (request line ...)"),
// once it is known: under the last arrow in text, as a record in JSON.
func (t *TimelineLive) Framing(s *reassembly.Stream, framing string) error {
	ld := t.ladder(s, nil)
	t.switchTo(ld)
	switch t.format {
	case "json":
		if t.w.err == nil {
			t.w.err = t.enc.Encode(TimelineFramingRecord{Type: "framing", Stream: s.Name(), Framing: framing})
		}
	case "mermaid":
		fmt.Fprintf(t.w, "    Note over %s,%s: %s\n", ld.c, ld.sv, MermaidEscape("messages: "+framing))
	default:
		pad := strings.Repeat(" ", ld.l.left)
		for _, line := range wrapText("messages: "+textsafe.Escape(framing), t.width-ld.l.left-3) {
			fmt.Fprintf(t.w, "%s%s  %s\n", pad, t.g.life, t.p.paint(ansiDim, line))
		}
	}
	return t.w.err
}

// End is called when s is finished: it says when some of s's packets were
// seen again through another path (the header was written before that was
// known) and, with Explain, writes the summary of the connection's life (s
// must be a kept stream, with its Packets).
func (t *TimelineLive) End(s *reassembly.Stream) error {
	ld := t.ladders[liveKey{s.Proto, s.ID}]
	if ld != nil && s.Dups != nil {
		t.switchTo(ld)
		switch t.format {
		case "json":
			if t.w.err == nil {
				t.w.err = t.enc.Encode(copiesRecord(s))
			}
		case "mermaid":
			fmt.Fprintf(t.w, "    Note over %s,%s: %s\n", ld.c, ld.sv, MermaidEscape("copies: "+dupsText(s.Dups)))
		default:
			pad := strings.Repeat(" ", ld.l.left)
			for _, line := range wrapText("copies: "+dupsText(s.Dups), t.width-ld.l.left-3) {
				fmt.Fprintf(t.w, "%s%s  %s\n", pad, t.g.life, t.p.paint(ansiDim, line))
			}
		}
	}
	if ld == nil || ld.ex == nil || s.Packets.Len() == 0 {
		return t.w.err
	}
	ld.s = s
	sum := newExplainer(s)
	for _, r := range s.Packets.All() {
		sum.step(r)
	}
	text := sum.summary()
	if text == "" {
		return t.w.err
	}
	t.switchTo(ld)
	switch t.format {
	case "mermaid":
		fmt.Fprintf(t.w, "    Note over %s,%s: %s\n", ld.c, ld.sv, MermaidEscape(text))
	case "text":
		fmt.Fprintln(t.w)
		for _, line := range wrapText(text, t.width-2) {
			fmt.Fprintf(t.w, "  %s\n", line)
		}
	}
	return t.w.err
}

// Finish ends the drawing: omitted is how many streams a limit left out.
func (t *TimelineLive) Finish(omitted int) error {
	t.begin()
	if omitted > 0 && t.format == "text" {
		msg := fmt.Sprintf("%s %d more stream%s not drawn; name them (tcp/N, udp/N), or use --limit N or --all", t.g.ell, omitted, plural(omitted))
		fmt.Fprintf(t.w, "\n%s\n", strings.Join(wrapText(msg, t.width), "\n"))
	}
	return t.w.err
}
