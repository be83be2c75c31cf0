package ui

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/output"
)

// headerLines is the title and totals above every pane.
const headerLines = 2

// asciiGlyphs turn the views' Unicode into ASCII of the same width (--ascii).
var asciiGlyphs = strings.NewReplacer(
	"→", ">", "←", "<", "·", "-", "…", "~", "─", "-", "━", "=", "│", "|", "┃", "|",
	"▶", ">", "◀", "<", "▲", "^", "▼", "v", "┌", "+", "┐", "+", "└", "+", "┘", "+",
	"├", "+", "┤", "+", "┬", "+", "┴", "+", "┼", "+", "█", "#", "▒", ":", "░", ".",
	"↳", ">", "⋯", "~", "✓", "v", "✗", "x",
)

// text returns s as the terminal may show it: with --ascii, every rune
// outside ASCII is replaced (by one of the same width where one exists).
func (m *Model) text(s string) string {
	if !m.o.ASCII {
		return s
	}
	s = asciiGlyphs.Replace(s)
	for _, r := range s {
		if r >= utf8.RuneSelf {
			return strings.Map(func(r rune) rune {
				if r >= utf8.RuneSelf {
					return '?'
				}
				return r
			}, s)
		}
	}
	return s
}

var (
	styleSel    = lipgloss.NewStyle().Reverse(true)
	styleHead   = lipgloss.NewStyle().Bold(true)
	styleReset  = lipgloss.NewStyle().Foreground(lipgloss.Red)
	styleRefuse = lipgloss.NewStyle().Foreground(lipgloss.Yellow)
	styleClosed = lipgloss.NewStyle().Foreground(lipgloss.Green)
	styleWarn   = lipgloss.NewStyle().Foreground(lipgloss.Red).Bold(true)
)

func (m *Model) style(st lipgloss.Style, s string) string {
	if !m.o.Color {
		return s
	}
	return st.Render(s)
}

// fit cuts plain s to the screen's width from column off, padding it.
func (m *Model) fit(s string, off int) string {
	r := []rune(s)
	if off > 0 {
		r = r[min(off, len(r)):]
	}
	if len(r) > m.w {
		r = r[:m.w]
	}
	return string(r) + strings.Repeat(" ", m.w-len(r))
}

// View renders the screen: exactly h lines of w columns.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Screen())
	v.AltScreen = true
	if !m.o.NoMouse {
		v.MouseMode = tea.MouseModeCellMotion
	}
	v.WindowTitle = "sockscope " + textsafe.Escape(m.name())
	return v
}

// Screen is the screen's text (View's content).
func (m *Model) Screen() string {
	var lines []string
	switch {
	case m.help:
		lines = m.helpLines()
	case m.pane == paneDetail:
		lines = m.detailLines()
	case m.pane == paneFindings:
		lines = m.findingsLines()
	default:
		lines = m.connsLines()
	}
	for len(lines) < m.h {
		lines = append(lines, m.fit("", 0))
	}
	return strings.Join(lines[:m.h], "\n")
}

func (m *Model) name() string {
	if m.rep != nil {
		return m.rep.Info.Name
	}
	return m.o.Name
}

