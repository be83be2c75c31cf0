package decode

// SetSpillWindow sets how much of a spilled direction Analyze reads at
// once, and returns a func that restores it.
func SetSpillWindow(n int64) func() {
	old := spillWindow
	spillWindow = n
	return func() { spillWindow = old }
}
