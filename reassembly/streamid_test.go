package reassembly

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
)

func TestParseStreamID(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"tcp/3", "tcp/3", true}, {"3", "tcp/3", true}, {"udp/0", "udp/0", true}, {"TCP/12", "tcp/12", true}, {"Udp/7", "udp/7", true},
		{"icmp/1", "", false}, {"tcp/", "", false}, {"-1", "", false}, {"tcp/x", "", false}, {"", "", false},
		{"tcp/+1", "", false}, {"/1", "", false}, {"tcp/1/2", "", false}, {"tcp/99999999999999999999", "", false},
	}
	for _, tt := range tests {
		id, err := ParseStreamID(tt.in)
		if (err == nil) != tt.ok || (tt.ok && id.String() != tt.want) {
			t.Errorf("ParseStreamID(%q) = %v, %v; want %q ok=%v", tt.in, id, err, tt.want, tt.ok)
		}
	}
}

func TestSelector(t *testing.T) {
	c := netip.MustParseAddrPort("10.0.0.1:51234")
	s := netip.MustParseAddrPort("10.0.0.5:443")
	v6c := netip.MustParseAddrPort("[2001:db8::1]:40000")
	v6s := netip.MustParseAddrPort("[2001:db8::2]:443")
	tests := []struct {
		sel  string
		want []bool // matches: tcp/3 c→s, udp/0 c→s, tcp/4 v6c→v6s, tcp/5 c→(10.0.0.5:80)
	}{
		{"tcp/3", []bool{true, false, false, false}},
		{"udp/0", []bool{false, true, false, false}},
		{"10.0.0.5:443", []bool{true, true, false, false}},
		{"10.0.0.1:51234", []bool{true, true, false, true}},
		{"10.0.0.5:443-10.0.0.1:51234", []bool{true, true, false, false}},
		{"10.0.0.1:51234-10.0.0.5:443", []bool{true, true, false, false}},
		{"10.0.0.1:51234-10.0.0.5:80", []bool{false, false, false, true}},
		{"[2001:db8::2]:443", []bool{false, false, true, false}},
		{"[::ffff:10.0.0.5]:443", []bool{true, true, false, false}},
	}
	streams := []struct {
		proto        capture.Proto
		id           int
		client, serv netip.AddrPort
	}{
		{capture.ProtoTCP, 3, c, s}, {capture.ProtoUDP, 0, c, s}, {capture.ProtoTCP, 4, v6c, v6s},
		{capture.ProtoTCP, 5, c, netip.MustParseAddrPort("10.0.0.5:80")},
	}
	for _, tt := range tests {
		sel, err := ParseSelector(tt.sel)
		if err != nil {
			t.Fatalf("%s: %v", tt.sel, err)
		}
		for i, st := range streams {
			if got := sel.Match(st.proto, st.id, st.client, st.serv); got != tt.want[i] {
				t.Errorf("%s matches %s/%d %s→%s: %v, want %v", tt.sel, st.proto, st.id, st.client, st.serv, got, tt.want[i])
			}
		}
	}
	for _, bad := range []string{"10.0.0.1", "10.0.0.1:", "host:80", "10.0.0.1:80-", "10.0.0.1:80-x:1", "1.2.3.4:70000"} {
		if _, err := ParseSelector(bad); err == nil {
			t.Errorf("ParseSelector(%q) took it", bad)
		}
	}
}

// FuzzParseSelector: any argument parses or is refused with the spellings,
// without a panic; a numbered selector prints back as what it names, and an
// endpoint selector matches a stream between its endpoints.
func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{"tcp/3", "3", "UDP/0", "10.0.0.1:80", "[::1]:443-10.0.0.1:5", "tcp/+1", "1.2.3.4:70000", "[fe80::1%eth0]:22", "-", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelector(s)
		if err != nil {
			if !strings.Contains(err.Error(), "want tcp/N, udp/N or N") {
				t.Fatalf("%q: error %q does not give the spellings", s, err)
			}
			return
		}
		if id, ok := sel.ID(); ok {
			back, err := ParseStreamID(id.String())
			if err != nil || back != id {
				t.Fatalf("%q: %v does not parse back (%v, %v)", s, id, back, err)
			}
			if !sel.Match(id.Proto, id.ID, netip.AddrPort{}, netip.AddrPort{}) {
				t.Fatalf("%q does not match %v", s, id)
			}
			return
		}
		if sel.b.IsValid() && !sel.Match(capture.ProtoTCP, 0, sel.a, sel.b) || !sel.b.IsValid() && !sel.Match(capture.ProtoUDP, 0, sel.a, netip.AddrPort{}) {
			t.Fatalf("%q does not match its own endpoints", s)
		}
	})
}
