package output

import (
	"cmp"
	"container/heap"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/reassembly"
)

// SizingRows is how many rows the text view of read holds to size its
// columns. A table with more rows (in ID order, with --limit 0 or a limit
// above it) is printed while the capture is read: the first SizingRows rows
// size the columns (the stream column has room for ten million streams),
// a later cell wider than its column pushes the rest of its row right, and the capture's totals follow the table, so memory stays
// bounded by the streams in flight however many the capture holds.
var SizingRows = 10_000 // a variable for tests: the layout at a size a golden file can hold

// ReadTextWriter writes read's text view from finished streams.
//
// Stream must be called with each protocol's streams in ID order (TCP and
// UDP may be interleaved: reassembly.Ordered delivers them so). In ID order
// (ReadOptions.Sort "id" or "") only the rows shown are held, at most
// SizingRows of them (or Limit of each protocol), and the table lists TCP
// then UDP; a streamed table prints rows as they come. Sorted by another
// key, the writer holds the top Limit rows (a heap), or every row with
// Limit 0, and prints them at Finish.
type ReadTextWriter struct {
	w    io.Writer
	o    ReadOptions
	byID bool

	held  [2][]reassembly.Summary // [tcp, udp] rows held in ID order (by ID; every row without a limit)
	rows  []reassembly.Summary    // the top Limit rows by a key (a heap)
	seen  int                     // rows given to Stream
	shown int                     // rows printed or to print
	cmp   func(a, b *reassembly.Summary) int

	atOnce    bool  // never start the table before Finish (ReadText)
	streaming bool  // the table was started before Finish
	widths    []int // column widths while streaming
	guessed   bool
	notes     []string
	err       error
}

// NewReadTextWriter returns a writer of read's text view to w.
func NewReadTextWriter(w io.Writer, o ReadOptions) *ReadTextWriter {
	t := &ReadTextWriter{w: w, o: o, byID: o.Sort == "" || o.Sort == "id", cmp: streamOrder(o.Sort)}
	return t
}

// Stream takes one finished stream's summary.
func (t *ReadTextWriter) Stream(s *reassembly.Summary) error {
	if t.err != nil {
		return t.err
	}
	t.seen++
	held := &t.held[protoIndex(s)]
	switch {
	case t.byID && t.streaming:
		if t.o.Limit == 0 || t.shown < t.o.Limit {
			t.shown++
			t.err = t.row(s)
		}
	case t.byID:
		if t.o.Limit > 0 && len(*held) >= t.o.Limit {
			return nil // counted, not shown
		}
		if !t.atOnce && len(t.held[0])+len(t.held[1]) >= SizingRows && (t.o.Limit == 0 || t.o.Limit > SizingRows) {
			// One more than the sizing rows: the table starts now.
			if t.err = t.startStreaming(); t.err == nil {
				t.shown++
				t.err = t.row(s)
			}
			return t.err
		}
		*held = append(*held, *s)
	case t.o.Limit > 0:
		// Keep the top Limit rows: a heap whose root is the worst kept row.
		h := (*worstFirst)(t)
		if len(t.rows) < t.o.Limit {
			heap.Push(h, *s)
		} else if t.cmp(s, &t.rows[0]) < 0 {
			t.rows[0] = *s
			heap.Fix(h, 0)
		}
	default:
		*held = append(*held, *s)
	}
	return t.err
}

func protoIndex(s *reassembly.Summary) int {
	if s.Proto == capture.ProtoUDP {
		return 1
	}
	return 0
}

// idRows returns the held rows, TCP then UDP, at most Limit of them.
func (t *ReadTextWriter) idRows() []reassembly.Summary {
	rows := append(t.held[0], t.held[1]...)
	if t.o.Limit > 0 && len(rows) > t.o.Limit {
		rows = rows[:t.o.Limit]
	}
	return rows
}

// Merge takes a stream delivered again after Stream had it (use it as
// reassembly.Ordered's OnLate): it reports whether its row was still held
// and now includes it. A row already printed (or not kept by the limit)
// cannot change, and the delivery is counted as late instead.
func (t *ReadTextWriter) Merge(s *reassembly.Summary) bool {
	if t.err != nil || t.streaming {
		return false
	}
	if t.byID || t.o.Limit == 0 {
		held := t.held[protoIndex(s)] // in ID order
		i, ok := slices.BinarySearchFunc(held, s.ID, func(a reassembly.Summary, id int32) int { return cmp.Compare(a.ID, id) })
		if ok {
			held[i].Merge(s)
		}
		return ok
	}
	for i := range t.rows {
		if r := &t.rows[i]; r.Proto == s.Proto && r.ID == s.ID {
			r.Merge(s)
			heap.Fix((*worstFirst)(t), i)
			return true
		}
	}
	return false
}

