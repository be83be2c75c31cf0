package filter

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/bpf"
)

// parseTests maps an expression to its tree printed back. They also seed
// the fuzz targets.
var parseTests = []struct{ in, want string }{
	{"", "<nil>"},
	{"tcp", "tcp"},
	{"ip6", "ip6"},
	{"port 80", "port 80"},
	{"tcp port 80", "tcp port 80"},
	{"udp dst port 53", "udp dst port 53"},
	{"src or dst port 80", "port 80"},
	{"tcp src and dst port 8765", "tcp src and dst port 8765"},
	{"portrange 9000-8000", "portrange 8000-9000"},
	{"portrange 010-020", "portrange 10-20"},
	{"port 0x50", "port 80"},
	{"port 010", "port 8"},
	{"host 10.0.0.1", "host 10.0.0.1"},
	{"src host 127.0.0.1 and dst port 8765", "(src host 127.0.0.1 and dst port 8765)"},
	{"ip host 10.0.0.2", "ip host 10.0.0.2"},
	{"arp dst host 10.0.0.2", "arp dst host 10.0.0.2"},
	{"ip6 host ::1", "ip6 host ::1"},
	{"host fe80::1", "host fe80::1"},
	{"src 10.1.2.3", "src host 10.1.2.3"},
	{"net 10.0.0.0/8", "net 10.0.0.0/8"},
	{"net 10.0.0.0 mask 255.0.0.0", "net 10.0.0.0/8"},
	{"net 10.0.0.0 mask 255.0.255.0", "net 10.0.0.0 mask 255.0.255.0"},
	{"net 10", "net 10.0.0.0/8"},
	{"net 10.1", "net 10.1.0.0/16"},
	{"host 10.1", "net 10.1.0.0/16"},
	{"net 0", "host 0.0.0.0"},
	{"net 2001:db8::/32", "net 2001:db8::/32"},
	{"ip6 net ::/0", "ip6 net ::/0"},
	{"host 10.0.0.1 or 10.0.0.2", "(host 10.0.0.1 or host 10.0.0.2)"},
	{"tcp port 80 or 443", "(tcp port 80 or tcp port 443)"},
	{"host 10.0.0.1 and not 10.0.0.2", "(host 10.0.0.1 and not host 10.0.0.2)"},
	{"port 80 and (53 or 443)", "(port 80 and (port 53 or port 443))"},
	{"host 10.0.0.1 and (tcp) or 10.0.0.3", "((host 10.0.0.1 and tcp) or host 10.0.0.3)"},
	{"host not 10.0.0.1", "not host 10.0.0.1"},
	{"tcp or udp and icmp", "((tcp or udp) and icmp)"},
	{"not tcp and udp", "(not tcp and udp)"},
	{"!tcp && !(udp || arp)", "(not tcp and not (udp or arp))"},
	{"tcp[tcpflags] & (tcp-syn|tcp-fin) != 0", "(tcp[13] & (2 | 1)) != 0"},
	{"tcp[13:1] = 2", "tcp[13] = 2"},
	{"ip[2:2] > 1000", "ip[2:2] > 1000"},
	{"tcp[((tcp[12] & 0xf0) >> 2):4] = 0x47455420", "tcp[((tcp[12] & 240) >> 2):4] = 1195725856"},
	{"1 + 2 * 3 = 7", "(1 + (2 * 3)) = 7"},
	{"1 - 2 - 3 = 0", "((1 - 2) - 3) = 0"},
	{"1 | 2 & 3 = 3", "(1 | (2 & 3)) = 3"},
	{"1 << 2 + 1 = 8", "(1 << (2 + 1)) = 8"},
	{"tcp[0] % 3 + 1 = 2", "(tcp[0] % (3 + 1)) = 2"},
	{"2 * tcp[0] ^ 3 + 1 = 2", "(2 * (tcp[0] ^ (3 + 1))) = 2"},
	{"-tcp[0] < 0x100", "-tcp[0] < 256"},
	{"(tcp[0]) = 80", "tcp[0] = 80"},
	{"(80) = 80", "80 = 80"},
	{"icmp[icmptype] = icmp-echo", "icmp[0] = 8"},
	{"icmp6[icmp6type] = icmp6-echo", "icmp6[0] = 128"},
	{"ether[12:2] = 0x800", "ether[12:2] = 2048"},
	{"greater 100", "len >= 100"},
	{"less 100", "len <= 100"},
	{"len - 14 >= 1000", "(len - 14) >= 1000"},
	{"vlan", "vlan"},
	{"vlan 100 and tcp", "(vlan 100 and tcp)"},
	{"vlan (100)", "vlan 100"},
	{"ip proto 6", "ip proto 6"},
	{`ip proto \tcp`, "ip proto 6"},
	{"proto 17", "proto 17"},
	{"ip6 proto 58", "ip6 proto 58"},
	{"(tcp port 80 or tcp port 443) and host 10.0.0.1", "((tcp port 80 or tcp port 443) and host 10.0.0.1)"},
	{"src port 8765 or dst port 8765 and tcp", "((src port 8765 or dst port 8765) and tcp)"},
}

