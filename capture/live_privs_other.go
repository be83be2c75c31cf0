//go:build !linux

package capture

import "errors"

// DropPrivileges gives up nothing on this system (live capture needs
// Linux); asking to switch users is an error.
func DropPrivileges(as *RunAs) (Privileges, error) {
	if as != nil {
		return Privileges{}, errors.New("--user is supported on Linux only")
	}
	return Privileges{}, nil
}

// DropPrivilegesExcept gives up nothing on this system either.
func DropPrivilegesExcept() (Privileges, error) { return Privileges{}, nil }
