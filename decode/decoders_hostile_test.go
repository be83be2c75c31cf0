package decode

import (
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/sockscope/sockscope/reassembly"
)

// TestDecodersHostileLengths: length fields at their extremes (and beyond
// what the bytes hold) never panic, never claim more than they were given
// when they succeed, and never allocate what a length field claims: each
// call stays under 1 MiB of allocation.
func TestDecodersHostileLengths(t *testing.T) {
	tests := []struct {
		spec string
		in   string
	}{
		{"http1", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nx"},
		{"http1", "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nx"},
		{"http1", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\nx"},
		{"http1", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\nx"},
		{"http1", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nx"},
		{"http1", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 18446744073709551615\r\n\r\nx"},
		{"http1", "GET / HTTP/1.1\r\n" + strings.Repeat("X-A: b\r\n", 100_000) + "\r\n"},
		{"resp", "*2147483647\r\n$3\r\nSET\r\n"},
		{"resp", "*9223372036854775807\r\n"},
		{"resp", "*-9223372036854775808\r\n"},
		{"resp", "$9223372036854775807\r\nx"},
		{"resp", "$18446744073709551616\r\nx"},
		{"resp", strings.Repeat("*1\r\n", 100_000) + ":1\r\n"},
		{"ws", "\x81\x7f\xff\xff\xff\xff\xff\xff\xff\xffx"},
		{"ws", "\x81\xff\x7f\xff\xff\xff\xff\xff\xff\xff\x01\x02\x03\x04x"},
		{"tls", "\x16\x03\x01\xff\xff\x01\xff\xff\xff"},
		{"tls", "\x16\x03\x01\x00\x08\x01\x00\x00\x04\x03\x03\xff\xff"},
		{"h2", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\xff\xff\xff\x04\x00\x00\x00\x00\x00"},
		{"h2", "\xff\xff\xff\x01\x04\x00\x00\x00\x01"},
		{"dns", "\xff\xff" + "\x00\x01\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xc0\x0c"},
		{"dns", "\x00\x20\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0e\xc0\x0c\x00\x01\x00\x01"},
		{"len:u64be", "\xff\xff\xff\xff\xff\xff\xff\xffx"},
		{"len:u64be", "\x80\x00\x00\x00\x00\x00\x00\x00x"},
		{"len:u32be,adjust=-2147483648", "\x00\x00\x00\x01x"},
		{"len:u32le,offset=1000000", "x"},
		{"fixed:1000000000", "x"},
		{"line", strings.Repeat("x", 1<<20)},
	}
	for _, tt := range tests {
		sp, err := ParseSpec(tt.spec)
		if err != nil {
			t.Logf("%s: refused: %v", tt.spec, err)
			continue
		}
		for _, tr := range []Transport{Stream, Datagram} {
			for _, atEOF := range []bool{false, true} {
				dec, err := New(sp, tr)
				if err != nil || dec == nil {
					t.Fatalf("New(%s): %v", tt.spec, err)
				}
				b := []byte(tt.in)
				var n int
				var derr error
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				before := ms.TotalAlloc
				for d := range 2 {
					_, n, derr = safeNext(dec, reassembly.Direction(d), b, atEOF)
					var fe *Error
					switch {
					case derr == nil:
						if n <= 0 || n > len(b) {
							t.Errorf("%s %q: n = %d for %d bytes", tt.spec, trunc(tt.in), n, len(b))
						}
					case errors.Is(derr, ErrNeedMore):
						if n < 0 {
							t.Errorf("%s %q: ErrNeedMore with n = %d", tt.spec, trunc(tt.in), n)
						}
					case errors.As(derr, &fe):
						if strings.Contains(fe.Reason, "decoder failed") {
							t.Errorf("%s %q: decoder panicked: %s", tt.spec, trunc(tt.in), fe.Reason)
						}
					default:
						t.Errorf("%s %q: error of type %T: %v", tt.spec, trunc(tt.in), derr, derr)
					}
				}
				runtime.ReadMemStats(&ms)
				if a := ms.TotalAlloc - before; a > uint64(len(b))*4+1<<20 {
					t.Errorf("%s %q: allocated %d bytes for %d input bytes", tt.spec, trunc(tt.in), a, len(b))
				}
			}
		}
	}
}

func trunc(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
