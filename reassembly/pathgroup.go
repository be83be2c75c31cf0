package reassembly

import (
	"cmp"
	"slices"

	"github.com/sockscope/sockscope/capture"
)

// PathGroup totals the streams whose first packet came through one path
// (read --group-by path).
type PathGroup struct {
	Path       string // Stream.Path written out; "" for no encapsulation
	TCPStreams int
	UDPFlows   int
	Packets    int64 // both directions, path duplicates not included
	Bytes      int64 // payload bytes, both directions
	Missing    int64 // payload bytes never captured
	Retrans    int64 // segments retransmitted
	PathDups   int64 // packets of these streams seen again through another path
	FirstFrame int   // the first frame of the group's first stream
	// Streams names the group's streams with the lowest numbers, TCP
	// first, at most MaxGroupStreams ("tcp/0").
	Streams []string
	refs    []groupRef
}

type groupRef struct {
	proto capture.Proto
	id    int
}

// MaxGroupStreams bounds PathGroup.Streams.
const MaxGroupStreams = 10

// PathGroups groups finished streams by path. Feed it every stream the
// tracker delivers (Options.OnStream); it keeps one PathGroup per distinct
// path, never the streams. The zero value is ready to use.
type PathGroups struct {
	m map[capture.Path]*PathGroup
}

// Add counts a finished stream. A later part of a stream flushed early
// (Resumed) adds its packets and bytes, not another stream.
func (g *PathGroups) Add(s *Stream) {
	// Both directions through a tunnel are one path (Path.Key); the
	// group is named by its earliest stream's path, as it went.
	var key, path capture.Path
	if s.Path != nil {
		path = *s.Path
		key = path.Key()
	}
	if g.m == nil {
		g.m = map[capture.Path]*PathGroup{}
	}
	pg := g.m[key]
	if pg == nil {
		pg = &PathGroup{Path: path.String(), FirstFrame: s.FirstFrame}
		g.m[key] = pg
	} else if s.FirstFrame < pg.FirstFrame {
		pg.Path = path.String()
	}
	for d := range s.Dirs {
		h := &s.Dirs[d]
		pg.Packets += int64(h.Packets)
		pg.Bytes += h.Bytes
		pg.Missing += h.Missing
		pg.Retrans += int64(h.Retrans)
	}
	if s.Dups != nil {
		pg.PathDups += int64(s.Dups.Count)
	}
	if s.Resumed {
		return
	}
	if s.Proto == capture.ProtoTCP {
		pg.TCPStreams++
	} else {
		pg.UDPFlows++
	}
	pg.FirstFrame = min(pg.FirstFrame, s.FirstFrame)
	r := groupRef{s.Proto, s.ID}
	i, _ := slices.BinarySearchFunc(pg.refs, r, cmpRef)
	if i < MaxGroupStreams {
		pg.refs = slices.Insert(pg.refs, i, r)
		if len(pg.refs) > MaxGroupStreams {
			pg.refs = pg.refs[:MaxGroupStreams]
		}
	}
}

func cmpRef(a, b groupRef) int { return cmp.Or(cmp.Compare(a.proto, b.proto), cmp.Compare(a.id, b.id)) }

// Groups returns the groups in the order their paths first appeared (by
// their first stream's first frame).
func (g *PathGroups) Groups() []PathGroup {
	out := make([]PathGroup, 0, len(g.m))
	for _, pg := range g.m {
		out = append(out, *pg)
	}
	slices.SortFunc(out, func(a, b PathGroup) int {
		return cmp.Or(cmp.Compare(a.FirstFrame, b.FirstFrame), cmp.Compare(a.Path, b.Path))
	})
	for i := range out {
		pg := &out[i]
		pg.Streams = make([]string, len(pg.refs))
		for j, r := range pg.refs {
			pg.Streams[j] = (&Stream{Proto: r.proto, ID: r.id}).Name()
		}
		pg.refs = nil
	}
	return out
}