// header returns the title and the capture's totals (or the progress).
func (m *Model) header() []string {
	title := "sockscope ui · " + textsafe.Escape(m.name())
	if m.rep != nil {
		lines, _ := output.CaptureSummary(m.rep)
		title = "sockscope ui · " + lines[0][1]
	}
	var tot string
	switch {
	case !m.done && m.o.Live:
		p := m.progress
		tot = fmt.Sprintf("live on %s · %d frames (%.0f/s)", textsafe.Escape(m.o.Name), p.Frames, m.rate)
		if p.KernelKnown {
			tot += fmt.Sprintf(" · %d dropped by the kernel", p.Dropped)
		}
		tot += fmt.Sprintf(" · %d %s", len(m.rows), plural(len(m.rows), "stream", "streams"))
		if m.fs != nil {
			tot += " · " + findingsCount(m.fs) + " so far"
		}
	case !m.done:
		p := m.progress
		tot = "reading"
		if p.Size > 0 {
			const bar = 20
			done := int(p.Read * bar / p.Size)
			tot += fmt.Sprintf(" [%s%s] %d%%", strings.Repeat("#", done), strings.Repeat(".", bar-done), p.Read*100/p.Size)
		}
		tot += fmt.Sprintf(" · %d frames · %d streams so far", p.Frames, len(m.rows))
	default:
		st := m.rep.Stats
		tot = fmt.Sprintf("%d frames · %s · streams %d TCP · %d UDP", st.Packets, human.Duration(st.Last.Sub(st.First)), st.TCPStreams, st.UDPFlows)
		if m.fs != nil {
			tot += " · " + findingsCount(m.fs)
		}
		if _, issues := output.CaptureSummary(m.rep); issues != "" {
			tot += " · " + issues
		}
		if m.scanErr != nil {
			// First: every frame before it was read, none after.
			tot = damageText(m.scanErr) + " · " + tot
		}
	}
	if m.note != "" {
		tot = m.note + " · " + tot
	}
	if m.paused {
		tot = fmt.Sprintf("PAUSED (p resumes; %d updates held) · ", len(m.held)) + tot
	}
	return []string{m.style(styleHead, m.fit(m.text(title), 0)), m.fit(m.text(tot), 0)}
}

