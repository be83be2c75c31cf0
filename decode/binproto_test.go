package decode

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// Unit tests, fuzz targets and benchmarks for the binary-protocol framings
// (pgsql, mysql, mqtt, ssh). Their answers on real captures are checked
// against tshark in proto_test.go.

// bSummaryList decodes one direction whole and lists the summaries (and
// the framing error, if any).
func bSummaryList(t *testing.T, d Decoder, dir reassembly.Direction, data []byte) []string {
	t.Helper()
	res, err := bDrive(d, dir, data)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range res.Msgs {
		out = append(out, m.Summary)
	}
	if res.Err != nil {
		out = append(out, "error: "+res.Err.Reason)
	}
	return out
}

func pgMsg(t byte, body string) string {
	b := make([]byte, 5)
	b[0] = t
	binary.BigEndian.PutUint32(b[1:], uint32(4+len(body)))
	return string(b) + body
}

func TestPgSQL(t *testing.T) {
	d := newPgSQL(Stream)
	cancel := make([]byte, 16)
	binary.BigEndian.PutUint32(cancel, 16)
	binary.BigEndian.PutUint32(cancel[4:], pgCancelReq)
	binary.BigEndian.PutUint32(cancel[8:], 4242)
	got := bSummaryList(t, d, reassembly.ClientToServer, cancel)
	if len(got) != 1 || got[0] != "CancelRequest pid 4242" {
		t.Errorf("CancelRequest: %q", got)
	}
	s2c := pgMsg('E', "SERROR\x00VERROR\x00C42P01\x00Mrelation \"x\" does not exist\x00\x00") + pgMsg('Z', "I") +
		pgMsg('D', "\x00\x01\x00\x00\x00\x01a") + pgMsg('T', "\x00\x01now\x00"+strings.Repeat("\x00", 18))
	want := []string{`ErrorResponse 42P01 relation "x" does not exist`, "ReadyForQuery idle", "DataRow 1 col", "RowDescription 1 col (now)"}
	if got := bSummaryList(t, newPgSQL(Stream), reassembly.ServerToClient, []byte(s2c)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server messages:\n got %q\nwant %q", got, want)
	}
	if got := bSummaryList(t, newPgSQL(Stream), reassembly.ServerToClient, []byte("\x7f\x00\x00\x00\x04")); len(got) != 1 || !strings.Contains(got[0], "not a PostgreSQL server message type") {
		t.Errorf("bad type: %q", got)
	}
	// An implausible length is a framing error, not a 4 GiB wait.
	if got := bSummaryList(t, newPgSQL(Stream), reassembly.ServerToClient, []byte("Z\xff\xff\xff\xffI")); len(got) != 1 || !strings.Contains(got[0], "implausible") {
		t.Errorf("huge length: %q", got)
	}
}

// myPkt builds a MySQL packet.
func myPkt(seq byte, payload string) string {
	l := len(payload)
	return string([]byte{byte(l), byte(l >> 8), byte(l >> 16), seq}) + payload
}

func TestMySQLPieces(t *testing.T) {
	// A 16 MiB payload travels as a 0xffffff piece and a short one: one message.
	big := strings.Repeat("x", myMaxPiece)
	data := myPkt(0, "\x03"+big[1:]) + myPkt(1, "SELECT 1") + myPkt(0, "\x0e")
	d := newMySQL(Stream).(*mysqlDecoder)
	d.loggedIn, d.phase = true, myIdle
	res, err := bDrive(d, reassembly.ClientToServer, []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Msgs) != 2 || res.Msgs[0].N != myMaxPiece+4+8+4 || !strings.Contains(res.Msgs[0].Summary, "in 2 packets") || res.Msgs[1].Summary != "COM_PING" {
		for _, m := range res.Msgs {
			t.Logf("%d %.80s", m.N, m.Summary)
		}
		t.Errorf("pieces: %d messages, err %v", len(res.Msgs), res.Err)
	}
}

