package capture

import (
	"encoding/binary"
	"net/netip"
)

// maxEncap bounds the encapsulation layers one frame may nest (each VLAN
// tag, MPLS label, tunnel header and IP-in-IP header counts one) so that a
// hostile frame cannot make decoding loop. Real networks stack a handful:
// QinQ, a few MPLS labels, one or two tunnels.
const maxEncap = 16

const issueTooDeep = "encapsulation nested deeper than 16 layers (VLAN tags, MPLS labels, tunnels)"

// DecodeFrame decodes one frame of link type link into p, which must already
// hold Frame, Time, CapLen and WireLen. It never fails: a frame that cannot be
// decoded gets p.Issue (or p.NotIP) and Proto ProtoOther, and p.What says
// what it carried. It does not allocate on any frame that decodes; p.Payload
// aliases data.
//
// Encapsulations are removed here, in any order and nesting, before flows are
// tracked, so a packet inside a tunnel is its inner packet: VLAN (802.1Q,
// 802.1ad), MPLS, PPPoE, GRE (with ERSPAN and Ethernet bridging), IP-in-IP
// (IPv4/IPv6 in IPv4/IPv6), and the UDP tunnels VXLAN, VXLAN-GPE, Geneve,
// GTP-U, GRE-in-UDP, Teredo and AYIYA (by port, when the payload parses as
// the tunnel).
func DecodeFrame(link LinkType, data []byte, p *Packet) {
	p.Link = link
	if p.WireLen > len(data) {
		p.Truncated = true
	}
	decodeLink(link, data, p, 0)
}

func decodeLink(link LinkType, data []byte, p *Packet, depth int) {
	switch link {
	case LinkEthernet:
		decodeEthernet(data, p, depth)
	case LinkSLL:
		if len(data) < 16 {
			p.Issue = "Linux cooked (SLL) header cut short"
			return
		}
		decodeCookedProto(binary.BigEndian.Uint16(data[14:]), data[16:], p, depth)
	case LinkSLL2:
		if len(data) < 20 {
			p.Issue = "Linux cooked (SLL2) header cut short"
			return
		}
		decodeCookedProto(binary.BigEndian.Uint16(data[0:]), data[20:], p, depth)
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			p.Issue = "loopback header cut short"
			return
		}
		af := binary.LittleEndian.Uint32(data)
		if link == LinkLoop || af > 0xffff {
			af = binary.BigEndian.Uint32(data)
		}
		data = data[4:]
		switch af {
		case 2:
			decodeIPv4(data, p, depth)
		case 10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD/BSD/OS, FreeBSD/DragonFly, Darwin
			decodeIPv6(data, p, depth)
		default:
			p.NotIP, p.What, p.Code = true, "address family", af
		}
	case LinkRaw, 12, 14, LinkIPv4, LinkIPv6:
		decodeIPByVersion(data, p, depth, "raw IP frame")
	case LinkPPP, LinkPPPHDLC:
		if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
			data = data[2:] // HDLC address and control
		} else if link == LinkPPPHDLC && len(data) >= 1 && (data[0] == 0x0f || data[0] == 0x8f) {
			decodeCiscoHDLC(data, p, depth) // some captures of type 50 are Cisco HDLC
			return
		}
		decodePPP(data, p, depth)
	case LinkCHDLC:
		decodeCiscoHDLC(data, p, depth)
	case LinkNFLOG:
		decodeNFLOG(data, p, depth)
	case LinkIEEE80211:
		decode80211(data, p, depth, false)
	case LinkRadiotap:
		decodeRadiotap(data, p, depth)
	case LinkPPI:
		if depth++; depth > maxEncap {
			p.Issue = issueTooDeep
			return
		}
		if len(data) < 8 {
			p.Issue = "PPI header cut short"
			return
		}
		n := int(binary.LittleEndian.Uint16(data[2:]))
		inner := LinkType(binary.LittleEndian.Uint32(data[4:]))
		if n < 8 || n > len(data) {
			p.Issue = "PPI header length beyond the frame"
			return
		}
		if !Supported(inner) {
			p.NotIP, p.What, p.Code = true, "PPI link type", uint32(inner)
			return
		}
		decodeLink(inner, data[n:], p, depth)
	default:
		p.Issue = "unsupported link type " + link.String()
	}
}

// decodeIPByVersion decodes an IPv4 or IPv6 packet chosen by its version
// nibble (raw IP links, MPLS, GTP-U, NFLOG).
func decodeIPByVersion(data []byte, p *Packet, depth int, what string) {
	if len(data) == 0 {
		p.Issue = "empty " + what
		return
	}
	switch data[0] >> 4 {
	case 4:
		decodeIPv4(data, p, depth)
	case 6:
		decodeIPv6(data, p, depth)
	default:
		p.Issue = what + " with IP version " + itoa(int(data[0]>>4))
	}
}

