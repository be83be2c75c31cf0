package reassembly

import (
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"sort"
	"testing"
	"time"
)

// big is a 512-byte element: a Log of it has 128 per block, so a few
// thousand make many blocks.
type big struct {
	Key int64
	Pad [63]int64
}

var bigCodec = logCodec[big]{size: 16,
	put: func(b []byte, v *big) {
		binary.LittleEndian.PutUint64(b, uint64(v.Key))
		binary.LittleEndian.PutUint64(b[8:], uint64(v.Pad[62]))
	},
	get: func(b []byte, v *big) {
		*v = big{Key: int64(binary.LittleEndian.Uint64(b))}
		v.Pad[62] = int64(binary.LittleEndian.Uint64(b[8:]))
	}}

// TestLogSpill checks a spilled Log against a slice: At, All, Search and
// Clone give the same elements, whether spilled from the start or part way,
// and changes to the newest elements through At are kept.
func TestLogSpill(t *testing.T) {
	for _, spillAt := range []int{0, 1, 300, 2000} {
		var l Log[big]
		var want []big
		rng := rand.New(rand.NewPCG(1, uint64(spillAt)))
		key := int64(0)
		for i := range 5000 {
			if i == spillAt {
				l.spill(bigCodec)
			}
			key += rng.Int64N(3) // keys ascend, with repeats: Search finds the first
			v := big{Key: key}
			v.Pad[62] = int64(i)
			l.Append(v)
			want = append(want, v)
			if i%7 == 0 { // a change to the newest element, as deliver makes
				l.At(l.Len() - 1).Pad[62] = -int64(i)
				want[len(want)-1].Pad[62] = -int64(i)
			}
		}
		if l.OnDisk() == 0 || l.OnDisk() > l.Len()-l.blockLen() {
			t.Fatalf("spill at %d: %d of %d on disk", spillAt, l.OnDisk(), l.Len())
		}
		if err := l.Err(); err != nil {
			t.Fatal(err)
		}
		for range 3000 {
			i := rng.IntN(len(want))
			if got := *l.At(i); got != want[i] {
				t.Fatalf("spill at %d: At(%d) = %d/%d, want %d/%d", spillAt, i, got.Key, got.Pad[62], want[i].Key, want[i].Pad[62])
			}
			k := want[i].Key + rng.Int64N(2)
			got := l.Search(func(v *big) bool { return v.Key >= k })
			if exp := sort.Search(len(want), func(j int) bool { return want[j].Key >= k }); got != exp {
				t.Fatalf("spill at %d: Search(key >= %d) = %d, want %d", spillAt, k, got, exp)
			}
		}
		if got := l.Search(func(v *big) bool { return v.Key > key }); got != l.Len() {
			t.Errorf("Search past the end = %d, want %d", got, l.Len())
		}
		n := 0
		for i, v := range l.All() {
			if i != n || *v != want[i] {
				t.Fatalf("spill at %d: All at %d differs", spillAt, i)
			}
			n++
		}
		if n != len(want) {
			t.Fatalf("All gave %d of %d", n, len(want))
		}
		c := l.Clone()
		if c.OnDisk() != 0 || c.Len() != len(want) {
			t.Fatalf("Clone: %d on disk, %d long", c.OnDisk(), c.Len())
		}
		var back []big
		for _, v := range c.All() {
			back = append(back, *v)
		}
		if !reflect.DeepEqual(back, want) {
			t.Fatal("Clone differs")
		}
		l.release()
	}
}

// TestSegmentCodec checks that a segment written to disk reads back the
// same, every field.
func TestSegmentCodec(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 1000 {
		g := Segment{Frame: rng.IntN(1 << 40), Seq: rng.Int64(), Len: rng.IntN(1 << 20), Captured: rng.IntN(1 << 20),
			Added: ByteRange{rng.Int64(), rng.Int64()}, NewBytes: rng.Int64(), aux: rng.Int64() - 1<<62, Dir: Direction(rng.IntN(2)),
			Flags: 0x1ff, Kind: Kind(rng.IntN(8)), why: segWhy(rng.IntN(4)), named: rng.IntN(2) == 1}
		g.Time = timeAt(rng.Int64N(1<<40), rng.IntN(2) == 1)
		b := make([]byte, segmentCodec.size)
		segmentCodec.put(b, &g)
		var back Segment
		segmentCodec.get(b, &back)
		if back != g {
			t.Fatalf("%+v\nread back as\n%+v", g, back)
		}
		c := Chunk{Range: ByteRange{rng.Int64(), rng.Int64()}, Frame: rng.IntN(1 << 40), Data: rng.Int64()}
		cb := make([]byte, chunkCodec.size)
		chunkCodec.put(cb, &c)
		var cback Chunk
		chunkCodec.get(cb, &cback)
		if cback != c {
			t.Fatalf("chunk %+v read back as %+v", c, cback)
		}
	}
}

func timeAt(ns int64, utc bool) (t time.Time) {
	t = time.Unix(0, ns)
	if utc {
		t = t.UTC()
	}
	return t
}
