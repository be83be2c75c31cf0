package sockets

import (
	"net/netip"
	"testing"
	"time"
)

// TestAttributorFromSnapshot answers from a snapshot already taken: both
// ends local, the server side queued (named by its listener), and a remote
// peer (only the local end named).
func TestAttributorFromSnapshot(t *testing.T) {
	srv := Owner{PID: 981, FD: 3, Command: "python3"}
	curl := Owner{PID: 4211, FD: 5, Command: "curl"}
	snap := &Snapshot{Sockets: []Socket{
		sock("tcp", "LISTEN", "0.0.0.0:80", "0.0.0.0:0", 1, srv),
		sock("tcp", "ESTABLISHED", "127.0.0.1:40000", "127.0.0.1:80", 2, curl),
		sock("tcp", "ESTABLISHED", "127.0.0.1:80", "127.0.0.1:40000", 0), // queued
		sock("tcp", "ESTABLISHED", "10.0.0.1:41000", "192.0.2.9:443", 3, curl),
	}}
	a := &Attributor{sc: &Scanner{now: time.Now}}
	a.fill(snap)
	e := a.Ends("tcp", netip.MustParseAddrPort("127.0.0.1:40000"), netip.MustParseAddrPort("127.0.0.1:80"))
	if e.Client == nil || *e.Client != (End{PID: 4211, Command: "curl", FD: 5}) || e.Server == nil || *e.Server != (End{PID: 981, Command: "python3", FD: 3, Listener: true}) {
		t.Errorf("loopback: %+v %+v", e.Client, e.Server)
	}
	e = a.Ends("tcp", netip.MustParseAddrPort("10.0.0.1:41000"), netip.MustParseAddrPort("192.0.2.9:443"))
	if e.Client == nil || e.Client.PID != 4211 || e.Server != nil {
		t.Errorf("remote server: %+v %+v", e.Client, e.Server)
	}
	if a.Stats.Lookups != 2 || a.Stats.Found != 2 || a.Stats.Snapshots != 0 {
		t.Errorf("stats %+v", a.Stats)
	}
	// An unknown connection asks for a snapshot, within the bound.
	a.tokens, a.lastFill = 0, time.Now()
	a.Ends("tcp", netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"))
	if a.Stats.Skipped != 1 || a.Stats.Snapshots != 0 {
		t.Errorf("no token left: %+v", a.Stats)
	}
}
