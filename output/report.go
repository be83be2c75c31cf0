package output

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/decode"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
)

// The report's page skeleton, stylesheet and script are embedded: the page
// loads nothing from the network (its Content-Security-Policy forbids it).
//
//go:embed report_assets/report.html.tmpl report_assets/report.css report_assets/report.js
var reportAssets embed.FS

var (
	reportTmpl   *template.Template
	reportCSS    template.CSS
	reportJS     template.JS
	reportPolicy string // the Content-Security-Policy: the hashes of the page's own style and script
)

func init() {
	css, err := reportAssets.ReadFile("report_assets/report.css")
	if err != nil {
		panic(err)
	}
	js, err := reportAssets.ReadFile("report_assets/report.js")
	if err != nil {
		panic(err)
	}
	reportCSS, reportJS = template.CSS(css), template.JS(js)
	hash := func(b []byte) string {
		h := sha256.Sum256(b)
		return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
	}
	// No network loads, no inline event handlers, no plugins, no forms, no
	// <base>: only the one inline stylesheet and the one inline script, by
	// hash, and data: images.
	reportPolicy = "default-src 'none'; style-src " + hash(css) + "; script-src " + hash(js) +
		"; img-src data:; base-uri 'none'; form-action 'none'"
	reportTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
		"safe": textsafe.Escape,
	}).ParseFS(reportAssets, "report_assets/report.html.tmpl"))
}

// ReportPolicy returns the Content-Security-Policy the report page carries.
func ReportPolicy() string { return reportPolicy }

// ReportInput is what a report shows: the read view's data (summary, every
// stream, findings) and the framing of the streams drawn in detail.
type ReportInput struct {
	Read *ReadReport
	// Analyses are the streams drawn in detail (ladder and framing map), in
	// report order (TCP by ID, then UDP by ID). Their streams were kept.
	Analyses []*decode.Analysis
	// TLS[i], when set, is Analyses[i]'s stream decrypted (Analyses[i] is
	// then its TLS records): the detail names the messages inside.
	TLS []*decode.TLSLayer
	// NotKept counts streams of the capture left out of the detail sections
	// before any size cap (beyond --streams).
	NotKept int
	// DetailLimit is the --streams value that left them out (for the note).
	DetailLimit int
	// Source says where the capture came from when it is not a file
	// ("live capture on eth0 for 10s"); empty for a file.
	Source string
	// Generator names the program in the footer ("sockscope v1.2.0").
	Generator string
}

// ReportOptions bounds the page. Zero fields take the defaults.
type ReportOptions struct {
	MaxSize     int64 // bytes of HTML at most (default 10 MB)
	MaxPackets  int   // ladder arrows per stream (default 2000)
	MaxSegments int   // segments, and messages, per direction in a framing map (default 2000)
	Preview     int   // payload bytes previewed per segment or message (default 64; <0: none)
	MaxRows     int   // rows of the streams table (default DefaultReportRows)
}

func (o ReportOptions) withDefaults() ReportOptions {
	if o.MaxSize <= 0 {
		o.MaxSize = 10_000_000
	}
	if o.MaxPackets <= 0 {
		o.MaxPackets = 2000
	}
	if o.MaxSegments <= 0 {
		o.MaxSegments = 2000
	}
	if o.Preview == 0 {
		o.Preview = 64
	}
	if o.Preview < 0 {
		o.Preview = 0
	}
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultReportRows
	}
	return o
}

// ReportResult says what the written page holds.
type ReportResult struct {
	Size     int64    // bytes written
	Streams  int      // streams drawn in detail
	Rows     int      // rows of the streams table
	Omitted  []string // what was left out, in words (also noted in the page)
	Overflow bool     // even the smallest page is larger than MaxSize
}

// DefaultReportRows is how many streams the report's table lists at most
// (the first, by ID): a caller need hold no more rows than that.
const DefaultReportRows = 20000