// worstFirst orders the kept rows with the last in display order at the root.
type worstFirst ReadTextWriter

func (h *worstFirst) Len() int           { return len(h.rows) }
func (h *worstFirst) Less(i, j int) bool { return h.cmp(&h.rows[i], &h.rows[j]) > 0 }
func (h *worstFirst) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *worstFirst) Push(x any)         { h.rows = append(h.rows, x.(reassembly.Summary)) }
func (h *worstFirst) Pop() any {
	x := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return x
}

// Finish writes what is still to write: with the table not yet started, the
// whole view (header, table, notes, findings, as ReadText); after a
// streamed table, its remaining rows, then the capture's totals, notes and
// findings. r.Rows and r.Streams are not used.
func (t *ReadTextWriter) Finish(r *ReadReport) error {
	if t.err != nil {
		return t.err
	}
	ew := &errWriter{w: t.w}
	if !t.streaming {
		switch {
		case t.byID:
			t.rows = t.idRows()
		case t.o.Limit == 0:
			t.rows = append(t.held[0], t.held[1]...)
			fallthrough
		default:
			slices.SortFunc(t.rows, func(a, b reassembly.Summary) int { return t.cmp(&a, &b) })
		}
		t.held = [2][]reassembly.Summary{}
		t.shown = len(t.rows)
		readHeader(ew, r)
		if t.seen == 0 {
			fmt.Fprintf(ew, "\nno TCP streams or UDP flows\n")
			if ew.err == nil && r.Findings != nil {
				return FindingsText(t.w, r.Findings)
			}
			return ew.err
		}
		fmt.Fprintln(ew)
		if ew.err != nil {
			return ew.err
		}
		t.widths = t.sizeColumns(t.rows)
		t.header()
		for i := range t.rows {
			if err := t.row(&t.rows[i]); err != nil {
				return err
			}
		}
	}
	if t.err != nil {
		return t.err
	}
	fmt.Fprintf(ew, "c→s, s→c: payload bytes (counted once, by sequence number) / packets\n")
	if t.shown < t.seen {
		fmt.Fprintf(ew, "… %d more streams not shown (sorted by %s); use --limit N, --all, or --format json\n", t.seen-t.shown, cmp.Or(t.o.Sort, "id"))
	}
	if t.guessed {
		fmt.Fprintf(ew, "? client guessed: the capture has no SYN for that stream\n")
	}
	if r.Late > 0 {
		fmt.Fprintf(ew, "%d late %s: packets that reached a stream after its row was printed or left out (in the totals, not in the row)\n", r.Late, pluralWord(r.Late, "delivery", "deliveries"))
	}
	if t.streaming {
		fmt.Fprintf(ew, "\n")
		readHeader(ew, r)
	}
	if len(t.notes) > 0 {
		fmt.Fprintf(ew, "\nnotes\n")
		for _, n := range t.notes {
			fmt.Fprintf(ew, "  %s\n", n)
		}
	}
	if ew.err == nil && r.Findings != nil {
		return FindingsText(t.w, r.Findings)
	}
	return ew.err
}

// startStreaming prints the file line, sizes the columns from the held rows
// and prints them; later rows are printed as they come.
func (t *ReadTextWriter) startStreaming() error {
	t.streaming = true
	ew := &errWriter{w: t.w}
	fmt.Fprintf(ew, "more than %d streams: rows are printed as the capture is read (columns sized by the first %d); the capture's totals follow the table\n\n", SizingRows, SizingRows)
	if ew.err != nil {
		return ew.err
	}
	rows := t.idRows()
	t.widths = t.sizeColumns(rows)
	// Stream numbers only grow: leave room for up to ten million.
	t.widths[0] = max(t.widths[0], len("tcp/9999999"))
	t.header()
	for i := range rows {
		t.shown++
		if err := t.row(&rows[i]); err != nil {
			return err
		}
	}
	t.held = [2][]reassembly.Summary{}
	return t.err
}

