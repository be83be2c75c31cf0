//go:build linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/sockscope/sockscope/capture/filter"
)

// Ring geometry. Blocks must hold the largest frame (a 64 KiB GSO frame on
// loopback, DefaultSnaplen at most); the block timeout bounds how long a
// quiet link's packets wait in a half-filled block before Next sees them.
const (
	ringBlockSize    = 2 << 20
	ringMinBlockSize = 512 << 10
	ringFrameSize    = 4096
	ringBlockTimeout = 10 * time.Millisecond
	defaultPoll      = 100 * time.Millisecond
	ctxCheckEvery    = 256 // packets read between context checks under load
)

// LiveSource captures from a network interface through AF_PACKET, without
// cgo: a TPACKET_V3 ring (gopacket/afpacket) by default, or a plain packet
// socket (pcapgo.EthernetHandle) when the ring cannot be set up. A build
// with -tags pcap can capture through libpcap instead, when
// LiveOptions.Libpcap asks for it (live_pcap.go).
//
// Next returns io.EOF once the context given to OpenLive is done. Next,
// Stats and Close may be called from different goroutines: a mutex keeps
// the ring mapped while a read is in progress (unmapping it under a reader
// is the SIGSEGV of gopacket/gopacket#78), and a blocked read wakes up at
// least every PollInterval to look at the context.
type LiveSource struct {
	liveOut
	ctx    context.Context
	iface  Interface
	filter string
	method string
	why    string // why the ring was not used, when it was not

	mu      sync.Mutex // guards everything below but eth reads (see nextEth)
	ring    *afpacket.TPacket
	base    afpacket.SocketStatsV3
	eth     *pcapgo.EthernetHandle
	ethStop sync.Once
	stopCtx func() bool
	closed  bool
	final   LiveStats
	reads   int

	statsMu  sync.Mutex // guards ethStats
	ethStats LiveStats

	pcap *pcapHandle // set when capturing through libpcap (-tags pcap)
}

var _ Source = (*LiveSource)(nil)

