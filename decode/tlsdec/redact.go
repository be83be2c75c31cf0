package tlsdec

import "fmt"

// The types that hold key material print a summary, never their fields, so
// a stray %v or %#v in a log cannot leak a secret.

// String describes the key log without its secrets.
func (kl *KeyLog) String() string {
	if kl == nil {
		return "tlsdec.KeyLog(nil)"
	}
	return fmt.Sprintf("tlsdec.KeyLog(%d connections)", kl.Len())
}

// GoString is String: %#v must not print the secrets either.
func (kl *KeyLog) GoString() string { return kl.String() }

func (s secrets) String() string   { return "tlsdec.secrets(redacted)" }
func (s secrets) GoString() string { return s.String() }

// String describes the session without its keys.
func (s *Session) String() string {
	if s == nil {
		return "tlsdec.Session(nil)"
	}
	return fmt.Sprintf("tlsdec.Session(%s %s, c2s %d records, s2c %d records)",
		VersionName(s.info.Version), SuiteName(s.info.Suite), s.h[0].n, s.h[1].n)
}

// GoString is String.
func (s *Session) GoString() string { return s.String() }