func TestMySQLResultSet(t *testing.T) {
	d := newMySQL(Stream).(*mysqlDecoder)
	d.loggedIn, d.phase = true, myIdle
	colDef := "\x03def\x00\x00\x00\x02id" + strings.Repeat("\x00", 13)
	if got := bSummaryList(t, d, reassembly.ClientToServer, []byte(myPkt(0, "\x03SELECT  id\n FROM t"))); got[0] != `COM_QUERY "SELECT id FROM t"` {
		t.Errorf("query: %q", got)
	}
	s2c := myPkt(1, "\x01") + myPkt(2, colDef) + myPkt(3, "\xfe\x00\x00\x22\x00") + myPkt(4, "\x017") + myPkt(5, "\xfb") +
		myPkt(6, "\xfe\x00\x00\x22\x00")
	want := []string{"result set: 1 column", `column "id"`, "EOF", `row "7"`, "row NULL", "EOF"}
	if got := bSummaryList(t, d, reassembly.ServerToClient, []byte(s2c)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("result set:\n got %q\nwant %q", got, want)
	}
	err := myPkt(1, "\xff\x7a\x04#42S02Table 't' doesn't exist")
	if got := bSummaryList(t, d, reassembly.ServerToClient, []byte(err)); got[0] != "ERR 1146 42S02 Table 't' doesn't exist" {
		t.Errorf("ERR: %q", got)
	}
}

func TestMQTT(t *testing.T) {
	// MQTT 5 PUBLISH: topic, packet id, properties (payload format 1), payload.
	d := newMQTT(Stream).(*mqttDecoder)
	d.level = 5
	pub := "\x00\x03a/b\x00\x07\x02\x01\x01hi"
	data := string([]byte{0x32, byte(len(pub))}) + pub + "\xc0\x00" + "\xe0\x00"
	want := []string{`PUBLISH "a/b" qos 1 id 7 2 B "hi"`, "PINGREQ", "DISCONNECT"}
	if got := bSummaryList(t, d, reassembly.ClientToServer, []byte(data)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := bSummaryList(t, newMQTT(Stream), reassembly.ClientToServer, []byte("\x80\x00")); len(got) != 1 || !strings.Contains(got[0], "must be 0x2") {
		t.Errorf("bad flags: %q", got)
	}
	if got := bSummaryList(t, newMQTT(Stream), reassembly.ClientToServer, []byte("\x30\xff\xff\xff\xff\x01")); len(got) != 1 || !strings.Contains(got[0], "longer than 4 bytes") {
		t.Errorf("long varint: %q", got)
	}
}

// sshKexInitPacket builds a KEXINIT packet offering the given encryption and MAC.
func sshKexInitPacket(enc, mac string) []byte {
	payload := []byte{sshKexInit}
	payload = append(payload, make([]byte, 16)...)
	for _, l := range []string{"curve25519-sha256", "ssh-ed25519", enc, enc, mac, mac, "none", "none", "", ""} {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(l)))
		payload = append(payload, l...)
	}
	payload = append(payload, 0, 0, 0, 0, 0)
	return sshPacket(payload)
}

func sshPacket(payload []byte) []byte {
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	b = append(b, byte(pad))
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}

func TestSSHCiphers(t *testing.T) {
	for _, tt := range []struct {
		enc, mac, want string
	}{
		{"aes128-gcm@openssh.com", "hmac-sha2-256", "encrypted packet 28 B (aes128-gcm@openssh.com)"},
		{"aes256-ctr", "hmac-sha2-256-etm@openssh.com", "encrypted packet 28 B (aes256-ctr + hmac-sha2-256-etm@openssh.com)"},
		{"chacha20-poly1305@openssh.com", "", "encrypted: 124 B (chacha20-poly1305@openssh.com hides packet lengths)"},
		{"aes256-ctr", "hmac-sha2-256", "encrypted: 124 B (aes256-ctr + hmac-sha2-256 hides packet lengths)"},
	} {
		d := newSSH(Stream).(*sshDecoder)
		srv := append([]byte("SSH-2.0-test\r\n"), sshKexInitPacket(tt.enc, tt.mac)...)
		bSummaryList(t, d, reassembly.ServerToClient, srv)
		cli := append([]byte("SSH-2.0-test\r\n"), sshKexInitPacket(tt.enc, tt.mac)...)
		cli = append(cli, sshPacket([]byte{sshNewKeys})...)
		// Two encrypted packets: length 28 in the clear, 28 bytes, then the tag or MAC.
		extra := map[string]int{"aes128-gcm@openssh.com": 16, "aes256-ctr": 32}[tt.enc]
		for range 2 {
			cli = binary.BigEndian.AppendUint32(cli, 28)
			cli = append(cli, make([]byte, 28+extra)...)
		}
		if strings.Contains(tt.want, "hides") {
			cli = append(cli[:len(cli)-2*(32+extra)], make([]byte, 124)...)
		}
		got := bSummaryList(t, d, reassembly.ClientToServer, cli)
		if got[len(got)-1] != tt.want || !strings.HasPrefix(got[2], "NEWKEYS: encrypted from here") {
			t.Errorf("%s %s: %q", tt.enc, tt.mac, got)
		}
	}
}