// decodeCookedProto follows the protocol field of a Linux cooked header: an
// EtherType, or below 0x0600 one of Linux's ETH_P_ pseudo-protocols.
func decodeCookedProto(proto uint16, data []byte, p *Packet, depth int) {
	if proto >= 0x0600 {
		decodeEtherType(proto, data, p, depth)
		return
	}
	switch proto {
	case 0x0004: // ETH_P_802_2: an LLC header follows
		decodeLLC(data, p, depth)
	default:
		p.NotIP, p.What, p.Code = true, "Linux cooked protocol", uint32(proto)
	}
}

func decodeEthernet(data []byte, p *Packet, depth int) {
	if len(data) < 14 {
		p.Issue = "Ethernet header cut short"
		return
	}
	decodeEtherType(binary.BigEndian.Uint16(data[12:]), data[14:], p, depth)
}

// decodeEtherType decodes the payload of an EtherType t: IP, or the
// encapsulations that carry it, peeled in a loop where they nest directly.
func decodeEtherType(t uint16, data []byte, p *Packet, depth int) {
	for {
		switch t {
		case 0x0800:
			decodeIPv4(data, p, depth)
			return
		case 0x86dd:
			decodeIPv6(data, p, depth)
			return
		case 0x8100, 0x88a8, 0x9100, 0x9200: // 802.1Q, 802.1ad, old QinQ
			if depth++; depth > maxEncap {
				p.Issue = issueTooDeep
				return
			}
			if len(data) < 4 {
				p.Issue = "VLAN tag cut short"
				return
			}
			kind := Layer8021Q
			if t != 0x8100 {
				kind = Layer8021AD
			}
			p.Path.add(kind, true, uint32(binary.BigEndian.Uint16(data)&0x0fff))
			t, data = binary.BigEndian.Uint16(data[2:]), data[4:]
			if t < 0x0600 { // 802.3 length after the tag
				decodeLLC(data[:min(int(t), len(data))], p, depth)
				return
			}
		case 0x8847, 0x8848: // MPLS unicast, multicast
			decodeMPLS(data, p, depth)
			return
		case 0x8864:
			decodePPPoE(data, p, depth)
			return
		case 0x6558: // transparent Ethernet bridging
			if depth++; depth > maxEncap {
				p.Issue = issueTooDeep
				return
			}
			decodeEthernet(data, p, depth)
			return
		default:
			if t < 0x0600 { // 802.3: a length, then LLC
				decodeLLC(data[:min(int(t), len(data))], p, depth)
				return
			}
			p.NotIP = true
			p.What, p.Code = etherTypeName(t)
			return
		}
	}
}

// etherTypeNames are the EtherTypes that are not followed further, named
// as tshark shows them.
var etherTypeNames = map[uint16]string{
	0x0806: "ARP",
	0x8035: "RARP",
	0x88cc: "LLDP",
	0x8137: "IPX",
	0x8138: "IPX",
	0x809b: "AppleTalk",
	0x80f3: "AppleTalk",
	0x888e: "EAPOL",
	0x8809: "slow protocols (LACP)",
	0x88f7: "PTP",
	0x8863: "PPPoE discovery",
	0x8906: "FCoE",
	0x8914: "FCoE",
	0x88e5: "MACsec",
	0x8902: "CFM",
	0x88e7: "PBB (802.1ah)",
	0x893a: "IEEE 1905",
	0x9000: "Ethernet loopback (CTP)",
	0x0842: "Wake-on-LAN",
	0x8892: "PROFINET",
	0x88a4: "EtherCAT",
	0x22f3: "TRILL",
	0x894f: "NSH",
}

// etherTypeName names an EtherType that is not followed further, or
// returns "EtherType" and the number.
func etherTypeName(t uint16) (string, uint32) {
	if n, ok := etherTypeNames[t]; ok {
		return n, 0
	}
	return "EtherType", uint32(t)
}

// decodeLLC decodes an 802.2 LLC header (802.3 frames, 802.11 data): SNAP
// with an EtherType is followed, the rest is named.
func decodeLLC(data []byte, p *Packet, depth int) {
	if len(data) >= 2 && data[0] == 0xff && data[1] == 0xff {
		p.NotIP, p.What = true, "IPX"
		return
	}
	if len(data) < 3 {
		p.Issue = "LLC header cut short"
		return
	}
	switch dsap := data[0]; dsap {
	case 0xaa: // SNAP
		if len(data) < 8 {
			p.Issue = "SNAP header cut short"
			return
		}
		oui := uint32(data[3])<<16 | uint32(data[4])<<8 | uint32(data[5])
		pid := binary.BigEndian.Uint16(data[6:])
		switch {
		case oui == 0 || oui == 0x0000f8: // RFC 1042, 802.1H bridge tunnel
			decodeEtherType(pid, data[8:], p, depth)
		case oui == 0x00000c && pid == 0x2000:
			p.NotIP, p.What = true, "CDP"
		default:
			p.NotIP, p.What, p.Code = true, "SNAP OUI", oui
		}
	default:
		p.NotIP = true
		if p.What = llcSAPNames[dsap]; p.What == "" {
			p.What, p.Code = "LLC SAP", uint32(dsap)
		}
	}
}

