package findings

import (
	"math/bits"
	"net/netip"
)

// ptable is an open-addressing hash table of packed uint64 entries: a key
// in the low kbits bits, a small value above it, and a used bit on top. It
// holds the state that grows with the number of flows (scan targets,
// services, scan sources) in 8 bytes per slot, at most 3/4 full (about 13
// bytes per entry on average), with nothing for the garbage collector to
// scan. Not safe for concurrent use.
type ptable struct {
	e     []uint64
	n     int
	kbits uint8
}

const used = 1 << 63

func (t *ptable) len() int { return t.n }

func (t *ptable) kmask() uint64 { return 1<<t.kbits - 1 }

func (t *ptable) home(k uint64) int {
	hi, _ := bits.Mul64(k*0x9E3779B97F4A7C15, uint64(len(t.e)))
	return int(hi)
}

// find returns the slot of key k (found), or the empty slot where it would
// go.
func (t *ptable) find(k uint64) (int, bool) {
	if len(t.e) == 0 {
		return -1, false
	}
	m := t.kmask() | used
	k |= used
	for i := t.home(k &^ used); ; {
		e := t.e[i]
		if e == 0 {
			return i, false
		}
		if e&m == k {
			return i, true
		}
		if i++; i == len(t.e) {
			i = 0
		}
	}
}

// get returns k's value and whether k is present.
func (t *ptable) get(k uint64) (uint64, bool) {
	i, ok := t.find(k)
	if !ok {
		return 0, false
	}
	return (t.e[i] &^ used) >> t.kbits, true
}

// put sets k's value (v must fit in 63-kbits bits) and says whether k is
// new.
func (t *ptable) put(k, v uint64) bool {
	if (t.n+1)*4 > len(t.e)*3 {
		t.grow()
	}
	i, ok := t.find(k)
	t.e[i] = used | v<<t.kbits | k
	if !ok {
		t.n++
	}
	return !ok
}

func (t *ptable) grow() {
	old := t.e
	t.e = make([]uint64, max(8, len(old)*3/2))
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := t.home(e & t.kmask())
		for t.e[i] != 0 {
			if i++; i == len(t.e) {
				i = 0
			}
		}
		t.e[i] = e
	}
}

// all calls f for every key and value, in table order.
func (t *ptable) all(f func(k, v uint64)) {
	m := t.kmask()
	for _, e := range t.e {
		if e != 0 {
			f(e&m, (e&^used)>>t.kbits)
		}
	}
}

// addrKey returns the 48-bit key of an IPv4 address:port (ok false for
// IPv6): the address in bits 16-47, the port below. Keys sort as
// AddrPort.Compare sorts IPv4 address:ports.
func addrKey(ap netip.AddrPort) (uint64, bool) {
	k, ok := addr4(ap.Addr())
	return k<<16 | uint64(ap.Port()), ok
}

// keyAddr is the inverse of addrKey.
func keyAddr(k uint64) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(k >> 40), byte(k >> 32), byte(k >> 24), byte(k >> 16)}), uint16(k))
}

// addr4 returns an IPv4 address as a 32-bit key (ok false for IPv6).
func addr4(a netip.Addr) (uint64, bool) {
	if !a.Is4() {
		return 0, false
	}
	b := a.As4()
	return uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3]), true
}
