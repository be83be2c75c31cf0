package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/internal/golden"
	"github.com/sockscope/sockscope/reassembly"
)

// corpus is a bundled capture of the repository's corpus.
func corpus(name string) string { return filepath.Join("..", "testdata", "corpus", name) }

// scanOptions are read's defaults: findings on, no bounds changed.
func scanOptions(t *testing.T, src *capture.FileSource) ScanOptions {
	eng := findings.New(findings.DefaultConfig())
	return ScanOptions{Engine: eng, Defrag: src.Defrag(), Findings: func(st reassembly.Stats) []findings.Finding {
		fs := eng.Finish(findings.Summary{Info: src.Info(), Stats: st})
		if fs == nil {
			fs = []findings.Finding{}
		}
		return fs
	}}
}

// loader reads one stream of path again, as cmd wires Options.Load.
func loader(path string) func(context.Context, reassembly.StreamID) (*Detail, error) {
	return func(_ context.Context, id reassembly.StreamID) (*Detail, error) {
		src, err := capture.Open(path)
		if err != nil {
			return nil, err
		}
		defer src.Close()
		return LoadStream(src, id, reassembly.Options{}, nil)
	}
}

// scanned returns a model of w×h that has read the corpus file name
// through Scan, with every message delivered as the program would.
func scanned(t *testing.T, name string, w, h int, o Options) *Model {
	t.Helper()
	path := corpus(name)
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	o.Name, o.Load = path, loader(path)
	m := New(context.Background(), o)
	m.Update(tea.WindowSizeMsg{Width: w, Height: h})
	var msgs []tea.Msg
	Scan(context.Background(), src, scanOptions(t, src), NewFeed(func(msg tea.Msg) { msgs = append(msgs, msg) }))
	for _, msg := range msgs {
		m.Update(msg)
	}
	if !m.done {
		t.Fatal("the scan sent no doneMsg")
	}
	return m
}

