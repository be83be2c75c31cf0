package main

import (
	"bufio"
	"encoding/binary"
	"math/bits"
)

// rng is splitmix64: tiny, fast and fully specified, so captures are
// byte-identical for a given seed across Go versions.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0,n). The modulo bias is irrelevant here.
func (r *rng) intn(n int) int {
	if n <= 1 {
		return 0
	}
	return int(r.next() % uint64(n))
}

// rangeInt returns a value in [lo,hi].
func (r *rng) rangeInt(lo, hi int) int { return lo + r.intn(hi-lo+1) }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// logUniform returns a value in [lo,hi] whose logarithm is uniform, which
// gives many small and a few large sizes.
func (r *rng) logUniform(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	// ln(hi/lo) * u, computed via repeated squaring-free exp approximation
	// would be overkill: pick an exponent bucket then a value inside it.
	lb := bits.Len(uint(lo)) - 1
	hb := bits.Len(uint(hi)) - 1
	b := lb + r.intn(hb-lb+1)
	v := (1 << b) + r.intn(1<<b)
	if v < lo {
		v = lo
	}
	if v > hi {
		v = hi
	}
	return v
}

// Pcap constants: classic little-endian microsecond pcap, Ethernet.
const (
	pcapHdrLen = 24
	recHdrLen  = 16
	ethLen     = 14
	ipLen      = 20
	udpLen     = 8
	mss        = 1448 // payload per full segment: 1500 - 20 (IP) - 32 (TCP+TS)
	snapLen    = 262144
	epochSec   = 1700000000 // 2023-11-14T22:13:20Z, fixed for determinism
)

func writePcapHeader(bw *bufio.Writer) error {
	var h [pcapHdrLen]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	// thiszone, sigfigs = 0
	binary.LittleEndian.PutUint32(h[16:], snapLen)
	binary.LittleEndian.PutUint32(h[20:], 1) // LINKTYPE_ETHERNET
	_, err := bw.Write(h[:])
	return err
}

// csumAdd adds b to a 64-bit ones' complement accumulator. Summing 64-bit
// big-endian words with end-around carry and folding afterwards gives the
// same result as the RFC 1071 16-bit sum, at 8 bytes per iteration.
func csumAdd(s uint64, b []byte) uint64 {
	var c uint64
	for len(b) >= 32 {
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[0:]), c)
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[8:]), c)
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[16:]), c)
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b[24:]), c)
		b = b[32:]
	}
	for len(b) >= 8 {
		s, c = bits.Add64(s, binary.BigEndian.Uint64(b), c)
		b = b[8:]
	}
	var t uint64
	for len(b) >= 2 {
		t += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		t += uint64(b[0]) << 8
	}
	s, c = bits.Add64(s, t, c)
	s, c = bits.Add64(s, 0, c)
	return s + c
}

func csumFold(s uint64) uint16 {
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 32) + (s & 0xffffffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	s = (s >> 16) + (s & 0xffff)
	return uint16(s)
}

// checksum returns the Internet checksum of b (with the checksum field
// already zeroed), seeded with init (e.g. a pseudo-header sum).
func checksum(init uint64, b []byte) uint16 {
	return ^csumFold(csumAdd(init, b))
}

func pseudoSum(src, dst uint32, proto uint8, length int) uint64 {
	return uint64(src>>16) + uint64(src&0xffff) + uint64(dst>>16) + uint64(dst&0xffff) +
		uint64(proto) + uint64(length)
}

// putMAC writes a locally administered MAC derived from an IPv4 address.
func putMAC(b []byte, ip uint32) {
	b[0], b[1] = 0x02, 0x00
	binary.BigEndian.PutUint32(b[2:], ip)
}

func ip4(a, b, c, d int) uint32 {
	return uint32(a)<<24 | uint32(b)<<16 | uint32(c)<<8 | uint32(d)
}
