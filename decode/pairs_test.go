package decode_test

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/reassembly"
)

// TestPairsAgainstTshark checks request ↔ response pairing and times
// against tshark's (testdata/tshark/pairs.tsv, recorded by
// testdata/record_pairs.sh): every HTTP response tshark pairs answers the
// request tshark names, and its service plus transfer time is tshark's
// http.time (request's last frame to the response's last); every DNS
// response answers tshark's dns.response_to after tshark's dns.time, and every
// Kafka response the request tshark names (kafka.request_frame).
func TestPairsAgainstTshark(t *testing.T) {
	f, err := os.Open("../testdata/tshark/pairs.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	analyses := map[string]*decode.Analysis{} // file and stream -> analysis
	checked := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		c := strings.Split(sc.Text(), "\t")
		file, proto, stream := c[0], c[1], c[2]
		resp, _ := strconv.Atoi(c[3])
		req, _ := strconv.Atoi(c[4])
		want, _ := strconv.ParseFloat(c[5], 64)
		key := file + " " + stream
		a := analyses[key]
		if a == nil {
			path := findCapture(t, file)
			for _, s := range tracked(t, path, 0) {
				if s.Name() == stream {
					if a, err = decode.Analyze(s, "auto"); err != nil {
						t.Fatal(err)
					}
				}
			}
			if a == nil {
				t.Fatalf("%s: no %s", file, stream)
			}
			analyses[key] = a
		}
		// The response: the server's message whose last frame (HTTP: where
		// tshark reassembled it) or whose frame (DNS) tshark names.
		var m *decode.Message
		for i := range a.Messages[reassembly.ServerToClient] {
			r := &a.Messages[reassembly.ServerToClient][i]
			if len(r.Frames) > 0 && r.Frames[len(r.Frames)-1] == resp && r.Role == decode.RoleResponse {
				m = r
				break
			}
		}
		if m == nil {
			t.Errorf("%s %s: no response ending in frame %d", file, stream, resp)
			continue
		}
		if m.Answers == 0 || m.Answers > len(a.Messages[reassembly.ClientToServer]) {
			t.Errorf("%s %s frame %d: answers %d, want the request in frame %d", file, stream, resp, m.Answers, req)
			continue
		}
		q := a.Messages[reassembly.ClientToServer][m.Answers-1]
		if got := q.Frames[len(q.Frames)-1]; got != req {
			t.Errorf("%s %s frame %d: answers the request ending in frame %d, tshark says %d", file, stream, resp, got, req)
		}
		got := (m.Service + m.Transfer).Seconds()
		if proto == "dns" {
			got = m.Service.Seconds()
		}
		if math.Abs(got-want) > 1e-6 {
			t.Errorf("%s %s frame %d: %s time %.6f s, tshark %.6f s", file, stream, resp, proto, got, want)
		}
		checked++
	}
	if checked < 80 {
		t.Errorf("only %d pairs checked", checked)
	}
	t.Logf("%d responses paired as tshark pairs them", checked)
}

func findCapture(t *testing.T, name string) string {
	for _, dir := range []string{"../testdata/corpus", "../testdata/captures"} {
		for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, name+".gz")} {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	t.Fatalf("%s not found", name)
	return ""
}

// TestPairsMemcached: on a real memcached session (text and binary), every
// response answers a request, in order for text and by opaque for binary,
// and no request waits for an answer: quit, noreply and quiet commands ask
// for none.
func TestPairsMemcached(t *testing.T) {
	streams := tracked(t, "../testdata/captures/memcached_text_binary.pcap", 0)
	answered := 0
	for _, s := range streams {
		a, err := decode.Analyze(s, "auto")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range a.Messages[reassembly.ServerToClient] {
			if m.Answers == 0 {
				t.Errorf("%s: response #%d %q answers nothing", s.Name(), m.Index, m.Summary)
				continue
			}
			q := a.Messages[reassembly.ClientToServer][m.Answers-1]
			if q.Role != decode.RoleRequest || q.Key != m.Key || m.Service <= 0 {
				t.Errorf("%s: #%d %q answers #%d %q (key %q vs %q, service %v)", s.Name(), m.Index, m.Summary, q.Index, q.Summary, m.Key, q.Key, m.Service)
			}
			answered++
		}
		if st := a.Stats[reassembly.ClientToServer]; st.Unanswered != 0 {
			t.Errorf("%s: %d requests unanswered", s.Name(), st.Unanswered)
		}
	}
	if answered < 5 {
		t.Errorf("only %d responses answered", answered)
	}
}

// TestPairsDatabases: in real psql, pgbench and mysql sessions every query
// is answered (PostgreSQL: a Query or Sync by its ReadyForQuery; MySQL: a
// command by the packet with sequence id 1), none waits, and the login
// exchange pairs nothing.
func TestPairsDatabases(t *testing.T) {
	for _, c := range []struct {
		file       string
		answers    int
		reqs, resp []string // the summaries' first word
	}{
		{"pg_psql_query_error.pcap", 3, []string{"Query"}, []string{"ReadyForQuery"}},
		{"pg_pgbench_extended.pcap", 2, []string{"Query", "Sync"}, []string{"ReadyForQuery"}},
		{"mysql_query_error.pcap", 3, []string{"COM_QUERY", "COM_INIT_DB"}, []string{"result", "OK", "ERR"}},
	} {
		a, err := decode.Analyze(tracked(t, "../testdata/captures/"+c.file, 0)[0], "auto")
		if err != nil {
			t.Fatal(err)
		}
		first := func(s string) string { return strings.Fields(s + " ")[0] }
		n := 0
		for _, m := range a.Messages[reassembly.ServerToClient] {
			if m.Answers == 0 {
				continue
			}
			q := a.Messages[reassembly.ClientToServer][m.Answers-1]
			if !slices.Contains(c.reqs, first(q.Summary)) || !slices.Contains(c.resp, first(m.Summary)) || m.Service <= 0 {
				t.Errorf("%s: #%d %q answers #%d %q after %v", c.file, m.Index, m.Summary, q.Index, q.Summary, m.Service)
			}
			n++
		}
		st := a.Stats[reassembly.ClientToServer]
		if n != c.answers || st.Unanswered != 0 || st.Requests != c.answers {
			t.Errorf("%s: %d answers, %d requests, %d unanswered; want %d answered, none waiting", c.file, n, st.Requests, st.Unanswered, c.answers)
		}
	}
}
