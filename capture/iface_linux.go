//go:build linux

package capture

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// hwType returns the ARPHRD_* device type of an interface (SIOCGIFHWADDR).
// It asks through a socket, not /sys, so that it answers for the network
// namespace the calling thread is in.
func hwType(name string) (uint16, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("device type of %s: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, fmt.Errorf("device type of %s: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr); err != nil {
		return 0, fmt.Errorf("device type of %s: %w", name, err)
	}
	return ifr.Uint16(), nil
}

// linkKind says how frames of a device type are captured: with their link
// header (SOCK_RAW, Ethernet framing) or from the network header on
// (SOCK_DGRAM, raw IP).
func linkKind(hw uint16) (link LinkType, cooked bool, name string) {
	switch hw {
	case unix.ARPHRD_ETHER:
		return LinkEthernet, false, "ethernet"
	case unix.ARPHRD_LOOPBACK:
		return LinkEthernet, false, "loopback"
	case unix.ARPHRD_NONE:
		return LinkRaw, true, "none (tun, wireguard)"
	case unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6:
		return LinkRaw, true, "ip tunnel"
	case unix.ARPHRD_SIT:
		return LinkRaw, true, "sit tunnel"
	case unix.ARPHRD_IPGRE, unix.ARPHRD_IP6GRE:
		return LinkRaw, true, "gre tunnel"
	case unix.ARPHRD_PPP:
		return LinkRaw, true, "ppp"
	case unix.ARPHRD_VOID:
		return LinkRaw, true, "void"
	}
	return LinkRaw, true, fmt.Sprintf("arphrd-%d (captured from the IP header)", hw)
}

func linkOf(name string, _ bool) (LinkType, string) {
	hw, err := hwType(name)
	if err != nil {
		return LinkEthernet, "unknown"
	}
	l, _, n := linkKind(hw)
	return l, n
}
