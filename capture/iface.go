package capture

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Interface is a network interface a live capture can open.
type Interface struct {
	Name     string
	Index    int
	MTU      int
	Up       bool
	Loopback bool
	Addrs    []netip.Prefix
	// Link is the link type frames captured on it have (LinkEthernet for
	// Ethernet and loopback, LinkRaw for IP-only devices such as tun and
	// WireGuard); HWType names the device type ("ethernet", "loopback",
	// "none (tun)", ...). HWType is "unknown" when it could not be read.
	Link   LinkType
	HWType string
}

// Interfaces lists the network interfaces, in index order.
func Interfaces() ([]Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list network interfaces: %w", err)
	}
	out := make([]Interface, 0, len(ifs))
	for _, ifc := range ifs {
		out = append(out, describeInterface(ifc))
	}
	return out, nil
}

// LookupInterface returns the interface called name. When there is none the
// error wraps ErrNoInterface and names the interfaces there are.
func LookupInterface(name string) (Interface, error) {
	ifc, err := net.InterfaceByName(name)
	if err != nil {
		var names []string
		if ifs, lerr := net.Interfaces(); lerr == nil {
			for _, i := range ifs {
				names = append(names, i.Name)
			}
		}
		if len(names) == 0 {
			return Interface{}, fmt.Errorf("%w: %q", ErrNoInterface, name)
		}
		return Interface{}, fmt.Errorf("%w: %q; the interfaces here are %s", ErrNoInterface, name, strings.Join(names, ", "))
	}
	return describeInterface(*ifc), nil
}

func describeInterface(ifc net.Interface) Interface {
	i := Interface{
		Name:     ifc.Name,
		Index:    ifc.Index,
		MTU:      ifc.MTU,
		Up:       ifc.Flags&net.FlagUp != 0,
		Loopback: ifc.Flags&net.FlagLoopback != 0,
	}
	if addrs, err := ifc.Addrs(); err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				ip, ok := netip.AddrFromSlice(ipn.IP)
				if !ok {
					continue
				}
				ones, _ := ipn.Mask.Size()
				i.Addrs = append(i.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
			}
		}
	}
	i.Link, i.HWType = linkOf(ifc.Name, i.Loopback)
	return i
}
