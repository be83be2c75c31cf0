package capture

import (
	"errors"
	"io"
	"testing"
)

// TestTunnelCapturePaths: the path of the first TCP packet of each real
// tunnel capture names its encapsulations and their IDs.
func TestTunnelCapturePaths(t *testing.T) {
	want := map[string]string{
		"tunnel_vxlan.pcap":      "VXLAN 42",
		"tunnel_gre.pcap":        "GRE key 7",
		"tunnel_gretap.pcap":     "GRE",
		"tunnel_ip6gre.pcap":     "GRE",
		"tunnel_ipip.pcap":       "IPv4-in-IPv4",
		"tunnel_sit.pcap":        "IPv6-in-IPv4",
		"tunnel_ip6tnl.pcap":     "IPv6-in-IPv6",
		"tunnel_ip4ip6.pcap":     "IPv4-in-IPv6",
		"tunnel_erspan2.pcap":    "GRE › ERSPAN session 5",
		"tunnel_erspan3.pcap":    "GRE › ERSPAN III session 6",
		"tunnel_geneve.pcap":     "Geneve 42",
		"tunnel_gtpu.pcap":       "GTP-U TEID 0x00001234",
		"tunnel_greudp.pcap":     "GRE-in-UDP",
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
	for i := range 9 {
		p.add(LayerMPLS, true, uint32(i))
	}
	if got := p.String(); got != "MPLS 0 › MPLS 1 › MPLS 2 › MPLS 3 › MPLS 4 › MPLS 5 › … (3 more)" || p.Len() != 9 {
		t.Errorf("long path %q (len %d)", got, p.Len())
	}
}