// damageText says where and why the file stopped early, short (the
// file's name is in the title).
func damageText(err error) string {
	var de *capture.DamageError
	if errors.As(err, &de) {
		return fmt.Sprintf("DAMAGED at frame %d (byte %d): %s", de.Frame, de.Offset, textsafe.Escape(de.Reason))
	}
	return "DAMAGED: " + textsafe.Escape(err.Error())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func findingsCount(fs []findings.Finding) string {
	warn := 0
	for _, f := range fs {
		if f.Severity == findings.Warning {
			warn++
		}
	}
	return fmt.Sprintf("%d %s (%d %s)", len(fs), plural(len(fs), "finding", "findings"), warn, plural(warn, "warning", "warnings"))
}

// connsLines draws the connections pane.
func (m *Model) connsLines() []string {
	lines := m.header()
	header, align := columns()
	marks := "▲▼"
	if m.o.ASCII {
		marks = "^v"
	}
	mark := []rune(marks)[0]
	if m.sortRev {
		mark = []rune(marks)[1]
	}
	head := make([]string, len(header))
	for i, h := range header {
		head[i] = h + " "
		if i == m.sortCol {
			head[i] = h + string(mark)
		}
	}
	widths := make([]int, len(head))
	for i, h := range head {
		widths[i] = utf8.RuneCountInString(m.text(h))
	}
	for i, w := range m.cellWidths {
		widths[i] = max(widths[i], w)
	}
	line := func(cells []string) string {
		var b strings.Builder
		b.WriteString("  ")
		for i, c := range cells {
			c = m.text(c)
			pad := strings.Repeat(" ", max(widths[i]-utf8.RuneCountInString(c), 0))
			if align[i] == 'r' {
				b.WriteString(pad + c)
			} else {
				b.WriteString(c + pad)
			}
			b.WriteString("  ")
		}
		return b.String()
	}
	hl := line(head)
	m.tableWidth = utf8.RuneCountInString(hl)
	lines = append(lines, m.style(styleHead, m.fit(hl, m.xoff)), m.fit(strings.Repeat("-", utf8.RuneCountInString(hl)), m.xoff))
	n := m.tableRows()
	sel := "▶"
	if m.o.ASCII {
		sel = ">"
	}
	switch {
	case len(m.rows) == 0 && m.done:
		lines = append(lines, m.fit("  no TCP streams or UDP flows", 0))
	case len(m.rows) == 0:
		lines = append(lines, m.fit("  no stream has ended yet", 0))
	case len(m.visible) == 0:
		lines = append(lines, m.fit("  no stream matches the filter", 0))
	}
	for i := m.top; i < len(m.visible) && i < m.top+n; i++ {
		r := &m.rows[m.visible[i]]
		l := line(r.cells)
		if i == m.cursor {
			l = sel + l[1:]
		}
		l = m.fit(l, m.xoff)
		switch {
		case i == m.cursor:
			l = m.style(styleSel, l)
		case m.o.Color:
			l = m.colourState(l, r.cells[2])
		}
		lines = append(lines, l)
	}
	for len(lines) < m.h-1 {
		lines = append(lines, m.fit("", 0))
	}
	return append(lines[:m.h-1], m.connsStatus())
}

// colourState colours the state word of a row line (the word stays).
func (m *Model) colourState(l, state string) string {
	st := styleClosed
	switch {
	case strings.HasPrefix(state, "reset"), strings.Contains(state, "reset"):
		st = styleReset
	case strings.HasPrefix(state, "refused"):
		st = styleRefuse
	case !strings.HasPrefix(state, "closed"):
		return l
	}
	state = m.text(state)
	i := strings.Index(l, state)
	if i < 0 {
		return l
	}
	return l[:i] + st.Render(state) + l[i+len(state):]
}

func (m *Model) connsStatus() string {
	if m.filtering {
		cur := "▏"
		if m.o.ASCII {
			cur = "_"
		}
		return m.fit(m.text("/"+textsafe.Escape(m.filter)+cur+"   (type to filter: host, port, protocol, state, framing, finding; enter keeps, esc clears)"), 0)
	}
	header, _ := columns()
	dir := "ascending"
	if m.sortRev {
		dir = "descending"
	}
	s := fmt.Sprintf("%d/%d", min(m.cursor+1, len(m.visible)), len(m.visible))
	if len(m.visible) != len(m.rows) {
		s += fmt.Sprintf(" of %d", len(m.rows))
	}
	s += " · sorted by " + header[m.sortCol] + ", " + dir
	if m.filter != "" {
		s += " · filter: " + textsafe.Escape(m.filter)
	}
	if m.tableWidth > m.w {
		s += " · ← → columns"
	}
	s += " · enter detail  / filter  s S sort  F findings  ? keys  q quit"
	return m.style(styleHead, m.fit(m.text(s), 0))
}

// detailLines draws the detail pane of the selected stream.
func (m *Model) detailLines() []string {
	lines := m.header()
	title := m.detailID.String()
	if j, ok := m.index[m.detailID]; ok {
		r := &m.rows[j]
		title += "  " + r.cells[1] + "  " + r.cells[2]
	}
	lines = append(lines, m.style(styleHead, m.fit(m.text(title), 0)))
	var tabs []string
	for i, name := range viewNames {
		t := string(name[0]) + " " + name
		if view(i) == viewFindings && m.fs != nil {
			t += fmt.Sprintf(" (%d)", len(m.perStrm[m.detailID]))
		}
		if view(i) == m.view {
			t = "[" + t + "]"
		} else {
			t = " " + t + " "
		}
		tabs = append(tabs, t)
	}
	lines = append(lines, m.fit(m.text(strings.Join(tabs, "  ")), 0))
	body := m.syncDetail()
	content := strings.Split(m.vp.View(), "\n")
	for len(content) < body {
		content = append(content, "")
	}
	for _, l := range content[:body] {
		lines = append(lines, l+strings.Repeat(" ", max(m.w-ansi.StringWidth(l), 0)))
	}
	st := fmt.Sprintf("lines %d-%d of %d · esc back  l m t f views  j k PgUp PgDn Home End scroll  ← → pan  F findings  ? keys  q quit",
		min(m.vp.YOffset()+1, m.vp.TotalLineCount()), min(m.vp.YOffset()+body, m.vp.TotalLineCount()), m.vp.TotalLineCount())
	return append(lines, m.style(styleHead, m.fit(m.text(st), 0)))
}

// detailBody is how many lines the detail pane's viewport has: all but
// the header, the stream's title, the tabs and the status line.
func (m *Model) detailBody() int { return max(m.h-headerLines-3, 1) }

// syncDetail sizes the viewport and renders the detail into it when what
// it shows changed (the view, the size, the stream read); scroll keys act
// on what is on screen. It returns the viewport's height.
func (m *Model) syncDetail() int {
	body := m.detailBody()
	m.vp.SetWidth(m.w)
	m.vp.SetHeight(body)
	key := fmt.Sprintf("%d %d %d %v %v %v", m.view, m.w, m.h, m.loading, m.done, m.o.Explain)
	if key != m.rendered {
		m.rendered = key
		text := m.text(m.detailText())
		m.vp.SetContent(text)
		if m.tail {
			m.vp.GotoBottom()
		}
		if m.jumpFrame > 0 && m.view == viewLadder && m.detail != nil {
			m.vp.SetYOffset(frameLine(text, m.jumpFrame))
			m.jumpFrame, m.tail = 0, false
		}
	}
	return body
}

// ladderStep matches the first line of a packet on the ladder: its frame
// number, then its relative time.
var ladderStep = regexp.MustCompile(`^\s*(\d+) [+-]\d`)

// frameLine returns the line of the ladder text where frame's arrow is (or
// the first later frame's), 0 when there is none.
func frameLine(text string, frame int) int {
	for i, l := range strings.Split(ansi.Strip(text), "\n") {
		if mt := ladderStep.FindStringSubmatch(l); mt != nil {
			if n, _ := strconv.Atoi(mt[1]); n >= frame {
				return i
			}
		}
	}
	return 0
}

// detailText renders the stream in the current view with output's
// renderers (they escape payload).
func (m *Model) detailText() string {
	switch {
	case m.loading:
		return "reading " + m.detailID.String() + " from the capture…"
	case m.detailErr != nil:
		return textsafe.Escape(m.detailErr.Error())
	case m.detail == nil:
		return ""
	}
	var b bytes.Buffer
	var err error
	d := m.detail
	switch m.view {
	case viewLadder:
		err = output.TimelineText(&b, []output.TimelineStream{d.Timeline}, output.TimelineOptions{Width: m.w, ASCII: m.o.ASCII, Color: m.o.Color, Explain: m.o.Explain})
	case viewMap, viewTranscript:
		if d.Analysis == nil {
			return d.Stream.Name() + " carried no payload: no messages to map"
		}
		if m.view == viewMap {
			err = output.FollowText(&b, d.Analysis, output.FollowOptions{Width: m.w, TLS: d.TLS})
		} else {
			err = output.FollowTranscript(&b, d.Analysis, output.FollowOptions{Width: m.w})
		}
	case viewFindings:
		if m.fs == nil {
			return m.noFindings()
		}
		var fs []findings.Finding
		for _, i := range m.perStrm[m.detailID] {
			fs = append(fs, m.fs[i])
		}
		if len(fs) == 0 {
			return "no finding names " + m.detailID.String()
		}
		fmt.Fprintf(&b, "%s naming %s, most important first\n", findingsCount(fs), m.detailID)
		for _, f := range fs {
			fmt.Fprintf(&b, "\n%s\n", strings.Join(findingBlock(f, m.w), "\n"))
		}
	}
	if err != nil {
		fmt.Fprintf(&b, "\n%s\n", textsafe.Escape(err.Error()))
	}
	return strings.TrimLeft(strings.TrimRight(b.String(), "\n"), "\n")
}

// noFindings says why there is no list of findings.
func (m *Model) noFindings() string {
	switch {
	case m.done:
		return "findings were not run (--no-findings)"
	case m.o.Live:
		return "findings: none yet (a stream's come when it ends; the capture's when it stops)"
	}
	return "findings come once the whole capture is read"
}

// findingsRows is how many findings the list shows.
func (m *Model) findingsRows() int {
	n := len(m.fs)
	avail := m.h - headerLines - 3
	return max(min(n, avail/2), 1)
}

// findingsLines draws the findings pane: the list, most important first,
// and the selected finding in full under it.
func (m *Model) findingsLines() []string {
	lines := m.header()
	switch {
	case m.fs == nil:
		return append(lines, m.fit(m.noFindings(), 0))
	case len(m.fs) == 0:
		return append(lines, m.fit("findings: none", 0))
	}
	fs := m.fs
	lines = append(lines, m.style(styleHead, m.fit(m.text(findingsCount(fs)+", most important first · enter: the stream at the first frame"), 0)))
	n := m.findingsRows()
	if m.fcursor < m.ftop {
		m.ftop = m.fcursor
	}
	if m.fcursor >= m.ftop+n {
		m.ftop = m.fcursor - n + 1
	}
	kw := 0
	for _, f := range fs {
		kw = max(kw, len(f.Kind))
	}
	sel := "▶"
	if m.o.ASCII {
		sel = ">"
	}
	for i := m.ftop; i < len(fs) && i < m.ftop+n; i++ {
		f := fs[i]
		mk := " "
		if i == m.fcursor {
			mk = sel
		}
		l := m.fit(m.text(fmt.Sprintf("%s %-7s  %-*s  %s", mk, f.Severity, kw, f.Kind, textsafe.Escape(f.Message))), 0)
		switch {
		case i == m.fcursor:
			l = m.style(styleSel, l)
		case f.Severity == findings.Warning:
			l = m.style(styleWarn, l)
		}
		lines = append(lines, l)
	}
	lines = append(lines, m.fit(strings.Repeat("-", m.w), 0))
	for _, l := range findingBlock(fs[m.fcursor], m.w) {
		if len(lines) >= m.h-1 {
			break
		}
		lines = append(lines, m.fit(m.text(l), 0))
	}
	for len(lines) < m.h-1 {
		lines = append(lines, m.fit("", 0))
	}
	st := fmt.Sprintf("%d/%d · j k move  enter open stream  esc back  ? keys  q quit", m.fcursor+1, len(fs))
	return append(lines, m.style(styleHead, m.fit(m.text(st), 0)))
}

// findingBlock is one finding in full, wrapped to w: its severity, kind
// and message, its details and its evidence streams and frames.
func findingBlock(f findings.Finding, w int) []string {
	full := wrap(fmt.Sprintf("%s %s: %s", f.Severity, f.Kind, textsafe.Escape(f.Message)), w)
	for _, d := range f.Details {
		full = append(full, wrap("  "+textsafe.Escape(d), w)...)
	}
	if ev := output.EvidenceText(f); ev != "" {
		full = append(full, wrap("  "+ev, w)...)
	}
	return full
}

// wrap breaks s into lines of at most w runes at spaces.
func wrap(s string, w int) []string {
	var out []string
	indent := s[:len(s)-len(strings.TrimLeft(s, " "))]
	line := ""
	for _, word := range strings.Fields(s) {
		switch {
		case line == "":
			line = indent + word
		case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) > w:
			out = append(out, line)
			line = indent + "  " + word
		default:
			line += " " + word
		}
	}
	return append(out, line)
}

