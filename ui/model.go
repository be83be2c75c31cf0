package ui

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

// Options configure the UI. cmd fills them; nothing here probes the
// terminal or the environment.
type Options struct {
	// Name is the capture's name for the header before its totals come.
	Name string
	// Load reads one stream for the detail pane (cmd wires it with
	// LoadStream over the same input as Scan); nil disables the pane.
	Load func(ctx context.Context, id reassembly.StreamID) (*Detail, error)
	// Color allows colour and reverse video; false is monochrome
	// (NO_COLOR, TERM=dumb, --color never): every state still has its
	// word and the selected row its marker.
	Color bool
	ASCII bool // ASCII line drawing (--ascii): arrows, rules, markers
	// Save writes what a live capture captured so far to a pcapng file
	// and says where (w); nil for a file, which is one already.
	Save func() (string, error)
	// Explain adds timeline's plain-language notes to the ladder
	// (--explain; e toggles it).
	Explain bool
	// NoMouse leaves the mouse to the terminal (to select text): no
	// wheel scrolling or clicks.
	NoMouse bool
	// Live: the capture is live on the interface Name (the header says
	// so, and open streams show as they are).
	Live bool
}

type pane int

const (
	paneConns pane = iota
	paneDetail
	paneFindings
)

// view is what the detail pane shows.
type view int

const (
	viewLadder view = iota
	viewMap
	viewTranscript
	viewFindings
)

var viewNames = [...]string{"ladder", "map", "transcript", "findings"}

// row is one stream of the connections table.
type row struct {
	sum      reassembly.Summary // what is shown: ended merged with live
	ended    *reassembly.Summary
	live     *reassembly.Summary // the snapshot of a live stream still open
	cells    []string            // read's cells, then the findings count
	guessed  bool
	search   string // what / matches, lower case
	findings int
}

// Model is the UI's state. It is driven by messages: keys and window
// sizes from the terminal, streams, progress and the end of the capture
// from the pipeline (Feed), and loaded streams for the detail pane.
type Model struct {
	o    Options
	ctx  context.Context
	w, h int

	rows       []row
	index      map[reassembly.StreamID]int
	visible    []int // rows shown: filtered, sorted
	dirty      bool
	cursor     int   // index into visible
	picked     bool  // the cursor was moved: it follows its stream as rows come
	top        int   // first visible row on screen
	xoff       int   // columns scrolled right in the table
	tableWidth int   // of the last table drawn
	cellWidths []int // the widest cell of each column
	sortCol    int
	sortRev    bool

	filter    string
	filtering bool

	progress Progress
	rate     float64   // frames per second over the last second or so (live)
	rateAt   time.Time // when the frames of rateN were counted
	rateN    int
	done     bool
	rep      *output.ReadReport
	scanErr  error
	// fs are the findings shown: the capture's at its end (nil when they
	// were not run), those so far while a live capture runs.
	fs      []findings.Finding
	perStrm map[reassembly.StreamID][]int // findings by stream (indexes into fs)

	pane pane
	help bool
	// paused: the screen stands still while the capture goes on; what the
	// pipeline sends meanwhile is held and shown on resume (p).
	paused bool
	held   []tea.Msg
	note   string // said on the totals line until the next key (w's result)

	detailID  reassembly.StreamID
	view      view
	detail    *Detail
	detailErr error
	loading   bool
	// refreshing: the shown live stream is being read again (its old
	// detail stays on screen meanwhile).
	refreshing bool
	loadAt     time.Time     // when the last read started
	loadTook   time.Duration // how long it took
	tail       bool          // the viewport follows the end of a growing detail
	regrowDue  bool          // a regrowMsg is on its way
	jumpFrame  int           // scroll the ladder to this frame once it is drawn (0: none)
	rendered   string        // the key of the viewport's content
	vp         viewport.Model

	fcursor int // findings pane
	ftop    int
}

// New returns the model before any stream is known.
func New(ctx context.Context, o Options) *Model {
	m := &Model{o: o, ctx: ctx, w: 80, h: 24, index: map[reassembly.StreamID]int{}}
	m.vp = viewport.New(viewport.WithWidth(80), viewport.WithHeight(20))
	m.vp.SetHorizontalStep(8)
	return m
}

// Init starts nothing: the pipeline is started by Run.
func (m *Model) Init() tea.Cmd { return nil }

