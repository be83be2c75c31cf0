package capture

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
)

var layerNames = [...]string{Layer8021Q: "VLAN", Layer8021AD: "802.1ad", LayerMPLS: "MPLS", LayerPPPoE: "PPPoE",
	LayerGRE: "GRE", LayerGREUDP: "GRE-in-UDP", LayerERSPAN: "ERSPAN", LayerERSPAN3: "ERSPAN III",
	Layer4in4: "IPv4-in-IPv4", Layer6in4: "IPv6-in-IPv4", Layer4in6: "IPv4-in-IPv6", Layer6in6: "IPv6-in-IPv6",
	LayerEtherIP: "EtherIP", LayerVXLAN: "VXLAN", LayerVXLANGPE: "VXLAN-GPE", LayerGeneve: "Geneve", LayerGTPU: "GTP-U",
	LayerTeredo: "Teredo", LayerAYIYA: "AYIYA"}

// String names the kind as the path shows it.
func (k LayerKind) String() string {
	if int(k) < len(layerNames) && layerNames[k] != "" {
		return layerNames[k]
	}
	return "layer-" + itoa(int(k))
}

// Layer is one encapsulation: its kind and, when HasID, its identifier
// (VLAN ID, label, session, key, VNI, TEID).
type Layer struct {
	Kind  LayerKind
	HasID bool
	ID    uint32
}

// String writes the layer as "VLAN 100", "GRE key 7", "VXLAN 42", "GTP-U TEID 0x1234".
func (l Layer) String() string {
	s := l.Kind.String()
	if !l.HasID {
		return s
	}
	switch l.Kind {
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
const MaxPath = 6

// Path is the encapsulations a packet arrived in, outermost first. It is a
// value, filled while decoding without allocating; the zero Path is a
// packet that came bare.
type Path struct {
	n      uint8
	layers [MaxPath]Layer
}

// Len returns the number of encapsulation layers (possibly more than MaxPath).
func (p *Path) Len() int { return int(p.n) }

// Layers returns the layers kept, outermost first.
func (p *Path) Layers() []Layer { return p.layers[:min(int(p.n), MaxPath)] }

func (p *Path) add(k LayerKind, hasID bool, id uint32) {
	if int(p.n) < MaxPath {
		p.layers[p.n] = Layer{k, hasID, id}
	}
	if p.n < 255 {
		p.n++
	}
}

// String writes the path for a user, outermost first:
// "802.1ad 200 › VLAN 100 › PPPoE session 0x1234"; "" for a bare packet.
func (p *Path) String() string {
	s := ""
	for i, l := range p.Layers() {
		if i > 0 {
			s += " › "
		}
		s += l.String()
	}
	if int(p.n) > MaxPath {
		s += " › … (" + itoa(int(p.n)-MaxPath) + " more)"
	}
	return s
}
