package output

import (
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// TestCaptureSummaryUnflowed: frames that did not become flows are listed by
// class and kind, most frequent first, and only the classes that occur.
func TestCaptureSummaryUnflowed(t *testing.T) {
	r := &ReadReport{Info: capture.Info{Name: "x.pcap", Format: "pcap", LinkTypes: []capture.LinkType{capture.LinkEthernet}}}
	r.Stats = reassembly.Stats{Packets: 20, TCP: 5, NotIP: 9, Other: 5, Malformed: 1, Unflowed: map[reassembly.Unflowed]int{
		{Class: reassembly.NotIPFrame, What: "ARP"}:                                               6,
		{Class: reassembly.NotIPFrame, What: "EtherType", Code: 0x88b5}:                           1,
		{Class: reassembly.NotIPFrame, What: "LLDP"}:                                              2,
		{Class: reassembly.OtherIPFrame, What: "GRE protocol", Code: 0x1234}:                      1,
		{Class: reassembly.OtherIPFrame, What: "ICMP"}:                                            4,
		{Class: reassembly.MalformedFrame, What: "VXLAN header cut short by the snapshot length"}: 1,
	}}
	lines, _ := captureSummary(r, "x.pcap")
	var got []string
	for _, l := range lines {
		got = append(got, l[0]+": "+l[1])
	}
	want := []string{
		"not IP: 6 ARP · 2 LLDP · 1 EtherType 0x88b5",
		"other IP: 4 ICMP · 1 GRE protocol 0x1234",
		"issues: 1 VXLAN header cut short by the snapshot length",
	}
	if g := strings.Join(got[len(got)-3:], "\n"); g != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", g, strings.Join(want, "\n"))
	}
	r.Stats.Unflowed = nil
	lines, _ = captureSummary(r, "x.pcap")
	if last := lines[len(lines)-1][0]; last != "streams" {
		t.Errorf("no unflowed frames: last line %q, want streams", last)
	}
}
