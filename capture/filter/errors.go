package filter

import (
	"errors"
	"fmt"
)

// ErrUnsupported is matched by errors.Is for every [*UnsupportedError].
var ErrUnsupported = errors.New("unsupported filter")

// supportedSummary is the default reason given for unsupported filters.
const supportedSummary = "sockscope supports host, net, port, portrange, proto, " +
	"tcp, udp, sctp, icmp, icmp6, ip, ip6, arp, rarp, vlan, greater, less, len " +
	"and proto[expr:size] comparisons"

// UnsupportedError reports a valid tcpdump filter construct that this
// package does not implement.
type UnsupportedError struct {
	Part   string // the unsupported text, such as "ether host" or "gateway"
	Pos    int    // byte offset of Part in the expression
	Reason string // why, or what to use instead; empty means the supported list
}

func (e *UnsupportedError) Error() string {
	reason := e.Reason
	if reason == "" {
		reason = supportedSummary
	}
	return fmt.Sprintf("unsupported filter %q at offset %d: %s", e.Part, e.Pos, reason)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Error reports a malformed or meaningless filter expression, such as a
// syntax error or "net 10.0.0.1/8" (host bits set).
type Error struct {
	Pos int    // byte offset in the expression where the problem was found
	Msg string // what was expected or what is wrong
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid filter at offset %d: %s", e.Pos, e.Msg)
}

func errorf(pos int, format string, args ...any) error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
