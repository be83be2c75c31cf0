package reassembly

import "fmt"

// Direction says which way a packet travelled within a stream. It indexes [2] arrays.
type Direction uint8

const (
	ClientToServer Direction = 0
	ServerToClient Direction = 1
)

// String returns "c2s" or "s2c".
func (d Direction) String() string {
	if d == ServerToClient {
		return "s2c"
	}
	return "c2s"
}

// Arrow returns the short arrow form used in text views: "c→s" or "s→c".
func (d Direction) Arrow() string {
	if d == ServerToClient {
		return "s→c"
	}
	return "c→s"
}

// Reverse returns the other direction.
func (d Direction) Reverse() Direction { return 1 - d }

// ByteRange is a half-open range [Start, End) of offsets into one direction's
// byte stream. Offset 0 is the first byte after the SYN (or, for a stream picked
// up mid-way, the first byte seen).
type ByteRange struct{ Start, End int64 }

// Len returns End - Start.
func (r ByteRange) Len() int64 { return r.End - r.Start }

// String formats the range as "[start,end)".
func (r ByteRange) String() string { return fmt.Sprintf("[%d,%d)", r.Start, r.End) }

// Overlaps reports whether r and o share at least one byte.
func (r ByteRange) Overlaps(o ByteRange) bool { return r.Start < o.End && o.Start < r.End }