// columns are the table's header cells (read's, then "findings").
func columns() ([]string, string) {
	h, a := output.ReadColumns(true)
	return append(slices.Clone(h), "findings"), a + "r"
}

// addStreams takes streams that ended; one delivered again (flushed early,
// then seen again) is merged into its row.
func (m *Model) addStreams(ss []reassembly.Summary) {
	for i := range ss {
		s := ss[i]
		r := m.row(s.StreamID())
		if r.ended == nil {
			r.ended = &s
		} else {
			r.ended.Merge(&s)
		}
		r.live = nil
		m.fillRow(r)
	}
	m.dirty = true
}

// liveStreams takes snapshots of streams still open (live).
func (m *Model) liveStreams(ss []reassembly.Summary) {
	for i := range ss {
		s := ss[i]
		r := m.row(s.StreamID())
		r.live = &s
		m.fillRow(r)
	}
	m.dirty = true
}

// row returns the row of id, adding it.
func (m *Model) row(id reassembly.StreamID) *row {
	j, ok := m.index[id]
	if !ok {
		j = len(m.rows)
		m.index[id] = j
		m.rows = append(m.rows, row{})
	}
	return &m.rows[j]
}

// openWords say a live stream's state while it is open: the summary's
// words are for a capture that ended.
var openWords = strings.NewReplacer("handshake incomplete at end of capture", "handshake in progress", "open at end of capture", "open")

func (m *Model) fillRow(r *row) {
	switch {
	case r.ended != nil:
		r.sum = *r.ended
		if r.live != nil {
			r.sum.Merge(r.live)
		}
	case r.live != nil:
		r.sum = *r.live
	}
	cells, guessed := output.ReadCells(&r.sum, true)
	if r.live != nil {
		cells[2] = openWords.Replace(cells[2])
	}
	id := r.sum.StreamID()
	r.findings = len(m.perStrm[id])
	fc := ""
	if m.fs != nil {
		fc = fmt.Sprint(r.findings)
	}
	r.cells, r.guessed = append(cells, fc), guessed
	// Columns are as wide as their widest cell so far (of every row, shown
	// or filtered out: the table does not jump as one types a filter).
	if m.cellWidths == nil {
		m.cellWidths = make([]int, len(r.cells))
	}
	for i, c := range r.cells {
		m.cellWidths[i] = max(m.cellWidths[i], utf8.RuneCountInString(m.text(c)))
	}
	var kinds []string
	for _, i := range m.perStrm[id] {
		f := m.fs[i]
		kinds = append(kinds, string(f.Kind), f.Severity.String())
	}
	r.search = strings.ToLower(strings.Join(cells, " ") + " " + r.sum.Proto.String() + " " + r.sum.Framing() + " " + strings.Join(kinds, " "))
}

func (m *Model) finish(msg doneMsg) {
	m.done, m.rep, m.scanErr = true, msg.rep, msg.err
	m.fs = nil
	if m.rep != nil {
		m.fs = m.rep.Findings
	}
	m.indexFindings()
}

// addFindings takes the findings a live capture has so far (the engine's
// per-stream findings as their streams end); the capture's end replaces
// them with all of them.
func (m *Model) addFindings(fs []findings.Finding) {
	m.fs = append(m.fs, fs...)
	findings.Sort(m.fs)
	m.indexFindings()
}

// indexFindings finds which findings name which stream, and refills the
// rows' findings counts.
func (m *Model) indexFindings() {
	m.perStrm = map[reassembly.StreamID][]int{}
	for i, f := range m.fs {
		for _, s := range f.Streams {
			id := reassembly.StreamID{Proto: s.Proto, ID: s.ID}
			m.perStrm[id] = append(m.perStrm[id], i)
		}
	}
	for i := range m.rows {
		m.fillRow(&m.rows[i])
	}
	m.dirty = true
}

// refresh filters and sorts the rows, keeping the selected stream selected.
func (m *Model) refresh() {
	if !m.dirty {
		return
	}
	m.dirty = false
	sel, had := m.selected()
	m.visible = m.visible[:0]
	terms := strings.Fields(strings.ToLower(m.filter))
	for i := range m.rows {
		ok := true
		for _, t := range terms {
			if !strings.Contains(m.rows[i].search, t) {
				ok = false
				break
			}
		}
		if ok {
			m.visible = append(m.visible, i)
		}
	}
	less := m.order()
	slices.SortStableFunc(m.visible, func(a, b int) int { return less(&m.rows[a], &m.rows[b]) })
	m.cursor = min(m.cursor, max(len(m.visible)-1, 0))
	// Until a row is picked (a key or a click moved the cursor), the first
	// row stays selected as rows come in: the table does not scroll away.
	if had && m.picked {
		for i, j := range m.visible {
			if m.rows[j].sum.StreamID() == sel {
				m.cursor = i
				break
			}
		}
	}
	m.clampTop()
}

