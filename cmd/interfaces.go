package cmd

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/output"
)

func newInterfacesCmd(io *streams) *cobra.Command {
	format := "text"
	c := &cobra.Command{
		Use:   "interfaces",
		Short: "List the network interfaces live capture can open, with their addresses and link types",
		Args:  noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usagef("--format %q: want text or json", format)
			}
			ifs, err := capture.Interfaces()
			if err != nil {
				return err
			}
			if format == "json" {
				return interfacesJSON(io, ifs)
			}
			return interfacesText(io, ifs)
		},
	}
	c.Flags().StringVar(&format, "format", "text", "output format: text or json (one object per line)")
	c.RegisterFlagCompletionFunc("format", fixedCompletion("text", "json"))
	return c
}

type interfaceRecord struct {
	Type      string   `json:"type"`
	Name      string   `json:"name"`
	Index     int      `json:"index"`
	Up        bool     `json:"up"`
	Loopback  bool     `json:"loopback"`
	MTU       int      `json:"mtu"`
	HWType    string   `json:"hw_type"`
	LinkType  string   `json:"link_type"`
	Addresses []string `json:"addresses"`
}

func addrList(ifc capture.Interface) []string {
	out := []string{}
	for _, a := range ifc.Addrs {
		out = append(out, a.String())
	}
	return out
}

func interfacesJSON(io *streams, ifs []capture.Interface) error {
	enc := output.NewJSONEncoder(io.Out)
	for _, ifc := range ifs {
		rec := interfaceRecord{Type: "interface", Name: ifc.Name, Index: ifc.Index, Up: ifc.Up, Loopback: ifc.Loopback,
			MTU: ifc.MTU, HWType: ifc.HWType, LinkType: ifc.Link.String(), Addresses: addrList(ifc)}
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
	}
	return nil
}

func interfacesText(io *streams, ifs []capture.Interface) error {
	rows := [][]string{{"interface", "index", "state", "device", "link type", "mtu", "addresses"}}
	for _, ifc := range ifs {
		state := "down"
		if ifc.Up {
			state = "up"
		}
		addrs := strings.Join(addrList(ifc), ", ")
		if addrs == "" {
			addrs = "-"
		}
		rows = append(rows, []string{textsafe.Escape(ifc.Name), fmt.Sprint(ifc.Index), state, ifc.HWType, ifc.Link.String(), fmt.Sprint(ifc.MTU), addrs})
	}
	width := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, c := range r {
			if i == len(r)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c)
			b.WriteString(strings.Repeat(" ", width[i]-len([]rune(c))+2))
		}
		b.WriteByte('\n')
	}
	b.WriteString("capture one with: sockscope live IFACE (needs root or CAP_NET_RAW)\n")
	if _, err := io.Out.Write([]byte(b.String())); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}
