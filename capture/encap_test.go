package capture

import (
	"encoding/binary"
	"strings"
	"testing"
)

// Hand-built frames for each encapsulation and link type, around one inner
// TCP segment 10.0.0.1:40000 → 10.0.0.2:80 carrying "inner". The captures in
// testdata/captures/tunnels (encap_capture_test.go) check the same decoders
// on real traffic; these pin each header's layout and the reasons given for
// frames that do not reach TCP or UDP.

var (
	outerA = [4]byte{192, 0, 2, 1}
	outerB = [4]byte{192, 0, 2, 2}
)

func innerIPv4() []byte {
	return ipv4(addrA, addrB, 6, 1, 0, tcpSeg(40000, 80, 1, 0x18, []byte("inner")))
}
func innerIPv6() []byte { return ipv6(1, 2, 6, tcpSeg(40000, 80, 1, 0x18, []byte("inner"))) }
func innerEth() []byte  { return ethFrame(0x0800, innerIPv4()) }

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }
func le16(v uint16) []byte { return []byte{byte(v), byte(v >> 8)} }

func vlanTag(id, next uint16) []byte { return cat(be16(id), be16(next)) }

// mplsLabel: label 20 bits, TC 0, bottom-of-stack bit, TTL 64.
func mplsLabel(label uint32, bottom bool) []byte {
	v := label<<12 | 64
	if bottom {
		v |= 1 << 8
	}
	return binary.BigEndian.AppendUint32(nil, v)
}

func greHdr(flags, proto uint16, extra ...byte) []byte { return cat(be16(flags), be16(proto), extra) }

func outerUDP4(dport uint16, payload []byte) []byte {
	return ethFrame(0x0800, ipv4(outerA, outerB, 17, 9, 0, udpDgram(50000, dport, payload)))
}

