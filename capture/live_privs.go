package capture

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
)

// RunAs is the account a live capture switches to once its socket is open
// (--user, tcpdump's -Z). Resolve it with LookupRunAs before opening the
// capture, so that a misspelt name fails before anything is captured.
type RunAs struct {
	Name   string
	UID    int
	GID    int
	Groups []int // supplementary groups, from the group database
}

// LookupRunAs resolves the user name (or numeric uid) name.
func LookupRunAs(name string) (*RunAs, error) {
	u, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if _, nerr := strconv.Atoi(name); nerr == nil && errors.As(err, &unknown) {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return nil, fmt.Errorf("user %q: %w", name, err)
		}
	}
	r := &RunAs{Name: u.Username}
	if r.UID, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %q: uid %q is not a number", name, u.Uid)
	}
	if r.GID, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("user %q: gid %q is not a number", name, u.Gid)
	}
	gids, err := u.GroupIds()
	if err != nil {
		gids = []string{u.Gid} // no group database entry: the primary group only
	}
	for _, g := range gids {
		if n, err := strconv.Atoi(g); err == nil {
			r.Groups = append(r.Groups, n)
		}
	}
	return r, nil
}

// Privileges says what DropPrivileges did, for the capture's header.
type Privileges struct {
	// User is the account the process now runs as ("" when it did not
	// change user).
	User string
	UID  int
	// CapsDropped says the capability sets are now empty, but for Except.
	CapsDropped bool
	// Except names the capabilities kept on purpose ("CAP_SYS_PTRACE").
	Except string
	// Kept, when not empty, says why privileges were kept.
	Kept string
}

// String describes p in a few words: "running as nobody (uid 65534)",
// "capabilities dropped", or why they were kept.
func (p Privileges) String() string {
	switch {
	case p.User != "":
		return fmt.Sprintf("running as %s (uid %d)", p.User, p.UID)
	case p.CapsDropped && p.Except != "":
		return "capabilities dropped except " + p.Except
	case p.CapsDropped:
		return "capabilities dropped"
	}
	return p.Kept
}