// ReportHTML writes one self-contained HTML page: the summary, the streams
// table, the findings and, per detailed stream, a ladder diagram and framing
// maps, with the data as JSON for the page's script. When the page would be
// larger than o.MaxSize it leaves things out, in this order, and says so in
// the page: payload previews, packets and segments beyond a smaller bound
// per stream, detailed streams from the last, table rows from the last.
func ReportHTML(w io.Writer, in *ReportInput, o ReportOptions) (ReportResult, error) {
	o = o.withDefaults()
	lim := reportLimits{
		preview: o.Preview, packets: o.MaxPackets, segments: o.MaxSegments,
		streams: len(in.Analyses), rows: min(o.MaxRows, in.Read.streamCount()),
	}
	var buf bytes.Buffer
	for {
		buf.Reset()
		page := buildReport(in, lim)
		if err := reportTmpl.Execute(&buf, page); err != nil {
			return ReportResult{}, fmt.Errorf("render report: %w", err)
		}
		size := int64(buf.Len())
		if size <= o.MaxSize || !lim.shrink(size, o.MaxSize) {
			res := ReportResult{Size: size, Streams: len(page.Details), Rows: len(page.Rows), Omitted: page.Omitted, Overflow: size > o.MaxSize}
			_, err := w.Write(buf.Bytes())
			return res, err
		}
	}
}

// reportLimits are the bounds of one attempt at the page.
type reportLimits struct {
	preview, packets, segments, streams, rows int
	previewCut, detailCut, streamCut, rowCut  bool
}

// shrink lowers the bounds for the next attempt; false when nothing is left
// to cut.
func (l *reportLimits) shrink(size, limit int64) bool {
	ratio := float64(limit) / float64(size) * 0.9
	switch {
	case l.preview > 0:
		l.preview, l.previewCut = 0, true
	case l.packets > 50 || l.segments > 50:
		cut := func(n int) int {
			if n <= 50 {
				return n
			}
			return max(int(float64(n)*ratio), 50)
		}
		l.packets, l.segments, l.detailCut = cut(l.packets), cut(l.segments), true
	case l.streams > 0:
		l.streams, l.streamCut = int(float64(l.streams)*ratio), true
	case l.rows > 0:
		l.rows, l.rowCut = int(float64(l.rows)*ratio), true
	default:
		return false
	}
	return true
}

// reportPage is what the template renders.
type reportPage struct {
	Title    string
	Policy   string
	CSS      template.CSS
	JS       template.JS
	Data     reportData // JSON for the script
	Summary  [][2]string
	Damage   string
	Omitted  []string
	Findings []reportFinding
	Ran      bool // findings were run
	Rows     []reportRow
	AllRows  int
	Details  []reportDetail
	Footer   string
}

type reportRow struct {
	ID, Anchor   string
	Linked       bool // drawn in detail
	Proto        string
	Client       string
	Guessed      bool
	Server       string
	Path         string // escaped; "" for no encapsulation
	State        string
	StateKey     string
	Duration     string
	DurationNs   int64
	C2S, S2C     string
	BytesC2S     int64
	BytesS2C     int64
	Packets      int
	Anomalies    int
	FirstFrame   int
	FindingKinds string
}

type reportFinding struct {
	Severity, Kind, Message string
	Details                 []string
	Streams                 []reportLink
	MoreStreams             int
	Frames                  []reportLink
	Endpoint                string
}

type reportLink struct {
	Text, Href string // Href empty: not drawn in this page
}

type reportDetail struct {
	Index    int
	ID       string
	Anchor   string
	Title    string
	State    string
	Framing  string
	Reason   string
	Facts    []string
	Dirs     []reportDirHead
	Packets  int
	Notes    []string // what was left out of this stream
	Explain  string
	Datagram bool
}

type reportDirHead struct {
	Dir, Label, Summary string
	HasMap              bool
}

// reportData is the JSON the page's script draws from. Keys are short: the
// data is most of the page's size.
type reportData struct {
	Streams []rStream `json:"streams"`
}

type rStream struct {
	ID     string  `json:"id"`
	Anchor string  `json:"a"`
	Proto  string  `json:"proto"`
	Client string  `json:"c"`
	Server string  `json:"s"`
	Pk     []rPkt  `json:"pk"`
	PkCut  int     `json:"pkcut,omitempty"`
	Dirs   [2]rDir `json:"dirs"`
	Sum    string  `json:"sum,omitempty"`
}