// bCheckChunkingHidden is bCheckChunking for a decoder that, once the
// message lengths are hidden (SSH after NEWKEYS with chacha20-poly1305),
// reports what it is given as one message: the messages before that must
// not depend on the chunking, and those after must cover the rest exactly.
func bCheckChunkingHidden(t *testing.T, newDec func() Decoder, dir reassembly.Direction, data []byte, cut int) {
	t.Helper()
	split := func(r bResult) (framed []bMsg, hidden int) {
		for i, m := range r.Msgs {
			if strings.HasPrefix(m.Summary, "encrypted: ") {
				for _, h := range r.Msgs[i:] {
					hidden += h.N
				}
				return r.Msgs[:i], hidden
			}
		}
		return r.Msgs, 0
	}
	whole, err := bDrive(newDec(), dir, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return
	}
	cut %= len(data) + 1
	if cut < 0 {
		cut = -cut
	}
	two, err := bDrive(newDec(), dir, data[:cut], data[cut:])
	if err != nil {
		t.Fatal(err)
	}
	fw, hw := split(whole)
	ft, ht := split(two)
	if !bSameResult(bResult{Msgs: fw}, bResult{Msgs: ft}) || hw != ht || (whole.Err == nil) != (two.Err == nil) {
		t.Fatalf("split at %d differs: whole %d framed + %d hidden (err %v), split %d + %d (err %v)", cut, len(fw), hw, whole.Err, len(ft), ht, two.Err)
	}
}

func fuzzSeeds(f *testing.F, folder string, names ...string) {
	for _, n := range names {
		b := bFixture(f, folder, n)
		f.Add(b[:min(len(b), 2000)], 37, strings.Contains(n, "s2c"))
	}
}

func fuzzDir(server bool) reassembly.Direction {
	if server {
		return reassembly.ServerToClient
	}
	return reassembly.ClientToServer
}

// FuzzPgSQL checks the Decoder contract, chunking invariance and Resync.
func FuzzPgSQL(f *testing.F) {
	fuzzSeeds(f, "pgsql", "pg_psql_query_error.0.c2s.bin", "pg_psql_query_error.0.s2c.bin", "pg_pgbench_extended.1.c2s.bin", "pg_pgbench_extended.1.s2c.bin")
	f.Add([]byte("\x00\x00\x00\x08\x04\xd2\x16\x2f\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"), 9, false)
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		bCheckChunking(t, func() Decoder { return newPgSQL(Stream) }, fuzzDir(server), data, cut)
		newPgSQL(Stream).(Resyncer).Resync(fuzzDir(server), data)
	})
}

// FuzzMySQL checks the Decoder contract and chunking invariance, with the
// decoder in each of its starting states.
func FuzzMySQL(f *testing.F) {
	fuzzSeeds(f, "mysql", "mysql_query_error.0.c2s.bin", "mysql_query_error.0.s2c.bin")
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		for _, phase := range []myPhase{myGreeting, myAuth, myResponse, myRows, myPrepParams} {
			bCheckChunking(t, func() Decoder {
				d := newMySQL(Stream).(*mysqlDecoder)
				d.phase, d.loggedIn, d.cmd, d.left, d.prepCols = phase, phase > myAuth, 0x16, 2, 1
				return d
			}, fuzzDir(server), data, cut)
		}
	})
}

// FuzzMQTT checks the Decoder contract, chunking invariance and Resync for
// MQTT 3.1.1 and 5.
func FuzzMQTT(f *testing.F) {
	fuzzSeeds(f, "mqtt", "mqtt_v311_v5.0.c2s.bin", "mqtt_v311_v5.0.s2c.bin")
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		for _, level := range []byte{0, 5} {
			bCheckChunking(t, func() Decoder { return &mqttDecoder{level: level} }, fuzzDir(server), data, cut)
		}
		newMQTT(Stream).(Resyncer).Resync(fuzzDir(server), data)
	})
}

