package output

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
)

// TimelineStream is one stream for the timeline view: a kept stream (with
// its Packets) and the message labels found by its framing.
type TimelineStream struct {
	Stream *reassembly.Stream
	// Labels holds message summaries by frame number: the summary of each
	// message is attached to the frame that carried the message's first
	// byte. Raw network text: the renderers escape it.
	Labels map[int][]string
	// Framing says how the labels were found ("len:u32be (given)"); empty
	// when no framing was applied.
	Framing string
}

// TimelineOptions shapes the timeline renderers. cmd decides them (terminal
// width, colour); output never probes the terminal.
type TimelineOptions struct {
	Width   int  // columns to fit (default 80; at least 60 is used)
	Color   bool // ANSI colours
	ASCII   bool // plain ASCII arrows and rules instead of box-drawing characters
	Explain bool // a plain-language note after each packet and a closing summary
	// Omitted is how many streams were left out by a limit; the text view
	// says so at the end.
	Omitted int
}

// step is one packet of a stream as every timeline format shows it.
type step struct {
	rec     *reassembly.PacketRecord
	rel     time.Duration // since the stream's first packet
	words   []string      // the arrow's text: flags, seq, ack, len, win, options
	labels  []string      // message summaries, escaped
	notes   []string      // margin annotations
	details []string      // the notes in full (JSON)
	explain string        // plain-language note (Explain only)
}

// buildSteps turns a stream's packet records into steps, with the closing
// summary when explaining.
func buildSteps(ts TimelineStream, explain bool) ([]step, string) {
	s := ts.Stream
	steps := make([]step, s.Packets.Len())
	var ex *explainer
	if explain {
		ex = newExplainer(s)
	}
	start := s.Start
	if s.Packets.Len() > 0 {
		start = s.Packets.At(0).Time
	}
	for i, r := range s.Packets.All() {
		steps[i] = newStep(s, r, start, ts.Labels[r.Frame], ex)
	}
	if ex != nil {
		return steps, ex.summary()
	}
	return steps, ""
}

// newStep is one packet record as every timeline format shows it: start is
// the time of the stream's first packet, labels the raw message summaries to
// put under its arrow, ex the explainer (nil without Explain), which must see
// the stream's records in order.
func newStep(s *reassembly.Stream, r *reassembly.PacketRecord, start time.Time, labels []string, ex *explainer) step {
	st := step{rec: r, rel: r.Time.Sub(start), words: arrowWords(s, r)}
	for _, l := range labels {
		st.labels = append(st.labels, textsafe.Escape(l))
	}
	for _, n := range r.Notes() {
		st.notes = append(st.notes, n.Text)
		d := n.Text
		if n.Detail != "" {
			d = n.Detail
		}
		st.details = append(st.details, d)
	}
	if ex != nil {
		st.explain = ex.step(r)
	}
	return st
}

// arrowWords returns the words of a packet's arrow label.
func arrowWords(s *reassembly.Stream, r *reassembly.PacketRecord) []string {
	if s.Proto == capture.ProtoUDP {
		return []string{"UDP", "len=" + strconv.Itoa(r.Len)}
	}
	w := []string{r.Flags.String(), "seq=" + strconv.FormatInt(r.Seq, 10)}
	if r.Flags.Has(capture.ACK) {
		w = append(w, "ack="+strconv.FormatInt(r.Ack, 10))
	}
	if r.Len > 0 {
		w = append(w, "len="+strconv.Itoa(r.Len))
	}
	win := int64(r.Win)
	if r.WinScaled >= 0 {
		win = r.WinScaled
	}
	w = append(w, "win="+strconv.FormatInt(win, 10))
	if r.Flags.Has(capture.SYN) {
		o := r.Opts
		if o.HasMSS {
			w = append(w, "mss="+strconv.Itoa(int(o.MSS)))
		}
		if o.HasWScale {
			w = append(w, "ws="+strconv.Itoa(1<<min(o.WScale, 14)))
		}
		if o.SACKPerm {
			w = append(w, "sack_perm")
		}
		if o.HasTS {
			w = append(w, "ts")
		}
	}
	return w
}

// relTime formats a duration since the stream's start: "+0.000412".
func relTime(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return fmt.Sprintf("%s%d.%06d", sign, d/time.Second, (d%time.Second)/time.Microsecond)
}

// glyphs are the drawing characters (box drawing or ASCII).
type glyphs struct{ line, right, left, life, to, dot, ell string }

