package output

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/internal/textsafe"
)

// findingsTextEvidence bounds the streams and frames the text view lists per
// finding (JSON lists all the finding carries).
const findingsTextEvidence = 8

// FindingsText renders the Findings section: one block per finding, in the
// order given (findings.Sort: most important first), each with its severity,
// kind, message, details and evidence. No findings prints "findings: none".
func FindingsText(w io.Writer, fs []findings.Finding) error {
	ew := &errWriter{w: w}
	if len(fs) == 0 {
		fmt.Fprintf(ew, "\nfindings: none\n")
		return ew.err
	}
	warn := 0
	kw := 0
	for _, f := range fs {
		if f.Severity == findings.Warning {
			warn++
		}
		kw = max(kw, len(f.Kind))
	}
	fmt.Fprintf(ew, "\nfindings (%d warning%s, %d info; most important first)\n", warn, plural(warn), len(fs)-warn)
	indent := strings.Repeat(" ", 2+7+2+kw+2)
	for _, f := range fs {
		fmt.Fprintf(ew, "  %-7s  %-*s  %s\n", f.Severity, kw, f.Kind, textsafe.Escape(f.Message))
		for _, d := range f.Details {
			fmt.Fprintf(ew, "%s%s\n", indent, textsafe.Escape(d))
		}
		if ev := EvidenceText(f); ev != "" {
			fmt.Fprintf(ew, "%s%s\n", indent, ev)
		}
	}
	return ew.err
}

// EvidenceText says which streams and frames show f, as the findings
// list writes it under each finding: "streams tcp/0 · frames 3 5 …" (at
// most 8 of each; the live view uses it too).
func EvidenceText(f findings.Finding) string {
	var parts []string
	if len(f.Streams) > 0 {
		var ss []string
		for i, s := range f.Streams {
			if i == findingsTextEvidence {
				break
			}
			ss = append(ss, s.String())
		}
		t := "streams " + strings.Join(ss, " ")
		if f.StreamCount > len(ss) {
			t += fmt.Sprintf(" … (%d in all)", f.StreamCount)
		}
		parts = append(parts, t)
	}
	if len(f.Frames) > 0 {
		var fr []string
		for i, n := range f.Frames {
			if i == findingsTextEvidence {
				fr = append(fr, "…")
				break
			}
			fr = append(fr, strconv.Itoa(n))
		}
		parts = append(parts, "frames "+strings.Join(fr, " "))
	}
	return strings.Join(parts, " · ")
}

// FindingRecord is the JSON form of a finding in `read --format json`
// ("type":"finding"); see the README for the fields.
type FindingRecord struct {
	Type        string   `json:"type"`
	Kind        string   `json:"kind"`
	Severity    string   `json:"severity"`
	Message     string   `json:"message"`
	Streams     []string `json:"streams"`
	StreamCount int      `json:"stream_count"`
	Frames      []int    `json:"frames"`
	Endpoint    string   `json:"endpoint,omitempty"`
	Details     []string `json:"details,omitempty"`
}

// NewFindingRecord converts a finding to its JSON record.
func NewFindingRecord(f findings.Finding) FindingRecord {
	rec := FindingRecord{Type: "finding", Kind: string(f.Kind), Severity: f.Severity.String(), Message: f.Message,
		Streams: []string{}, StreamCount: f.StreamCount, Frames: f.Frames, Endpoint: f.Endpoint, Details: f.Details}
	for _, s := range f.Streams {
		rec.Streams = append(rec.Streams, s.String())
	}
	if rec.Frames == nil {
		rec.Frames = []int{}
	}
	return rec
}

// FindingsJSON writes one "finding" record per finding.
func FindingsJSON(w io.Writer, fs []findings.Finding) error {
	enc := NewJSONEncoder(w)
	for _, f := range fs {
		if err := enc.Encode(NewFindingRecord(f)); err != nil {
			return err
		}
	}
	return nil
}
