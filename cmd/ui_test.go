package cmd

import (
	"strings"
	"testing"
)

// TestUIUsage: ui needs a terminal and a file; what it cannot do is said
// before it takes the screen, with the usage exit status.
func TestUIUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"ui", corpus + "04_http11_keepalive_curl.pcap"}, 2, "needs a terminal"},
		{[]string{"ui", "-"}, 2, "not -"},
		{[]string{"ui"}, 2, "needs a capture file"},
		{[]string{"ui", "--color", "sometimes", corpus + "04_http11_keepalive_curl.pcap"}, 2, "--color"},
	} {
		_, errOut, code := runCLI(t, nil, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
