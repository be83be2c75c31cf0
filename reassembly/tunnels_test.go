package reassembly_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestTunnelsAgainstTshark: every capture in testdata/captures/tunnels (HTTP
// through a tunnel or an encapsulation, or rewrapped in another link type;
// see testdata/README.md) gives tshark's TCP streams with the same bytes,
// sha256 and chunks, as the corpus does. tshark's udp.stream also numbers
// the outer datagrams of UDP tunnels (VXLAN, Geneve, GTP-U, GRE-in-UDP);
// sockscope decapsulates them, so no UDP flow is expected. Its frame
// accounting adds up: TCP, ARP and ICMPv6 frames as tshark counts them, and
// every frame in exactly one of TCP, UDP, not IP, other IP, malformed.
func TestTunnelsAgainstTshark(t *testing.T) {
	facts := tunnelFacts(t)
	files, _ := filepath.Glob("../testdata/captures/tunnels/*.pcap")
	if len(files) < 30 {
		t.Fatalf("%d tunnel captures, want the 32 of testdata/captures/tunnels", len(files))
	}
	for _, path := range files {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("../testdata/tshark", base+".json"))
			if err != nil {
				t.Fatalf("no recorded tshark answer: %v", err)
			}
			var want tsharkFollow
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatal(err)
			}
			streams, tr, err := analyze(t, path)
			if err != nil {
				t.Fatal(err)
			}
			if want.TCPStreams == 0 {
				t.Fatal("tshark found no TCP stream: nothing checked")
			}
			compareTshark(t, streams, tr, &want, false)
			st := tr.Stats
			if st.UDPFlows != 0 {
				t.Errorf("%d UDP flows: tunnel datagrams were not decapsulated", st.UDPFlows)
			}
			f, ok := facts[base]
			if !ok {
				t.Fatal("no tshark facts")
			}
			kinds := map[string]int{}
			sum := 0
			for k, n := range st.Unflowed {
				kinds[k.String()] += n
				sum += n
			}
			if base == "tunnel_mplspw.pcap" {
				// Frame 1 is an IPv6 MLD report in an Ethernet pseudowire whose
				// control word carries sequence number 2 (00 00 00 02): tshark
				// 4.0 reads the control word as the start of a MAC address and
				// shows "Ethernet II 0xab99"; sockscope takes the control word,
				// which gives EtherType 0x86dd and ICMPv6.
				f.icmpv6++
			}
			if st.Packets != f.frames || st.TCP != f.tcp || kinds["ARP"] != f.arp || kinds["ICMPv6"] != f.icmpv6 {
				t.Errorf("frames %d TCP %d ARP %d ICMPv6 %d; tshark %d %d %d %d (%v)", st.Packets, st.TCP, kinds["ARP"], kinds["ICMPv6"], f.frames, f.tcp, f.arp, f.icmpv6, kinds)
			}
			// Fragments that did not complete a datagram are counted only
			// among the fragments (the header says "N IP fragments → M
			// datagrams rebuilt"); everything else in exactly one class.
			waiting := st.Packets - (st.TCP + st.UDP + st.NotIP + st.Other + st.Malformed)
			if sum != st.NotIP+st.Other+st.Malformed || waiting < 0 || waiting > st.Fragments || st.Fragments == 0 && waiting != 0 {
				t.Errorf("accounting does not add up: %d packets = %d TCP + %d UDP + %d not IP + %d other IP + %d malformed; kinds %v", st.Packets, st.TCP, st.UDP, st.NotIP, st.Other, st.Malformed, kinds)
			}
		})
	}
}

type tunnelFact struct{ frames, tcp, arp, icmpv6 int }

// tunnelFacts reads testdata/tshark/tunnels_facts.tsv (record_answers.sh).
func tunnelFacts(t *testing.T) map[string]tunnelFact {
	t.Helper()
	f, err := os.Open("../testdata/tshark/tunnels_facts.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]tunnelFact{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 5 || c[0] == "capture" {
			continue
		}
		var n [4]int
		for i := range n {
			n[i], _ = strconv.Atoi(c[i+1])
		}
		m[c[0]] = tunnelFact{n[0], n[1], n[2], n[3]}
	}
	return m
}
