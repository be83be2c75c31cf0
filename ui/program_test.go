package ui

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/sockscope/sockscope/capture"
)

// TestProgram drives the model inside a real bubbletea program (teatest's
// virtual terminal) while Scan feeds it from another goroutine, as Run
// does: the stream appears, keys open its ladder, q ends the program.
func TestProgram(t *testing.T) {
	path := corpus("04_http11_keepalive_curl.pcap")
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m := New(context.Background(), Options{Name: path, Load: loader(path)})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	go Scan(context.Background(), src, scanOptions(t, src), NewFeed(tm.Send))
	wait := func(what string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(what)) },
			teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(10*time.Millisecond))
	}
	wait("3 findings")
	tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
	wait("SYN,ACK seq=0 ack=1")
	tm.Send(keyMsg("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	final := tm.FinalModel(t).(*Model)
	if final.pane != paneDetail || final.view != viewLadder || final.detail == nil {
		t.Errorf("final model: pane %d view %d detail %v", final.pane, final.view, final.detail != nil)
	}
	if s := final.Screen(); !strings.Contains(s, "SYN,ACK") {
		t.Errorf("final screen has no ladder:\n%s", s)
	}
}
