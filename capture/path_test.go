package capture

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTunnelCapturePaths: the path of the first TCP packet of each real
// tunnel capture names its encapsulations, their IDs and the outer
// addresses of the tunnels.
func TestTunnelCapturePaths(t *testing.T) {
	want := map[string]string{
		"tunnel_vxlan.pcap":      "IPv4 10.99.0.1→10.99.0.2 › VXLAN 42",
		"tunnel_gre.pcap":        "IPv4 10.99.0.1→10.99.0.2 › GRE key 7",
		"tunnel_gretap.pcap":     "IPv4 10.99.0.1→10.99.0.2 › GRE",
		"tunnel_ip6gre.pcap":     "IPv6 fd99::1→fd99::2 › GRE",
		"tunnel_ipip.pcap":       "IPv4 10.99.0.1→10.99.0.2 › IPv4-in-IPv4",
		"tunnel_sit.pcap":        "IPv4 10.99.0.1→10.99.0.2 › IPv6-in-IPv4",
		"tunnel_ip6tnl.pcap":     "IPv6 fd99::1→fd99::2 › IPv6-in-IPv6",
		"tunnel_ip4ip6.pcap":     "IPv6 fd99::1→fd99::2 › IPv4-in-IPv6",
		"tunnel_erspan2.pcap":    "IPv4 10.99.0.1→10.99.0.2 › GRE › ERSPAN session 5",
		"tunnel_erspan3.pcap":    "IPv4 10.99.0.1→10.99.0.2 › GRE › ERSPAN III session 6",
		"tunnel_geneve.pcap":     "IPv4 10.99.0.1→10.99.0.2 › Geneve 42",
		"tunnel_gtpu.pcap":       "IPv4 10.99.0.1→10.99.0.2 › GTP-U TEID 0x00001234",
		"tunnel_greudp.pcap":     "IPv4 10.99.0.1→10.99.0.2 › GRE-in-UDP",
		"tunnel_vlan.pcap":       "VLAN 100",
		"tunnel_qinq.pcap":       "802.1ad 200 › VLAN 100",
		"tunnel_mpls.pcap":       "MPLS 16004 › MPLS 17",
		"tunnel_mplspw.pcap":     "MPLS 100",
		"tunnel_pppoe.pcap":      "PPPoE session 0x1234",
		"tunnel_pppoe-qinq.pcap": "802.1ad 300 › VLAN 10 › PPPoE session 0x1234",
		"link_ppp.pcap":          "",
	}
	for name, w := range want {
		t.Run(name, func(t *testing.T) {
			src, err := Open("../testdata/captures/tunnels/" + name)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var p Packet
			for {
				if err := src.Next(&p); errors.Is(err, io.EOF) {
					t.Fatal("no TCP packet")
				} else if err != nil {
					t.Fatal(err)
				}
				if p.Proto == ProtoTCP {
					break
				}
			}
			if got := p.Path.String(); got != w {
				t.Errorf("path %q, want %q", got, w)
			}
		})
	}
	var p Path
	for range 9 {
		p.addOuter(true, netip.MustParseAddr("fd00::2"), netip.MustParseAddr("fd00::1"))
	}
	if got := p.String(); !strings.HasPrefix(got, "IPv6 fd00::2→fd00::1 › IPv6 fd00::2→fd00::1 › IPv6 › ") || p.Len() != 9 {
		t.Errorf("addresses beyond the room kept: %q", got)
	}
	p = Path{}
	for i := range 9 {
		p.add(LayerMPLS, true, uint32(i))
	}
	if got := p.String(); got != "MPLS 0 › MPLS 1 › MPLS 2 › MPLS 3 › MPLS 4 › MPLS 5 › MPLS 6 › MPLS 7 › … (1 more)" || p.Len() != 9 {
		t.Errorf("long path %q (len %d)", got, p.Len())
	}
}

// TestOuterAddressesMatchTshark: for every TCP packet of every tunnel
// capture, the path's outer IPv4 and IPv6 layers are, in order, the
// addresses tshark decodes in all but the innermost IP header
// (testdata/tshark/tunnel_*.pcap.addrs.tsv, recorded by
// testdata/captures/tunnels/record_answers.sh).
func TestOuterAddressesMatchTshark(t *testing.T) {
	files, _ := filepath.Glob("../testdata/captures/tunnels/tunnel_*.pcap")
	if len(files) < 20 {
		t.Fatalf("%d tunnel captures", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			answers, err := os.ReadFile("../testdata/tshark/" + filepath.Base(f) + ".addrs.tsv")
			if err != nil {
				t.Fatal(err)
			}
			want := map[int][2][]string{} // frame: outer IPv4 pairs, outer IPv6 pairs ("src→dst")
			for _, line := range strings.Split(strings.TrimRight(string(answers), "\n"), "\n")[1:] {
				c := strings.Split(line, "\t")
				frame, _ := strconv.Atoi(c[0])
				pairs := func(src, dst string) []string {
					s, d := strings.Fields(src), strings.Fields(dst)
					var out []string
					for i := range min(len(s), len(d)) {
						out = append(out, s[i]+"→"+d[i])
					}
					return out
				}
				want[frame] = [2][]string{pairs(c[1], c[2]), pairs(c[3], c[4])}
			}
			src, err := Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			n := 0
			var p Packet
			for {
				if err := src.Next(&p); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				if p.Proto != ProtoTCP {
					continue
				}
				w, ok := want[p.Frame]
				if !ok {
					t.Fatalf("frame %d: TCP here, not for tshark", p.Frame)
				}
				inner := 0
				if p.IPv6 {
					inner = 1
				}
				w[inner] = w[inner][:len(w[inner])-1]
				var got [2][]string
				for i, l := range p.Path.Layers() {
					if s, d, ok := p.Path.Outer(i); ok {
						got[b2i(l.Kind == LayerIPv6)] = append(got[b2i(l.Kind == LayerIPv6)], s.String()+"→"+d.String())
					}
				}
				for v := range 2 {
					if strings.Join(got[v], " ") != strings.Join(w[v], " ") {
						t.Errorf("frame %d: outer IPv%d %q, tshark %q (path %q)", p.Frame, 4+2*v, got[v], w[v], p.Path.String())
					}
				}
				n++
			}
			if n != len(want) {
				t.Errorf("%d TCP packets, tshark %d", n, len(want))
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
