package output

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

func TestReportPreview(t *testing.T) {
	// Bytes [0,5) from one frame, [5,8) missing, [8,12) from another.
	h := &reassembly.Half{Data: []byte("hello\x1bxyz")}
	h.Chunks.Append(reassembly.Chunk{Range: reassembly.ByteRange{Start: 0, End: 5}, Frame: 4, Data: 0})
	h.Chunks.Append(reassembly.Chunk{Range: reassembly.ByteRange{Start: 8, End: 12}, Frame: 6, Data: 5})
	tests := []struct {
		r    reassembly.ByteRange
		n    int
		want string
	}{
		{reassembly.ByteRange{Start: 0, End: 5}, 64, "hello"},
		{reassembly.ByteRange{Start: 0, End: 5}, 3, "hel…"},
		{reassembly.ByteRange{Start: 2, End: 10}, 64, "llo⟨gap⟩"},
		{reassembly.ByteRange{Start: 8, End: 12}, 64, `\exyz`},
		{reassembly.ByteRange{Start: 5, End: 8}, 64, "⟨gap⟩"},
	}
	for _, tc := range tests {
		if got := preview(h, tc.r, tc.n); got != tc.want {
			t.Errorf("preview(%v, %d) = %q, want %q", tc.r, tc.n, got, tc.want)
		}
	}
}

func TestReportEmptyCapture(t *testing.T) {
	var buf bytes.Buffer
	in := &ReportInput{Read: &ReadReport{Info: capture.Info{Name: "empty.pcap", Format: "pcap"}}, Generator: "test"}
	res, err := ReportHTML(&buf, in, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if res.Size != int64(len(page)) || res.Streams != 0 || res.Rows != 0 || res.Overflow {
		t.Errorf("result %+v for an empty capture of %d bytes", res, len(page))
	}
	for _, want := range []string{"No stream is drawn in detail", "Findings were not run", "0 of 0 streams"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// A cap below the page's own size: written anyway, and said so.
	res, err = ReportHTML(&buf, in, ReportOptions{MaxSize: 100})
	if err != nil || !res.Overflow {
		t.Errorf("MaxSize 100: %+v, %v; want Overflow", res, err)
	}
}