func TestParse(t *testing.T) {
	for _, tt := range parseTests {
		n, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		got := fmt.Sprint(n)
		if n == nil {
			got = "<nil>"
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if n == nil {
			continue
		}
		// The printed form parses to the same tree.
		n2, err := Parse(got)
		if err != nil {
			t.Errorf("Parse(%q) (reprint of %q): %v", got, tt.in, err)
		} else if n2.String() != got {
			t.Errorf("reprint of %q: %s, then %s", tt.in, got, n2)
		}
	}
}

// refusedTests are expressions that must be refused. part is the
// UnsupportedError.Part (empty for an *Error); msg must occur in the text.
var refusedTests = []struct {
	in   string
	part string
	pos  int
	msg  string
}{
	{"ether host 00:11:22:33:44:55", "ether host", 0, "MAC address"},
	{"tcp and ether src 1:2:3:4:5:6", "ether src", 8, "MAC address"},
	{"host example.com", "example.com", 5, "host names are not resolved"},
	{"port http", "http", 5, "service names"},
	{"gateway 10.0.0.1", "gateway", 0, ""},
	{"ip broadcast", "ip broadcast", 0, ""},
	{"multicast", "multicast", 0, ""},
	{"geneve and vlan", "vlan", 11, "after geneve"},
	{"geneve and ip[0] = 0x45", "a byte comparison", 11, "after geneve"},
	{"geneve 16777216", "", 0, "Geneve VNI 16777216 greater than maximum 16777215"},
	{"mpls 1048576", "", 0, "MPLS label 1048576 greater than maximum 1048575"},
	{"pppoes 65536", "", 0, "PPPoE session number 65536 greater than maximum 65535"},
	{"igmp", "igmp", 0, ""},
	{"tcp and inbound", "inbound", 8, ""},
	{"ip protochain 6", "ip protochain", 0, ""},
	{"host 00:11:22:33:44:55", "00:11:22:33:44:55", 5, "MAC address"},
	{"ether", "ether", 0, "link-layer"},
	{"ip proto ospf", "ospf", 9, "protocol names"},
	{"net 10.0.0.1/8", "", 4, `non-network bits set in "10.0.0.1/8"`},
	{"net ::1/64", "", 4, "non-network bits"},
	{"net 10.0.0.0/33", "", 13, "mask length must be <= 32"},
	{"host 10.0.0.0/8", "", 5, "mask syntax for networks only"},
	{"port 99999", "", 5, "illegal port number 99999 > 65535"},
	{"tcp host 1.2.3.4", "", 0, "'tcp' modifier applied to host"},
	{"ip6 host 10.0.0.1", "", 0, "'ip6' modifier applied to ip host"},
	{"ip host ::1", "", 0, "'ip' modifier applied to ip6 host"},
	{"icmp port 80", "", 0, "illegal qualifier of 'port'"},
	{"vlan 5000", "", 0, "VLAN tag 5000 greater than maximum 4095"},
	{"tcp[0:3] = 1", "", 6, "data size must be 1, 2, or 4"},
	{"tcp[0] / 0 = 1", "", 7, "division by zero"},
	{"tcp[0] % 0 = 1", "", 7, "modulus by zero"},
	{"tcp[0] << 32 = 1", "", 7, "shift by more than 31 bits"},
	{"tcp or 80", "", 7, "needs a qualifier"},
	{"10.0.0.1", "", 0, "expected a qualifier"},
	{"host", "", 4, "expected a value after \"host\", got end of expression"},
	{"tcp and", "", 7, "expected a filter primitive"},
	{"(tcp", "", 0, `unbalanced "("`},
	{"tcp)", "", 3, `unbalanced ")"`},
	{"tcp udp", "", 4, `expected "and", "or" or end of expression, got "udp"`},
	{"tcp[0] 1", "", 7, "expected a comparison operator"},
	{"udp[8] = 0x100000000", "", 9, "overflows 32 bits"},
	{"tcp[08] = 1", "", 4, "non-octal digit"},
	{"len-1 > 3", "", 0, `expected a qualifier such as host, net or port before "len-1"`},
	{"host 10.0.0.300", "", 5, "invalid IPv4 address"},
	{"tcp $ 1", "", 4, "unexpected character"},
	{"src proto 6", "", 4, "expected a value"},
}

func TestRefused(t *testing.T) {
	for _, tt := range refusedTests {
		_, err := Compile(tt.in, LinkTypeEthernet, 262144)
		if err == nil {
			t.Errorf("Compile(%q) succeeded, want an error", tt.in)
			continue
		}
		var ue *UnsupportedError
		var pe *Error
		switch {
		case tt.part != "":
			if !errors.As(err, &ue) || !errors.Is(err, ErrUnsupported) {
				t.Errorf("Compile(%q) = %v (%T), want *UnsupportedError", tt.in, err, err)
				continue
			}
			if ue.Part != tt.part || ue.Pos != tt.pos {
				t.Errorf("Compile(%q): Part %q at %d, want %q at %d", tt.in, ue.Part, ue.Pos, tt.part, tt.pos)
			}
		default:
			if !errors.As(err, &pe) {
				t.Errorf("Compile(%q) = %v (%T), want *Error", tt.in, err, err)
				continue
			}
			if pe.Pos != tt.pos {
				t.Errorf("Compile(%q): error at offset %d, want %d (%v)", tt.in, pe.Pos, tt.pos, err)
			}
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Compile(%q) = %q, want it to contain %q", tt.in, err, tt.msg)
		}
	}
}

func TestUnsupportedErrorText(t *testing.T) {
	_, err := Parse("ether host 00:00:00:00:00:01")
	var ue *UnsupportedError
	if !errors.As(err, &ue) || ue.Part != "ether host" || ue.Pos != 0 {
		t.Fatalf("got %#v", err)
	}
	err = &UnsupportedError{Part: "gateway", Pos: 3}
	want := `unsupported filter "gateway" at offset 3: sockscope supports host, net, port, portrange, `
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %q, want prefix %q", err, want)
	}
}

