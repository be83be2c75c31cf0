package output

import (
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// newTable is the one place tablewriter is configured: a borderless table
// with a plain header line, no automatic header formatting, no wrapping.
// align gives each column's alignment ('l' or 'r').
func newTable(w io.Writer, header []string, align string) *tablewriter.Table {
	aligns := make([]tw.Align, len(header))
	for i := range aligns {
		aligns[i] = tw.AlignLeft
		if i < len(align) && align[i] == 'r' {
			aligns[i] = tw.AlignRight
		}
	}
	t := tablewriter.NewTable(w,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleASCII),
			Settings: tw.Settings{
				Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off, ShowHeader: tw.On},
				Lines:      tw.Lines{ShowTop: tw.Off, ShowBottom: tw.Off, ShowHeaderLine: tw.On},
			},
		})),
	)
	t.Configure(func(c *tablewriter.Config) {
		c.Header.Formatting.AutoFormat = tw.Off
		c.Header.Formatting.AutoWrap = tw.WrapNone
		c.Header.Alignment.PerColumn = aligns
		c.Row.Formatting.AutoWrap = tw.WrapNone
		c.Row.Formatting.AutoFormat = tw.Off
		c.Row.Alignment.PerColumn = aligns
		c.Header.Padding.Global = tw.Padding{Left: "", Right: "  "}
		c.Row.Padding.Global = tw.Padding{Left: "", Right: "  "}
	})
	t.Header(header)
	return t
}
