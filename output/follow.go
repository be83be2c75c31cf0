package output

import (
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"sort"
	"strings"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/internal/spillbuf"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
)

// FollowOptions shapes the follow text view.
type FollowOptions struct {
	Width int  // columns available (0: 100)
	All   bool // no elision of long runs, every message listed
	Dirs  []reassembly.Direction
	// TLS, when set, is the stream decrypted: the view then shows its TLS
	// records (the framing of a) and the messages inside them.
	TLS *decode.TLSLayer
	// KeysHint, when set, says how to get the keys of a TLS stream shown
	// without them.
	KeysHint string
}

// maxRuler is the largest direction (in bytes and segments) drawn as a ruler.
const (
	maxRulerBytes = 1 << 16
	maxRulerSegs  = 40
	elideRun      = 8  // runs of similar segments longer than this are elided
	maxMessages   = 60 // messages listed per direction before eliding
)

// FollowText renders the framing view of one stream: header, per-direction
// summary, segment table, message table and, for small streams, a ruler.
func FollowText(w io.Writer, a *decode.Analysis, o FollowOptions) error {
	var shown [2]shownMessages
	for d := range shown {
		shown[d] = shownOf(a.Messages[d], o.All)
	}
	return followText(w, a, o, shown)
}

// shownMessages is what the message table of one direction lists: all
// the messages, or, past maxMessages (without --all), the first and the
// last ones, with how many there are in all.
type shownMessages struct {
	head, tail []decode.Message
	total      int
}

// shownOf picks the messages the table lists from all of them.
func shownOf(msgs []decode.Message, all bool) shownMessages {
	if all || len(msgs) <= maxMessages {
		return shownMessages{head: msgs, total: len(msgs)}
	}
	return shownMessages{head: msgs[:maxMessages-10], tail: msgs[len(msgs)-10:], total: len(msgs)}
}

// FollowTextView writes follow's text view of a stream whose messages are
// framed as a stream (decode.AnalyzeTo with Message as the sink): it keeps
// only the messages its table lists (all of them with --all), so that the
// view of a stream of a million messages holds a few dozen.
type FollowTextView struct {
	all   bool
	shown [2]shownMessages
	ring  [2][10]decode.Message // the last messages past the first ones
}

// NewFollowTextView returns a view whose Message takes the stream's
// messages as they are framed; all keeps every one (--all).
func NewFollowTextView(all bool) *FollowTextView { return &FollowTextView{all: all} }

// Message takes message m (the sink of decode.AnalyzeTo).
func (v *FollowTextView) Message(m decode.Message) {
	sm := &v.shown[m.Dir&1]
	if v.all || len(sm.head) < maxMessages-10 {
		sm.head = append(sm.head, m)
	} else {
		v.ring[m.Dir&1][(sm.total-len(sm.head))%10] = m
	}
	sm.total++
}

// Write writes the text view of analysis a (framed with Message as its
// sink) to w.
func (v *FollowTextView) Write(w io.Writer, a *decode.Analysis, o FollowOptions) error {
	o.All = v.all
	shown := v.shown
	for d := range shown {
		sm := &shown[d]
		n := sm.total - len(sm.head) // messages after the first ones, the last 10 of them in the ring
		for i := max(0, n-10); i < n; i++ {
			sm.tail = append(sm.tail, v.ring[d][i%10])
		}
		if sm.total <= maxMessages {
			sm.head, sm.tail = append(sm.head, sm.tail...), nil
		}
	}
	return followText(w, a, o, shown)
}

// followText is FollowText with the messages its tables list.
func followText(w io.Writer, a *decode.Analysis, o FollowOptions, shown [2]shownMessages) error {
	ew := &errWriter{w: w}
	s := a.Stream
	if o.Width <= 0 {
		o.Width = 100
	}
	client := s.Client.String()
	if s.ClientGuessed {
		client += "?"
	}
	fmt.Fprintf(ew, "%s  %s → %s  framing %s\n", s.Name(), client, s.Server, a.Framing)
	fmt.Fprintf(ew, "why      %s\n", textsafe.Escape(a.Reason))
	if s.Path != nil {
		fmt.Fprintf(ew, "path     %s\n", textsafe.Escape(s.Path.String()))
	}
	if s.Dups != nil {
		fmt.Fprintf(ew, "copies   %s\n", dupsText(s.Dups))
	}
	fmt.Fprintf(ew, "state    %s · %s · frames %d–%d\n", s.Describe(), human.Duration(s.Duration()), s.FirstFrame, s.LastFrame)
	dirs := o.Dirs
	if len(dirs) == 0 {
		dirs = []reassembly.Direction{reassembly.ClientToServer, reassembly.ServerToClient}
	}
	if o.KeysHint != "" {
		fmt.Fprintf(ew, "keys     %s\n", o.KeysHint)
	}
	if o.TLS != nil {
		fmt.Fprintf(ew, "tls      %s\n", tlsLine(o.TLS))
		if in := o.TLS.Inner; in != nil {
			fmt.Fprintf(ew, "inside   %s (%s)\n", in.Framing, textsafe.Escape(in.Reason))
		}
	}
	for _, d := range dirs {
		if o.TLS != nil && o.TLS.Inner != nil {
			fmt.Fprintf(ew, "%s      %s\n", d.Arrow(), tlsSummary(a, o.TLS, d))
			continue
		}
		fmt.Fprintf(ew, "%s      %s\n", d.Arrow(), framingSummary(a, d))
	}
	for _, d := range dirs {
		if ew.err != nil {
			return ew.err
		}
		h := &s.Dirs[d]
		if h.Segments.Len() == 0 && a.MessageCount(d) == 0 {
			continue
		}
		fmt.Fprintf(ew, "\n%s segments\n", d.Arrow())
		if err := segmentTable(ew, a, d, o); err != nil {
			return err
		}
		what := "messages"
		switch {
		case o.TLS != nil && o.TLS.After != "" && o.TLS.Switch[d] >= 0:
			what = fmt.Sprintf("messages, TLS records from byte %d", o.TLS.Switch[d])
		case o.TLS != nil && o.TLS.After == "":
			what = "TLS records"
		}
		fmt.Fprintf(ew, "\n%s %s\n", d.Arrow(), what)
		if err := messageTable(ew, a, d, o, shown[d]); err != nil {
			return err
		}
		if h.End > 0 && h.End <= maxRulerBytes && h.Segments.Len() <= maxRulerSegs && a.MessageCount(d) > 0 {
			fmt.Fprintln(ew)
			ruler(ew, a, d, o.Width)
		}
		problems(ew, a, d)
		if o.TLS != nil && o.TLS.Inner != nil {
			fmt.Fprintf(ew, "\n%s messages inside TLS (%s)\n", d.Arrow(), o.TLS.Inner.Framing)
			if err := innerTable(ew, o.TLS, d, o); err != nil {
				return err
			}
			problems(ew, o.TLS.Inner, d)
		}
	}
	return ew.err
}

