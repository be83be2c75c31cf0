// Package pcapgen writes small, exact pcap captures: TCP conversations and
// UDP datagrams built packet by packet with fixed timestamps. Tests use it to
// make edge cases (reordering, overlap, sequence wrap, port reuse) exactly,
// and `sockscope demo` uses it for its teaching captures.
package pcapgen

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"
)

// Capture accumulates frames and renders them as a pcap file (Ethernet,
// microsecond or nanosecond timestamps).
type Capture struct {
	buf     bytes.Buffer
	Snaplen int // frames longer than this are cut (0: 262144)
	Nanos   bool
	frames  int
}

// Epoch is the default start time of generated captures.
var Epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Frames returns how many frames were added.
func (c *Capture) Frames() int { return c.frames }

// Bytes returns the pcap file.
func (c *Capture) Bytes() []byte {
	h := fileHeader(c.snaplen(), c.Nanos)
	return append(h[:], c.buf.Bytes()...)
}

// fileHeader returns a little-endian pcap file header (Ethernet link type).
func fileHeader(snaplen int, nanos bool) [24]byte {
	var h [24]byte
	magic := uint32(0xa1b2c3d4)
	if nanos {
		magic = 0xa1b23c4d
	}
	binary.LittleEndian.PutUint32(h[0:], magic)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(snaplen))
	binary.LittleEndian.PutUint32(h[20:], 1)
	return h
}

// recordHeader returns a pcap record header for a frame captured at t with
// incl bytes stored of orig bytes on the wire.
func recordHeader(t time.Time, nanos bool, incl, orig int) [16]byte {
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(t.Unix()))
	frac := t.Nanosecond() / 1000
	if nanos {
		frac = t.Nanosecond()
	}
	binary.LittleEndian.PutUint32(h[4:], uint32(frac))
	binary.LittleEndian.PutUint32(h[8:], uint32(incl))
	binary.LittleEndian.PutUint32(h[12:], uint32(orig))
	return h
}

func (c *Capture) snaplen() int {
	if c.Snaplen > 0 {
		return c.Snaplen
	}
	return 262144
}

// AddFrame appends a raw Ethernet frame captured at t.
func (c *Capture) AddFrame(t time.Time, frame []byte) {
	incl := min(len(frame), c.snaplen())
	h := recordHeader(t, c.Nanos, incl, len(frame))
	c.buf.Write(h[:])
	c.buf.Write(frame[:incl])
	c.frames++
}

// TCP flag bits.
const (
	FIN = 1 << iota
	SYN
	RST
	PSH
	ACK
)

// Segment describes one TCP segment to write.
type Segment struct {
	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    uint8
	Window   uint16
	Options  []byte // raw TCP options (padded to 4 bytes by the writer)
	Payload  []byte
	// WireLen, when larger than the payload, claims more payload bytes in the
	// IP header than are present (a frame cut by the snaplen).
	WireLen int
	// ZeroWindow advertises a zero window (a zero Window means 65535).
	ZeroWindow bool
}

// TCP appends a TCP segment in an Ethernet/IPv4 (or IPv6) frame.
func (c *Capture) TCP(t time.Time, s Segment) {
	c.ip(t, 6, s.Src.Addr(), s.Dst.Addr(), appendTCPHeader(nil, s), s.Payload, s.WireLen)
}

// appendTCPHeader appends the TCP header of s (options padded with NOPs; the
// checksum is left zero) to dst.
func appendTCPHeader(dst []byte, s Segment) []byte {
	opts := s.Options
	for len(opts)%4 != 0 {
		opts = append(opts, 1) // NOP
	}
	n := len(dst)
	dst = append(dst, make([]byte, 20+len(opts))...)
	tcp := dst[n:]
	binary.BigEndian.PutUint16(tcp[0:], s.Src.Port())
	binary.BigEndian.PutUint16(tcp[2:], s.Dst.Port())
	binary.BigEndian.PutUint32(tcp[4:], s.Seq)
	binary.BigEndian.PutUint32(tcp[8:], s.Ack)
	tcp[12] = byte(len(tcp)/4) << 4
	tcp[13] = s.Flags
	w := s.Window
	if w == 0 && s.Flags&RST == 0 && !s.ZeroWindow {
		w = 65535
	}
	binary.BigEndian.PutUint16(tcp[14:], w)
	copy(tcp[20:], opts)
	return dst
}

// UDP appends a UDP datagram.
func (c *Capture) UDP(t time.Time, src, dst netip.AddrPort, payload []byte) {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], src.Port())
	binary.BigEndian.PutUint16(h[2:], dst.Port())
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	c.ip(t, 17, src.Addr(), dst.Addr(), h, payload, 0)
}

func (c *Capture) ip(t time.Time, proto byte, src, dst netip.Addr, l4, payload []byte, wireLen int) {
	plen := len(l4) + max(len(payload), wireLen)
	frame := appendL3Header(nil, proto, src, dst, plen)
	frame = append(frame, l4...)
	frame = append(frame, payload...)
	full := len(frame)
	if wireLen > len(payload) {
		full += wireLen - len(payload)
		c.addCut(t, frame, full)
		return
	}
	c.AddFrame(t, frame)
}

