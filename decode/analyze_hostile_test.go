package decode

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// A decoder that crashes on some input must cost only that stream's
// framing: the driver turns the panic into a framing error that says so,
// and every other stream (and the rest of the capture) is decoded as usual.

// boomDecoder frames lines, and panics (an index out of range, as a
// decoder bug would) on a line holding "BOOM"; with resyncBoom its Resync
// panics too.
type boomDecoder struct{ resyncBoom bool }

func (d *boomDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return Message{}, 0, ErrNeedMore
	}
	if bytes.Contains(b[:i], []byte("BOOM")) {
		var table []int
		_ = table[len(b)] // a decoder bug
	}
	return Message{Protocol: "boom", Summary: string(b[:i])}, i + 1, nil
}

func (d *boomDecoder) Resync(dir reassembly.Direction, b []byte) int {
	if d.resyncBoom {
		panic("resync bug")
	}
	return bytes.IndexByte(b, 'o') // any plausible start
}

// keptStreams feeds one TCP connection per payload list (client lines) to
// a tracker that keeps their data.
func keptLineStreams(t *testing.T, convs ...[]string) []*reassembly.Stream {
	t.Helper()
	var col reassembly.Collector
	tr := reassembly.NewTracker(reassembly.Options{OnStream: col.Add, Keep: func(capture.Proto, int) bool { return true }})
	at := time.Unix(1, 0)
	frame := 0
	for i, lines := range convs {
		c := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(40000+i))
		s := netip.MustParseAddrPort("10.0.0.2:7777")
		add := func(src, dst netip.AddrPort, seq uint32, f capture.TCPFlags, p string) {
			frame++
			at = at.Add(time.Millisecond)
			tr.Add(&capture.Packet{Frame: frame, Time: at, Proto: capture.ProtoTCP, Src: src, Dst: dst, Seq: seq, Ack: 1, Flags: f, Window: 1000, Payload: []byte(p), PayloadLen: len(p)})
		}
		add(c, s, 100, capture.SYN, "")
		add(s, c, 500, capture.SYN|capture.ACK, "")
		seq := uint32(101)
		for _, l := range lines {
			add(c, s, seq, capture.PSH|capture.ACK, l)
			seq += uint32(len(l))
		}
		add(c, s, seq, capture.FIN|capture.ACK, "")
	}
	tr.Finish()
	return col.Streams()
}

func analyzeWith(s *reassembly.Stream, dec Decoder) *Analysis {
	a := &Analysis{Stream: s, Framing: "boom", Reason: "test"}
	a.stream(dec)
	for d := range s.Dirs {
		a.mapSegments(reassembly.Direction(d))
	}
	return a
}

// TestAnalyzeContainsDecoderPanic: the batch driver (follow, timeline,
// report) survives a panicking decoder. The lines before the bad one are
// framed, the crash is a framing error naming the decoder failure, and the
// next stream, decoded after it, is untouched.
func TestAnalyzeContainsDecoderPanic(t *testing.T) {
	streams := keptLineStreams(t,
		[]string{"one\n", "two\n", "BOOM\n", "after\n"},
		[]string{"fine\n", "also fine\n"})
	for _, resyncBoom := range []bool{false, true} {
		a := analyzeWith(streams[0], &boomDecoder{resyncBoom: resyncBoom})
		msgs := a.Messages[reassembly.ClientToServer]
		if len(msgs) < 3 || msgs[0].Summary != "one" || msgs[1].Summary != "two" {
			t.Fatalf("resyncBoom=%v: messages %+v", resyncBoom, msgs)
		}
		errs := a.Errors[reassembly.ClientToServer]
		if len(errs) == 0 || !strings.Contains(errs[0].Reason, "decoder failed") || !strings.Contains(errs[0].Reason, "index out of range") {
			t.Fatalf("resyncBoom=%v: errors %+v, want the decoder failure", resyncBoom, errs)
		}
		if errs[0].Offset != 8 || a.Stats[reassembly.ClientToServer].Errors == 0 {
			t.Errorf("resyncBoom=%v: error at offset %d (want 8, where BOOM starts), %d counted", resyncBoom, errs[0].Offset, a.Stats[0].Errors)
		}
		// Every byte of the direction is accounted for by some message.
		var end int64
		for _, m := range msgs {
			if m.Range.Start != end {
				t.Errorf("resyncBoom=%v: message %d starts at %d, previous ended at %d", resyncBoom, m.Index, m.Range.Start, end)
			}
			end = m.Range.End
		}
		if end != streams[0].Dirs[0].Bytes {
			t.Errorf("resyncBoom=%v: messages cover [0,%d) of %d bytes", resyncBoom, end, streams[0].Dirs[0].Bytes)
		}
		b := analyzeWith(streams[1], &boomDecoder{resyncBoom: resyncBoom})
		if got := b.Messages[0]; len(got) != 2 || got[1].Summary != "also fine" || len(b.Errors[0]) != 0 {
			t.Errorf("resyncBoom=%v: the next stream was affected: %+v %+v", resyncBoom, got, b.Errors[0])
		}
	}
}

// TestStreamerContainsDecoderPanic: the incremental driver (live) survives
// a panicking decoder the same way: an unframed message says why, and the
// other stream keeps decoding.
func TestStreamerContainsDecoderPanic(t *testing.T) {
	streams := keptLineStreams(t,
		[]string{"one\n", "BOOM\n", "after\n"},
		[]string{"fine\n", "also fine\n"})
	for _, resyncBoom := range []bool{false, true} {
		got := map[int][]string{}
		st, err := NewStreamer(StreamerOptions{Framing: "line", OnMessage: func(s *reassembly.Stream, m *Message) {
			got[s.ID] = append(got[s.ID], m.Protocol+": "+m.Summary)
		}})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range streams {
			st.state(s).dec = &boomDecoder{resyncBoom: resyncBoom}
			h := &s.Dirs[reassembly.ClientToServer]
			for _, c := range h.Chunks.All() {
				st.Data(s, reassembly.ClientToServer, c.Range, h.Data[c.Data:c.Data+c.Range.Len()], c.Frame)
			}
			st.CloseDir(s, reassembly.ClientToServer)
			st.End(s)
		}
		if len(got[0]) < 2 || got[0][0] != "boom: one" || !strings.Contains(strings.Join(got[0], "|"), "decoder failed") {
			t.Errorf("resyncBoom=%v: stream 0 messages %q", resyncBoom, got[0])
		}
		if strings.Join(got[1], "|") != "boom: fine|boom: also fine" {
			t.Errorf("resyncBoom=%v: stream 1 messages %q", resyncBoom, got[1])
		}
	}
}
