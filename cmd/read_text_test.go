package cmd

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/internal/golden"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"github.com/sockscope/sockscope/output"
)

// tableRows returns the stream names of read's text table, in order.
func tableRows(out string) []string {
	var names []string
	row := regexp.MustCompile(`^((tcp|udp)/\d+)\s`)
	for _, l := range strings.Split(out, "\n") {
		if m := row.FindStringSubmatch(l); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

// TestReadTextLimitSortMatchesAll: for every corpus capture and sort key,
// the rows of --limit 3 (kept in a bounded heap while the capture is read)
// are the first three rows of --all (everything sorted at the end).
func TestReadTextLimitSortMatchesAll(t *testing.T) {
	files, _ := filepath.Glob("../testdata/corpus/*.pcap*")
	for _, f := range files {
		for _, key := range output.SortKeys {
			all, _, _ := runCLI(t, nil, "read", f, "--no-findings", "--all", "--sort", key)
			top, _, _ := runCLI(t, nil, "read", f, "--no-findings", "--limit", "3", "--sort", key)
			a, b := tableRows(all), tableRows(top)
			want := a[:min(3, len(a))]
			if !slices.Equal(b, want) {
				t.Errorf("%s --sort %s: --limit 3 shows %v, --all starts %v", filepath.Base(f), key, b, want)
			}
		}
	}
}

// TestReadTextStreamsLargeTables: with more than output.SizingRows
// streams and no limit, read prints the table as the capture is read (in
// ID order, every stream once) and the capture's totals after it; with a
// limit it prints the usual layout.
func TestReadTextStreamsLargeTables(t *testing.T) {
	flows := output.SizingRows + 2500
	path := scanCapture(t, flows)
	out, errOut, code := runCLI(t, nil, "read", path, "--no-findings")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, fmt.Sprintf("more than %d streams: rows are printed as the capture is read", output.SizingRows)) {
		t.Errorf("streamed table lacks its first line:\n%.300s", out)
	}
	rows := tableRows(out)
	if len(rows) != flows {
		t.Fatalf("%d rows, want %d", len(rows), flows)
	}
	for i, r := range rows {
		if r != fmt.Sprintf("tcp/%d", i) {
			t.Fatalf("row %d is %s, want tcp/%d (ID order, every stream once)", i, r, i)
		}
	}
	tail := out[strings.LastIndex(out, "c→s, s→c: payload bytes"):]
	for _, want := range []string{"\nfile     " + path, fmt.Sprintf("\nstreams  %d TCP · 0 UDP\n", flows)} {
		if !strings.Contains(tail, want) {
			t.Errorf("totals after the table lack %q:\n%s", want, tail)
		}
	}
	// Every row keeps the table's columns: the state column starts at the
	// same place in the first and the last row.
	lines := strings.Split(out, "\n")
	first, last := "", ""
	for _, l := range lines {
		if strings.HasPrefix(l, "tcp/") {
			if first == "" {
				first = l
			}
			last = l
		}
	}
	col := func(l string) int { return strings.Index(l, "refused") + strings.Index(l, "no answer") + 1 }
	if col(first) != col(last) {
		t.Errorf("columns moved:\n%s\n%s", first, last)
	}

	limited, _, _ := runCLI(t, nil, "read", path, "--no-findings", "--limit", "5")
	if !strings.HasPrefix(limited, "file     ") || len(tableRows(limited)) != 5 ||
		!strings.Contains(limited, fmt.Sprintf("… %d more streams not shown", flows-5)) {
		t.Errorf("--limit 5 on %d streams:\n%s", flows, limited)
	}
}

// TestReadTextStreamedGolden: the streamed layout on real captures, with
// the sizing threshold lowered so that the whole table fits a golden file:
// an nmap scan of 200 ports (sized by its first 20 rows) and ApacheBench's 50
// short HTTP/1.0 connections (gzip), with findings, and 20 rows exactly (no
// streaming: "more than 20" would be false).
func TestReadTextStreamedGolden(t *testing.T) {
	defer func(n int) { output.SizingRows = n }(output.SizingRows)
	output.SizingRows = 20
	for _, tt := range []struct{ name, file string }{
		{"nmap_scan", "16_nmap_syn_scan_1-200.pcap"},
		{"ab_short_conns", "06_http10_50_short_conns_ab.pcap.gz"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, "read", corpus+tt.file)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			golden.Check(t, []byte(out+"--- stderr\n"+errOut))
		})
	}
	output.SizingRows = 200 // nmap: exactly 200 streams
	out, _, _ := runCLI(t, nil, "read", corpus+"16_nmap_syn_scan_1-200.pcap", "--no-findings")
	if strings.Contains(out, "more than") || !strings.HasPrefix(out, "file ") {
		t.Errorf("200 streams with 200 sizing rows: the table should not stream:\n%.300s", out)
	}
}

// TestReadTextLateDelivery: a stream flushed as idle and then continued
// (its next packet after the idle timeout) is one row holding both parts in
// the text view, and a late delivery in the JSON view's summary.
func TestReadTextLateDelivery(t *testing.T) {
	var c pcapgen.Capture
	a := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.2:80"), 100, 900)
	a.Handshake()
	a.Send(0, []byte("first"))
	a.Ack(1)
	b := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40001"), netip.MustParseAddrPort("10.0.0.2:80"), 300, 700)
	b.T = a.T.Add(time.Second)
	b.Handshake()
	b.Fin(0)
	b.Fin(1)
	b.Ack(0)
	// tcp/2 ends 10.5 minutes in: by then tcp/0 was flushed as idle, and
	// tcp/2's end moves the capture clock past tcp/0's settle time, so
	// tcp/0 is handed to the view before its second part.
	k := pcapgen.NewConn(&c, netip.MustParseAddrPort("10.0.0.1:40002"), netip.MustParseAddrPort("10.0.0.2:80"), 500, 600)
	k.T = a.T.Add(10*time.Minute + 30*time.Second)
	k.Handshake()
	k.Fin(0)
	k.Fin(1)
	k.Ack(0)
	a.T = a.T.Add(11 * time.Minute) // past the 10-minute idle timeout
	a.Send(0, []byte("second"))
	a.Ack(1)
	path := filepath.Join(t.TempDir(), "late.pcap")
	if err := os.WriteFile(path, c.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, nil, "read", path, "--no-findings")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if rows := tableRows(out); !slices.Equal(rows, []string{"tcp/0", "tcp/1", "tcp/2"}) {
		t.Errorf("rows %v, want tcp/0 tcp/1 tcp/2:\n%s", rows, out)
	}
	if !strings.Contains(out, "11 B / 4 pkts") {
		t.Errorf("tcp/0's row does not hold both parts (11 B in 4 client packets):\n%s", out)
	}
	if strings.Contains(out, "late deliver") {
		t.Errorf("text merged the late part, yet reports a late delivery:\n%s", out)
	}
	js, _, _ := runCLI(t, nil, "read", path, "--no-findings", "--format", "json")
	if !strings.Contains(js, `"late_after_report":1`) || !strings.Contains(js, `"bytes_c2s":5,`) {
		t.Errorf("JSON summary does not count the late delivery:\n%s", js)
	}
}
