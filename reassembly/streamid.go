package reassembly

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/capture"
)

// StreamID names a stream: its transport and its number, counted from 0 in
// order of first packet as Wireshark counts tcp.stream and udp.stream.
type StreamID struct {
	Proto capture.Proto
	ID    int
}

// String returns "tcp/3" or "udp/0", the spelling every view prints.
func (s StreamID) String() string { return fmt.Sprintf("%s/%d", s.Proto, s.ID) }

// ParseStreamID reads a stream as a person types it: "tcp/3", "udp/0", or
// "3" for tcp/3. The protocol is case-insensitive (TCP/3). Every command
// that takes a stream uses it, so they accept the same spellings and give
// the same error.
func ParseStreamID(s string) (StreamID, error) {
	id := StreamID{Proto: capture.ProtoTCP}
	num := s
	if p, n, ok := strings.Cut(s, "/"); ok {
		switch strings.ToLower(p) {
		case "tcp":
		case "udp":
			id.Proto = capture.ProtoUDP
		default:
			return StreamID{}, fmt.Errorf("stream %q: want tcp/N, udp/N or N (N a stream number from 0, as Wireshark's tcp.stream)", s)
		}
		num = n
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 || strings.HasPrefix(num, "+") {
		return StreamID{}, fmt.Errorf("stream %q: want tcp/N, udp/N or N (N a stream number from 0, as Wireshark's tcp.stream)", s)
	}
	id.ID = n
	return id, nil
}

// StreamID returns the stream's protocol and number.
func (s *Stream) StreamID() StreamID { return StreamID{s.Proto, s.ID} }

// StreamID returns the summarized stream's protocol and number.
func (s *Summary) StreamID() StreamID { return StreamID{s.Proto, int(s.ID)} }