// keyMsg turns a key name as bubbletea spells it ("enter", "pgdown", "j",
// "S") into the key press a terminal sends.
func keyMsg(k string) tea.KeyPressMsg {
	special := map[string]rune{"enter": tea.KeyEnter, "esc": tea.KeyEscape, "up": tea.KeyUp, "down": tea.KeyDown,
		"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "home": tea.KeyHome, "end": tea.KeyEnd, "left": tea.KeyLeft,
		"right": tea.KeyRight, "backspace": tea.KeyBackspace, "space": tea.KeySpace}
	if c, ok := special[k]; ok {
		return tea.KeyPressMsg{Code: c}
	}
	if k == "ctrl+c" {
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// press sends keys to m, running the commands they return (a stream's
// load) to completion as the program would; it reports whether one quit.
func press(m *Model, keys ...string) (quit bool) {
	for _, k := range keys {
		_, cmd := m.Update(keyMsg(k))
		for cmd != nil {
			msg := cmd()
			cmd = nil
			switch msg.(type) {
			case tea.QuitMsg:
				quit = true
			case nil:
			default:
				_, cmd = m.Update(msg)
			}
		}
	}
	return quit
}

// typed splits s into one key per rune (for the filter).
func typed(s string) []string { return strings.Split(s, "") }

func TestKeyNames(t *testing.T) {
	for _, k := range []string{"enter", "esc", "pgdown", "home", "j", "S", "/", "?", "ctrl+c"} {
		if got := keyMsg(k).String(); got != k {
			t.Errorf("key %q reads as %q", k, got)
		}
	}
}

// screens are the golden screens: keystrokes from the first screen on a
// corpus capture, at 80×24 and 160×48, without colour.
var screens = []struct {
	name, file string
	keys       []string
	ascii      bool
}{
	{"conns", "04_http11_keepalive_curl.pcap", nil, false},
	{"conns_scan", "16_nmap_syn_scan_1-200.pcap", []string{"j", "j", "pgdown"}, false},
	{"conns_sort_duration_desc", "06_http10_50_short_conns_ab.pcap.gz", []string{"s", "s", "s", "S"}, false},
	{"conns_filter", "16_nmap_syn_scan_1-200.pcap", append([]string{"/"}, typed("reset :22")...), false},
	{"conns_filter_kept", "16_nmap_syn_scan_1-200.pcap", append(append([]string{"/"}, typed("reset")...), "enter", "end"), false},
	{"conns_filter_none", "04_http11_keepalive_curl.pcap", append([]string{"/"}, typed("udp")...), false},
	{"conns_ascii", "28_routed_http_loss_retransmit.pcap", nil, true},
	{"detail_ladder", "04_http11_keepalive_curl.pcap", []string{"enter"}, false},
	{"detail_ladder_scrolled", "04_http11_keepalive_curl.pcap", []string{"enter", "pgdown", "j"}, false},
	{"detail_ladder_ascii", "28_routed_http_loss_retransmit.pcap", []string{"l"}, true},
	{"detail_ladder_explained", "01_tcp_handshake_hello_fin.pcap", []string{"enter", "e"}, false},
	{"detail_map", "04_http11_keepalive_curl.pcap", []string{"m"}, false},
	{"detail_map_end", "05_http11_pipelined_10req.pcapng", []string{"enter", "m", "end"}, false},
	{"detail_transcript", "04_http11_keepalive_curl.pcap", []string{"t"}, false},
	{"detail_findings", "28_routed_http_loss_retransmit.pcap", []string{"f"}, false},
	{"detail_no_payload", "02_tcp_conn_refused_rst.pcap", []string{"m"}, false},
	{"findings", "28_routed_http_loss_retransmit.pcap", []string{"F"}, false},
	{"findings_second", "16_nmap_syn_scan_1-200.pcap", []string{"F", "j"}, false},
	{"findings_enter", "16_nmap_syn_scan_1-200.pcap", []string{"F", "enter"}, false},
	{"findings_enter_frame", "28_routed_http_loss_retransmit.pcap", []string{"F", "enter"}, false},
	{"conns_damaged", "25_truncated_mid_packet.pcap", nil, false},
	{"conns_udp", "13_dns_udp_dnsmasq_sll2.pcap", nil, false},
	{"help", "04_http11_keepalive_curl.pcap", []string{"?"}, false},
	{"help_closed", "04_http11_keepalive_curl.pcap", []string{"?", "x"}, false},
}

func TestScreens(t *testing.T) {
	for _, sc := range screens {
		for _, size := range [][2]int{{80, 24}, {160, 48}} {
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, size[0], size[1]), func(t *testing.T) {
				m := scanned(t, sc.file, size[0], size[1], Options{ASCII: sc.ascii})
				if press(m, sc.keys...) {
					t.Fatal("quit")
				}
				screen := m.Screen()
				checkScreen(t, screen, size[0], size[1], sc.ascii)
				golden.Check(t, []byte(screen+"\n"))
			})
		}
	}
}

// checkScreen checks what every screen must be: h lines of w columns, no
// control bytes (escaped payload, no colour asked for), ASCII with --ascii.
func checkScreen(t *testing.T, screen string, w, h int, ascii bool) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if n := len([]rune(l)); n != w {
			t.Errorf("line %d is %d columns, want %d: %q", i+1, n, w, l)
		}
		for _, r := range l {
			if r < 0x20 || r == 0x7f || (ascii && r > 0x7e) {
				t.Errorf("line %d has %U: %q", i+1, r, l)
				break
			}
		}
	}
}

func TestQuitKeys(t *testing.T) {
	for _, keys := range [][]string{{"q"}, {"ctrl+c"}, {"enter", "q"}, {"F", "q"}, {"/", "x", "ctrl+c"}} {
		m := scanned(t, "04_http11_keepalive_curl.pcap", 80, 24, Options{})
		if !press(m, keys...) {
			t.Errorf("%q did not quit", keys)
		}
	}
	// q is a letter of the filter while typing one.
	m := scanned(t, "04_http11_keepalive_curl.pcap", 80, 24, Options{})
	if press(m, "/", "q") || m.filter != "q" {
		t.Errorf("q while filtering: filter %q", m.filter)
	}
}

