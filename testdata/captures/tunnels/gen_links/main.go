// Command gen_links rewraps the frames of two real corpus captures in the
// link types no kernel path here can record: each IP packet of
// testdata/corpus/04_http11_keepalive_curl.pcap (curl fetching 5 URLs over
// one HTTP/1.1 connection, IPv4) or of 20_ipv6_loopback_http_nanosec.pcap
// (HTTP over ::1) is taken out of its Ethernet header and put, unchanged,
// behind the link header of the file written:
//
//	link_ppp.pcap                      9    PPP with HDLC address/control, protocol 0x0021
//	link_ppp_hdlc.pcap                 50   PPP in HDLC-like framing
//	link_cisco_hdlc.pcap               104  Cisco HDLC (address 0x0f, EtherType)
//	link_nflog.pcap                    239  NFLOG: header, NFULA_PACKET_HDR, NFULA_PREFIX, NFULA_PAYLOAD TLVs
//	link_ieee80211.pcap                105  802.11 QoS data frames (to/from DS by direction), LLC/SNAP
//	link_radiotap.pcap                 127  radiotap (flags with FCS, rate, channel), 802.11 data, FCS
//	link_ppi.pcap                      192  PPI header naming 105, 802.11 data
//	link_raw_ipv4.pcap                 228  bare IPv4
//	link_raw_ipv6.pcap                 229  bare IPv6 (from the IPv6 capture)
//	link_null_ipv6_af24.pcap           0    BSD loopback, AF_INET6 = 24 (NetBSD/OpenBSD), little-endian
//	link_null_ipv6_af28.pcap           0    AF_INET6 = 28 (FreeBSD), little-endian
//	link_null_ipv6_af30_be.pcap        0    AF_INET6 = 30 (Darwin), written big-endian
//	link_loop_ipv6.pcap                108  OpenBSD loopback, AF 24, network order
//	tunnel_teredo.pcap                 1    IPv6 in Teredo (RFC 4380): Ethernet/IPv4/UDP 40001 ↔ 3544,
//	                                        the server's packets with an origin indication
//	tunnel_ayiya.pcap                  1    IPv6 in AYIYA: Ethernet/IPv4/UDP 40002 ↔ 5072, a 16-byte
//	                                        identity and a 20-byte SHA-1 signature, next header 41
//
// Run it from the module root: go run ./testdata/captures/tunnels/gen_links
package main

import (
	"encoding/binary"
	"hash/crc32"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

const out = "testdata/captures/tunnels"

type frame struct {
	ci gopacket.CaptureInfo
	ip []byte
	// c2s: from the client (the side that sent the first SYN)
	c2s bool
}

func readIP(path string) []frame {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		log.Fatal(err)
	}
	var fs []frame
	var clientPort uint16
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatal(err)
		}
		ip := data[14:]
		hl := 20
		if ip[0]>>4 == 6 {
			hl = 40
		}
		sport := binary.BigEndian.Uint16(ip[hl:])
		if clientPort == 0 {
			clientPort = sport
		}
		ci.Length -= 14
		ci.CaptureLength -= 14
		fs = append(fs, frame{ci, ip, sport == clientPort})
	}
	return fs
}

func write(name string, link layers.LinkType, fs []frame, wrap func(f frame) []byte) {
	f, err := os.Create(filepath.Join(out, name))
	if err != nil {
		log.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(262144, link); err != nil {
		log.Fatal(err)
	}
	for _, fr := range fs {
		b := wrap(fr)
		ci := fr.ci
		ci.Length += len(b) - len(fr.ip)
		ci.CaptureLength = len(b)
		if err := w.WritePacket(ci, b); err != nil {
			log.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s (%d frames)", name, len(fs))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func ethType(ip []byte) uint16 {
	if ip[0]>>4 == 6 {
		return 0x86dd
	}
	return 0x0800
}

var (
	sta = []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x01}
	ap  = []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0xaa}
	gw  = []byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x02}
)

// wifi builds an 802.11 QoS data frame: the client is a station sending to
// its AP (to DS), the server's packets come from the AP (from DS).
func wifi(f frame, seq int) []byte {
	fc1 := byte(0x01) // to DS
	a1, a2, a3 := ap, sta, gw
	if !f.c2s {
		fc1 = 0x02 // from DS
		a1, a2, a3 = sta, ap, gw
	}
	h := cat([]byte{0x88, fc1, 0x2c, 0x00}, a1, a2, a3, []byte{byte(seq << 4), byte(seq >> 4)}, []byte{0x00, 0x00})
	llc := []byte{0xaa, 0xaa, 0x03, 0, 0, 0, byte(ethType(f.ip) >> 8), byte(ethType(f.ip))}
	return cat(h, llc, f.ip)
}

