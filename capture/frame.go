package capture

import (
	"encoding/binary"
	"net/netip"
)

// maxEncap bounds nested VLAN tags and IP-in-IP tunnels so that a hostile
// frame cannot make decoding loop.
const maxEncap = 8

// DecodeFrame decodes one frame of link type link into p, which must already
// hold Frame, Time, CapLen and WireLen. It never fails: a frame that cannot be
// decoded gets p.Issue (or p.NotIP) and Proto ProtoOther. It does not allocate;
// p.Payload aliases data.
func DecodeFrame(link LinkType, data []byte, p *Packet) {
	p.Link = link
	if p.WireLen > len(data) {
		p.Truncated = true
	}
	var ethType uint16
	switch link {
	case LinkEthernet:
		if len(data) < 14 {
			p.Issue = "Ethernet header cut short"
			return
		}
		ethType = binary.BigEndian.Uint16(data[12:])
		data = data[14:]
		for i := 0; isVLAN(ethType); i++ {
			if i == maxEncap {
				p.Issue = "too many nested VLAN tags"
				return
			}
			if len(data) < 4 {
				p.Issue = "VLAN tag cut short"
				return
			}
			ethType = binary.BigEndian.Uint16(data[2:])
			data = data[4:]
		}
	case LinkSLL:
		if len(data) < 16 {
			p.Issue = "Linux cooked (SLL) header cut short"
			return
		}
		ethType = binary.BigEndian.Uint16(data[14:])
		data = data[16:]
	case LinkSLL2:
		if len(data) < 20 {
			p.Issue = "Linux cooked (SLL2) header cut short"
			return
		}
		ethType = binary.BigEndian.Uint16(data[0:])
		data = data[20:]
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
			ethType = 0x0800
		case 10, 24, 28, 30:
			ethType = 0x86dd
		default:
			p.NotIP = true
			return
		}
	case LinkRaw, 12, 14:
		if len(data) == 0 {
			p.Issue = "empty raw IP frame"
			return
		}
		switch data[0] >> 4 {
		case 4:
			ethType = 0x0800
		case 6:
			ethType = 0x86dd
		default:
			p.Issue = "raw IP frame with IP version " + itoa(int(data[0]>>4))
			return
		}
	case LinkIPv4:
		ethType = 0x0800
	case LinkIPv6:
		ethType = 0x86dd
	default:
		p.Issue = "unsupported link type " + link.String()
		return
	}
	switch ethType {
	case 0x0800:
		decodeIPv4(data, p, 0)
	case 0x86dd:
		decodeIPv6(data, p, 0)
	default:
		p.NotIP = true
	}
}

func isVLAN(t uint16) bool { return t == 0x8100 || t == 0x88a8 || t == 0x9100 }

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
	p.IPv6 = true
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
		decodeUDP(payload, claimed, p)
	case 4, 41: // IPv4-in-IP, IPv6-in-IP tunnels
		if depth >= maxEncap {
			p.Issue = "too many nested IP tunnels"
			return
		}
		if proto == 4 {
			decodeIPv4(payload, p, depth+1)
		} else {
			decodeIPv6(payload, p, depth+1)
		}
	}
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

func decodeUDP(b []byte, claimed int, p *Packet) {
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
	p.Proto = ProtoUDP
	p.Src = netip.AddrPortFrom(p.Src.Addr(), binary.BigEndian.Uint16(b[0:]))
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), binary.BigEndian.Uint16(b[2:]))
	p.PayloadLen = ulen - 8
	p.Payload = b[8:]
	if len(p.Payload) > p.PayloadLen {
		p.Payload = p.Payload[:p.PayloadLen]
	}
	if len(p.Payload) < p.PayloadLen {
		p.Truncated = true
	}
}