func TestResize(t *testing.T) {
	m := scanned(t, "16_nmap_syn_scan_1-200.pcap", 160, 48, Options{})
	press(m, "end")
	for _, size := range [][2]int{{80, 24}, {100, 30}, {200, 60}, {20, 8}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		checkScreen(t, m.Screen(), size[0], size[1], false)
		if !strings.Contains(m.Screen(), "tcp/199") {
			t.Errorf("%v: the selected last stream is off screen", size)
		}
	}
	press(m, "enter")
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		m.Update(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
		checkScreen(t, m.Screen(), size[0], size[1], false)
	}
}

// TestStreamsFillIn: rows appear as streams end, before the capture is
// read to its end, and a stream delivered twice (flushed early, then seen
// again) is one row.
func TestStreamsFillIn(t *testing.T) {
	m := New(context.Background(), Options{Name: "x.pcap"})
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	m.Update(progressMsg{Frames: 10, Read: 500, Size: 1000})
	if s := m.Screen(); !strings.Contains(s, "reading [##########..........] 50% · 10 frames · 0 streams so far") || !strings.Contains(s, "no stream has ended yet") {
		t.Errorf("before any stream:\n%s", s)
	}
	path := corpus("06_http10_50_short_conns_ab.pcap.gz")
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var msgs []tea.Msg
	Scan(context.Background(), src, scanOptions(t, src), NewFeed(func(msg tea.Msg) { msgs = append(msgs, msg) }))
	var first streamsMsg
	for _, msg := range msgs {
		if s, ok := msg.(streamsMsg); ok {
			first = s
			break
		}
	}
	if len(first) == 0 {
		t.Fatal("no streams")
	}
	m.Update(first[:1])
	m.Update(first[:1])
	if len(m.rows) != 1 || !strings.Contains(m.Screen(), "tcp/0") {
		t.Errorf("rows %d:\n%s", len(m.rows), m.Screen())
	}
}

func TestFilterMatches(t *testing.T) {
	m := scanned(t, "28_routed_http_loss_retransmit.pcap", 160, 48, Options{})
	for _, c := range []struct {
		filter string
		want   int
	}{
		{"tcp", 1}, {"http1", 1}, {"198.18.", 1}, {":8000", 1}, {"udp", 0}, {"retransmission", 1}, {"nothing-like-this", 0},
	} {
		m.filter, m.dirty = c.filter, true
		m.refresh()
		if len(m.visible) != c.want {
			t.Errorf("filter %q: %d rows, want %d", c.filter, len(m.visible), c.want)
		}
	}
}

// TestColour: with colour the selected row is reversed and states are
// coloured, and the words stay; without it there is no escape at all.
func TestColour(t *testing.T) {
	m := scanned(t, "02_tcp_conn_refused_rst.pcap", 120, 20, Options{Color: true})
	s := m.Screen()
	for _, want := range []string{"\x1b[7m", "refused (SYN answered by RST)", "\x1b[33m"} {
		if !strings.Contains(s, want) {
			t.Errorf("colour screen lacks %q:\n%q", want, s)
		}
	}
	m = scanned(t, "02_tcp_conn_refused_rst.pcap", 120, 20, Options{})
	if s := m.Screen(); strings.Contains(s, "\x1b") {
		t.Errorf("monochrome screen has an escape:\n%q", s)
	}
}

