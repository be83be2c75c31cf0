package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/findings"
)

func TestFindingsText(t *testing.T) {
	fs := []findings.Finding{
		{Kind: findings.KindPortScan, Severity: findings.Warning, Message: "Port scan.", StreamCount: 12,
			Streams: []findings.StreamRef{{Proto: capture.ProtoTCP, ID: 0}, {Proto: capture.ProtoTCP, ID: 1}, {Proto: capture.ProtoTCP, ID: 2},
				{Proto: capture.ProtoTCP, ID: 3}, {Proto: capture.ProtoTCP, ID: 4}, {Proto: capture.ProtoTCP, ID: 5}, {Proto: capture.ProtoTCP, ID: 6},
				{Proto: capture.ProtoTCP, ID: 7}, {Proto: capture.ProtoTCP, ID: 8}},
			Frames: []int{1, 2, 3, 4, 5, 6, 7, 8, 9}, Details: []string{"open 10.0.0.1:22"}},
		{Kind: findings.KindTLS, Severity: findings.Info, Message: "TLS.", Details: []string{"SNI evil\x1b[31m\u202e"}},
	}
	var b bytes.Buffer
	if err := FindingsText(&b, fs); err != nil {
		t.Fatal(err)
	}
	want := `
findings (1 warning, 1 info; most important first)
  warning  port_scan  Port scan.
                      open 10.0.0.1:22
                      streams tcp/0 tcp/1 tcp/2 tcp/3 tcp/4 tcp/5 tcp/6 tcp/7 … (12 in all) · frames 1 2 3 4 5 6 7 8 …
  info     tls        TLS.
                      SNI evil\e[31m\u202e
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	FindingsText(&b, nil)
	if b.String() != "\nfindings: none\n" {
		t.Errorf("no findings: %q", b.String())
	}
}

func TestFindingRecord(t *testing.T) {
	var b bytes.Buffer
	f := findings.Finding{Kind: findings.KindCleartext, Severity: findings.Warning, Message: "m", StreamCount: 1,
		Streams: []findings.StreamRef{{Proto: capture.ProtoTCP, ID: 3}}, Endpoint: "10.0.0.2:80"}
	if err := FindingsJSON(&b, []findings.Finding{f}); err != nil {
		t.Fatal(err)
	}
	want := `{"type":"finding","kind":"cleartext","severity":"warning","message":"m","streams":["tcp/3"],"stream_count":1,"frames":[],"endpoint":"10.0.0.2:80"}`
	if got := strings.TrimSpace(b.String()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var r map[string]any
	if err := json.Unmarshal(b.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
}
