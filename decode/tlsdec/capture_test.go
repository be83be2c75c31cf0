package tlsdec

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/reassembly"
)

// seg is one in-order piece of a direction's TCP bytes, as the reassembler
// delivers it (Options.OnData), in capture order.
type seg struct {
	dir  reassembly.Direction
	data []byte // nil: a gap of n bytes
	n    int64
}

// tcpSegments returns the in-order TCP payload pieces of TCP stream id of a
// capture, through sockscope's own reassembly.
func tcpSegments(t testing.TB, path string, id int) []seg {
	t.Helper()
	src, err := capture.Open(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer src.Close()
	var segs []seg
	tr := reassembly.NewTracker(reassembly.Options{
		Follow: func(p capture.Proto, sid int) bool { return p == capture.ProtoTCP && sid == id },
		OnData: func(s *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
			if s.Proto != capture.ProtoTCP || s.ID != id {
				return
			}
			segs = append(segs, seg{dir: d, data: bytes.Clone(b), n: r.Len()})
		},
	})
	if err := tr.Consume(src); err != nil {
		t.Fatalf("consume %s: %v", path, err)
	}
	return segs
}

// result is what a Session produced, per direction.
type result struct {
	app     [2][]byte
	records [2][]Record // without Plaintext
	errs    []error
}

// feeder feeds segments to a Session in some chunking.
type feeder struct {
	name string
	feed func(s *Session, segs []seg)
	// maxWaiting is Config.MaxWaiting: feeding one whole direction first
	// needs room for it (0: the default, enough for capture order).
	maxWaiting int
}

var feeders = []feeder{
	{"segments", func(s *Session, segs []seg) {
		for _, g := range segs {
			feedSeg(s, g, func(b []byte) { s.Feed(g.dir, b) })
		}
	}, 0},
	{"bytewise", func(s *Session, segs []seg) {
		for _, g := range segs {
			feedSeg(s, g, func(b []byte) {
				for i := range b {
					s.Feed(g.dir, b[i:i+1])
				}
			})
		}
	}, 0},
	{"random", func(s *Session, segs []seg) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, g := range segs {
			feedSeg(s, g, func(b []byte) {
				for len(b) > 0 {
					n := min(len(b), 1+rng.IntN(700))
					s.Feed(g.dir, b[:n])
					b = b[n:]
				}
			})
		}
	}, 0},
	{"whole_c2s_first", func(s *Session, segs []seg) { feedWhole(s, segs, reassembly.ClientToServer) }, 1 << 20},
	{"whole_s2c_first", func(s *Session, segs []seg) { feedWhole(s, segs, reassembly.ServerToClient) }, 1 << 20},
}

func feedSeg(s *Session, g seg, f func([]byte)) {
	if g.data == nil {
		s.Gap(g.dir, g.n)
		return
	}
	f(g.data)
}

// feedWhole feeds each direction's bytes as one chunk, first one way.
func feedWhole(s *Session, segs []seg, first reassembly.Direction) {
	for _, d := range []reassembly.Direction{first, first.Reverse()} {
		var all []byte
		for _, g := range segs {
			if g.dir == d {
				all = append(all, g.data...)
			}
		}
		s.Feed(d, all)
	}
}

func run(kl *KeyLog, segs []seg, f feeder) (*Session, *result) {
	res := &result{}
	s := NewSession(Config{Keys: kl, MaxWaiting: f.maxWaiting, OnRecord: func(r *Record) {
		if r.Decrypted && r.Inner == ApplicationData {
			if r.AppOffset != int64(len(res.app[r.Dir])) {
				res.errs = append(res.errs, fmt.Errorf("%s record %d: AppOffset %d, want %d", r.Dir, r.N, r.AppOffset, len(res.app[r.Dir])))
			}
			res.app[r.Dir] = append(res.app[r.Dir], r.Plaintext...)
		}
		if r.Err != nil {
			res.errs = append(res.errs, fmt.Errorf("%s: %w", r.Dir, r.Err))
		}
		if r.Err != nil && r.Plaintext != nil {
			res.errs = append(res.errs, fmt.Errorf("%s record %d: plaintext with an error", r.Dir, r.N))
		}
		c := *r
		c.Plaintext = nil
		res.records[r.Dir] = append(res.records[r.Dir], c)
	}})
	f.feed(s, segs)
	s.Close()
	return s, res
}

// corpusCase is a real capture with its key log and tshark's decrypted
// Follow TLS Stream (testdata/README.md says how each was made).
type corpusCase struct {
	name    string // testdata/<name>.pcap, .keys, .tshark.c2s, .tshark.s2c
	stream  int    // TCP stream; tshark's bytes for stream N>0 are in <name>.N.tshark.*
	version uint16
	suite   uint16
	check   func(t *testing.T, i Info)
}

