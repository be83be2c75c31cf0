package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
)

// Config drives one generation run.
type Config struct {
	Mode     string // "mix" or "scan"
	Seed     uint64
	Size     int64 // mix: target file size in bytes
	Flows    int   // scan: number of distinct flows
	Checksum bool  // compute IPv4 header and TCP/UDP checksums (IP is cheap, L4 costs ~15%)
}

// Summary describes what was written.
type Summary struct {
	Packets          int64
	Bytes            int64 // file bytes, pcap headers included
	TCPConns         int   // == tshark's tcp.stream count
	UDPFlows         int
	Largest          int // tcp.stream ID with the most frame bytes (tshark conv,tcp "Bytes")
	LargestBytes     int64
	LargestS2C       int // tcp.stream ID with the most server->client payload bytes
	LargestS2CBytes  int64
	OpenAtEnd        int // connections deliberately left open
	Resets           int
	Bulk             int
	Losses, Reorders int
	DupRetrans       int
}

func (s Summary) String() string {
	return fmt.Sprintf("packets=%d bytes=%d tcp_connections=%d udp_flows=%d largest_stream=%d largest_stream_bytes=%d largest_s2c_stream=%d largest_s2c_payload=%d bulk=%d resets=%d open_at_end=%d losses=%d reorders=%d dup_retrans=%d",
		s.Packets, s.Bytes, s.TCPConns, s.UDPFlows, s.Largest, s.LargestBytes, s.LargestS2C, s.LargestS2CBytes,
		s.Bulk, s.Resets, s.OpenAtEnd, s.Losses, s.Reorders, s.DupRetrans)
}

// TCP flags.
const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

const (
	patSize = 1 << 20 // payload pattern ring (power of two)
	patMask = patSize - 1
	patPad  = 4096 // so any copy of <= mss bytes from a masked start is contiguous
)

type gen struct {
	cfg     Config
	r       rng
	bw      *bufio.Writer
	err     error
	scratch []byte
	opt     [40]byte
	pat     []byte
	clock   int64 // microseconds since epochSec

	nextTCP, nextUDP int
	sum              Summary

	hostPort []uint16 // next ephemeral port per client host
}

// Generate writes a complete capture to w.
func Generate(w io.Writer, cfg Config) (Summary, error) {
	g := &gen{
		cfg:     cfg,
		r:       rng{s: cfg.Seed*0x2545f4914f6cdd1d + 0x1234567},
		bw:      bufio.NewWriterSize(w, 1<<20),
		scratch: make([]byte, 4096),
		pat:     make([]byte, patSize+patPad),
	}
	g.sum.Largest, g.sum.LargestS2C = -1, -1
	for i := 0; i+8 <= len(g.pat); i += 8 {
		binary.LittleEndian.PutUint64(g.pat[i:], g.r.next())
	}
	if err := writePcapHeader(g.bw); err != nil {
		return g.sum, err
	}
	g.sum.Bytes = pcapHdrLen
	switch cfg.Mode {
	case "mix":
		g.mix()
	case "scan":
		g.scan()
	default:
		return g.sum, fmt.Errorf("unknown mode %q", cfg.Mode)
	}
	if g.err != nil {
		return g.sum, g.err
	}
	return g.sum, g.bw.Flush()
}

// ---------------------------------------------------------------- messages

const (
	frPlain = iota // hdr + body(pattern) + tail
	frTLS          // TLS application-data records of <= 16384 bytes
)

const tlsRec = 16384

// message is one application-level message sent in one direction.
type message struct {
	dir       int // 0 client->server, 1 server->client
	framing   int
	hdr, tail []byte
	body      int64
	patOff    int64
	length    int64
}

func newPlain(dir int, hdr []byte, body int64, tail []byte, patOff int64) message {
	return message{dir: dir, framing: frPlain, hdr: hdr, tail: tail, body: body, patOff: patOff,
		length: int64(len(hdr)) + body + int64(len(tail))}
}

func newTLS(dir int, body int64, patOff int64) message {
	if body < 1 {
		body = 1
	}
	recs := (body + tlsRec - 1) / tlsRec
	return message{dir: dir, framing: frTLS, body: body, patOff: patOff, length: body + 5*recs}
}

