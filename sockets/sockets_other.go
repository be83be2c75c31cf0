//go:build !linux

package sockets

// dump needs sock_diag, which only Linux has.
func dump() ([]Socket, []Gap, error) { return nil, nil, ErrNeedsLinux }