// tlsLine says what the handshake showed and how much was decrypted.
func tlsLine(l *decode.TLSLayer) string {
	in := l.Info
	parts := []string{tlsdec.VersionName(in.Version)}
	if in.Suite != 0 {
		parts = append(parts, tlsdec.SuiteName(in.Suite))
	}
	if in.SNI != "" {
		parts = append(parts, "SNI "+textsafe.Escape(in.SNI))
	}
	if in.ALPN != "" {
		parts = append(parts, "ALPN "+textsafe.Escape(in.ALPN))
	}
	if in.HelloRetry {
		parts = append(parts, "HelloRetryRequest")
	}
	if in.Resumed {
		parts = append(parts, "resumed")
	}
	if l.After != "" {
		var at []string
		for d, off := range l.Switch {
			if off >= 0 {
				at = append(at, fmt.Sprintf("%s byte %d", reassembly.Direction(d).Arrow(), off))
			}
		}
		parts = append([]string{l.After + " switched to TLS at " + strings.Join(at, ", ")}, parts...)
	}
	dec := fmt.Sprintf("%d of %d encrypted records decrypted", l.Decrypted[0]+l.Decrypted[1], l.Decrypted[0]+l.Decrypted[1]+l.Failed[0]+l.Failed[1])
	if l.Reason != "" {
		dec += " (" + textsafe.Escape(l.Reason) + ")"
	}
	return strings.Join(append(parts, dec), " · ")
}

// tlsSummary: "3 http1 messages in 4 TLS records in 5 segments; 1 record
// split across 3 segments".
func tlsSummary(a *decode.Analysis, l *decode.TLSLayer, d reassembly.Direction) string {
	n := len(l.Inner.Messages[d])
	recs := len(l.Records[d])
	segs := a.Stats[d].Segments
	s := ""
	if l.After != "" {
		// The cleartext messages before the switch, then the TLS ones.
		at, clear := l.Switch[d], 0
		if at < 0 {
			return framingSummary(a, d) + "; no switch to TLS this way"
		}
		for _, m := range a.Messages[d] {
			if m.Range.Start < at {
				clear++
			}
		}
		segs = 0
		for _, sg := range a.Stream.Dirs[d].Segments.All() {
			if sg.Added.Len() > 0 && sg.Added.End > at {
				segs++
			}
		}
		s = fmt.Sprintf("%d %s message%s in the clear, then ", clear, l.After, plural(clear))
	}
	s += fmt.Sprintf("%d %s message%s in %d TLS record%s in %d segment%s", n, l.Inner.Framing, plural(n), recs, plural(recs), segs, plural(segs))
	if split := a.Stats[d].Split; split > 0 {
		s += fmt.Sprintf("; %d record%s split across segments", split, plural(split))
	}
	multi := 0
	for _, r := range l.MsgRecords[d] {
		if len(r) > 1 {
			multi++
		}
	}
	if multi > 0 {
		s += fmt.Sprintf("; %d message%s spanning several records", multi, plural(multi))
	}
	return s
}