// nflogTLV: little-endian length (header included) and type, padded to 4.
func nflogTLV(typ uint16, v []byte) []byte {
	b := cat(le16(uint16(4+len(v))), le16(typ), v)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

type encapCase struct {
	name  string
	link  LinkType
	frame []byte
	v6    bool // inner packet is IPv6
}

// encapSeeds returns the frames of TestDecodeEncapsulations (also the fuzz seeds).
func encapSeeds() []encapCase {
	ethHdr := func(t uint16) []byte { return ethFrame(t, nil) }
	return []encapCase{
		{"802.1Q", LinkEthernet, cat(ethHdr(0x8100), vlanTag(100, 0x0800), innerIPv4()), false},
		{"802.1ad QinQ", LinkEthernet, cat(ethHdr(0x88a8), vlanTag(10, 0x8100), vlanTag(20, 0x0800), innerIPv4()), false},
		{"MPLS 3 labels IPv4", LinkEthernet, cat(ethHdr(0x8847), mplsLabel(16004, false), mplsLabel(17, false), mplsLabel(18, true), innerIPv4()), false},
		{"MPLS IPv6", LinkEthernet, cat(ethHdr(0x8847), mplsLabel(2, true), innerIPv6()), true},
		{"MPLS Ethernet PW with control word", LinkEthernet, cat(ethHdr(0x8847), mplsLabel(100, true), []byte{0, 0, 0, 0}, innerEth()), false},
		{"MPLS Ethernet PW without control word", LinkEthernet, cat(ethHdr(0x8847), mplsLabel(100, true), innerEth()), false},
		{"PPPoE session", LinkEthernet, cat(ethHdr(0x8864), []byte{0x11, 0, 0x12, 0x34}, be16(uint16(2+len(innerIPv4()))), be16(0x0021), innerIPv4()), false},
		{"PPPoE over QinQ, IPv6", LinkEthernet, cat(ethHdr(0x88a8), vlanTag(10, 0x8100), vlanTag(20, 0x8864), []byte{0x11, 0, 0, 1}, be16(uint16(2+len(innerIPv6()))), be16(0x0057), innerIPv6()), true},
		{"GRE IPv4", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0, 0x0800), innerIPv4()))), false},
		{"GRE key and sequence", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0x3000, 0x0800, 0, 0, 0, 7, 0, 0, 0, 1), innerIPv4()))), false},
		{"GRE checksum, key, sequence, IPv6", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0xb000, 0x86dd, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1), innerIPv6()))), true},
		{"GRE Ethernet bridging (gretap)", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0, 0x6558), innerEth()))), false},
		{"ip6gre", LinkEthernet, ethFrame(0x86dd, ipv6(9, 10, 47, cat(greHdr(0, 0x0800), innerIPv4()))), false},
		{"ERSPAN type I", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0, 0x88be), innerEth()))), false},
		{"ERSPAN type II", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0x1000, 0x88be, 0, 0, 0, 5), []byte{0x10, 0, 0, 1, 0, 0, 0, 0}, innerEth()))), false},
		{"ERSPAN type III with platform subheader", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0x1000, 0x22eb, 0, 0, 0, 5), []byte{0x20, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1}, make([]byte, 8), innerEth()))), false},
		{"IPv4 in IPv4", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 4, 2, 0, innerIPv4())), false},
		{"IPv6 in IPv4 (sit)", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 41, 2, 0, innerIPv6())), true},
		{"IPv4 in IPv6", LinkEthernet, ethFrame(0x86dd, ipv6(9, 10, 4, innerIPv4())), false},
		{"IPv6 in IPv6", LinkEthernet, ethFrame(0x86dd, ipv6(9, 10, 41, innerIPv6())), true},
		{"EtherIP", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 97, 2, 0, cat([]byte{0x30, 0}, innerEth()))), false},
		{"VXLAN", LinkEthernet, outerUDP4(4789, cat([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, innerEth())), false},
		{"VXLAN-GPE IPv6", LinkEthernet, outerUDP4(4790, cat([]byte{0x0c, 0, 0, 2, 0, 0, 42, 0}, innerIPv6())), true},
		{"Geneve with options", LinkEthernet, outerUDP4(6081, cat([]byte{0x02, 0}, be16(0x6558), []byte{0, 0, 42, 0}, []byte{0x01, 0x02, 0x80, 0x01, 1, 2, 3, 4}, innerEth())), false},
		{"Geneve IPv4", LinkEthernet, outerUDP4(6081, cat([]byte{0, 0}, be16(0x0800), []byte{0, 0, 42, 0}, innerIPv4())), false},
		{"GTP-U", LinkEthernet, outerUDP4(2152, cat([]byte{0x30, 0xff}, be16(uint16(len(innerIPv4()))), []byte{0, 0, 0, 1}, innerIPv4())), false},
		{"GTP-U sequence and PDU session extension", LinkEthernet, outerUDP4(2152, cat([]byte{0x36, 0xff}, be16(uint16(12+len(innerIPv6()))), []byte{0, 0, 0, 1, 0, 9, 0, 0x85, 1, 0x10, 0x01, 0}, innerIPv6())), true},
		{"GRE in UDP", LinkEthernet, outerUDP4(4754, cat(greHdr(0, 0x0800), innerIPv4())), false},
		{"Teredo", LinkEthernet, outerUDP4(3544, innerIPv6()), true},
		{"Teredo with authentication and origin indication", LinkEthernet, outerUDP4(3544, cat([]byte{0, 1, 2, 3}, []byte("idabc"), make([]byte, 9), []byte{0, 0, 1, 2, 3, 4, 5, 6}, innerIPv6())), true},
		{"AYIYA IPv6", LinkEthernet, outerUDP4(5072, cat([]byte{0x41, 0x52, 0x21, 41, 0, 0, 0, 0}, make([]byte, 16+20), innerIPv6())), true},
		{"AYIYA IPv4", LinkEthernet, outerUDP4(5072, cat([]byte{0x11, 0x00, 0x01, 4, 0, 0, 0, 0}, make([]byte, 2), innerIPv4())), false},
		{"VXLAN in GRE in VLAN", LinkEthernet, cat(ethHdr(0x8100), vlanTag(7, 0x0800), ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0, 0x0800), ipv4(outerA, outerB, 17, 3, 0, udpDgram(1, 4789, cat([]byte{0x08, 0, 0, 0, 0, 0, 1, 0}, innerEth())))))), false},
		{"outer IPv4 fragment of GRE", LinkEthernet, nil, false}, // filled below
		{"PPP", LinkPPP, cat(be16(0x0021), innerIPv4()), false},
		{"PPP with address and control", LinkPPP, cat([]byte{0xff, 0x03}, be16(0x0057), innerIPv6()), true},
		{"PPP compressed protocol", LinkPPP, cat([]byte{0x21}, innerIPv4()), false},
		{"PPP in HDLC framing", LinkPPPHDLC, cat([]byte{0xff, 0x03}, be16(0x0021), innerIPv4()), false},
		{"Cisco HDLC", LinkCHDLC, cat([]byte{0x0f, 0}, be16(0x0800), innerIPv4()), false},
		{"Cisco HDLC in link type 50", LinkPPPHDLC, cat([]byte{0x8f, 0}, be16(0x86dd), innerIPv6()), true},
		{"NFLOG", LinkNFLOG, cat([]byte{2, 0, 0, 1}, nflogTLV(1, []byte{0x08, 0x00, 3, 0}), nflogTLV(10, []byte("prefix\x00")), nflogTLV(9, innerIPv4())), false},
		{"NFLOG IPv6", LinkNFLOG, cat([]byte{10, 0, 0, 1}, nflogTLV(9, innerIPv6())), true},
		{"802.11 data", LinkIEEE80211, cat([]byte{0x08, 0x01}, make([]byte, 22), []byte{0xaa, 0xaa, 3, 0, 0, 0, 8, 0}, innerIPv4()), false},
		{"802.11 QoS data, 4 addresses", LinkIEEE80211, cat([]byte{0x88, 0x03}, make([]byte, 22+6+2), []byte{0xaa, 0xaa, 3, 0, 0, 0, 0x86, 0xdd}, innerIPv6()), true},
		{"radiotap 802.11", LinkRadiotap, cat([]byte{0, 0}, le16(12), []byte{0x02, 0, 0, 0}, []byte{0x00, 0, 0, 0}, []byte{0x08, 0x02}, make([]byte, 22), []byte{0xaa, 0xaa, 3, 0, 0, 0, 8, 0}, innerIPv4()), false},
		{"radiotap with data padding", LinkRadiotap, cat([]byte{0, 0}, le16(9), []byte{0x02, 0, 0, 0}, []byte{0x20}, []byte{0x88, 0x02}, make([]byte, 22+2+2), []byte{0xaa, 0xaa, 3, 0, 0, 0, 8, 0}, innerIPv4()), false},
		{"PPI 802.11", LinkPPI, cat([]byte{0, 0}, le16(8), []byte{105, 0, 0, 0}, []byte{0x08, 0x01}, make([]byte, 22), []byte{0xaa, 0xaa, 3, 0, 0, 0, 8, 0}, innerIPv4()), false},
		{"PPI Ethernet", LinkPPI, cat([]byte{0, 0}, le16(8), []byte{1, 0, 0, 0}, innerEth()), false},
		{"null AF_INET6 NetBSD", LinkNull, cat([]byte{24, 0, 0, 0}, innerIPv6()), true},
		{"null AF_INET6 FreeBSD", LinkNull, cat([]byte{28, 0, 0, 0}, innerIPv6()), true},
		{"null AF_INET6 Darwin big-endian writer", LinkNull, cat([]byte{0, 0, 0, 30}, innerIPv6()), true},
		{"loop AF_INET", LinkLoop, cat([]byte{0, 0, 0, 2}, innerIPv4()), false},
		{"IPv4 link type", LinkIPv4, innerIPv4(), false},
		{"IPv6 link type", LinkIPv6, innerIPv6(), true},
		{"SLL2 VLAN", LinkSLL2, cat(be16(0x8100), make([]byte, 18), vlanTag(5, 0x0800), innerIPv4()), false},
	}
}

