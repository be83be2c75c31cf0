package ui

import (
	"strings"
	"unicode"

	tea "charm.land/bubbletea/v2"

	"github.com/sockscope/sockscope/reassembly"
)

// The keys and the mouse: what each does on each pane (the ? list, keys
// in view.go, says the same).

// key handles a key press; it returns a command to run (a load, or quit).
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	s := k.String()
	if s == "ctrl+c" {
		return tea.Quit
	}
	m.note = ""
	if m.help {
		m.help = false // any key closes the key list
		return nil
	}
	if m.filtering {
		m.filterKey(k)
		m.refresh()
		return nil
	}
	switch s {
	case "?":
		m.help = true
		return nil
	case "p":
		return m.pause()
	case "w":
		return m.save()
	}
	var cmd tea.Cmd
	switch m.pane {
	case paneConns:
		cmd = m.connsKey(s)
	case paneDetail:
		cmd = m.detailKey(s)
	case paneFindings:
		cmd = m.findingsKey(s)
	}
	m.refresh()
	return cmd
}

func (m *Model) filterKey(k tea.KeyPressMsg) {
	switch k.String() {
	case "esc":
		m.filter, m.filtering = "", false
	case "enter":
		m.filtering = false
	case "backspace":
		if r := []rune(m.filter); len(r) > 0 {
			m.filter = string(r[:len(r)-1])
		}
	default:
		if k.Text != "" && k.Mod&^tea.ModShift == 0 && !strings.ContainsFunc(k.Text, func(r rune) bool { return !unicode.IsPrint(r) }) {
			m.filter += k.Text
		}
	}
	m.cursor, m.top = 0, 0
	m.dirty = true
}

// move handles the keys that move a cursor over n items on a page of
// page lines; it reports whether s was one of them.
func move(s string, cur *int, n, page int) bool {
	switch s {
	case "j", "down":
		*cur++
	case "k", "up":
		*cur--
	case "pgdown", "space", "ctrl+f":
		*cur += page
	case "pgup", "ctrl+b":
		*cur -= page
	case "home", "g":
		*cur = 0
	case "end", "G":
		*cur = n - 1
	default:
		return false
	}
	*cur = max(min(*cur, n-1), 0)
	return true
}

func (m *Model) connsKey(s string) tea.Cmd {
	if move(s, &m.cursor, len(m.visible), m.tableRows()) {
		m.picked = true
		m.clampTop()
		return nil
	}
	header, _ := columns()
	ncol := len(header)
	switch s {
	case "q":
		return tea.Quit
	case "s":
		m.sortCol = (m.sortCol + 1) % ncol
		m.dirty = true
	case "S":
		m.sortRev = !m.sortRev
		m.dirty = true
	case "/":
		m.filtering = true
	case "esc":
		if m.filter != "" {
			m.filter, m.dirty = "", true
		}
	case "left", "h":
		m.xoff = max(m.xoff-8, 0)
	case "right":
		if m.xoff+m.w < m.tableWidth {
			m.xoff += 8
		}
	case "F":
		m.pane = paneFindings
	case "enter", "l", "m", "t", "f":
		if id, ok := m.selected(); ok {
			v := map[string]view{"enter": m.view, "l": viewLadder, "m": viewMap, "t": viewTranscript, "f": viewFindings}[s]
			return m.open(id, v)
		}
	}
	return nil
}

func (m *Model) detailKey(s string) tea.Cmd {
	switch s {
	case "q":
		return tea.Quit
	case "esc", "backspace":
		m.pane = paneConns
	case "l", "m", "t", "f":
		v := map[string]view{"l": viewLadder, "m": viewMap, "t": viewTranscript, "f": viewFindings}[s]
		if v != m.view {
			m.view, m.rendered = v, ""
			m.vp.GotoTop()
			m.vp.SetXOffset(0)
		}
	case "F":
		m.pane = paneFindings
	case "e":
		// The ladder with a plain-language note after every packet
		// (timeline --explain), for teaching; e again without.
		m.o.Explain = !m.o.Explain
		if m.view == viewLadder {
			m.rendered = ""
			m.tail = false
			m.vp.GotoTop()
		}
	case "j", "down":
		m.vp.ScrollDown(1)
		m.tail = m.vp.AtBottom()
	case "k", "up":
		m.vp.ScrollUp(1)
		m.tail = false
	case "pgdown", "space", "ctrl+f":
		m.vp.PageDown()
		m.tail = m.vp.AtBottom()
	case "pgup", "ctrl+b":
		m.vp.PageUp()
		m.tail = false
	case "home", "g":
		m.vp.GotoTop()
		m.tail = false
	case "end", "G":
		m.vp.GotoBottom()
		m.tail = true
	case "left", "h":
		m.vp.ScrollLeft(8)
	case "right":
		m.vp.ScrollRight(8)
	}
	return nil
}

func (m *Model) findingsKey(s string) tea.Cmd {
	fs := m.fs
	if move(s, &m.fcursor, len(fs), max(m.findingsRows(), 1)) {
		return nil
	}
	switch s {
	case "q":
		return tea.Quit
	case "esc", "F", "backspace":
		m.pane = paneConns
	case "enter":
		// The stream's ladder at the finding's first evidence frame (its
		// findings, f, list the frames); without frames, its findings.
		if m.fcursor < len(fs) && len(fs[m.fcursor].Streams) > 0 {
			f := fs[m.fcursor]
			id := reassembly.StreamID{Proto: f.Streams[0].Proto, ID: f.Streams[0].ID}
			m.selectStream(id)
			if len(f.Frames) == 0 {
				return m.open(id, viewFindings)
			}
			cmd := m.open(id, viewLadder)
			m.jumpFrame = f.Frames[0]
			m.syncDetail()
			return cmd
		}
	}
	return nil
}

// wheel scrolls the pane under the pointer by three lines.
func (m *Model) wheel(ms tea.Mouse) {
	if m.help || m.filtering {
		return
	}
	k := ""
	switch ms.Button {
	case tea.MouseWheelDown:
		k = "down"
	case tea.MouseWheelUp:
		k = "up"
	default:
		return
	}
	for range 3 {
		m.key(tea.KeyPressMsg{Code: map[string]rune{"down": tea.KeyDown, "up": tea.KeyUp}[k]})
	}
}

// click selects what is under the pointer: a row of the table (a click on
// the selected row opens it), a finding, or a view's tab.
func (m *Model) click(ms tea.Mouse) tea.Cmd {
	if ms.Button != tea.MouseLeft || m.help || m.filtering {
		return nil
	}
	switch m.pane {
	case paneConns:
		i := m.top + ms.Y - (headerLines + 2) // under the title, totals, header and rule
		if ms.Y < headerLines+2 || i >= len(m.visible) || i >= m.top+m.tableRows() {
			return nil
		}
		if i == m.cursor {
			return m.key(tea.KeyPressMsg{Code: tea.KeyEnter})
		}
		m.cursor, m.picked = i, true
	case paneFindings:
		i := m.ftop + ms.Y - (headerLines + 1)
		if ms.Y >= headerLines+1 && i < len(m.fs) && i < m.ftop+m.findingsRows() {
			m.fcursor = i
		}
	case paneDetail:
		if ms.Y == headerLines+1 { // the tabs: "[l ladder]   m map ..."
			at := 0
			for i, name := range viewNames {
				w := len(name) + 4 + 2
				if i == int(viewFindings) {
					w += 6
				}
				if ms.X < at+w {
					return m.key(tea.KeyPressMsg{Code: rune(name[0]), Text: name[:1]})
				}
				at += w
			}
		}
	}
	return nil
}