// innerTable lists the messages inside TLS with the records and segments
// (frames) that carried them.
func innerTable(w io.Writer, l *decode.TLSLayer, d reassembly.Direction, o FollowOptions) error {
	msgs := l.Inner.Messages[d]
	if len(msgs) == 0 {
		_, err := fmt.Fprintf(w, "(none)\n")
		return err
	}
	t := newTable(w, []string{"msg", "bytes", "len", "records", "frames", "protocol", "summary"}, "rlrllll")
	sumWidth := max(24, o.Width-64)
	span := func(v []int, pre string) string {
		switch len(v) {
		case 0:
			return ""
		case 1:
			return fmt.Sprintf("%s%d", pre, v[0])
		}
		return fmt.Sprintf("%s%d–%s%d", pre, v[0], pre, v[len(v)-1])
	}
	for i, m := range msgs {
		if !o.All && len(msgs) > maxMessages && i == maxMessages-10 {
			t.Append([]string{"…", "", "", "", "", "", fmt.Sprintf("%d more messages (--all shows them)", len(msgs)-maxMessages)})
		}
		if !o.All && len(msgs) > maxMessages && i >= maxMessages-10 && i < len(msgs)-10 {
			continue
		}
		t.Append([]string{fmt.Sprintf("#%d", m.Index), m.Range.String(), fmt.Sprint(m.Range.Len()), span(l.MsgRecords[d][i], "#"),
			span(m.Frames, ""), m.Protocol, clip(textsafe.Escape(m.Summary), sumWidth)})
	}
	return t.Render()
}

func framingSummary(a *decode.Analysis, d reassembly.Direction) string {
	st := a.Stats[d]
	unit := "segment"
	if a.Stream.Proto.String() == "udp" {
		unit = "datagram"
	}
	parts := []string{fmt.Sprintf("%d message%s in %d %s%s", st.Messages, plural(st.Messages), st.Segments, unit, plural(st.Segments))}
	if st.Split > 0 {
		parts = append(parts, fmt.Sprintf("%d message%s split across %ss", st.Split, plural(st.Split), unit))
	}
	if st.Multi > 0 {
		parts = append(parts, fmt.Sprintf("%d %s%s carried 2+ messages", st.Multi, unit, plural(st.Multi)))
	}
	if st.Exact > 0 {
		parts = append(parts, fmt.Sprintf("%d %s%s carried exactly one message", st.Exact, unit, plural(st.Exact)))
	}
	if st.Partial > 0 {
		parts = append(parts, fmt.Sprintf("%d partial (gap or end of capture)", st.Partial))
	}
	if st.Errors > 0 {
		parts = append(parts, fmt.Sprintf("%d framing error%s", st.Errors, plural(st.Errors)))
	}
	if st.Answered > 0 {
		parts = append(parts, fmt.Sprintf("%d answer%s: service time median %s, p99 %s, max %s", st.Answered, plural(st.Answered),
			human.Duration(st.ServiceMedian), human.Duration(st.ServiceP99), human.Duration(st.ServiceMax)))
	}
	if st.Unanswered > 0 {
		parts = append(parts, fmt.Sprintf("%d request%s never answered", st.Unanswered, plural(st.Unanswered)))
	}
	h := &a.Stream.Dirs[d]
	if h.Missing > 0 {
		parts = append(parts, fmt.Sprintf("%s missing", human.Bytes(h.Missing)))
	}
	return strings.Join(parts, " · ")
}

// carries describes what a segment's new bytes hold of each message.
func carries(a *decode.Analysis, d reassembly.Direction, seg reassembly.Segment, sm decode.SegmentMessages) string {
	// A message is known here by its place (Index = place + 1) and range:
	// the analysis may not hold the messages (decode.AnalyzeTo).
	type msg struct {
		Index int
		Range reassembly.ByteRange
	}
	if len(sm.Carries) == 0 {
		if len(sm.Resends) > 0 {
			var ids []string
			for _, mi := range sm.Resends {
				ids = append(ids, fmt.Sprintf("#%d", mi+1))
			}
			return "re-sends " + strings.Join(ids, ", ")
		}
		return ""
	}
	var parts []string
	var run []msg // consecutive messages carried whole
	flush := func() {
		switch {
		case len(run) >= 3:
			var n int64
			for _, m := range run {
				n += m.Range.Len()
			}
			parts = append(parts, fmt.Sprintf("#%d–#%d whole (%d messages, %d B)", run[0].Index, run[len(run)-1].Index, len(run), n))
		default:
			for _, m := range run {
				parts = append(parts, fmt.Sprintf("#%d whole (%d B)", m.Index, m.Range.Len()))
			}
		}
		run = run[:0]
	}
	for _, mi := range sm.Carries {
		m := msg{mi + 1, a.MessageRange(d, mi)}
		lo, hi := max(m.Range.Start, seg.Added.Start), min(m.Range.End, seg.Added.End)
		n := hi - lo
		if lo == m.Range.Start && hi == m.Range.End {
			run = append(run, m)
			continue
		}
		flush()
		switch {
		case lo == m.Range.Start:
			parts = append(parts, fmt.Sprintf("#%d start (%d of %d B)", m.Index, n, m.Range.Len()))
		case hi == m.Range.End:
			parts = append(parts, fmt.Sprintf("#%d end (%d B)", m.Index, n))
		default:
			parts = append(parts, fmt.Sprintf("#%d middle (%d B)", m.Index, n))
		}
	}
	flush()
	return strings.Join(parts, " · ")
}