func main() {
	v4 := readIP("testdata/corpus/04_http11_keepalive_curl.pcap")
	v6 := readIP("testdata/corpus/20_ipv6_loopback_http_nanosec.pcap")

	write("link_ppp.pcap", 9, v4, func(f frame) []byte { return cat([]byte{0xff, 0x03, 0x00, 0x21}, f.ip) })
	write("link_ppp_hdlc.pcap", 50, v4, func(f frame) []byte { return cat([]byte{0xff, 0x03, 0x00, 0x21}, f.ip) })
	write("link_cisco_hdlc.pcap", 104, v4, func(f frame) []byte { return cat([]byte{0x0f, 0x00, 0x08, 0x00}, f.ip) })
	write("link_nflog.pcap", 239, v4, func(f frame) []byte {
		tlv := func(typ uint16, v []byte) []byte {
			b := binary.LittleEndian.AppendUint16(nil, uint16(4+len(v)))
			b = binary.LittleEndian.AppendUint16(b, typ)
			b = append(b, v...)
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
			return b
		}
		return cat([]byte{2, 0, 0, 5}, // AF_INET, version 0, group 5 (big-endian)
			tlv(1, []byte{0x08, 0x00, 3, 0}), // NFULA_PACKET_HDR: hw_protocol, hook NF_INET_LOCAL_OUT
			tlv(10, []byte("sockscope\x00")), // NFULA_PREFIX
			tlv(9, f.ip))                     // NFULA_PAYLOAD
	})
	seq := 0
	write("link_ieee80211.pcap", 105, v4, func(f frame) []byte { seq++; return wifi(f, seq) })
	seq = 0
	write("link_radiotap.pcap", 127, v4, func(f frame) []byte {
		seq++
		w := wifi(f, seq)
		// present: flags (1), rate (2), channel (3); flags 0x10: FCS at the end
		rt := cat([]byte{0, 0, 14, 0, 0x0e, 0, 0, 0}, []byte{0x10, 0x6c}, []byte{0x6c, 0x09, 0xc0, 0x00})
		fcs := binary.LittleEndian.AppendUint32(nil, crc32.ChecksumIEEE(w))
		return cat(rt, w, fcs)
	})
	seq = 0
	write("link_ppi.pcap", 192, v4, func(f frame) []byte {
		seq++
		return cat([]byte{0, 0, 8, 0, 105, 0, 0, 0}, wifi(f, seq))
	})
	write("link_raw_ipv4.pcap", 228, v4, func(f frame) []byte { return f.ip })
	write("link_raw_ipv6.pcap", 229, v6, func(f frame) []byte { return f.ip })
	write("link_null_ipv6_af24.pcap", 0, v6, func(f frame) []byte { return cat([]byte{24, 0, 0, 0}, f.ip) })
	write("link_null_ipv6_af28.pcap", 0, v6, func(f frame) []byte { return cat([]byte{28, 0, 0, 0}, f.ip) })
	write("link_null_ipv6_af30_be.pcap", 0, v6, func(f frame) []byte { return cat([]byte{0, 0, 0, 30}, f.ip) })
	write("link_loop_ipv6.pcap", 108, v6, func(f frame) []byte { return cat([]byte{0, 0, 0, 24}, f.ip) })
	write("tunnel_teredo.pcap", 1, v6, func(f frame) []byte {
		if f.c2s {
			return udp4(f, 40001, 3544, f.ip)
		}
		// Origin indication: the client's port and address, obfuscated (XOR with ones).
		origin := []byte{0, 0, ^byte(40001 >> 8), ^byte(40001 & 0xff), ^byte(192), ^byte(0), ^byte(2), ^byte(1)}
		return udp4(f, 3544, 40001, cat(origin, f.ip))
	})
	write("tunnel_ayiya.pcap", 1, v6, func(f frame) []byte {
		// IDLen 4 (16 bytes), IDType 1 (integer); SigLen 5 (20 bytes), HshMeth 2 (SHA-1);
		// AutMeth 2 (SHA-1 of the shared secret), OpCode 1 (forward); next header 41.
		hdr := cat([]byte{0x41, 0x52, 0x21, 41}, binary.BigEndian.AppendUint32(nil, uint32(f.ci.Timestamp.Unix())),
			[]byte("sockscope-ayiya!"), make([]byte, 20))
		if f.c2s {
			return udp4(f, 40002, 5072, cat(hdr, f.ip))
		}
		return udp4(f, 5072, 40002, cat(hdr, f.ip))
	})
}

// udp4 puts payload in UDP over IPv4 over Ethernet, between 192.0.2.1 (the
// side that sent the first SYN inside) and 192.0.2.2.
func udp4(f frame, sport, dport uint16, payload []byte) []byte {
	src, dst := []byte{192, 0, 2, 1}, []byte{192, 0, 2, 2}
	smac, dmac := sta, gw
	if !f.c2s {
		src, dst, smac, dmac = dst, src, dmac, smac
	}
	u := binary.BigEndian.AppendUint16(nil, sport)
	u = binary.BigEndian.AppendUint16(u, dport)
	u = binary.BigEndian.AppendUint16(u, uint16(8+len(payload)))
	u = append(u, 0, 0) // no checksum (IPv4 allows it)
	ip := []byte{0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 17, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(u)+len(payload)))
	ip = cat(ip, src, dst)
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	return cat(dmac, smac, []byte{0x08, 0x00}, ip, u, payload)
}
