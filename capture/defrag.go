package capture

import (
	"encoding/binary"
	"slices"
	"sort"
	"time"
)

type fragKey struct {
	src, dst [16]byte
	id       uint32
	proto    uint8
	v6       bool
}

type fragInfo struct {
	key     fragKey
	proto   uint8
	offset  int
	more    bool
	data    []byte // captured bytes of this fragment's payload
	claimed int    // payload length according to the IP header
}

func fragKeyV4(h []byte) fragKey {
	var k fragKey
	copy(k.src[:], h[12:16])
	copy(k.dst[:], h[16:20])
	k.id = uint32(binary.BigEndian.Uint16(h[4:]))
	k.proto = h[9]
	return k
}

func fragKeyV6(h []byte, id []byte) fragKey {
	k := fragKey{v6: true}
	copy(k.src[:], h[8:24])
	copy(k.dst[:], h[24:40])
	k.id = binary.BigEndian.Uint32(id)
	return k
}

func setFragInfo(p *Packet, k fragKey, proto uint8, off int, more bool, data []byte, claimed int) {
	if !k.v6 {
		k.proto = proto
	}
	if len(data) > claimed {
		data = data[:max(claimed, 0)]
	}
	p.frag = fragInfo{key: k, proto: proto, offset: off, more: more, data: data, claimed: claimed}
	p.PayloadLen = claimed
	p.Payload = data
}

// DefragOptions bounds the fragment reassembler. Zero values take defaults.
type DefragOptions struct {
	MaxDatagrams int           // datagrams waiting for fragments (default 4096)
	MaxBytes     int           // bytes buffered in all of them (default 64 MiB)
	Timeout      time.Duration // capture time a datagram may wait (default 60 s)
}

// DefragStats counts what the reassembler did; nothing it drops goes unreported.
type DefragStats struct {
	Fragments   int // fragment frames seen
	Reassembled int // datagrams rebuilt
	Overlaps    int // fragments that overlapped data already held (first copy kept)
	Incomplete  int // datagrams given up: timed out, evicted by a bound, or never completed
	Truncated   int // datagrams that cannot be rebuilt because a fragment was cut by the snaplen
}

// Defragmenter rebuilds IPv4 and IPv6 datagrams from their fragments, as
// Wireshark does by default: the rebuilt datagram is attributed to the frame
// of the fragment that completed it.
type Defragmenter struct {
	opts    DefragOptions
	pending map[fragKey]*fragBuf
	order   []arrival // arrival order, for eviction; may hold stale entries
	bytes   int
	out     []byte // the last rebuilt datagram (valid until the next Process)
	Stats   DefragStats
}

type fragBuf struct {
	data   []byte
	have   []ByteSpan
	total  int // -1 until the last fragment is seen
	proto  uint8
	first  time.Time
	broken bool
	v6     bool
}

// arrival records when a datagram started waiting. It is stale once its
// key no longer maps to fb (the datagram was rebuilt, evicted, or its key
// reused by a later datagram).
type arrival struct {
	key fragKey
	fb  *fragBuf
}

// ByteSpan is a half-open [Start, End) range used by the fragment reassembler.
type ByteSpan struct{ Start, End int }

