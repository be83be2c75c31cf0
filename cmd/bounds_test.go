package cmd

import (
	"strings"
	"testing"
)

// TestBoundsFlags: --max-flows bounds the flow table (what it flushes is
// counted in the summary), and bad values are usage errors.
func TestBoundsFlags(t *testing.T) {
	path := scanCapture(t, 4000) // 2,000 unanswered SYNs, all held
	out, errOut, code := runCLI(t, nil, "read", path, "--no-findings", "--max-flows", "1000", "--limit", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "1000 flows flushed early (0 idle, 1000 table full)") {
		t.Errorf("--max-flows 1000 on 2,000 held flows: summary does not count 1000 flushed for a full table:\n%s", out)
	}
	out, _, _ = runCLI(t, nil, "read", path, "--no-findings", "--limit", "1")
	if strings.Contains(out, "flushed early") {
		t.Errorf("the default table holds 2,000 flows, yet:\n%s", out)
	}
	for _, args := range [][]string{
		{"read", path, "--max-flows", "-1"},
		{"report", path, "-o", "-", "--max-buffered", "lots"},
		{"follow", path, "tcp/0", "--max-buffered", "-5MB"},
		{"timeline", path, "--max-flows", "-3"},
		{"timeline", path, "--max-buffered-total", "x"},
	} {
		if _, errOut, code := runCLI(t, nil, args...); code != 2 || !strings.Contains(errOut, "--max-") {
			t.Errorf("%v: exit %d (%s), want 2 naming the flag", args, code, errOut)
		}
	}
}
