// Package sockets asks the kernel which TCP and UDP sockets exist right now
// and which processes hold them: the facts the wire alone cannot give (who
// owns a connection, whether the application read what arrived, which
// listening socket accepted it).
//
// In: the kernel, through sock_diag netlink (inet_diag dumps for TCP and
// UDP, IPv4 and IPv6, with tcp_info), /proc/PID/fd (socket inode →
// process and fd number) and /proc/net/netstat (accept-queue overflows).
// Out: a Snapshot, a typed, JSON-ready list of sockets with their owners,
// plus the gaps: which facts are missing and why (another user's processes
// cannot be mapped without root or CAP_SYS_PTRACE).
//
// Take works on Linux only; elsewhere it returns ErrNeedsLinux. The
// grouping (Listeners, ByProcess) and the Notes drawn from socket state are
// pure functions of a Snapshot, so a recorded one renders the same view
// anywhere.
//
// Sockets sits beside capture in the layers: it imports nothing of the
// pipeline, and output renders its types.
package sockets
