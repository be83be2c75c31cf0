package capture

import (
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

// liveOut is what every live source does with a frame once it has read it
// (the AF_PACKET ring or socket, and libpcap): number it, note its time,
// copy it to the -w pcapng file, decode it and rebuild fragments.
type liveOut struct {
	info   Info
	frame  int
	defrag *Defragmenter
	ng     *pcapgo.NgWriter
	ngErr  error
	flush  bool // flush the pcapng file after every frame
	first  time.Time
	last   time.Time
}

func newLiveOut(name string, link LinkType, snaplen int, flush bool) liveOut {
	return liveOut{info: Info{Name: name, Format: "live", LinkTypes: []LinkType{link}, Snaplen: snaplen},
		defrag: NewDefragmenter(DefragOptions{}), flush: flush}
}

func (s *liveOut) fill(p *Packet, data []byte, ci gopacket.CaptureInfo) error {
	s.frame++
	link := s.info.LinkTypes[0]
	*p = Packet{Frame: s.frame, Time: ci.Timestamp, Link: link, CapLen: len(data), WireLen: max(ci.Length, len(data))}
	if s.first.IsZero() {
		s.first = ci.Timestamp
	}
	s.last = ci.Timestamp
	if s.ng != nil && s.ngErr == nil {
		ci.InterfaceIndex = 0 // the pcapng interface, not the OS ifindex
		ci.CaptureLength = len(data)
		ci.Length = p.WireLen
		ci.AncillaryData = nil
		if err := s.ng.WritePacket(ci, data); err != nil {
			s.ngErr = fmt.Errorf("write pcapng: %w", err)
		} else if s.flush {
			if err := s.ng.Flush(); err != nil {
				s.ngErr = fmt.Errorf("write pcapng: %w", err)
			}
		}
	}
	DecodeFrame(link, data, p)
	s.defrag.Process(p)
	return s.ngErr
}

// closeNg ends the -w pcapng file, if any: the capture's final counters
// as interface statistics, then a flush. It returns the file's first error.
func (s *liveOut) closeNg(st LiveStats) error {
	if s.ng == nil {
		return nil
	}
	if s.ngErr == nil && s.frame > 0 {
		s.ngErr = s.ng.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{
			LastUpdate: s.last, StartTime: s.first, EndTime: s.last,
			PacketsReceived: st.Received, PacketsDropped: st.Dropped,
		})
	}
	if err := s.ng.Flush(); err != nil && s.ngErr == nil {
		s.ngErr = fmt.Errorf("write pcapng: %w", err)
	}
	return s.ngErr
}
