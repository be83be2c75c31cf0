package reassembly_test

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"github.com/sockscope/sockscope/reassembly"
)

var (
	cli = netip.MustParseAddrPort("10.0.0.1:40000")
	srv = netip.MustParseAddrPort("10.0.0.2:80")
)

func run(t *testing.T, c *pcapgen.Capture) []*reassembly.Stream {
	t.Helper()
	src, err := capture.NewReader("gen.pcap", bytes.NewReader(c.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var col reassembly.Collector
	tr := reassembly.NewTracker(reassembly.Options{OnStream: col.Add, Keep: func(capture.Proto, int) bool { return true }})
	if err := tr.Consume(src); err != nil {
		t.Fatal(err)
	}
	return col.Streams()
}

func TestStates(t *testing.T) {
	tests := []struct {
		name      string
		build     func(c *pcapgen.Capture)
		streams   int
		state     reassembly.State
		describe  string // substring of Describe() of the first stream
		c2s, s2c  string // reassembled bytes of the first stream
		midstream bool
		guessed   bool
	}{
		{
			name: "closed by client",
			build: func(c *pcapgen.Capture) {
				k := pcapgen.NewConn(c, cli, srv, 1000, 5000)
				k.Handshake()
				k.Send(0, []byte("hello"))
				k.Send(1, []byte("world!"))
				k.Fin(0)
				k.Fin(1)
				k.Ack(0)
			},
			streams: 1, state: reassembly.StateClosed, describe: "closed by client (FIN first)", c2s: "hello", s2c: "world!",
		},
		{
			name: "refused",
			build: func(c *pcapgen.Capture) {
				k := pcapgen.NewConn(c, cli, srv, 1000, 0)
				k.Raw(0, 1000, pcapgen.SYN, nil)
				k.Raw(1, 0, pcapgen.RST|pcapgen.ACK, nil)
			},
			streams: 1, state: reassembly.StateRefused, describe: "refused (SYN answered by RST)",
		},
		{
			name: "no answer, SYN retransmitted",
			build: func(c *pcapgen.Capture) {
				k := pcapgen.NewConn(c, cli, srv, 1000, 0)
				k.Raw(0, 1000, pcapgen.SYN, nil)
				k.Raw(0, 1000, pcapgen.SYN, nil)
			},
			streams: 1, state: reassembly.StateNoAnswer, describe: "no answer (2 SYNs)",
		},
		{
			name: "reset by server after data",
			build: func(c *pcapgen.Capture) {
				k := pcapgen.NewConn(c, cli, srv, 1000, 5000)
				k.Handshake()
				k.Send(0, []byte("GET / HTTP/1.0\r\n\r\n"))
				k.Rst(1)
			},
			streams: 1, state: reassembly.StateReset, describe: "reset by server after 18 B", c2s: "GET / HTTP/1.0\r\n\r\n",
		},
		{
			name: "half-closed",
			build: func(c *pcapgen.Capture) {
				k := pcapgen.NewConn(c, cli, srv, 1000, 5000)
				k.Handshake()
				k.Send(0, []byte("req"))
				k.Fin(0)
				k.Send(1, []byte("still sending"))
			},
			streams: 1, state: reassembly.StateHalfClosed, describe: "half-closed by client", c2s: "req", s2c: "still sending",
		},
		{
			name: "picked up mid-stream",
			build: func(c *pcapgen.Capture) {
				k := pcapgen.NewConn(c, srv, cli, 7000, 9000) // first packet from the server
				k.Send(0, []byte("HTTP/1.1 200 OK\r\n"))
				k.Send(1, []byte("next"))
			},
			streams: 1, state: reassembly.StateOpen, describe: "open at end of capture, picked up mid-stream",
			c2s: "next", s2c: "HTTP/1.1 200 OK\r\n", midstream: true, guessed: true,
		},
		{
			name: "port reuse makes a new stream, SYN retransmission does not",
			build: func(c *pcapgen.Capture) {
				k := pcapgen.NewConn(c, cli, srv, 1000, 5000)
				k.Raw(0, 1000, pcapgen.SYN, nil) // retransmitted below: same stream
				k.Handshake()
				k.Send(0, []byte("one"))
				k.Fin(0)
				k.Fin(1)
				k.Ack(0)
				k2 := pcapgen.NewConn(c, cli, srv, 99999, 77777)
				k2.T = k.T
				k2.Handshake()
				k2.Send(0, []byte("two"))
			},
			streams: 2, state: reassembly.StateClosed, c2s: "one",
		},
		{
			name: "SYN carrying data",
			build: func(c *pcapgen.Capture) {
				k := pcapgen.NewConn(c, cli, srv, 1000, 5000)
				k.Raw(0, 1000, pcapgen.SYN, []byte("early"))
				k.Raw(1, 5000, pcapgen.SYN|pcapgen.ACK, nil)
			},
			streams: 1, state: reassembly.StateOpen, c2s: "early",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c pcapgen.Capture
			tt.build(&c)
			ss := run(t, &c)
			if len(ss) != tt.streams {
				t.Fatalf("%d streams, want %d", len(ss), tt.streams)
			}
			s := ss[0]
			if s.State != tt.state {
				t.Errorf("state %v, want %v", s.State, tt.state)
			}
			if !strings.Contains(s.Describe(), tt.describe) {
				t.Errorf("Describe() = %q, want it to contain %q", s.Describe(), tt.describe)
			}
			if got := string(s.Dirs[0].Data); got != tt.c2s {
				t.Errorf("c2s = %q, want %q", got, tt.c2s)
			}
			if got := string(s.Dirs[1].Data); got != tt.s2c {
				t.Errorf("s2c = %q, want %q", got, tt.s2c)
			}
			if s.Midstream != tt.midstream || s.ClientGuessed != tt.guessed {
				t.Errorf("midstream %v guessed %v, want %v %v", s.Midstream, s.ClientGuessed, tt.midstream, tt.guessed)
			}
			if tt.guessed && s.Client != cli {
				t.Errorf("guessed client %v, want %v (port 80 is the service)", s.Client, cli)
			}
		})
	}
}

// TestAnomalies covers the reassembly cases the issue lists, each with the
// classification and reason it must produce.
func TestAnomalies(t *testing.T) {
	t.Run("gap then more data", func(t *testing.T) {
		var c pcapgen.Capture
		k := pcapgen.NewConn(&c, cli, srv, 1000, 5000)
		k.Handshake()
		k.Send(0, []byte("aaaa"))
		k.Skip(0, 100)
		k.Send(0, []byte("bbbb"))
		s := run(t, &c)[0]
		h := s.Dirs[0]
		if string(h.Data) != "aaaabbbb" || h.Bytes != 108 || h.Missing != 100 {
			t.Fatalf("data %q bytes %d missing %d", h.Data, h.Bytes, h.Missing)
		}
		if len(h.Gaps) != 1 || h.Gaps[0].Range != (reassembly.ByteRange{Start: 4, End: 104}) || h.Gaps[0].Kind != reassembly.GapLost {
			t.Fatalf("gaps %+v", h.Gaps)
		}
	})
	t.Run("retransmission and overlap conflict, first copy wins", func(t *testing.T) {
		var c pcapgen.Capture
		k := pcapgen.NewConn(&c, cli, srv, 1000, 5000)
		k.Handshake()
		seq := k.Seq(0)
		k.Send(0, []byte("hello"))
		k.Raw(0, seq, pcapgen.PSH|pcapgen.ACK, []byte("hello"))
		k.Raw(0, seq, pcapgen.PSH|pcapgen.ACK, []byte("HELLO world"))
		s := run(t, &c)[0]
		h := s.Dirs[0]
		if string(h.Data) != "hello world" {
			t.Fatalf("data %q", h.Data)
		}
		kinds := []reassembly.Kind{reassembly.KindNew, reassembly.KindRetransmission, reassembly.KindPartialRetransmission}
		for i, seg := range h.Segments.All() {
			if seg.Kind != kinds[i] {
				t.Errorf("segment %d kind %v, want %v (%s)", i, seg.Kind, kinds[i], seg.Reason())
			}
		}
		if want := "retransmission: bytes [0,5) already received in frame 4"; h.Segments.At(1).Reason() != want {
			t.Errorf("reason %q, want %q", h.Segments.At(1).Reason(), want)
		}
		var conflict bool
		for _, a := range s.Anomalies {
			if a.Kind == reassembly.AnomalyOverlapConflict && strings.Contains(a.Reason, "kept frame 4's copy") {
				conflict = true
			}
		}
		if !conflict {
			t.Errorf("no overlap conflict among %+v", s.Anomalies)
		}
	})
	t.Run("out of order across the sequence wrap", func(t *testing.T) {
		var c pcapgen.Capture
		k := pcapgen.NewConn(&c, cli, srv, 0xffff_fff0, 5000)
		k.Handshake()
		s0 := k.Seq(0)
		k.Raw(0, s0+10, pcapgen.ACK, []byte("0123456789")) // bytes 10..20: crosses 2^32
		k.Raw(0, s0, pcapgen.ACK, []byte("abcdefghij"))
		s := run(t, &c)[0]
		h := s.Dirs[0]
		if string(h.Data) != "abcdefghij0123456789" {
			t.Fatalf("data %q", h.Data)
		}
		if h.Segments.At(1).Kind != reassembly.KindOutOfOrder {
			t.Errorf("kind %v (%s)", h.Segments.At(1).Kind, h.Segments.At(1).Reason())
		}
	})
	t.Run("snaplen", func(t *testing.T) {
		var c pcapgen.Capture
		k := pcapgen.NewConn(&c, cli, srv, 1000, 5000)
		k.Handshake()
		c.TCP(k.T, pcapgen.Segment{Src: cli, Dst: srv, Seq: k.Seq(0), Flags: pcapgen.ACK, Payload: []byte("abc"), WireLen: 1000})
		s := run(t, &c)[0]
		h := s.Dirs[0]
		if h.Bytes != 1000 || h.Missing != 997 || h.Truncated != 1 || len(h.Gaps) != 1 || h.Gaps[0].Kind != reassembly.GapSnaplen {
			t.Fatalf("bytes %d missing %d truncated %d gaps %+v", h.Bytes, h.Missing, h.Truncated, h.Gaps)
		}
	})
	t.Run("keep-alive is not data", func(t *testing.T) {
		var c pcapgen.Capture
		k := pcapgen.NewConn(&c, cli, srv, 1000, 5000)
		k.Handshake()
		k.Send(0, []byte("x"))
		k.Raw(0, k.Seq(0)-1, pcapgen.ACK, []byte{0})
		s := run(t, &c)[0]
		h := s.Dirs[0]
		if string(h.Data) != "x" || h.Segments.At(1).Kind != reassembly.KindKeepAlive {
			t.Fatalf("data %q kind %v", h.Data, h.Segments.At(1).Kind)
		}
	})
}

func TestSeq(t *testing.T) {
	a, b := reassembly.Seq(0xffff_fff0), reassembly.Seq(0x10)
	if !a.Less(b) || b.Less(a) || b.Diff(a) != 0x20 || a.Add(0x20) != b {
		t.Fatal("wrap arithmetic")
	}
	if !reassembly.Seq(5).InRange(a, b) || reassembly.Seq(0x20).InRange(a, b) {
		t.Fatal("InRange")
	}
}
