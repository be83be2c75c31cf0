package decode

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"golang.org/x/net/http2/hpack"

	"github.com/sockscope/sockscope/reassembly"
)

// Unit tests, the fuzz target and the benchmark of the grpc framing; its
// answers on real captures are checked against tshark in grpc_test.go.

func h2Frame(typ, flags byte, stream uint32, payload []byte) []byte {
	b := []byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

func h2Headers(fields ...string) []byte {
	var buf bytes.Buffer
	e := hpack.NewEncoder(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		e.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	return buf.Bytes()
}

func grpcMsg(body string) string {
	b := make([]byte, 5)
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)))
	return string(b) + body
}

func TestGRPC(t *testing.T) {
	// Three messages: two whole in one DATA frame with the first 3 bytes of
	// the third's prefix; the rest of it (prefix too) in a padded frame.
	msgs := grpcMsg("hello") + grpcMsg("") + grpcMsg("abcdefghij")
	cut := len(grpcMsg("hello")+grpcMsg("")) + 3
	padded := append([]byte{4}, msgs[cut:]...)
	padded = append(padded, 0, 0, 0, 0)
	c2s := h2Preface + string(h2Frame(1, 0x4, 1, h2Headers(":method", "POST", ":path", "/pkg.Svc/Do", "content-type", "application/grpc"))) +
		string(h2Frame(0, 0, 1, []byte(msgs[:cut]))) + string(h2Frame(0, 0x9, 1, padded))
	got := bSummaryList(t, newGRPC(Stream), reassembly.ClientToServer, []byte(c2s))
	want := []string{
		"client preface",
		"call pkg.Svc/Do · HEADERS stream 1 END_HEADERS",
		"msg 1 5 B, msg 2 0 B, msg 3 start (3 B of its prefix) · DATA stream 1 18 B",
		"msg 3 end (10 of 10 B) · DATA stream 1 17 B END_STREAM PADDED",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("client:\n got %q\nwant %q", got, want)
	}
	res, _ := bDrive(newGRPC(Stream), reassembly.ClientToServer, []byte(c2s))
	if l := bField(res.Msgs[2], "grpc_messages"); l != "5,0" {
		t.Errorf("first DATA frame completes %q, want 5,0", l)
	}
	if p := res.Msgs[3].Parts; len(p) != 3 || p[2].Label != "gRPC msg 3 (prefix)" || p[2].Range != (reassembly.ByteRange{Start: 10, End: 22}) {
		t.Errorf("padded frame parts %+v", p)
	}
	// The server: trailers-only answer with a status and an escaped message.
	s2c := string(h2Frame(4, 0, 0, nil)) + string(h2Frame(1, 0x5, 1, h2Headers(":status", "200", "content-type", "application/grpc",
		"grpc-status", "5", "grpc-message", "no%20such thing")))
	got = bSummaryList(t, newGRPC(Stream), reassembly.ServerToClient, []byte(s2c))
	if len(got) != 2 || got[1] != `grpc-status 5 NOT_FOUND "no such thing" · HEADERS stream 1 END_STREAM END_HEADERS · 200` {
		t.Errorf("server: %q", got)
	}
	// A compressed flag other than 0 or 1 stops following the call, not the framing.
	bad := h2Preface + string(h2Frame(1, 0x4, 1, h2Headers(":path", "/a/b", "content-type", "application/grpc+proto"))) +
		string(h2Frame(0, 0, 1, []byte("\x07\x00\x00\x00\x01x"))) + string(h2Frame(0, 0, 1, []byte("zz")))
	got = bSummaryList(t, newGRPC(Stream), reassembly.ClientToServer, []byte(bad))
	if len(got) != 4 || !strings.HasPrefix(got[3], "(gRPC messages not followed: message 1 has compressed flag 0x07)") {
		t.Errorf("bad flag: %q", got)
	}
	// Plain HTTP/2 requests on a grpc connection stay h2.
	plain := h2Preface + string(h2Frame(1, 0x4, 1, h2Headers(":method", "GET", ":path", "/x"))) + string(h2Frame(0, 1, 1, []byte("hi")))
	res, _ = bDrive(newGRPC(Stream), reassembly.ClientToServer, []byte(plain))
	if len(res.Msgs) != 3 || res.Msgs[2].Protocol != "h2" || res.Msgs[2].Summary != "DATA stream 1 2 B END_STREAM" {
		t.Errorf("plain h2 on a grpc connection: %+v", res.Msgs)
	}
}

func TestDetectGRPC(t *testing.T) {
	c2s := h2Preface + string(h2Frame(4, 0, 0, nil)) + string(h2Frame(1, 0x4, 1, h2Headers(":method", "POST", ":path", "/pkg.Svc/Do", "content-type", "application/grpc")))
	spec, why := Detect(DetectInput{Transport: Stream, C2S: []byte(c2s)})
	if spec != "grpc" || !strings.Contains(why, ":path /pkg.Svc/Do") {
		t.Errorf("gRPC request: %s (%s)", spec, why)
	}
	s2c := string(h2Frame(4, 0, 0, nil)) + string(h2Frame(1, 0x4, 1, h2Headers(":status", "200", "content-type", "application/grpc")))
	if spec, why := Detect(DetectInput{Transport: Stream, S2C: []byte(s2c)}); spec != "grpc" {
		t.Errorf("gRPC response: %s (%s)", spec, why)
	}
	c2s = h2Preface + string(h2Frame(4, 0, 0, nil)) + string(h2Frame(1, 0x4, 1, h2Headers(":method", "GET", ":path", "/")))
	if spec, _ := Detect(DetectInput{Transport: Stream, C2S: []byte(c2s)}); spec != "h2" {
		t.Errorf("plain HTTP/2: %s", spec)
	}
}

// FuzzGRPC checks the Decoder contract and chunking invariance of the grpc
// framing (every byte in exactly one frame; the gRPC layer must not change
// where frames end), and Resync.
func FuzzGRPC(f *testing.F) {
	fuzzSeeds(f, "grpc", "grpc_go_unary_stream.0.c2s.bin", "grpc_go_unary_stream.0.s2c.bin",
		"grpc_python_unary_stream.0.c2s.bin", "grpc_python_unary_stream.0.s2c.bin")
	f.Fuzz(func(t *testing.T, data []byte, cut int, server bool) {
		bCheckChunking(t, func() Decoder { return newGRPC(Stream) }, fuzzDir(server), data, cut)
		newGRPC(Stream).(Resyncer).Resync(fuzzDir(server), data)
	})
}

// BenchmarkDecodeGRPC frames grpc-go's server side: a 40,005-byte message
// in three DATA frames, 20 small stream messages, a 20,000-byte one.
func BenchmarkDecodeGRPC(b *testing.B) {
	benchDecoder(b, "grpc", "grpc_go_unary_stream.0.s2c.bin", reassembly.ServerToClient, func() Decoder { return newGRPC(Stream) })
}