// FuzzSSH checks the Decoder contract and chunking invariance up to the
// point where a cipher hides the packet lengths.
func FuzzSSH(f *testing.F) {
	fuzzSeeds(f, "ssh", "ssh_exec.0.c2s.bin", "ssh_exec.0.s2c.bin")
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		bCheckChunkingHidden(t, func() Decoder { return newSSH(Stream) }, fuzzDir(server), data, cut)
	})
}

func benchDecoder(b *testing.B, folder, name string, dir reassembly.Direction, newDec func() Decoder) {
	data := bFixture(b, folder, name)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		d := newDec()
		for off := 0; off < len(data); {
			_, n, err := d.Next(dir, data[off:], true)
			if err != nil {
				b.Fatal(err)
			}
			off += n
		}
	}
}

func BenchmarkDecodePgSQL(b *testing.B) {
	// The server's bytes start with its 'N' to the client's SSLRequest.
	benchDecoder(b, "pgsql", "pg_psql_query_error.0.s2c.bin", reassembly.ServerToClient, func() Decoder {
		return &pgsqlDecoder{st: [2]pgState{pgTyped, pgSSLByte}}
	})
}

func BenchmarkDecodeMySQL(b *testing.B) {
	benchDecoder(b, "mysql", "mysql_query_error.0.s2c.bin", reassembly.ServerToClient, func() Decoder {
		d := newMySQL(Stream).(*mysqlDecoder)
		return d
	})
}

func TestMemcached(t *testing.T) {
	c2s := "set k 0 0 5\r\nab\r\nc\r\nget k j\r\nms k 2 T0\r\nhi\r\n"
	want := []string{"set k 5 B", "get k j", "ms k 2 B"}
	if got := bSummaryList(t, newMemcached(Stream), reassembly.ClientToServer, []byte(c2s)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("commands:\n got %q\nwant %q", got, want)
	}
	s2c := "STORED\r\nVALUE k 0 5\r\nab\r\nc\r\nVALUE j 0 1\r\nx\r\nEND\r\nEND\r\nVA 2 f\r\nhi\r\nSERVER_ERROR out of memory\r\n"
	want = []string{"STORED", "2 values (6 B) END", "END (no value)", "VA 2 B", "SERVER_ERROR out of memory"}
	if got := bSummaryList(t, newMemcached(Stream), reassembly.ServerToClient, []byte(s2c)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("responses:\n got %q\nwant %q", got, want)
	}
	// Binary: a GetK response with "key not found".
	resp := []byte{0x81, 0x0c, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'k'}
	if got := bSummaryList(t, newMemcached(Stream), reassembly.ServerToClient, resp); len(got) != 1 || got[0] != `GetK response key not found "k"` {
		t.Errorf("binary: %q", got)
	}
	if got := bSummaryList(t, newMemcached(Stream), reassembly.ClientToServer, []byte("set k 0 0 99999999999\r\n")); len(got) != 1 || !strings.Contains(got[0], "implausible") {
		t.Errorf("huge data block: %q", got)
	}
}

// FuzzMemcached checks the Decoder contract, chunking invariance and Resync
// on the text and binary protocols.
func FuzzMemcached(f *testing.F) {
	fuzzSeeds(f, "memcached", "memcached_text_binary.1.c2s.bin", "memcached_text_binary.1.s2c.bin",
		"memcached_text_binary.2.s2c.bin", "memcached_text_binary.3.c2s.bin", "memcached_text_binary.3.s2c.bin")
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		bCheckChunking(t, func() Decoder { return newMemcached(Stream) }, fuzzDir(server), data, cut)
		newMemcached(Stream).(Resyncer).Resync(fuzzDir(server), data)
	})
}

