package spillbuf

import "os"

// Temp is a temporary file for bytes that outgrew memory (a followed
// stream's bytes, its segment map, a view's records). It is unlinked as
// soon as it is made where the system allows it, so it disappears with the
// process; elsewhere Discard removes it.
type Temp struct {
	*os.File
	remove bool // it could not be unlinked at once: Discard removes it
}

// NewTemp creates a temporary file in the default directory; pattern is as
// os.CreateTemp's.
func NewTemp(pattern string) (*Temp, error) {
	f, err := os.CreateTemp("", pattern)
	if err != nil {
		return nil, err
	}
	return &Temp{File: f, remove: os.Remove(f.Name()) != nil}, nil
}

// Discard closes the file and removes it if it was not unlinked at once.
func (t *Temp) Discard() error {
	err := t.Close()
	if t.remove {
		os.Remove(t.Name())
		t.remove = false
	}
	return err
}