// fill writes message bytes [off, off+len(dst)) into dst.
func (m *message) fill(dst []byte, off int64, pat []byte) {
	switch m.framing {
	case frPlain:
		if h := int64(len(m.hdr)); off < h {
			n := copy(dst, m.hdr[off:])
			dst, off = dst[n:], off+int64(n)
		}
		off -= int64(len(m.hdr))
		if len(dst) > 0 && off < m.body {
			n := int64(len(dst))
			if n > m.body-off {
				n = m.body - off
			}
			copy(dst[:n], pat[(m.patOff+off)&patMask:])
			dst, off = dst[n:], off+n
		}
		if len(dst) > 0 {
			copy(dst, m.tail[off-m.body:])
		}
	case frTLS:
		for len(dst) > 0 {
			rec := off / (tlsRec + 5)
			in := off % (tlsRec + 5)
			rl := m.body - rec*tlsRec
			if rl > tlsRec {
				rl = tlsRec
			}
			if in < 5 {
				h := [5]byte{23, 3, 3, byte(rl >> 8), byte(rl)}
				n := copy(dst, h[in:])
				dst, off = dst[n:], off+int64(n)
				continue
			}
			n := int64(len(dst))
			if n > 5+rl-in {
				n = 5 + rl - in
			}
			copy(dst[:n], pat[(m.patOff+rec*tlsRec+in-5)&patMask:])
			dst, off = dst[n:], off+n
		}
	}
}

// ---------------------------------------------------------------- TCP

const (
	stSyn = iota
	stSynAck
	stAck
	stData
	stClose
	stCloseAck
	stDone
)

const (
	endFIN = iota
	endRST
)

type conn struct {
	id         int
	ip         [2]uint32 // 0 client, 1 server
	port       [2]uint16
	isn        [2]uint32
	seq        [2]uint32 // next new sequence number per side
	ipid       [2]uint16
	tsoff      [2]uint32
	lastTS     [2]uint32
	state      int
	bulk       bool
	msgs       []message
	mi         int
	off        int64  // bytes of msgs[mi] sent
	msgSeq     uint32 // seq of msgs[mi] byte 0
	unacked    int
	end        int
	closer     int // side that sends FIN/RST first
	frameBytes int64
	s2cPayload int64
}

func (g *gen) newConn(port uint16, bulk bool) *conn {
	r := &g.r
	c := &conn{id: -1, bulk: bulk}
	c.ip[0], c.port[0] = g.allocClient()
	c.ip[1] = ip4(10, 0, 0, 1+r.intn(10))
	c.port[1] = port
	for d := 0; d < 2; d++ {
		c.isn[d] = uint32(r.next())
		c.seq[d] = c.isn[d]
		c.ipid[d] = uint16(r.next())
		c.tsoff[d] = uint32(r.next() >> 40)
	}
	c.closer = 0
	if r.intn(10) < 3 {
		c.closer = 1
	}
	if r.intn(100) < 8 {
		c.end = endRST
	}
	return c
}

// allocClient picks a client host 10.a.b.c and its next ephemeral port, so
// 4-tuples are not reused within a capture.
func (g *gen) allocClient() (uint32, uint16) {
	r := &g.r
	h := r.intn(len(g.hostPort))
	ip := ip4(10, 1+h>>8, h&0xff, 1+(h*37)%254)
	port := g.hostPort[h]
	np := int(port) + 1 + r.intn(7)
	if np > 60999 {
		np = 32768 + r.intn(64)
	}
	g.hostPort[h] = uint16(np)
	return ip, port
}

func (g *gen) patOff() int64 { return int64(g.r.intn(patSize)) }