// TestMouse: the wheel scrolls, a click selects a row and a second click
// opens it, a click on a tab switches the view, a click selects a finding.
func TestMouse(t *testing.T) {
	m := scanned(t, "16_nmap_syn_scan_1-200.pcap", 120, 30, Options{})
	m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	if m.cursor != 3 {
		t.Errorf("wheel down: cursor %d, want 3", m.cursor)
	}
	m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, Y: headerLines + 2 + 5})
	if id, _ := m.selected(); id.String() != "tcp/5" {
		t.Errorf("click on the 6th row selected %s", id)
	}
	_, cmd := m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, Y: headerLines + 2 + 5})
	if cmd == nil || m.pane != paneDetail {
		t.Fatal("a click on the selected row did not open it")
	}
	m.Update(cmd())
	m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, X: 14, Y: headerLines + 1})
	if m.view != viewMap {
		t.Errorf("a click on the map's tab: view %d", m.view)
	}
	press(m, "esc", "F")
	m.Update(tea.MouseClickMsg{Button: tea.MouseLeft, Y: headerLines + 1 + 1})
	if m.fcursor != 1 {
		t.Errorf("a click on the second finding: cursor %d", m.fcursor)
	}
	if v := m.View(); v.MouseMode != tea.MouseModeCellMotion {
		t.Error("the mouse is not asked for")
	}
	if v := scanned(t, "02_tcp_conn_refused_rst.pcap", 80, 24, Options{NoMouse: true}).View(); v.MouseMode != tea.MouseModeNone {
		t.Error("--no-mouse asks for the mouse")
	}
}

// TestHelpShowsEveryKey: ? lists every key, even at 80×24.
func TestHelpShowsEveryKey(t *testing.T) {
	m := scanned(t, "02_tcp_conn_refused_rst.pcap", 80, 24, Options{})
	press(m, "?")
	s := m.Screen()
	for _, k := range keys {
		if !strings.Contains(s, k[0]) {
			t.Errorf("? does not show %q:\n%s", k[0], s)
		}
	}
}

// TestCursorFollowsPickedStream: the first row stays selected as rows come
// and sorts change, until a row is picked; then the picked stream stays
// selected wherever it moves.
func TestCursorFollowsPickedStream(t *testing.T) {
	m := scanned(t, "06_http10_50_short_conns_ab.pcap.gz", 120, 30, Options{})
	press(m, "s", "s", "s")
	if m.cursor != 0 {
		t.Errorf("unpicked: cursor %d after sorting", m.cursor)
	}
	press(m, "home", "j", "j")
	want, _ := m.selected()
	press(m, "S", "s")
	if got, _ := m.selected(); got != want {
		t.Errorf("picked %s, selected %s after sorting", want, got)
	}
	if !strings.Contains(m.Screen(), "▶ "+want.String()+" ") {
		t.Errorf("the picked row is off screen:\n%s", m.Screen())
	}
}

// TestPause: p holds what the pipeline sends (the screen stands still) and
// p again shows it.
func TestPause(t *testing.T) {
	path := corpus("04_http11_keepalive_curl.pcap")
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m := New(context.Background(), Options{Name: path})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 24})
	press(m, "p")
	Scan(context.Background(), src, scanOptions(t, src), NewFeed(func(msg tea.Msg) { m.Update(msg) }))
	if s := m.Screen(); !strings.Contains(s, "PAUSED (p resumes; ") || strings.Contains(s, "tcp/0") || m.done {
		t.Errorf("paused, the screen moved:\n%s", s)
	}
	press(m, "p")
	if s := m.Screen(); strings.Contains(s, "PAUSED") || !strings.Contains(s, "▶ tcp/0") || !strings.Contains(s, "3 findings") {
		t.Errorf("resumed:\n%s", s)
	}
}

// TestSave: w writes what a live capture captured (Options.Save) and says
// where until the next key; a file is one already.
func TestSave(t *testing.T) {
	m := scanned(t, "02_tcp_conn_refused_rst.pcap", 100, 24, Options{})
	press(m, "w")
	if s := m.Screen(); !strings.Contains(s, "w: this capture is a file already") {
		t.Errorf("w on a file:\n%s", s)
	}
	m = scanned(t, "02_tcp_conn_refused_rst.pcap", 100, 24, Options{Save: func() (string, error) { return "wrote 6 frames to x.pcapng", nil }})
	press(m, "w")
	if s := m.Screen(); !strings.Contains(s, "wrote 6 frames to x.pcapng · ") {
		t.Errorf("w:\n%s", s)
	}
	press(m, "j")
	if s := m.Screen(); strings.Contains(s, "wrote 6 frames") {
		t.Errorf("the note outlived the next key:\n%s", s)
	}
}