func segmentTable(w io.Writer, a *decode.Analysis, d reassembly.Direction, o FollowOptions) error {
	h := &a.Stream.Dirs[d]
	t := newTable(w, []string{"seg", "frame", "time", "seq", "len", "bytes", "kind", "carries"}, "rrlrrlll")
	start := a.Stream.Start
	type row struct {
		cells []string
		shape string
	}
	// Rows are grouped into runs of one shape as they are made; of a run
	// longer than elideRun only its first three and last two rows are
	// shown, so only those are held (a stream of a million segments costs
	// a few rows, not a million).
	var (
		head  []row  // the run's first rows: all of them while it is no longer than elideRun (all of it with --all)
		tail  [3]row // its last three rows
		n     int    // rows in the run
		first int    // index of its first segment
	)
	flush := func() {
		switch {
		case n == 0:
		case o.All || n <= elideRun:
			for _, r := range head {
				t.Append(r.cells)
			}
		default:
			i, j := first, first+n
			for _, r := range head[:3] {
				t.Append(r.cells)
			}
			t.Append([]string{"…", "", "", "", "", "", fmt.Sprintf("%d more like these", j-i-5), fmt.Sprintf("(segments %d–%d, frames %s–%s; --all shows them)", i+4, j-2, head[3].cells[1], tail[0].cells[1])})
			for _, r := range tail[1:] {
				t.Append(r.cells)
			}
		}
		head, n = head[:0], 0
	}
	for i, seg := range h.Segments.All() {
		sm := a.SegmentAt(d, i, seg)
		added := ""
		if seg.NewBytes > 0 {
			added = seg.Added.String()
		}
		c := carries(a, d, *seg, sm)
		kind := seg.Kind.String()
		if seg.Captured < seg.Len {
			kind += fmt.Sprintf(" (%d B captured)", seg.Captured)
		}
		r := row{[]string{fmt.Sprint(i + 1), fmt.Sprint(seg.Frame), "+" + secs(seg.Time.Sub(start)), fmt.Sprint(seg.Seq), fmt.Sprint(seg.Len), added, kind, c}, kind + "|" + shapeOf(c)}
		if n > 0 && r.shape != head[0].shape {
			flush()
		}
		if n == 0 {
			first = i
		}
		if o.All || len(head) < elideRun {
			head = append(head, r)
		}
		tail[0], tail[1], tail[2] = tail[1], tail[2], r
		n++
	}
	flush()
	return t.Render()
}

// shapeOf turns "#12 middle (1448 B)" into "middle (1448 B)" so that runs of
// segments that each carry a slice of one big message compare equal.
func shapeOf(c string) string {
	if strings.Contains(c, "·") || !strings.HasPrefix(c, "#") {
		return c
	}
	if i := strings.IndexByte(c, ' '); i > 0 {
		return c[i:]
	}
	return c
}

func messageTable(w io.Writer, a *decode.Analysis, d reassembly.Direction, o FollowOptions, ms shownMessages) error {
	if ms.total == 0 {
		_, err := fmt.Fprintf(w, "(none)\n")
		return err
	}
	t := newTable(w, []string{"msg", "bytes", "len", "segments", "protocol", "summary", "note"}, "rlrllll")
	// The messages shown: all, or the first and the last ones.
	shown := func(mi int) bool { return mi < len(ms.head) || mi >= ms.total-len(ms.tail) }
	segsOf := make(map[int][]int) // shown message -> segment numbers that carried its bytes
	for i, seg := range a.Stream.Dirs[d].Segments.All() {
		for _, mi := range a.SegmentAt(d, i, seg).Carries {
			if shown(mi) {
				segsOf[mi] = append(segsOf[mi], i+1)
			}
		}
	}
	sumWidth := max(24, o.Width-60)
	show := func(m decode.Message) {
		segs := segsOf[m.Index-1]
		sort.Ints(segs)
		span := ""
		switch len(segs) {
		case 0:
		case 1:
			span = fmt.Sprint(segs[0])
		default:
			span = fmt.Sprintf("%d–%d", segs[0], segs[len(segs)-1])
		}
		var notes []string
		switch {
		case m.Partial:
			notes = append(notes, "partial")
		case len(segs) > 1:
			notes = append(notes, fmt.Sprintf("split across %d segments", len(segs)))
		}
		if m.Answers > 0 {
			a := fmt.Sprintf("answers #%d", m.Answers)
			if len(m.Frames) > 0 && m.Service >= 0 {
				a += " after " + human.Duration(m.Service)
			}
			notes = append(notes, a)
		}
		note := strings.Join(notes, " · ")
		t.Append([]string{fmt.Sprintf("#%d", m.Index), m.Range.String(), fmt.Sprint(m.Range.Len()), span, m.Protocol, clip(textsafe.Escape(m.Summary), sumWidth), note})
	}
	for _, m := range ms.head {
		show(m)
	}
	if len(ms.tail) > 0 {
		t.Append([]string{"…", "", "", "", "", fmt.Sprintf("%d more messages (--all shows them)", ms.total-len(ms.head)-len(ms.tail)), ""})
		for _, m := range ms.tail {
			show(m)
		}
	}
	return t.Render()
}