type rPkt struct {
	F int      `json:"f"`           // frame
	T string   `json:"t"`           // +seconds since the stream's first packet
	D int      `json:"d"`           // 0 c→s, 1 s→c
	W string   `json:"w"`           // flags seq ack len win options
	K string   `json:"k"`           // class: syn, fin, rst, data, ack, udp
	P bool     `json:"p,omitempty"` // a problem note (retransmission, zero window...)
	L []string `json:"l,omitempty"` // message labels (escaped)
	N []string `json:"n,omitempty"` // margin notes
	X []string `json:"x,omitempty"` // notes in full
	E string   `json:"e,omitempty"` // explanation
}

type rDir struct {
	End  int64  `json:"end"`
	Segs []rSeg `json:"segs"`
	Msgs []rMsg `json:"msgs"` // with keys: the TLS records
	// In, for a decrypted stream, are the messages inside TLS: a third row
	// under the records.
	TLS    bool   `json:"tls,omitempty"`   // msgs are TLS records
	After  string `json:"after,omitempty"` // msgs are this framing's, then TLS records (a switch to TLS)
	In     []rIn  `json:"in,omitempty"`
	InCut  int    `json:"incut,omitempty"`
	Gaps   []rGap `json:"gaps,omitempty"`
	SegCut int    `json:"segcut,omitempty"`
	MsgCut int    `json:"msgcut,omitempty"`
	Resent int    `json:"resent,omitempty"` // segments that added no new bytes (not drawn)
}

type rSeg struct {
	I   int    `json:"i"` // segment number (1-based, among the direction's segments)
	F   int    `json:"f"` // frame
	T   string `json:"t"`
	S   int64  `json:"s"` // [s,e): the bytes it added
	E   int64  `json:"e"`
	Len int    `json:"n"`
	K   string `json:"k"`           // kind
	M   []int  `json:"m"`           // indexes into msgs of the messages it carries
	C   string `json:"c,omitempty"` // what it carries, in words
	P   string `json:"p,omitempty"` // payload preview, escaped
}

type rMsg struct {
	I   int    `json:"i"` // message number (#i)
	S   int64  `json:"s"`
	E   int64  `json:"e"`
	Fr  []int  `json:"fr"`
	Pr  string `json:"pr"`
	Sum string `json:"sum"`
	Pa  bool   `json:"pa,omitempty"`
	P   string `json:"p,omitempty"`
}

// rIn is a message inside TLS. S and E place it on the TCP byte axis
// (within the records that carried it, in proportion to its plaintext);
// PS and PE are its bytes in the decrypted application data.
type rIn struct {
	I   int    `json:"i"`
	S   int64  `json:"s"`
	E   int64  `json:"e"`
	PS  int64  `json:"ps"`
	PE  int64  `json:"pe"`
	R   []int  `json:"r"` // indexes into msgs of the records it spans
	Fr  []int  `json:"fr"`
	Pr  string `json:"pr"`
	Sum string `json:"sum"`
	Pa  bool   `json:"pa,omitempty"`
	P   string `json:"p,omitempty"`
}

type rGap struct {
	S int64  `json:"s"`
	E int64  `json:"e"`
	K string `json:"k"`
}

