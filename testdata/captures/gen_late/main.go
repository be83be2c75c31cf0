// Command gen_late writes four small exact captures of TCP packets that
// arrive after their connection closed, or after its 4-tuple was reused:
//
//	late_retrans_3s_after_close.pcap  server data + FIN retransmitted 3 s after a clean close
//	late_ack_after_close.pcap         the final ACK of the last FIN 3 s late, duplicated 1 s later
//	port_reuse_new_isn_1s.pcap        same 4-tuple reused 1 s after a clean close, new ISNs
//	late_old_after_reuse.pcap         as above, plus a late first-connection data segment
//	                                  arriving inside the second connection
//
// Run it from the module root:
//
//	go run ./testdata/captures/gen_late
//
// It writes the files into testdata/captures/; testdata/captures/record_late.sh
// runs it and records tshark's answers into testdata/tshark/.
package main

import (
	"fmt"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/sockscope/sockscope/internal/pcapgen"
)

var (
	client = netip.MustParseAddr("127.0.0.1")
	server = netip.MustParseAddr("127.0.0.2")
)

func ap(a netip.Addr, port uint16) netip.AddrPort { return netip.AddrPortFrom(a, port) }

// fill returns n printable bytes: label, then a repeating pattern, so Follow
// output is readable and every segment's bytes differ.
func fill(label string, n int) []byte {
	b := make([]byte, n)
	copy(b, label)
	for i := len(label); i < n; i++ {
		b[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[(i+len(label))%36]
	}
	if n > 0 {
		b[n-1] = '\n'
	}
	return b
}

// conn starts a connection whose first packet is at t.
func conn(c *pcapgen.Capture, t time.Time, cport uint16, isnC, isnS uint32) *pcapgen.Conn {
	k := pcapgen.NewConn(c, ap(client, cport), ap(server, 8080), isnC, isnS)
	k.T = t
	return k
}

// last is the time of the packet k wrote last.
func last(k *pcapgen.Conn) time.Time { return k.T.Add(-k.Step) }

// after makes k's next packet come exactly d after its last one.
func after(k *pcapgen.Conn, d time.Duration) { k.T = last(k).Add(d) }

// exchange writes a request of reqLen bytes and a response of the given
// segment sizes, then the client's ACK of the response.
func exchange(k *pcapgen.Conn, tag string, reqLen int, resp ...int) {
	k.Send(0, fill(tag+" request ", reqLen))
	for i, n := range resp {
		k.Send(1, fill(fmt.Sprintf("%s response part %d ", tag, i+1), n))
	}
	k.Ack(0)
}

// closeClean writes server FIN, client FIN/ACK, server ACK.
func closeClean(k *pcapgen.Conn) {
	k.Fin(1)
	k.Fin(0)
	k.Ack(1)
}

// short writes a whole small connection: handshake, 20/40 bytes, clean close.
func short(k *pcapgen.Conn, tag string) {
	k.Handshake()
	exchange(k, tag, 20, 40)
	closeClean(k)
}

func lateRetrans() *pcapgen.Capture {
	c := &pcapgen.Capture{}
	a := conn(c, pcapgen.Epoch, 40001, 100000, 200000)
	short(a, "A")

	b := conn(c, a.T.Add(10*time.Millisecond), 40002, 1000000, 2000000)
	b.Handshake()
	b.Send(0, fill("B request ", 100))
	var lastSeq uint32
	var lastData []byte
	for i := range 3 {
		lastSeq = b.Seq(1)
		lastData = fill(fmt.Sprintf("B response part %d ", i+1), 1000)
		b.Send(1, lastData)
	}
	b.Ack(0)
	closeClean(b)
	finSeq := b.Seq(1) - 1
	// 3 s after the last packet of the close, the server retransmits its
	// last data segment and its FIN; the client ACKs.
	after(b, 3*time.Second)
	b.Raw(1, lastSeq, pcapgen.PSH|pcapgen.ACK, lastData)
	b.Raw(1, finSeq, pcapgen.FIN|pcapgen.ACK, nil)
	b.Ack(0)

	d := conn(c, b.T.Add(10*time.Millisecond), 40003, 3000000, 4000000)
	short(d, "C")
	return c
}

func lateAck() *pcapgen.Capture {
	c := &pcapgen.Capture{}
	k := conn(c, pcapgen.Epoch, 40010, 5000000, 6000000)
	k.Handshake()
	exchange(k, "L", 100, 1000, 1000)
	k.Fin(0)
	k.Fin(1)
	// The client's ACK of the server FIN comes 3 s late, and again 1 s later.
	after(k, 3*time.Second)
	k.Ack(0)
	after(k, time.Second)
	k.Ack(0)
	return c
}

// reuse writes two connections on 127.0.0.1:40000 → 127.0.0.2:8080, the
// second starting 1 s after the first's last packet. With late, a copy of the
// first connection's second response segment arrives after the second
// connection's handshake and request.
func reuse(late bool) *pcapgen.Capture {
	c := &pcapgen.Capture{}
	k1 := conn(c, pcapgen.Epoch, 40000, 7000000, 8000000)
	k1.Handshake()
	k1.Send(0, fill("first request ", 100))
	k1.Send(1, fill("first response part 1 ", 1000))
	oldSeq := k1.Seq(1)
	oldData := fill("first response part 2 ", 1000)
	k1.Send(1, oldData)
	k1.Ack(0)
	closeClean(k1)

	k2 := conn(c, last(k1).Add(time.Second), 40000, 9000000, 10000000)
	k2.Handshake()
	k2.Send(0, fill("SECOND REQUEST ", 120))
	if late {
		k1.T = k2.T
		k1.Raw(1, oldSeq, pcapgen.PSH|pcapgen.ACK, oldData)
		k2.T = k1.T
	}
	k2.Send(1, fill("SECOND RESPONSE PART 1 ", 800))
	k2.Send(1, fill("SECOND RESPONSE PART 2 ", 800))
	k2.Ack(0)
	closeClean(k2)
	return c
}

func main() {
	dir := filepath.Join("testdata", "captures")
	if _, err := os.Stat(dir); err != nil {
		log.Fatalf("run from the module root: %v", err)
	}
	for _, f := range []struct {
		name string
		c    *pcapgen.Capture
	}{
		{"late_retrans_3s_after_close.pcap", lateRetrans()},
		{"late_ack_after_close.pcap", lateAck()},
		{"port_reuse_new_isn_1s.pcap", reuse(false)},
		{"late_old_after_reuse.pcap", reuse(true)},
	} {
		name, c := f.name, f.c
		if err := os.WriteFile(filepath.Join(dir, name), c.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("wrote %s (%d frames)\n", filepath.Join(dir, name), c.Frames())
	}
}
