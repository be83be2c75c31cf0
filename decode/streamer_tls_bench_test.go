package decode_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/decode/tlsdec"
	"github.com/sockscope/sockscope/reassembly"
)

// tlsWrite is one Write on the wire of a recorded TLS connection.
type tlsWrite struct {
	dir  reassembly.Direction
	data []byte
}

// recordingConn records what one side writes, in the order of all writes.
type recordingConn struct {
	net.Conn
	dir    reassembly.Direction
	mu     *sync.Mutex
	writes *[]tlsWrite
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	*c.writes = append(*c.writes, tlsWrite{c.dir, bytes.Clone(p)})
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// recordHTTPS runs a real crypto/tls TLS 1.3 connection in memory: the
// client sends n pipelined GETs, the server answers each with a body of
// size bytes (keep-alive, Content-Length). It returns the wire writes in
// order, the key log the client wrote, and the suite negotiated.
func recordHTTPS(tb testing.TB, n, size int) ([]tlsWrite, *tlsdec.KeyLog, string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sockscope.test"},
		DNSNames: []string{"sockscope.test"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	var mu sync.Mutex
	var writes []tlsWrite
	var keylog bytes.Buffer
	cc, sc := net.Pipe()
	client := tls.Client(&recordingConn{cc, reassembly.ClientToServer, &mu, &writes}, &tls.Config{
		ServerName: "sockscope.test", InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, KeyLogWriter: &keylog,
		NextProtos: []string{"http/1.1"}})
	server := tls.Server(&recordingConn{sc, reassembly.ServerToClient, &mu, &writes}, &tls.Config{
		Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	body := bytes.Repeat([]byte("sockscope benchmark body\n"), size/25+1)[:size]
	head := fmt.Appendf(nil, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", size)
	done := make(chan error, 1)
	go func() {
		defer server.Close()
		r := bufio.NewReader(server)
		for range n {
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					done <- err
					return
				}
				if line == "\r\n" {
					break
				}
			}
			if _, err := server.Write(append(head, body...)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	req := strings.Repeat("GET /obj HTTP/1.1\r\nHost: sockscope.test\r\n\r\n", n)
	go client.Write([]byte(req))
	if _, err := io.Copy(io.Discard, client); err != nil && err != io.EOF {
		tb.Fatal(err)
	}
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	suite := tls.CipherSuiteName(client.ConnectionState().CipherSuite)
	client.Close()
	kl, err := tlsdec.ParseKeyLog(&keylog)
	if err != nil {
		tb.Fatal(err)
	}
	return writes, kl, suite
}

// BenchmarkStreamerTLS decrypts and frames a real TLS 1.3 connection
// (crypto/tls, AES-128-GCM on hardware with AES instructions) carrying 100
// HTTP/1.1 responses of 1 MiB, 100 MiB in all, through the Streamer with
// its key log: records cut from 1448-byte segments, decrypted, and the
// HTTP inside framed (read --stats --keylog and live --keylog do this).
// MB/s counts TCP payload bytes.
func BenchmarkStreamerTLS(b *testing.B) {
	const n, size = 100, 1 << 20
	writes, keys, suite := recordHTTPS(b, n, size)
	var wire int64
	for _, w := range writes {
		wire += int64(len(w.data))
	}
	b.Logf("%s, %d writes, %d bytes of TCP payload", suite, len(writes), wire)
	s := &reassembly.Stream{Proto: capture.ProtoTCP, Client: netip.MustParseAddrPort("127.0.0.1:40000"),
		Server: netip.MustParseAddrPort("127.0.0.1:443")}
	const mss = 1448
	b.SetBytes(wire)
	b.ReportAllocs()
	for b.Loop() {
		var msgs [2]int
		st, err := decode.NewStreamer(decode.StreamerOptions{Keys: keys,
			OnMessage: func(_ *reassembly.Stream, m *decode.Message) {
				if m.Protocol == "http1" && !m.Partial {
					msgs[m.Dir]++
				}
			}})
		if err != nil {
			b.Fatal(err)
		}
		var off [2]int64
		frame := 0
		for _, w := range writes {
			for p := w.data; len(p) > 0; {
				k := min(len(p), mss)
				frame++
				st.Data(s, w.dir, reassembly.ByteRange{Start: off[w.dir], End: off[w.dir] + int64(k)}, p[:k], frame)
				off[w.dir] += int64(k)
				p = p[k:]
			}
		}
		st.End(s)
		if msgs != [2]int{n, n} {
			b.Fatalf("framed %v HTTP messages inside TLS, want %d each way", msgs, n)
		}
	}
}
