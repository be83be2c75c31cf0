package decode

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// Unit tests, the fuzz target and the benchmark of the amqp framing; its
// answers on a real session are checked against tshark in proto_test.go.

func amqpFrame(typ byte, ch uint16, payload string) string {
	b := make([]byte, 7)
	b[0] = typ
	binary.BigEndian.PutUint16(b[1:], ch)
	binary.BigEndian.PutUint32(b[3:], uint32(len(payload)))
	return string(b) + payload + "\xce"
}

func amqpStr(s string) string { return string([]byte{byte(len(s))}) + s }

func TestAMQP(t *testing.T) {
	publish := "\x00\x3c\x00\x28\x00\x00" + amqpStr("") + amqpStr("jobs") + "\x00"
	header := "\x00\x3c\x00\x00" + "\x00\x00\x00\x00\x00\x00\x00\x05" + "\x00\x00"
	c2s := "AMQP\x00\x00\x09\x01" + amqpFrame(1, 1, publish) + amqpFrame(2, 1, header) + amqpFrame(3, 1, "hello") + amqpFrame(8, 0, "")
	want := []string{"protocol header AMQP 0-9-1", `Basic.Publish ch 1 exchange "" routing-key "jobs"`,
		"content header ch 1 Basic body 5 B", `content body ch 1 5 B "hello"`, "heartbeat ch 0"}
	if got := bSummaryList(t, newAMQP(Stream), reassembly.ClientToServer, []byte(c2s)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("client:\n got %q\nwant %q", got, want)
	}
	closing := "\x00\x14\x00\x28\x01\x94" + amqpStr("NOT_FOUND - no queue 'x'") + "\x00\x32\x00\x0a"
	deliver := "\x00\x3c\x00\x3c" + amqpStr("ctag") + "\x00\x00\x00\x00\x00\x00\x00\x07\x01" + amqpStr("") + amqpStr("jobs")
	s2c := amqpFrame(1, 1, closing) + amqpFrame(1, 1, deliver) + amqpFrame(1, 0, "\x00\x63\x00\x01")
	want = []string{`Channel.Close ch 1 404 "NOT_FOUND - no queue 'x'" (in Queue.Declare)`,
		`Basic.Deliver ch 1 delivery-tag 7 redelivered exchange "" routing-key "jobs"`, "class 99.method 1 ch 0"}
	if got := bSummaryList(t, newAMQP(Stream), reassembly.ServerToClient, []byte(s2c)); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server:\n got %q\nwant %q", got, want)
	}
	for _, bad := range []struct{ in, want string }{
		{"AMQX\x00\x00\x09\x01", "not an AMQP protocol header"},
		{"\x05\x00\x00\x00\x00\x00\x00\xce", "frame type 5"},
		{"\x01\x00\x00\x00\x00\x00\x01x\x00", "frame end 0x00"},
		{"\x03\x00\x01\x7f\xff\xff\xff", "implausible frame size"},
	} {
		if got := bSummaryList(t, newAMQP(Stream), reassembly.ClientToServer, []byte(bad.in)); len(got) != 1 || !strings.Contains(got[0], bad.want) {
			t.Errorf("%q: %q, want %q", bad.in, got, bad.want)
		}
	}
	if spec, why := Detect(DetectInput{Transport: Stream, S2C: []byte(amqpFrame(1, 0, "\x00\x0a\x00\x0a\x00\x09"))}); spec != "amqp" {
		t.Errorf("Connection.Start first: %s (%s)", spec, why)
	}
}

// FuzzAMQP checks the Decoder contract, chunking invariance and Resync.
func FuzzAMQP(f *testing.F) {
	fuzzSeeds(f, "amqp", "amqp_pika_rabbitmq.0.c2s.bin", "amqp_pika_rabbitmq.0.s2c.bin")
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		bCheckChunking(t, func() Decoder { return newAMQP(Stream) }, fuzzDir(server), data, cut)
		newAMQP(Stream).(Resyncer).Resync(fuzzDir(server), data)
	})
}

// BenchmarkDecodeAMQP frames the server side of the pika session: the
// handshake, a Get-Ok and a Deliver whose 20,000-byte body is three frames.
func BenchmarkDecodeAMQP(b *testing.B) {
	benchDecoder(b, "amqp", "amqp_pika_rabbitmq.0.s2c.bin", reassembly.ServerToClient, func() Decoder { return newAMQP(Stream) })
}
