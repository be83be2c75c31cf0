package demo

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// track reads a capture file back with the reassembly Tracker, keeping
// every stream (so packet records and notes are there).
func track(t *testing.T, path string) []*reassembly.Stream {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var col reassembly.Collector
	tr := reassembly.NewTracker(reassembly.Options{Keep: func(capture.Proto, int) bool { return true }, OnStream: col.Add})
	if err := tr.Consume(src); err != nil {
		t.Fatalf("read back: %v", err)
	}
	return col.Streams()
}

// notesOf returns the frames carrying a note of kind k.
func notesOf(s *reassembly.Stream, k reassembly.NoteKind) []int {
	var f []int
	for _, p := range s.Packets.All() {
		for _, n := range p.Notes() {
			if n.Kind == k {
				f = append(f, p.Frame)
			}
		}
	}
	return f
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestScenarios writes each scenario's capture to a file, reads it back with
// the Tracker, and checks that it shows what the scenario is about.
func TestScenarios(t *testing.T) {
	checks := map[string]func(t *testing.T, ss []*reassembly.Stream){
		"handshake": func(t *testing.T, ss []*reassembly.Stream) {
			s := ss[0]
			if s.State != reassembly.StateClosed || s.ClosedBy != reassembly.ClientToServer || s.HandshakeRTT <= 0 {
				t.Errorf("state %v closed by %v rtt %v; want closed by the client after a handshake", s.State, s.ClosedBy, s.HandshakeRTT)
			}
			if s.Dirs[0].Bytes == 0 || s.Dirs[1].Bytes == 0 {
				t.Errorf("bytes %d/%d: want a request and a reply", s.Dirs[0].Bytes, s.Dirs[1].Bytes)
			}
		},
		"refused": func(t *testing.T, ss []*reassembly.Stream) {
			if s := ss[0]; s.State != reassembly.StateRefused || !equalInts(notesOf(s, reassembly.NoteRefused), []int{2}) {
				t.Errorf("state %v, refused notes %v; want refused at frame 2", s.State, notesOf(s, reassembly.NoteRefused))
			}
		},
		"reset": func(t *testing.T, ss []*reassembly.Stream) {
			s := ss[0]
			if s.State != reassembly.StateReset || s.ResetBy != reassembly.ServerToClient || s.ResetAfter == 0 {
				t.Errorf("state %v by %v after %d; want reset by the server mid-stream", s.State, s.ResetBy, s.ResetAfter)
			}
		},
		"half-close": func(t *testing.T, ss []*reassembly.Stream) {
			s := ss[0]
			if s.State != reassembly.StateHalfClosed || s.ClosedBy != reassembly.ClientToServer {
				t.Errorf("state %v by %v; want half-closed by the client", s.State, s.ClosedBy)
			}
			// The server keeps sending after the client's FIN.
			fin := s.Dirs[0].FINFrame
			after := 0
			for _, p := range s.Packets.All() {
				if p.Frame > fin && p.Dir == reassembly.ServerToClient && p.Len > 0 {
					after++
				}
			}
			if after == 0 {
				t.Error("no server data after the client's FIN")
			}
		},
		"simultaneous-close": func(t *testing.T, ss []*reassembly.Stream) {
			s := ss[0]
			if s.State != reassembly.StateClosed || len(notesOf(s, reassembly.NoteSimultaneousClose)) != 1 {
				t.Errorf("state %v, simultaneous-close notes %v", s.State, notesOf(s, reassembly.NoteSimultaneousClose))
			}
		},
		"retransmission": func(t *testing.T, ss []*reassembly.Stream) {
			s := ss[0]
			if s.Dirs[0].Retrans != 1 || !equalInts(notesOf(s, reassembly.NoteRetransmission), []int{13}) {
				t.Errorf("retransmissions %d at %v; want 1 at frame 13", s.Dirs[0].Retrans, notesOf(s, reassembly.NoteRetransmission))
			}
			if !equalInts(notesOf(s, reassembly.NoteDupAck), []int{10, 11, 12}) {
				t.Errorf("duplicate ACKs at %v, want 10, 11, 12", notesOf(s, reassembly.NoteDupAck))
			}
			if s.Dirs[0].Bytes != 5000 || s.Dirs[0].Missing != 0 || s.State != reassembly.StateClosed {
				t.Errorf("bytes %d missing %d state %v", s.Dirs[0].Bytes, s.Dirs[0].Missing, s.State)
			}
		},
		"zero-window": func(t *testing.T, ss []*reassembly.Stream) {
			s := ss[0]
			if !equalInts(notesOf(s, reassembly.NoteZeroWindow), []int{10}) || !equalInts(notesOf(s, reassembly.NoteWindowUpdate), []int{11}) {
				t.Errorf("zero window at %v, window update at %v; want 10 and 11",
					notesOf(s, reassembly.NoteZeroWindow), notesOf(s, reassembly.NoteWindowUpdate))
			}
			if s.Dirs[1].Bytes != 6144 || s.State != reassembly.StateClosed {
				t.Errorf("server bytes %d state %v", s.Dirs[1].Bytes, s.State)
			}
		},
		"split-message": func(t *testing.T, ss []*reassembly.Stream) {
			s := ss[0]
			var lens []int
			for _, seg := range s.Dirs[0].Segments.All() {
				lens = append(lens, seg.Len)
			}
			if !equalInts(lens, []int{24, 8}) || len(s.Dirs[0].Data) != 32 {
				t.Errorf("client segments %v, %d bytes; want 24+8 = two 16-byte messages", lens, len(s.Dirs[0].Data))
			}
		},
		"tcp-vs-udp": func(t *testing.T, ss []*reassembly.Stream) {
			if len(ss) != 2 || ss[0].Proto != capture.ProtoTCP || ss[1].Proto != capture.ProtoUDP {
				t.Fatalf("%d streams; want one TCP stream and one UDP flow", len(ss))
			}
			tcp, udp := ss[0], ss[1]
			if string(tcp.Dirs[0].Data) != "ping 1\nping 2\nping 3\n" || tcp.Dirs[0].Segments.Len() != 2 {
				t.Errorf("TCP: %q in %d segments", tcp.Dirs[0].Data, tcp.Dirs[0].Segments.Len())
			}
			if udp.State != reassembly.StateUDP || udp.Dirs[0].Packets != 3 || udp.Dirs[0].Bytes != 21 {
				t.Errorf("UDP: %d datagrams, %d bytes", udp.Dirs[0].Packets, udp.Dirs[0].Bytes)
			}
		},
	}
	for _, sc := range All() {
		t.Run(sc.Name, func(t *testing.T) {
			check, ok := checks[sc.Name]
			if !ok {
				t.Fatalf("scenario %q has no check: add one", sc.Name)
			}
			path := filepath.Join(t.TempDir(), sc.Name+".pcap")
			if err := os.WriteFile(path, sc.Pcap(), 0o644); err != nil {
				t.Fatal(err)
			}
			ss := track(t, path)
			if len(ss) == 0 {
				t.Fatal("no streams")
			}
			for _, s := range ss {
				if s.Proto == capture.ProtoTCP && (s.ClientGuessed || s.Client.Port() < 40000) {
					t.Errorf("%s: client %v (guessed %v): want the SYN's sender", s.Name(), s.Client, s.ClientGuessed)
				}
			}
			check(t, ss)
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, sc := range All() {
		if !bytes.Equal(sc.Pcap(), sc.Pcap()) {
			t.Errorf("%s: two runs give different captures", sc.Name)
		}
	}
}

func TestNames(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range All() {
		if sc.Name == "" || sc.Summary == "" || sc.About == "" || sc.Framing == "" || seen[sc.Name] {
			t.Errorf("scenario %+v: empty field or duplicate name", sc.Name)
		}
		seen[sc.Name] = true
		if got, ok := Find(sc.Name); !ok || got.Name != sc.Name {
			t.Errorf("Find(%q) failed", sc.Name)
		}
	}
	if _, ok := Find("nope"); ok {
		t.Error("Find(nope) succeeded")
	}
}