func TestDecodeEncapsulations(t *testing.T) {
	tests := encapSeeds()
	for i := range tests {
		if tests[i].frame == nil { // GRE in two outer fragments: rebuilt, then decapsulated
			gre := cat(greHdr(0, 0x0800), innerIPv4())
			tests[i].frame = ethFrame(0x0800, ipv4(outerA, outerB, 47, 77, 0x2000, gre[:24]))
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Packet{Frame: 1, CapLen: len(tt.frame), WireLen: len(tt.frame)}
			DecodeFrame(tt.link, tt.frame, &p)
			if tt.name == "outer IPv4 fragment of GRE" {
				d := NewDefragmenter(DefragOptions{})
				d.Process(&p)
				gre := cat(greHdr(0, 0x0800), innerIPv4())
				f := ethFrame(0x0800, ipv4(outerA, outerB, 47, 77, 3, gre[24:]))
				p = Packet{Frame: 2, CapLen: len(f), WireLen: len(f)}
				DecodeFrame(LinkEthernet, f, &p)
				d.Process(&p)
			}
			if p.Issue != "" || p.NotIP || p.Proto != ProtoTCP || string(p.Payload) != "inner" || p.IPv6 != tt.v6 {
				t.Fatalf("got issue %q notIP %v what %q proto %v v6 %v payload %q; want the inner TCP segment", p.Issue, p.NotIP, p.What, p.Proto, p.IPv6, p.Payload)
			}
			if p.Src.Port() != 40000 || p.Dst.Port() != 80 || (!tt.v6 && p.Src.Addr().As4() != addrA) {
				t.Errorf("inner endpoints %v → %v", p.Src, p.Dst)
			}
		})
	}
}

