package cmd

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/demo"
	"github.com/sockscope/sockscope/internal/textsafe"
)

type demoOptions struct {
	timelineOptions
	Name  string
	Write string // -w: write the capture here ("-": standard output)
}

func newDemoCmd(io *streams) *cobra.Command {
	o := &demoOptions{}
	c := &cobra.Command{
		Use:   "demo [SCENARIO]",
		Short: "Show built-in teaching captures as timelines (no network needed)",
		Long: `demo draws built-in teaching captures: small TCP and UDP conversations that
sockscope generates itself, each showing one thing (a refused connection, a
loss and its retransmission, a zero window...). Without a SCENARIO it lists
them. With -w FILE it also writes the capture, so it can be opened in
Wireshark or given to any sockscope command.`,
		Example: `  sockscope demo
  sockscope demo handshake --explain
  sockscope demo retransmission -w loss.pcap && wireshark loss.pcap
  sockscope demo refused -w - | tshark -r -`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("%s takes at most one scenario name", c.CommandPath())
			}
			return nil
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			return demo.Names(), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Name = args[0]
			}
			return runDemo(io, o)
		},
	}
	addTimelineFlags(c, &o.timelineOptions)
	c.Flags().StringVarP(&o.Write, "write", "w", "", "also write the capture to `FILE` (pcap; - for standard output, then nothing else is printed)")
	return c
}

func runDemo(io *streams, o *demoOptions) error {
	if o.Name == "" {
		if o.Write != "" {
			return usagef("-w needs a scenario name: sockscope demo NAME -w FILE")
		}
		return listDemos(io)
	}
	sc, ok := demo.Find(o.Name)
	if !ok {
		return usagef("no demo called %q; scenarios: %s", textsafe.Escape(o.Name), strings.Join(demo.Names(), ", "))
	}
	ro, err := o.renderOptions(io)
	if err != nil {
		return err
	}
	pcap := sc.Pcap()
	if o.Write == "-" {
		if _, err := io.Out.Write(pcap); err != nil {
			return fmt.Errorf("write capture: %w", err)
		}
		return nil
	}
	if o.Write != "" {
		if err := os.WriteFile(o.Write, pcap, 0o644); err != nil {
			return fmt.Errorf("write capture: %w", err)
		}
		name := textsafe.Escape(o.Write)
		fmt.Fprintf(io.Err, "wrote %s (%d bytes, pcap): open it in Wireshark, or run: sockscope timeline %s\n", name, len(pcap), name)
	}
	src, err := capture.NewReader("demo:"+sc.Name, bytes.NewReader(pcap))
	if err != nil {
		return fmt.Errorf("demo capture: %w", err)
	}
	defer src.Close()
	if o.Format == "text" {
		fmt.Fprintf(io.Out, "demo %s: %s\n\n", sc.Name, sc.Summary)
		width := ro.Width
		for _, line := range wrapWords(sc.About, width-2) {
			fmt.Fprintf(io.Out, "  %s\n", line)
		}
		fmt.Fprintln(io.Out)
	}
	topts := o.timelineOptions
	topts.Framing = sc.Framing
	if o.Framing != "auto" {
		topts.Framing = o.Framing
	}
	topts.Limit = 0
	return drawTimeline(io, src, src.Defrag(), &topts, ro, nil)
}

func listDemos(io *streams) error {
	w := 0
	for _, s := range demo.All() {
		w = max(w, len(s.Name))
	}
	fmt.Fprintln(io.Out, "Teaching captures (sockscope demo NAME [--explain] [-w FILE]):")
	fmt.Fprintln(io.Out)
	for _, s := range demo.All() {
		fmt.Fprintf(io.Out, "  %-*s  %s\n", w, s.Name, s.Summary)
	}
	_, err := fmt.Fprintln(io.Out, "\nTry: sockscope demo handshake --explain")
	return err
}

// wrapWords wraps prose at spaces into lines of at most width columns.
func wrapWords(s string, width int) []string {
	width = max(width, 20)
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		if cur != "" && len(cur)+1+len(w) > width {
			lines = append(lines, cur)
			cur = w
			continue
		}
		if cur != "" {
			cur += " "
		}
		cur += w
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