// OpenLive starts capturing on the interface called name. Errors wrap
// ErrNoInterface for an unknown name, os.ErrPermission without
// CAP_NET_RAW, and *filter.Error / *filter.UnsupportedError for a bad
// filter expression.
//
// Frames that reach the socket before the filter is in place are thrown
// away (the ring is drained under a reject-all filter first, as libpcap
// does), so the first frame Next returns already passed the filter.
func OpenLive(ctx context.Context, name string, o LiveOptions) (*LiveSource, error) {
	if name == "any" {
		return nil, fmt.Errorf("capture on %q is not supported: name one interface (see sockscope interfaces)", name)
	}
	if o.Libpcap {
		return openLivePcap(ctx, name, o)
	}
	ifc, err := LookupInterface(name)
	if err != nil {
		return nil, err
	}
	hw, err := hwType(name)
	if err != nil {
		return nil, err
	}
	link, cooked, _ := linkKind(hw)
	snaplen := o.Snaplen
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	prog, err := filter.Compile(o.Filter, uint16(link), snaplen)
	if err != nil {
		return nil, fmt.Errorf("filter %q: %w", o.Filter, err)
	}
	if hw == unix.ARPHRD_LOOPBACK {
		prog = filter.DropOutgoing(prog)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("filter %q: assemble: %w", o.Filter, err)
	}
	poll := o.PollInterval
	if poll <= 0 {
		poll = defaultPoll
	}
	s := &LiveSource{
		ctx:     ctx,
		iface:   ifc,
		filter:  o.Filter,
		liveOut: newLiveOut(name, link, snaplen, o.FlushWrites),
	}
	if !o.NoRing {
		err = s.openRing(name, cooked, o, raw, poll)
		switch {
		case err == nil:
		case errors.Is(err, os.ErrPermission):
			return nil, fmt.Errorf("open %s for capture: %w", name, err)
		case cooked:
			return nil, fmt.Errorf("open %s for capture: %w", name, err)
		default:
			s.why = err.Error()
		}
	}
	if s.ring == nil {
		if cooked {
			return nil, fmt.Errorf("open %s for capture: the packet-socket fallback needs an Ethernet-framed interface", name)
		}
		if err := s.openSocket(name, o, raw, snaplen); err != nil {
			return nil, fmt.Errorf("open %s for capture: %w", name, err)
		}
	}
	if o.WriteTo != nil {
		if err := s.SetWriteTo(o.WriteTo); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// SetWriteTo makes the capture write every frame Next returns to w, as
// LiveOptions.WriteTo does. It must be called before the first Next: it is
// for an output file created after the capture opened (once privileges were
// dropped, so that the file belongs to the user the capture runs as).
func (s *LiveSource) SetWriteTo(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ng != nil || s.frame > 0 || s.closed {
		return errors.New("write pcapng: the capture already started")
	}
	intf := pcapgo.NgInterface{Name: s.info.Name, OS: "linux", LinkType: layers.LinkType(s.info.LinkTypes[0]),
		SnapLength: uint32(s.info.Snaplen), TimestampResolution: 9, Filter: s.filter}
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{OS: "linux", Application: "sockscope"}}
	ng, err := pcapgo.NewNgWriterInterface(w, intf, opts)
	if err != nil {
		return fmt.Errorf("write pcapng: %w", err)
	}
	s.ng = ng
	return nil
}

func (s *LiveSource) openRing(name string, cooked bool, o LiveOptions, prog []bpf.RawInstruction, poll time.Duration) error {
	size := o.RingSize
	if size <= 0 {
		size = DefaultRingSize
	}
	block := ringBlockSize
	if size < 4*block {
		block = ringMinBlockSize
	}
	nblocks := max(size/block, 2)
	st := afpacket.SocketRaw
	if cooked {
		st = afpacket.SocketDgram
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(name),
		afpacket.TPacketVersion3,
		afpacket.OptSocketType(st),
		afpacket.OptFrameSize(ringFrameSize),
		afpacket.OptBlockSize(block),
		afpacket.OptNumBlocks(nblocks),
		afpacket.OptBlockTimeout(ringBlockTimeout),
		afpacket.OptPollTimeout(poll),
		afpacket.OptAddVLANHeader(true),
	)
	if err != nil {
		return err
	}
	// Reject everything, then empty the ring: frames that arrived before the
	// filter was attached (outgoing loopback copies, other traffic) must not
	// be returned. Poll waits longer than the block timeout, so a timeout
	// means the kernel holds no more of them.
	reject, _ := bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: 0}})
	if err := tp.SetBPF(reject); err != nil {
		tp.Close()
		return fmt.Errorf("attach filter: %w", err)
	}
	for range 1 << 20 {
		if _, _, err := tp.ZeroCopyReadPacketData(); err != nil {
			break
		}
	}
	if err := tp.SetBPF(prog); err != nil {
		tp.Close()
		return fmt.Errorf("attach filter: %w", err)
	}
	if !o.NoPromisc {
		if err := tp.SetPromiscuous(true); err != nil && !cooked {
			tp.Close()
			return fmt.Errorf("promiscuous mode: %w", err)
		}
	}
	_, base, err := tp.SocketStats()
	if err != nil {
		tp.Close()
		return fmt.Errorf("read socket statistics: %w", err)
	}
	s.ring, s.base, s.method = tp, base, "tpacket_v3 ring"
	return nil
}

func (s *LiveSource) openSocket(name string, o LiveOptions, prog []bpf.RawInstruction, snaplen int) error {
	h, err := pcapgo.NewEthernetHandle(name)
	if err != nil {
		if errors.Is(err, os.ErrPermission) || errors.Is(err, unix.EPERM) {
			return err
		}
		// pcapgo formats its errors with %s: recover the permission case,
		// which is the one the user can act on.
		probe, perr := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if perr != nil {
			return fmt.Errorf("%v: %w", err, perr)
		}
		unix.Close(probe)
		return err
	}
	if err := h.SetCaptureLength(snaplen); err != nil {
		h.Close()
		return err
	}
	if err := h.SetBPF(prog); err != nil {
		h.Close()
		return fmt.Errorf("attach filter: %w", err)
	}
	if !o.NoPromisc {
		if err := h.SetPromiscuous(true); err != nil {
			h.Close()
			return fmt.Errorf("promiscuous mode: %w", err)
		}
	}
	h.Stats() // reset the counters: they count from here
	s.eth, s.method = h, "packet socket"
	// A blocked recvmsg wakes up when the handle is closed.
	s.stopCtx = context.AfterFunc(s.ctx, s.stopEth)
	return nil
}

// stopEth closes the fallback socket once, keeping its last counters.
func (s *LiveSource) stopEth() {
	s.ethStop.Do(func() {
		s.addEthStats()
		s.eth.Close()
	})
}

