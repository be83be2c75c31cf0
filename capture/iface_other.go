//go:build !linux

package capture

// linkOf guesses: live capture is Linux-only, so the answer is informative.
func linkOf(_ string, loopback bool) (LinkType, string) {
	if loopback {
		return LinkNull, "loopback"
	}
	return LinkEthernet, "unknown"
}
