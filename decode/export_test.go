package decode

// SetSpillWindow sets how much of a spilled direction Analyze reads at
// once, and returns a func that restores it.
func SetSpillWindow(n int64) func() {
	old := spillWindow
	spillWindow = n
	return func() { spillWindow = old }
}

// SetSpillMapOver sets the window past which Analyze maps a spilled
// direction instead of reading it, and returns a func that restores it.
func SetSpillMapOver(n int64) func() {
	old := spillMapOver
	spillMapOver = n
	return func() { spillMapOver = old }
}
