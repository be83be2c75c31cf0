package decode_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/reassembly"
)

// grpcEvent is one thing both sides name in a gRPC connection: a message
// (its declared length) completed at a frame, a request :path, or a
// grpc-status in trailers.
type grpcEvent struct {
	Frame int
	What  string
}

func (e grpcEvent) String() string { return fmt.Sprintf("frame %d %s", e.Frame, e.What) }

// TestGRPCAgainstTshark frames the grpcio (C-core) and grpc-go captures
// with --framing auto and checks, per direction, every gRPC message (the
// frame that completed it and its length), every call's :path and every
// grpc-status against tshark's grpc dissector (record_grpc_tshark.sh).
//
// grpc_go_tls_keylog.pcap is the grpc-go session over TLS 1.3: decrypted
// with its key log, the HTTP/2 inside (ALPN h2) is framed as grpc and its
// messages, mapped to the TCP frames that carried their records, are
// checked the same way (tshark decrypting with the same key log).
func TestGRPCAgainstTshark(t *testing.T) {
	for _, capture := range []string{"grpc_python_unary_stream.pcap", "grpc_go_unary_stream.pcap", "grpc_go_tls_keylog.pcap"} {
		t.Run(capture, func(t *testing.T) {
			f, err := os.Open(filepath.Join("../testdata/tshark", capture+".msgs.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := map[string][]grpcEvent{} // "stream/srcport"
			sc := bufio.NewScanner(f)
			sc.Buffer(nil, 1<<20)
			sc.Scan()
			list := func(s string) []string {
				if s == "" {
					return nil
				}
				return strings.Split(s, "|")
			}
			for sc.Scan() {
				col := append(strings.Split(sc.Text(), "\t"), "", "", "", "", "", "")
				frame, _ := strconv.Atoi(col[0])
				key := col[1] + "/" + col[2]
				for _, p := range list(col[5]) {
					want[key] = append(want[key], grpcEvent{frame, "call " + strings.TrimPrefix(p, "/")})
				}
				names, values := list(col[6]), list(col[7])
				for i, n := range names {
					if n == "grpc-status" && i < len(values) {
						want[key] = append(want[key], grpcEvent{frame, "status " + values[i]})
					}
				}
				for _, l := range list(col[3]) {
					want[key] = append(want[key], grpcEvent{frame, "msg " + l})
				}
			}
			ss := keptStreams(t, filepath.Join("../testdata/captures", capture))
			if len(ss) != 1 {
				t.Fatalf("%d streams, want 1", len(ss))
			}
			s := ss[0]
			a, err := decode.Analyze(s, "auto")
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(capture, "tls") {
				keys, err := tlsdec.ReadKeyLogFile("../testdata/keys/grpc_go_tls_keylog.keys")
				if err != nil {
					t.Fatal(err)
				}
				l, err := decode.AnalyzeTLS(s, keys, "auto")
				if err != nil || l == nil || l.Inner == nil {
					t.Fatalf("AnalyzeTLS: %v %v", l, err)
				}
				a = l.Inner
			}
			if a.Framing != "grpc" {
				t.Fatalf("auto picked %s (%s), want grpc", a.Framing, a.Reason)
			}
			total := 0
			for d, port := range []uint16{s.Client.Port(), s.Server.Port()} {
				var got []grpcEvent
				for _, m := range a.Messages[d] {
					fr := slices.Max(m.Frames)
					// tshark lists a frame's headers before its messages.
					if c := field(m, "grpc_method"); c != "" {
						got = append(got, grpcEvent{fr, "call " + c})
					}
					if st := field(m, "grpc_status"); st != "" {
						got = append(got, grpcEvent{fr, "status " + st})
					}
				}
				var msgs []grpcEvent
				for _, m := range a.Messages[d] {
					if l := field(m, "grpc_messages"); l != "" {
						for _, n := range strings.Split(l, ",") {
							msgs = append(msgs, grpcEvent{slices.Max(m.Frames), "msg " + n})
						}
					}
				}
				got = grpcMerge(got, msgs)
				key := fmt.Sprintf("%d/%d", s.ID, port)
				exp := grpcMerge(grpcSplit(want[key]))
				if !slices.Equal(got, exp) {
					t.Errorf("%s: %d events, tshark %d\n got %v\nwant %v", reassembly.Direction(d), len(got), len(exp), got, exp)
				}
				total += len(exp)
				for _, e := range a.Errors[d] {
					t.Errorf("%s: framing error at %d: %s", reassembly.Direction(d), e.Offset, e.Reason)
				}
			}
			if total == 0 {
				t.Fatal("tshark's answer has no gRPC events: wrong file?")
			}
			t.Logf("%d gRPC messages, calls and statuses equal tshark's", total)
		})
	}
}

// grpcSplit separates tshark's events into headers and messages.
func grpcSplit(ev []grpcEvent) (hdrs, msgs []grpcEvent) {
	for _, e := range ev {
		if strings.HasPrefix(e.What, "msg ") {
			msgs = append(msgs, e)
		} else {
			hdrs = append(hdrs, e)
		}
	}
	return hdrs, msgs
}

// grpcMerge orders headers and messages by frame, headers first within a
// frame (a frame's order between them is not compared: tshark lists each
// field's occurrences apart).
func grpcMerge(hdrs, msgs []grpcEvent) []grpcEvent {
	out := append(slices.Clone(hdrs), msgs...)
	slices.SortStableFunc(out, func(a, b grpcEvent) int {
		if a.Frame != b.Frame {
			return a.Frame - b.Frame
		}
		am, bm := strings.HasPrefix(a.What, "msg "), strings.HasPrefix(b.What, "msg ")
		switch {
		case am == bm:
			return 0
		case bm:
			return -1
		}
		return 1
	})
	return out
}
