package filter

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/net/bpf"
)

// matchSnaplen is the accept value of Matcher programs; any non-zero value works.
const matchSnaplen = 262144

// Matcher runs a compiled filter over frames read from a capture file,
// using the golang.org/x/net/bpf virtual machine. It is safe for concurrent
// use, and Match does not allocate.
type Matcher struct {
	prog []bpf.Instruction
	vm   *bpf.VM
	// wireVM runs a variant of prog that reads "len" from a 4-byte
	// big-endian prefix instead of the buffer length; nil unless prog uses
	// len. See MatchWire.
	wireVM *bpf.VM
}

// NewMatcher compiles expr for frames of the given pcap link type.
func NewMatcher(expr string, linkType uint16) (*Matcher, error) {
	n, err := Parse(expr)
	if err != nil {
		return nil, err
	}
	prog, usesLen, err := compileTree(n, linkType, matchSnaplen)
	if err != nil {
		return nil, err
	}
	vm, err := bpf.NewVM(prog)
	if err != nil {
		return nil, fmt.Errorf("new matcher %q: %w", expr, err)
	}
	m := &Matcher{prog: prog, vm: vm}
	if usesLen {
		m.wireVM, err = bpf.NewVM(withLenPrefix(prog))
		if err != nil {
			return nil, fmt.Errorf("new matcher %q: %w", expr, err)
		}
	}
	return m, nil
}

// Program returns a copy of the compiled program.
func (m *Matcher) Program() []bpf.Instruction {
	return append([]bpf.Instruction(nil), m.prog...)
}

// Match reports whether the filter accepts frame. "len", "greater" and
// "less" see len(frame); use MatchWire for frames cut short by a snap length.
func (m *Matcher) Match(frame []byte) bool {
	n, err := m.vm.Run(frame)
	return err == nil && n > 0
}

// MatchWire is Match for a frame whose original length on the wire was
// wireLen (pcap's orig_len), which "len", "greater" and "less" test, as
// libpcap does. It allocates only when the program reads len and the frame
// was truncated.
func (m *Matcher) MatchWire(frame []byte, wireLen int) bool {
	if m.wireVM == nil || wireLen == len(frame) || wireLen < 0 || int64(wireLen) > 0xffffffff {
		return m.Match(frame)
	}
	buf := make([]byte, 4+len(frame))
	binary.BigEndian.PutUint32(buf, uint32(wireLen))
	copy(buf[4:], frame)
	n, err := m.wireVM.Run(buf)
	return err == nil && n > 0
}

// withLenPrefix rewrites prog to run on a buffer with a 4-byte wire length
// in front of the frame: packet offsets move by 4 and "ld len" becomes
// "ld [0]". Loads whose offset would overflow always fail, so they become
// "ret #0", which is what the failed load does.
func withLenPrefix(prog []bpf.Instruction) []bpf.Instruction {
	out := make([]bpf.Instruction, len(prog))
	for i, ins := range prog {
		switch in := ins.(type) {
		case bpf.LoadAbsolute:
			if in.Off > 0xffffffff-4 {
				out[i] = bpf.RetConstant{Val: 0}
				continue
			}
			in.Off += 4
			out[i] = in
		case bpf.LoadIndirect:
			if in.Off > 0xffffffff-4 {
				out[i] = bpf.RetConstant{Val: 0}
				continue
			}
			in.Off += 4
			out[i] = in
		case bpf.LoadMemShift:
			if in.Off > 0xffffffff-4 {
				out[i] = bpf.RetConstant{Val: 0}
				continue
			}
			in.Off += 4
			out[i] = in
		case bpf.LoadExtension:
			if in.Num == bpf.ExtLen {
				out[i] = bpf.LoadAbsolute{Off: 0, Size: 4}
				continue
			}
			out[i] = in
		default:
			out[i] = ins
		}
	}
	return out
}

// packetOutgoing is the Linux PACKET_OUTGOING packet type.
const packetOutgoing = 4

// DropOutgoing returns prog with a prefix that rejects frames the host sent
// (packet type PACKET_OUTGOING), for live capture on loopback where every
// frame is otherwise seen twice:
//
//	ld #type           ; bpf.LoadExtension{Num: bpf.ExtType}
//	jeq #4, jt 0, jf 1 ; PACKET_OUTGOING?
//	ret #0
//	... prog ...
//
// cBPF jumps are relative, so prog's jumps stay valid. prog must be a
// complete program such as [Compile] returns; DropOutgoing(nil) is nil. The
// kernel computes the packet type; the x/net/bpf VM cannot run the result.
func DropOutgoing(prog []bpf.Instruction) []bpf.Instruction {
	if len(prog) == 0 {
		return nil
	}
	out := make([]bpf.Instruction, 0, len(prog)+3)
	out = append(out,
		bpf.LoadExtension{Num: bpf.ExtType},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: packetOutgoing, SkipTrue: 0, SkipFalse: 1},
		bpf.RetConstant{Val: 0},
	)
	return append(out, prog...)
}
