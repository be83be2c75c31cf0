package output

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/internal/golden"
	"github.com/sockscope/sockscope/sockets"
)

// recordedSnapshot is a real snapshot, taken with sockscope sockets
// --format json in a network namespace running cmd/testdata/sockets/peer.py:
// a server with three clients, a server that closed at once (its client
// sits in CLOSE_WAIT), a server that stops reading, a listener with backlog
// 1 flooded by five connects, and a UDP socket that is never read.
func recordedSnapshot(t *testing.T) *sockets.Snapshot {
	t.Helper()
	b, err := os.ReadFile("testdata/sockets/scenario.json")
	if err != nil {
		t.Fatal(err)
	}
	var s sockets.Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestSocketsText(t *testing.T) {
	var b bytes.Buffer
	if err := SocketsText(&b, recordedSnapshot(t), SocketsOptions{Notes: sockets.DefaultNoteOptions}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, b.Bytes())
}

// TestSocketsTextTimeWait lowers the TIME_WAIT threshold and takes away the
// process facts, as a run without root would see them.
func TestSocketsTextMissing(t *testing.T) {
	s := recordedSnapshot(t)
	for i := range s.Sockets {
		if s.Sockets[i].Local.Port() != 8000 && s.Sockets[i].Remote.Port() != 8000 {
			s.Sockets[i].Owners = nil
		}
	}
	s.Missing = []sockets.Gap{{What: "owners", Why: "7 processes' file descriptors could not be read (not root: another user's /proc/PID/fd needs root or CAP_SYS_PTRACE); their sockets show no process"}}
	s.Netstat = nil
	var b bytes.Buffer
	if err := SocketsText(&b, s, SocketsOptions{Notes: sockets.NoteOptions{TimeWaitPile: 1}}); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, b.Bytes())
}

// TestSocketsTextEscapes: a process may name itself anything (prctl
// PR_SET_NAME, or its argv[0]); the terminal gets escapes, not controls.
func TestSocketsTextEscapes(t *testing.T) {
	s := recordedSnapshot(t)
	for i := range s.Sockets {
		for j := range s.Sockets[i].Owners {
			s.Sockets[i].Owners[j].Command = "evil\x1b]52;c;AAAA\a\u202e"
			s.Sockets[i].Owners[j].User = "u\x1b[2J"
		}
	}
	for _, render := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return SocketsText(b, s, SocketsOptions{}) },
		func(b *bytes.Buffer) error { return SocketsJSON(b, s, SocketsOptions{}) },
	} {
		var b bytes.Buffer
		if err := render(&b); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsAny(b.String(), "\x1b\a\u202e") {
			t.Errorf("control characters reach the terminal:\n%q", b.String())
		}
		if !strings.Contains(b.String(), "evil") {
			t.Errorf("the name is gone:\n%s", b.String())
		}
	}
}

// TestSocketsJSON: the JSON line decodes back to the same snapshot, with
// its notes.
func TestSocketsJSON(t *testing.T) {
	s := recordedSnapshot(t)
	var b bytes.Buffer
	if err := SocketsJSON(&b, s, SocketsOptions{Notes: sockets.DefaultNoteOptions}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "\n"); n != 1 {
		t.Fatalf("%d lines, want 1", n)
	}
	var back struct {
		Type string `json:"type"`
		sockets.Snapshot
		Notes []sockets.Note `json:"notes"`
	}
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Type != "sockets" || !reflect.DeepEqual(back.Snapshot.Sockets, s.Sockets) || !reflect.DeepEqual(back.Notes, s.Notes(sockets.DefaultNoteOptions)) {
		t.Errorf("round trip: type %q, %d sockets, %d notes", back.Type, len(back.Sockets), len(back.Notes))
	}
}

func TestEndsText(t *testing.T) {
	for _, tt := range []struct {
		e    sockets.Ends
		want string
	}{
		{sockets.Ends{}, ""},
		{sockets.Ends{Client: &sockets.End{PID: 4211, Command: "curl", FD: 5}, Server: &sockets.End{PID: 981, Command: "nginx", FD: 6, Listener: true}},
			"  curl[4211] fd 5 → nginx[981] (listening fd 6)"},
		{sockets.Ends{Server: &sockets.End{PID: 981, Command: "a\x1b[2Jb", FD: 11}}, `  ? → a\e[2Jb[981] fd 11`},
	} {
		if got := endsText(tt.e); got != tt.want {
			t.Errorf("endsText(%+v) = %q, want %q", tt.e, got, tt.want)
		}
	}
}