func TestSMTP(t *testing.T) {
	d := newSMTP(Stream)
	// In capture order: greeting, EHLO, its reply, STARTTLS, 220, then TLS.
	steps := []struct {
		dir  reassembly.Direction
		data string
		want string
	}{
		{reassembly.ServerToClient, "220 mx ESMTP\r\n", "220 mx ESMTP"},
		{reassembly.ClientToServer, "EHLO me\r\n", "EHLO me"},
		{reassembly.ServerToClient, "250-mx\r\n250-STARTTLS\r\n250 CHUNKING\r\n", "250 mx (+2 lines)"},
		{reassembly.ClientToServer, "AUTH PLAIN AGEAYg==\r\n", "AUTH PLAIN (credentials not shown)"},
		{reassembly.ServerToClient, "235 ok\r\n", "235 ok"},
		{reassembly.ClientToServer, "BDAT 5 LAST\r\nhello", "BDAT 5 LAST"},
		{reassembly.ServerToClient, "250 queued\r\n", "250 queued"},
		{reassembly.ClientToServer, "STARTTLS\r\n", "STARTTLS"},
		{reassembly.ServerToClient, "220 go ahead\r\n", "220 go ahead"},
		{reassembly.ClientToServer, "\x16\x03\x01\x00\x01\x01", "Handshake ClientHello (start)"},
	}
	for _, s := range steps {
		got := bSummaryList(t, d, s.dir, []byte(s.data))
		if len(got) != 1 || got[0] != s.want {
			t.Errorf("%s %q: got %q, want %q", s.dir, s.data, got, s.want)
		}
	}
	if got := bSummaryList(t, newSMTP(Stream), reassembly.ServerToClient, []byte("250-a\r\nxyz\r\n")); len(got) != 1 || !strings.Contains(got[0], "does not continue it") {
		t.Errorf("broken multi-line reply: %q", got)
	}
}

// FuzzTextProto checks the Decoder contract and chunking invariance of the
// SMTP, FTP and POP3 framings, each direction from a fresh decoder and from
// one that has seen the greeting and a command.
func FuzzTextProto(f *testing.F) {
	fuzzSeeds(f, "textproto", "smtp_curl_python.0.c2s.bin", "smtp_curl_python.0.s2c.bin", "ftp_curl_pyftpdlib.2.c2s.bin",
		"ftp_curl_pyftpdlib.2.s2c.bin", "pop3_dovecot_stls.1.c2s.bin", "pop3_dovecot_stls.1.s2c.bin")
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		for _, mk := range []func(Transport) Decoder{newSMTP, newFTP, newPOP3} {
			bCheckChunking(t, func() Decoder { return mk(Stream) }, fuzzDir(server), data, cut)
			bCheckChunking(t, func() Decoder {
				d := mk(Stream).(*textProtoDecoder)
				d.greeted, d.pending, d.body = true, []string{"RETR +", "DATA"}, !server
				return d
			}, fuzzDir(server), data, cut)
		}
	})
}

func TestIMAP(t *testing.T) {
	c2s := "a1 LOGIN {4}\r\nuser {6+}\r\nsecret\r\na2 APPEND INBOX {5}\r\nhello\r\na3 IDLE\r\nDONE\r\n"
	want := []string{"a1 LOGIN (credentials not shown) (+10 B in literals)", "a2 APPEND INBOX {5} (+5 B in literals)", "a3 IDLE", "DONE"}
	if got := bSummaryList(t, newIMAP(Stream), reassembly.ClientToServer, []byte(c2s)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("commands:\n got %q\nwant %q", got, want)
	}
	s2c := "* 1 FETCH (BODY[] {3}\r\nabc)\r\n+ go ahead\r\na1 OK done\r\n"
	want = []string{"* 1 FETCH (BODY[] {3} (+3 B in literals)", "+ go ahead", "a1 OK done"}
	if got := bSummaryList(t, newIMAP(Stream), reassembly.ServerToClient, []byte(s2c)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("responses:\n got %q\nwant %q", got, want)
	}
	if got := bSummaryList(t, newIMAP(Stream), reassembly.ClientToServer, []byte("a1 LOGIN {99999999999}\r\n")); len(got) != 1 || !strings.Contains(got[0], "implausible") {
		t.Errorf("huge literal: %q", got)
	}
}

// FuzzIMAP checks the Decoder contract and chunking invariance of the IMAP
// framing, literals included.
func FuzzIMAP(f *testing.F) {
	fuzzSeeds(f, "textproto", "imap_dovecot_starttls.0.c2s.bin", "imap_dovecot_starttls.0.s2c.bin")
	f.Add([]byte("a1 LOGIN {4}\r\nuser {6+}\r\nsecret\r\n"), 15, false)
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		bCheckChunking(t, func() Decoder { return newIMAP(Stream) }, fuzzDir(server), data, cut)
	})
}

