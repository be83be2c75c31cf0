//go:build pcap

package capture

// Live capture through libpcap (github.com/gopacket/gopacket/pcap), for
// builds with -tags pcap, which need cgo and libpcap's headers
// (libpcap-dev). On Linux it is reached with LiveOptions.Libpcap, AF_PACKET
// staying the default; on other systems it is the only live capture
// (live_pcap_other.go). The methods here work on either LiveSource: both
// have the fields and the fill method they use.
//
// The filter is compiled by capture/filter, as for AF_PACKET, for the link
// type libpcap reports, and handed to libpcap as a program
// (pcap_setfilter), not as an expression for pcap_compile: -f then accepts
// the same expressions, refuses the same ones with the same errors
// (*filter.Error, *filter.UnsupportedError) and matches the same frames
// whichever way the frames are read, and those frames match libpcap 1.10's
// own filters (capture/filter/testdata). libpcap runs the program in the
// kernel (a socket filter on Linux, BIOCSETF on BSD and macOS).
//
// On Linux loopback, libpcap itself drops the outgoing copy of each packet
// (in user space, so its received count includes both copies); the
// AF_PACKET capture's kernel-side drop (filter.DropOutgoing) cannot be used
// here: libpcap re-runs a new filter in user space over what its ring
// already holds, and its interpreter rejects every frame at the packet-type
// load (with libpcap 1.10.3 that lost the first frames after the filter was
// set, a whole ring block of them without immediate mode).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"

	"github.com/sockscope/sockscope/capture/filter"
)

// HaveLibpcap says whether this build can capture through libpcap
// (LiveOptions.Libpcap): only a build with -tags pcap can.
const HaveLibpcap = true

const (
	pcapMethod        = "libpcap"
	pcapDefaultPoll   = 100 * time.Millisecond
	pcapCtxCheckEvery = 256 // packets read between context checks under load
)

// pcapHandle is an activated libpcap handle, in immediate mode (each
// packet is handed over as it arrives; on Linux libpcap then reads a
// TPACKET_V2 ring) with a read timeout of PollInterval.
type pcapHandle struct {
	h *pcap.Handle
	// stop is set by Close, before it waits for a read in progress: Next
	// then stops at its next turn instead of starting another read.
	stop atomic.Bool
}