// NewDefragmenter returns a reassembler with the given bounds.
func NewDefragmenter(o DefragOptions) *Defragmenter {
	if o.MaxDatagrams <= 0 {
		o.MaxDatagrams = 4096
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 64 << 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	return &Defragmenter{opts: o, pending: make(map[fragKey]*fragBuf)}
}

// Pending returns how many datagrams are waiting for fragments.
func (d *Defragmenter) Pending() int { return len(d.pending) }

// Process takes every decoded packet. A fragment that completes a datagram
// turns p into the rebuilt datagram (p.Reassembled); other fragments stay
// fragments (ProtoOther). Non-fragments pass through untouched.
func (d *Defragmenter) Process(p *Packet) {
	if !p.Fragment {
		return
	}
	d.Stats.Fragments++
	fi := &p.frag
	d.expire(p.Time)
	fb := d.pending[fi.key]
	if fb == nil {
		for len(d.pending) >= d.opts.MaxDatagrams && d.trim() {
			d.evict(d.order[0].key)
		}
		fb = &fragBuf{total: -1, first: p.Time, v6: fi.key.v6}
		d.pending[fi.key] = fb
		d.order = append(d.order, arrival{fi.key, fb})
	}
	end := fi.offset + fi.claimed
	if end > 65535+8 || fi.claimed < 0 {
		fb.broken = true
	}
	if len(fi.data) < fi.claimed {
		fb.broken = true
		d.Stats.Truncated++
	}
	if !fb.broken {
		if fi.offset == 0 {
			fb.proto = fi.proto
		}
		if !fi.more {
			fb.total = end
		}
		if end > len(fb.data) {
			grow := end - len(fb.data)
			if d.bytes+grow > d.opts.MaxBytes {
				fb.broken = true
			} else {
				d.bytes += grow
				fb.data = append(fb.data, make([]byte, grow)...)
			}
		}
	}
	if !fb.broken {
		if fb.addRange(fi.offset, end, fi.data, fb.data) {
			d.Stats.Overlaps++
		}
		if fb.total >= 0 && len(fb.have) == 1 && fb.have[0].Start == 0 && fb.have[0].End >= fb.total {
			d.out = append(d.out[:0], fb.data[:fb.total]...)
			d.remove(fi.key)
			d.Stats.Reassembled++
			p.Fragment = false
			p.Reassembled = true
			p.Payload, p.PayloadLen = nil, 0
			decodeL4(fb.proto, d.out, len(d.out), p, 0)
			return
		}
	}
}

// addRange copies the bytes of [start,end) not yet held (first copy wins) and
// reports whether the fragment overlapped data already held. It costs
// O(log spans) plus the spans it touches, and allocates only to grow have,
// so that a datagram cut into thousands of tiny fragments in a hostile
// order stays linear.
func (fb *fragBuf) addRange(start, end int, src, dst []byte) bool {
	have := fb.have
	// have is sorted and its spans neither overlap nor touch; i is the first
	// that touches or follows start, [i,j) the ones [start,end) merges with.
	i := sort.Search(len(have), func(i int) bool { return have[i].End >= start })
	overlap := false
	pos := start
	j := i
	for ; j < len(have) && have[j].Start <= end; j++ {
		h := have[j]
		if h.End <= pos || h.Start >= end {
			continue // touches without sharing bytes
		}
		overlap = true
		if h.Start > pos {
			copy(dst[pos:h.Start], src[pos-start:h.Start-start])
		}
		pos = max(pos, h.End)
	}
	if pos < end {
		copy(dst[pos:end], src[pos-start:end-start])
	}
	merged := ByteSpan{start, end}
	if i < j {
		merged = ByteSpan{min(start, have[i].Start), max(end, have[j-1].End)}
	}
	fb.have = slices.Replace(have, i, j, merged)
	return overlap
}

// trim drops stale entries from the front of the arrival order and reports
// whether a live one is left there.
func (d *Defragmenter) trim() bool {
	for len(d.order) > 0 {
		if e := d.order[0]; d.pending[e.key] == e.fb {
			return true
		}
		d.order[0] = arrival{}
		d.order = d.order[1:]
	}
	return false
}

func (d *Defragmenter) expire(now time.Time) {
	for d.trim() {
		if now.Sub(d.order[0].fb.first) < d.opts.Timeout {
			return
		}
		d.evict(d.order[0].key)
	}
}

func (d *Defragmenter) evict(k fragKey) {
	if _, ok := d.pending[k]; ok {
		d.Stats.Incomplete++
	}
	d.remove(k)
}

func (d *Defragmenter) remove(k fragKey) {
	if fb := d.pending[k]; fb != nil {
		d.bytes -= len(fb.data)
		delete(d.pending, k)
	}
	d.trim()
	// Datagrams rebuilt behind one that waits leave stale entries the front
	// trim cannot reach: compact once they outnumber the live ones.
	if len(d.order) > 2*len(d.pending)+1024 {
		live := d.order[:0]
		for _, e := range d.order {
			if d.pending[e.key] == e.fb {
				live = append(live, e)
			}
		}
		clear(d.order[len(live):])
		d.order = live
	}
}

// Finish counts the datagrams still waiting as incomplete.
func (d *Defragmenter) Finish() {
	d.Stats.Incomplete += len(d.pending)
	clear(d.pending)
	d.order = nil
	d.bytes = 0
}
