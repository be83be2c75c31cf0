package cmd

// A test binary runs many captures in one process: it must not drop its
// capabilities after the first (see dropImplicitly).
func init() { dropImplicitly = false }