// openLivePcap opens a capture through libpcap. Errors wrap
// ErrNoInterface for an unknown name, os.ErrPermission when libpcap is
// denied the device, and *filter.Error / *filter.UnsupportedError for a bad
// filter expression, as OpenLive's do.
//
// Frames captured before the filter is set do not come through unfiltered
// (libpcap filters what its Linux ring already holds in user space; BPF
// devices flush their buffer on a new filter), so the first frame Next
// returns passed the filter. libpcap's counters (Stats) start when the
// handle is activated, just before the filter is set.
func openLivePcap(ctx context.Context, name string, o LiveOptions) (*LiveSource, error) {
	if name == "any" {
		return nil, fmt.Errorf("capture on %q is not supported: name one interface (see sockscope interfaces)", name)
	}
	if o.NoRing {
		return nil, errors.New("a plain packet socket (--no-ring) is an AF_PACKET mode: libpcap has none")
	}
	// Check the expression now, so that a typo is reported whatever the
	// permissions; it is compiled once libpcap tells the link type.
	if _, err := filter.Parse(o.Filter); err != nil {
		return nil, fmt.Errorf("filter %q: %w", o.Filter, err)
	}
	ifc, err := LookupInterface(name)
	if err != nil {
		return nil, err
	}
	snaplen := o.Snaplen
	if snaplen <= 0 {
		snaplen = DefaultSnaplen
	}
	poll := o.PollInterval
	if poll <= 0 {
		poll = pcapDefaultPoll
	}
	bufSize := o.RingSize
	if bufSize <= 0 {
		bufSize = DefaultRingSize
	}
	h, err := activatePcap(name, snaplen, !o.NoPromisc, bufSize, poll)
	if err != nil {
		return nil, fmt.Errorf("open %s for capture: %w", name, err)
	}
	dlt := h.LinkType()
	link, err := linkFromDLT(dlt)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("open %s for capture: %w", name, err)
	}
	if n := h.SnapLen(); n > 0 {
		snaplen = n
	}
	prog, err := filter.Compile(o.Filter, uint16(link), snaplen)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("filter %q: %w", o.Filter, err)
	}
	raw, err := bpf.Assemble(prog)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("filter %q: assemble: %w", o.Filter, err)
	}
	ins := make([]pcap.BPFInstruction, len(raw))
	for i, r := range raw {
		ins[i] = pcap.BPFInstruction{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	if err := h.SetBPFInstructionFilter(ins); err != nil {
		h.Close()
		return nil, fmt.Errorf("open %s for capture: attach filter: %w", name, err)
	}
	ifc.Link = link
	if ifc.HWType == "unknown" {
		ifc.HWType = strings.ToLower(pcap.DatalinkValToDescription(int(dlt)))
	}
	s := &LiveSource{
		ctx:     ctx,
		iface:   ifc,
		filter:  o.Filter,
		liveOut: newLiveOut(name, link, snaplen, o.FlushWrites),
		method:  pcapMethod,
		pcap:    &pcapHandle{h: h},
	}
	if o.WriteTo != nil {
		if err := s.SetWriteTo(o.WriteTo); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// activatePcap creates and activates a libpcap handle. An interface that
// cannot be made promiscuous (libpcap's PCAP_WARNING_PROMISC_NOTSUP, as a
// tunnel) is opened without, as AF_PACKET's capture does for IP-only
// devices.
func activatePcap(name string, snaplen int, promisc bool, bufSize int, poll time.Duration) (*pcap.Handle, error) {
	h, err := activatePcapOnce(name, snaplen, promisc, bufSize, poll)
	if promisc && errors.Is(err, errPromiscNotSup) {
		return activatePcapOnce(name, snaplen, false, bufSize, poll)
	}
	return h, err
}

var errPromiscNotSup = errors.New("promiscuous mode not supported")

func activatePcapOnce(name string, snaplen int, promisc bool, bufSize int, poll time.Duration) (*pcap.Handle, error) {
	in, err := pcap.NewInactiveHandle(name)
	if err != nil {
		return nil, fmt.Errorf("libpcap: %w", err)
	}
	defer in.CleanUp() // closes the handle unless it was activated
	if err := in.SetSnapLen(snaplen); err != nil {
		return nil, fmt.Errorf("libpcap: snapshot length %d: %w", snaplen, err)
	}
	if err := in.SetPromisc(promisc); err != nil {
		return nil, fmt.Errorf("libpcap: promiscuous mode: %w", err)
	}
	if err := in.SetTimeout(poll); err != nil {
		return nil, fmt.Errorf("libpcap: read timeout: %w", err)
	}
	if err := in.SetImmediateMode(true); err != nil {
		return nil, fmt.Errorf("libpcap: immediate mode: %w", err)
	}
	if err := in.SetBufferSize(bufSize); err != nil {
		return nil, fmt.Errorf("libpcap: buffer size %d: %w", bufSize, err)
	}
	h, err := in.Activate()
	if err == nil {
		return h, nil
	}
	// gopacket's activation errors name libpcap's status only ("Permission
	// Denied"); libpcap's own message says more.
	msg := "libpcap: " + err.Error()
	if detail := in.Error(); detail != nil && detail.Error() != "" && !strings.Contains(msg, detail.Error()) {
		msg += " (" + detail.Error() + ")"
	}
	switch err.Error() {
	case "Permission Denied":
		return nil, fmt.Errorf("%s: %w", msg, os.ErrPermission)
	case "No Such Device":
		return nil, fmt.Errorf("%s: %w", msg, ErrNoInterface)
	case "Cannot set as promisc":
		return nil, fmt.Errorf("%s: %w", msg, errPromiscNotSup)
	}
	return nil, errors.New(msg)
}

// linkFromDLT maps a libpcap DLT_ value to the LINKTYPE_ value frames are
// decoded (and written to pcapng) with. They differ for raw IP and for
// OpenBSD's loopback.
func linkFromDLT(dlt layers.LinkType) (LinkType, error) {
	openbsd := runtime.GOOS == "openbsd"
	switch dlt {
	case 0:
		return LinkNull, nil
	case 1:
		return LinkEthernet, nil
	case 12: // DLT_RAW, but DLT_LOOP on OpenBSD
		if openbsd {
			return LinkLoop, nil
		}
		return LinkRaw, nil
	case 14: // DLT_RAW on OpenBSD
		if openbsd {
			return LinkRaw, nil
		}
	case 101:
		return LinkRaw, nil
	case 108:
		return LinkLoop, nil
	case 113:
		return LinkSLL, nil
	case 228:
		return LinkIPv4, nil
	case 229:
		return LinkIPv6, nil
	case 276:
		return LinkSLL2, nil
	case 9, 50, 104, 105, 127, 192, 239: // PPP, PPP serial, Cisco HDLC, 802.11, radiotap, PPI, NFLOG: DLT = LINKTYPE
		return LinkType(dlt), nil
	}
	return 0, fmt.Errorf("libpcap link type %s (DLT %d) is not supported: sockscope decodes link types %s",
		pcap.DatalinkValToName(int(dlt)), int(dlt), SupportedList())
}

// nextPcap is Next for a libpcap capture. The mutex is held while libpcap
// reads (at most PollInterval) and the frame is decoded, since the frame
// lives in libpcap's buffer, which Close frees; it is let go between reads,
// so that Close, Stats and Frames get their turn.
func (s *LiveSource) nextPcap(p *Packet) error {
	for {
		if s.pcap.stop.Load() {
			return io.EOF
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return io.EOF
		}
		if s.reads++; s.reads%pcapCtxCheckEvery == 0 && s.ctx.Err() != nil {
			s.mu.Unlock()
			return io.EOF
		}
		data, ci, err := s.pcap.h.ZeroCopyReadPacketData()
		if err == nil {
			err = s.fill(p, data, ci)
			s.mu.Unlock()
			return err
		}
		if errors.Is(err, pcap.NextErrorReadError) {
			err = fmt.Errorf("%w: %v", err, s.pcap.h.Error())
		}
		s.mu.Unlock()
		switch {
		case s.ctx.Err() != nil, s.pcap.stop.Load(), errors.Is(err, io.EOF):
			return io.EOF
		case errors.Is(err, pcap.NextErrorTimeoutExpired):
			// Nothing within PollInterval: look at the context and Close.
		default:
			return fmt.Errorf("read from %s: %w", s.info.Name, err)
		}
	}
}

// pcapStats returns libpcap's counters (pcap_stats): Received is ps_recv,
// Dropped ps_drop, since the capture was opened. What ps_recv counts
// depends on the system: on Linux, the frames that passed the kernel filter
// (on loopback both copies of each packet, see above); on BSD and macOS,
// every frame the interface handed to BPF, before the filter.
func (s *LiveSource) pcapStats() (LiveStats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pcapStatsLocked()
}

func (s *LiveSource) pcapStatsLocked() (LiveStats, error) {
	if s.closed {
		return s.final, nil
	}
	st, err := s.pcap.h.Stats()
	if err != nil {
		return LiveStats{Method: s.method}, fmt.Errorf("read libpcap statistics: %w", err)
	}
	return LiveStats{
		Received: uint64(uint32(st.PacketsReceived)),
		Dropped:  uint64(uint32(st.PacketsDropped)),
		Method:   s.method,
	}, nil
}

// closePcap is Close for a libpcap capture. Called from another goroutine
// while Next waits for frames, it returns once that read does (within
// PollInterval), and Next then returns io.EOF.
func (s *LiveSource) closePcap() error {
	s.pcap.stop.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	st, _ := s.pcapStatsLocked()
	s.pcap.h.Close()
	s.final, s.closed = st, true
	return s.closeNg(st)
}