func (s *LiveSource) addEthStats() {
	st, err := s.eth.Stats()
	if err != nil || st == nil {
		return
	}
	s.statsMu.Lock()
	s.ethStats.Received += uint64(st.Packets)
	s.ethStats.Dropped += uint64(st.Drops)
	s.statsMu.Unlock()
}

// Info describes the capture: Name is the interface, Format "live".
func (s *LiveSource) Info() Info { return s.info }

// Interface describes the interface being captured.
func (s *LiveSource) Interface() Interface { return s.iface }

// Method says how frames are read: "tpacket_v3 ring", "packet socket" or
// "libpcap";
// Fallback says why the ring was not used ("" when it was, or not asked for).
func (s *LiveSource) Method() string   { return s.method }
func (s *LiveSource) Fallback() string { return s.why }

// Defrag returns the IPv4/IPv6 fragment reassembler (for its statistics).
func (s *LiveSource) Defrag() *Defragmenter { return s.defrag }

// Next fills p with the next frame that passed the filter. Frame numbers
// start at 1; timestamps are the kernel's (nanoseconds). It returns io.EOF
// when the context is done or the source was closed.
func (s *LiveSource) Next(p *Packet) error {
	if s.pcap != nil {
		return s.nextPcap(p)
	}
	if s.eth != nil {
		return s.nextEth(p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.closed {
			return io.EOF
		}
		if s.reads++; s.reads%ctxCheckEvery == 0 && s.ctx.Err() != nil {
			return io.EOF
		}
		data, ci, err := s.ring.ZeroCopyReadPacketData()
		switch {
		case err == nil:
			return s.fill(p, data, ci)
		case errors.Is(err, afpacket.ErrTimeout):
			if s.ctx.Err() != nil {
				return io.EOF
			}
		default:
			if s.ctx.Err() != nil {
				return io.EOF
			}
			return fmt.Errorf("read from %s: %w", s.info.Name, err)
		}
	}
}

// nextEth reads from the fallback socket. The read is done without the
// mutex: closing the socket (context done, or Close) is what wakes it.
func (s *LiveSource) nextEth(p *Packet) error {
	if s.isClosed() || s.ctx.Err() != nil {
		return io.EOF
	}
	data, ci, err := s.eth.ZeroCopyReadPacketData()
	if err != nil {
		if s.isClosed() || s.ctx.Err() != nil {
			return io.EOF
		}
		return fmt.Errorf("read from %s: %w", s.info.Name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fill(p, data, ci)
}

func (s *LiveSource) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Frames returns how many frames Next has returned.
func (s *LiveSource) Frames() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frame
}

// Stats returns the kernel's counters since the capture started. After
// Close it returns the last counters read.
func (s *LiveSource) Stats() (LiveStats, error) {
	if s.pcap != nil {
		return s.pcapStats()
	}
	if s.eth != nil {
		if s.isClosed() || s.ctx.Err() != nil {
			s.stopEth() // waits for a stop in progress, which reads the last counters
		} else {
			s.addEthStats()
		}
		s.statsMu.Lock()
		defer s.statsMu.Unlock()
		st := s.ethStats
		st.Method = s.method
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ringStatsLocked()
}

func (s *LiveSource) ringStatsLocked() (LiveStats, error) {
	if s.closed {
		return s.final, nil
	}
	_, v3, err := s.ring.SocketStats()
	if err != nil {
		return LiveStats{Method: s.method}, fmt.Errorf("read socket statistics: %w", err)
	}
	return LiveStats{
		Received: uint64(v3.Packets() - s.base.Packets()),
		Dropped:  uint64(v3.Drops() - s.base.Drops()),
		Freezes:  uint64(v3.QueueFreezes() - s.base.QueueFreezes()),
		Method:   s.method,
	}, nil
}

// Close stops the capture, releases the ring or socket, and flushes the
// pcapng output (with the kernel's counters as interface statistics). It
// is safe to call from any goroutine, and more than once.
func (s *LiveSource) Close() error {
	if s.pcap != nil {
		return s.closePcap()
	}
	var st LiveStats
	if s.eth != nil {
		if s.stopCtx != nil {
			s.stopCtx()
		}
		s.stopEth()
		st, _ = s.Stats()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if s.ring != nil {
		st, _ = s.ringStatsLocked()
		s.ring.Close()
	}
	s.final, s.closed = st, true
	return s.closeNg(st)
}