var corpusCases = []corpusCase{
	{name: "11_tls13_curl_openssl_sni", version: 0x0304, suite: 0x1302, check: func(t *testing.T, i Info) {
		// curl offers h2 and http/1.1; s_server -www negotiates none.
		if i.SNI != "sockscope.test" || i.ALPN != "" || fmt.Sprint(i.OfferedALPN) != "[h2 http/1.1]" {
			t.Errorf("SNI %q ALPN %q offered %q, want sockscope.test, none, [h2 http/1.1]", i.SNI, i.ALPN, i.OfferedALPN)
		}
	}},
	{name: "12_tls12_curl_openssl_sni", version: 0x0303, suite: 0xC030, check: func(t *testing.T, i Info) {
		if i.SNI != "sockscope.test" || !i.ExtendedMasterSecret {
			t.Errorf("SNI %q EMS %v, want sockscope.test, true", i.SNI, i.ExtendedMasterSecret)
		}
	}},
	{name: "30_tls13_aes128gcm", version: 0x0304, suite: 0x1301},
	{name: "31_tls13_aes256gcm", version: 0x0304, suite: 0x1302},
	{name: "32_tls13_chacha20", version: 0x0304, suite: 0x1303},
	{name: "33_tls12_ecdhe_rsa_aes128gcm", version: 0x0303, suite: 0xC02F},
	{name: "34_tls12_ecdhe_rsa_aes256gcm", version: 0x0303, suite: 0xC030},
	{name: "35_tls12_ecdhe_rsa_chacha20", version: 0x0303, suite: 0xCCA8},
	{name: "36_tls12_ecdhe_rsa_aes128sha_etm", version: 0x0303, suite: 0xC013, check: wantETM(true)},
	{name: "37_tls12_ecdhe_rsa_aes128sha_noetm", version: 0x0303, suite: 0xC013, check: wantETM(false)},
	{name: "38_tls12_rsa_aes256sha256", version: 0x0303, suite: 0x003D, check: wantETM(false)},
	{name: "39_tls12_ecdhe_rsa_aes256sha384", version: 0x0303, suite: 0xC028, check: wantETM(true)},
	{name: "40_tls13_hrr", version: 0x0304, suite: 0x1302, check: func(t *testing.T, i Info) {
		if !i.HelloRetry {
			t.Error("HelloRetry false, want true")
		}
	}},
	{name: "41_tls13_keyupdate", version: 0x0304, suite: 0x1302, check: func(t *testing.T, i Info) {
		if i.KeyUpdates[0] < 1 || i.KeyUpdates[1] < 1 {
			t.Errorf("KeyUpdates %v, want at least one each way", i.KeyUpdates)
		}
	}},
	{name: "42_tls12_resume_ticket", version: 0x0303, suite: 0xC030, check: wantResumed(false)},
	{name: "42_tls12_resume_ticket", stream: 1, version: 0x0303, suite: 0xC030, check: wantResumed(true)},
	{name: "43_tls12_resume_sessionid", version: 0x0303, suite: 0xC030, check: wantResumed(false)},
	{name: "43_tls12_resume_sessionid", stream: 1, version: 0x0303, suite: 0xC030, check: wantResumed(true)},
	{name: "44_tls13_resume_psk", version: 0x0304, suite: 0x1302, check: wantResumed(false)},
	{name: "44_tls13_resume_psk", stream: 1, version: 0x0304, suite: 0x1302, check: wantResumed(true)},
	{name: "46_tls13_alpn_h2", version: 0x0304, suite: 0x1302, check: wantALPN("h2")},
	{name: "47_tls12_alpn_http11", version: 0x0303, suite: 0xC030, check: wantALPN("http/1.1")},
	{name: "48_tls13_aes128ccm", version: 0x0304, suite: 0x1304},
	{name: "49_tls12_rsa_aes128ccm", version: 0x0303, suite: 0xC09C},
	{name: "51_tls13_curl_nghttpd_h2", version: 0x0304, suite: 0x1302, check: func(t *testing.T, i Info) {
		if i.ALPN != "h2" {
			t.Errorf("ALPN %q, want h2", i.ALPN)
		}
	}},
	{name: "52_tls13_python_tiny_records", version: 0x0304, suite: 0x1302},
	{name: "45_tls13_early_data", version: 0x0304, suite: 0x1302, check: wantResumed(false)},
	{name: "45_tls13_early_data", stream: 1, version: 0x0304, suite: 0x1302, check: func(t *testing.T, i Info) {
		if !i.Resumed || !i.EarlyDataOffered || !i.EarlyDataAccepted {
			t.Errorf("Resumed %v EarlyDataOffered %v EarlyDataAccepted %v, want all true", i.Resumed, i.EarlyDataOffered, i.EarlyDataAccepted)
		}
	}},
}

func wantETM(v bool) func(*testing.T, Info) {
	return func(t *testing.T, i Info) {
		if i.EncryptThenMAC != v {
			t.Errorf("EncryptThenMAC %v, want %v", i.EncryptThenMAC, v)
		}
	}
}

func wantALPN(p string) func(*testing.T, Info) {
	return func(t *testing.T, i Info) {
		if i.ALPN != p || fmt.Sprint(i.OfferedALPN) != "[h2 http/1.1]" {
			t.Errorf("ALPN %q offered %q, want %q of [h2 http/1.1]", i.ALPN, i.OfferedALPN, p)
		}
	}
}

