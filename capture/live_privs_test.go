package capture

import (
	"os/user"
	"strconv"
	"testing"
)

// TestLookupRunAs resolves --user by name or uid, before any capture opens.
func TestLookupRunAs(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Skip(err)
	}
	for _, name := range []string{me.Username, me.Uid} {
		r, err := LookupRunAs(name)
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if strconv.Itoa(r.UID) != me.Uid || strconv.Itoa(r.GID) != me.Gid || r.Name != me.Username || len(r.Groups) == 0 {
			t.Errorf("%q: %+v, want uid %s gid %s", name, r, me.Uid, me.Gid)
		}
	}
	if _, err := LookupRunAs("no-such-user-sockscope"); err == nil {
		t.Error("unknown user: no error")
	}
}

func TestPrivilegesString(t *testing.T) {
	for p, want := range map[Privileges]string{
		{User: "nobody", UID: 65534}:                  "running as nobody (uid 65534)",
		{CapsDropped: true}:                           "capabilities dropped",
		{CapsDropped: true, Except: "CAP_SYS_PTRACE"}: "capabilities dropped except CAP_SYS_PTRACE",
		{}: "",
	} {
		if got := p.String(); got != want {
			t.Errorf("%+v: %q, want %q", p, got, want)
		}
	}
}