// order compares rows by the sort column (ties by protocol and ID, as read).
func (m *Model) order() func(a, b *row) int {
	byID := func(a, b *row) int {
		return cmp.Or(cmp.Compare(a.sum.Proto, b.sum.Proto), cmp.Compare(a.sum.ID, b.sum.ID))
	}
	var key func(a, b *row) int
	switch m.sortCol {
	case 1, 2: // endpoints, state: as written
		c := m.sortCol
		key = func(a, b *row) int { return strings.Compare(a.cells[c], b.cells[c]) }
	case 3:
		key = func(a, b *row) int { return cmp.Compare(a.sum.Duration(), b.sum.Duration()) }
	case 4, 5:
		d := m.sortCol - 4
		key = func(a, b *row) int { return cmp.Compare(a.sum.Dirs[d].Bytes, b.sum.Dirs[d].Bytes) }
	case 6:
		key = func(a, b *row) int {
			return cmp.Compare(a.sum.Dirs[0].Messages+a.sum.Dirs[1].Messages, b.sum.Dirs[0].Messages+b.sum.Dirs[1].Messages)
		}
	case 7:
		key = func(a, b *row) int { return cmp.Compare(a.findings, b.findings) }
	}
	return func(a, b *row) int {
		c := 0
		if key != nil {
			c = key(a, b)
		}
		if c == 0 {
			c = byID(a, b)
		}
		if m.sortRev {
			c = -c
		}
		return c
	}
}

func (m *Model) selected() (reassembly.StreamID, bool) {
	if m.cursor < 0 || m.cursor >= len(m.visible) {
		return reassembly.StreamID{}, false
	}
	return m.rows[m.visible[m.cursor]].sum.StreamID(), true
}

// tableRows is how many stream rows fit on the connections pane.
func (m *Model) tableRows() int { return max(m.h-headerLines-3, 1) }

func (m *Model) clampTop() {
	n := m.tableRows()
	if m.cursor < m.top {
		m.top = m.cursor
	}
	if m.cursor >= m.top+n {
		m.top = m.cursor - n + 1
	}
	m.top = max(min(m.top, len(m.visible)-n), 0)
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m.paused {
		switch msg.(type) {
		case streamsMsg, liveMsg, findingsMsg, progressMsg, doneMsg:
			m.held = append(m.held, msg) // shown on resume; the capture goes on
			return m, nil
		}
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = max(msg.Width, 20), max(msg.Height, 8)
		m.clampTop()
		m.rendered = "" // re-render the detail at the new width
	case streamsMsg:
		m.addStreams(msg)
		cmd := m.regrow(msg)
		m.refresh()
		return m, cmd
	case liveMsg:
		m.liveStreams(msg)
		cmd := m.regrow(msg)
		m.refresh()
		return m, cmd
	case findingsMsg:
		m.addFindings(msg)
	case progressMsg:
		m.rateSample(msg.Frames, time.Now())
		m.progress = Progress(msg)
	case doneMsg:
		m.finish(msg)
	case detailMsg:
		if msg.id == m.detailID {
			m.loading, m.refreshing, m.loadTook = false, false, msg.took
			if m.detail != nil && m.detail.Stream != nil {
				m.detail.Stream.Release()
			}
			m.detail, m.detailErr, m.rendered = msg.d, msg.err, ""
			if m.pane == paneDetail {
				m.syncDetail()
			}
		}
	case noteMsg:
		m.note = string(msg)
	case regrowMsg:
		m.regrowDue = false
		if m.o.Live && m.pane == paneDetail && !m.loading && !m.refreshing {
			return m, m.regrowNow()
		}
	case tea.KeyPressMsg:
		cmd := m.key(msg)
		if m.pane == paneDetail {
			m.syncDetail()
		}
		return m, cmd
	case tea.MouseWheelMsg:
		m.wheel(msg.Mouse())
	case tea.MouseClickMsg:
		return m, m.click(msg.Mouse())
	}
	m.refresh()
	return m, nil
}