// appendL3Header appends the Ethernet and IPv4 (or IPv6) headers of a packet
// carrying plen bytes of protocol proto (headers and payload) to b.
func appendL3Header(b []byte, proto byte, src, dst netip.Addr, plen int) []byte {
	b = append(b, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00)
	if src.Is4() {
		n := len(b)
		b = append(b, make([]byte, 20)...)
		ip := b[n:]
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(20+plen))
		ip[6] = 0x40 // DF
		ip[8] = 64
		ip[9] = proto
		s4, d4 := src.As4(), dst.As4()
		copy(ip[12:], s4[:])
		copy(ip[16:], d4[:])
		binary.BigEndian.PutUint16(ip[10:], checksum(ip))
		return b
	}
	b[len(b)-2], b[len(b)-1] = 0x86, 0xdd
	n := len(b)
	b = append(b, make([]byte, 40)...)
	ip := b[n:]
	ip[0] = 0x60
	binary.BigEndian.PutUint16(ip[4:], uint16(plen))
	ip[6] = proto
	ip[7] = 64
	s16, d16 := src.As16(), dst.As16()
	copy(ip[8:], s16[:])
	copy(ip[24:], d16[:])
	return b
}

// addCut appends a frame whose captured part is frame but whose wire length is full.
func (c *Capture) addCut(t time.Time, frame []byte, full int) {
	h := recordHeader(t, c.Nanos, len(frame), full)
	c.buf.Write(h[:])
	c.buf.Write(frame)
	c.frames++
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// Conn writes one TCP connection, tracking sequence numbers for both sides.
type Conn struct {
	C      *Capture
	Client netip.AddrPort
	Server netip.AddrPort
	T      time.Time     // time of the next packet
	Step   time.Duration // time between packets (default 100 µs)
	seq    [2]uint32     // next sequence number per side (0 client, 1 server)
	MSS    uint16        // announced on SYN/SYN-ACK when non-zero
	Window uint16
}

// NewConn starts a connection with the given initial sequence numbers.
func NewConn(c *Capture, client, server netip.AddrPort, isnC, isnS uint32) *Conn {
	return &Conn{C: c, Client: client, Server: server, T: Epoch, Step: 100 * time.Microsecond, seq: [2]uint32{isnC, isnS}}
}

func (k *Conn) ends(side int) (netip.AddrPort, netip.AddrPort) {
	if side == 0 {
		return k.Client, k.Server
	}
	return k.Server, k.Client
}

func (k *Conn) tick() time.Time {
	t := k.T
	k.T = k.T.Add(k.Step)
	return t
}

// Seq returns the next sequence number of side (0 client, 1 server).
func (k *Conn) Seq(side int) uint32 { return k.seq[side] }

// Raw writes a segment from side with explicit seq, flags and payload; the
// ACK field acknowledges everything the other side sent so far.
func (k *Conn) Raw(side int, seq uint32, flags uint8, payload []byte) {
	src, dst := k.ends(side)
	s := Segment{Src: src, Dst: dst, Seq: seq, Flags: flags, Payload: payload, Window: k.Window}
	if flags&ACK != 0 {
		s.Ack = k.seq[1-side]
	}
	if flags&SYN != 0 && k.MSS > 0 {
		s.Options = []byte{2, 4, byte(k.MSS >> 8), byte(k.MSS), 4, 2, 3, 3, 7}
	}
	k.C.TCP(k.tick(), s)
}

// Handshake writes SYN, SYN-ACK, ACK.
func (k *Conn) Handshake() {
	k.Raw(0, k.seq[0], SYN, nil)
	k.seq[0]++
	k.Raw(1, k.seq[1], SYN|ACK, nil)
	k.seq[1]++
	k.Raw(0, k.seq[0], ACK, nil)
}

// Send writes payload from side in one segment (PSH,ACK) and advances its
// sequence number.
func (k *Conn) Send(side int, payload []byte) {
	k.Raw(side, k.seq[side], PSH|ACK, payload)
	k.seq[side] += uint32(len(payload))
}

// Ack writes a pure ACK from side.
func (k *Conn) Ack(side int) { k.Raw(side, k.seq[side], ACK, nil) }

// Fin writes FIN,ACK from side.
func (k *Conn) Fin(side int) {
	k.Raw(side, k.seq[side], FIN|ACK, nil)
	k.seq[side]++
}

// Rst writes RST,ACK from side.
func (k *Conn) Rst(side int) { k.Raw(side, k.seq[side], RST|ACK, nil) }

// Skip advances side's sequence number as if n bytes were sent but not captured.
func (k *Conn) Skip(side int, n int) { k.seq[side] += uint32(n) }

// Emit writes a segment from side exactly as given (Seq, Ack, Flags, Window,
// ZeroWindow, Options, Payload), filling in only the addresses and the time;
// it does not advance the connection's sequence numbers. Scenarios that need
// explicit ACK numbers or windows (loss, zero window, crossing FINs) use it.
func (k *Conn) Emit(side int, s Segment) {
	s.Src, s.Dst = k.ends(side)
	k.C.TCP(k.tick(), s)
}