var (
	unicodeGlyphs = glyphs{"─", "▶", "◀", "│", "→", "·", "…"}
	asciiGlyphs   = glyphs{"-", ">", "<", "|", "->", "-", "..."}
)

// ANSI colours.
const (
	ansiReset = "\x1b[0m"
	ansiBold  = "\x1b[1m"
	ansiDim   = "\x1b[2m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
	ansiYell  = "\x1b[33m"
	ansiCyan  = "\x1b[36m"
)

type painter bool

func (p painter) paint(code, s string) string {
	if !p || s == "" {
		return s
	}
	return code + s + ansiReset
}

// TimelineText draws each stream as a ladder diagram: the client's lifeline
// on the left, the server's on the right, one arrow per packet in capture
// order, annotations in the right margin.
func TimelineText(w io.Writer, streams []TimelineStream, o TimelineOptions) error {
	ew := &errWriter{w: w}
	for i, ts := range streams {
		if i > 0 {
			fmt.Fprintln(ew)
		}
		ladder(ew, ts, o)
	}
	if o.Omitted > 0 {
		g := unicodeGlyphs
		if o.ASCII {
			g = asciiGlyphs
		}
		msg := fmt.Sprintf("%s %d more stream%s not shown; name them (tcp/N, udp/N), or use --limit N or --all", g.ell, o.Omitted, plural(o.Omitted))
		fmt.Fprintf(ew, "\n%s\n", strings.Join(wrapText(msg, fitWidth(o.Width)), "\n"))
	}
	return ew.err
}

// layout holds a ladder's column widths.
type layout struct {
	frameW, timeW int // frame number and time columns
	left          int // column of the left lifeline
	arrow         int // columns between the lifelines
	notes         int // margin width for annotations
}

// fitWidth is the width a ladder is drawn to: 80 by default, at least 60.
func fitWidth(w int) int {
	if w <= 0 {
		return 80
	}
	return max(w, 60)
}

func newLayout(steps []step, width int) layout {
	frameW, timeW := 1, len("+0.000000")
	need := 30 // columns between the lifelines that fit every arrow on one line
	for _, st := range steps {
		frameW = max(frameW, len(strconv.Itoa(st.rec.Frame)))
		timeW = max(timeW, len(relTime(st.rel)))
		need = max(need, width0(strings.Join(st.words, " "))+5)
		for _, lab := range st.labels {
			need = max(need, width0(lab)+4)
		}
	}
	return fitLayout(frameW, timeW, need, width)
}

// fitLayout places the columns: frameW and timeW wide frame and time
// columns, need columns between the lifelines if the width allows.
func fitLayout(frameW, timeW, need, width int) layout {
	width = fitWidth(width)
	l := layout{frameW: frameW, timeW: timeW}
	l.left = l.frameW + 1 + l.timeW + 2
	rest := width - l.left - 2 - 2 // two lifelines, two spaces before the notes
	const minNotes = 16
	l.arrow = max(min(need, rest-minNotes), min(30, rest-minNotes))
	l.notes = rest - l.arrow
	return l
}

