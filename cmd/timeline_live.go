package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/output"
	"github.com/sockscope/sockscope/reassembly"
)

// liveLabel is a message label waiting for its arrow.
type liveLabel struct {
	dir  reassembly.Direction
	text string
}

// timelineLive draws the timeline of a live capture as packets arrive
// (timeline -i): the tracker's OnPacket (TCP) and datagram events (UDP) give
// each packet of a drawn stream the moment it is processed; a Streamer
// frames the drawn streams' bytes, and the messages a packet completes are
// labelled on its arrow.
func timelineLive(ctx context.Context, ios *streams, o *timelineOptions, ro output.TimelineOptions) error {
	spec := o.Framing
	labelled := spec != "" && spec != "none"
	if labelled {
		if _, err := decode.ParseSpec(spec); err != nil {
			return usagef("--framing: %v", err)
		}
	}
	want := map[reassembly.StreamID]bool{}
	for _, r := range o.Streams {
		want[r] = true
	}
	in, err := openInput(ctx, ios, nil, &o.In)
	if err != nil {
		return err
	}
	defer in.Close()
	announceLive(ios, in, o.In.Filter)

	out := bufio.NewWriterSize(ios.Out, 64<<10)
	tl := output.NewTimelineLive(out, o.Format, ro)
	var (
		cur      *capture.Packet
		pending  = map[reassembly.StreamID][]liveLabel{} // completed while their packet is processed
		waiting  []*reassembly.Stream                    // the streams with pending labels, in order
		framings = map[reassembly.StreamID]string{}      // chosen while their packet is processed
		drawn    = map[reassembly.StreamID]bool{}
		werr     error
		toldMore bool
	)
	keep := func(p capture.Proto, id int) bool {
		r := reassembly.StreamID{Proto: p, ID: id}
		if len(want) > 0 {
			return want[r]
		}
		if o.Limit == 0 || id < o.Limit {
			return true
		}
		if !toldMore {
			toldMore = true
			fmt.Fprintf(ios.Err, "sockscope: %s: more than %d streams; later ones are counted, not drawn (--limit N, --all, or name them)\n", r, o.Limit)
		}
		return false
	}
	check := func(err error) {
		if werr == nil {
			werr = err
		}
	}
	// arrow draws one packet with the labels of the messages it completed,
	// then how the stream is framed if that was just decided.
	arrow := func(s *reassembly.Stream, r *reassembly.PacketRecord) {
		ref := s.StreamID()
		drawn[ref] = true
		var labels []string
		for _, l := range pending[ref] {
			labels = append(labels, l.text)
		}
		delete(pending, ref)
		check(tl.Packet(s, r, labels))
		if f, ok := framings[ref]; ok {
			delete(framings, ref)
			check(tl.Framing(s, f))
		}
	}
	// late writes the labels of messages completed after their last
	// packet's arrow was drawn (at a FIN, or when the capture stopped).
	late := func(s *reassembly.Stream) {
		ref := s.StreamID()
		for _, l := range pending[ref] {
			check(tl.Labels(s, l.dir, []string{l.text}))
		}
		delete(pending, ref)
	}
	lateAll := func() {
		for _, s := range waiting {
			late(s)
		}
		waiting = waiting[:0]
	}

	var st *decode.Streamer
	if labelled {
		st, err = decode.NewStreamer(decode.StreamerOptions{Framing: spec, Keys: in.Keys, Refresh: in.refresher(),
			OnMessage: func(s *reassembly.Stream, m *decode.Message) {
				ref := s.StreamID()
				if len(pending[ref]) == 0 {
					waiting = append(waiting, s)
				}
				pending[ref] = append(pending[ref], liveLabel{m.Dir, liveMessageLabel(m)})
			},
			OnFraming: func(s *reassembly.Stream, framing, reason string) {
				if framing == "raw" && (spec == "auto" || spec == "") {
					return // auto found no protocol: no labels will come
				}
				framings[s.StreamID()] = framing + " (" + reason + ")"
			},
		})
		if err != nil {
			return usagef("--framing: %v", err)
		}
	}
	topts := reassembly.Options{
		Keep: keep,
		OnPacket: func(s *reassembly.Stream, r *reassembly.PacketRecord) {
			if s.KeptData {
				arrow(s, r)
			}
		},
		OnData: func(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
			if st != nil && s.KeptData {
				st.Data(s, d, r, b, frame)
			}
		},
		OnEvent: func(e reassembly.Event) {
			s := e.Stream
			if !s.KeptData {
				return
			}
			switch e.Kind {
			case reassembly.EventDatagram:
				// UDP has no packet records live: make the one the file view keeps.
				n := cur.PayloadLen
				arrow(s, &reassembly.PacketRecord{Frame: e.Frame, Time: e.Time, Dir: e.Dir,
					Seq: s.Dirs[e.Dir].Bytes - int64(n) + 1, Len: n, WinScaled: -1})
			case reassembly.EventHalfClosed:
				if st != nil {
					st.CloseDir(s, e.Dir)
				}
			case reassembly.EventClosed, reassembly.EventReset, reassembly.EventRefused:
				if st != nil {
					st.CloseDir(s, reassembly.ClientToServer)
					st.CloseDir(s, reassembly.ServerToClient)
				}
			}
		},
		OnStream: func(s *reassembly.Stream) {
			if !s.KeptData {
				return
			}
			if st != nil {
				st.End(s)
			}
			late(s)
			check(tl.End(s))
		},
	}
	if err := o.Bounds.apply(&topts); err != nil {
		return err
	}
	tr := reassembly.NewTracker(topts)
	var p capture.Packet
	var readErr error
	for werr == nil {
		if err := in.Next(&p); err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = err
			}
			break
		}
		cur = &p
		tr.Add(&p)
		lateAll()
		if werr == nil {
			werr = out.Flush()
		}
	}
	tr.Finish()
	in.Defrag.Finish()
	omitted := 0
	var missing []string
	if len(want) == 0 {
		omitted = tr.Stats.TCPStreams + tr.Stats.UDPFlows - len(drawn)
	} else {
		for _, r := range o.Streams {
			if !drawn[r] {
				drawn[r] = true // name it once
				missing = append(missing, r.String())
			}
		}
	}
	check(tl.Finish(omitted))
	if werr == nil {
		werr = out.Flush()
	}
	reportLive(ios, in)
	closeErr := in.Close()
	switch {
	case werr != nil:
		return fmt.Errorf("write output: %w", werr)
	case readErr != nil:
		return fmt.Errorf("capture on %s stopped: %w", in.Info().Name, readErr)
	case len(missing) > 0:
		return fmt.Errorf("%s: not seen (the capture had %s and %s)", strings.Join(missing, ", "),
			countStreams(tr.Stats.TCPStreams, "TCP stream", "tcp"), countStreams(tr.Stats.UDPFlows, "UDP flow", "udp"))
	}
	return closeErr
}

// liveMessageLabel labels a message under the arrow of the packet that
// completed it: "#2 200 OK 3000 B (3 segments from frame 5)".
func liveMessageLabel(m *decode.Message) string {
	text := fmt.Sprintf("#%d %s", m.Index, m.Summary)
	if m.Partial {
		text += " (partial)"
	}
	if n := len(m.Frames); n > 1 {
		text += fmt.Sprintf(" (%d segments from frame %d)", n, m.Frames[0])
	}
	return text
}
