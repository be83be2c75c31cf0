package reassembly

// Seq is a TCP sequence number. It wraps at 2^32, so it is compared only
// through its methods (RFC 1982 serial arithmetic), never with < on the raw value.
type Seq uint32

// Diff returns s - t as a signed distance, correct across the 2^32 wrap as long
// as the two numbers are less than 2^31 apart.
func (s Seq) Diff(t Seq) int64 { return int64(int32(uint32(s) - uint32(t))) }

// Less reports whether s comes before t.
func (s Seq) Less(t Seq) bool { return int32(uint32(s)-uint32(t)) < 0 }

// LessEq reports whether s comes before t or equals it.
func (s Seq) LessEq(t Seq) bool { return int32(uint32(s)-uint32(t)) <= 0 }

// Add returns s advanced by n bytes (wrapping).
func (s Seq) Add(n int64) Seq { return Seq(uint32(int64(uint32(s)) + n)) }

// InRange reports whether s is in the half-open range [a, b).
func (s Seq) InRange(a, b Seq) bool { return a.LessEq(s) && s.Less(b) }