// clip shortens an (escaped) string to n runes.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func problems(w io.Writer, a *decode.Analysis, d reassembly.Direction) {
	h := &a.Stream.Dirs[d]
	var lines []string
	for _, g := range h.Gaps {
		why := "never captured"
		switch g.Kind {
		case reassembly.GapSnaplen:
			why = "cut by the snapshot length"
		case reassembly.GapBuffer:
			why = "given up: out-of-order buffer cap"
		}
		lines = append(lines, fmt.Sprintf("gap %s: %d bytes %s", g.Range, g.Range.Len(), why))
	}
	for _, e := range a.Errors[d] {
		lines = append(lines, fmt.Sprintf("framing error at offset %d: %s", e.Offset, textsafe.Escape(e.Reason)))
	}
	for _, an := range a.Stream.Anomalies {
		if an.Dir == d && an.Kind != reassembly.AnomalyRetransmission && an.Kind != reassembly.AnomalyOutOfOrder {
			lines = append(lines, fmt.Sprintf("frame %d: %s", an.Frame, an.Reason))
		}
	}
	if len(lines) == 0 {
		return
	}
	if len(lines) > 20 {
		lines = append(lines[:18], fmt.Sprintf("… %d more", len(lines)-18))
	}
	fmt.Fprintf(w, "\n%s notes\n", d.Arrow())
	for _, l := range lines {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// ruler draws segment boundaries above message boundaries. Each interval
// between two boundaries gets at least 3 columns, the rest of the width is
// shared in proportion to the bytes, so 1-byte segments stay visible next to a
// 100 KB message.
func ruler(w io.Writer, a *decode.Analysis, d reassembly.Direction, width int) {
	h := &a.Stream.Dirs[d]
	cols := max(20, width-9)
	bset := map[int64]bool{0: true, h.End: true}
	var segs []reassembly.ByteRange
	for _, seg := range h.Segments.All() {
		if seg.NewBytes > 0 {
			segs = append(segs, seg.Added)
			bset[seg.Added.Start], bset[seg.Added.End] = true, true
		}
	}
	for _, g := range h.Gaps {
		bset[g.Range.Start], bset[g.Range.End] = true, true
	}
	for i := range a.MessageCount(d) {
		r := a.MessageRange(d, i)
		bset[r.Start], bset[r.End] = true, true
	}
	var bs []int64
	for b := range bset {
		if b >= 0 && b <= h.End {
			bs = append(bs, b)
		}
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i] < bs[j] })
	n := len(bs) - 1
	if n < 1 || n*3 > cols {
		fmt.Fprintf(w, " (ruler omitted: %d boundaries do not fit in %d columns)\n", n+1, cols)
		return
	}
	spare := cols - 3*n
	total := max(h.End, 1)
	pos := make(map[int64]int, len(bs))
	c := 0
	for i, b := range bs {
		pos[b] = c
		if i < n {
			c += 3 + int((bs[i+1]-b)*int64(spare)/total)
		}
	}
	line := func() []rune { return []rune(strings.Repeat(" ", c+1)) }
	segLine, msgLine, bytesLine := line(), line(), []rune(strings.Repeat(" ", c+12))
	draw := func(l []rune, r reassembly.ByteRange, label string, fill rune) {
		a, b := pos[r.Start], pos[r.End]
		for i := a + 1; i < b; i++ {
			l[i] = fill
		}
		l[a], l[b] = '|', '|'
		lr := []rune(label)
		if b-a-1 >= len(lr) {
			copy(l[a+1+(b-a-1-len(lr))/2:], lr)
		}
	}
	k := 0
	for _, r := range segs {
		k++
		draw(segLine, r, fmt.Sprint(k), '-')
	}
	for _, g := range h.Gaps {
		draw(segLine, g.Range, "gap", '.')
	}
	for i := range a.MessageCount(d) {
		draw(msgLine, a.MessageRange(d, i), fmt.Sprintf("#%d", i+1), '=')
	}
	next := 0
	for _, b := range bs {
		label := []rune(fmt.Sprint(b))
		p := pos[b]
		if p < next || p+len(label) > len(bytesLine) {
			continue
		}
		copy(bytesLine[p:], label)
		next = p + len(label) + 1
	}
	fmt.Fprintf(w, " bytes  %s\n", strings.TrimRight(string(bytesLine), " "))
	fmt.Fprintf(w, " segs   %s\n", strings.TrimRight(string(segLine), " "))
	fmt.Fprintf(w, " msgs   %s\n", strings.TrimRight(string(msgLine), " "))
}

func secs(d interface{ Seconds() float64 }) string { return fmt.Sprintf("%.6f", d.Seconds()) }

