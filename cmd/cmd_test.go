package cmd

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/internal/golden"
)

func runCLI(t *testing.T, stdin []byte, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(t.Context(), args, bytes.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

const corpus = "../testdata/corpus/"

func TestGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"read_handshake", []string{"read", corpus + "01_tcp_handshake_hello_fin.pcap"}, 0},
		{"read_refused", []string{"read", corpus + "02_tcp_conn_refused_rst.pcap"}, 0},
		{"read_reset", []string{"read", corpus + "03_tcp_abort_rst_midstream.pcap"}, 0},
		{"read_http_keepalive", []string{"read", corpus + "04_http11_keepalive_curl.pcap"}, 0},
		{"read_scan_limit", []string{"read", corpus + "16_nmap_syn_scan_1-200.pcap", "--limit", "5", "--sort", "packets"}, 0},
		{"read_snaplen", []string{"read", corpus + "23_veth_http_1MiB_snaplen64.pcap"}, 0},
		{"read_mixed_linktypes", []string{"read", corpus + "24_mixed_linktypes_eth_sll_sll2.pcapng"}, 0},
		{"read_tunnel_pppoe_qinq", []string{"read", "../testdata/captures/tunnels/tunnel_pppoe-qinq.pcap"}, 0},
		{"read_tunnel_vxlan_json", []string{"read", "../testdata/captures/tunnels/tunnel_vxlan.pcap", "--format", "json"}, 0},
		{"read_link_nflog_kernel", []string{"read", "../testdata/captures/tunnels/link_nflog_kernel.pcap"}, 0},
		{"read_dup_mirror", []string{"read", "../testdata/captures/tunnels/dup_mirror.pcap"}, 0},
		{"read_dup_any_json", []string{"read", "../testdata/captures/tunnels/dup_any.pcap", "--format", "json"}, 0},
		{"read_group_by_path", []string{"read", "../testdata/captures/tunnels/merged_paths.pcapng", "--group-by", "path"}, 0},
		{"read_group_by_path_json", []string{"read", "../testdata/captures/tunnels/merged_paths.pcapng", "--group-by", "path", "--format", "json"}, 0},
		{"read_group_by_path_dups", []string{"read", "../testdata/captures/tunnels/dup_mirror.pcap", "--group-by", "path", "--no-findings"}, 0},
		{"read_group_by_bad", []string{"read", "../testdata/captures/tunnels/dup_mirror.pcap", "--group-by", "port"}, 2},
		{"read_fragments", []string{"read", corpus + "22_veth_udp_ip_fragments.pcap"}, 0},
		{"read_loss", []string{"read", corpus + "28_routed_http_loss_retransmit.pcap"}, 0},
		{"read_gzip", []string{"read", corpus + "06_http10_50_short_conns_ab.pcap.gz", "--limit", "3"}, 0},
		{"read_damaged_mid_packet", []string{"read", corpus + "25_truncated_mid_packet.pcap"}, 1},
		{"read_damaged_length", []string{"read", corpus + "26_corrupt_record_length.pcap"}, 1},
		{"read_damaged_block", []string{"read", corpus + "27_truncated_mid_block.pcapng"}, 1},
		{"json_handshake", []string{"read", "--format", "json", corpus + "01_tcp_handshake_hello_fin.pcap"}, 0},
		{"json_refused", []string{"read", "--format", "json", corpus + "02_tcp_conn_refused_rst.pcap"}, 0},
		{"json_dns_sll2", []string{"read", "--format", "json", corpus + "13_dns_udp_dnsmasq_sll2.pcap"}, 0},
		{"json_ipv6_ns", []string{"read", "--format", "json", corpus + "20_ipv6_loopback_http_nanosec.pcap"}, 0},
		{"json_damaged", []string{"read", "--format", "json", corpus + "27_truncated_mid_block.pcapng"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, nil, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.code, errOut)
			}
			golden.Check(t, []byte(out+"--- stderr\n"+errOut))
		})
	}
}