// newSmall builds a connection with several request/response exchanges.
func (g *gen) newSmall() *conn {
	r := &g.r
	ports := [...]uint16{80, 80, 80, 80, 443, 443, 443, 6379, 6379, 9000}
	port := ports[r.intn(len(ports))]
	c := g.newConn(port, false)
	n := 1 + r.intn(16)
	if r.intn(4) == 0 {
		n = 1 + r.intn(3)
	}
	c.msgs = make([]message, 0, 2*n)
	for i := 0; i < n; i++ {
		body := int64(r.logUniform(32, 64<<10))
		obj := r.intn(1000000)
		switch port {
		case 80:
			req := []byte("GET /obj/" + strconv.Itoa(obj) + " HTTP/1.1\r\nHost: " + ipString(c.ip[1]) +
				"\r\nUser-Agent: sockscope-gen/1\r\nAccept: */*\r\n\r\n")
			c.msgs = append(c.msgs, newPlain(0, req, 0, nil, 0))
			resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
				strconv.FormatInt(body, 10) + "\r\n\r\n")
			c.msgs = append(c.msgs, newPlain(1, resp, body, nil, g.patOff()))
		case 443:
			c.msgs = append(c.msgs, newTLS(0, int64(r.rangeInt(80, 900)), g.patOff()))
			c.msgs = append(c.msgs, newTLS(1, body, g.patOff()))
		case 6379:
			key := "key:" + strconv.Itoa(obj)
			req := []byte("*2\r\n$3\r\nGET\r\n$" + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n")
			c.msgs = append(c.msgs, newPlain(0, req, 0, nil, 0))
			c.msgs = append(c.msgs, newPlain(1, []byte("$"+strconv.FormatInt(body, 10)+"\r\n"), body, []byte("\r\n"), g.patOff()))
		case 9000:
			rb := int64(r.rangeInt(8, 600))
			c.msgs = append(c.msgs, newPlain(0, u32be(rb), rb, nil, g.patOff()))
			c.msgs = append(c.msgs, newPlain(1, u32be(body), body, nil, g.patOff()))
		}
	}
	if c.end == endRST && r.intn(2) == 0 {
		// abort mid-conversation: drop the tail of the script
		c.msgs = c.msgs[:1+r.intn(len(c.msgs))]
	}
	return c
}

// newBulk builds a connection carrying one large transfer.
func (g *gen) newBulk(size int64) *conn {
	r := &g.r
	// No bulk on port 80: tshark desegments HTTP bodies and a 50 MB
	// Content-Length makes it 3x slower and 1.7 GB big, which would turn
	// the tshark row into a measurement of that corner case. The HTTP code
	// below stays for -bulk-http style experiments.
	ports := [...]uint16{443, 443, 443, 9000, 9000}
	port := ports[r.intn(len(ports))]
	c := g.newConn(port, true)
	c.end = endFIN
	if r.intn(20) == 0 {
		c.end = endRST
	}
	upload := r.intn(100) < 15
	obj := r.intn(1000000)
	switch port {
	case 80:
		if upload {
			req := []byte("POST /upload/" + strconv.Itoa(obj) + " HTTP/1.1\r\nHost: " + ipString(c.ip[1]) +
				"\r\nContent-Type: application/octet-stream\r\nContent-Length: " + strconv.FormatInt(size, 10) + "\r\n\r\n")
			c.msgs = append(c.msgs, newPlain(0, req, size, nil, g.patOff()))
			c.msgs = append(c.msgs, newPlain(1, []byte("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"), 0, nil, 0))
		} else {
			req := []byte("GET /big/" + strconv.Itoa(obj) + " HTTP/1.1\r\nHost: " + ipString(c.ip[1]) +
				"\r\nUser-Agent: sockscope-gen/1\r\nAccept: */*\r\n\r\n")
			c.msgs = append(c.msgs, newPlain(0, req, 0, nil, 0))
			resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
				strconv.FormatInt(size, 10) + "\r\n\r\n")
			c.msgs = append(c.msgs, newPlain(1, resp, size, nil, g.patOff()))
		}
	case 443:
		if upload {
			c.msgs = append(c.msgs, newTLS(0, size, g.patOff()), newTLS(1, 200, g.patOff()))
		} else {
			c.msgs = append(c.msgs, newTLS(0, 517, g.patOff()), newTLS(1, size, g.patOff()))
		}
	case 9000:
		if upload {
			c.msgs = append(c.msgs, newPlain(0, u32be(size), size, nil, g.patOff()), newPlain(1, u32be(2), 2, nil, g.patOff()))
		} else {
			c.msgs = append(c.msgs, newPlain(0, u32be(16), 16, nil, g.patOff()), newPlain(1, u32be(size), size, nil, g.patOff()))
		}
	}
	return c
}

func u32be(v int64) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(v))
	return b
}

