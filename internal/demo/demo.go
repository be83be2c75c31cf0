// Package demo holds sockscope's teaching captures: small TCP and UDP
// conversations, each showing one thing (a refused connection, a loss and its
// retransmission, a zero window...), generated packet by packet with
// internal/pcapgen. They are deterministic (fixed addresses, sequence numbers
// and timestamps) and need no network: `sockscope demo NAME` draws one, and
// `-w FILE` writes it for Wireshark.
package demo

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/sockscope/sockscope/internal/pcapgen"
)

// Scenario is one teaching capture.
type Scenario struct {
	Name    string // command-line name: "refused"
	Summary string // one line for the list
	// About says what the capture shows and what to look for (a few sentences).
	About string
	// Framing is the framing spec for message labels ("auto" lets the port
	// and content decide, "none" draws no labels).
	Framing string
	build   func(c *pcapgen.Capture)
}

// Pcap returns the scenario's capture as a pcap file (Ethernet, microsecond
// timestamps). The same scenario always gives the same bytes.
func (s Scenario) Pcap() []byte {
	var c pcapgen.Capture
	s.build(&c)
	return c.Bytes()
}

// All returns the scenarios in teaching order.
func All() []Scenario {
	return []Scenario{
		{
			Name:    "handshake",
			Summary: "a clean connection: three-way handshake, one request and reply, orderly close",
			About: "A client opens a TCP connection to a web server, sends one HTTP request, gets the reply " +
				"and closes. Look for the three-way handshake (SYN, SYN-ACK, ACK), how each side " +
				"acknowledges the other's bytes, and the FIN exchange that closes both directions.",
			Framing: "auto",
			build:   buildHandshake,
		},
		{
			Name:    "refused",
			Summary: "connection refused: a SYN to a port nobody listens on is answered by RST",
			About: "A client tries to connect to port 9, where no program listens. The server's kernel " +
				"answers the SYN with a reset, and the client's connect() fails with \"connection refused\".",
			Framing: "auto",
			build:   buildRefused,
		},
		{
			Name:    "reset",
			Summary: "reset mid-stream: the server aborts in the middle of its reply",
			About: "A client asks for a file; the server starts sending it, then aborts the connection " +
				"with RST instead of finishing (its process was killed, or it closed a socket with " +
				"SO_LINGER set to 0). Look at how abrupt a reset is compared with a FIN.",
			Framing: "auto",
			build:   buildReset,
		},
		{
			Name:    "half-close",
			Summary: "half-close: the client finishes sending (FIN) while the server keeps sending",
			About: "The client uploads three lines and calls shutdown(SHUT_WR): its FIN says \"no more " +
				"data from me\". The connection stays open the other way, and the server sends its " +
				"answer after the client's FIN. The capture ends before the server closes.",
			Framing: "line",
			build:   buildHalfClose,
		},
		{
			Name:    "simultaneous-close",
			Summary: "simultaneous close: both sides send FIN before seeing the other's",
			About: "Both applications close at the same moment. The two FINs cross on the wire: each " +
				"FIN acknowledges only the data, not the other FIN, and each side then acknowledges " +
				"the FIN it received.",
			Framing: "line",
			build:   buildSimultaneousClose,
		},
		{
			Name:    "retransmission",
			Summary: "loss and fast retransmission: one segment is lost, duplicate ACKs ask for it again",
			About: "The client sends five 1000-byte segments; the second is lost after the capture point " +
				"(this capture was taken on the client). The server acknowledges the first, then " +
				"repeats the same ACK for every later segment, and the client sends the lost one again.",
			Framing: "none",
			build:   buildRetransmission,
		},
		{
			Name:    "zero-window",
			Summary: "flow control: the receiver's window shrinks to zero, then opens again",
			About: "The client downloads 6 KiB but its application reads slowly: its receive buffer " +
				"(4096 bytes) fills, the window it advertises drops to zero and the server has to " +
				"stop. When the application reads, the client sends a window update and the " +
				"transfer resumes.",
			Framing: "none",
			build:   buildZeroWindow,
		},
		{
			Name:    "split-message",
			Summary: "framing: two length-prefixed messages arrive as 1.5 + 0.5 across two segments",
			About: "The client sends two messages, each a 4-byte big-endian length followed by 12 bytes. " +
				"TCP does not keep message boundaries: the first segment carries the first message " +
				"and half of the second, the next segment the rest. A receiver must read the length " +
				"and wait for the whole message (--framing len:u32be).",
			Framing: "len:u32be",
			build:   buildSplitMessage,
		},
		{
			Name:    "tcp-vs-udp",
			Summary: "byte stream vs datagrams: the same three writes over TCP and over UDP",
			About: "One application writes \"ping 1\\n\", \"ping 2\\n\" and \"ping 3\\n\" (7 bytes each), first " +
				"over TCP, then over UDP. TCP sends a byte stream: the second and third writes travel " +
				"together in one 14-byte segment, and nothing in the bytes says where a write ended. " +
				"UDP sends each write as its own datagram, boundaries kept.",
			Framing: "line",
			build:   buildTCPvsUDP,
		},
	}
}

