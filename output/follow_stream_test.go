package output

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/reassembly"
)

// TestFollowStreamedSame checks that the text and JSON views of an
// analysis that streamed its messages (FollowTextView, FollowJSONView over
// decode.AnalyzeTo: what follow runs) are byte for byte those of one that
// held them (FollowText, FollowJSON over decode.Analyze), for every stream
// of every bundled capture, with and without --all, under two framings.
func TestFollowStreamedSame(t *testing.T) {
	var files []string
	for _, g := range []string{"../testdata/corpus/*", "../testdata/captures/*.pcap*"} {
		m, _ := filepath.Glob(g)
		files = append(files, m...)
	}
	views := 0
	for _, f := range files {
		src, err := capture.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		var col reassembly.Collector
		tr := reassembly.NewTracker(reassembly.Options{Keep: func(capture.Proto, int) bool { return true }, OnStream: col.Add})
		tr.Consume(src) // damaged captures: the streams before the damage count
		src.Close()
		for _, s := range col.Streams() {
			for _, spec := range []string{"auto", "raw"} {
				held, err := decode.Analyze(s, spec)
				if err != nil {
					t.Fatal(err)
				}
				for _, all := range []bool{false, true} {
					o := FollowOptions{Width: 120, All: all}
					var want, got bytes.Buffer
					if err := FollowText(&want, held, o); err != nil {
						t.Fatal(err)
					}
					tv := NewFollowTextView(all)
					a, err := decode.AnalyzeTo(s, spec, tv.Message)
					if err != nil {
						t.Fatal(err)
					}
					if err := tv.Write(&got, a, FollowOptions{Width: 120}); err != nil {
						t.Fatal(err)
					}
					if got.String() != want.String() {
						t.Errorf("%s %s --framing %s all=%v: streamed text differs\n got:\n%s\nwant:\n%s", filepath.Base(f), s.Name(), spec, all, got.String(), want.String())
					}
					views++
				}
				var want, got bytes.Buffer
				if err := FollowJSON(&want, held, nil); err != nil {
					t.Fatal(err)
				}
				jv := NewFollowJSONView()
				a, err := decode.AnalyzeTo(s, spec, jv.Message)
				if err != nil {
					t.Fatal(err)
				}
				if err := jv.Write(&got, a, nil); err != nil {
					t.Fatal(err)
				}
				jv.Close()
				if got.String() != want.String() {
					t.Errorf("%s %s --framing %s: streamed JSON differs", filepath.Base(f), s.Name(), spec)
				}
				views++
			}
		}
	}
	if views < 500 {
		t.Errorf("only %d views compared", views)
	}
	t.Logf("%d views alike", views)
}