func TestLinkTypeErrors(t *testing.T) {
	if _, err := Compile("tcp", 147, 65535); err == nil || !strings.Contains(err.Error(), "unsupported link type 147") {
		t.Errorf("link type 147: %v", err)
	}
	for _, lt := range []uint16{LinkTypeLinuxSLL, LinkTypeLinuxSL2, LinkTypeRaw, LinkTypeNull} {
		_, err := Compile("vlan and tcp", lt, 65535)
		var ue *UnsupportedError
		if !errors.As(err, &ue) || ue.Part != "vlan" {
			t.Errorf("vlan on link type %d: %v", lt, err)
		}
	}
	if _, err := Compile("tcp", LinkTypeEthernet, 0); err == nil {
		t.Error("snaplen 0 accepted")
	}
}

func TestEmptyAcceptsAll(t *testing.T) {
	for _, expr := range []string{"", "  \t"} {
		prog, err := Compile(expr, LinkTypeEthernet, 1234)
		if err != nil {
			t.Fatal(err)
		}
		if len(prog) != 1 || prog[0] != (bpf.RetConstant{Val: 1234}) {
			t.Errorf("Compile(%q) = %v", expr, prog)
		}
	}
}

func TestDropOutgoing(t *testing.T) {
	prog, err := Compile("tcp port 80", LinkTypeEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	got := DropOutgoing(prog)
	wantPrefix := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: 4, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	}
	if len(got) != len(prog)+3 {
		t.Fatalf("len = %d, want %d", len(got), len(prog)+3)
	}
	for i, ins := range wantPrefix {
		if got[i] != ins {
			t.Errorf("insn %d = %#v, want %#v", i, got[i], ins)
		}
	}
	for i := range prog {
		if got[i+3] != prog[i] {
			t.Errorf("insn %d changed: %v, was %v", i+3, got[i+3], prog[i])
		}
	}
	raw, err := bpf.Assemble(got)
	if err != nil {
		t.Fatalf("assemble: %v", err)
	}
	if raw[0].Op != 0x20 || raw[0].K != 0xfffff004 { // ld [SKF_AD_OFF + SKF_AD_PKTTYPE]
		t.Errorf("first insn = %+v, want ld #type", raw[0])
	}
	// The VM has no packet type, so stand a constant in for it.
	syn := ethIPv4TCP("10.0.0.1", "10.0.0.2", 40000, 80, 0x02)
	for _, tc := range []struct {
		pktType uint32
		want    bool
	}{{0, true}, {4, false}} {
		sim := append([]bpf.Instruction{bpf.LoadConstant{Dst: bpf.RegA, Val: tc.pktType}}, got[1:]...)
		vm, err := bpf.NewVM(sim)
		if err != nil {
			t.Fatal(err)
		}
		n, err := vm.Run(syn)
		if err != nil || (n > 0) != tc.want {
			t.Errorf("packet type %d: ret %d, %v; want accept=%v", tc.pktType, n, err, tc.want)
		}
	}
	if DropOutgoing(nil) != nil {
		t.Error("DropOutgoing(nil) should be nil")
	}
}

