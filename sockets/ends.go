package sockets

import (
	"errors"
	"net/netip"
	"time"
)

// End is the process behind one local end of a connection.
type End struct {
	PID     int    `json:"pid"`
	Command string `json:"command"`
	FD      int    `json:"fd"`
	// Listener says FD is the listening socket's: the connection had no
	// fd of its own when looked up (still in the accept queue, or already
	// closed by the server), and this is the process that accepts on it.
	Listener bool `json:"listener,omitempty"`
}

// Ends are the processes behind a connection's two ends; nil where the
// end is not on this machine or its process could not be read.
type Ends struct {
	Client, Server *End
}

// AttributorStats count what an Attributor did.
type AttributorStats struct {
	Lookups   int // connections asked about
	Snapshots int // snapshots taken for them
	Skipped   int // snapshots not taken: more new connections than the bound allows
	Found     int // connections with at least one end named
}

// Attributor names the processes behind connections as they open, for
// live captures: it answers from its last snapshot, and takes a new one
// when a connection is in neither direction there (a new one). A
// connection opened and closed between the handshake and the snapshot is
// missed; one still in the accept queue is named by its listener. At most
// 10 snapshots are taken in a burst, then 20 a second.
type Attributor struct {
	sc   *Scanner
	last *Snapshot
	at   map[tuple]*Socket
	// tokens bound the snapshots taken (each costs milliseconds of the
	// capture loop): a burst of takeBurst, then one per takeEvery.
	tokens   float64
	lastFill time.Time
	Stats    AttributorStats
}

const (
	takeBurst = 10
	takeEvery = 50 * time.Millisecond
)

type tuple struct {
	proto         string
	local, remote netip.AddrPort
}

var errBusy = errors.New("sockets: too many snapshots")

func norm(a netip.AddrPort) netip.AddrPort { return netip.AddrPortFrom(a.Addr().Unmap(), a.Port()) }

// NewAttributor returns an Attributor reading the real /proc. On Linux the
// sockets are those of the calling thread's network namespace.
func NewAttributor() *Attributor {
	return &Attributor{sc: NewScanner(), tokens: takeBurst, lastFill: time.Now()}
}

// Ends names the processes behind the TCP or UDP ("tcp", "udp")
// connection from client to server.
func (a *Attributor) Ends(proto string, client, server netip.AddrPort) Ends {
	a.Stats.Lookups++
	c, s := a.find(proto, client, server)
	if c == nil && s == nil || c != nil && c.State == "TIME_WAIT" || s != nil && s.State == "TIME_WAIT" {
		// New, or a 4-tuple reused since the last snapshot.
		if err := a.take(); err == nil {
			c, s = a.find(proto, client, server)
		}
	}
	var e Ends
	if c != nil && len(c.Owners) > 0 {
		e.Client = endOf(c.Owners[0], false)
	}
	switch {
	case s != nil && len(s.Owners) > 0:
		e.Server = endOf(s.Owners[0], false)
	case a.last != nil && proto == "tcp":
		// Still queued for accept(), or already closed by the server: the
		// listener is the process that accepts (or accepted) it.
		if l := a.last.listenerOf(&Socket{Local: server}); l >= 0 && len(a.last.Sockets[l].Owners) > 0 {
			e.Server = endOf(a.last.Sockets[l].Owners[0], true)
		}
	}
	if e.Client != nil || e.Server != nil {
		a.Stats.Found++
	}
	return e
}

func endOf(o Owner, listener bool) *End {
	return &End{PID: o.PID, Command: o.Command, FD: o.FD, Listener: listener}
}

func (a *Attributor) find(proto string, client, server netip.AddrPort) (c, s *Socket) {
	client, server = norm(client), norm(server)
	return a.at[tuple{proto, client, server}], a.at[tuple{proto, server, client}]
}

func (a *Attributor) take() error {
	now := a.sc.now()
	a.tokens = min(takeBurst, a.tokens+float64(now.Sub(a.lastFill))/float64(takeEvery))
	a.lastFill = now
	if a.tokens < 1 {
		a.Stats.Skipped++
		return errBusy
	}
	a.tokens--
	snap, err := a.sc.Take()
	if err != nil {
		return err
	}
	a.Stats.Snapshots++
	a.fill(snap)
	return nil
}

// fill makes snap the one lookups answer from.
func (a *Attributor) fill(snap *Snapshot) {
	a.last = snap
	a.at = make(map[tuple]*Socket, len(snap.Sockets))
	for i := range snap.Sockets {
		sk := &snap.Sockets[i]
		if !sk.Listening() {
			a.at[tuple{sk.Proto, norm(sk.Local), norm(sk.Remote)}] = sk
		}
	}
}
