// Package ui is sockscope's full-screen terminal UI (sockscope ui FILE): the
// read table as a connections pane that fills in while the capture is read,
// a detail pane per stream (ladder, segment ↔ message map, transcript,
// findings) and a findings pane.
//
// It sits beside output on the pipeline: Scan wires read's stages
// (reassembly, decode's framing, findings) and feeds the model messages;
// LoadStream reads one stream again as timeline and follow do; every pane
// is drawn by output's renderers, so the UI shows what the other views
// show, escaped as they escape it. The model is a bubbletea Model; it
// never probes the terminal: cmd says how wide, whether colour, ASCII.
package ui
