//go:build linux

package capture

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// DropPrivileges gives up, for the whole process and for good, the
// privileges a live capture needed only to start: call it once every
// capture socket is open (sockets and their mapped rings keep working; no
// capability is checked when reading them, reading their counters or
// closing them).
//
// With as, it switches to that user and its groups (setgroups, setgid,
// setuid, which Go applies to every thread), after emptying the capability
// bounding set and setting no_new_privs, so that no later exec can regain
// them. It fails if the switch did not happen, and the caller must then stop.
//
// Without as, a process that holds capabilities (root, or a binary given
// cap_net_raw with setcap) keeps its user but drops every capability from
// its effective, permitted, inheritable, ambient and bounding sets: none is
// needed once the socket is open. Capabilities are a per-thread attribute
// that Go can change on every thread only in a build without cgo; a cgo
// build keeps them and says so in Kept (--user works in both).
func DropPrivileges(as *RunAs) (Privileges, error) {
	if as != nil {
		return switchUser(as)
	}
	return dropCaps(0)
}

// DropPrivilegesExcept is DropPrivileges without a user switch, keeping
// only CAP_SYS_PTRACE effective and permitted: what reading other
// processes' /proc/PID/fd needs (sockscope live --processes names the
// process behind each connection). Every other capability goes, as do the
// bounding and ambient sets, and no_new_privs is set.
func DropPrivilegesExcept() (Privileges, error) {
	p, err := dropCaps(1 << unix.CAP_SYS_PTRACE)
	if p.CapsDropped {
		p.Except = "CAP_SYS_PTRACE"
	}
	return p, err
}

// dropCaps empties the capability sets but for keep (capabilities below 32).
func dropCaps(keep uint32) (Privileges, error) {
	var p Privileges
	eff, prm, err := capSets()
	if err != nil {
		return p, fmt.Errorf("read capabilities: %w", err)
	}
	if eff == 0 && prm == 0 {
		return p, nil // nothing to give up
	}
	if err := dropBounding(eff); err != nil && !errors.Is(err, unix.ENOTSUP) {
		return p, fmt.Errorf("drop capability bounding set: %w", err)
	}
	allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	data[0].Effective, data[0].Permitted = keep&uint32(eff), keep&uint32(prm)
	err = allThreads(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0)
	runtime.KeepAlive(&hdr)
	runtime.KeepAlive(&data)
	if errors.Is(err, unix.ENOTSUP) {
		p.Kept = "capabilities kept (a cgo build cannot drop them: use --user, or build with CGO_ENABLED=0)"
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("drop capabilities: %w", err)
	}
	allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)
	want := uint64(keep) & prm
	if eff, prm, err = capSets(); err != nil || eff&^want != 0 || prm&^want != 0 {
		return p, fmt.Errorf("drop capabilities: still effective %#x, permitted %#x (%v)", eff, prm, err)
	}
	p.CapsDropped = true
	return p, nil
}

func switchUser(as *RunAs) (Privileges, error) {
	p := Privileges{User: as.Name, UID: as.UID}
	eff, _, err := capSets()
	if err != nil {
		return p, fmt.Errorf("read capabilities: %w", err)
	}
	if err := dropBounding(eff); err != nil && !errors.Is(err, unix.ENOTSUP) {
		return p, fmt.Errorf("drop capability bounding set: %w", err)
	}
	allThreads(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0)
	groups := as.Groups
	if len(groups) == 0 {
		groups = []int{as.GID}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return p, fmt.Errorf("--user %s: set groups: %w", as.Name, err)
	}
	if err := syscall.Setgid(as.GID); err != nil {
		return p, fmt.Errorf("--user %s: set gid %d: %w", as.Name, as.GID, err)
	}
	if err := syscall.Setuid(as.UID); err != nil {
		return p, fmt.Errorf("--user %s: set uid %d: %w", as.Name, as.UID, err)
	}
	allThreads(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0)
	if os.Getuid() != as.UID || os.Geteuid() != as.UID || os.Getgid() != as.GID || os.Getegid() != as.GID {
		return p, fmt.Errorf("--user %s: still uid %d/%d gid %d/%d", as.Name, os.Getuid(), os.Geteuid(), os.Getgid(), os.Getegid())
	}
	if as.UID != 0 {
		// Leaving uid 0 clears the capability sets; make sure of it.
		if eff, prm, err := capSets(); err != nil || eff != 0 || prm != 0 {
			return p, fmt.Errorf("--user %s: capabilities still effective %#x, permitted %#x (%v)", as.Name, eff, prm, err)
		}
	}
	return p, nil
}

// allThreads runs a syscall on every thread of the process. It returns
// ENOTSUP in a cgo build, where the runtime cannot reach every thread.
func allThreads(trap, a1, a2, a3 uintptr) error {
	_, _, errno := syscall.AllThreadsSyscall(trap, a1, a2, a3)
	if errno != 0 {
		return errno
	}
	return nil
}

// dropBounding empties the capability bounding set, when allowed to
// (CAP_SETPCAP in eff).
func dropBounding(eff uint64) error {
	if eff&(1<<unix.CAP_SETPCAP) == 0 {
		return nil
	}
	last := lastCap()
	for c := 0; c <= last; c++ {
		if err := allThreads(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); err != nil {
			if errors.Is(err, unix.EINVAL) {
				break // past the kernel's last capability
			}
			return err
		}
	}
	return nil
}

func lastCap() int {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 && n < 64 {
			return n
		}
	}
	return 63
}

// capSets returns the calling thread's effective and permitted capabilities.
func capSets() (eff, prm uint64, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, 0, err
	}
	eff = uint64(data[0].Effective) | uint64(data[1].Effective)<<32
	prm = uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32
	return eff, prm, nil
}