func buildReport(in *ReportInput, lim reportLimits) *reportPage {
	r := in.Read
	name := textsafe.Escape(r.Info.Name)
	if in.Source != "" {
		name = textsafe.Escape(in.Source)
	}
	p := &reportPage{Title: "sockscope report: " + name, Policy: reportPolicy, CSS: reportCSS, JS: reportJS,
		Ran: r.Findings != nil, AllRows: r.streamCount(), Footer: in.Generator}
	p.Summary = reportSummary(r, name)
	if r.Damage != nil {
		p.Damage = textsafe.Escape(r.Damage.Error())
	}

	analyses := in.Analyses[:min(lim.streams, len(in.Analyses))]
	drawn := map[string]bool{}
	frameOwner := map[int]string{} // frame → anchor of the drawn stream it belongs to
	for i, a := range analyses {
		var l *decode.TLSLayer
		if i < len(in.TLS) {
			l = in.TLS[i]
		}
		d, js := reportStream(i, a, l, lim)
		p.Details = append(p.Details, d)
		p.Data.Streams = append(p.Data.Streams, js)
		drawn[d.ID] = true
		for _, pk := range a.Stream.Packets.All() {
			if _, ok := frameOwner[pk.Frame]; !ok {
				frameOwner[pk.Frame] = d.Anchor
			}
		}
	}

	kinds := map[string][]string{} // stream → finding kinds
	for _, f := range r.Findings {
		rf := reportFinding{Severity: f.Severity.String(), Kind: string(f.Kind), Message: textsafe.Escape(f.Message), Endpoint: textsafe.Escape(f.Endpoint)}
		for _, d := range f.Details {
			rf.Details = append(rf.Details, textsafe.Escape(d))
		}
		for _, s := range f.Streams {
			id := s.String()
			l := reportLink{Text: id}
			if drawn[id] {
				l.Href = "#" + anchorOf(id)
			} else {
				l.Href = "#row-" + anchorOf(id)
			}
			rf.Streams = append(rf.Streams, l)
			if !slices.Contains(kinds[id], string(f.Kind)) {
				kinds[id] = append(kinds[id], string(f.Kind))
			}
		}
		rf.MoreStreams = f.StreamCount - len(f.Streams)
		for _, fr := range f.Frames {
			l := reportLink{Text: strconv.Itoa(fr)}
			if a, ok := frameOwner[fr]; ok {
				l.Href = "#" + a + "-f" + strconv.Itoa(fr)
			}
			rf.Frames = append(rf.Frames, l)
		}
		p.Findings = append(p.Findings, rf)
	}

	rows := r.rows()
	for i := range rows {
		if i >= lim.rows {
			break
		}
		s := &rows[i]
		id := s.Name()
		c2s, s2c := &s.Dirs[0], &s.Dirs[1]
		row := reportRow{ID: id, Anchor: anchorOf(id), Linked: drawn[id], Proto: s.Proto.String(),
			Client: s.Client().String(), Guessed: s.ClientGuessed(), Server: s.Server().String(), Path: textsafe.Escape(s.Path()),
			State: s.Describe(), StateKey: s.State.String(), Duration: human.Duration(s.Duration()), DurationNs: int64(s.Duration()),
			C2S: bytesCellSum(c2s), S2C: bytesCellSum(s2c), BytesC2S: c2s.Bytes, BytesS2C: s2c.Bytes,
			Packets: int(c2s.Packets) + int(s2c.Packets), Anomalies: int(s.AnomalyCount), FirstFrame: int(s.FirstFrame),
			FindingKinds: strings.Join(kinds[id], " ")}
		p.Rows = append(p.Rows, row)
	}

	// What was left out, in words.
	if in.NotKept > 0 {
		p.Omitted = append(p.Omitted, fmt.Sprintf("%d stream%s beyond the first %d TCP streams and %d UDP flows are in the table but not drawn (--streams).",
			in.NotKept, plural(in.NotKept), in.DetailLimit, in.DetailLimit))
	}
	if lim.streamCut && len(analyses) < len(in.Analyses) {
		n := len(in.Analyses) - len(analyses)
		p.Omitted = append(p.Omitted, fmt.Sprintf("%d more stream%s not drawn, to keep the page under --max-size.", n, plural(n)))
	}
	if lim.previewCut {
		p.Omitted = append(p.Omitted, "Payload previews left out, to keep the page under --max-size.")
	}
	if lim.detailCut {
		p.Omitted = append(p.Omitted, fmt.Sprintf("Ladders show at most %d packets and framing maps at most %d segments and messages per direction, to keep the page under --max-size.", lim.packets, lim.segments))
	}
	for _, d := range p.Details {
		for _, n := range d.Notes {
			p.Omitted = append(p.Omitted, d.ID+": "+n)
		}
	}
	if total := r.streamCount(); len(p.Rows) < total {
		n := total - len(p.Rows)
		why := "(table row limit)"
		if lim.rowCut {
			why = "to keep the page under --max-size"
		}
		p.Omitted = append(p.Omitted, fmt.Sprintf("%d stream%s left out of the table %s; `sockscope read --format json` lists them all.", n, plural(n), why))
	}
	return p
}

func anchorOf(id string) string { return strings.Replace(id, "/", "-", 1) }

