//go:build !pcap

package capture

import (
	"context"
	"io"
)

// HaveLibpcap says whether this build can capture through libpcap
// (LiveOptions.Libpcap): only a build with -tags pcap can.
const HaveLibpcap = false

// pcapHandle is the libpcap capture of a -tags pcap build; in this build a
// LiveSource never has one.
type pcapHandle struct{}

func openLivePcap(context.Context, string, LiveOptions) (*LiveSource, error) {
	return nil, ErrNoLibpcap
}

func (s *LiveSource) nextPcap(*Packet) error        { return io.EOF }
func (s *LiveSource) pcapStats() (LiveStats, error) { return LiveStats{}, ErrNoLibpcap }
func (s *LiveSource) closePcap() error              { return nil }