func TestStdin(t *testing.T) {
	b, err := os.ReadFile(corpus + "01_tcp_handshake_hello_fin.pcap")
	if err != nil {
		t.Fatal(err)
	}
	out, _, code := runCLI(t, b, "read", "-")
	if code != 0 || !strings.Contains(out, "tcp/0") || !strings.Contains(out, "file     - ·") {
		t.Fatalf("exit %d, out:\n%s", code, out)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.pcap")
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(empty, nil, 0o644)
	os.WriteFile(text, []byte("this is not a capture file at all\n"), 0o644)
	link := filepath.Join(dir, "usb.pcap")
	os.WriteFile(link, []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 189, 0, 0, 0}, 0o644)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing file", []string{"read", filepath.Join(dir, "nope.pcap")}, 1, "no such file"},
		{"empty file", []string{"read", empty}, 1, "empty file"},
		{"not a capture", []string{"read", text}, 1, "unknown magic number"},
		{"unsupported link type", []string{"read", link}, 1, "unsupported link type 189"},
		{"no argument", []string{"read"}, 2, "needs a capture file"},
		{"bad format", []string{"read", "--format", "xml", corpus + "01_tcp_handshake_hello_fin.pcap"}, 2, `--format "xml"`},
		{"bad flag", []string{"read", "--bogus", "x"}, 2, "unknown flag"},
		{"bad sort", []string{"read", "--sort", "size", "x"}, 2, `--sort "size"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errOut, code := runCLI(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d stderr %q; want exit %d and %q", code, errOut, tt.code, tt.want)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 2 {
				t.Errorf("error is more than a couple of lines: %q", errOut)
			}
		})
	}
}

// TestJSONMatchesTshark: read --format json gives tshark's stream counts and,
// per TCP stream and direction, tshark's Follow TCP Stream byte count as
// bytes - missing.
func TestJSONMatchesTshark(t *testing.T) {
	ents, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		base := strings.TrimSuffix(e.Name(), ".gz")
		t.Run(base, func(t *testing.T) { jsonMatchesTshark(t, corpus+e.Name(), base, true) })
	}
}

// TestTunnelsJSONMatchesTshark: the same on the tunnel and link-type
// captures (testdata/captures/tunnels): inner streams, tshark's bytes. The
// UDP tunnels' outer datagrams, which tshark numbers as UDP streams, are
// decapsulated: no UDP flow.
func TestTunnelsJSONMatchesTshark(t *testing.T) {
	files, _ := filepath.Glob("../testdata/captures/tunnels/*.pcap")
	if len(files) == 0 {
		t.Fatal("no tunnel captures")
	}
	for _, path := range files {
		base := filepath.Base(path)
		t.Run(base, func(t *testing.T) {
			jsonMatchesTshark(t, path, base, false)
			// Each stream says which tunnel it came through; the link_
			// captures' streams came bare. The dup_ captures' streams came
			// through two paths: they say so, and have no retransmission.
			out, _, _ := runCLI(t, nil, "read", "--format", "json", path)
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var r struct {
					Type, ID, Path string
					Dups           int      `json:"path_duplicates"`
					DupPaths       []string `json:"duplicate_paths"`
					RetransC2S     int      `json:"retransmissions_c2s"`
					RetransS2C     int      `json:"retransmissions_s2c"`
				}
				json.Unmarshal([]byte(line), &r)
				if r.Type != "stream" {
					continue
				}
				if strings.HasPrefix(base, "dup_") {
					if r.Dups == 0 || len(r.DupPaths) != 2 || r.RetransC2S+r.RetransS2C != 0 {
						t.Errorf("%s: %d path duplicates %q, %d+%d retransmissions", r.ID, r.Dups, r.DupPaths, r.RetransC2S, r.RetransS2C)
					}
				} else if (r.Path == "") == strings.HasPrefix(base, "tunnel_") {
					t.Errorf("%s: path %q", r.ID, r.Path)
				}
			}
		})
	}
}

// jsonMatchesTshark runs read --format json on path and compares it with
// tshark's recorded answer for base; udp says whether tshark's UDP stream
// count applies (else sockscope must find no UDP flow).
func jsonMatchesTshark(t *testing.T, path, base string, udp bool) {
	t.Helper()
	raw, err := os.ReadFile("../testdata/tshark/" + base + ".json")
	if err != nil {
		t.Skip("no tshark record")
	}
	var want struct {
		TCPStreams int `json:"tcp_streams"`
		UDPStreams int `json:"udp_streams"`
		TCP        []struct {
			Sides []struct {
				Endpoint string `json:"endpoint"`
				Bytes    int64  `json:"bytes"`
			} `json:"sides"`
		} `json:"tcp"`
	}
	json.Unmarshal(raw, &want)
	out, _, _ := runCLI(t, nil, "read", "--format", "json", path)
	captured := map[string]int64{} // "sender>receiver" -> bytes-missing
	var sum struct{ TCPStreams, UDPFlows int }
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		switch r["type"] {
		case "summary":
			sum.TCPStreams, sum.UDPFlows = int(r["tcp_streams"].(float64)), int(r["udp_flows"].(float64))
		case "stream":
			if r["proto"] != "tcp" {
				continue
			}
			c, s := r["client"].(string), r["server"].(string)
			captured[c+">"+s] += int64(r["bytes_c2s"].(float64) - r["missing_c2s"].(float64))
			captured[s+">"+c] += int64(r["bytes_s2c"].(float64) - r["missing_s2c"].(float64))
		}
	}
	if !udp {
		want.UDPStreams = 0
	}
	if sum.TCPStreams != want.TCPStreams || sum.UDPFlows != want.UDPStreams {
		t.Errorf("summary tcp %d udp %d, tshark %d %d", sum.TCPStreams, sum.UDPFlows, want.TCPStreams, want.UDPStreams)
	}
	wantCap := map[string]int64{}
	for _, s := range want.TCP {
		if len(s.Sides) == 2 && s.Sides[0].Endpoint != ":0" {
			wantCap[s.Sides[0].Endpoint+">"+s.Sides[1].Endpoint] += s.Sides[0].Bytes
			wantCap[s.Sides[1].Endpoint+">"+s.Sides[0].Endpoint] += s.Sides[1].Bytes
		}
	}
	for k, v := range wantCap {
		if captured[k] != v {
			t.Errorf("%s: bytes-missing %d, tshark %d", k, captured[k], v)
		}
	}
}

// TestReadGroupByPath: read --group-by path on HTTP merged from captures
// that crossed six paths (merged_paths.pcapng) has tshark's stream count,
// and each path's totals are the sums of read's stream records with that
// path.
func TestReadGroupByPath(t *testing.T) {
	const path = "../testdata/captures/tunnels/merged_paths.pcapng"
	raw, err := os.ReadFile("../testdata/tshark/merged_paths.pcapng.json")
	if err != nil {
		t.Fatal(err)
	}
	var ts struct {
		TCP int `json:"tcp_streams"`
	}
	if err := json.Unmarshal(raw, &ts); err != nil {
		t.Fatal(err)
	}
	type sums struct{ streams, packets, bytes, retrans int64 }
	want := map[string]*sums{}
	out, _, _ := runCLI(t, nil, "read", "--format", "json", path)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r StreamLine
		json.Unmarshal([]byte(line), &r)
		if r.Type != "stream" {
			continue
		}
		s := want[r.Path]
		if s == nil {
			s = &sums{}
			want[r.Path] = s
		}
		s.streams++
		s.packets += r.PacketsC2S + r.PacketsS2C
		s.bytes += r.BytesC2S + r.BytesS2C
		s.retrans += r.RetransC2S + r.RetransS2C
	}
	out, _, code := runCLI(t, nil, "read", "--format", "json", "--group-by", "path", path)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var streams int64
	groups := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var g struct {
			Type, Path     string
			TCP            int64 `json:"tcp_streams"`
			UDP            int64 `json:"udp_flows"`
			Packets, Bytes int64
		}
		json.Unmarshal([]byte(line), &g)
		if g.Type != "path" {
			continue
		}
		var r struct {
			Retrans int64 `json:"retransmissions"`
		}
		json.Unmarshal([]byte(line), &r)
		groups++
		streams += g.TCP + g.UDP
		w := want[g.Path]
		if w == nil || w.streams != g.TCP+g.UDP || w.packets != g.Packets || w.bytes != g.Bytes || w.retrans != r.Retrans {
			t.Errorf("path %q: %d streams, %d packets, %d bytes, %d retransmissions; stream records %+v", g.Path, g.TCP+g.UDP, g.Packets, g.Bytes, r.Retrans, w)
		}
	}
	if groups != 6 || streams != int64(ts.TCP) {
		t.Errorf("%d paths, %d streams; want 6 paths and tshark's %d streams", groups, streams, ts.TCP)
	}
}

// StreamLine is the part of a read stream record TestReadGroupByPath sums.
type StreamLine struct {
	Type, Path string
	PacketsC2S int64 `json:"packets_c2s"`
	PacketsS2C int64 `json:"packets_s2c"`
	BytesC2S   int64 `json:"bytes_c2s"`
	BytesS2C   int64 `json:"bytes_s2c"`
	RetransC2S int64 `json:"retransmissions_c2s"`
	RetransS2C int64 `json:"retransmissions_s2c"`
}
