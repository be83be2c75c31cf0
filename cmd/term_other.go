//go:build !unix

package cmd

import "os"

// terminalCols cannot ask the terminal here: the caller falls back to its default.
func terminalCols(*os.File) int { return 0 }