// llcSAPNames name the LLC service access points that are not followed.
var llcSAPNames = map[byte]string{0x42: "STP", 0xe0: "IPX", 0xf0: "NetBIOS", 0xfe: "OSI (IS-IS, ES-IS)"}

// decodeMPLS walks an MPLS label stack to its bottom and decodes the payload
// by its first nibble, as Wireshark does: 4 and 6 are IP, 1 a pseudowire
// associated channel, 0 an Ethernet pseudowire with a control word (RFC
// 4385), anything else an Ethernet pseudowire without one.
func decodeMPLS(data []byte, p *Packet, depth int) {
	for {
		if depth++; depth > maxEncap {
			p.Issue = issueTooDeep
			return
		}
		if len(data) < 4 {
			p.Issue = "MPLS label cut short"
			return
		}
		bottom := data[2]&1 != 0
		p.Path.add(LayerMPLS, true, binary.BigEndian.Uint32(data)>>12)
		data = data[4:]
		if bottom {
			break
		}
	}
	if len(data) == 0 {
		p.Issue = "MPLS packet without payload"
		return
	}
	switch data[0] >> 4 {
	case 4:
		decodeIPv4(data, p, depth)
	case 6:
		decodeIPv6(data, p, depth)
	case 1:
		p.NotIP, p.What = true, "MPLS PW associated channel"
	case 0:
		// A control word, or a destination MAC starting with a zero nibble:
		// take the reading whose EtherType makes sense.
		if len(data) >= 18 && plausibleEtherType(binary.BigEndian.Uint16(data[16:])) ||
			len(data) >= 14 && !plausibleEtherType(binary.BigEndian.Uint16(data[12:])) {
			decodeEthernet(data[4:], p, depth)
			return
		}
		decodeEthernet(data, p, depth)
	default:
		decodeEthernet(data, p, depth)
	}
}

func plausibleEtherType(t uint16) bool {
	switch t {
	case 0x0800, 0x86dd, 0x0806, 0x8100, 0x88a8, 0x8847, 0x8864:
		return true
	}
	return false
}

// decodePPPoE decodes a PPPoE session header and the PPP frame in it.
func decodePPPoE(data []byte, p *Packet, depth int) {
	if depth++; depth > maxEncap {
		p.Issue = issueTooDeep
		return
	}
	if len(data) < 6 {
		p.Issue = "PPPoE header cut short"
		return
	}
	if data[0] != 0x11 || data[1] != 0 {
		p.Issue = "PPPoE session header with version/type or code not 1/1/0"
		return
	}
	p.Path.add(LayerPPPoE, true, uint32(binary.BigEndian.Uint16(data[2:])))
	n := int(binary.BigEndian.Uint16(data[4:]))
	data = data[6:]
	if n < len(data) {
		data = data[:n] // Ethernet padding
	}
	decodePPP(data, p, depth)
}

// decodePPP decodes a PPP frame from its protocol field (1 byte when
// compressed: an odd first byte).
func decodePPP(data []byte, p *Packet, depth int) {
	if len(data) == 0 {
		p.Issue = "PPP protocol field cut short"
		return
	}
	var proto uint16
	if data[0]&1 != 0 {
		proto, data = uint16(data[0]), data[1:]
	} else {
		if len(data) < 2 {
			p.Issue = "PPP protocol field cut short"
			return
		}
		proto, data = binary.BigEndian.Uint16(data), data[2:]
	}
	switch proto {
	case 0x0021:
		decodeIPv4(data, p, depth)
	case 0x0057:
		decodeIPv6(data, p, depth)
	case 0x0281, 0x0283:
		decodeMPLS(data, p, depth)
	default:
		p.NotIP = true
		if p.What = pppProtoNames[proto]; p.What == "" {
			p.What, p.Code = "PPP protocol", uint32(proto)
		}
	}
}

// pppProtoNames name the PPP protocols that are not followed.
var pppProtoNames = map[uint16]string{0xc021: "PPP LCP", 0x8021: "PPP IPCP", 0x8057: "PPP IPV6CP", 0xc023: "PPP PAP",
	0xc223: "PPP CHAP", 0x80fd: "PPP CCP"}

// decodeCiscoHDLC decodes Cisco HDLC: address, control, EtherType.
func decodeCiscoHDLC(data []byte, p *Packet, depth int) {
	if len(data) < 4 {
		p.Issue = "Cisco HDLC header cut short"
		return
	}
	switch t := binary.BigEndian.Uint16(data[2:]); t {
	case 0x8035:
		p.NotIP, p.What = true, "Cisco SLARP"
	case 0x2000:
		p.NotIP, p.What = true, "CDP"
	default:
		decodeEtherType(t, data[4:], p, depth)
	}
}

