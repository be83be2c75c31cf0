//go:build !linux

package capture

// linkOf guesses: there is no AF_PACKET here to ask. A live capture (libpcap,
// in a -tags pcap build) replaces the guess with the link type it opened.
func linkOf(_ string, loopback bool) (LinkType, string) {
	if loopback {
		return LinkNull, "loopback"
	}
	return LinkEthernet, "unknown"
}