// open shows stream id in the detail pane, loading it unless it is loaded.
func (m *Model) open(id reassembly.StreamID, v view) tea.Cmd {
	m.pane, m.view = paneDetail, v
	m.rendered = ""
	m.vp.GotoTop()
	m.vp.SetXOffset(0)
	// A live stream is read again each time: it may have grown.
	if id == m.detailID && (m.detail != nil || m.detailErr != nil || m.loading) && (!m.o.Live || m.loading) {
		return nil
	}
	m.detailID, m.detail, m.detailErr = id, nil, nil
	if m.o.Load == nil {
		m.detailErr = fmt.Errorf("no stream detail for this input")
		return nil
	}
	m.loading = true
	m.tail = m.o.Live // a live ladder shows its newest arrows
	return m.load(id)
}

// load reads stream id for the detail pane, on the command's goroutine.
func (m *Model) load(id reassembly.StreamID) tea.Cmd {
	load, ctx := m.o.Load, m.ctx
	m.loadAt = time.Now()
	return func() tea.Msg {
		start := time.Now()
		d, err := load(ctx, id)
		return detailMsg{id: id, d: d, err: err, took: time.Since(start)}
	}
}

// refreshEvery is how often, at most, an open live stream shown in the
// detail pane is read again as it grows (more rarely when reading it takes
// long: at most a fifth of the time goes to it).
const refreshEvery = 500 * time.Millisecond

// regrow reads the shown live stream again when ss has news of it: the
// ladder grows as packets come, the map and transcript as bytes do.
func (m *Model) regrow(ss []reassembly.Summary) tea.Cmd {
	if !m.o.Live || m.pane != paneDetail || m.loading || m.refreshing || m.o.Load == nil {
		return nil
	}
	for i := range ss {
		if ss[i].StreamID() == m.detailID {
			return m.regrowNow()
		}
	}
	return nil
}

// regrowMsg comes when a read of the shown live stream, put off to keep
// reads apart, is due.
type regrowMsg struct{}

// regrowNow reads the shown live stream again, or once the last read is
// long enough ago.
func (m *Model) regrowNow() tea.Cmd {
	if wait := max(refreshEvery, 4*m.loadTook) - time.Since(m.loadAt); wait > 0 {
		if m.regrowDue {
			return nil
		}
		m.regrowDue = true
		return tea.Tick(wait, func(time.Time) tea.Msg { return regrowMsg{} })
	}
	m.refreshing = true
	return m.load(m.detailID)
}

// noteMsg is a line to say on the totals line (what w wrote).
type noteMsg string

// save writes what was captured so far (w), on the command's goroutine.
func (m *Model) save() tea.Cmd {
	if m.o.Save == nil {
		m.note = "w: this capture is a file already (" + textsafe.Escape(m.name()) + ")"
		return nil
	}
	save := m.o.Save
	m.note = "writing what was captured…"
	return func() tea.Msg {
		msg, err := save()
		if err != nil {
			return noteMsg("w: " + textsafe.Escape(err.Error()))
		}
		return noteMsg(msg)
	}
}

// pause stops or resumes the screen's updates (the capture goes on).
func (m *Model) pause() tea.Cmd {
	m.paused = !m.paused
	if m.paused {
		return nil
	}
	held := m.held
	m.held = nil
	var cmds []tea.Cmd
	for _, msg := range held {
		_, cmd := m.Update(msg)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

// rateSample updates the frame rate with the count n of frames at now,
// over windows of a second at least.
func (m *Model) rateSample(n int, now time.Time) {
	switch dt := now.Sub(m.rateAt); {
	case m.rateAt.IsZero():
		m.rateAt, m.rateN = now, n
	case dt >= time.Second:
		m.rate = float64(n-m.rateN) / dt.Seconds()
		m.rateAt, m.rateN = now, n
	}
}

// selectStream moves the table's cursor to id, clearing a filter that
// hides it.
func (m *Model) selectStream(id reassembly.StreamID) {
	m.picked = true
	find := func() bool {
		for i, j := range m.visible {
			if m.rows[j].sum.StreamID() == id {
				m.cursor = i
				m.clampTop()
				return true
			}
		}
		return false
	}
	if !find() && m.filter != "" {
		m.filter, m.dirty = "", true
		m.refresh()
		find()
	}
}
