package sockets

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"time"
)

// ErrNeedsLinux is returned by Take where there is no sock_diag.
var ErrNeedsLinux = fmt.Errorf("sockets: needs Linux (sock_diag netlink and /proc), not %s", runtime.GOOS)

// errNoDiag wraps a failed netlink dump.
var errNoDiag = errors.New("sock_diag")

// Snapshot is what the kernel said at one moment.
type Snapshot struct {
	Time    time.Time `json:"time"`
	Sockets []Socket  `json:"sockets"` // sorted: proto, local, remote, inode
	// Netstat holds the namespace's TCP listen counters (since boot, or
	// since the namespace was made); nil when /proc/net/netstat was unreadable.
	Netstat *Netstat `json:"netstat,omitempty"`
	// Missing names the facts this snapshot lacks, and why.
	Missing []Gap `json:"missing,omitempty"`
	// Scan says what the snapshot cost (not shown in the text view).
	Scan ScanStats `json:"scan"`
}

// Socket is one TCP or UDP socket as inet_diag describes it.
type Socket struct {
	Proto  string         `json:"proto"` // "tcp" or "udp"
	State  string         `json:"state"` // State names, e.g. "LISTEN", "ESTABLISHED", "CLOSE_WAIT"; "UNCONN" for unconnected UDP
	Local  netip.AddrPort `json:"local"`
	Remote netip.AddrPort `json:"remote"`
	// Inode is the socket's inode; 0 for a socket no file refers to (in
	// TIME_WAIT, orphaned after close, or still in a listener's accept queue).
	Inode uint32 `json:"inode"`
	UID   uint32 `json:"uid"`
	User  string `json:"user,omitempty"`
	// RecvQ is the bytes received and not yet read by the application
	// (for UDP, the memory its queued datagrams take); SendQ the bytes
	// sent and not yet acknowledged (TCP) or queued (UDP). For a listener,
	// the kernel reports the accept queue in their place: AcceptQueue and
	// Backlog.
	RecvQ uint32 `json:"recv_q"`
	SendQ uint32 `json:"send_q"`
	// AcceptQueue is, for a TCP listener, the connections that completed
	// the handshake and wait for accept(); Backlog is the most it holds.
	AcceptQueue *uint32 `json:"accept_queue,omitempty"`
	Backlog     *uint32 `json:"backlog,omitempty"`
	// TCP is the kernel's tcp_info; nil for UDP and for TCP sockets the
	// kernel keeps none for (TIME_WAIT, request sockets).
	TCP *TCPInfo `json:"tcp_info,omitempty"`
	// Owners are the processes holding the socket open (more than one
	// after fork), by pid then fd.
	Owners []Owner `json:"owners,omitempty"`
}

// TCPInfo is the part of the kernel's struct tcp_info the views use.
type TCPInfo struct {
	RTTMicros    uint32 `json:"rtt_us"`
	RTTVarMicros uint32 `json:"rttvar_us"`
	RTOMicros    uint32 `json:"rto_us"`
	SndMSS       uint32 `json:"snd_mss"`
	Cwnd         uint32 `json:"cwnd"`               // segments
	Ssthresh     uint32 `json:"ssthresh,omitempty"` // segments; omitted while still "infinite" (slow start never left)
	Unacked      uint32 `json:"unacked"`            // segments in flight
	Retransmits  uint8  `json:"retransmits"`        // consecutive timeouts now
	TotalRetrans uint32 `json:"total_retrans"`      // segments retransmitted over the connection's life
	Lost         uint32 `json:"lost"`
	// DeliveryRate is the kernel's most recent delivery-rate sample, bytes/s.
	DeliveryRate  uint64 `json:"delivery_rate"`
	BytesAcked    uint64 `json:"bytes_acked"`
	BytesReceived uint64 `json:"bytes_received"`
	NotSent       uint32 `json:"notsent_bytes"`
	// SndWnd is the peer's advertised receive window (bytes, scaled);
	// 0 with data to send means the peer is not reading. Kernels before 5.4
	// do not report it (then SndWndKnown is false).
	SndWnd      uint32 `json:"snd_wnd"`
	SndWndKnown bool   `json:"snd_wnd_known"`
	// LastDataRecvMillis and LastDataSentMillis are how long ago data last
	// arrived and left.
	LastDataRecvMillis uint32 `json:"last_data_recv_ms"`
	LastDataSentMillis uint32 `json:"last_data_sent_ms"`
}

