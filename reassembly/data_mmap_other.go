//go:build !unix

package reassembly

import "os"

// mapFile is unix-only: elsewhere MapAt returns nil and readers copy.
func mapFile(f *os.File, off, n int64) (b, base []byte) { return nil, nil }

func unmapFile(base []byte) {}
