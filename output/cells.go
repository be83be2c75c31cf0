package output

import (
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
)

// ReadColumns returns the header of read's text table and each column's
// alignment ('l' or 'r'), for views that lay the table out themselves (the
// terminal UI): the same columns, with the same words.
func ReadColumns(stats bool) (header []string, align string) {
	t := ReadTextWriter{o: ReadOptions{Stats: stats}}
	return t.columns()
}

// ReadCells returns one stream's cells as read's text table prints them,
// and whether its client was guessed (the client cell then ends in "?").
func ReadCells(s *reassembly.Summary, stats bool) ([]string, bool) {
	t := ReadTextWriter{o: ReadOptions{Stats: stats}}
	return t.cells(s, nil)
}

// CaptureSummary returns read's header as labelled lines (file, frames,
// packets, streams, copies, unflowed kinds) and what went wrong with the
// frames ("" when nothing did), escaped.
func CaptureSummary(r *ReadReport) (lines [][2]string, issues string) {
	return captureSummary(r, textsafe.Escape(r.Info.Name))
}

// StreamNotes returns the notes read prints under its table for s
// (retransmissions, gaps, duplicates, a guessed client).
func StreamNotes(s *reassembly.Summary) []string {
	return streamNotes([]reassembly.Summary{*s})
}