// Owner is one process's file descriptor for a socket.
type Owner struct {
	PID     int    `json:"pid"`
	FD      int    `json:"fd"`
	Command string `json:"command"` // /proc/PID/comm
	Cmdline string `json:"cmdline,omitempty"`
	UID     uint32 `json:"uid"` // effective uid of the process
	User    string `json:"user,omitempty"`
}

// Netstat holds the kernel's TCP listen counters (/proc/net/netstat).
type Netstat struct {
	// ListenOverflows counts handshakes completed while the accept queue
	// was full (the final ACK was dropped); ListenDrops every SYN or ACK a
	// listener dropped, overflows included.
	ListenOverflows uint64 `json:"listen_overflows"`
	ListenDrops     uint64 `json:"listen_drops"`
}

// Gap is a fact the snapshot does not have.
type Gap struct {
	What string `json:"what"`
	Why  string `json:"why"`
}

// ScanStats says what taking the snapshot did.
type ScanStats struct {
	Elapsed       time.Duration `json:"elapsed_ns"`
	FullProcScan  bool          `json:"full_proc_scan"` // every /proc/PID/fd was read (else cached owners were checked)
	Processes     int           `json:"processes"`      // processes whose fds were read
	LinksRead     int           `json:"links_read"`     // fd symlinks read
	DeniedProcess int           `json:"denied_processes"`
}

// Listening reports whether the socket waits for peers: a TCP listener, or
// an unconnected UDP socket bound to a port.
func (s *Socket) Listening() bool {
	return s.State == "LISTEN" || s.Proto == "udp" && s.State == "UNCONN" && s.Local.Port() != 0
}

// Exposure says who can reach a listening address.
type Exposure string

const (
	AllInterfaces Exposure = "all interfaces" // 0.0.0.0 or ::
	LoopbackOnly  Exposure = "loopback only"  // 127.0.0.0/8 or ::1
	OneAddress    Exposure = "one address"    // a specific local address
)

// Exposure classifies the socket's bound address.
func (s *Socket) Exposure() Exposure {
	a := s.Local.Addr().Unmap()
	switch {
	case a.IsUnspecified():
		return AllInterfaces
	case a.IsLoopback():
		return LoopbackOnly
	}
	return OneAddress
}

// sortSockets orders sockets deterministically.
func sortSockets(ss []Socket) {
	slices.SortFunc(ss, func(a, b Socket) int {
		return cmp.Or(cmp.Compare(a.Proto, b.Proto), a.Local.Compare(b.Local), a.Remote.Compare(b.Remote), cmp.Compare(a.Inode, b.Inode))
	})
	for i := range ss {
		slices.SortFunc(ss[i].Owners, func(a, b Owner) int { return cmp.Or(cmp.Compare(a.PID, b.PID), cmp.Compare(a.FD, b.FD)) })
	}
}

// tcpStates are the kernel's TCP state names (include/net/tcp_states.h),
// indexed by state number.
var tcpStates = [...]string{"", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV", "BOUND_INACTIVE"}

// stateName names state n of proto.
func stateName(proto string, n uint8) string {
	if proto == "udp" {
		switch n {
		case 1:
			return "ESTABLISHED" // connect()ed
		case 7:
			return "UNCONN"
		}
	}
	if int(n) < len(tcpStates) && n > 0 {
		return tcpStates[n]
	}
	return fmt.Sprintf("STATE_%d", n)
}