// decodeNFLOG decodes a Linux NFLOG record: a 4-byte header (address
// family, version, resource ID), then TLVs whose length and type are in the
// capturing host's byte order; the packet is the NFULA_PAYLOAD TLV (type 9).
func decodeNFLOG(data []byte, p *Packet, depth int) {
	if len(data) < 4 {
		p.Issue = "NFLOG header cut short"
		return
	}
	family := data[0]
	b := data[4:]
	var order binary.ByteOrder = binary.LittleEndian
	if len(b) >= 4 {
		if l := int(binary.LittleEndian.Uint16(b)); l < 4 || l > len(b) {
			if l := int(binary.BigEndian.Uint16(b)); l >= 4 && l <= len(b) {
				order = binary.BigEndian
			}
		}
	}
	for len(b) >= 4 {
		l := int(order.Uint16(b))
		typ := order.Uint16(b[2:]) & 0x7fff
		if l < 4 {
			p.Issue = "NFLOG TLV length " + itoa(l) + " < 4"
			return
		}
		if typ == 9 { // NFULA_PAYLOAD
			v := b[4:min(l, len(b))]
			switch family {
			case 2:
				decodeIPv4(v, p, depth)
			case 10:
				decodeIPv6(v, p, depth)
			default:
				decodeIPByVersion(v, p, depth, "NFLOG payload")
			}
			return
		}
		adv := (l + 3) &^ 3
		if adv > len(b) {
			break
		}
		b = b[adv:]
	}
	p.NotIP, p.What = true, "NFLOG record without a packet"
}

// decodeRadiotap skips a radiotap header to the 802.11 frame after it,
// noting the flags that change the frame's layout (data padding).
func decodeRadiotap(data []byte, p *Packet, depth int) {
	if len(data) < 8 {
		p.Issue = "radiotap header cut short"
		return
	}
	n := int(binary.LittleEndian.Uint16(data[2:]))
	if n < 8 || n > len(data) {
		p.Issue = "radiotap header length beyond the frame"
		return
	}
	hdr := data[:n]
	present := binary.LittleEndian.Uint32(hdr[4:])
	off := 8
	for w := present; w&(1<<31) != 0 && off+4 <= n; off += 4 { // extended bitmaps
		w = binary.LittleEndian.Uint32(hdr[off:])
	}
	pad := false
	if present&2 != 0 { // Flags field; TSFT (8 bytes, 8-aligned) may precede it
		if present&1 != 0 {
			off = (off+7)&^7 + 8
		}
		if off < n {
			pad = hdr[off]&0x20 != 0
		}
	}
	decode80211(data[n:], p, depth, pad)
}

// decode80211 decodes an IEEE 802.11 data frame down to its LLC header.
// Management, control and protected (encrypted) frames are named, not
// followed. pad is radiotap's "data padding" flag: the header is padded to
// a multiple of 4 bytes.
func decode80211(data []byte, p *Packet, depth int, pad bool) {
	if len(data) < 2 {
		p.Issue = "802.11 header cut short"
		return
	}
	fc0, fc1 := data[0], data[1]
	sub := fc0 >> 4
	switch (fc0 >> 2) & 3 {
	case 0:
		p.NotIP, p.What = true, "802.11 management"
		return
	case 1:
		p.NotIP, p.What = true, "802.11 control"
		return
	case 3:
		p.NotIP, p.What = true, "802.11 extension"
		return
	}
	if sub&0x4 != 0 {
		p.NotIP, p.What = true, "802.11 null data"
		return
	}
	n := 24
	if fc1&3 == 3 { // to and from DS: a fourth address
		n += 6
	}
	if sub&0x8 != 0 { // QoS data: QoS control, and HT control when Order is set
		n += 2
		if fc1&0x80 != 0 {
			n += 4
		}
	}
	if pad {
		n = (n + 3) &^ 3
	}
	if fc1&0x40 != 0 {
		p.NotIP, p.What = true, "802.11 protected (encrypted) data"
		return
	}
	if len(data) < n {
		p.Issue = "802.11 header cut short"
		return
	}
	decodeLLC(data[n:], p, depth)
}

