package cmd

import (
	"fmt"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// parseSelector parses a stream argument (reassembly.ParseSelector); a
// mistake is a usage error.
func parseSelector(s string) (reassembly.Selector, error) {
	sel, err := reassembly.ParseSelector(s)
	if err != nil {
		return sel, usagef("%v", err)
	}
	return sel, nil
}

// resolveSelectors turns the selectors named by endpoints into the streams
// they match, with a first pass over the file (reassembly.Resolve) that
// uses the same filter and flow bounds as the view, so the numbers agree.
// Standard input and live captures cannot be read twice.
func resolveSelectors(io *streams, paths []string, in *inputOptions, bounds boundsOptions, sels []reassembly.Selector) ([][]reassembly.StreamMatch, error) {
	for _, s := range sels {
		if _, ok := s.ID(); ok {
			continue
		}
		if in.Iface != "" || len(paths) == 1 && paths[0] == "-" {
			return nil, usagef("stream %q is named by its endpoints, which needs a capture file (it is read twice): with -i or standard input, name the stream by number (tcp/N)", s)
		}
	}
	// The same files, merged the same way, so the numbers agree.
	fi, err := openFiles(io, paths, in.Filter)
	if err != nil {
		return nil, err
	}
	src := fi.src
	defer src.Close()
	var topts reassembly.Options
	if err := bounds.apply(&topts); err != nil {
		return nil, err
	}
	// A damaged file is reported by the view's own pass.
	m, _ := reassembly.Resolve(src, topts, sels)
	return m, nil
}

// pickStreams returns the stream numbers a selector stands for: its own for
// a numbered one; for endpoints, the one stream they match, or with all
// every stream they match. Matching none, or several without all, is a
// usage error that lists what there is (canAll: the command has
// --all-matching).
func pickStreams(io *streams, paths []string, cmd string, sel reassembly.Selector, m []reassembly.StreamMatch, all, canAll bool) ([]reassembly.StreamID, error) {
	if id, ok := sel.ID(); ok {
		return []reassembly.StreamID{id}, nil
	}
	path, files := inputsName(paths), strings.Join(paths, " ")
	if len(paths) > 4 {
		files = "FILE..."
	}
	switch {
	case len(m) == 0:
		return nil, usagef("%s has no stream with %s", path, sel)
	case len(m) > 1 && !all:
		// The list goes first, one stream a line; the error line after
		// it says what to do.
		const show = 20
		for _, x := range m[:min(len(m), show)] {
			fmt.Fprintf(io.Err, "  %s\n", x)
		}
		if len(m) > show {
			fmt.Fprintf(io.Err, "  … and %d more\n", len(m)-show)
		}
		msg := fmt.Sprintf("%s matches the %d streams of %s listed above: name one by number (%s %s %s)", sel, len(m), path, cmd, files, m[0].ID)
		if canAll {
			msg += ", or take them all with --all-matching"
		}
		return nil, usagef("%s", msg)
	}
	ids := make([]reassembly.StreamID, len(m))
	for i, x := range m {
		ids[i] = x.ID
	}
	if len(m) == 1 {
		fmt.Fprintf(io.Err, "sockscope: %s is %s\n", sel, m[0])
	}
	return ids, nil
}