// ethIPv4TCP builds an Ethernet/IPv4/TCP frame.
func ethIPv4TCP(src, dst string, sport, dport uint16, flags byte) []byte {
	b := make([]byte, 14+20+20)
	b[12], b[13] = 0x08, 0x00
	ip := b[14:]
	ip[0] = 0x45
	ip[2], ip[3] = 0, 40
	ip[8], ip[9] = 64, 6
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	tcp := ip[20:]
	tcp[0], tcp[1] = byte(sport>>8), byte(sport)
	tcp[2], tcp[3] = byte(dport>>8), byte(dport)
	tcp[12] = 5 << 4
	tcp[13] = flags
	return b
}

// TestLongJumps compiles a filter whose jumps exceed the 8-bit skip of
// conditional jumps, so it must use ja trampolines.
func TestLongJumps(t *testing.T) {
	var terms []string
	for i := 1; i <= 120; i++ {
		terms = append(terms, fmt.Sprintf("ip src host 10.0.%d.%d", i/250, i%250))
	}
	expr := "tcp and (" + strings.Join(terms, " or ") + ") and port 80"
	prog, err := Compile(expr, LinkTypeEthernet, 65535)
	if err != nil {
		t.Fatal(err)
	}
	if len(prog) < 300 {
		t.Fatalf("program has only %d instructions; test needs > 255", len(prog))
	}
	ja := 0
	for _, ins := range prog {
		if j, ok := ins.(bpf.Jump); ok && j.Skip > 255 {
			ja++
		}
	}
	if ja == 0 {
		t.Error("no long ja trampolines")
	}
	m, err := NewMatcher(expr, LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		src  string
		port uint16
		want bool
	}{
		{"10.0.0.1", 80, true},
		{"10.0.0.120", 80, true},
		{"10.0.0.121", 80, false},
		{"10.0.0.60", 81, false},
	} {
		if got := m.Match(ethIPv4TCP(tc.src, "192.0.2.1", 1234, tc.port, 2)); got != tc.want {
			t.Errorf("%s:%d: got %v, want %v", tc.src, tc.port, got, tc.want)
		}
	}
}