func kafkaFrame(body string) string {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(len(body)))
	return string(b) + body
}

func TestKafka(t *testing.T) {
	d := newKafka(Stream)
	// Metadata v9 request corr 7, client "cli"; a request without a client id.
	req := kafkaFrame("\x00\x03\x00\x09\x00\x00\x00\x07\x00\x03cli\x00\x00") + kafkaFrame("\x00\x12\x00\x00\x00\x00\x00\x08\xff\xff")
	want := []string{`Metadata v9 request corr 7 · 19 B client "cli"`, "ApiVersions v0 request corr 8 · 14 B"}
	if got := bSummaryList(t, d, reassembly.ClientToServer, []byte(req)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("requests:\n got %q\nwant %q", got, want)
	}
	// Responses are named by the request they answer, in any order; an
	// unknown correlation id is said to be one.
	resp := kafkaFrame("\x00\x00\x00\x08\x00\x23") + kafkaFrame("\x00\x00\x00\x07xyz") + kafkaFrame("\x00\x00\x00\x07")
	want = []string{"ApiVersions v0 response corr 8 · 10 B error 35", "Metadata v9 response corr 7 · 11 B", "response corr 7 (request not seen) · 8 B"}
	if got := bSummaryList(t, d, reassembly.ServerToClient, []byte(resp)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("responses:\n got %q\nwant %q", got, want)
	}
	for _, bad := range []struct{ in, want string }{
		{"\xff\x00\x00\x00", "implausible message size"},
		{kafkaFrame("\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"), "not a Kafka request header"},
		{kafkaFrame("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x09ab"), "client id longer"},
	} {
		if got := bSummaryList(t, newKafka(Stream), reassembly.ClientToServer, []byte(bad.in)); len(got) != 1 || !strings.Contains(got[0], bad.want) {
			t.Errorf("%q: %q, want %q", bad.in, got, bad.want)
		}
	}
	// Produce v9 (flexible: header tags, compact strings and arrays) and v3.
	produce := kafkaFrame("\x00\x00\x00\x09\x00\x00\x00\x05\x00\x01c\x00"+"\x00\xff\xff\x00\x00\x75\x30"+
		"\x02\x03t1\x02\x00\x00\x00\x00\x05abcd\x00\x00\x00") +
		kafkaFrame("\x00\x00\x00\x03\x00\x00\x00\x06\xff\xff"+"\xff\xff\x00\x01\x00\x00\x75\x30"+
			"\x00\x00\x00\x02"+"\x00\x01a"+"\x00\x00\x00\x01"+"\x00\x00\x00\x00"+"\x00\x00\x00\x03xyz"+"\x00\x02bb"+"\x00\x00\x00\x00")
	want = []string{`Produce v9 request corr 5 · 40 B client "c" · topic "t1" 4 B of records`,
		`Produce v3 request corr 6 · 52 B · topic "a" "bb" 3 B of records`}
	if got := bSummaryList(t, newKafka(Stream), reassembly.ClientToServer, []byte(produce)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("produce:\n got %q\nwant %q", got, want)
	}
	if why, ok := detectKafka([]byte(req), nil); !ok || why != "Kafka Metadata v9 request (correlation id 7)" {
		t.Errorf("detect: %q %v", why, ok)
	}
	if _, ok := detectKafka([]byte(req), []byte(kafkaFrame("\x00\x00\x00\x09"))); ok {
		t.Error("detect: a response with another correlation id")
	}
}

// FuzzKafka checks the Decoder contract, chunking invariance and Resync.
func FuzzKafka(f *testing.F) {
	fuzzSeeds(f, "kafka", "kafka_franz_kfake.1.c2s.bin", "kafka_franz_kfake.1.s2c.bin", "kafka_franz_kfake.2.c2s.bin")
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		bCheckChunking(t, func() Decoder { return newKafka(Stream) }, fuzzDir(server), data, cut)
		newKafka(Stream).(Resyncer).Resync(fuzzDir(server), data)
	})
}

// BenchmarkDecodeKafka frames the client side of a produce connection: three
// Produce requests, the last of 100,133 bytes.
func BenchmarkDecodeKafka(b *testing.B) {
	benchDecoder(b, "kafka", "kafka_franz_kfake.3.c2s.bin", reassembly.ClientToServer, func() Decoder { return newKafka(Stream) })
}
