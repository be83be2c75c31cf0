package filter

import (
	"errors"
	"testing"

	"golang.org/x/net/bpf"
)

// FuzzParse checks that Parse never panics, fails only with *Error or
// *UnsupportedError, and that a parsed tree prints to text that parses to
// the same tree.
func FuzzParse(f *testing.F) {
	for _, tt := range parseTests {
		f.Add(tt.in)
	}
	for _, tt := range refusedTests {
		f.Add(tt.in)
	}
	f.Add("mpls 1 and mpls 2 or pppoes 3")
	f.Add("geneve 42 and tcp port 8080 or geneve")
	f.Fuzz(func(t *testing.T, expr string) {
		n, err := Parse(expr)
		if err != nil {
			var pe *Error
			var ue *UnsupportedError
			if !errors.As(err, &pe) && !errors.As(err, &ue) {
				t.Fatalf("Parse(%q): error of type %T: %v", expr, err, err)
			}
			if n != nil {
				t.Fatalf("Parse(%q): tree %v with error %v", expr, n, err)
			}
			return
		}
		if n == nil {
			return
		}
		s := n.String()
		n2, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) printed %q, which does not parse: %v", expr, s, err)
		}
		if s2 := n2.String(); s2 != s {
			t.Fatalf("Parse(%q) printed %q, which reparses as %q", expr, s, s2)
		}
	})
}

var fuzzLinkTypes = []uint16{LinkTypeEthernet, LinkTypeLinuxSLL, LinkTypeLinuxSL2, LinkTypeRaw,
	LinkTypeIPv4, LinkTypeIPv6, LinkTypeNull, LinkTypeLoop, LinkTypePPP, LinkTypePPPSer, LinkTypeCHDLC}

// FuzzCompile checks that a compiled program is valid for the x/net/bpf VM
// (no jump past the end, ends in a return, assembles to raw cBPF), fits
// the kernel's size limit, runs on arbitrary frames without error, and that
// the Matcher agrees with running the program directly.
func FuzzCompile(f *testing.F) {
	frame := ethIPv4TCP("10.0.0.1", "10.0.0.2", 40000, 80, 2)
	for i, tt := range parseTests {
		f.Add(tt.in, uint8(i), frame)
	}
	f.Add("tcp[tcp[tcp[0]]:4] + ip[len] = len", uint8(0), frame)
	f.Add("vlan and vlan and host 10.0.0.1", uint8(0), frame[:20])
	f.Add("mpls 16004 and mpls and tcp port 8080", uint8(0), frame)
	f.Add("vlan 300 and pppoes 0x1234 and ip6", uint8(0), frame)
	f.Add("mpls and ip", uint8(8), frame)
	f.Add("geneve 42 and tcp port 8080 and host 10.98.0.2", uint8(0), geneveFrame)
	f.Add("vlan and geneve and ip6 and udp port 53", uint8(0), geneveFrame)
	f.Add("not geneve or icmp", uint8(3), geneveFrame)
	f.Fuzz(func(t *testing.T, expr string, lt uint8, frame []byte) {
		linkType := fuzzLinkTypes[int(lt)%len(fuzzLinkTypes)]
		prog, err := Compile(expr, linkType, 65535)
		if err != nil {
			return
		}
		if len(prog) == 0 || len(prog) > MaxInstructions {
			t.Fatalf("%q: program of %d instructions", expr, len(prog))
		}
		switch prog[len(prog)-1].(type) {
		case bpf.RetConstant, bpf.RetA:
		default:
			t.Fatalf("%q: program ends in %v", expr, prog[len(prog)-1])
		}
		vm, err := bpf.NewVM(prog)
		if err != nil {
			t.Fatalf("%q: invalid program: %v\n%v", expr, err, prog)
		}
		n, err := vm.Run(frame)
		if err != nil {
			t.Fatalf("%q: run: %v", expr, err)
		}
		if n != 0 && n != 65535 {
			t.Fatalf("%q: returned %d", expr, n)
		}
		if _, err := bpf.Assemble(DropOutgoing(prog)); err != nil {
			t.Fatalf("%q: DropOutgoing: %v", expr, err)
		}
		m, err := NewMatcher(expr, linkType)
		if err != nil {
			t.Fatalf("%q: NewMatcher after Compile succeeded: %v", expr, err)
		}
		if got := m.Match(frame); got != (n > 0) {
			t.Fatalf("%q: Matcher says %v, program returned %d", expr, got, n)
		}
		if got := m.MatchWire(frame, len(frame)); got != (n > 0) {
			t.Fatalf("%q: MatchWire with the frame's own length says %v, program returned %d", expr, got, n)
		}
		m.MatchWire(frame, len(frame)+100)
	})
}

// geneveFrame is ethIPv4TCP's frame inside Geneve VNI 42 (one 4-byte
// option, protocol type 0x6558) over IPv4/UDP to port 6081, on Ethernet.
var geneveFrame = func() []byte {
	inner := ethIPv4TCP("10.98.0.1", "10.98.0.2", 40000, 8080, 2)
	gen := append([]byte{0x01, 0, 0x65, 0x58, 0, 0, 42, 0, 0x01, 0x02, 0x80, 0x00}, inner...)
	udp := append([]byte{0x13, 0x88, 0x17, 0xc1, byte((8 + len(gen)) >> 8), byte(8 + len(gen)), 0, 0}, gen...)
	n := 20 + len(udp)
	ip := append([]byte{0x45, 0, byte(n >> 8), byte(n), 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 99, 0, 1, 10, 99, 0, 2}, udp...)
	return append([]byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00}, ip...)
}()
