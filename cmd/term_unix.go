//go:build unix

package cmd

import (
	"os"

	"golang.org/x/sys/unix"
)

// terminalCols asks the terminal behind f for its width (0 when it cannot say).
func terminalCols(f *os.File) int {
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0
	}
	return int(ws.Col)
}
