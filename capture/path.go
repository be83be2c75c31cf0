package capture

import "net/netip"

// LayerKind is an encapsulation a packet can arrive in.
type LayerKind uint8

// Encapsulations recorded in a Path.
const (
	Layer8021Q    LayerKind = iota + 1 // ID: VLAN ID
	Layer8021AD                        // service tag (802.1ad, or 0x9100); ID: VLAN ID
	LayerMPLS                          // ID: label
	LayerPPPoE                         // ID: session
	LayerGRE                           // ID: key, when present
	LayerGREUDP                        // GRE in UDP (RFC 8086); ID: key, when present
	LayerERSPAN                        // type I or II; ID: session
	LayerERSPAN3                       // type III; ID: session
	Layer4in4                          // IPv4 in IPv4 (IP protocol 4)
	Layer6in4                          // IPv6 in IPv4 (41, sit)
	Layer4in6                          // IPv4 in IPv6
	Layer6in6                          // IPv6 in IPv6
	LayerEtherIP                       // Ethernet in IP (97)
	LayerVXLAN                         // ID: VNI
	LayerVXLANGPE                      // ID: VNI
	LayerGeneve                        // ID: VNI
	LayerGTPU                          // ID: TEID
	LayerTeredo                        // IPv6 in UDP (RFC 4380)
	LayerAYIYA                         // Anything In Anything, over UDP
	LayerIPv4                          // an outer IPv4 header carrying a tunnel; addresses in the Path
	LayerIPv6                          // an outer IPv6 header carrying a tunnel; addresses in the Path
)

var layerNames = [...]string{Layer8021Q: "VLAN", Layer8021AD: "802.1ad", LayerMPLS: "MPLS", LayerPPPoE: "PPPoE",
	LayerGRE: "GRE", LayerGREUDP: "GRE-in-UDP", LayerERSPAN: "ERSPAN", LayerERSPAN3: "ERSPAN III",
	Layer4in4: "IPv4-in-IPv4", Layer6in4: "IPv6-in-IPv4", Layer4in6: "IPv4-in-IPv6", Layer6in6: "IPv6-in-IPv6",
	LayerEtherIP: "EtherIP", LayerVXLAN: "VXLAN", LayerVXLANGPE: "VXLAN-GPE", LayerGeneve: "Geneve", LayerGTPU: "GTP-U",
	LayerTeredo: "Teredo", LayerAYIYA: "AYIYA", LayerIPv4: "IPv4", LayerIPv6: "IPv6"}

// String names the kind as the path shows it.
func (k LayerKind) String() string {
	if int(k) < len(layerNames) && layerNames[k] != "" {
		return layerNames[k]
	}
	return "layer-" + itoa(int(k))
}

// Layer is one encapsulation: its kind and, when HasID, its identifier
// (VLAN ID, label, session, key, VNI, TEID). An outer IP layer's
// addresses are kept by its Path (Path.Outer); its ID is their place there.
type Layer struct {
	Kind  LayerKind
	HasID bool
	ID    uint32
}

// String writes the layer as "VLAN 100", "GRE key 7", "VXLAN 42", "GTP-U
// TEID 0x1234"; an outer IP layer as "IPv4" (Path.String adds its addresses).
func (l Layer) String() string {
	s := l.Kind.String()
	if !l.HasID {
		return s
	}
	switch l.Kind {
	case LayerIPv4, LayerIPv6:
		return s
	case LayerGRE, LayerGREUDP:
		return s + " key " + itoa(int(l.ID))
	case LayerERSPAN, LayerERSPAN3:
		return s + " session " + itoa(int(l.ID))
	case LayerPPPoE:
		return s + " session " + hex(l.ID, 4)
	case LayerGTPU:
		return s + " TEID " + hex(l.ID, 8)
	}
	return s + " " + itoa(int(l.ID))
}

// MaxPath is how many layers a Path keeps (Len counts them all).
const MaxPath = 8

// pathAddrBytes is the room a Path has for outer addresses: 8 bytes an
// IPv4 pair, 32 an IPv6 pair. An outer IP layer that finds no room is kept
// without its addresses.
const pathAddrBytes = 64