// TestDecodeNotFollowed: frames that do not reach TCP or UDP say what they
// carried (What, Code) or why they could not be decoded (Issue).
func TestDecodeNotFollowed(t *testing.T) {
	ethHdr := func(t uint16) []byte { return ethFrame(t, nil) }
	tests := []struct {
		name  string
		link  LinkType
		frame []byte
		notIP bool
		what  string
		code  uint32
		issue string
	}{
		{"ARP", LinkEthernet, cat(ethHdr(0x0806), make([]byte, 28)), true, "ARP", 0, ""},
		{"LLDP in VLAN", LinkEthernet, cat(ethHdr(0x8100), vlanTag(1, 0x88cc), make([]byte, 20)), true, "LLDP", 0, ""},
		{"unknown EtherType", LinkEthernet, cat(ethHdr(0x88b5), make([]byte, 20)), true, "EtherType", 0x88b5, ""},
		{"STP (802.3 + LLC)", LinkEthernet, cat(ethHdr(38), []byte{0x42, 0x42, 0x03}, make([]byte, 35)), true, "STP", 0, ""},
		{"CDP (SNAP)", LinkEthernet, cat(ethHdr(20), []byte{0xaa, 0xaa, 3, 0, 0, 0x0c, 0x20, 0}, make([]byte, 12)), true, "CDP", 0, ""},
		{"ICMP", LinkEthernet, ethFrame(0x0800, ipv4(addrA, addrB, 1, 1, 0, make([]byte, 8))), false, "ICMP", 0, ""},
		{"ICMP inside GRE", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0, 0x0800), ipv4(addrA, addrB, 1, 1, 0, make([]byte, 8))))), false, "ICMP", 0, ""},
		{"unknown GRE protocol", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, greHdr(0, 0x1234, 1, 2, 3, 4))), false, "GRE protocol", 0x1234, ""},
		{"GRE version 2", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, greHdr(2, 0x0800, 1, 2, 3, 4))), false, "GRE version", 2, ""},
		{"GRE cut short", LinkEthernet, ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, greHdr(0x3000, 0x0800, 0, 0))), false, "", 0, "GRE header cut short"},
		{"ARP inside VXLAN", LinkEthernet, outerUDP4(4789, cat([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, ethFrame(0x0806, make([]byte, 28)))), true, "ARP", 0, ""},
		{"unknown Geneve protocol", LinkEthernet, outerUDP4(6081, cat([]byte{0, 0}, be16(0x4321), []byte{0, 0, 42, 0}, make([]byte, 10))), false, "Geneve protocol", 0x4321, ""},
		{"PPP LCP", LinkPPP, cat([]byte{0xff, 0x03}, be16(0xc021), make([]byte, 8)), true, "PPP LCP", 0, ""},
		{"PPPoE LCP", LinkEthernet, cat(ethHdr(0x8864), []byte{0x11, 0, 0, 1, 0, 10}, be16(0xc021), make([]byte, 8)), true, "PPP LCP", 0, ""},
		{"PPPoE discovery", LinkEthernet, cat(ethHdr(0x8863), []byte{0x11, 0x09, 0, 0, 0, 0}), true, "PPPoE discovery", 0, ""},
		{"Cisco SLARP", LinkCHDLC, cat([]byte{0x8f, 0}, be16(0x8035), make([]byte, 18)), true, "Cisco SLARP", 0, ""},
		{"802.11 beacon", LinkIEEE80211, cat([]byte{0x80, 0}, make([]byte, 40)), true, "802.11 management", 0, ""},
		{"802.11 protected data", LinkIEEE80211, cat([]byte{0x08, 0x41}, make([]byte, 40)), true, "802.11 protected (encrypted) data", 0, ""},
		{"NFLOG without payload", LinkNFLOG, cat([]byte{2, 0, 0, 1}, nflogTLV(1, []byte{0x08, 0x00, 3, 0})), true, "NFLOG record without a packet", 0, ""},
		{"null unknown AF", LinkNull, cat([]byte{7, 0, 0, 0}, make([]byte, 20)), true, "address family", 7, ""},
		{"GTP-U echo stays UDP", LinkEthernet, outerUDP4(2152, []byte{0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0}), false, "", 0, ""},
		{"VXLAN port without the I flag stays UDP", LinkEthernet, outerUDP4(4789, make([]byte, 20)), false, "", 0, ""},
		{"Teredo port without IPv6 stays UDP", LinkEthernet, outerUDP4(3544, make([]byte, 60)), false, "", 0, ""},
		{"AYIYA heartbeat stays UDP", LinkEthernet, outerUDP4(5072, cat([]byte{0x41, 0x52, 0x20, 59, 0, 0, 0, 0}, make([]byte, 36))), false, "", 0, ""},
		{"VXLAN header cut by the snapshot length", LinkEthernet, nil, false, "", 0, "VXLAN header cut short by the snapshot length"},
		{"MPLS stack cut short", LinkEthernet, cat(ethHdr(0x8847), mplsLabel(1, false), []byte{0, 0}), false, "", 0, "MPLS label cut short"},
		{"deep MPLS stack", LinkEthernet, cat(ethHdr(0x8847), bytesRepeat(mplsLabel(1, false), 40), mplsLabel(2, true), innerIPv4()), false, "", 0, "encapsulation nested deeper than 16 layers"},
		{"PPI inside PPI, forever", LinkPPI, bytesRepeat(cat([]byte{0, 0}, le16(8), []byte{192, 0, 0, 0}), 40), false, "", 0, "encapsulation nested deeper than 16 layers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.frame
			wire := len(f)
			if f == nil { // a VXLAN datagram whose frame stops 3 bytes into the VXLAN header
				full := outerUDP4(4789, cat([]byte{0x08, 0, 0, 0, 0, 0, 42, 0}, innerEth()))
				f, wire = full[:14+20+8+3], len(full)
			}
			p := Packet{Frame: 1, CapLen: len(f), WireLen: wire}
			DecodeFrame(tt.link, f, &p)
			if tt.issue != "" {
				if !strings.Contains(p.Issue, tt.issue) || p.Proto != ProtoOther {
					t.Fatalf("issue %q proto %v; want an issue %q", p.Issue, p.Proto, tt.issue)
				}
				return
			}
			if tt.what == "" { // stays an ordinary UDP datagram
				if p.Proto != ProtoUDP || p.Issue != "" {
					t.Fatalf("proto %v issue %q what %q; want the outer UDP datagram", p.Proto, p.Issue, p.What)
				}
				return
			}
			if p.Issue != "" || p.Proto != ProtoOther || p.NotIP != tt.notIP || p.What != tt.what || p.Code != tt.code {
				t.Fatalf("issue %q proto %v notIP %v what %q code %#x; want notIP %v what %q code %#x", p.Issue, p.Proto, p.NotIP, p.What, p.Code, tt.notIP, tt.what, tt.code)
			}
		})
	}
}