func ipString(ip uint32) string {
	return strconv.Itoa(int(ip>>24)) + "." + strconv.Itoa(int(ip>>16&0xff)) + "." +
		strconv.Itoa(int(ip>>8&0xff)) + "." + strconv.Itoa(int(ip&0xff))
}

// tsval is the TCP timestamp value side d would send now (1 ms clock).
func (g *gen) tsval(c *conn, d int) uint32 { return c.tsoff[d] + uint32(g.clock/1000) }

// optTS returns NOP NOP TS options for side d.
func (g *gen) optTS(c *conn, d int) []byte {
	o := g.opt[:12]
	o[0], o[1], o[2], o[3] = 1, 1, 8, 10
	binary.BigEndian.PutUint32(o[4:], g.tsval(c, d))
	binary.BigEndian.PutUint32(o[8:], c.lastTS[1-d])
	return o
}

// optSACK returns NOP NOP TS NOP NOP SACK(blocks) options.
func (g *gen) optSACK(c *conn, d int, blocks ...uint32) []byte {
	g.optTS(c, d)
	o := g.opt[:12+4+4*len(blocks)]
	o[12], o[13], o[14], o[15] = 1, 1, 5, byte(2+4*len(blocks))
	for i, b := range blocks {
		binary.BigEndian.PutUint32(o[16+4*i:], b)
	}
	return o
}

// optSYN returns Linux-style SYN options: MSS, SACK_PERM, TS, NOP, WS=7.
func (g *gen) optSYN(c *conn, d int) []byte {
	o := g.opt[:20]
	o[0], o[1], o[2], o[3] = 2, 4, 0x05, 0xb4 // MSS 1460
	o[4], o[5] = 4, 2                         // SACK permitted
	o[6], o[7] = 8, 10
	binary.BigEndian.PutUint32(o[8:], g.tsval(c, d))
	binary.BigEndian.PutUint32(o[12:], c.lastTS[1-d])
	o[16] = 1
	o[17], o[18], o[19] = 3, 3, 7
	return o
}

// tcp writes one TCP packet from side d of c. The payload is bytes
// [moff, moff+n) of m.
func (g *gen) tcp(c *conn, d int, seq, ack uint32, flags uint8, win uint16, opts []byte, m *message, moff int64, n int) {
	if c.id < 0 {
		c.id = g.nextTCP
		g.nextTCP++
	}
	b := g.scratch
	thl := 20 + len(opts)
	ipTotal := ipLen + thl + n
	frame := ethLen + ipTotal
	ts := g.clock
	binary.LittleEndian.PutUint32(b[0:], uint32(epochSec+ts/1e6))
	binary.LittleEndian.PutUint32(b[4:], uint32(ts%1e6))
	binary.LittleEndian.PutUint32(b[8:], uint32(frame))
	binary.LittleEndian.PutUint32(b[12:], uint32(frame))
	e := b[recHdrLen:]
	putMAC(e[0:], c.ip[1-d])
	putMAC(e[6:], c.ip[d])
	e[12], e[13] = 0x08, 0x00
	ip := e[ethLen:]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipTotal))
	binary.BigEndian.PutUint16(ip[4:], c.ipid[d])
	c.ipid[d]++
	ip[6], ip[7] = 0x40, 0 // DF
	ip[8], ip[9] = 64, 6
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint32(ip[12:], c.ip[d])
	binary.BigEndian.PutUint32(ip[16:], c.ip[1-d])
	t := ip[ipLen:]
	binary.BigEndian.PutUint16(t[0:], c.port[d])
	binary.BigEndian.PutUint16(t[2:], c.port[1-d])
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = byte(thl/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], win)
	t[16], t[17], t[18], t[19] = 0, 0, 0, 0
	copy(t[20:], opts)
	if n > 0 {
		m.fill(t[thl:thl+n], moff, g.pat)
	}
	binary.BigEndian.PutUint16(ip[10:], checksum(0, ip[:ipLen]))
	if g.cfg.Checksum {
		binary.BigEndian.PutUint16(t[16:], checksum(pseudoSum(c.ip[d], c.ip[1-d], 6, thl+n), t[:thl+n]))
	}
	if _, err := g.bw.Write(b[:recHdrLen+frame]); err != nil && g.err == nil {
		g.err = err
	}
	if len(opts) >= 10 {
		c.lastTS[d] = g.tsval(c, d)
	}
	g.clock += 1 + int64(g.r.intn(20))
	g.sum.Packets++
	g.sum.Bytes += int64(recHdrLen + frame)
	c.frameBytes += int64(frame)
	if d == 1 {
		c.s2cPayload += int64(n)
	}
}

