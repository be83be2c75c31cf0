package ui

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/pcapgen"
)

// attack holds terminal attacks: CSI (clear, home, colour), OSC 52
// (clipboard), OSC 0 (title), DCS, C1 CSI, bidi overrides, NUL, BEL, BS,
// DEL, CR.
const attack = "\x1b[2J\x1b[H\x1b[31m\x1b]52;c;cm0gLXJmIH4K\x07\x1b]0;pwned\x07\x1bPq#0\x1b\\\x9b31m\u009b32m\u202eevil\u2066\x00\x07\x08\x7f\rX"

// TestEscapedEverywhere: a capture whose payload and file name carry
// terminal attacks shows them escaped on every pane, and the pane stays
// w columns wide (a raw ESC or CR would move the cursor).
func TestEscapedEverywhere(t *testing.T) {
	var c pcapgen.Capture
	k := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), 1, 2)
	k.Handshake()
	k.Send(0, []byte("GET /"+attack+" HTTP/1.1\r\nHost: "+attack+"\r\n\r\n"))
	k.Ack(1)
	k.Send(1, []byte("HTTP/1.1 200 OK\r\nServer: "+attack+"\r\nContent-Length: 5\r\n\r\n\x1b[2Jx"))
	k.Fin(0)
	k.Fin(1)
	k.Ack(0)
	path := filepath.Join(t.TempDir(), "evil\x1b]0;title\x07.pcap")
	if err := os.WriteFile(path, c.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m := New(context.Background(), Options{Name: path, Load: loader(path)})
	m.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	Scan(context.Background(), src, scanOptions(t, src), NewFeed(func(msg tea.Msg) { m.Update(msg) }))
	for _, keys := range [][]string{nil, {"l"}, {"m"}, {"t"}, {"t", "end"}, {"f"}, {"esc", "F"}, {"esc", "/", "\x1b"}} {
		press(m, keys...)
		s := m.Screen()
		checkScreen(t, s, 100, 30, false)
		for _, bad := range []string{"\u202e", "\u2066", "\u009b"} {
			if strings.Contains(s, bad) {
				t.Errorf("%q: screen holds %U raw", keys, []rune(bad)[0])
			}
		}
	}
	press(m, "esc", "t")
	if s := m.Screen(); !strings.Contains(s, `\e[2J\e[H`) {
		t.Errorf("the transcript does not show the escape escaped:\n%s", s)
	}
}