// FollowTranscript shows both directions interleaved in capture order, each
// chunk tagged with its frame, length and the messages that start in it;
// payload escaped.
func FollowTranscript(w io.Writer, a *decode.Analysis, o FollowOptions) error {
	ew := &errWriter{w: w}
	s := a.Stream
	width := max(40, o.Width)
	fmt.Fprintf(ew, "%s  %s → %s  framing %s\n", s.Name(), s.Client, s.Server, a.Framing)
	piece := func(d reassembly.Direction, c reassembly.Chunk) bool {
		h := &s.Dirs[d]
		// The messages that start in the chunk (messages go up the stream).
		n := a.MessageCount(d)
		first := a.MessageFrom(d, c.Range.Start)
		last := first
		for last < n && a.MessageRange(d, last).Start < c.Range.End {
			last++
		}
		var starts []string
		for i := first; i < last; i++ {
			starts = append(starts, fmt.Sprintf("#%d", i+1))
		}
		tag := ""
		if len(starts) > 0 {
			tag = "  starts " + strings.Join(starts, " ")
		}
		fmt.Fprintf(ew, "\n── frame %d  %s  %s  %d B%s\n", c.Frame, d.Arrow(), c.Range, c.Range.Len(), tag)
		data := h.DataAt(c.Data, c.Range.Len())
		// Split the chunk at message starts and mark them.
		pos := c.Range.Start
		var b strings.Builder
		for i := first; i < last; i++ {
			if at := a.MessageRange(d, i).Start; at > pos {
				b.WriteString(textsafe.Escape(string(data[pos-c.Range.Start : at-c.Range.Start])))
				pos = at
			}
			fmt.Fprintf(&b, "⟦#%d⟧", i+1)
		}
		b.WriteString(textsafe.Escape(string(data[pos-c.Range.Start:])))
		for _, line := range wrapRunes(b.String(), width-4) {
			fmt.Fprintf(ew, "    %s\n", line)
		}
		return ew.err == nil
	}
	inFrameOrder(s, piece)
	return ew.err
}

// inFrameOrder calls f with every chunk of both directions in order of the
// frames that supplied them (within a frame, in stream order), until f
// returns false. Each direction's segment map is in capture order, and a
// frame's chunks lie within the bytes its segment added: the two maps are
// merged and each segment's chunks looked up, so nothing is held. Where a
// segment map is not in frame order (a decrypted TLS layer's may not be),
// the chunks are sorted instead.
func inFrameOrder(s *reassembly.Stream, f func(reassembly.Direction, reassembly.Chunk) bool) {
	ascending := true
	for d := range s.Dirs {
		prev := 0
		for _, seg := range s.Dirs[d].Segments.All() {
			if seg.Frame < prev {
				ascending = false
				break
			}
			prev = seg.Frame
		}
	}
	if !ascending {
		type piece struct {
			d reassembly.Direction
			c reassembly.Chunk
		}
		var ps []piece
		for _, d := range []reassembly.Direction{0, 1} {
			for _, c := range s.Dirs[d].Chunks.All() {
				ps = append(ps, piece{d, *c})
			}
		}
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].c.Frame < ps[j].c.Frame })
		for _, p := range ps {
			if !f(p.d, p.c) {
				return
			}
		}
		return
	}
	// The chunks of segment seg of direction d.
	chunks := func(d reassembly.Direction, seg reassembly.Segment) bool {
		h := &s.Dirs[d]
		for i := h.ChunkAt(seg.Added.Start); i < h.Chunks.Len(); i++ {
			c := *h.Chunks.At(i)
			if c.Range.Start >= seg.Added.End {
				break
			}
			if c.Frame == seg.Frame && !f(d, c) {
				return false
			}
		}
		return true
	}
	var next [2]func() (int, *reassembly.Segment, bool)
	var stop [2]func()
	for d := range s.Dirs {
		next[d], stop[d] = iter.Pull2(s.Dirs[d].Segments.All())
		defer stop[d]()
	}
	var cur [2]*reassembly.Segment
	advance := func(d int) {
		for {
			_, seg, ok := next[d]()
			if !ok {
				cur[d] = nil
				return
			}
			if seg.NewBytes > 0 {
				cur[d] = seg
				return
			}
		}
	}
	advance(0)
	advance(1)
	for cur[0] != nil || cur[1] != nil {
		d := 0
		if cur[0] == nil || cur[1] != nil && cur[1].Frame < cur[0].Frame {
			d = 1
		}
		if !chunks(reassembly.Direction(d), *cur[d]) {
			return
		}
		advance(d)
	}
}

func wrapRunes(s string, n int) []string {
	r := []rune(s)
	var out []string
	for len(r) > n {
		out = append(out, string(r[:n]))
		r = r[n:]
	}
	return append(out, string(r))
}

// Follow JSON records.
type followHeader struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Client  string `json:"client"`
	Server  string `json:"server"`
	Framing string `json:"framing"`
	Path    string `json:"path,omitempty"`
	// PathDuplicates and DuplicatePaths are read's stream fields: packets
	// seen again through another path (not counted), and the two paths.
	PathDuplicates int            `json:"path_duplicates,omitempty"`
	DuplicatePaths []string       `json:"duplicate_paths,omitempty"`
	Reason         string         `json:"reason"`
	State          string         `json:"state"`
	Stats          map[string]any `json:"stats"`
}

type segmentRecord struct {
	Type     string `json:"type"`
	Dir      string `json:"dir"`
	Frame    int    `json:"frame"`
	Time     string `json:"time"`
	RelTime  string `json:"rel_time"`
	Seq      int64  `json:"seq"`
	Len      int    `json:"len"`
	Captured int    `json:"captured"`
	Start    int64  `json:"start"`
	End      int64  `json:"end"`
	New      int64  `json:"new_bytes"`
	Flags    string `json:"flags,omitempty"`
	Kind     string `json:"kind"`
	Reason   string `json:"reason,omitempty"`
	Messages []int  `json:"messages"`
}