const (
	winSyn = 64240
	winEst = 502 // x128 (WS=7) = 64256
)

// seg sends data segment of the current message at message offset off.
func (g *gen) seg(c *conn, off int64) int64 {
	m := &c.msgs[c.mi]
	d := m.dir
	n := m.length - off
	if n > mss {
		n = mss
	}
	flags := uint8(fACK)
	if off+n == m.length {
		flags |= fPSH
	}
	g.tcp(c, d, c.msgSeq+uint32(off), c.seq[1-d], flags, winEst, g.optTS(c, d), m, off, int(n))
	if end := c.msgSeq + uint32(off+n); seqGT(end, c.seq[d]) {
		c.seq[d] = end
	}
	return off + n
}

func seqGT(a, b uint32) bool { return int32(a-b) > 0 }

// ack sends a pure ACK from side d acknowledging ackNo.
func (g *gen) ack(c *conn, d int, ackNo uint32, sack ...uint32) {
	var o []byte
	if len(sack) > 0 {
		o = g.optSACK(c, d, sack...)
	} else {
		o = g.optTS(c, d)
	}
	g.tcp(c, d, c.seq[d], ackNo, fACK, winEst, o, nil, 0, 0)
}

// step emits the next few packets of c. It returns true when c is finished.
func (g *gen) step(c *conn) bool {
	r := &g.r
	switch c.state {
	case stSyn:
		g.tcp(c, 0, c.seq[0], 0, fSYN, winSyn, g.optSYN(c, 0), nil, 0, 0)
		c.seq[0]++
		c.state = stSynAck
	case stSynAck:
		g.tcp(c, 1, c.seq[1], c.seq[0], fSYN|fACK, 65160, g.optSYN(c, 1), nil, 0, 0)
		c.seq[1]++
		c.state = stAck
	case stAck:
		g.ack(c, 0, c.seq[1])
		c.state = stData
		c.mi, c.off = 0, 0
		if len(c.msgs) == 0 {
			c.state = stClose
		} else {
			c.msgSeq = c.seq[c.msgs[0].dir]
		}
	case stData:
		m := &c.msgs[c.mi]
		d := m.dir
		rem := m.length - c.off
		if rem >= 4*mss && r.intn(600) == 0 {
			a := c.off
			switch r.intn(3) {
			case 0: // loss: A missing, B and C arrive, then A is retransmitted
				g.sum.Losses++
				bStart := c.msgSeq + uint32(a+mss)
				g.seg(c, a+mss)
				g.ack(c, 1-d, c.msgSeq+uint32(a), bStart, bStart+mss)
				g.seg(c, a+2*mss)
				g.ack(c, 1-d, c.msgSeq+uint32(a), bStart, bStart+2*mss)
				g.seg(c, a)
				g.ack(c, 1-d, c.seq[d])
				c.off = a + 3*mss
			case 1: // reorder: B overtakes A
				g.sum.Reorders++
				bStart := c.msgSeq + uint32(a+mss)
				g.seg(c, a+mss)
				g.ack(c, 1-d, c.msgSeq+uint32(a), bStart, bStart+mss)
				g.seg(c, a)
				g.ack(c, 1-d, c.seq[d])
				c.off = a + 2*mss
			default: // spurious duplicate retransmission of A (D-SACK)
				g.sum.DupRetrans++
				g.seg(c, a)
				g.seg(c, a+mss)
				g.ack(c, 1-d, c.seq[d])
				g.seg(c, a)
				aStart := c.msgSeq + uint32(a)
				g.ack(c, 1-d, c.seq[d], aStart, aStart+mss)
				c.off = a + 2*mss
			}
			c.unacked = 0
			break
		}
		for k := 0; k < 2 && c.off < m.length; k++ {
			c.off = g.seg(c, c.off)
			c.unacked++
		}
		if c.off < m.length {
			if c.unacked >= 2 {
				g.ack(c, 1-d, c.seq[d])
				c.unacked = 0
			}
			break
		}
		// message complete
		c.mi++
		c.off = 0
		if c.mi < len(c.msgs) && c.msgs[c.mi].dir == d {
			if c.unacked > 0 {
				g.ack(c, 1-d, c.seq[d])
			}
		}
		// otherwise the reply (or the FIN) piggybacks the ACK
		c.unacked = 0
		if c.mi >= len(c.msgs) {
			c.state = stClose
		} else {
			c.msgSeq = c.seq[c.msgs[c.mi].dir]
		}
	case stClose:
		d := c.closer
		if c.end == endRST {
			g.sum.Resets++
			g.tcp(c, d, c.seq[d], c.seq[1-d], fRST|fACK, 0, nil, nil, 0, 0)
			c.state = stDone
			return true
		}
		g.tcp(c, d, c.seq[d], c.seq[1-d], fFIN|fACK, winEst, g.optTS(c, d), nil, 0, 0)
		c.seq[d]++
		c.state = stCloseAck
	case stCloseAck:
		d := c.closer
		g.tcp(c, 1-d, c.seq[1-d], c.seq[d], fFIN|fACK, winEst, g.optTS(c, 1-d), nil, 0, 0)
		c.seq[1-d]++
		g.ack(c, d, c.seq[1-d])
		c.state = stDone
		return true
	default:
		return true
	}
	return false
}

