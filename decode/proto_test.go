package decode_test

import (
	"bufio"
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/reassembly"
)

// protoMsg is one message as both sides name it: the frame that completed
// it, its type and the length its header declares.
type protoMsg struct {
	Frame  int
	Type   string
	Length int
}

func (m protoMsg) String() string { return fmt.Sprintf("frame %d %s %d", m.Frame, m.Type, m.Length) }

// pgTshark maps tshark's pgsql.type names to ours.
var pgTshark = map[string]string{
	"Authentication request": "Authentication", "Backend key data": "BackendKeyData", "Bind": "Bind",
	"Bind completion": "BindComplete", "Command completion": "CommandComplete", "Data row": "DataRow",
	"Describe": "Describe", "Error": "ErrorResponse", "Execute": "Execute", "Parameter status": "ParameterStatus",
	"Parse": "Parse", "Parse completion": "ParseComplete", "Ready for query": "ReadyForQuery",
	"Row description": "RowDescription", "SSL request": "SSLRequest", "Simple query": "Query",
	"Startup message": "StartupMessage", "Sync": "Sync", "Termination": "Terminate",
}

var mqttTshark = []string{"", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

var mysqlCommands = map[string]string{"1": "COM_QUIT", "2": "COM_INIT_DB", "3": "COM_QUERY", "22": "COM_STMT_PREPARE", "23": "COM_STMT_EXECUTE"}

// tsharkMessages reads testdata/tshark/<capture>.msgs.tsv (record_proto_tshark.sh):
// per stream and source port, the messages tshark dissected, in order.
func tsharkMessages(t *testing.T, capture, proto string) map[string][]protoMsg {
	t.Helper()
	f, err := os.Open(filepath.Join("../testdata/tshark", capture+".msgs.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]protoMsg{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	sc.Scan() // header
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		for len(col) < 8 {
			col = append(col, "")
		}
		frame, _ := strconv.Atoi(col[0])
		key := col[1] + "/" + col[2]
		list := func(s string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, ",")
		}
		atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
		switch proto {
		case "pgsql":
			types, lens := list(col[3]), list(col[4])
			for i, ty := range types {
				out[key] = append(out[key], protoMsg{frame, pgTshark[ty], atoi(lens[i])})
			}
		case "mqtt":
			types, lens := list(col[3]), list(col[4])
			for i, ty := range types {
				out[key] = append(out[key], protoMsg{frame, mqttTshark[atoi(ty)], atoi(lens[i])})
			}
		case "mysql":
			lens := list(col[3])
			for _, l := range lens {
				ty := ""
				if c := list(col[5]); len(c) == 1 && len(lens) == 1 {
					ty = mysqlCommands[c[0]]
				}
				out[key] = append(out[key], protoMsg{frame, ty, atoi(l)})
			}
		case "memcached":
			// Text commands and single-line responses by their word; a
			// STAT block as tshark's count of STAT lines; binary packets by
			// opcode (tshark shows no text VALUE responses: skipped).
			// tshark puts STAT lines under memcache.command.
			cmds, resps, ops := list(col[3]), list(col[4]), list(col[5])
			if len(cmds) > 0 && cmds[0] == "STAT" {
				out[key] = append(out[key], protoMsg{frame, "STAT", len(cmds)})
				cmds = nil
			}
			for _, c := range cmds {
				out[key] = append(out[key], protoMsg{frame, c, 0})
			}
			for _, r := range resps {
				out[key] = append(out[key], protoMsg{frame, r, 0})
			}
			for _, o := range ops {
				out[key] = append(out[key], protoMsg{frame, "op " + o, 0})
			}
		case "kafka":
			// A request's api key, or the one tshark paired a response
			// with, and the correlation id.
			lens, corrs := list(col[3]), list(col[7])
			kind, keys := "req", list(col[4])
			if len(keys) == 0 {
				kind, keys = "resp", list(col[5])
			}
			for i, l := range lens {
				ty := kind
				if i < len(keys) {
					ty += " " + keys[i]
				}
				if i < len(corrs) {
					ty += " corr " + corrs[i]
				}
				out[key] = append(out[key], protoMsg{frame, ty, atoi(l)})
			}
		case "amqp":
			// Frame type, channel and payload length; a method frame's
			// class and method ids (listed for method frames only).
			types, chans, lens := list(col[3]), list(col[4]), list(col[5])
			classes, methods := list(col[6]), list(col[7])
			mi := 0
			for i, ty := range types {
				name := "type " + ty + " ch " + chans[i]
				if ty == "1" && mi < len(classes) {
					name += " " + classes[mi] + "." + methods[mi]
					mi++
				}
				out[key] = append(out[key], protoMsg{frame, name, atoi(lens[i])})
			}
		case "tls":
			for _, l := range list(col[4]) {
				out[key] = append(out[key], protoMsg{frame, "", atoi(l)})
			}
		case "ssh":
			if col[3] != "" {
				out[key] = append(out[key], protoMsg{frame, "version", 0})
			}
			codes := list(col[5])
			for i, l := range list(col[4]) {
				out[key] = append(out[key], protoMsg{frame, codes[i], atoi(l)})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func field(m decode.Message, name string) string {
	for _, f := range m.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// tsharkMisses are messages tshark's dissectors do not list, by stream and
// message: its memcache dissector shows only the first of two text commands
// in one segment ("stats slabs\r\nquit\r\n").
var tsharkMisses = map[string]bool{"tcp/2 frame 26 quit 0": true}

// ours lists the messages of one direction the way tshark's file does.
func ours(a *decode.Analysis, d reassembly.Direction, proto string, mysqlTypes bool) []protoMsg {
	var out []protoMsg
	for _, m := range a.Messages[d] {
		if m.Protocol != proto || len(m.Frames) == 0 {
			continue
		}
		ty, n := field(m, "type"), 0
		switch proto {
		case "pgsql":
			if ty == "SSLResponse" {
				continue // tshark gives the one-byte answer no pgsql.type
			}
			if strings.HasPrefix(ty, "Authentication") {
				ty = "Authentication"
			}
			// pgsql.length is the Int32 length: the message minus its type byte.
			n = int(m.Range.Len())
			if ty != "StartupMessage" && ty != "SSLRequest" && ty != "CancelRequest" && ty != "GSSENCRequest" {
				n--
			}
		case "mqtt":
			n, _ = strconv.Atoi(field(m, "remaining_length"))
		case "amqp":
			if ty == "protocol header" {
				continue // tshark shows it as no frame
			}
			code := map[string]string{"method": "1", "content header": "2", "content body": "3", "heartbeat": "8"}[ty]
			ty = "type " + code + " ch " + field(m, "channel")
			if code == "1" {
				ty += " " + field(m, "class") + "." + field(m, "method")
			}
			n, _ = strconv.Atoi(field(m, "length"))
		case "kafka":
			ty = map[string]string{"request": "req", "response": "resp"}[ty] + " " + field(m, "api_key") + " corr " + field(m, "correlation_id")
			n, _ = strconv.Atoi(field(m, "length"))
		case "tls":
			ty, n = "", int(m.Range.Len())-5
		case "memcached":
			switch {
			case field(m, "opcode") != "":
				ty = "op " + strconv.Itoa(int(mcOpcode(field(m, "opcode"))))
			case field(m, "command") != "":
				ty = field(m, "command")
			case field(m, "stats") != "" && field(m, "stats") != "0":
				ty, n = "STAT", atoiOr(field(m, "stats"))
			case field(m, "values") != "" && field(m, "values") != "0":
				continue
			default:
				ty = field(m, "response")
			}
		case "mysql":
			n, _ = strconv.Atoi(field(m, "length"))
			if !mysqlTypes || !strings.HasPrefix(ty, "COM_") {
				ty = ""
			}
		case "ssh":
			if ty == "encrypted" {
				continue // tshark cannot frame chacha20-poly1305 packets either
			}
			if ty != "version" {
				ty = field(m, "message_code")
				n, _ = strconv.Atoi(field(m, "packet_length"))
			}
		}
		msg := protoMsg{slices.Max(m.Frames), ty, n}
		if tsharkMisses[a.Stream.Name()+" "+msg.String()] {
			continue
		}
		out = append(out, msg)
	}
	return out
}

// TestProtocolsAgainstTshark frames real captures of psql, pgbench, the
// mariadb client, mosquitto, ssh, franz-go against kfake, pika against
// RabbitMQ and curl through
// an HTTP CONNECT proxy
// with --framing auto and checks each
// message — the frame that completed it, its type and its declared length —
// against tshark's dissection of the same capture (recorded once by
// testdata/captures/record_proto_tshark.sh).
func TestProtocolsAgainstTshark(t *testing.T) {
	for _, tt := range []struct {
		capture, proto string
		streams        int
		framing        string // what auto picks, when not proto
	}{
		{"pg_psql_query_error.pcap", "pgsql", 1, ""},
		{"pg_pgbench_extended.pcap", "pgsql", 2, ""},
		{"pg_sslrequest_tls.pcap", "pgsql", 2, ""},
		{"mysql_query_error.pcap", "mysql", 1, ""},
		{"mqtt_v311_v5.pcap", "mqtt", 3, ""},
		{"ssh_exec.pcap", "ssh", 1, ""},
		{"kafka_franz_kfake.pcap", "kafka", 4, ""},
		{"amqp_pika_rabbitmq.pcap", "amqp", 1, ""},
		{"memcached_text_binary.pcap", "memcached", 5, ""},
		// The TLS records inside a CONNECT tunnel (curl through tinyproxy).
		{"http_connect_tls.pcap", "tls", 1, "http1"},
	} {
		t.Run(tt.capture, func(t *testing.T) {
			want := tsharkMessages(t, tt.capture, tt.proto)
			ss := keptStreams(t, filepath.Join("../testdata/captures", tt.capture))
			if len(ss) != tt.streams {
				t.Fatalf("%d streams, want %d", len(ss), tt.streams)
			}
			total := 0
			for _, s := range ss {
				a, err := decode.Analyze(s, "auto")
				if err != nil {
					t.Fatal(err)
				}
				if want := cmp.Or(tt.framing, tt.proto); a.Framing != want {
					t.Errorf("%s: auto picked %s (%s), want %s", s.Name(), a.Framing, a.Reason, want)
					continue
				}
				for d, port := range []uint16{s.Client.Port(), s.Server.Port()} {
					key := fmt.Sprintf("%d/%d", s.ID, port)
					got := ours(a, reassembly.Direction(d), tt.proto, true)
					exp := want[key]
					if tt.proto == "mysql" {
						// tshark names commands only; compare types where it does.
						for i := range got {
							if i < len(exp) && exp[i].Type == "" {
								got[i].Type = ""
							}
						}
					}
					if !slices.Equal(got, exp) {
						t.Errorf("%s %s: %d messages, tshark %d\n got %v\nwant %v", s.Name(), reassembly.Direction(d), len(got), len(exp), head(got), head(exp))
						for i := range min(len(got), len(exp)) {
							if got[i] != exp[i] {
								t.Errorf("first difference at message %d: got %v, tshark %v", i+1, got[i], exp[i])
								break
							}
						}
					}
					total += len(exp)
					for _, e := range a.Errors[d] {
						t.Errorf("%s %s: framing error at %d: %s", s.Name(), reassembly.Direction(d), e.Offset, e.Reason)
					}
				}
			}
			if total == 0 {
				t.Fatal("tshark's answer has no messages: wrong file?")
			}
			t.Logf("%d messages equal tshark's", total)
		})
	}
}

func atoiOr(s string) int { n, _ := strconv.Atoi(s); return n }

// mcOpcode is the number of a memcached binary opcode name (tshark gives numbers).
func mcOpcode(name string) int {
	for i, n := range []string{"Get", "Set", "Add", "Replace", "Delete", "Increment", "Decrement", "Quit", "Flush", "GetQ", "No-op", "Version", "GetK"} {
		if n == name {
			return i
		}
	}
	return -1
}

func head(m []protoMsg) []protoMsg { return m[:min(len(m), 12)] }

// TestCommandReplyAgainstTshark checks the SMTP, FTP and POP3 framings on
// real sessions (curl against Python's smtpd, pyftpdlib, dovecot) against
// tshark: every client command at the same frame with the same verb, and
// the server's reply codes in the same order. tshark lists each segment of
// a multi-line reply on its own, so runs of one code are compared as one.
func TestCommandReplyAgainstTshark(t *testing.T) {
	for _, tt := range []struct{ capture, proto string }{
		{"smtp_curl_python.pcap", "smtp"},
		{"ftp_curl_pyftpdlib.pcap", "ftp"},
		{"pop3_dovecot_stls.pcap", "pop3"},
	} {
		t.Run(tt.capture, func(t *testing.T) {
			f, err := os.Open(filepath.Join("../testdata/tshark", tt.capture+".msgs.tsv"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			type side struct {
				cmds    []protoMsg
				replies []string
			}
			want := map[string]*side{} // by tcp.stream
			sc := bufio.NewScanner(f)
			sc.Scan()
			for sc.Scan() {
				col := append(strings.Split(sc.Text(), "\t"), "", "")
				s := want[col[1]]
				if s == nil {
					s = &side{}
					want[col[1]] = s
				}
				frame, _ := strconv.Atoi(col[0])
				if c := col[3]; c != "" {
					if strings.ToUpper(c) != c || strings.ContainsAny(c, "=0123456789") {
						c = "AUTH response" // a SASL response, which we do not show
					}
					s.cmds = append(s.cmds, protoMsg{frame, c, 0})
				}
				for _, r := range strings.Split(col[4], ",") {
					if r != "" && (len(s.replies) == 0 || s.replies[len(s.replies)-1] != r) {
						s.replies = append(s.replies, r)
					}
				}
			}
			total := 0
			for _, st := range keptStreams(t, filepath.Join("../testdata/captures", tt.capture)) {
				a, err := decode.Analyze(st, "auto")
				if err != nil {
					t.Fatal(err)
				}
				w := want[strconv.Itoa(st.ID)]
				if w == nil || len(w.cmds) == 0 {
					continue // an FTP data connection
				}
				if a.Framing != tt.proto {
					t.Fatalf("%s: auto picked %s (%s)", st.Name(), a.Framing, a.Reason)
				}
				var cmds []protoMsg
				for _, m := range a.Messages[reassembly.ClientToServer] {
					if m.Protocol == tt.proto && field(m, "command") != "DATA content" {
						cmds = append(cmds, protoMsg{slices.Max(m.Frames), strings.TrimSuffix(field(m, "command"), " +"), 0})
					}
				}
				var replies []string
				for _, m := range a.Messages[reassembly.ServerToClient] {
					r := cmp.Or(field(m, "code"), field(m, "status"))
					if m.Protocol != tt.proto || r == "" || r == "+" || r == "+ " {
						continue
					}
					if strings.HasPrefix(r, "+OK") {
						r = "+OK"
					}
					if len(replies) == 0 || replies[len(replies)-1] != r {
						replies = append(replies, r)
					}
				}
				if !slices.Equal(cmds, w.cmds) {
					t.Errorf("%s commands:\n got %v\nwant %v", st.Name(), cmds, w.cmds)
				}
				if !slices.Equal(replies, w.replies) {
					t.Errorf("%s replies:\n got %v\nwant %v", st.Name(), replies, w.replies)
				}
				for d := range a.Errors {
					for _, e := range a.Errors[d] {
						t.Errorf("%s: framing error at %d: %s", st.Name(), e.Offset, e.Reason)
					}
				}
				total += len(cmds)
			}
			if total == 0 {
				t.Fatal("no commands compared")
			}
			t.Logf("%d commands equal tshark's", total)
		})
	}
}

// TestIMAPAgainstTshark: curl against dovecot, in the clear and with
// STARTTLS: every tagged command at the frame, with the tag and command
// tshark gives, and every tagged response at the frame, tag and status
// tshark gives (tshark's IMAP dissector works a segment at a time, so only
// tagged lines are compared); after STARTTLS both sides are TLS records.
func TestIMAPAgainstTshark(t *testing.T) {
	f, err := os.Open("../testdata/tshark/imap_dovecot_starttls.pcap.msgs.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type line struct {
		Frame           int
		Tag, Cmd, State string
	}
	want := map[string][]line{} // "stream/dir"
	sc := bufio.NewScanner(f)
	sc.Scan()
	for sc.Scan() {
		col := append(strings.Split(sc.Text(), "\t"), "", "", "", "")
		frame, _ := strconv.Atoi(col[0])
		switch col[3] {
		case "1":
			want[col[1]+"/c2s"] = append(want[col[1]+"/c2s"], line{frame, col[4], col[5], ""})
		case "0":
			for _, tag := range strings.Split(col[4], ",") {
				if strings.HasPrefix(tag, "A") {
					want[col[1]+"/s2c"] = append(want[col[1]+"/s2c"], line{frame, tag, "", col[6]})
				}
			}
		}
	}
	n := 0
	for _, st := range keptStreams(t, "../testdata/captures/imap_dovecot_starttls.pcap") {
		a, err := decode.Analyze(st, "auto")
		if err != nil || a.Framing != "imap" {
			t.Fatalf("%s: auto picked %s (%s), %v", st.Name(), a.Framing, a.Reason, err)
		}
		var got [2][]line
		for d := range a.Messages {
			for _, m := range a.Messages[d] {
				if m.Protocol != "imap" {
					continue
				}
				fr := slices.Max(m.Frames)
				if d == 0 {
					got[0] = append(got[0], line{fr, field(m, "tag"), field(m, "command"), ""})
				} else if field(m, "response") == "tagged" {
					got[1] = append(got[1], line{fr, field(m, "tag"), "", field(m, "status")})
				}
			}
		}
		for d, name := range []string{"c2s", "s2c"} {
			key := fmt.Sprintf("%d/%s", st.ID, name)
			if !slices.Equal(got[d], want[key]) {
				t.Errorf("%s:\n got %v\nwant %v", key, got[d], want[key])
			}
			n += len(got[d])
		}
		if st.ID == 1 && a.Messages[0][len(a.Messages[0])-1].Protocol != "tls" {
			t.Errorf("tcp/1: after STARTTLS the client's bytes are not TLS records")
		}
	}
	if n == 0 {
		t.Fatal("nothing compared")
	}
	t.Logf("%d tagged commands and responses equal tshark's", n)
}

// TestKafkaProduceTopicsAgainstTshark checks the topics of every Produce
// request of the franz-go capture against tshark's kafka.topic_name.
func TestKafkaProduceTopicsAgainstTshark(t *testing.T) {
	b, err := os.ReadFile("../testdata/tshark/kafka_franz_kfake.pcap.msgs.tsv")
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]string{} // frame → topics of the Produce request it completed
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n")[1:] {
		col := append(strings.Split(l, "\t"), "", "", "", "", "", "", "", "", "")
		if col[4] == "0" {
			want[atoiOr(col[0])] = col[8]
		}
	}
	got := map[int]string{}
	for _, s := range keptStreams(t, "../testdata/captures/kafka_franz_kfake.pcap") {
		a, err := decode.Analyze(s, "kafka")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range a.Messages[reassembly.ClientToServer] {
			if field(m, "api_key") == "0" {
				got[slices.Max(m.Frames)] = field(m, "topics")
			}
		}
	}
	if len(want) == 0 || !maps.Equal(got, want) {
		t.Errorf("Produce topics by frame:\n got %v\nwant %v", got, want)
	}
}