// Path is the encapsulations a packet arrived in, outermost first. It is a
// value, filled while decoding without allocating; the zero Path is a
// packet that came bare.
//
// An outer IP layer's addresses are kept in canonical order (lower address
// first) with a bit saying which way this packet went, so that both
// directions of a stream through one tunnel have the Same path, and
// String still writes them as this packet's source→destination.
type Path struct {
	core pathCore
	rev  uint8 // bit i: outer IP layer i went from the higher address to the lower
}

type pathCore struct {
	n      uint8 // layers seen (possibly more than MaxPath)
	na     uint8 // bytes of addrs used
	layers [MaxPath]Layer
	addrs  [pathAddrBytes]byte
}

// Len returns the number of encapsulation layers (possibly more than MaxPath).
func (p *Path) Len() int { return int(p.core.n) }

// Layers returns the layers kept, outermost first.
func (p *Path) Layers() []Layer { return p.core.layers[:min(int(p.core.n), MaxPath)] }

// Same reports whether p and q are the same encapsulations between the
// same outer hosts, in either direction.
func (p *Path) Same(q *Path) bool { return p.core == q.core }

// Key returns p with its direction dropped: equal Keys are the Same path,
// so it can key a map.
func (p Path) Key() Path { p.rev = 0; return p }

// Outer returns the source and destination, as this packet went, of the
// outer IP layer at index i of Layers; ok is false when i is not an outer
// IP layer or its addresses did not fit.
func (p *Path) Outer(i int) (src, dst netip.Addr, ok bool) {
	ls := p.Layers()
	if i < 0 || i >= len(ls) || !ls[i].HasID || ls[i].Kind != LayerIPv4 && ls[i].Kind != LayerIPv6 {
		return
	}
	o := int(ls[i].ID)
	if ls[i].Kind == LayerIPv4 {
		src, dst = netip.AddrFrom4([4]byte(p.core.addrs[o:])), netip.AddrFrom4([4]byte(p.core.addrs[o+4:]))
	} else {
		src, dst = netip.AddrFrom16([16]byte(p.core.addrs[o:])), netip.AddrFrom16([16]byte(p.core.addrs[o+16:]))
	}
	if p.rev&(1<<i) != 0 {
		src, dst = dst, src
	}
	return src, dst, true
}

func (p *Path) add(k LayerKind, hasID bool, id uint32) {
	if int(p.core.n) < MaxPath {
		p.core.layers[p.core.n] = Layer{k, hasID, id}
	}
	if p.core.n < 255 {
		p.core.n++
	}
}

// addOuter adds the outer IP layer whose header put src and dst in p.
func (p *Path) addOuter(v6 bool, src, dst netip.Addr) {
	k, w := LayerIPv4, 4
	if v6 {
		k, w = LayerIPv6, 16
	}
	i, o := int(p.core.n), int(p.core.na)
	if i >= MaxPath || o+2*w > pathAddrBytes {
		p.add(k, false, 0)
		return
	}
	a, b := src.As16(), dst.As16()
	if src.Compare(dst) > 0 {
		a, b = b, a
		p.rev |= 1 << i
	}
	copy(p.core.addrs[o:], a[16-w:])
	copy(p.core.addrs[o+w:], b[16-w:])
	p.core.na += uint8(2 * w)
	p.add(k, true, uint32(o))
}

// String writes the path for a user, outermost first:
// "802.1ad 200 › VLAN 100 › PPPoE session 0x1234",
// "IPv4 10.0.0.1→10.0.0.2 › GRE key 7"; "" for a bare packet.
func (p *Path) String() string {
	s := ""
	for i, l := range p.Layers() {
		if i > 0 {
			s += " › "
		}
		s += l.String()
		if src, dst, ok := p.Outer(i); ok {
			s += " " + src.String() + "→" + dst.String()
		}
	}
	if int(p.core.n) > MaxPath {
		s += " › … (" + itoa(int(p.core.n)-MaxPath) + " more)"
	}
	return s
}