// remaining returns the message bytes c has yet to send.
func (c *conn) remaining() int64 {
	var n int64
	for i := c.mi; i < len(c.msgs); i++ {
		n += c.msgs[i].length
	}
	if c.state == stData {
		n -= c.off
	}
	return n
}

func (g *gen) finish(c *conn) {
	if c.id < 0 {
		return
	}
	if g.sum.Largest < 0 || c.frameBytes > g.sum.LargestBytes || (c.frameBytes == g.sum.LargestBytes && c.id < g.sum.Largest) {
		g.sum.Largest, g.sum.LargestBytes = c.id, c.frameBytes
	}
	if g.sum.LargestS2C < 0 || c.s2cPayload > g.sum.LargestS2CBytes || (c.s2cPayload == g.sum.LargestS2CBytes && c.id < g.sum.LargestS2C) {
		g.sum.LargestS2C, g.sum.LargestS2CBytes = c.id, c.s2cPayload
	}
}

// ---------------------------------------------------------------- UDP / DNS

type udpFlow struct {
	id         int
	cip, sip   uint32
	cport      uint16
	n, i       int
	txid       uint16
	name       []byte
	ipid       uint16
	answerAddr uint32
}

func (g *gen) newUDP() *udpFlow {
	r := &g.r
	f := &udpFlow{id: -1}
	f.cip, f.cport = g.allocClient()
	f.sip = ip4(10, 0, 0, 1+r.intn(10))
	f.n = 1 + r.intn(3)
	f.ipid = uint16(r.next())
	f.answerAddr = uint32(r.next())
	f.name = dnsName("obj"+strconv.Itoa(r.intn(100000)), "svc"+strconv.Itoa(r.intn(50)), "example", "com")
	return f
}

