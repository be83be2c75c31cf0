package output

import (
	"fmt"
	"io"
	"strings"

	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
)

// ReadGroupsText renders `read --group-by path`: the summary header, one
// row per path (the streams whose first packet came through it, their
// packets and payload bytes), then the notes and findings.
func ReadGroupsText(w io.Writer, r *ReadReport, groups []reassembly.PathGroup) error {
	ew := &errWriter{w: w}
	readHeader(ew, r)
	if len(groups) == 0 {
		fmt.Fprintf(ew, "\nno TCP streams or UDP flows\n")
	} else {
		fmt.Fprintln(ew)
		if ew.err != nil {
			return ew.err
		}
		t := newTable(w, []string{"path", "streams", "packets", "bytes", "retrans", "copies", "first"}, "llrrrrr")
		for i := range groups {
			g := &groups[i]
			var sc []string
			if g.TCPStreams > 0 {
				sc = append(sc, fmt.Sprintf("%d TCP", g.TCPStreams))
			}
			if g.UDPFlows > 0 {
				sc = append(sc, fmt.Sprintf("%d UDP", g.UDPFlows))
			}
			b := human.Bytes(g.Bytes)
			if g.Missing > 0 {
				b += fmt.Sprintf(" (%s missing)", human.Bytes(g.Missing))
			}
			if err := t.Append([]string{textsafe.Escape(reassembly.PathName(g.Path)), strings.Join(sc, " · "),
				fmt.Sprint(g.Packets), b, fmt.Sprint(g.Retrans), fmt.Sprint(g.PathDups), fmt.Sprint(g.FirstFrame)}); err != nil {
				return err
			}
		}
		if err := t.Render(); err != nil {
			return err
		}
		fmt.Fprintf(ew, "path: the encapsulations of each stream's first packet, outermost first · packets, bytes: both\n")
		fmt.Fprintf(ew, "directions, payload counted once · copies: packets seen again through another path · first: frame\n")
		for i := range groups {
			g := &groups[i]
			more := ""
			if n := g.TCPStreams + g.UDPFlows; n > len(g.Streams) {
				more = fmt.Sprintf(" … (%d more)", n-len(g.Streams))
			}
			fmt.Fprintf(ew, "  %s: %s%s\n", textsafe.Escape(reassembly.PathName(g.Path)), strings.Join(g.Streams, " "), more)
		}
	}
	if ew.err == nil && r.Findings != nil {
		return FindingsText(w, r.Findings)
	}
	return ew.err
}

// PathRecord is the JSON form of one path of `read --group-by path
// --format json`.
type PathRecord struct {
	Type           string   `json:"type"` // "path"
	Path           string   `json:"path"` // "" for no encapsulation
	TCPStreams     int      `json:"tcp_streams"`
	UDPFlows       int      `json:"udp_flows"`
	Packets        int64    `json:"packets"`
	Bytes          int64    `json:"bytes"`
	Missing        int64    `json:"missing"`
	Retrans        int64    `json:"retransmissions"`
	PathDuplicates int64    `json:"path_duplicates"`
	FirstFrame     int      `json:"first_frame"`
	Streams        []string `json:"streams"`
}

// ReadGroupsJSON writes one path record per group, then the finding
// records and the summary record.
func ReadGroupsJSON(w io.Writer, r *ReadReport, groups []reassembly.PathGroup) error {
	enc := NewJSONEncoder(w)
	for i := range groups {
		g := &groups[i]
		if err := enc.Encode(PathRecord{Type: "path", Path: g.Path, TCPStreams: g.TCPStreams, UDPFlows: g.UDPFlows,
			Packets: g.Packets, Bytes: g.Bytes, Missing: g.Missing, Retrans: g.Retrans, PathDuplicates: g.PathDups,
			FirstFrame: g.FirstFrame, Streams: g.Streams}); err != nil {
			return err
		}
	}
	if err := FindingsJSON(w, r.Findings); err != nil {
		return err
	}
	return enc.Encode(NewSummaryRecord(r))
}
