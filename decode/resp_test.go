package decode

import (
	"errors"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// TestRESPCorpus decodes the three streams of capture 08 (redis-benchmark
// -c 1 -n 1600 -P 16 -t set,get). The corpus facts give 3202 messages per
// direction for the whole capture; per stream that is 2 (tcp/0: the
// benchmark's CONFIG GET save and CONFIG GET appendonly) + 1600 (tcp/1: SET)
// + 1600 (tcp/2: GET), each answered by one reply.
func TestRESPCorpus(t *testing.T) {
	tests := []struct {
		stream   string
		count    int
		c2s, s2c string // summary of every message in that direction but the first of tcp/0
	}{
		{"0", 2, "CONFIG GET appendonly", "*2 array"},
		{"1", 1600, "SET key:__rand_int__ (8 B value)", "+OK"},
		{"2", 1600, "GET key:__rand_int__", "$8 bulk"},
	}
	total := map[reassembly.Direction]int{}
	for _, tt := range tests {
		t.Run("tcp/"+tt.stream, func(t *testing.T) {
			d := newRESP(Stream)
			for _, dir := range []reassembly.Direction{reassembly.ClientToServer, reassembly.ServerToClient} {
				res, err := bDrive(d, dir, bFixture(t, "resp", "08_redis_benchmark_pipeline_P16."+tt.stream+"."+dir.String()+".bin"))
				if err != nil || res.Err != nil || res.Leftover != 0 {
					t.Fatalf("%s: %v %v, %d left", dir, err, res.Err, res.Leftover)
				}
				if len(res.Msgs) != tt.count {
					t.Errorf("%s: %d messages, want %d", dir, len(res.Msgs), tt.count)
				}
				total[dir] += len(res.Msgs)
				want := map[reassembly.Direction]string{reassembly.ClientToServer: tt.c2s, reassembly.ServerToClient: tt.s2c}[dir]
				if got := res.Msgs[len(res.Msgs)-1].Summary; got != want {
					t.Errorf("%s: last summary %q, want %q", dir, got, want)
				}
			}
		})
	}
	for _, dir := range []reassembly.Direction{reassembly.ClientToServer, reassembly.ServerToClient} {
		if total[dir] != 3202 {
			t.Errorf("%s: %d messages in the capture, the corpus facts say 3202", dir, total[dir])
		}
	}
}

func TestRESP(t *testing.T) {
	c2s, s2c := reassembly.ClientToServer, reassembly.ServerToClient
	tests := []struct {
		name    string
		dir     reassembly.Direction
		in      string
		n       int    // bytes consumed; with ErrNeedMore, the hint (0: none)
		err     string // "" ok, "more" ErrNeedMore, else a substring of the *Error
		summary string
	}{
		{"SET command", c2s, "*3\r\n$3\r\nSET\r\n$10\r\nkey:000042\r\n$3\r\nxyz\r\n", 39, "", "SET key:000042 (3 B value)"},
		{"GET command", c2s, "*2\r\n$3\r\nget\r\n$10\r\nkey:000042\r\n", 30, "", "GET key:000042"},
		{"pipeline: first command only", c2s, "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 14, "", "PING"},
		{"binary argument", c2s, "*2\r\n$3\r\nDEL\r\n$2\r\n\x00\x01\r\n", 21, "", "DEL (2 B)"},
		{"many arguments", c2s, "*12\r\n$4\r\nMGET\r\n" + strings.Repeat("$1\r\nk\r\n", 11), 92, "", "MGET k k k k k k k +4 args"},
		{"inline command", c2s, "ping\r\n", 6, "", "PING"},
		{"inline, LF only", c2s, "EXISTS a b\n", 11, "", "EXISTS a b"},
		{"inline, not text", c2s, "\x16\x03\x01\x02\x00\n", 0, "control byte", ""},
		{"simple string", s2c, "+OK\r\n", 5, "", "+OK"},
		{"error", s2c, "-ERR unknown command 'FOO'\r\n", 28, "", "-ERR unknown command 'FOO'"},
		{"integer", s2c, ":42\r\n", 5, "", ":42"},
		{"bad integer", s2c, ":4x2\r\n", 0, "not an integer", ""},
		{"bulk", s2c, "$3\r\nabc\r\n", 9, "", "$3 bulk"},
		{"nil bulk", s2c, "$-1\r\n", 5, "", "$-1 nil"},
		{"array reply", s2c, "*2\r\n$1\r\na\r\n:1\r\n", 15, "", "*2 array"},
		{"nil array", s2c, "*-1\r\n", 5, "", "*-1 nil"},
		{"nested array", s2c, "*2\r\n*1\r\n:1\r\n*0\r\n", 16, "", "*2 array"},
		{"reply is not a command", s2c, "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 20, "", "*2 array"},
		{"RESP3 map", s2c, "%1\r\n+a\r\n#t\r\n", 12, "", "%1 map"},
		{"RESP3 null", s2c, "_\r\n", 3, "", "_ null"},
		{"RESP3 double", s2c, ",3.14\r\n", 7, "", ",3.14"},
		{"RESP3 big number", s2c, "(3492890328409238509324850943850943825024385\r\n", 46, "", "(3492890328409238509324850943850943825024385"},
		{"RESP3 verbatim", s2c, "=15\r\ntxt:Some string\r\n", 22, "", "=15 verbatim"},
		{"RESP3 blob error", s2c, "!9\r\nSYNTAX oh\r\n", 15, "", "!9 blob error SYNTAX oh"},
		{"RESP3 set", s2c, "~2\r\n:1\r\n:2\r\n", 12, "", "~2 set"},
		{"RESP3 push", s2c, ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", 33, "", ">3 push message"},
		{"RESP3 attribute then value", s2c, "|1\r\n+ttl\r\n:3\r\n:42\r\n", 19, "", "|attribute :42"},
		{"bad boolean", s2c, "#x\r\n", 0, "not t or f", ""},
		{"bulk needs more: hint", s2c, "$10\r\nabc", 17, "more", ""},
		{"array needs more", c2s, "*3\r\n$3\r\nSET\r\n", 0, "more", ""},
		{"line needs more", s2c, "+OK", 0, "more", ""},
		{"bulk without CRLF", s2c, "$3\r\nabcde\r\n", 0, "not followed by CRLF", ""},
		{"LF without CR", s2c, "+OK\n", 0, "without CR", ""},
		{"huge bulk length", s2c, "$999999999999\r\n", 0, "bad length", ""},
		{"negative count", s2c, "*-2\r\n", 0, "bad count", ""},
		{"huge count does not allocate", s2c, "*2147483647\r\n:1\r\n", 0, "more", ""},
		{"count too large", s2c, "*2147483648\r\n", 0, "bad count", ""},
		{"too deep", s2c, strings.Repeat("*1\r\n", 40) + ":1\r\n", 0, "nested deeper", ""},
		{"reply not RESP", s2c, "HTTP/1.1 200 OK\r\n", 0, "not a RESP type", ""},
		{"no line end", s2c, "+" + strings.Repeat("a", respMaxLine), 0, "no line end", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, n, err := newRESP(Stream).Next(tt.dir, []byte(tt.in), false)
			switch tt.err {
			case "":
				if err != nil {
					t.Fatal(err)
				}
				if m.Summary != tt.summary {
					t.Errorf("summary %q, want %q", m.Summary, tt.summary)
				}
			case "more":
				if !errors.Is(err, ErrNeedMore) {
					t.Fatalf("err %v, want ErrNeedMore", err)
				}
			default:
				var fe *Error
				if !errors.As(err, &fe) || !strings.Contains(fe.Reason, tt.err) {
					t.Fatalf("err %v, want *Error containing %q", err, tt.err)
				}
			}
			if n != tt.n {
				t.Errorf("n = %d, want %d", n, tt.n)
			}
		})
	}
}

func TestRESPResync(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"*1\r\n$4\r\nPING\r\n", 0},
		{"ng\r\n*1\r\n$4\r\nPING\r\n", 4},
		{"x*1\r\n", -1},
		{"garbage", -1},
	}
	for _, tt := range tests {
		if got := newRESP(Stream).(Resyncer).Resync(0, []byte(tt.in)); got != tt.want {
			t.Errorf("Resync(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// FuzzRESP checks the Decoder contract and chunking invariance in both
// directions (inline commands are accepted only from the client).
func FuzzRESP(f *testing.F) {
	for _, name := range []string{"0.c2s", "0.s2c", "1.c2s", "1.s2c", "2.c2s", "2.s2c"} {
		b := bFixture(f, "resp", "08_redis_benchmark_pipeline_P16."+name+".bin")
		f.Add(b[:min(len(b), 600)], 100, name[2] == 's')
	}
	f.Add([]byte("|1\r\n+ttl\r\n:3\r\n%1\r\n+a\r\n~1\r\n>1\r\n=5\r\ntxt:a\r\n"), 9, true)
	f.Add([]byte("PING\r\nSET a b\n*1\r\n$4\r\nPING\r\n"), 7, false)
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		dir := reassembly.ClientToServer
		if server {
			dir = reassembly.ServerToClient
		}
		bCheckChunking(t, func() Decoder { return newRESP(Stream) }, dir, data, cut)
		newRESP(Stream).(Resyncer).Resync(dir, data)
	})
}

func BenchmarkDecodeRESP(b *testing.B) {
	data := bFixture(b, "resp", "08_redis_benchmark_pipeline_P16.1.c2s.bin")
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := newRESP(Stream)
		for off := 0; off < len(data); {
			_, n, err := d.Next(reassembly.ClientToServer, data[off:], true)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}
