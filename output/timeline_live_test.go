package output

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// liveFeed gives every packet of streams to a TimelineLive in frame order,
// interleaving the streams as a capture would, then ends each stream.
func liveFeed(t *testing.T, tl *TimelineLive, streams []*reassembly.Stream) {
	t.Helper()
	type item struct {
		s *reassembly.Stream
		r *reassembly.PacketRecord
	}
	var all []item
	for _, s := range streams {
		for _, r := range s.Packets.All() {
			all = append(all, item{s, r})
		}
	}
	for i := 1; i < len(all); i++ { // insertion sort by frame: small inputs
		for j := i; j > 0 && all[j].r.Frame < all[j-1].r.Frame; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	for _, it := range all {
		if err := tl.Packet(it.s, it.r, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range streams {
		if err := tl.End(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := tl.Finish(0); err != nil {
		t.Fatal(err)
	}
}

var (
	fillRun  = regexp.MustCompile(`─+`)
	spaceRun = regexp.MustCompile(` +`)
)

// arrowRows returns the packet rows of a ladder (those that start with a
// frame number), with the arrows' fill and the padding collapsed, so that
// ladders drawn with different column widths compare equal.
func arrowRows(out string) []string {
	var rows []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !regexp.MustCompile(`^[0-9]+$`).MatchString(f[0]) || !strings.HasPrefix(f[1], "+") {
			continue
		}
		rows = append(rows, spaceRun.ReplaceAllString(fillRun.ReplaceAllString(strings.TrimSpace(line), "─"), " "))
	}
	return rows
}

// TestTimelineLiveSameArrows: drawn packet by packet, the live ladder's
// arrows and margin notes are those of the file view, and its JSON records
// are the file view's records.
func TestTimelineLiveSameArrows(t *testing.T) {
	for _, name := range []string{"handshake", "retransmission", "zero-window", "tcp-vs-udp", "refused"} {
		t.Run(name, func(t *testing.T) {
			streams := demoStreams(t, name)
			var ts []TimelineStream
			for _, s := range streams {
				ts = append(ts, TimelineStream{Stream: s})
			}
			o := TimelineOptions{Width: 220} // every arrow and note on one line
			var batch, live bytes.Buffer
			if err := TimelineText(&batch, ts, o); err != nil {
				t.Fatal(err)
			}
			liveFeed(t, NewTimelineLive(&live, "text", o), streams)
			want, got := arrowRows(batch.String()), arrowRows(live.String())
			if len(want) == 0 || strings.Join(want, "\n") != strings.Join(got, "\n") {
				t.Errorf("live arrows differ from the file view's:\nfile:\n%s\nlive:\n%s", batch.String(), live.String())
			}
			for _, s := range streams {
				if n := strings.Count(live.String(), s.Name()+"  "); n < 1 {
					t.Errorf("%s: no header in\n%s", s.Name(), live.String())
				}
			}

			batch.Reset()
			live.Reset()
			if err := TimelineJSON(&batch, ts, o); err != nil {
				t.Fatal(err)
			}
			liveFeed(t, NewTimelineLive(&live, "json", o), streams)
			if len(streams) == 1 && batch.String() != live.String() {
				t.Errorf("JSON:\nfile:\n%s\nlive:\n%s", batch.String(), live.String())
			}
			if strings.Count(batch.String(), "\n") != strings.Count(live.String(), "\n") {
				t.Errorf("JSON: %d records live, %d from the file", strings.Count(live.String(), "\n"), strings.Count(batch.String(), "\n"))
			}
		})
	}
}

// TestTimelineLiveInterleaved: when the streams' packets interleave, each
// stream's header comes once, with its first packet, and its title line is
// repeated before its next arrow after another stream's.
func TestTimelineLiveInterleaved(t *testing.T) {
	streams := demoStreams(t, "tcp-vs-udp")
	if len(streams) != 2 {
		t.Fatalf("%d streams, want 2", len(streams))
	}
	var b bytes.Buffer
	tl := NewTimelineLive(&b, "text", TimelineOptions{Width: 100})
	a, u := streams[0], streams[1]
	steps := []struct {
		s *reassembly.Stream
		i int
	}{{a, 0}, {a, 1}, {u, 0}, {a, 2}, {u, 1}}
	for _, st := range steps {
		if err := tl.Packet(st.s, st.s.Packets.At(st.i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := tl.Labels(u, reassembly.ClientToServer, []string{"#1 late \x1b[2J"}); err != nil {
		t.Fatal(err)
	}
	if err := tl.Finish(3); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	title := func(s *reassembly.Stream) string { return s.Name() + "  " }
	if n := strings.Count(out, "\n"+title(a)) + strings.Count(out[:len(title(a))], title(a)); n != 2 {
		t.Errorf("%s title %d times, want 2 (first packet, then after udp/0's):\n%s", a.Name(), n, out)
	}
	if n := strings.Count(out, "\n"+title(u)); n != 2 {
		t.Errorf("%s title %d times, want 2:\n%s", u.Name(), n, out)
	}
	if n := strings.Count(out, "# time"); n != 2 {
		t.Errorf("%d column heads, want one per stream:\n%s", n, out)
	}
	if !strings.Contains(out, `#1 late \e[2J`) || strings.Contains(out, "\x1b") {
		t.Errorf("late label missing or not escaped:\n%q", out)
	}
	if !strings.Contains(out, "3 more streams not drawn") {
		t.Errorf("omitted streams not said:\n%s", out)
	}
}

// TestTimelineLiveMermaid: the live Mermaid output is one diagram, with a
// stream's participants declared before its first arrow.
func TestTimelineLiveMermaid(t *testing.T) {
	streams := demoStreams(t, "tcp-vs-udp")
	var b bytes.Buffer
	liveFeed(t, NewTimelineLive(&b, "mermaid", TimelineOptions{Explain: true}), streams)
	out := b.String()
	if !strings.HasPrefix(out, "sequenceDiagram\n") || strings.Count(out, "sequenceDiagram") != 1 {
		t.Errorf("not one diagram:\n%s", out)
	}
	for i := range streams {
		c := "C" + string(rune('0'+i))
		decl, use := strings.Index(out, "participant "+c+" "), strings.Index(out, "    "+c+"->>")
		if decl < 0 || use < 0 || decl > use {
			t.Errorf("participant %s declared at %d, used at %d:\n%s", c, decl, use, out)
		}
	}
}

// TestTimelineLiveCopies: a stream with path duplicates gets its copies
// record after its packets, live as from the file, and a copies line in
// text (in the file view's header; live, under the ladder once known).
func TestTimelineLiveCopies(t *testing.T) {
	streams := demoStreams(t, "handshake")[:1]
	streams[0].Dups = &reassembly.PathDups{Count: 2, Again: "IPv4 10.97.0.1→10.97.0.2 › VXLAN 77"}
	ts := []TimelineStream{{Stream: streams[0]}}
	const want = "copies: 2 packets seen again through another path (no encapsulation, then IPv4 10.97.0.1→10.97.0.2 › VXLAN 77): not counted"
	var batch, live bytes.Buffer
	if err := TimelineJSON(&batch, ts, TimelineOptions{}); err != nil {
		t.Fatal(err)
	}
	liveFeed(t, NewTimelineLive(&live, "json", TimelineOptions{}), streams)
	rec := `{"type":"copies","stream":"tcp/0","path_duplicates":2,"duplicate_paths":["","IPv4 10.97.0.1→10.97.0.2 › VXLAN 77"]}` + "\n"
	if batch.String() != live.String() || !strings.HasSuffix(batch.String(), rec) {
		t.Errorf("JSON:\nfile:\n%s\nlive:\n%s", batch.String(), live.String())
	}
	for _, f := range []string{"text", "mermaid"} {
		batch.Reset()
		live.Reset()
		o := TimelineOptions{Width: 220}
		if f == "text" {
			if err := TimelineText(&batch, ts, o); err != nil {
				t.Fatal(err)
			}
		} else if err := TimelineMermaid(&batch, ts, o); err != nil {
			t.Fatal(err)
		}
		liveFeed(t, NewTimelineLive(&live, f, o), streams)
		if !strings.Contains(batch.String(), want) || !strings.Contains(live.String(), want) {
			t.Errorf("%s lacks %q:\nfile:\n%s\nlive:\n%s", f, want, batch.String(), live.String())
		}
	}
}
