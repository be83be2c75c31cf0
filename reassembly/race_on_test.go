//go:build race

package reassembly_test

const raceEnabled = true
