package reassembly

import (
	"slices"
	"testing"

	"github.com/sockscope/sockscope/capture"
)

// TestPathGroups: streams delivered in any order are grouped by path in the
// order the paths appeared; a group names its lowest-numbered streams (TCP
// first, at most MaxGroupStreams); a resumed part adds packets and bytes,
// not a stream.
func TestPathGroups(t *testing.T) {
	vlan := firstPath(t, "../testdata/captures/tunnels/tunnel_vlan.pcap")
	var g PathGroups
	for id := 11; id >= 0; id-- {
		s := &Stream{Proto: capture.ProtoTCP, ID: id, FirstFrame: 100 + id, Path: vlan}
		s.Dirs[0].Packets, s.Dirs[0].Bytes = 2, 10
		g.Add(s)
	}
	g.Add(&Stream{Proto: capture.ProtoUDP, ID: 0, FirstFrame: 5})
	late := &Stream{Proto: capture.ProtoTCP, ID: 3, FirstFrame: 400, Path: vlan, Resumed: true}
	late.Dirs[1].Packets = 1
	g.Add(late)
	got := g.Groups()
	if len(got) != 2 || got[0].Path != "" || got[1].Path != "VLAN 100" {
		t.Fatalf("groups %+v", got)
	}
	v := got[1]
	want := []string{"tcp/0", "tcp/1", "tcp/2", "tcp/3", "tcp/4", "tcp/5", "tcp/6", "tcp/7", "tcp/8", "tcp/9"}
	if v.TCPStreams != 12 || v.Packets != 25 || v.Bytes != 120 || v.FirstFrame != 100 || !slices.Equal(v.Streams, want) {
		t.Errorf("VLAN group %+v", v)
	}
	if u := got[0]; u.UDPFlows != 1 || u.TCPStreams != 0 || !slices.Equal(u.Streams, []string{"udp/0"}) {
		t.Errorf("bare group %+v", u)
	}
}

// firstPath returns the path of the first TCP packet of a capture.
func firstPath(t *testing.T, file string) *capture.Path {
	t.Helper()
	src, err := capture.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		var p capture.Packet
		if err := src.Next(&p); err != nil {
			t.Fatalf("no TCP packet: %v", err)
		}
		if p.Proto == capture.ProtoTCP {
			return &p.Path
		}
	}
}
