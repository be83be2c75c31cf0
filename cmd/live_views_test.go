package cmd

import (
	"strings"
	"testing"
)

// TestLiveViewFlags: the -i forms of follow and timeline, and --user, check
// their arguments before any capture is opened (no privileges needed).
func TestLiveViewFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"follow", "-i", "lo"}, "needs one stream"},
		{[]string{"follow", "-i", "lo", "x.pcap", "0"}, "and no capture file"},
		{[]string{"follow", "-i", "lo", "0", "-c", "-1"}, "can't be negative"},
		{[]string{"follow", "-i", "lo", "udp/x"}, "want tcp/N, udp/N or N"},
		{[]string{"timeline"}, "or -i IFACE to capture live"},
		{[]string{"timeline", "-i", "lo", "--duration", "-1s"}, "can't be negative"},
		{[]string{"timeline", "-i", "lo", "--framing", "len:u24"}, "--framing"},
		{[]string{"timeline", "-i", "lo", "-f", "tcp port"}, `-f "tcp port": invalid filter`},
		{[]string{"timeline", "-i", "lo", "--user", "no-such-user-sockscope"}, `--user: user "no-such-user-sockscope"`},
		{[]string{"live", "lo", "--user", "no-such-user-sockscope"}, `--user: user "no-such-user-sockscope"`},
		{[]string{"live", "lo", "--scan-min-failed", "2"}, "scan"},
		// live takes -i as every capturing command does (and tcpdump).
		{[]string{"live", "-i", "lo", "--user", "no-such-user-sockscope"}, `--user: user "no-such-user-sockscope"`},
		{[]string{"live"}, "needs an interface name, as IFACE or -i IFACE"},
		{[]string{"live", "lo", "-i", "eth0"}, `interface "lo" and -i "eth0": give one`},
		{[]string{"live", "lo", "eth0"}, "needs an interface name"},
	}
	for _, tt := range tests {
		_, errOut, code := runCLI(t, nil, tt.args...)
		if code != exitUsage || !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: exit %d %q, want %d and %q", tt.args, code, errOut, exitUsage, tt.want)
		}
	}
}

// TestViewFileFilter: -f, added to follow and timeline with -i, filters
// files too (stream numbers then count only the matching streams).
func TestViewFileFilter(t *testing.T) {
	f := corpus + "01_tcp_handshake_hello_fin.pcap"
	all, _, code := runCLI(t, nil, "timeline", f)
	filtered, errOut, code2 := runCLI(t, nil, "timeline", f, "-f", "tcp port 9000")
	if code != 0 || code2 != 0 || all != filtered {
		t.Errorf("timeline -f matching every frame changed the output (exit %d, %d; %s):\n%s\n---\n%s", code, code2, errOut, all, filtered)
	}
	_, errOut, code = runCLI(t, nil, "follow", f, "0", "-f", "udp")
	if code != exitUsage || !strings.Contains(errOut, "has no tcp/0: it has 0 TCP streams") {
		t.Errorf("follow -f udp: exit %d %q", code, errOut)
	}
	out, errOut, code := runCLI(t, nil, "timeline", corpus+"04_http11_keepalive_curl.pcap", "-f", "port 9", "0")
	if code != exitUsage || !strings.Contains(errOut, "tcp/0: no such stream") {
		t.Errorf("timeline -f 'port 9': exit %d %q %q", code, out, errOut)
	}
}