// keys lists every key, for ? and the README.
var keys = [][2]string{
	{"", "connections"},
	{"j k ↓ ↑", "move the selection"},
	{"PgDn PgUp Home End", "page, first, last"},
	{"s  S", "sort by the next column; reverse the order"},
	{"/", "filter as you type (host, port, protocol, state, framing, finding); enter keeps it, esc clears it"},
	{"← →", "scroll a wide table sideways"},
	{"enter", "open the selected stream (the view last used)"},
	{"l m t f", "open it on the ladder, segment/message map, transcript or its findings"},
	{"F", "findings of the whole capture, most important first (enter: the stream's ladder at its first evidence frame)"},
	{"", "stream detail"},
	{"l m t f", "ladder (e explains it), segment ↔ message map, transcript, findings with evidence frames"},
	{"j k PgDn PgUp Home End", "scroll; ← → pan"},
	{"esc", "back to the connections"},
	{"", "anywhere"},
	{"?", "this list (any key closes it)"},
	{"p  w", "pause the screen · w writes the capture so far"},
	{"mouse", "wheel scrolls, click selects, click again opens"},
	{"q  ctrl+c", "quit (the terminal is restored)"},
}

// KeyHelp returns the key map as text wrapped to w columns (the ? screen
// without its frame).
func KeyHelp(w int) string {
	var b strings.Builder
	const indent = 2 + 24 + 1
	for _, k := range keys {
		if k[0] == "" {
			fmt.Fprintf(&b, "%s\n", k[1])
			continue
		}
		for i, l := range wrap(k[1], max(w-indent-2, 20)) {
			if i == 0 {
				fmt.Fprintf(&b, "  %-24s %s\n", k[0], l)
			} else {
				fmt.Fprintf(&b, "%*s%s\n", indent, "", strings.TrimLeft(l, " "))
			}
		}
	}
	return b.String()
}

func (m *Model) helpLines() []string {
	lines := []string{m.style(styleHead, m.fit("sockscope ui keys (any key closes this list)", 0))}
	for _, l := range strings.Split(strings.TrimRight(KeyHelp(m.w), "\n"), "\n") {
		lines = append(lines, m.fit(m.text(l), 0))
	}
	return lines
}
