package reassembly

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
)

// TestOrderedDeliversInIDOrder: streams finishing in any order come out in
// ID order, TCP then UDP, each once; a second delivery before the stream is
// emitted is merged, after it is offered to OnLate or counted as late.
func TestOrderedDeliversInIDOrder(t *testing.T) {
	for _, interleave := range []bool{false, true} {
		t.Run(map[bool]string{false: "tcp_then_udp", true: "interleaved"}[interleave], func(t *testing.T) {
			testOrdered(t, interleave)
		})
	}
}

func testOrdered(t *testing.T, interleave bool) {
	const n = 5000
	rng := rand.New(rand.NewPCG(7, 8))
	t0 := time.Unix(1_700_000_000, 0)
	var got []Summary
	o := &Ordered{Settle: time.Second, Interleave: interleave, Emit: func(s *Summary) error { got = append(got, *s); return nil }}
	var late []int32
	o.OnLate = func(s *Summary) bool { late = append(late, s.ID); return s.ID%2 == 0 }
	type ev struct {
		proto capture.Proto
		id    int
	}
	var evs []ev
	for i := range n {
		evs = append(evs, ev{capture.ProtoTCP, i}, ev{capture.ProtoUDP, i})
	}
	// Streams finish roughly in ID order, shuffled within blocks of 64.
	for b := 0; b < len(evs); b += 64 {
		blk := evs[b:min(b+64, len(evs))]
		rng.Shuffle(len(blk), func(i, j int) { blk[i], blk[j] = blk[j], blk[i] })
	}
	emitted := func(p capture.Proto, id int) bool {
		for _, s := range got {
			if s.Proto == p && int(s.ID) == id {
				return true
			}
		}
		return false
	}
	packets := map[ev]int{}
	lateWant := 0
	again := map[int][]*Stream{} // event index -> streams delivered again then
	for i, e := range evs {
		end := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		for _, s := range again[i] {
			// A second part, delivered later: merged, or late once emitted.
			if (s.Proto == capture.ProtoTCP || interleave) && emitted(s.Proto, s.ID) {
				lateWant++
			} else {
				packets[ev{s.Proto, s.ID}]++
			}
			o.Add(s)
		}
		s := &Stream{Proto: e.proto, ID: e.id, Start: end, End: end}
		s.Dirs[0].Packets = 1
		o.Add(s)
		packets[e]++
		if rng.IntN(10) == 0 {
			at := i + 1 + rng.IntN(400)
			again[at] = append(again[at], s)
		}
	}
	if err := o.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2*n {
		t.Fatalf("%d emitted, want %d", len(got), 2*n)
	}
	if !interleave {
		// TCP by ID, then UDP by ID.
		for i, s := range got {
			wantP, wantID := capture.ProtoTCP, i
			if i >= n {
				wantP, wantID = capture.ProtoUDP, i-n
			}
			if s.Proto != wantP || int(s.ID) != wantID {
				t.Fatalf("emitted #%d is %v/%d, want %v/%d", i, s.Proto, s.ID, wantP, wantID)
			}
		}
	}
	next := map[capture.Proto]int{}
	udpBeforeLastTCP := false
	for i, s := range got {
		if int(s.ID) != next[s.Proto] {
			t.Fatalf("emitted #%d is %v/%d, want %v/%d (each protocol in ID order, each once)", i, s.Proto, s.ID, s.Proto, next[s.Proto])
		}
		next[s.Proto]++
		if s.Proto == capture.ProtoUDP && next[capture.ProtoTCP] < n {
			udpBeforeLastTCP = true
		}
		if w := packets[ev{s.Proto, int(s.ID)}]; int(s.Dirs[0].Packets) != w {
			t.Errorf("%v/%d: %d packets, want %d (merged deliveries)", s.Proto, s.ID, s.Dirs[0].Packets, w)
		}
	}
	if interleave && !udpBeforeLastTCP {
		t.Error("interleaved, yet every UDP flow waited for the last TCP stream")
	}
	if lateWant == 0 {
		t.Fatal("no late delivery exercised")
	}
	if len(late) != lateWant {
		t.Errorf("OnLate offered %d, want %d", len(late), lateWant)
	}
	odd := 0
	for _, id := range late {
		odd += int(id % 2)
	}
	if o.Late != odd {
		t.Errorf("Late = %d, want %d (the ones OnLate refused)", o.Late, odd)
	}
}

// TestCollectorLimit: a Collector with a Limit keeps the most recent
// streams by first frame, counts the others, and still merges a stream
// delivered again.
func TestCollectorLimit(t *testing.T) {
	c := Collector{Limit: 10}
	for i := range 25 {
		proto := capture.ProtoTCP
		if i%5 == 4 {
			proto = capture.ProtoUDP
		}
		c.Add(&Stream{ID: i, Proto: proto, FirstFrame: i + 1, Dirs: [2]Half{{Packets: 1}}})
	}
	c.Add(&Stream{ID: 23, Proto: capture.ProtoTCP, FirstFrame: 100, Dirs: [2]Half{{Packets: 2}}}) // a resumed part
	got := c.Streams()
	if len(got) != 10 || c.Dropped != 15 {
		t.Fatalf("%d streams kept, %d dropped; want 10 and 15", len(got), c.Dropped)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name())
		if s.ID == 23 && s.Dirs[0].Packets != 3 {
			t.Errorf("tcp/23: %d packets, want the resumed part merged (3)", s.Dirs[0].Packets)
		}
	}
	if want := "tcp/15 tcp/16 tcp/17 tcp/18 tcp/20 tcp/21 tcp/22 tcp/23 udp/19 udp/24"; strings.Join(names, " ") != want {
		t.Errorf("kept %s, want %s", strings.Join(names, " "), want)
	}
}
