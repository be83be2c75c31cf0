//go:build pcap && !linux

package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// LiveSource captures from a network interface through libpcap: this is a
// build with -tags pcap on a system without AF_PACKET (macOS, the BSDs),
// where libpcap is the only live capture and LiveOptions.Libpcap changes
// nothing. The capture itself is in live_pcap.go, shared with Linux.
//
// Next returns io.EOF once the context given to OpenLive is done, or once
// the source is closed. Next, Stats and Close may be called from different
// goroutines; Close, called while Next waits for frames, returns within
// PollInterval and makes Next return io.EOF.
type LiveSource struct {
	liveOut
	ctx    context.Context
	iface  Interface
	filter string
	method string
	why    string // always "": libpcap has no fallback

	mu     sync.Mutex // guards everything below, and the handle's reads
	pcap   *pcapHandle
	closed bool
	final  LiveStats
	reads  int
}

var _ Source = (*LiveSource)(nil)

// OpenLive starts capturing, through libpcap, on the interface called
// name. Errors wrap ErrNoInterface for an unknown name, os.ErrPermission
// when libpcap is denied the device (/dev/bpf*), and *filter.Error /
// *filter.UnsupportedError for a bad filter expression.
func OpenLive(ctx context.Context, name string, o LiveOptions) (*LiveSource, error) {
	return openLivePcap(ctx, name, o)
}

// SetWriteTo makes the capture write every frame Next returns to w, as
// LiveOptions.WriteTo does. It must be called before the first Next.
func (s *LiveSource) SetWriteTo(w io.Writer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ng != nil || s.frame > 0 || s.closed {
		return errors.New("write pcapng: the capture already started")
	}
	intf := pcapgo.NgInterface{Name: s.info.Name, OS: runtime.GOOS, LinkType: layers.LinkType(s.info.LinkTypes[0]),
		SnapLength: uint32(s.info.Snaplen), TimestampResolution: 9, Filter: s.filter}
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{OS: runtime.GOOS, Application: "sockscope"}}
	ng, err := pcapgo.NewNgWriterInterface(w, intf, opts)
	if err != nil {
		return fmt.Errorf("write pcapng: %w", err)
	}
	s.ng = ng
	return nil
}

// Info describes the capture: Name is the interface, Format "live".
func (s *LiveSource) Info() Info { return s.info }

// Interface describes the interface being captured.
func (s *LiveSource) Interface() Interface { return s.iface }

// Method is "libpcap"; Fallback is always "".
func (s *LiveSource) Method() string   { return s.method }
func (s *LiveSource) Fallback() string { return s.why }

// Defrag returns the IPv4/IPv6 fragment reassembler (for its statistics).
func (s *LiveSource) Defrag() *Defragmenter { return s.defrag }

// Next fills p with the next frame that passed the filter. Frame numbers
// start at 1; timestamps are libpcap's (nanoseconds where the system has
// them). It returns io.EOF when the context is done or the source was
// closed.
func (s *LiveSource) Next(p *Packet) error { return s.nextPcap(p) }

// Frames returns how many frames Next has returned.
func (s *LiveSource) Frames() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frame
}

// Stats returns libpcap's counters since the capture started (see
// pcapStats for what they count on each system). After Close it returns
// the last counters read.
func (s *LiveSource) Stats() (LiveStats, error) { return s.pcapStats() }

// Close stops the capture, closes the libpcap handle, and flushes the
// pcapng output (with libpcap's counters as interface statistics). It is
// safe to call from any goroutine, and more than once.
func (s *LiveSource) Close() error { return s.closePcap() }