type messageRecord struct {
	Type     string            `json:"type"`
	Dir      string            `json:"dir"`
	Index    int               `json:"index"`
	Start    int64             `json:"start"`
	End      int64             `json:"end"`
	Frames   []int             `json:"frames"`
	Protocol string            `json:"protocol"`
	Summary  string            `json:"summary"`
	Partial  bool              `json:"partial"`
	Fields   map[string]string `json:"fields,omitempty"`
	// Role is "request" or "response" for protocols that have them; a
	// response that answers a request gives the request's index (in the
	// other direction) and, in seconds, the service time (request's last
	// frame to its first) and the transfer time (its first frame to its
	// last).
	Role     string `json:"role,omitempty"`
	Answers  int    `json:"answers,omitempty"`
	Service  string `json:"service_time,omitempty"`
	Transfer string `json:"transfer_time,omitempty"`
}

// newMessageRecord is the JSON record of message m of direction d.
func newMessageRecord(typ string, d reassembly.Direction, m decode.Message) messageRecord {
	rec := messageRecord{Type: typ, Dir: d.String(), Index: m.Index, Start: m.Range.Start, End: m.Range.End,
		Frames: m.Frames, Protocol: m.Protocol, Summary: m.Summary, Partial: m.Partial}
	if rec.Frames == nil {
		rec.Frames = []int{}
	}
	rec.Role, rec.Answers = m.Role, m.Answers
	if m.Answers > 0 && len(m.Frames) > 0 {
		rec.Service, rec.Transfer = secs(m.Service), secs(m.Transfer)
	}
	if len(m.Fields) > 0 {
		rec.Fields = map[string]string{}
		for _, f := range m.Fields {
			rec.Fields[f.Name] = f.Value
		}
	}
	return rec
}