func decodeIPv4(data []byte, p *Packet, depth int) {
	if len(data) < 20 {
		p.Issue = "IPv4 header cut short"
		return
	}
	if data[0]>>4 != 4 {
		p.Issue = "IPv4 header with version " + itoa(int(data[0]>>4))
		return
	}
	ihl := int(data[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(data[2:]))
	if ihl < 20 {
		p.Issue = "IPv4 header length " + itoa(ihl) + " < 20"
		return
	}
	if total < ihl {
		if total == 0 && p.WireLen > 0 {
			// TSO: the length field is 0 on captures taken before segmentation.
			total = len(data)
		} else {
			p.Issue = "IPv4 total length " + itoa(total) + " shorter than its header"
			return
		}
	}
	if len(data) < ihl {
		p.Issue = "IPv4 header cut short by the snapshot length"
		p.Truncated = true
		return
	}
	if total < len(data) {
		data = data[:total] // Ethernet padding
	}
	src := netip.AddrFrom4([4]byte(data[12:16]))
	dst := netip.AddrFrom4([4]byte(data[16:20]))
	p.IPv6 = false
	p.IPID = binary.BigEndian.Uint16(data[4:])
	p.Src, p.Dst = netip.AddrPortFrom(src, 0), netip.AddrPortFrom(dst, 0)
	proto := data[9]
	fragOff := binary.BigEndian.Uint16(data[6:])
	payload := data[ihl:]
	claimed := total - ihl
	if fragOff&0x3fff != 0 { // MF set or offset != 0
		p.Fragment = true
		setFragInfo(p, fragKeyV4(data), proto, int(fragOff&0x1fff)*8, fragOff&0x2000 != 0, payload, claimed)
		return
	}
	decodeL4(proto, payload, claimed, p, depth)
}

func decodeIPv6(data []byte, p *Packet, depth int) {
	if len(data) < 40 {
		p.Issue = "IPv6 header cut short"
		if p.Truncated {
			p.Issue += " by the snapshot length"
		}
		return
	}
	if data[0]>>4 != 6 {
		p.Issue = "IPv6 header with version " + itoa(int(data[0]>>4))
		return
	}
	plen := int(binary.BigEndian.Uint16(data[4:]))
	next := data[6]
	p.IPv6, p.IPID = true, 0
	p.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(data[8:24])), 0)
	p.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(data[24:40])), 0)
	hdr := data[:40]
	data = data[40:]
	if plen == 0 {
		plen = len(data) // jumbogram or TSO
	}
	if plen < len(data) {
		data = data[:plen]
	}
	claimed := plen
	// Walk the extension-header chain. Each header is at least 8 bytes, so the
	// loop is bounded by the payload length.
	for {
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination, mobility, HIP, shim6
			if len(data) < 8 {
				p.Issue = "IPv6 extension header cut short"
				return
			}
			n := (int(data[1]) + 1) * 8
			if n > len(data) {
				p.Issue = "IPv6 extension header longer than the packet"
				return
			}
			next, data, claimed = data[0], data[n:], claimed-n
		case 51: // AH
			if len(data) < 8 {
				p.Issue = "IPv6 AH header cut short"
				return
			}
			n := (int(data[1]) + 2) * 4
			if n > len(data) {
				p.Issue = "IPv6 AH header longer than the packet"
				return
			}
			next, data, claimed = data[0], data[n:], claimed-n
		case 44: // fragment
			if len(data) < 8 {
				p.Issue = "IPv6 fragment header cut short"
				return
			}
			off := binary.BigEndian.Uint16(data[2:])
			if off&0xfff9 == 0 { // atomic fragment: offset 0, M clear
				next, data, claimed = data[0], data[8:], claimed-8
				continue
			}
			p.Fragment = true
			setFragInfo(p, fragKeyV6(hdr, data[4:8]), data[0], int(off&0xfff8), off&1 != 0, data[8:], claimed-8)
			return
		case 59: // no next header
			p.What = "IPv6 no next header"
			return
		default:
			decodeL4(next, data, claimed, p, depth)
			return
		}
	}
}

// decodeL4 decodes the transport header. payload holds the captured bytes of
// the IP payload; claimed is its length according to the IP header.
func decodeL4(proto byte, payload []byte, claimed int, p *Packet, depth int) {
	switch proto {
	case 6:
		decodeTCP(payload, claimed, p)
	case 17:
		decodeUDP(payload, claimed, p, depth)
	case 4, 41, 47, 97, 137: // IPv4-in-IP, IPv6-in-IP, GRE, EtherIP, MPLS-in-IP
		if depth++; depth > maxEncap {
			p.Issue = issueTooDeep
			return
		}
		p.Path.addOuter(p.IPv6, p.Src.Addr(), p.Dst.Addr())
		switch proto {
		case 4:
			if p.IPv6 {
				p.Path.add(Layer4in6, false, 0)
			} else {
				p.Path.add(Layer4in4, false, 0)
			}
			decodeIPv4(payload, p, depth)
		case 41:
			if p.IPv6 {
				p.Path.add(Layer6in6, false, 0)
			} else {
				p.Path.add(Layer6in4, false, 0)
			}
			decodeIPv6(payload, p, depth)
		case 47:
			decodeGRE(payload, p, depth, LayerGRE)
		case 97:
			if len(payload) < 2 {
				p.Issue = "EtherIP header cut short"
				return
			}
			p.Path.add(LayerEtherIP, false, 0)
			decodeEthernet(payload[2:], p, depth)
		case 137:
			decodeMPLS(payload, p, depth-1)
		}
	default:
		p.What, p.Code = ipProtoName(proto)
	}
}

// ipProtoName names the IP protocols that are not followed further, or
// returns "IP protocol" and the number.
func ipProtoName(proto byte) (string, uint32) {
	switch proto {
	case 1:
		return "ICMP", 0
	case 2:
		return "IGMP", 0
	case 58:
		return "ICMPv6", 0
	case 50:
		return "ESP", 0
	case 51:
		return "AH", 0
	case 89:
		return "OSPF", 0
	case 103:
		return "PIM", 0
	case 112:
		return "VRRP", 0
	case 132:
		return "SCTP", 0
	case 33:
		return "DCCP", 0
	case 115:
		return "L2TPv3", 0
	}
	return "IP protocol", uint32(proto)
}

