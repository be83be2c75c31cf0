package reassembly_test

import (
	"reflect"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// TestPipelineEqualsSerial: the two-goroutine read path gives exactly the
// serial path's streams (summaries, kept bytes, segment maps, packet
// records), statistics and errors, on every corpus capture.
func TestPipelineEqualsSerial(t *testing.T) {
	for base, path := range corpusFiles(t) {
		t.Run(base, func(t *testing.T) {
			run := func(pipelined bool) ([]*reassembly.Stream, reassembly.Stats, string) {
				src, err := capture.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				var col reassembly.Collector
				tr := reassembly.NewTracker(reassembly.Options{OnStream: col.Add, Keep: func(capture.Proto, int) bool { return true }})
				if pipelined {
					err = tr.Consume(src)
				} else {
					err = tr.ConsumeSerial(src)
				}
				msg := ""
				if err != nil {
					msg = err.Error()
				}
				return col.Streams(), tr.Stats, msg
			}
			s1, st1, e1 := run(false)
			s2, st2, e2 := run(true)
			if e1 != e2 || !reflect.DeepEqual(st1, st2) {
				t.Fatalf("stats/errors differ:\n serial    %+v %q\n pipelined %+v %q", st1, e1, st2, e2)
			}
			if len(s1) != len(s2) {
				t.Fatalf("%d streams vs %d", len(s1), len(s2))
			}
			for i := range s1 {
				if !reflect.DeepEqual(s1[i], s2[i]) {
					t.Fatalf("%s differs between the serial and pipelined paths", s1[i].Name())
				}
			}
		})
	}
}
