package reassembly

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/sockscope/sockscope/capture"
)

// Selector names streams the way people think of them: by number (tcp/3,
// udp/0, 3), by one endpoint (10.0.0.5:443, [::1]:8080: every stream with
// that address and port at either end), or by both endpoints
// (10.0.0.1:51234-10.0.0.5:443, in either order). An endpoint selector
// matches TCP streams and UDP flows alike.
type Selector struct {
	id   StreamID
	byID bool
	a, b netip.AddrPort // b is the zero AddrPort for a one-endpoint selector
	text string
}

const selectorWant = "want tcp/N, udp/N or N (N a stream number from 0, as Wireshark's tcp.stream), HOST:PORT, or HOST:PORT-HOST:PORT ([v6]:PORT for IPv6)"

// ParseSelector reads a stream argument: a StreamID (ParseStreamID) or
// endpoints. Every command that takes a stream uses it.
func ParseSelector(s string) (Selector, error) {
	if id, err := ParseStreamID(s); err == nil {
		return Selector{id: id, byID: true, text: s}, nil
	}
	if !strings.Contains(s, ":") {
		return Selector{}, fmt.Errorf("stream %q: %s", s, selectorWant)
	}
	left, right, two := strings.Cut(s, "-")
	a, err := netip.ParseAddrPort(left)
	if err != nil {
		return Selector{}, fmt.Errorf("stream %q: %q is not an address and port: %s", s, left, selectorWant)
	}
	sel := Selector{a: netip.AddrPortFrom(a.Addr().Unmap(), a.Port()), text: s}
	if two {
		b, err := netip.ParseAddrPort(right)
		if err != nil {
			return Selector{}, fmt.Errorf("stream %q: %q is not an address and port: %s", s, right, selectorWant)
		}
		sel.b = netip.AddrPortFrom(b.Addr().Unmap(), b.Port())
	}
	return sel, nil
}

// ID returns the stream a numbered selector names; ok is false for an
// endpoint selector, which Resolve turns into stream numbers.
func (s Selector) ID() (id StreamID, ok bool) { return s.id, s.byID }

// String returns the selector as it was given.
func (s Selector) String() string { return s.text }

// Match says whether a stream between client and server is one the
// selector names.
func (s Selector) Match(proto capture.Proto, id int, client, server netip.AddrPort) bool {
	if s.byID {
		return s.id == StreamID{proto, id}
	}
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	server = netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	if !s.b.IsValid() {
		return client == s.a || server == s.a
	}
	return client == s.a && server == s.b || client == s.b && server == s.a
}

// StreamMatch is a stream a Selector matched.
type StreamMatch struct {
	ID             StreamID
	Client, Server netip.AddrPort
	Packets        int
}

// String returns "tcp/3 10.0.0.1:51234 → 10.0.0.5:443 (12 packets)".
func (m StreamMatch) String() string {
	return fmt.Sprintf("%s %s → %s (%d packets)", m.ID, m.Client, m.Server, m.Packets)
}

// Resolve reads src to its end with the tracker options o (bounds; no
// hooks or kept streams are needed) and returns, for each selector, the
// streams it matches in stream order. It is the first of two passes over a
// file when a stream is named by its endpoints: stream numbers come from
// the whole capture, so they are known only once it has been read. The
// damage error of a damaged file is returned with the matches before it.
func Resolve(src capture.Source, o Options, sels []Selector) ([][]StreamMatch, error) {
	out := make([][]StreamMatch, len(sels))
	seen := make([]map[StreamID]int, len(sels))
	for i := range seen {
		seen[i] = map[StreamID]int{}
	}
	o.Keep, o.Follow, o.OnData, o.OnEvent, o.OnPacket = nil, nil, nil, nil, nil
	o.OnStream = func(s *Stream) {
		for i, sel := range sels {
			if !sel.Match(s.Proto, s.ID, s.Client, s.Server) {
				continue
			}
			packets := s.Dirs[0].Packets + s.Dirs[1].Packets
			if k, ok := seen[i][s.StreamID()]; ok {
				out[i][k].Packets += packets // a resumed part
				continue
			}
			seen[i][s.StreamID()] = len(out[i])
			out[i] = append(out[i], StreamMatch{ID: s.StreamID(), Client: s.Client, Server: s.Server, Packets: packets})
		}
	}
	tr := NewTracker(o)
	err := tr.Consume(src)
	for i := range out {
		// Streams are delivered as they end, not in number order.
		sortMatches(out[i])
	}
	return out, err
}

func sortMatches(m []StreamMatch) {
	slices.SortFunc(m, func(a, b StreamMatch) int {
		return cmp.Or(cmp.Compare(a.ID.Proto, b.ID.Proto), cmp.Compare(a.ID.ID, b.ID.ID))
	})
}