func reportSummary(r *ReadReport, name string) [][2]string {
	out, issues := captureSummary(r, name)
	if issues != "" {
		out = append(out, [2]string{"issues", issues})
	}
	return out
}

// reportStream builds one detailed stream: its section head and its data.
func reportStream(i int, a *decode.Analysis, l *decode.TLSLayer, lim reportLimits) (reportDetail, rStream) {
	s := a.Stream
	id := s.Name()
	udp := s.Proto == capture.ProtoUDP
	client := s.Client.String()
	if s.ClientGuessed {
		client += "?"
	}
	d := reportDetail{Index: i, ID: id, Anchor: anchorOf(id), Title: client + " → " + s.Server.String(), State: s.Describe(),
		Framing: a.Framing, Reason: textsafe.Escape(a.Reason), Packets: s.Packets.Len(), Datagram: udp}
	d.Facts = append(d.Facts, fmt.Sprintf("%s · frames %d–%d", human.Duration(s.Duration()), s.FirstFrame, s.LastFrame))
	if s.HandshakeRTT > 0 {
		d.Facts = append(d.Facts, "handshake RTT "+human.Duration(s.HandshakeRTT))
	}
	if s.ClientGuessed {
		d.Facts = append(d.Facts, "client guessed: "+textsafe.Escape(s.GuessReason))
	}
	if s.Path != nil {
		d.Facts = append(d.Facts, "path "+textsafe.Escape(s.Path.String()))
	}
	if dp := s.Dups; dp != nil {
		d.Facts = append(d.Facts, fmt.Sprintf("%d packet%s seen twice (%s, then %s)", dp.Count, plural(dp.Count),
			textsafe.Escape(reassembly.PathName(dp.First)), textsafe.Escape(reassembly.PathName(dp.Again))))
	}
	if s.AnomalyCount > 0 {
		d.Facts = append(d.Facts, fmt.Sprintf("%d anomal%s", s.AnomalyCount, map[bool]string{true: "y", false: "ies"}[s.AnomalyCount == 1]))
	}
	if l != nil {
		d.Facts = append(d.Facts, textsafe.Escape(tlsLine(l)))
		if l.Inner != nil {
			d.Facts = append(d.Facts, "inside: "+l.Inner.Framing+" ("+textsafe.Escape(l.Inner.Reason)+")")
		}
	}
	js := rStream{ID: id, Anchor: d.Anchor, Proto: s.Proto.String(), Client: client, Server: s.Server.String()}

	labels := map[int][]string{}
	for dir := range a.Messages {
		for _, m := range a.Messages[dir] {
			if len(m.Frames) > 0 && m.Protocol != "unframed" {
				labels[m.Frames[0]] = append(labels[m.Frames[0]], m.Summary)
			}
		}
	}
	if l != nil && l.Inner != nil {
		// The messages inside TLS on the frames that completed them.
		for dir := range l.Inner.Messages {
			for _, m := range l.Inner.Messages[dir] {
				if n := len(m.Frames); n > 0 {
					labels[m.Frames[n-1]] = append(labels[m.Frames[n-1]], "↳ "+l.Inner.Framing+" #"+fmt.Sprint(m.Index)+" "+m.Summary)
				}
			}
		}
	}
	steps, summary := buildSteps(TimelineStream{Stream: s, Labels: labels}, true)
	d.Explain = summary
	js.Sum = summary
	for k := range steps {
		if k == lim.packets {
			js.PkCut = len(steps) - k
			d.Notes = append(d.Notes, fmt.Sprintf("ladder shows the first %d of %d packets", k, len(steps)))
			break
		}
		st := &steps[k]
		r := st.rec
		pk := rPkt{F: r.Frame, T: relTime(st.rel), D: int(r.Dir), W: strings.Join(st.words, " "), K: packetClass(s, r),
			L: st.labels, N: st.notes, X: st.details, E: st.explain}
		for _, n := range r.Notes() {
			switch n.Kind {
			case reassembly.NoteRetransmission, reassembly.NoteOutOfOrder, reassembly.NoteDupAck, reassembly.NoteZeroWindow,
				reassembly.NoteZeroWindowProbe, reassembly.NoteSnaplen, reassembly.NoteReset, reassembly.NoteRefused:
				pk.P = true
			}
		}
		js.Pk = append(js.Pk, pk)
	}

	start := s.Start
	if s.Packets.Len() > 0 {
		start = s.Packets.At(0).Time
	}
	for dir := range s.Dirs {
		dd := reassembly.Direction(dir)
		h := &s.Dirs[dir]
		label := dd.Arrow() + "  " + s.Peer(dd).String() + " → " + s.Peer(dd.Reverse()).String()
		head := reportDirHead{Dir: dd.String(), Label: label, Summary: framingSummary(a, dd)}
		if l != nil && l.Inner != nil {
			head.Summary = tlsSummary(a, l, dd)
		}
		rd := rDir{End: h.End}
		msgs := a.Messages[dir]
		nm := min(len(msgs), lim.segments)
		for _, m := range msgs[:nm] {
			rm := rMsg{I: m.Index, S: m.Range.Start, E: m.Range.End, Fr: m.Frames, Pr: m.Protocol, Sum: textsafe.Escape(m.Summary), Pa: m.Partial}
			if rm.Fr == nil {
				rm.Fr = []int{}
			}
			if lim.preview > 0 {
				rm.P = preview(h, m.Range, lim.preview)
			}
			rd.Msgs = append(rd.Msgs, rm)
		}
		rd.MsgCut = len(msgs) - nm
		drawnEnd := int64(-1)
		if rd.MsgCut > 0 && nm > 0 {
			drawnEnd = msgs[nm-1].Range.End
		}
		n := 0
		for k, seg := range h.Segments.All() {
			r := seg.Added
			if udp && r.Len() == 0 && seg.Len > 0 {
				r = reassembly.ByteRange{Start: seg.Seq - 1, End: seg.Seq - 1 + int64(seg.Len)}
			}
			if r.Len() == 0 {
				rd.Resent++
				continue
			}
			if n == lim.segments || (drawnEnd >= 0 && r.Start >= drawnEnd) {
				rd.SegCut++
				continue
			}
			n++
			var sm decode.SegmentMessages
			if k < len(a.BySegment[dir]) {
				sm = a.BySegment[dir][k]
			}
			rs := rSeg{I: k + 1, F: seg.Frame, T: relTime(seg.Time.Sub(start)), S: r.Start, E: r.End, Len: seg.Len, K: seg.Kind.String(),
				M: []int{}, C: carries(a, dd, *seg, sm)}
			for _, mi := range sm.Carries {
				if mi < nm {
					rs.M = append(rs.M, mi)
				}
			}
			if lim.preview > 0 {
				rs.P = preview(h, r, lim.preview)
			}
			rd.Segs = append(rd.Segs, rs)
		}
		if rd.SegCut > 0 && drawnEnd < 0 {
			// Messages cut too: keep the ranges consistent.
			drawnEnd = rd.Segs[len(rd.Segs)-1].E
		}
		for _, g := range h.Gaps {
			if drawnEnd >= 0 && g.Range.Start >= drawnEnd {
				break
			}
			rd.Gaps = append(rd.Gaps, rGap{S: g.Range.Start, E: g.Range.End, K: g.Kind.String()})
		}
		if drawnEnd >= 0 {
			rd.End = drawnEnd
			d.Notes = append(d.Notes, fmt.Sprintf("%s framing map shows %d of %d segments and %d of %d messages (bytes [0,%d))",
				dd.Arrow(), len(rd.Segs), len(rd.Segs)+rd.SegCut, nm, len(msgs), drawnEnd))
		}
		rd.TLS = l != nil
		if l != nil && l.After != "" {
			rd.After = l.After
		}
		if l != nil && l.Inner != nil {
			rd.In, rd.InCut = innerRow(l, dd, msgs[:nm], lim)
			if rd.InCut > 0 {
				d.Notes = append(d.Notes, fmt.Sprintf("%s framing map shows %d of %d messages inside TLS", dd.Arrow(), len(rd.In), len(rd.In)+rd.InCut))
			}
		}
		head.HasMap = len(rd.Segs) > 0 || len(rd.Msgs) > 0
		d.Dirs = append(d.Dirs, head)
		js.Dirs[dir] = rd
	}
	return d, js
}

