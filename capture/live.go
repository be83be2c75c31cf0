package capture

import (
	"errors"
	"io"
	"time"
)

// ErrLiveUnsupported is returned by OpenLive on systems without a pure-Go
// live capture (everything but Linux, unless built with -tags pcap).
var ErrLiveUnsupported = errors.New("live capture needs Linux (or a build with -tags pcap)")

// ErrNoInterface is wrapped by errors about an interface name that does not
// exist; the message lists the interfaces that do.
var ErrNoInterface = errors.New("no such network interface")

// ErrNoLibpcap is returned by OpenLive when LiveOptions.Libpcap asks for
// libpcap in a build without it (see HaveLibpcap).
var ErrNoLibpcap = errors.New("capture through libpcap needs a build with -tags pcap (cgo and libpcap-dev)")

// Live capture defaults.
const (
	DefaultSnaplen  = 262144   // libpcap's MAXIMUM_SNAPLEN: whole frames, GSO ones included
	DefaultRingSize = 32 << 20 // bytes of TPACKET_V3 ring: 16 blocks of 2 MiB
)

// LiveOptions configures OpenLive. The zero value captures whole frames in
// promiscuous mode (as tcpdump does) into a 32 MiB ring, with no filter.
type LiveOptions struct {
	// Snaplen is how many bytes of each frame are kept (0: DefaultSnaplen).
	// The kernel cuts frames to it; the wire length is still reported.
	Snaplen int
	// NoPromisc leaves the interface out of promiscuous mode.
	NoPromisc bool
	// Filter is a tcpdump filter expression (capture/filter syntax), run in
	// the kernel. On loopback the outgoing copy of every packet is dropped
	// in the same program, so each packet is seen once, as with tcpdump.
	Filter string
	// RingSize is the size in bytes of the TPACKET_V3 ring shared with the
	// kernel (0: DefaultRingSize). A bigger ring absorbs longer bursts.
	RingSize int
	// NoRing uses a plain packet socket (one recvmsg per frame) instead of
	// the mmap ring. It is also what OpenLive falls back to when the ring
	// cannot be set up.
	NoRing bool
	// Libpcap captures through libpcap instead of AF_PACKET. It needs a
	// build with -tags pcap (HaveLibpcap; otherwise OpenLive fails with
	// ErrNoLibpcap on Linux, ErrLiveUnsupported elsewhere). On Linux AF_PACKET stays the default and this is the
	// only way to choose libpcap; on other systems a -tags pcap build always
	// uses libpcap, whatever Libpcap says. With libpcap, RingSize is the
	// capture buffer size (pcap_set_buffer_size) and NoRing is an error.
	Libpcap bool
	// PollInterval bounds how long Next waits in the kernel before it checks
	// whether its context is done (0: 100 ms).
	PollInterval time.Duration
	// WriteTo, when set, receives every frame Next returns, as pcapng
	// (nanosecond timestamps, one interface). Close flushes it and adds the
	// kernel's received/dropped counts as interface statistics.
	WriteTo io.Writer
	// FlushWrites flushes WriteTo after every frame, so that the file can
	// be read up to the last frame while the capture runs (the terminal
	// UI reads a stream's detail from it).
	FlushWrites bool
}

// LiveStats are the kernel's counters for a live capture since it started.
type LiveStats struct {
	Received uint64 // packets that passed the filter, dropped ones included (tcpdump's "received by filter")
	Dropped  uint64 // of those, packets the kernel dropped because the ring or socket buffer was full
	Freezes  uint64 // times the TPACKET_V3 ring was full (queue freezes)
	Method   string // "tpacket_v3 ring", "packet socket" or "libpcap"
}