// GRE header flags (RFC 2784, RFC 2890, RFC 2637 for version 1).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greAck      = 0x0080 // version 1 (PPTP)
)

// decodeGRE decodes a GRE header and what it carries: an EtherType (IP,
// transparent Ethernet bridging, MPLS, ...), ERSPAN type I/II (0x88BE) or
// III (0x22EB) mirroring an Ethernet frame, or PPP (PPTP, version 1).
func decodeGRE(b []byte, p *Packet, depth int, kind LayerKind) {
	if len(b) < 4 {
		p.Issue = "GRE header cut short"
		return
	}
	flags := binary.BigEndian.Uint16(b)
	proto := binary.BigEndian.Uint16(b[2:])
	ver := flags & 7
	if ver > 1 {
		p.What, p.Code = "GRE version", uint32(ver)
		return
	}
	if flags&greRouting != 0 {
		p.What = "GRE with source routing (RFC 1701)"
		return
	}
	n := 4
	if flags&greChecksum != 0 {
		n += 4 // checksum and reserved
	}
	if flags&greKey != 0 {
		n += 4
	}
	seq := flags&greSeq != 0
	if seq {
		n += 4
	}
	if ver == 1 && flags&greAck != 0 {
		n += 4
	}
	if len(b) < n {
		p.Issue = "GRE header cut short"
		return
	}
	if flags&greKey != 0 {
		k := 4
		if flags&greChecksum != 0 {
			k += 4
		}
		p.Path.add(kind, true, binary.BigEndian.Uint32(b[k:]))
	} else {
		p.Path.add(kind, false, 0)
	}
	b = b[n:]
	switch proto {
	case 0x88be: // ERSPAN type II, or type I when there is no sequence number
		if seq {
			if len(b) < 8 {
				p.Issue = "ERSPAN type II header cut short"
				return
			}
			p.Path.add(LayerERSPAN, true, uint32(binary.BigEndian.Uint16(b[2:])&0x3ff))
			b = b[8:]
		} else {
			p.Path.add(LayerERSPAN, false, 0)
		}
		decodeEthernet(b, p, depth)
	case 0x22eb: // ERSPAN type III, with an optional 8-byte platform subheader
		if len(b) < 12 || b[11]&1 != 0 && len(b) < 20 {
			p.Issue = "ERSPAN type III header cut short"
			return
		}
		p.Path.add(LayerERSPAN3, true, uint32(binary.BigEndian.Uint16(b[2:])&0x3ff))
		if b[11]&1 != 0 {
			b = b[20:]
		} else {
			b = b[12:]
		}
		decodeEthernet(b, p, depth)
	case 0x880b: // PPP (PPTP)
		if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 {
			b = b[2:]
		}
		decodePPP(b, p, depth)
	default:
		decodeEtherType(proto, b, p, depth)
		if p.What == "EtherType" {
			p.NotIP, p.What = false, "GRE protocol"
		}
	}
}

// UDP ports of the tunnels decoded inside UDP (IANA assignments).
const (
	portVXLAN    = 4789
	portVXLANGPE = 4790
	portGeneve   = 6081
	portGTPU     = 2152
	portGREUDP   = 4754
	portTeredo   = 3544
	portAYIYA    = 5072
)

