package cmd

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sockscope/sockscope/capture"
)

// expandInputs turns the FILE arguments into the capture files to read, in
// order: a file as given; a directory, its capture files (recognised by
// their first bytes: pcap, pcapng, or gzip of either) sorted by name, not
// recursing; a pattern with * ? or [ that names no file, the files it
// matches (filepath.Glob, sorted), so that a quoted pattern works as the
// shell's would. "-" (standard input) must be the only input. The order
// matters only for frames with equal timestamps, which go file order first:
// the merge is by time.
func expandInputs(args []string) ([]string, error) {
	if len(args) > 1 && slices.Contains(args, "-") {
		return nil, usagef("- (standard input) can't be merged with other files: give it alone")
	}
	var out []string
	seen := map[string]string{}
	add := func(p, from string) error {
		key := filepath.Clean(p)
		if abs, err := filepath.Abs(p); err == nil {
			key = abs
		}
		if prev, ok := seen[key]; ok {
			return usagef("%s is given twice (%s and %s): each file is read once", p, prev, from)
		}
		seen[key] = from
		out = append(out, p)
		return nil
	}
	for _, a := range args {
		if a == "-" {
			out = append(out, a)
			continue
		}
		fi, err := os.Stat(a)
		var matches []string
		switch {
		case err == nil && fi.IsDir():
			files, err := captureFiles(a)
			if err != nil {
				return nil, err
			}
			if len(files) == 0 {
				return nil, usagef("directory %s has no capture files (pcap, pcapng, or gzip of them)", a)
			}
			for _, f := range files {
				if err := add(f, a); err != nil {
					return nil, err
				}
			}
			continue
		case err != nil && strings.ContainsAny(a, "*?["):
			if matches, err = filepath.Glob(a); err != nil {
				return nil, usagef("pattern %q: %v", a, err)
			}
			if len(matches) == 0 {
				return nil, usagef("no file matches %s", a)
			}
		default:
			// A file, or a missing one: opening it says which.
			if err := add(a, a); err != nil {
				return nil, err
			}
			continue
		}
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() {
				files, err := captureFiles(m)
				if err != nil {
					return nil, err
				}
				for _, f := range files {
					if err := add(f, a); err != nil {
						return nil, err
					}
				}
				continue
			}
			if err := add(m, a); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// captureFiles lists the capture files of directory dir, sorted by name
// (hidden files are left out).
func captureFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("open capture directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() && e.Type()&os.ModeSymlink == 0 {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if isCapture(p) {
			files = append(files, p)
		}
	}
	return files, nil
}

// isCapture says whether the file at p starts as a pcap or pcapng file
// does, directly or gzip-compressed.
func isCapture(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return false
	}
	var r io.Reader = bufio.NewReaderSize(f, 512)
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return false
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		f.Seek(0, io.SeekStart)
		zr, err := gzip.NewReader(f)
		if err != nil {
			return false
		}
		if _, err := io.ReadFull(zr, magic[:]); err != nil {
			return false
		}
	}
	switch binary.LittleEndian.Uint32(magic[:]) {
	case 0x0A0D0D0A, 0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1:
		return true
	}
	return false
}

// fileInput is the opened capture file, or the merge of several.
type fileInput struct {
	src    capture.Source
	defrag *capture.Defragmenter
	files  []*capture.FileSource
}

// openFiles opens the capture files paths (from expandInputs) with the -f
// filter on each: one file is read directly, several through
// capture.Merge.
func openFiles(io *streams, paths []string, filterExpr string) (*fileInput, error) {
	if len(paths) == 0 {
		return nil, usagef("no capture file given")
	}
	var files []*capture.FileSource
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	size := 0
	if len(paths) > 1 {
		size = capture.MergeBufferSize(len(paths)) // memory bounded with hundreds of files
	}
	for _, p := range paths {
		src, err := openSourceSize(io, p, size)
		if err != nil {
			closeAll()
			return nil, err
		}
		files = append(files, src)
		if filterExpr != "" {
			if err := setFileFilter(src, filterExpr); err != nil {
				closeAll()
				return nil, err
			}
		}
	}
	if len(files) == 1 {
		return &fileInput{src: files[0], defrag: files[0].Defrag(), files: files}, nil
	}
	m := capture.Merge(files...)
	return &fileInput{src: m, defrag: m.Defrag(), files: files}, nil
}

// inputsName names the inputs in messages: the file, or "the merge of
// the N files".
func inputsName(paths []string) string {
	if len(paths) == 1 {
		return paths[0]
	}
	return fmt.Sprintf("the merge of the %d files", len(paths))
}
