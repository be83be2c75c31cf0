package sockets

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// tcpInfinity is the ssthresh the kernel reports before slow start ends
// (TCP_INFINITE_SSTHRESH).
const tcpInfinity = 0x7fffffff

// dump asks sock_diag for every TCP and UDP socket, IPv4 and IPv6, with
// tcp_info. vishvananda/netlink opens the netlink socket in the calling
// thread, so the namespace is the caller's. A dump the kernel marks
// interrupted (sockets changed meanwhile) is retried once, then kept and
// noted.
func dump() ([]Socket, []Gap, error) {
	var out []Socket
	var gaps []Gap
	for _, fam := range []struct {
		af   uint8
		name string
	}{{unix.AF_INET, "IPv4"}, {unix.AF_INET6, "IPv6"}} {
		var tcp []*netlink.InetDiagTCPInfoResp
		var err error
		for try := 0; try < 2; try++ {
			if tcp, err = netlink.SocketDiagTCPInfo(fam.af); !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			if fam.af == unix.AF_INET6 && errors.Is(err, unix.ENOENT) {
				gaps = append(gaps, Gap{What: "tcp6", Why: "the kernel has no IPv6 sock_diag"})
				continue
			}
			return nil, nil, fmt.Errorf("%w: TCP %s dump: %w", errNoDiag, fam.name, err)
		}
		if err != nil {
			gaps = append(gaps, Gap{What: "tcp " + fam.name, Why: "the dump was interrupted twice by sockets changing: some may be missing"})
		}
		for _, r := range tcp {
			if r == nil || r.InetDiagMsg == nil {
				continue
			}
			s := fromDiag("tcp", r.InetDiagMsg)
			if r.TCPInfo != nil && s.State != "LISTEN" {
				s.TCP = fromTCPInfo(r.TCPInfo)
			}
			out = append(out, s)
		}
		var udp []*netlink.InetDiagUDPInfoResp
		for try := 0; try < 2; try++ {
			if udp, err = netlink.SocketDiagUDPInfo(fam.af); !errors.Is(err, netlink.ErrDumpInterrupted) {
				break
			}
		}
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			if errors.Is(err, unix.ENOENT) {
				gaps = append(gaps, Gap{What: "udp " + fam.name, Why: "the kernel has no UDP sock_diag (module udp_diag not loaded?)"})
				continue
			}
			return nil, nil, fmt.Errorf("%w: UDP %s dump: %w", errNoDiag, fam.name, err)
		}
		if err != nil {
			gaps = append(gaps, Gap{What: "udp " + fam.name, Why: "the dump was interrupted twice by sockets changing: some may be missing"})
		}
		for _, r := range udp {
			if r != nil && r.InetDiagMsg != nil {
				out = append(out, fromDiag("udp", r.InetDiagMsg))
			}
		}
	}
	return out, gaps, nil
}

func fromDiag(proto string, m *netlink.Socket) Socket {
	s := Socket{
		Proto:  proto,
		State:  stateName(proto, m.State),
		Local:  addrPort(m.Family, m.ID.Source, m.ID.SourcePort),
		Remote: addrPort(m.Family, m.ID.Destination, m.ID.DestinationPort),
		Inode:  m.INode,
		UID:    m.UID,
		RecvQ:  m.RQueue,
		SendQ:  m.WQueue,
	}
	if s.State == "LISTEN" {
		aq, bl := m.RQueue, m.WQueue
		s.AcceptQueue, s.Backlog = &aq, &bl
	}
	return s
}

// addrPort keeps an IPv6 socket's address as IPv6 (a v4-mapped
// ::ffff:127.0.0.1 stays mapped, as ss shows it) and an IPv4 one as IPv4.
func addrPort(family uint8, ip net.IP, port uint16) netip.AddrPort {
	a, _ := netip.AddrFromSlice(ip)
	if family == unix.AF_INET {
		a = a.Unmap()
	}
	return netip.AddrPortFrom(a, port)
}

// fromTCPInfo copies the fields the views use. (The library reads the
// byte holding tcpi_snd_wscale:4/tcpi_rcv_wscale:4 with the nibbles the
// wrong way round on little-endian machines; neither is used here.)
func fromTCPInfo(t *netlink.TCPInfo) *TCPInfo {
	i := &TCPInfo{
		RTTMicros: t.Rtt, RTTVarMicros: t.Rttvar, RTOMicros: t.Rto, SndMSS: t.Snd_mss,
		Cwnd: t.Snd_cwnd, Unacked: t.Unacked, Retransmits: t.Retransmits, TotalRetrans: t.Total_retrans,
		Lost: t.Lost, DeliveryRate: t.Delivery_rate, BytesAcked: t.Bytes_acked, BytesReceived: t.Bytes_received,
		NotSent: t.Notsent_bytes, SndWnd: t.Snd_wnd, LastDataRecvMillis: t.Last_data_recv, LastDataSentMillis: t.Last_data_sent,
	}
	if t.Snd_ssthresh < tcpInfinity {
		i.Ssthresh = t.Snd_ssthresh
	}
	// tcpi_snd_wnd came with Linux 5.4; an older kernel's shorter struct
	// leaves it 0, which would read as a zero window.
	i.SndWndKnown = kernelAtLeast(5, 4)
	return i
}

var kernelVersion = sync.OnceValues(func() (int, int) {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return 0, 0
	}
	var major, minor int
	fmt.Sscanf(unix.ByteSliceToString(u.Release[:]), "%d.%d", &major, &minor)
	return major, minor
})

func kernelAtLeast(major, minor int) bool {
	ma, mi := kernelVersion()
	return ma > major || ma == major && mi >= minor
}