func ladder(w io.Writer, ts TimelineStream, o TimelineOptions) {
	s := ts.Stream
	g := unicodeGlyphs
	if o.ASCII {
		g = asciiGlyphs
	}
	p := painter(o.Color)
	steps, summary := buildSteps(ts, o.Explain)
	l := newLayout(steps, o.Width)
	width := fitWidth(o.Width)

	info := []string{s.Describe(), human.Duration(s.Duration()), Stamp(s.Start)}
	if s.Proto == capture.ProtoTCP {
		info = slices.Insert(info, 1, fmt.Sprintf("%d packet%s", s.Packets.Len(), plural(s.Packets.Len())))
	}
	ladderHeader(w, s, info, ts.Framing, l, g, p, width)
	for _, st := range steps {
		drawStep(w, st, l, g, p, width)
	}
	if summary != "" {
		fmt.Fprintln(w)
		for _, line := range wrapText(summary, width-2) {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
}

// sides names a stream's two ends for the ladder: client and server, or,
// for a UDP flow that went one way only, sender and receiver; guess is "?"
// when the client is a guess.
func sides(s *reassembly.Stream) (client, server, guess string) {
	client, server = "client", "server"
	if s.Proto == capture.ProtoUDP {
		client, server = "sender", "receiver"
		if s.Dirs[reassembly.ServerToClient].Packets > 0 {
			client, server = "client", "server"
		}
	}
	if s.ClientGuessed {
		guess = "?"
	}
	return client, server, guess
}

// ladderHeader writes a ladder's title (the stream, its ends, the info
// items joined on as few lines as fit), the framing, and the column heads.
func ladderHeader(w io.Writer, s *reassembly.Stream, info []string, framing string, l layout, g glyphs, p painter, width int) {
	client, server, guess := sides(s)
	fmt.Fprintf(w, "%s  %s %s%s %s %s %s\n", p.paint(ansiBold, s.Name()), client, s.Client, guess, g.to, server, s.Server)
	indent := strings.Repeat(" ", len(s.Name())+2)
	line := ""
	for _, it := range info {
		switch {
		case line == "":
			line = it
		case len(indent)+width0(line)+3+width0(it) <= width:
			line += " " + g.dot + " " + it
		default:
			fmt.Fprintf(w, "%s%s\n", indent, line)
			line = it
		}
	}
	fmt.Fprintf(w, "%s%s\n", indent, line)
	if s.ClientGuessed && s.GuessReason != "" {
		for _, line := range wrapText("client guessed: "+s.GuessReason, width-len(indent)) {
			fmt.Fprintf(w, "%s%s\n", indent, line)
		}
	}
	if s.Path != nil {
		for _, line := range wrapText("path: "+textsafe.Escape(s.Path.String()), width-len(indent)) {
			fmt.Fprintf(w, "%s%s\n", indent, line)
		}
	}
	if s.Dups != nil {
		for _, line := range wrapText("copies: "+dupsText(s.Dups), width-len(indent)) {
			fmt.Fprintf(w, "%s%s\n", indent, line)
		}
	}
	if framing != "" {
		for _, line := range wrapText("messages: "+textsafe.Escape(framing), width-len(indent)) {
			fmt.Fprintf(w, "%s%s\n", indent, line)
		}
	}
	fmt.Fprintln(w)

	// Participants: the client's name above the left lifeline, the server's
	// ending above the right one.
	pad := strings.Repeat(" ", l.left)
	lname, rname := client+" "+s.Client.String()+guess, server+" "+s.Server.String()
	span := l.arrow + 2
	if len(lname)+2+len(rname) <= span {
		fmt.Fprintf(w, "%s%s%s%s\n", pad, lname, strings.Repeat(" ", span-len(lname)-len(rname)), rname)
	} else {
		fmt.Fprintf(w, "%s%s%s%s\n", pad, client, strings.Repeat(" ", max(1, span-len(client)-len(server))), server)
		a, b := s.Client.String()+guess, s.Server.String()
		fmt.Fprintf(w, "%s%s%s%s\n", pad, a, strings.Repeat(" ", max(1, span-len(a)-len(b))), b)
	}
	head := fmt.Sprintf("%*s %-*s  ", l.frameW, "#", l.timeW, "time")
	if len(head) > l.left {
		head = pad
	}
	fmt.Fprintf(w, "%s%s%s%s\n", head, g.life, strings.Repeat(" ", l.arrow), g.life)
}

// drawStep writes one packet: the arrow line, continuation lines for a long
// label, the margin notes alongside, then the explanation.
func drawStep(w io.Writer, st step, l layout, g glyphs, p painter, width int) {
	r := st.rec
	c2s := r.Dir == reassembly.ClientToServer
	inner := l.arrow - 5 // text room on the arrow line: "─ " + text + " " + "─…▶"
	text := wrapWords(st.words, inner)
	nlab := 0
	for _, lab := range st.labels {
		ls := wrapLabel(lab, l.arrow-4, g.ell)
		text = append(text, ls...)
		nlab += len(ls)
	}
	notes := []string{}
	for _, n := range st.notes {
		notes = append(notes, wrapNote(n, l.notes)...)
	}
	colour := ansiCyan
	if !c2s {
		colour = ansiGreen
	}
	if r.Flags.Has(capture.RST) {
		colour = ansiRed
	}
	lines := max(len(text), len(notes))
	pad := strings.Repeat(" ", l.left)
	for i := range lines {
		var b strings.Builder
		if i == 0 {
			fmt.Fprintf(&b, "%*d %-*s  ", l.frameW, r.Frame, l.timeW, relTime(st.rel))
		} else {
			b.WriteString(pad)
		}
		b.WriteString(g.life)
		switch {
		case i == 0:
			t := text[0]
			fill := strings.Repeat(g.line, max(1, l.arrow-width0(t)-4))
			if c2s {
				b.WriteString(p.paint(colour, g.line+" "+t+" "+fill+g.right))
			} else {
				b.WriteString(p.paint(colour, g.left+fill+" "+t+" "+g.line))
			}
		case i < len(text):
			t := text[i]
			if i >= len(text)-nlab {
				t = p.paint(ansiBold, t)
			}
			gap := max(0, l.arrow-width0(text[i])-3)
			if c2s {
				b.WriteString("  " + t + strings.Repeat(" ", gap+1))
			} else {
				b.WriteString(strings.Repeat(" ", gap+1) + t + "  ")
			}
		default:
			b.WriteString(strings.Repeat(" ", l.arrow))
		}
		b.WriteString(g.life)
		if i < len(notes) {
			b.WriteString("  " + p.paint(ansiYell, notes[i]))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	if st.explain != "" {
		for _, line := range wrapText(st.explain, width-l.left-3) {
			fmt.Fprintf(w, "%s%s  %s\n", pad, g.life, p.paint(ansiDim, line))
		}
		fmt.Fprintf(w, "%s%s%s%s\n", pad, g.life, strings.Repeat(" ", l.arrow), g.life)
	}
}

// wrapWords joins words with spaces into lines of at most width columns (a
// longer word gets a line of its own).
func wrapWords(words []string, width int) []string {
	var lines []string
	cur := ""
	for _, wd := range words {
		switch {
		case cur == "":
			cur = wd
		case width0(cur)+1+width0(wd) <= width:
			cur += " " + wd
		default:
			lines = append(lines, cur)
			cur = wd
		}
	}
	if cur != "" || len(lines) == 0 {
		lines = append(lines, cur)
	}
	return lines
}

// wrapText wraps prose at spaces into lines of at most width columns.
func wrapText(s string, width int) []string {
	return wrapWords(strings.Fields(s), max(width, 10))
}

// wrapNote wraps an annotation, breaking after its commas first
// ("handshake complete," / "RTT 0.041 ms") when the pieces fit.
func wrapNote(s string, width int) []string {
	if width0(s) <= width {
		return []string{s}
	}
	var lines []string
	parts := strings.SplitAfter(s, ", ")
	for _, p := range parts {
		lines = append(lines, wrapText(strings.TrimSpace(p), width)...)
	}
	return lines
}

// wrapLabel fits a message summary in at most two lines of width columns:
// it breaks at the last space that fits (keeping the text as it is), and cuts
// the second line with ell when it is still too long.
func wrapLabel(s string, width int, ell string) []string {
	if width0(s) <= width {
		return []string{s}
	}
	cut := -1
	n := 0
	for i, r := range s {
		n += runeWidth(r)
		if n > width {
			break
		}
		if r == ' ' {
			cut = i
		}
	}
	if cut <= 0 {
		return []string{truncate(s, width, ell)}
	}
	return []string{s[:cut], truncate(s[cut+1:], width, ell)}
}

// truncate cuts s to at most width columns, marking the cut with ell.
func truncate(s string, width int, ell string) string {
	if width0(s) <= width {
		return s
	}
	var b strings.Builder
	n := 0
	for _, r := range s {
		rw := runeWidth(r)
		if n+rw > width-width0(ell) {
			break
		}
		b.WriteRune(r)
		n += rw
	}
	return b.String() + ell
}

// width0 returns the columns s takes on a terminal (no escape sequences in s).
func width0(s string) int {
	if isASCII(s) {
		return len(s)
	}
	n := 0
	for _, r := range s {
		n += runeWidth(r)
	}
	return n
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// runeWidth is a small East Asian width table: combining marks take no
// column, wide and fullwidth characters take two.
func runeWidth(r rune) int {
	switch {
	case r >= 0x300 && r <= 0x36f, r == 0x200b, r >= 0xfe00 && r <= 0xfe0f:
		return 0
	case r >= 0x1100 && r <= 0x115f, r >= 0x2e80 && r <= 0xa4cf, r >= 0xac00 && r <= 0xd7a3,
		r >= 0xf900 && r <= 0xfaff, r >= 0xfe30 && r <= 0xfe4f, r >= 0xff00 && r <= 0xff60,
		r >= 0xffe0 && r <= 0xffe6, r >= 0x1f300 && r <= 0x1f64f, r >= 0x1f900 && r <= 0x1f9ff,
		r >= 0x20000 && r <= 0x3fffd:
		return 2
	}
	return 1
}
