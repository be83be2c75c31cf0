package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// RunOptions are the terminal and the pipeline of one UI session.
type RunOptions struct {
	Options
	In  io.Reader // the terminal (keys)
	Out io.Writer // the terminal (screen)
	// Env is the environment bubbletea reads TERM and the like from.
	Env []string
	// Scan runs the pipeline, reporting to f, until the capture ends or
	// ctx is done (cmd wires it with Scan).
	Scan func(ctx context.Context, f *Feed)
	// Stop, when set, is called once the UI has ended, before Run waits
	// for Scan: it stops a live capture, whose reads do not watch ctx.
	Stop func()
	// Width and Height, when set, are the terminal's size when Out is not
	// a terminal that can say (tests).
	Width, Height int
}

// Run shows the UI until the user quits (q, Ctrl-C) or ctx is done. The
// terminal is restored however it ends (bubbletea restores it on a panic
// too); the pipeline is stopped and waited for before Run returns.
func Run(parent context.Context, o RunOptions) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	m := New(ctx, o.Options)
	opts := []tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(o.In), tea.WithOutput(o.Out), tea.WithEnvironment(o.Env)}
	if !o.Color {
		opts = append(opts, tea.WithColorProfile(colorprofile.Ascii))
	}
	if o.Width > 0 && o.Height > 0 {
		opts = append(opts, tea.WithWindowSize(o.Width, o.Height))
	}
	p := tea.NewProgram(m, opts...)
	scanned := make(chan struct{})
	var failed any // a panic of the pipeline: the terminal is restored first
	var stack []byte
	go func() {
		defer close(scanned)
		defer func() {
			if r := recover(); r != nil {
				failed, stack = r, debug.Stack()
				p.Kill()
			}
		}()
		o.Scan(ctx, NewFeed(p.Send))
	}()
	_, err := p.Run()
	cancel()
	if o.Stop != nil {
		o.Stop()
	}
	<-scanned
	if failed != nil {
		return fmt.Errorf("the capture's pipeline failed: %v\n%s", failed, stack)
	}
	if errors.Is(err, tea.ErrProgramKilled) && parent.Err() != nil {
		err = nil // the context ended it (Ctrl-C outside raw mode, SIGTERM)
	}
	return err
}
