//go:build !linux && !pcap

package capture

import (
	"context"
	"io"
)

// LiveSource is a live capture; on this system OpenLive always fails.
type LiveSource struct{}

var _ Source = (*LiveSource)(nil)

// OpenLive returns ErrLiveUnsupported: sockscope's pure-Go live capture
// uses Linux AF_PACKET sockets. A build with -tags pcap replaces this file
// with a libpcap capture (live_pcap_other.go).
func OpenLive(ctx context.Context, name string, o LiveOptions) (*LiveSource, error) {
	return nil, ErrLiveUnsupported
}

func (s *LiveSource) Next(p *Packet) error         { return io.EOF }
func (s *LiveSource) Info() Info                   { return Info{} }
func (s *LiveSource) Close() error                 { return nil }
func (s *LiveSource) Interface() Interface         { return Interface{} }
func (s *LiveSource) Method() string               { return "" }
func (s *LiveSource) Fallback() string             { return "" }
func (s *LiveSource) Defrag() *Defragmenter        { return NewDefragmenter(DefragOptions{}) }
func (s *LiveSource) Frames() int                  { return 0 }
func (s *LiveSource) Stats() (LiveStats, error)    { return LiveStats{}, ErrLiveUnsupported }
func (s *LiveSource) SetWriteTo(w io.Writer) error { return ErrLiveUnsupported }