func wantResumed(v bool) func(*testing.T, Info) {
	return func(t *testing.T, i Info) {
		if i.Resumed != v {
			t.Errorf("Resumed %v, want %v", i.Resumed, v)
		}
	}
}

func TestCorpusAgainstTshark(t *testing.T) {
	for _, c := range corpusCases {
		t.Run(fmt.Sprintf("%s/tcp%d", c.name, c.stream), func(t *testing.T) {
			base := filepath.Join("testdata", c.name)
			kl, err := ReadKeyLogFile(base + ".keys")
			if err != nil {
				t.Fatal(err)
			}
			tsharkBase := base
			if c.stream > 0 {
				tsharkBase = fmt.Sprintf("%s.%d", base, c.stream)
			}
			var want [2][]byte
			for d, ext := range []string{".tshark.c2s", ".tshark.s2c"} {
				if want[d], err = os.ReadFile(tsharkBase + ext); err != nil {
					t.Fatal(err)
				}
			}
			segs := tcpSegments(t, base+".pcap", c.stream)
			for _, f := range feeders {
				t.Run(f.name, func(t *testing.T) {
					s, res := run(kl, segs, f)
					for _, e := range res.errs {
						t.Error(e)
					}
					for d := range 2 {
						if !bytes.Equal(res.app[d], want[d]) {
							t.Errorf("%s: decrypted %d bytes, tshark %d; differ at %d", reassembly.Direction(d), len(res.app[d]), len(want[d]), firstDiff(res.app[d], want[d]))
						}
						checkRanges(t, res.records[d], s.Offset(reassembly.Direction(d)))
					}
					i := s.Info()
					if i.Version != c.version || i.Suite != c.suite {
						t.Errorf("version %s suite %s, want %s %s", VersionName(i.Version), SuiteName(i.Suite), VersionName(c.version), SuiteName(c.suite))
					}
					if c.check != nil {
						c.check(t, i)
					}
				})
			}
		})
	}
}

// checkRanges checks that a direction's records tile [0, end) in order and
// are numbered from 1.
func checkRanges(t *testing.T, recs []Record, end int64) {
	t.Helper()
	var off int64
	for i, r := range recs {
		if r.N != i+1 || r.Range.Start != off || r.Range.End <= r.Range.Start {
			t.Errorf("record %d: N %d range %v, want N %d starting at %d", i, r.N, r.Range, i+1, off)
			return
		}
		off = r.Range.End
	}
	if off != end {
		t.Errorf("records end at %d, stream at %d", off, end)
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestTinyRecords: the Python client's 200 small writes are 200 records
// (plus the last one), each 8 bytes of application data, several to a
// segment.
func TestTinyRecords(t *testing.T) {
	const name = "52_tls13_python_tiny_records"
	kl, err := ReadKeyLogFile(filepath.Join("testdata", name+".keys"))
	if err != nil {
		t.Fatal(err)
	}
	segs := tcpSegments(t, filepath.Join("testdata", name+".pcap"), 0)
	// Small records, small buffers (here before Close, which frees them).
	s := NewSession(Config{Keys: kl})
	for _, g := range segs {
		s.Feed(g.dir, g.data)
	}
	if c := cap(s.out) + cap(s.h[0].buf) + cap(s.h[1].buf); c > 8192 {
		t.Errorf("buffers hold %d bytes for a connection of small records", c)
	}
	_, res := run(kl, segs, feeders[0])
	n, c2sSegs := 0, 0
	for _, r := range res.records[0] {
		if r.Decrypted && r.Inner == ApplicationData {
			n++
		}
	}
	for _, g := range segs {
		if g.dir == reassembly.ClientToServer {
			c2sSegs++
		}
	}
	if n != 201 {
		t.Errorf("%d c2s application data records, want 201", n)
	}
	t.Logf("%d c2s application data records in %d segments", n, c2sSegs)
}

// TestRefreshWhenKeyMissing: a key log that gets the connection's secrets
// only once the first encrypted record is there (a live capture racing the
// client writing SSLKEYLOGFILE) still decrypts every record: Config.Refresh
// is called and the lookup tried again before a record is given up.
func TestRefreshWhenKeyMissing(t *testing.T) {
	for _, name := range []string{"30_tls13_aes128gcm", "33_tls12_ecdhe_rsa_aes128gcm"} {
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join("testdata", name+".keys"))
			if err != nil {
				t.Fatal(err)
			}
			kl, refreshes := &KeyLog{}, 0
			var failed, decrypted int
			s := NewSession(Config{Keys: kl, Refresh: func() {
				if refreshes++; refreshes == 1 {
					kl.Write(text)
				}
			}, OnRecord: func(r *Record) {
				if r.Err != nil {
					failed++
				} else if r.Decrypted {
					decrypted++
				}
			}})
			for _, g := range tcpSegments(t, filepath.Join("testdata", name+".pcap"), 0) {
				s.Feed(g.dir, g.data)
			}
			s.Close()
			if failed != 0 || decrypted == 0 || refreshes != 1 {
				t.Errorf("%d records failed, %d decrypted, %d refreshes; want 0, some, 1", failed, decrypted, refreshes)
			}
		})
	}
}