func TestTooLarge(t *testing.T) {
	var terms []string
	for i := 0; i < 400; i++ {
		terms = append(terms, fmt.Sprintf("port %d", i))
	}
	_, err := Compile(strings.Join(terms, " or "), LinkTypeEthernet, 65535)
	if err == nil || !strings.Contains(err.Error(), "kernel limit of 4096") {
		t.Errorf("got %v, want a size error", err)
	}
}

func TestMatchWireLen(t *testing.T) {
	m, err := NewMatcher("greater 1000 and tcp", LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	f := ethIPv4TCP("10.0.0.1", "10.0.0.2", 1, 2, 0)
	if m.Match(f) {
		t.Error("short frame matched greater 1000")
	}
	if !m.MatchWire(f, 1500) {
		t.Error("truncated frame of 1500 bytes on the wire did not match greater 1000")
	}
	if m.MatchWire(f[:20], 1500) {
		t.Error("frame cut before the IP header matched tcp")
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	m, err := NewMatcher("tcp port 80 and host 127.0.0.1", LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	f := ethIPv4TCP("127.0.0.1", "127.0.0.1", 40000, 80, 2)
	if !m.Match(f) {
		t.Fatal("no match")
	}
	if n := testing.AllocsPerRun(100, func() { m.Match(f) }); n > 0 {
		t.Errorf("Match allocates %v times per call", n)
	}
}

func BenchmarkMatch(b *testing.B) {
	m, err := NewMatcher("tcp port 80 and host 127.0.0.1", LinkTypeEthernet)
	if err != nil {
		b.Fatal(err)
	}
	f := ethIPv4TCP("127.0.0.1", "127.0.0.1", 40000, 80, 2)
	b.ReportAllocs()
	for b.Loop() {
		m.Match(f)
	}
}

// TestGeneveRunTimeOffsets: after "geneve" the inner packet's offset
// depends on the outer IPv4 header's length and the Geneve options; the
// same inner TCP packet matches behind either, and in Geneve over IPv6.
// (The tunnel capture's answers, with options, are tcpdump's:
// TestAgainstTcpdump.)
func TestGeneveRunTimeOffsets(t *testing.T) {
	plain := geneveFrame
	// IPv4 options (one 4-byte NOP/EOL word) and 8 more bytes of Geneve options.
	withOpts := slices.Clone(plain[:14])
	withOpts = append(withOpts, 0x46, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 99, 0, 1, 10, 99, 0, 2, 1, 1, 1, 0)
	gen := slices.Clone(plain[14+20+8:])
	gen[0] = 0x03 // option length 3 words
	gen = slices.Insert(gen, 12, 0x01, 0x02, 0x81, 0x01, 'o', 'p', 't', '2')
	withOpts = append(withOpts, plain[34:42]...)
	withOpts = append(withOpts, gen...)
	// The same Geneve datagram over IPv6.
	v6 := append(slices.Clone(plain[:12]), 0x86, 0xdd, 0x60, 0, 0, 0, 0, byte(len(plain)-34), 17, 64)
	v6 = append(v6, netip.MustParseAddr("fd99::1").AsSlice()...)
	v6 = append(v6, netip.MustParseAddr("fd99::2").AsSlice()...)
	v6 = append(v6, plain[34:]...)
	for _, tt := range []struct {
		expr string
		want bool
	}{
		{"geneve", true},
		{"geneve 42 and tcp port 8080", true},
		{"geneve and host 10.98.0.2 and tcp[13] = 2", false}, // refused: byte comparison after geneve
		{"geneve 43", false},
		{"geneve and host 10.99.0.1", false},
		{"geneve and src host 10.98.0.1 and dst port 8080", true},
		{"geneve and udp", false},
	} {
		for name, f := range map[string][]byte{"plain": plain, "options": withOpts, "ipv6": v6} {
			m, err := NewMatcher(tt.expr, LinkTypeEthernet)
			if err != nil {
				if tt.want {
					t.Errorf("%q: %v", tt.expr, err)
				}
				continue
			}
			if got := m.Match(f); got != tt.want {
				t.Errorf("%q on the %s frame: %v, want %v", tt.expr, name, got, tt.want)
			}
		}
	}
}