// innerRow is the framing map's third row: the messages inside TLS of
// direction d, each with the drawn records (recs, the outer messages) it
// spans, placed on the TCP byte axis within them. A message whose records
// are not all drawn is left out, with every one after it.
func innerRow(l *decode.TLSLayer, d reassembly.Direction, recs []decode.Message, lim reportLimits) ([]rIn, int) {
	msgs := l.Inner.Messages[d]
	byStart := make(map[int64]int, len(recs)) // record's TCP start → index into recs
	for k, m := range recs {
		byStart[m.Range.Start] = k
	}
	var app []decode.TLSRecord // records that carried application data, by App
	byN := map[int]decode.TLSRecord{}
	for _, r := range l.Records[d] {
		byN[r.N] = r
		if r.App.Len() > 0 {
			app = append(app, r)
		}
	}
	// at places plaintext offset p on the TCP axis: a record's first
	// plaintext byte at its header, its last at its end (tag included),
	// the bytes between in proportion.
	at := func(p int64, end bool) int64 {
		i := sort.Search(len(app), func(i int) bool {
			if end {
				return app[i].App.End >= p
			}
			return app[i].App.End > p
		})
		if i == len(app) {
			return -1
		}
		r := app[i]
		switch {
		case !end && p <= r.App.Start:
			return r.Range.Start
		case end && p >= r.App.End:
			return r.Range.End
		}
		const hdr = 5
		body := max(r.Range.Len()-hdr, 0)
		return r.Range.Start + hdr + (p-r.App.Start)*body/r.App.Len()
	}
	h := &l.Inner.Stream.Dirs[d]
	var out []rIn
	for i, m := range msgs {
		if len(out) == lim.segments {
			return out, len(msgs) - i
		}
		in := rIn{I: m.Index, PS: m.Range.Start, PE: m.Range.End, R: []int{}, Fr: m.Frames, Pr: m.Protocol,
			Sum: textsafe.Escape(m.Summary), Pa: m.Partial}
		if in.Fr == nil {
			in.Fr = []int{}
		}
		ok := true
		if i < len(l.MsgRecords[d]) {
			for _, n := range l.MsgRecords[d][i] {
				k, found := byStart[byN[n].Range.Start]
				if !found {
					ok = false
					break
				}
				in.R = append(in.R, k)
			}
		}
		in.S, in.E = at(m.Range.Start, false), at(m.Range.End, true)
		if !ok || len(in.R) == 0 || in.S < 0 || in.E < in.S {
			return out, len(msgs) - i
		}
		if lim.preview > 0 {
			in.P = preview(h, m.Range, lim.preview)
		}
		out = append(out, in)
	}
	return out, 0
}