func (t *ReadTextWriter) columns() (header []string, align string) {
	header, align = []string{"stream", "client → server", "state", "duration", "c→s", "s→c"}, "llllrr"
	if t.o.Stats {
		header, align = append(header, "messages c→s/s→c"), align+"l"
	}
	return header, align
}

// cells returns the table cells of one row, and whether its client was guessed.
func (t *ReadTextWriter) cells(s *reassembly.Summary, buf []string) ([]string, bool) {
	client := s.Client().String()
	guessed := s.ClientGuessed()
	if guessed {
		client += "?"
	}
	c2s, s2c := &s.Dirs[0], &s.Dirs[1]
	buf = append(buf[:0], s.Name(), client+" → "+s.Server().String(), s.Describe(), human.Duration(s.Duration()),
		bytesCellSum(c2s), bytesCellSum(s2c))
	if t.o.Stats {
		m := ""
		if f := s.Framing(); f != "" {
			m = fmt.Sprintf("%s %d/%d", f, c2s.Messages, s2c.Messages)
		}
		buf = append(buf, m)
	}
	return buf, guessed
}

func (t *ReadTextWriter) sizeColumns(rows []reassembly.Summary) []int {
	header, _ := t.columns()
	widths := make([]int, len(header))
	for i, h := range header {
		widths[i] = cellWidth(h)
	}
	var buf []string
	for i := range rows {
		buf, _ = t.cells(&rows[i], buf)
		for j, c := range buf {
			widths[j] = max(widths[j], cellWidth(c))
		}
	}
	return widths
}

// header prints the header line and the rule under it.
func (t *ReadTextWriter) header() {
	header, _ := t.columns()
	t.line(header)
	total := 0
	for _, w := range t.widths {
		total += w + len(cellPad)
	}
	if t.err == nil {
		_, t.err = io.WriteString(t.w, strings.Repeat("-", total)+"\n")
	}
}

// row prints one stream's row and collects its notes.
func (t *ReadTextWriter) row(s *reassembly.Summary) error {
	cells, guessed := t.cells(s, nil)
	t.guessed = t.guessed || guessed
	t.line(cells)
	t.notes = append(t.notes, streamNotes([]reassembly.Summary{*s})...)
	return t.err
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// cellPad follows every cell, as newTable's padding does.
const cellPad = "  "

// line prints cells padded to the column widths, as newTable renders them.
func (t *ReadTextWriter) line(cells []string) {
	if t.err != nil {
		return
	}
	_, align := t.columns()
	var b strings.Builder
	for i, c := range cells {
		pad := max(t.widths[i]-cellWidth(c), 0)
		if align[i] == 'r' {
			b.WriteString(strings.Repeat(" ", pad))
			b.WriteString(c)
		} else {
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", pad))
		}
		b.WriteString(cellPad)
	}
	b.WriteByte('\n')
	_, t.err = io.WriteString(t.w, b.String())
}

// cellWidth is a cell's width in terminal columns: cells hold escaped text
// (ASCII) and the arrows and dots of the layout, one column each.
func cellWidth(s string) int { return utf8.RuneCountInString(s) }

// streamOrder returns the display order for a --sort key, ties by ID.
func streamOrder(key string) func(a, b *reassembly.Summary) int {
	total := func(s *reassembly.Summary, f func(h *reassembly.HalfSummary) int64) int64 {
		return f(&s.Dirs[0]) + f(&s.Dirs[1])
	}
	bytesOf := func(h *reassembly.HalfSummary) int64 { return h.Bytes }
	pktsOf := func(h *reassembly.HalfSummary) int64 { return int64(h.Packets) }
	var f func(a, b *reassembly.Summary) int
	switch key {
	case "bytes":
		f = func(a, b *reassembly.Summary) int { return cmp.Compare(total(b, bytesOf), total(a, bytesOf)) }
	case "packets":
		f = func(a, b *reassembly.Summary) int { return cmp.Compare(total(b, pktsOf), total(a, pktsOf)) }
	case "duration":
		f = func(a, b *reassembly.Summary) int { return cmp.Compare(b.Duration(), a.Duration()) }
	case "start":
		f = func(a, b *reassembly.Summary) int { return cmp.Compare(a.FirstFrame, b.FirstFrame) }
	}
	return func(a, b *reassembly.Summary) int {
		if f != nil {
			if c := f(a, b); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.ID, b.ID))
	}
}