func bytesRepeat(b []byte, n int) []byte { return []byte(strings.Repeat(string(b), n)) }

// TestDecodeFrameAllocs: decoding allocates nothing, plain or tunnelled.
func TestDecodeFrameAllocs(t *testing.T) {
	frames := map[string][]byte{
		"plain":          goodFrame(40000, "hello"),
		"VXLAN in QinQ":  cat(ethFrame(0x88a8, nil), vlanTag(10, 0x8100), vlanTag(20, 0x0800), ipv4(outerA, outerB, 17, 3, 0, udpDgram(1, 4789, cat([]byte{0x08, 0, 0, 0, 0, 0, 1, 0}, innerEth())))),
		"GRE key + MPLS": ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, cat(greHdr(0x2000, 0x8847, 0, 0, 0, 7), mplsLabel(16, true), innerIPv4()))),
		"unknown GRE":    ethFrame(0x0800, ipv4(outerA, outerB, 47, 2, 0, greHdr(0, 0x1234, 1, 2, 3, 4))),
	}
	for name, f := range frames {
		var p Packet
		if n := testing.AllocsPerRun(100, func() {
			p = Packet{Frame: 1, CapLen: len(f), WireLen: len(f)}
			DecodeFrame(LinkEthernet, f, &p)
		}); n != 0 {
			t.Errorf("%s: %v allocations per frame", name, n)
		}
	}
}