// Find returns the scenario called name.
func Find(name string) (Scenario, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Names returns the scenario names in order.
func Names() []string {
	var n []string
	for _, s := range All() {
		n = append(n, s.Name)
	}
	return n
}

var (
	clientAddr = netip.MustParseAddr("10.0.0.1")
	serverAddr = netip.MustParseAddr("10.0.0.2")
	epoch      = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

const (
	isnClient = 1_000_000_000
	isnServer = 3_000_000_000
	ms        = time.Millisecond
	us        = time.Microsecond
	rtt       = 10 * ms // client to server and back
)

// synOptions: MSS 1460, SACK permitted (no window scaling, so every window
// value is in bytes, and no timestamps, to keep the arrows short).
var synOptions = []byte{2, 4, 0x05, 0xb4, 4, 2}

const (
	syn = pcapgen.SYN
	ack = pcapgen.ACK
	psh = pcapgen.PSH
	fin = pcapgen.FIN
	rst = pcapgen.RST
)

const client, server = 0, 1

// conv writes one TCP connection packet by packet at explicit times after
// its start, tracking each side's next sequence number.
type conv struct {
	k    *pcapgen.Conn
	t0   time.Time
	next [2]uint32
}

func newConv(c *pcapgen.Capture, at time.Duration, cport, sport uint16) *conv {
	k := pcapgen.NewConn(c, netip.AddrPortFrom(clientAddr, cport), netip.AddrPortFrom(serverAddr, sport), isnClient, isnServer)
	return &conv{k: k, t0: epoch.Add(at), next: [2]uint32{isnClient, isnServer}}
}

// raw writes a segment with an explicit sequence and acknowledgement number,
// and advances side's next sequence number past it when it is new.
func (v *conv) raw(at time.Duration, side int, flags uint8, seq, ackNo uint32, win uint16, payload []byte) {
	v.k.T = v.t0.Add(at)
	s := pcapgen.Segment{Seq: seq, Flags: flags, Window: win, Payload: payload}
	if flags&ack != 0 {
		s.Ack = ackNo
	}
	if win == 0 && flags&rst == 0 {
		s.ZeroWindow = true
	}
	if flags&syn != 0 {
		s.Options = synOptions
	}
	v.k.Emit(side, s)
	end := seq + uint32(len(payload))
	if flags&(syn|fin) != 0 {
		end++
	}
	if int32(end-v.next[side]) > 0 {
		v.next[side] = end
	}
}

// send writes a segment at side's next sequence number that acknowledges
// everything the other side has sent.
func (v *conv) send(at time.Duration, side int, flags uint8, win uint16, payload []byte) {
	v.raw(at, side, flags, v.next[side], v.next[1-side], win, payload)
}

// handshake writes SYN, SYN-ACK, ACK as seen on the client (one RTT between
// the SYN and the SYN-ACK).
func (v *conv) handshake(cwin, swin uint16) time.Duration {
	v.send(0, client, syn, cwin, nil)
	v.send(rtt, server, syn|ack, swin, nil)
	v.send(rtt+50*us, client, ack, cwin, nil)
	return rtt + 50*us
}

func buildHandshake(c *pcapgen.Capture) {
	v := newConv(c, 0, 40112, 80)
	t := v.handshake(65535, 65535)
	v.send(t+50*us, client, psh|ack, 65535, []byte("GET /hello HTTP/1.1\r\nHost: demo.test\r\n\r\n"))
	t += 50*us + rtt
	v.send(t, server, psh|ack, 65535, []byte("HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n"))
	v.send(t+40*us, client, ack, 65535, nil)
	v.send(t+200*us, client, fin|ack, 65535, nil)
	t += 200*us + rtt
	v.send(t, server, fin|ack, 65535, nil)
	v.send(t+40*us, client, ack, 65535, nil)
}

func buildRefused(c *pcapgen.Capture) {
	v := newConv(c, 0, 40114, 9)
	v.send(0, client, syn, 65535, nil)
	// The kernel answers with RST,ACK: seq 0, acknowledging the SYN, window 0.
	v.raw(80*us, server, rst|ack, 0, v.next[client], 0, nil)
}

func buildReset(c *pcapgen.Capture) {
	v := newConv(c, 0, 40116, 80)
	t := v.handshake(65535, 65535)
	v.send(t+50*us, client, psh|ack, 65535, []byte("GET /big.iso HTTP/1.1\r\nHost: demo.test\r\n\r\n"))
	t += 50*us + rtt
	body := bytes.Repeat([]byte("0123456789abcdef"), 1460/16+1)[:1460-len("HTTP/1.1 200 OK\r\nContent-Length: 734003200\r\n\r\n")]
	v.send(t, server, ack, 65535, append([]byte("HTTP/1.1 200 OK\r\nContent-Length: 734003200\r\n\r\n"), body...))
	v.send(t+100*us, server, ack, 65535, bytes.Repeat([]byte("0123456789abcdef"), 1460/16+1)[:1460])
	v.send(t+140*us, client, ack, 65535, nil)
	v.send(t+2*ms, server, rst|ack, 0, nil)
}

func buildHalfClose(c *pcapgen.Capture) {
	v := newConv(c, 0, 40118, 7000)
	t := v.handshake(65535, 65535)
	v.send(t+50*us, client, psh|ack, 65535, []byte("pear\napple\nfig\n"))
	v.send(t+100*us, client, fin|ack, 65535, nil)
	t += 100*us + rtt
	v.send(t, server, ack, 65535, nil)
	v.send(t+300*us, server, psh|ack, 65535, []byte("apple\n"))
	v.send(t+340*us, client, ack, 65535, nil)
	v.send(t+400*us, server, psh|ack, 65535, []byte("fig\npear\n"))
	v.send(t+440*us, client, ack, 65535, nil)
}

func buildSimultaneousClose(c *pcapgen.Capture) {
	v := newConv(c, 0, 40120, 7001)
	t := v.handshake(65535, 65535)
	v.send(t+50*us, client, psh|ack, 65535, []byte("bye\n"))
	t += 50*us + rtt
	v.send(t, server, psh|ack, 65535, []byte("bye\n"))
	v.send(t+40*us, client, ack, 65535, nil)
	// Both close at once: each FIN acknowledges the other's data, not its FIN.
	cfin, sfin := v.next[client], v.next[server]
	v.raw(t+1*ms, client, fin|ack, cfin, sfin, 65535, nil)
	v.raw(t+1*ms+rtt/2, server, fin|ack, sfin, cfin, 65535, nil)
	v.raw(t+1*ms+rtt/2+40*us, client, ack, cfin+1, sfin+1, 65535, nil)
	v.raw(t+1*ms+rtt/2+60*us, server, ack, sfin+1, cfin+1, 65535, nil)
}

func buildRetransmission(c *pcapgen.Capture) {
	v := newConv(c, 0, 40122, 9000)
	t := v.handshake(65535, 65535)
	first := v.next[client]
	seg := func(i int) []byte { return bytes.Repeat([]byte{'a' + byte(i)}, 1000) }
	for i := range 5 {
		v.send(t+time.Duration(50+20*i)*us, client, psh|ack, 65535, seg(i))
	}
	t += 50*us + rtt
	// The server got segment 1, then 3, 4 and 5 beyond a hole: it keeps
	// asking for the second segment.
	lost := first + 1000
	for i := range 4 {
		v.raw(t+time.Duration(40*i)*us, server, ack, v.next[server], lost, 65535, nil)
	}
	t += 3*40*us + 30*us
	v.raw(t, client, psh|ack, lost, v.next[server], 65535, seg(1))
	t += rtt
	v.raw(t, server, ack, v.next[server], v.next[client], 65535, nil)
	v.send(t+200*us, client, fin|ack, 65535, nil)
	t += 200*us + rtt
	v.send(t, server, fin|ack, 65535, nil)
	v.send(t+40*us, client, ack, 65535, nil)
}

func buildZeroWindow(c *pcapgen.Capture) {
	v := newConv(c, 0, 40124, 8080)
	const buf = 4096
	t := v.handshake(buf, 65535)
	v.send(t+50*us, client, psh|ack, buf, []byte("GET /six-kib HTTP/1.1\r\nHost: demo.test\r\n\r\n"))
	t += 50*us + rtt
	chunk := func(i int) []byte { return bytes.Repeat([]byte{'0' + byte(i)}, 1024) }
	// Four segments fill the 4096-byte buffer; the application reads nothing.
	for i := range 4 {
		v.send(t+time.Duration(20*i)*us, server, ack, 65535, chunk(i))
		if i%2 == 1 {
			v.send(t+time.Duration(20*i+10)*us, client, ack, uint16(buf-1024*(i+1)), nil)
		}
	}
	// 200 ms later the application reads everything: window update.
	t += 200 * ms
	v.send(t, client, ack, buf, nil)
	t += rtt / 2
	v.send(t, server, ack, 65535, chunk(4))
	v.send(t+20*us, server, psh|ack, 65535, chunk(5))
	v.send(t+30*us, client, ack, buf-2048, nil)
	v.send(t+200*us, server, fin|ack, 65535, nil)
	v.send(t+240*us, client, fin|ack, buf, nil)
	v.send(t+240*us+rtt/2, server, ack, 65535, nil)
}

func buildSplitMessage(c *pcapgen.Capture) {
	v := newConv(c, 0, 40126, 9000)
	t := v.handshake(65535, 65535)
	msg := func(s string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(len(s)))
		return append(b, s...)
	}
	stream := append(msg("hello, world"), msg("goodbye, all")...) // 2 × 16 bytes
	v.send(t+50*us, client, psh|ack, 65535, stream[:24])
	t += 50*us + rtt
	v.send(t, server, ack, 65535, nil)
	v.send(t+5*ms, client, psh|ack, 65535, stream[24:])
	t += 5*ms + rtt
	v.send(t, server, psh|ack, 65535, msg("ok"))
	v.send(t+40*us, client, ack, 65535, nil)
	v.send(t+200*us, client, fin|ack, 65535, nil)
	t += 200*us + rtt
	v.send(t, server, fin|ack, 65535, nil)
	v.send(t+40*us, client, ack, 65535, nil)
}

func buildTCPvsUDP(c *pcapgen.Capture) {
	v := newConv(c, 0, 40128, 7007)
	t := v.handshake(65535, 65535)
	// Write 1 leaves at once; writes 2 and 3 wait for its ACK (Nagle) and
	// leave together.
	v.send(t+50*us, client, psh|ack, 65535, []byte("ping 1\n"))
	v.send(t+60*us+rtt, server, ack, 65535, nil)
	v.send(t+100*us+rtt, client, psh|ack, 65535, []byte("ping 2\nping 3\n"))
	t += 100*us + 2*rtt
	v.send(t, server, ack, 65535, nil)
	v.send(t+100*us, client, fin|ack, 65535, nil)
	t += 100*us + rtt
	v.send(t, server, fin|ack, 65535, nil)
	v.send(t+40*us, client, ack, 65535, nil)
	// The same three writes over UDP, 10 µs apart.
	src, dst := netip.AddrPortFrom(clientAddr, 40130), netip.AddrPortFrom(serverAddr, 7007)
	t += 50 * ms
	for i := range 3 {
		c.UDP(epoch.Add(t+time.Duration(10*i)*us), src, dst, []byte("ping "+string(rune('1'+i))+"\n"))
	}
}