type gapRecord struct {
	Type  string `json:"type"`
	Dir   string `json:"dir"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	Kind  string `json:"kind"`
}

type anomalyRecord struct {
	Type   string `json:"type"`
	Dir    string `json:"dir"`
	Frame  int    `json:"frame,omitempty"`
	Offset *int64 `json:"offset,omitempty"`
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
}

// tlsRecordJSON is a TLS record of a decrypted stream; tlsMessageJSON a
// message inside TLS, with the records (by number) and frames that carried it.
type tlsRecordJSON struct {
	Type      string `json:"type"`
	Dir       string `json:"dir"`
	N         int    `json:"record"`
	Seq       int64  `json:"seq"` // relative sequence number of its first byte (start + 1)
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Len       int64  `json:"len"` // on the wire, header included
	Content   string `json:"content_type"`
	Inner     string `json:"inner_type,omitempty"`
	Decrypted bool   `json:"decrypted"`
	// DecryptedLen is the plaintext length of a decrypted record (TLS 1.3:
	// without the inner type and padding); absent when not decrypted.
	DecryptedLen *int   `json:"decrypted_len,omitempty"`
	AppStart     *int64 `json:"app_start,omitempty"`
	AppEnd       *int64 `json:"app_end,omitempty"`
	Segments     int    `json:"segments"` // how many frames carried its bytes
	Frames       []int  `json:"frames"`
	Error        string `json:"error,omitempty"`
}

type tlsMessageJSON struct {
	messageRecord
	Records []int `json:"records"`
}

// tlsJSON writes direction d's tls_record and tls_message records (start
// and end of a tls_message are offsets in the decrypted application data).
func tlsJSON(enc *json.Encoder, l *decode.TLSLayer, d reassembly.Direction) error {
	if l == nil {
		return nil
	}
	for _, r := range l.Records[d] {
		rec := tlsRecordJSON{Type: "tls_record", Dir: d.String(), N: r.N, Seq: r.Range.Start + 1, Start: r.Range.Start, End: r.Range.End,
			Len: r.Range.Len(), Content: r.Type, Inner: r.Inner, Decrypted: r.Decrypted, Segments: len(r.Frames), Frames: r.Frames, Error: r.Err}
		if r.Decrypted {
			n := r.Plain
			rec.DecryptedLen = &n
		}
		if r.App.Len() > 0 {
			s, e := r.App.Start, r.App.End
			rec.AppStart, rec.AppEnd = &s, &e
		}
		if rec.Frames == nil {
			rec.Frames = []int{}
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	if l.Inner == nil {
		return nil
	}
	for i, m := range l.Inner.Messages[d] {
		rec := tlsMessageJSON{messageRecord: newMessageRecord("tls_message", d, m), Records: l.MsgRecords[d][i]}
		if rec.Records == nil {
			rec.Records = []int{}
		}
		if err := enc.Encode(rec); err != nil {
			return err
		}
	}
	return nil
}

// FollowJSON writes the follow view as JSON lines: a "follow" header, then
// per direction its segments, messages, gaps, and the anomalies. It takes
// the messages from the analysis (decode.Analyze); FollowJSONView writes
// the same from an analysis that streamed them (decode.AnalyzeTo).
func FollowJSON(w io.Writer, a *decode.Analysis, l *decode.TLSLayer) error {
	return (&FollowJSONView{}).Write(w, a, l)
}

// FollowJSONView writes follow's JSON view of a stream whose messages are
// framed as a stream (decode.AnalyzeTo with Message as the sink): each
// message's record is encoded as it comes into a buffer of its direction,
// which moves to a temporary file past a few MiB, and Write puts the
// buffers in their places after the segments. Following a stream of a
// million messages then holds none of them. Close removes the buffers.
type FollowJSONView struct {
	msgs     [2]*spillbuf.Buffer
	enc      [2]*json.Encoder
	streamed bool
}

// followJSONMemory is how much of a direction's message records
// FollowJSONView keeps in memory before it moves them to a file.
const followJSONMemory = 4 << 20

// NewFollowJSONView returns a view whose Message takes the stream's
// messages as they are framed.
func NewFollowJSONView() *FollowJSONView {
	v := &FollowJSONView{streamed: true}
	for d := range v.msgs {
		v.msgs[d] = spillbuf.New(followJSONMemory)
		v.enc[d] = NewJSONEncoder(v.msgs[d])
	}
	return v
}

// Message encodes message m's record (the sink of decode.AnalyzeTo).
func (v *FollowJSONView) Message(m decode.Message) {
	v.enc[m.Dir&1].Encode(newMessageRecord("message", m.Dir, m)) // a Buffer's Write does not fail: Write reports its error
}

// Close drops the buffered message records.
func (v *FollowJSONView) Close() {
	for _, b := range v.msgs {
		if b != nil {
			b.Close()
		}
	}
}

// Write writes the view of analysis a (and of the TLS layer l, when the
// stream was decrypted) to w.
func (v *FollowJSONView) Write(w io.Writer, a *decode.Analysis, l *decode.TLSLayer) error {
	enc := NewJSONEncoder(w)
	s := a.Stream
	stats := map[string]any{}
	for d := range s.Dirs {
		st := a.Stats[d]
		ds := map[string]any{"messages": st.Messages, "segments": st.Segments, "split": st.Split,
			"multi": st.Multi, "exact": st.Exact, "partial": st.Partial, "errors": st.Errors,
			"requests": st.Requests, "answered": st.Answered, "unanswered": st.Unanswered}
		if st.Answered > 0 {
			ds["service_median"], ds["service_p99"], ds["service_max"] = secs(st.ServiceMedian), secs(st.ServiceP99), secs(st.ServiceMax)
		}
		stats[reassembly.Direction(d).String()] = ds
	}
	path := ""
	if s.Path != nil {
		path = s.Path.String()
	}
	hdr := followHeader{Type: "follow", ID: s.Name(), Client: s.Client.String(), Server: s.Server.String(),
		Framing: a.Framing, Path: path, Reason: a.Reason, State: s.State.String(), Stats: stats}
	if d := s.Dups; d != nil {
		hdr.PathDuplicates, hdr.DuplicatePaths = d.Count, []string{d.First, d.Again}
	}
	if err := enc.Encode(hdr); err != nil {
		return err
	}
	for d := range s.Dirs {
		dir := reassembly.Direction(d)
		h := &s.Dirs[d]
		for i, seg := range h.Segments.All() {
			sm := a.SegmentAt(dir, i, seg)
			idx := make([]int, len(sm.Carries))
			for k, mi := range sm.Carries {
				idx[k] = mi + 1 // a message's Index is its place in its direction, from 1
			}
			rec := segmentRecord{Type: "segment", Dir: dir.String(), Frame: seg.Frame, Time: RFC3339(seg.Time), RelTime: secs(seg.Time.Sub(s.Start)),
				Seq: seg.Seq, Len: seg.Len, Captured: seg.Captured, Start: seg.Added.Start, End: seg.Added.End, New: seg.NewBytes,
				Kind: seg.Kind.String(), Reason: seg.Reason(), Messages: idx}
			if s.Proto.String() == "tcp" {
				rec.Flags = seg.Flags.String()
			}
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
		if v.streamed {
			if _, err := v.msgs[d].WriteTo(w); err != nil {
				return err
			}
		} else {
			for _, m := range a.Messages[d] {
				if err := enc.Encode(newMessageRecord("message", dir, m)); err != nil {
					return err
				}
			}
		}
		for _, g := range h.Gaps {
			if err := enc.Encode(gapRecord{Type: "gap", Dir: dir.String(), Start: g.Range.Start, End: g.Range.End, Kind: g.Kind.String()}); err != nil {
				return err
			}
		}
		for _, e := range a.Errors[d] {
			off := e.Offset
			if err := enc.Encode(anomalyRecord{Type: "anomaly", Dir: dir.String(), Offset: &off, Kind: "framing_error", Reason: e.Reason}); err != nil {
				return err
			}
		}
		if err := tlsJSON(enc, l, dir); err != nil {
			return err
		}
	}
	for _, an := range s.Anomalies {
		if err := enc.Encode(anomalyRecord{Type: "anomaly", Dir: an.Dir.String(), Frame: an.Frame, Kind: an.Kind.String(), Reason: an.Reason}); err != nil {
			return err
		}
	}
	return nil
}

// dupsText says, for a view's header, that some of a stream's packets were
// seen twice through two paths and left out: "12 packets seen again
// through another path (no encapsulation, then IPv4 10.97.0.1→10.97.0.2 ›
// VXLAN 77): not counted".
func dupsText(d *reassembly.PathDups) string {
	return fmt.Sprintf("%d packet%s seen again through another path (%s, then %s): not counted", d.Count, plural(d.Count),
		textsafe.Escape(reassembly.PathName(d.First)), textsafe.Escape(reassembly.PathName(d.Again)))
}
