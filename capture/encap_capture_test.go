package capture

import (
	"errors"
	"io"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

// TestTunnelCaptures decodes every frame of the real tunnel and link-type
// captures in testdata/captures/tunnels (HTTP between 10.98.0.1 and
// 10.98.0.2, or fd98::1 and fd98::2, through the tunnel named by the file;
// the link_ files rewrap the corpus's loopback HTTP captures; dup_mirror
// mirrors HTTP between 10.99.0.1 and 10.99.0.2): every TCP
// packet is the inner connection's, and every other frame is ARP or ICMPv6 from inside the tunnel, never a
// frame with an issue or an undecoded outer packet.
func TestTunnelCaptures(t *testing.T) {
	files, _ := filepath.Glob("../testdata/captures/tunnels/*.pcap")
	if len(files) < 30 {
		t.Fatalf("%d captures in testdata/captures/tunnels", len(files))
	}
	inner := []netip.Prefix{netip.MustParsePrefix("10.98.0.0/24"), netip.MustParsePrefix("fd98::/64"),
		netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")} // the link_ captures' loopback
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			inner := inner
			if filepath.Base(path) == "dup_mirror.pcap" {
				inner = []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24")}
			}
			src, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var p Packet
			tcp := 0
			for {
				err := src.Next(&p)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if p.Issue != "" {
					t.Fatalf("frame %d: issue %q", p.Frame, p.Issue)
				}
				switch p.Proto {
				case ProtoTCP:
					tcp++
					ok := false
					for _, pf := range inner {
						ok = ok || pf.Contains(p.Src.Addr()) && pf.Contains(p.Dst.Addr())
					}
					if !ok {
						t.Fatalf("frame %d: TCP %v → %v is not the inner connection", p.Frame, p.Src, p.Dst)
					}
				case ProtoUDP:
					t.Fatalf("frame %d: UDP %v → %v left encapsulated", p.Frame, p.Src, p.Dst)
				default:
					if p.Fragment { // an outer fragment waiting for the rest (gre-frag)
						continue
					}
					if p.What != "ARP" && p.What != "ICMPv6" {
						t.Fatalf("frame %d: %s (not IP %v)", p.Frame, Describe(p.What, p.Code), p.NotIP)
					}
				}
			}
			if tcp == 0 {
				t.Fatal("no TCP packet")
			}
			if l := src.Info().LinkTypes[0]; strings.HasPrefix(filepath.Base(path), "link_") == (l == LinkEthernet) && !strings.HasPrefix(filepath.Base(path), "dup_") {
				t.Errorf("link type %v", l)
			}
		})
	}
}
