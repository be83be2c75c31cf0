package reassembly_test

import (
	"strconv"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// TestUnflowedBounded: a capture whose malformed frames all give different
// reasons keeps at most MaxUnflowedKinds kinds, and still counts every frame.
func TestUnflowedBounded(t *testing.T) {
	tr := reassembly.NewTracker(reassembly.Options{})
	for i := range 1000 {
		tr.Add(&capture.Packet{Frame: i + 1, Issue: "IPv4 total length " + strconv.Itoa(i) + " shorter than its header"})
		tr.Add(&capture.Packet{Frame: i + 1, NotIP: true, What: "ARP"})
	}
	st := tr.Stats
	n := 0
	for _, c := range st.Unflowed {
		n += c
	}
	if len(st.Unflowed) > reassembly.MaxUnflowedKinds || n != 2000 || st.Malformed != 1000 || st.NotIP != 1000 {
		t.Errorf("%d kinds (max %d), %d frames counted (want 2000), malformed %d, not IP %d", len(st.Unflowed), reassembly.MaxUnflowedKinds, n, st.Malformed, st.NotIP)
	}
	if st.Unflowed[reassembly.Unflowed{Class: reassembly.NotIPFrame, What: "ARP"}] != 1000 {
		t.Errorf("ARP: %d, want 1000", st.Unflowed[reassembly.Unflowed{Class: reassembly.NotIPFrame, What: "ARP"}])
	}
}