// packetClass picks the ladder style of a packet.
func packetClass(s *reassembly.Stream, r *reassembly.PacketRecord) string {
	switch {
	case s.Proto == capture.ProtoUDP:
		return "udp"
	case r.Flags.Has(capture.RST):
		return "rst"
	case r.Flags.Has(capture.SYN):
		return "syn"
	case r.Flags.Has(capture.FIN):
		return "fin"
	case r.Len > 0:
		return "data"
	}
	return "ack"
}

// preview returns up to n captured bytes of r, escaped (textsafe), with "…"
// when cut and "⟨gap⟩" where the capture is missing bytes.
func preview(h *reassembly.Half, r reassembly.ByteRange, n int) string {
	var b []byte
	pos := r.Start
	for i := h.ChunkAt(r.Start); i < h.Chunks.Len() && h.Chunks.At(i).Range.Start < r.End && len(b) <= n; i++ {
		c := *h.Chunks.At(i)
		if c.Range.Start > pos {
			break // a gap
		}
		lo, hi := max(pos, c.Range.Start), min(r.End, c.Range.End, pos+int64(n+1-len(b)))
		off := c.Data + (lo - c.Range.Start)
		if off < 0 || off+(hi-lo) > h.DataLen() {
			break
		}
		b = append(b, h.DataAt(off, hi-lo)...)
		pos = hi
	}
	s := textsafe.Bytes(b, n)
	if len(b) <= n && pos < r.End {
		s += "⟨gap⟩"
	}
	return s
}