// decodeUDPTunnel decodes b, the payload of a UDP datagram to or from a
// tunnel port, as that tunnel and reports whether it did: a payload that
// does not parse as the tunnel stays an ordinary datagram. claimed is the
// payload length the UDP header gives.
func decodeUDPTunnel(port uint16, b []byte, claimed int, p *Packet, depth int) bool {
	var hdr int
	var name string
	switch port {
	case portVXLAN:
		hdr, name = 8, "VXLAN"
	case portVXLANGPE:
		hdr, name = 8, "VXLAN-GPE"
	case portGeneve:
		hdr, name = 8, "Geneve"
	case portGTPU:
		hdr, name = 8, "GTP-U"
	case portGREUDP:
		hdr, name = 4, "GRE-in-UDP"
	case portTeredo:
		hdr, name = 8, "Teredo"
	case portAYIYA:
		hdr, name = 8, "AYIYA"
	default:
		return false
	}
	if claimed < hdr {
		return false
	}
	if len(b) < hdr {
		p.Truncated = true
		p.Issue = name + " header cut short by the snapshot length"
		return true
	}
	if depth++; depth > maxEncap {
		p.Issue = issueTooDeep
		return true
	}
	switch port {
	case portVXLAN:
		if b[0]&0x08 == 0 { // the I flag: a valid VNI
			return false
		}
		p.Path.addOuter(p.IPv6, p.Src.Addr(), p.Dst.Addr())
		p.Path.add(LayerVXLAN, true, binary.BigEndian.Uint32(b[4:])>>8)
		decodeEthernet(b[8:], p, depth)
	case portVXLANGPE:
		if b[0]&0x08 == 0 || b[0]>>4&3 != 0 {
			return false
		}
		p.Path.addOuter(p.IPv6, p.Src.Addr(), p.Dst.Addr())
		p.Path.add(LayerVXLANGPE, true, binary.BigEndian.Uint32(b[4:])>>8)
		next := byte(3) // Ethernet when the P flag is clear
		if b[0]&0x04 != 0 {
			next = b[3]
		}
		switch next {
		case 1:
			decodeIPv4(b[8:], p, depth)
		case 2:
			decodeIPv6(b[8:], p, depth)
		case 3:
			decodeEthernet(b[8:], p, depth)
		case 5:
			decodeMPLS(b[8:], p, depth-1)
		default:
			p.What, p.Code = "VXLAN-GPE next protocol", uint32(next)
		}
	case portGeneve:
		if b[0]>>6 != 0 {
			return false
		}
		n := 8 + int(b[0]&0x3f)*4
		if claimed < n {
			return false
		}
		if len(b) < n {
			p.Truncated = true
			p.Issue = "Geneve options cut short by the snapshot length"
			return true
		}
		p.Path.addOuter(p.IPv6, p.Src.Addr(), p.Dst.Addr())
		p.Path.add(LayerGeneve, true, binary.BigEndian.Uint32(b[4:])>>8)
		decodeEtherType(binary.BigEndian.Uint16(b[2:]), b[n:], p, depth)
		if p.What == "EtherType" {
			p.NotIP, p.What = false, "Geneve protocol"
		}
	case portGTPU:
		// Version 1, protocol type GTP, message type G-PDU: a user packet.
		// Other messages (echo, error indication, end marker) stay UDP.
		if b[0]>>5 != 1 || b[0]&0x10 == 0 || b[1] != 0xff {
			return false
		}
		p.Path.addOuter(p.IPv6, p.Src.Addr(), p.Dst.Addr())
		p.Path.add(LayerGTPU, true, binary.BigEndian.Uint32(b[4:]))
		n := 8
		if b[0]&0x07 != 0 { // E, S or PN: sequence number, N-PDU, next extension type
			if n += 4; len(b) < n {
				p.Issue = "GTP-U header cut short"
				return true
			}
			next := b[n-1]
			for i := 0; next != 0; i++ {
				if i == maxEncap || len(b) < n+1 {
					p.Issue = "GTP-U extension headers cut short"
					return true
				}
				l := int(b[n]) * 4
				if l == 0 || len(b) < n+l {
					p.Issue = "GTP-U extension header length beyond the packet"
					return true
				}
				next = b[n+l-1]
				n += l
			}
		}
		if len(b) == n {
			p.What = "GTP-U without a user packet"
			return true
		}
		if v := b[n] >> 4; v != 4 && v != 6 {
			p.What, p.Code = "GTP-U packet with IP version", uint32(v)
			return true
		}
		decodeIPByVersion(b[n:], p, depth, "GTP-U packet")
	case portGREUDP:
		// RFC 8086: version 0, no routing or reserved flags, and (to keep
		// other traffic on the port out) a payload type that is followed.
		if f := binary.BigEndian.Uint16(b); f&0x4fff != 0 || !plausibleEtherType(binary.BigEndian.Uint16(b[2:])) && binary.BigEndian.Uint16(b[2:]) != 0x6558 {
			return false
		}
		p.Path.addOuter(p.IPv6, p.Src.Addr(), p.Dst.Addr())
		decodeGRE(b, p, depth, LayerGREUDP)
	case portTeredo:
		// An IPv6 packet, after an optional authentication header (0x0001,
		// client ID and authentication value lengths, nonce, confirmation)
		// and an optional origin indication (0x0000, port, address).
		n := 0
		if b[0] == 0 && b[1] == 1 {
			n = 4 + int(b[2]) + int(b[3]) + 9
		}
		if len(b) >= n+8 && b[n] == 0 && b[n+1] == 0 {
			n += 8
		}
		if claimed < n+40 || len(b) <= n || b[n]>>4 != 6 {
			return false // Teredo's other messages, or not Teredo
		}
		p.Path.addOuter(p.IPv6, p.Src.Addr(), p.Dst.Addr())
		p.Path.add(LayerTeredo, false, 0)
		decodeIPv6(b[n:], p, depth)
	case portAYIYA:
		// Identity of 2^IDLen bytes and a signature of 4*SigLen after the
		// 8-byte header; opcode 1 forwards the packet of the next header.
		n := 8 + 1<<(b[0]>>4) + 4*int(b[1]>>4)
		if b[2]&0x0f != 1 || claimed <= n || (b[3] != 4 && b[3] != 41) {
			return false // not a forwarded IPv4 or IPv6 packet
		}
		if len(b) <= n {
			p.Truncated = true
			p.Issue = "AYIYA header cut short by the snapshot length"
			return true
		}
		p.Path.addOuter(p.IPv6, p.Src.Addr(), p.Dst.Addr())
		p.Path.add(LayerAYIYA, false, 0)
		if b[3] == 4 {
			decodeIPv4(b[n:], p, depth)
		} else {
			decodeIPv6(b[n:], p, depth)
		}
	}
	return true
}

