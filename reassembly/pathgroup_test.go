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

// TestPathGroupsOuterHosts: a tunnel's two directions are one path (its
// outer addresses swapped), named as the earliest stream's went; the same
// tunnel between other outer hosts is another path.
func TestPathGroupsOuterHosts(t *testing.T) {
	var fwd, rev, other *capture.Path
	var link capture.LinkType
	var frames [][]byte
	src, err := capture.Open("../testdata/captures/tunnels/tunnel_gre.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.Filter = func(l capture.LinkType, f []byte) bool {
		link, frames = l, append(frames, append([]byte(nil), f...))
		return false
	}
	var p capture.Packet
	_ = src.Next(&p)
	var first capture.Packet
	for i, f := range frames {
		p = capture.Packet{Frame: i + 1, CapLen: len(f), WireLen: len(f)}
		capture.DecodeFrame(link, f, &p)
		if p.Proto != capture.ProtoTCP {
			continue
		}
		if fwd == nil {
			first = p
			fp := p.Path
			fwd = &fp
			g := slices.Clone(f)
			g[14+15]++ // the outer IPv4 source's last byte
			var q capture.Packet
			capture.DecodeFrame(link, g, &q)
			other = &q.Path
		} else if p.Src != first.Src {
			rp := p.Path
			rev = &rp
			break
		}
	}
	if fwd == nil || rev == nil {
		t.Fatal("no TCP packets both ways")
	}
	if !fwd.Same(rev) || fwd.String() == rev.String() || fwd.Same(other) {
		t.Fatalf("paths %q, %q (same %v), %q (same %v)", fwd, rev, fwd.Same(rev), other, fwd.Same(other))
	}
	var g PathGroups
	g.Add(&Stream{Proto: capture.ProtoTCP, ID: 1, FirstFrame: 20, Path: rev})
	g.Add(&Stream{Proto: capture.ProtoTCP, ID: 0, FirstFrame: 10, Path: fwd})
	g.Add(&Stream{Proto: capture.ProtoTCP, ID: 2, FirstFrame: 30, Path: other})
	got := g.Groups()
	if len(got) != 2 || got[0].Path != fwd.String() || got[0].TCPStreams != 2 || got[1].Path != "IPv4 10.99.0.2→10.99.0.2 › GRE key 7" {
		t.Errorf("groups %+v", got)
	}
}