func dnsName(labels ...string) []byte {
	var b []byte
	for _, l := range labels {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// stepUDP emits one DNS query or response; it returns true when done.
func (g *gen) stepUDP(f *udpFlow) bool {
	if f.id < 0 {
		f.id = g.nextUDP
		g.nextUDP++
	}
	query := f.i%2 == 0
	if query {
		f.txid = uint16(g.r.next())
	}
	b := g.scratch
	p := b[recHdrLen+ethLen+ipLen+udpLen:]
	binary.BigEndian.PutUint16(p[0:], f.txid)
	if query {
		p[2], p[3] = 0x01, 0x00
	} else {
		p[2], p[3] = 0x81, 0x80
	}
	binary.BigEndian.PutUint16(p[4:], 1)
	an := uint16(0)
	if !query {
		an = 1
	}
	binary.BigEndian.PutUint16(p[6:], an)
	p[8], p[9], p[10], p[11] = 0, 0, 0, 0
	n := 12 + copy(p[12:], f.name)
	p[n], p[n+1], p[n+2], p[n+3] = 0, 1, 0, 1 // A IN
	n += 4
	if !query {
		a := p[n:]
		a[0], a[1] = 0xc0, 0x0c
		a[2], a[3], a[4], a[5] = 0, 1, 0, 1
		binary.BigEndian.PutUint32(a[6:], 300)
		a[10], a[11] = 0, 4
		binary.BigEndian.PutUint32(a[12:], f.answerAddr)
		n += 16
	}
	src, dst := f.cip, f.sip
	sport, dport := f.cport, uint16(53)
	if !query {
		src, dst, sport, dport = dst, src, dport, sport
	}
	ipTotal := ipLen + udpLen + n
	frame := ethLen + ipTotal
	ts := g.clock
	binary.LittleEndian.PutUint32(b[0:], uint32(epochSec+ts/1e6))
	binary.LittleEndian.PutUint32(b[4:], uint32(ts%1e6))
	binary.LittleEndian.PutUint32(b[8:], uint32(frame))
	binary.LittleEndian.PutUint32(b[12:], uint32(frame))
	e := b[recHdrLen:]
	putMAC(e[0:], dst)
	putMAC(e[6:], src)
	e[12], e[13] = 0x08, 0x00
	ip := e[ethLen:]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(ipTotal))
	binary.BigEndian.PutUint16(ip[4:], f.ipid)
	f.ipid++
	ip[6], ip[7] = 0, 0
	ip[8], ip[9] = 64, 17
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint32(ip[12:], src)
	binary.BigEndian.PutUint32(ip[16:], dst)
	binary.BigEndian.PutUint16(ip[10:], checksum(0, ip[:ipLen]))
	u := ip[ipLen:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(udpLen+n))
	u[6], u[7] = 0, 0
	if g.cfg.Checksum {
		cs := checksum(pseudoSum(src, dst, 17, udpLen+n), u[:udpLen+n])
		if cs == 0 {
			cs = 0xffff
		}
		binary.BigEndian.PutUint16(u[6:], cs)
	}
	if _, err := g.bw.Write(b[:recHdrLen+frame]); err != nil && g.err == nil {
		g.err = err
	}
	g.clock += 1 + int64(g.r.intn(20))
	g.sum.Packets++
	g.sum.Bytes += int64(recHdrLen + frame)
	f.i++
	return f.i >= 2*f.n
}

// ---------------------------------------------------------------- mix mode

const (
	smallConc = 150 // concurrently open small connections
	bulkConc  = 3   // concurrently running bulk transfers
	udpConc   = 6
	pUDP      = 0.05 // share of scheduler steps given to UDP flows (~2% of packets)
	pBulk     = 0.45 // share given to bulk transfers
	leaveOpen = 3    // connections abandoned (left open) at the end
)

func (g *gen) mix() {
	r := &g.r
	g.hostPort = make([]uint16, 4000)
	for i := range g.hostPort {
		g.hostPort[i] = uint16(32768 + r.intn(2000))
	}
	target := g.cfg.Size
	minBulk := int64(1 << 20)
	if minBulk > target/8 {
		minBulk = target / 8
	}
	if minBulk < 1 {
		minBulk = 1
	}
	var small, bulk []*conn
	var udp []*udpFlow
	stopping := false
	remove := func(list []*conn, i int) []*conn {
		g.finish(list[i])
		list[i] = list[len(list)-1]
		return list[:len(list)-1]
	}
	// Hard bound on iterations: every step writes at least one packet, and
	// nothing new starts after the target, so this is never reached in
	// practice; it only guards against a logic error looping forever.
	maxSteps := target/16 + 100_000_000
	for steps := int64(0); steps < maxSteps && g.err == nil; steps++ {
		if !stopping && g.sum.Bytes >= target {
			stopping = true
			for k := 0; k < leaveOpen; k++ {
				for i := range small {
					if small[i].state == stData {
						g.sum.OpenAtEnd++
						small = remove(small, i)
						break
					}
				}
			}
		}
		if !stopping {
			for len(small) < smallConc {
				small = append(small, g.newSmall())
				g.sum.TCPConns++
			}
			for len(bulk) < bulkConc {
				size := int64(r.rangeInt(1<<20, 50<<20))
				// Budget: small connections keep running alongside bulk
				// transfers and take roughly half of the bytes, so a bulk
				// transfer may use half of what is left of the target minus
				// what the running bulk transfers still have to send. Near
				// the end, start none or smaller ones.
				rem := (target - g.sum.Bytes) / 2
				for _, b := range bulk {
					rem -= b.remaining()
				}
				if rem < minBulk && len(bulk) > 0 {
					break
				}
				if size > rem {
					size = rem
				}
				if size < minBulk {
					size = minBulk
				}
				bulk = append(bulk, g.newBulk(size))
				g.sum.TCPConns++
				g.sum.Bulk++
			}
			for len(udp) < udpConc {
				udp = append(udp, g.newUDP())
				g.sum.UDPFlows++
			}
		}
		if len(small) == 0 && len(bulk) == 0 && len(udp) == 0 {
			break
		}
		x := r.float()
		switch {
		case len(udp) > 0 && (x < pUDP || (len(small) == 0 && len(bulk) == 0)):
			i := r.intn(len(udp))
			if g.stepUDP(udp[i]) {
				udp[i] = udp[len(udp)-1]
				udp = udp[:len(udp)-1]
			}
		case len(bulk) > 0 && (x < pUDP+pBulk || len(small) == 0):
			i := r.intn(len(bulk))
			if g.step(bulk[i]) {
				bulk = remove(bulk, i)
			}
		case len(small) > 0:
			i := r.intn(len(small))
			if g.step(small[i]) {
				small = remove(small, i)
			}
		}
	}
	// Unstarted connections never produced a packet; don't count them.
	g.sum.TCPConns = g.nextTCP
	g.sum.UDPFlows = g.nextUDP
}

// ---------------------------------------------------------------- scan mode

// scan writes cfg.Flows short flows from one scanner sweeping 16384 hosts
// (10.1.1.1-10.1.65.128) port by port (1, 2, ...):
// closed ports answer SYN with RST/ACK, ~8% of ports are open and answer
// SYN-ACK, which the scanner resets. Replies lag 32 probes behind.
func (g *gen) scan() {
	r := &g.r
	const hosts = 16384
	const lag = 32
	scanner := ip4(10, 200, 0, 1)
	type probe struct {
		c    *conn
		open bool
	}
	queue := make([]probe, 0, lag+1)
	respond := func(p probe) {
		c := p.c
		if p.open {
			o := g.opt[:4]
			o[0], o[1], o[2], o[3] = 2, 4, 0x05, 0xb4 // MSS only: the probe offered nothing else
			g.tcp(c, 1, c.seq[1], c.seq[0], fSYN|fACK, 65160, o, nil, 0, 0)
			g.tcp(c, 0, c.seq[0], 0, fRST, 0, nil, nil, 0, 0)
		} else {
			g.tcp(c, 1, 0, c.seq[0], fRST|fACK, 0, nil, nil, 0, 0)
		}
		g.finish(c)
	}
	for i := 0; i < g.cfg.Flows && g.err == nil; i++ {
		h := i % hosts
		c := &conn{id: -1}
		c.ip[0] = scanner
		c.ip[1] = ip4(10, 1, 1+h/254, 1+h%254)
		c.port[0] = uint16(32768 + r.intn(28000))
		c.port[1] = uint16(1 + (i/hosts)%65535)
		c.isn[0] = uint32(r.next())
		c.isn[1] = uint32(r.next())
		c.ipid[0], c.ipid[1] = uint16(r.next()), uint16(r.next())
		c.tsoff[1] = uint32(r.next() >> 40)
		o := g.opt[:4]
		o[0], o[1], o[2], o[3] = 2, 4, 0x05, 0xb4
		c.seq[0], c.seq[1] = c.isn[0], c.isn[1]
		g.tcp(c, 0, c.seq[0], 0, fSYN, 1024, o, nil, 0, 0)
		c.seq[0]++
		queue = append(queue, probe{c: c, open: r.intn(100) < 8})
		if len(queue) > lag {
			respond(queue[0])
			copy(queue, queue[1:])
			queue = queue[:len(queue)-1]
		}
	}
	for _, p := range queue {
		respond(p)
	}
	g.sum.TCPConns = g.nextTCP
}