func decodeTCP(b []byte, claimed int, p *Packet) {
	if len(b) < 20 {
		if claimed >= 20 {
			p.Truncated = true
			p.Issue = "TCP header cut short by the snapshot length"
		} else {
			p.Issue = "TCP header cut short"
		}
		return
	}
	off := int(b[12]>>4) * 4
	if off < 20 {
		p.Issue = "TCP data offset " + itoa(off) + " < 20"
		return
	}
	if claimed < off {
		p.Issue = "TCP header longer than the IP payload"
		return
	}
	p.Proto = ProtoTCP
	p.Src = netip.AddrPortFrom(p.Src.Addr(), binary.BigEndian.Uint16(b[0:]))
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), binary.BigEndian.Uint16(b[2:]))
	p.Seq = binary.BigEndian.Uint32(b[4:])
	p.Ack = binary.BigEndian.Uint32(b[8:])
	p.Flags = TCPFlags(b[13]) | TCPFlags(b[12]&1)<<8
	p.Window = binary.BigEndian.Uint16(b[14:])
	p.PayloadLen = claimed - off
	if len(b) < off {
		p.Truncated = true
		parseTCPOptions(b[20:], &p.Opts)
		p.Payload = nil
		return
	}
	parseTCPOptions(b[20:off], &p.Opts)
	p.Payload = b[off:]
	if len(p.Payload) > p.PayloadLen {
		p.Payload = p.Payload[:p.PayloadLen]
	}
	if len(p.Payload) < p.PayloadLen {
		p.Truncated = true
	}
}

func parseTCPOptions(b []byte, o *TCPOptions) {
	for len(b) > 0 {
		kind := b[0]
		if kind == 0 {
			return
		}
		if kind == 1 {
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return
		}
		l := int(b[1])
		if l < 2 || l > len(b) {
			return
		}
		v := b[2:l]
		switch kind {
		case 2:
			if len(v) == 2 {
				o.MSS, o.HasMSS = binary.BigEndian.Uint16(v), true
			}
		case 3:
			if len(v) == 1 {
				o.WScale, o.HasWScale = v[0], true
			}
		case 4:
			o.SACKPerm = true
		case 5:
			for i := 0; i+8 <= len(v) && o.NSACK < len(o.SACK); i += 8 {
				o.SACK[o.NSACK] = [2]uint32{binary.BigEndian.Uint32(v[i:]), binary.BigEndian.Uint32(v[i+4:])}
				o.NSACK++
			}
		case 8:
			if len(v) == 8 {
				o.HasTS, o.TSVal, o.TSEcr = true, binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:])
			}
		}
		b = b[l:]
	}
}

func decodeUDP(b []byte, claimed int, p *Packet, depth int) {
	if len(b) < 8 {
		if claimed >= 8 {
			p.Truncated = true
			p.Issue = "UDP header cut short by the snapshot length"
		} else {
			p.Issue = "UDP header cut short"
		}
		return
	}
	ulen := int(binary.BigEndian.Uint16(b[4:]))
	if ulen < 8 || ulen > claimed {
		if ulen == 0 && claimed > 8 { // jumbogram / TSO: use the IP length
			ulen = claimed
		} else if ulen < 8 {
			p.Issue = "UDP length " + itoa(ulen) + " < 8"
			return
		} else {
			ulen = claimed // length field beyond the IP payload: trust IP
		}
	}
	sport, dport := binary.BigEndian.Uint16(b[0:]), binary.BigEndian.Uint16(b[2:])
	if tunnelPort(dport) || tunnelPort(sport) {
		payload := b[8:]
		if len(payload) > ulen-8 {
			payload = payload[:ulen-8]
		}
		port := dport
		if !tunnelPort(dport) {
			port = sport
		}
		if decodeUDPTunnel(port, payload, ulen-8, p, depth) {
			return
		}
	}
	p.Proto = ProtoUDP
	p.Src = netip.AddrPortFrom(p.Src.Addr(), sport)
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), dport)
	p.PayloadLen = ulen - 8
	p.Payload = b[8:]
	if len(p.Payload) > p.PayloadLen {
		p.Payload = p.Payload[:p.PayloadLen]
	}
	if len(p.Payload) < p.PayloadLen {
		p.Truncated = true
	}
}

// tunnelPort reports whether UDP port n is one whose datagrams are decoded
// as a tunnel: one comparison for the common case of ports above them.
func tunnelPort(n uint16) bool {
	if n > portGeneve || n < portGTPU {
		return false
	}
	return n == portVXLAN || n == portGeneve || n == portGTPU || n == portVXLANGPE || n == portGREUDP || n == portTeredo || n == portAYIYA
}
