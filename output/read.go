package output

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/sockscope/sockscope/capture"
	"github.com/sockscope/sockscope/findings"
	"github.com/sockscope/sockscope/internal/human"
	"github.com/sockscope/sockscope/internal/textsafe"
	"github.com/sockscope/sockscope/reassembly"
)

// ReadReport is everything the read view shows.
type ReadReport struct {
	Info   capture.Info
	Stats  reassembly.Stats
	Defrag capture.DefragStats
	// Rows are the streams to show, sorted: TCP by ID, then UDP by ID.
	// Callers that hold full streams may set Streams instead.
	Rows    []reassembly.Summary
	Streams []*reassembly.Stream
	Damage  error // why the file stopped early, or nil
	// Late counts packets that reached a stream after its JSON record was
	// written (read streams its records; see reassembly.Ordered).
	Late int
	// Findings, most important first; nil when they were not run
	// (--no-findings), empty when none applied.
	Findings []findings.Finding
}

// ReadOptions shapes the text view.
type ReadOptions struct {
	Stats bool   // show the framing and message counts (read --stats)
	Limit int    // rows shown at most (0: all)
	Sort  string // id (default), bytes, packets, duration, start
}

// SortKeys lists the accepted --sort values.
var SortKeys = []string{"id", "bytes", "packets", "duration", "start"}

// ReadText renders the summary header, the streams table and notes.
func ReadText(w io.Writer, r *ReadReport, o ReadOptions) error {
	tw := NewReadTextWriter(w, o)
	tw.atOnce = true // the rows are all here: size the table by all of them
	rows := r.rows()
	for i := range rows {
		if err := tw.Stream(&rows[i]); err != nil {
			return err
		}
	}
	return tw.Finish(r)
}

// readHeader writes the capture's totals: file, frames, packets, streams,
// and what went wrong reading it.
func readHeader(ew *errWriter, r *ReadReport) {
	lines, issues := captureSummary(r, textsafe.Escape(r.Info.Name))
	for _, l := range lines {
		fmt.Fprintf(ew, "%-8s %s\n", l[0], l[1])
	}
	if issues != "" {
		fmt.Fprintf(ew, "frames   %s\n", issues)
	}
	if r.Damage != nil {
		fmt.Fprintf(ew, "damaged  %s\n", textsafe.Escape(r.Damage.Error()))
	}
}

// captureSummary returns the capture's totals as labelled lines (file,
// frames, packets, streams) and what went wrong with its frames, for read's
// header and report's summary. name is the file's name, already escaped.
func captureSummary(r *ReadReport, name string) (lines [][2]string, issues string) {
	st := r.Stats
	if fs := r.Info.Files; len(fs) > 0 {
		// Merged files: a line each, in the order given.
		for _, f := range fs {
			l := fileLine(f.Info, textsafe.Escape(f.Name)) + fmt.Sprintf(" · %d frame%s", f.Frames, plural(f.Frames))
			var de *capture.DamageError
			switch {
			case errors.As(f.Damage, &de):
				l += fmt.Sprintf(" · damaged at its frame %d", de.Frame)
			case f.Damage != nil:
				l += " · damaged"
			}
			lines = append(lines, [2]string{"file", l})
		}
	} else {
		lines = append(lines, [2]string{"file", fileLine(r.Info, name)})
	}
	if st.Packets == 0 {
		lines = append(lines, [2]string{"frames", "0"})
	} else {
		lines = append(lines, [2]string{"frames", fmt.Sprintf("%d · %s · %s → %s", st.Packets, human.Duration(st.Last.Sub(st.First)), Stamp(st.First), Stamp(st.Last))})
	}
	lines = append(lines,
		[2]string{"packets", fmt.Sprintf("%d TCP · %d UDP · %d other IP · %d not IP", st.TCP, st.UDP, st.Other, st.NotIP)},
		[2]string{"streams", fmt.Sprintf("%d TCP · %d UDP", st.TCPStreams, st.UDPFlows)})
	if st.PathDuplicates > 0 {
		p := st.DuplicatePaths
		lines = append(lines, [2]string{"copies", fmt.Sprintf("%d packet%s seen twice, through two paths (%s, then %s): a capture artifact, each counted once, not as a retransmission",
			st.PathDuplicates, plural(st.PathDuplicates), textsafe.Escape(reassembly.PathName(p[0])), textsafe.Escape(reassembly.PathName(p[1])))})
	}
	for _, c := range []struct {
		class reassembly.UnflowedClass
		label string
	}{{reassembly.NotIPFrame, "not IP"}, {reassembly.OtherIPFrame, "other IP"}, {reassembly.MalformedFrame, "issues"}} {
		if l := unflowedLine(st.Unflowed, c.class); l != "" {
			lines = append(lines, [2]string{c.label, l})
		}
	}
	var is []string
	if st.Malformed > 0 {
		is = append(is, fmt.Sprintf("%d malformed", st.Malformed))
	}
	if st.Truncated > 0 {
		is = append(is, fmt.Sprintf("%d cut by the snapshot length", st.Truncated))
	}
	if r.Defrag.Fragments > 0 {
		is = append(is, fmt.Sprintf("%d IP fragments → %d datagrams rebuilt", r.Defrag.Fragments, r.Defrag.Reassembled))
	}
	if r.Defrag.Incomplete > 0 {
		is = append(is, fmt.Sprintf("%d datagrams missing fragments", r.Defrag.Incomplete))
	}
	if st.FlushedIdle+st.FlushedFull > 0 {
		is = append(is, fmt.Sprintf("%d flows flushed early (%d idle, %d table full)", st.FlushedIdle+st.FlushedFull, st.FlushedIdle, st.FlushedFull))
	}
	return lines, strings.Join(is, " · ")
}

// fileLine describes one capture file: "name · format · link types".
func fileLine(info capture.Info, name string) string {
	links := make([]string, len(info.LinkTypes))
	for i, l := range info.LinkTypes {
		links[i] = l.String()
	}
	format := info.Format
	if info.Gzip {
		format += " (gzip)"
	}
	return name + " · " + format + " · " + strings.Join(links, ", ")
}

type unflowedCount struct {
	k reassembly.Unflowed
	n int
}

// sortedUnflowed returns the kinds of one class, most frequent first (then
// by name and number).
func sortedUnflowed(m map[reassembly.Unflowed]int, class reassembly.UnflowedClass) []unflowedCount {
	var kinds []unflowedCount
	for k, n := range m {
		if k.Class == class {
			kinds = append(kinds, unflowedCount{k, n})
		}
	}
	sort.Slice(kinds, func(i, j int) bool {
		if kinds[i].n != kinds[j].n {
			return kinds[i].n > kinds[j].n
		}
		if a, b := kinds[i].k.What, kinds[j].k.What; a != b {
			return a < b
		}
		return kinds[i].k.Code < kinds[j].k.Code
	})
	return kinds
}

// unflowedLine lists the kinds of frames of one class: "12 ARP · 3 LLDP ·
// 1 EtherType 0x88b5".
func unflowedLine(m map[reassembly.Unflowed]int, class reassembly.UnflowedClass) string {
	kinds := sortedUnflowed(m, class)
	parts := make([]string, len(kinds))
	for i, kv := range kinds {
		parts[i] = fmt.Sprintf("%d %s", kv.n, textsafe.Escape(kv.k.String()))
	}
	return strings.Join(parts, " · ")
}

func bytesCellSum(h *reassembly.HalfSummary) string {
	s := human.Bytes(h.Bytes)
	if h.Missing > 0 {
		s += fmt.Sprintf(" (%s missing)", human.Bytes(h.Missing))
	}
	return fmt.Sprintf("%s / %d pkt%s", s, h.Packets, plural(int(h.Packets)))
}

func streamNotes(streams []reassembly.Summary) []string {
	var out []string
	for i := range streams {
		s := &streams[i]
		var parts []string
		for d := range s.Dirs {
			h := &s.Dirs[d]
			dir := reassembly.Direction(d).Arrow()
			if h.Retrans > 0 {
				parts = append(parts, fmt.Sprintf("%s %d retransmitted segment%s", dir, h.Retrans, plural(int(h.Retrans))))
			}
			if h.OutOfOrd > 0 {
				parts = append(parts, fmt.Sprintf("%s %d out-of-order", dir, h.OutOfOrd))
			}
			if h.Truncated > 0 {
				parts = append(parts, fmt.Sprintf("%s %d segment%s cut by the snaplen", dir, h.Truncated, plural(int(h.Truncated))))
			}
			if lost := h.Missing; lost > 0 && h.Truncated == 0 {
				parts = append(parts, fmt.Sprintf("%s %s never captured", dir, human.Bytes(lost)))
			}
			if h.Oversize > 0 {
				parts = append(parts, fmt.Sprintf("%s %d segment%s larger than the MSS (offload)", dir, h.Oversize, plural(int(h.Oversize))))
			}
		}
		if d := s.Dups(); d != nil {
			parts = append(parts, fmt.Sprintf("%d packet%s seen twice (%s, then %s)", d.Count, plural(d.Count),
				textsafe.Escape(reassembly.PathName(d.First)), textsafe.Escape(reassembly.PathName(d.Again))))
		}
		if s.ClientGuessed() {
			parts = append(parts, "client guessed: "+s.GuessReason())
		}
		if len(parts) > 0 {
			out = append(out, s.Name()+": "+strings.Join(parts, "; "))
		}
	}
	return out
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// streamCount is the number of streams in the capture: the tracker's count,
// or the rows given when there is none (Rows may hold only the first ones).
func (r *ReadReport) streamCount() int {
	n := len(r.Rows)
	if r.Rows == nil {
		n = len(r.Streams)
	}
	return max(n, r.Stats.TCPStreams+r.Stats.UDPFlows)
}

// rows returns the streams as summaries (converting Streams when set).
func (r *ReadReport) rows() []reassembly.Summary {
	if r.Rows != nil || r.Streams == nil {
		return r.Rows
	}
	out := make([]reassembly.Summary, len(r.Streams))
	for i, s := range r.Streams {
		out[i] = s.Summary()
	}
	return out
}

// StreamRecord is the JSON form of a stream in `read --format json`.
type StreamRecord struct {
	Type           string  `json:"type"`
	ID             string  `json:"id"`
	Proto          string  `json:"proto"`
	Client         string  `json:"client"`
	Server         string  `json:"server"`
	Path           string  `json:"path,omitempty"`
	ClientGuessed  bool    `json:"client_guessed"`
	GuessReason    string  `json:"guess_reason,omitempty"`
	PacketsC2S     int     `json:"packets_c2s"`
	PacketsS2C     int     `json:"packets_s2c"`
	BytesC2S       int64   `json:"bytes_c2s"`
	BytesS2C       int64   `json:"bytes_s2c"`
	MissingC2S     int64   `json:"missing_c2s"`
	MissingS2C     int64   `json:"missing_s2c"`
	RetransC2S     int     `json:"retransmissions_c2s"`
	RetransS2C     int     `json:"retransmissions_s2c"`
	OutOfOrderC2S  int     `json:"out_of_order_c2s"`
	OutOfOrderS2C  int     `json:"out_of_order_s2c"`
	TruncatedC2S   int     `json:"truncated_c2s"`
	TruncatedS2C   int     `json:"truncated_s2c"`
	FirstFrame     int     `json:"first_frame"`
	LastFrame      int     `json:"last_frame"`
	Start          string  `json:"start"`
	End            string  `json:"end"`
	Duration       float64 `json:"duration"`
	State          string  `json:"state"`
	StateText      string  `json:"state_text"`
	ClosedBy       string  `json:"closed_by,omitempty"`
	ResetBy        string  `json:"reset_by,omitempty"`
	Midstream      bool    `json:"midstream"`
	HandshakeRTTMs float64 `json:"handshake_rtt_ms,omitempty"`
	Anomalies      int     `json:"anomalies"`
	Evicted        string  `json:"flushed_early,omitempty"`
	// PathDuplicates counts packets captured a second time through another
	// path (a mirror copy; inside and outside a tunnel), not counted in
	// packets or retransmissions; DuplicatePaths names the two paths (""
	// for no encapsulation), where seen first and where again.
	PathDuplicates int      `json:"path_duplicates,omitempty"`
	DuplicatePaths []string `json:"duplicate_paths,omitempty"`
	// With read --stats: the framing and the messages counted each way.
	Framing     string `json:"framing,omitempty"`
	MessagesC2S *int   `json:"messages_c2s,omitempty"`
	MessagesS2C *int   `json:"messages_s2c,omitempty"`
}

// SummaryRecord is the last line of `read --format json`.
type SummaryRecord struct {
	Type        string   `json:"type"`
	File        string   `json:"file"`
	Format      string   `json:"format"`
	Gzip        bool     `json:"gzip"`
	LinkTypes   []string `json:"link_types"`
	Frames      int      `json:"frames"`
	TCPPackets  int      `json:"tcp_packets"`
	UDPPackets  int      `json:"udp_packets"`
	OtherIP     int      `json:"other_ip_packets"`
	NotIP       int      `json:"not_ip_frames"`
	Malformed   int      `json:"malformed_frames"`
	Truncated   int      `json:"truncated_frames"`
	Fragments   int      `json:"ip_fragments"`
	Rebuilt     int      `json:"datagrams_rebuilt"`
	Incomplete  int      `json:"datagrams_incomplete"` // fragmented datagrams never rebuilt (capture.DefragStats.Incomplete)
	TCPStreams  int      `json:"tcp_streams"`
	UDPFlows    int      `json:"udp_flows"`
	Start       string   `json:"start,omitempty"`
	End         string   `json:"end,omitempty"`
	FlushedIdle int      `json:"flushed_idle"`
	FlushedFull int      `json:"flushed_table_full"`
	Late        int      `json:"late_after_report"`
	// PathDuplicates counts the TCP and UDP packets (among tcp_packets and
	// udp_packets) that were a second copy through another path.
	PathDuplicates int `json:"path_duplicates,omitempty"`
	// Unflowed breaks down the frames counted in other_ip_packets,
	// not_ip_frames and malformed_frames by what they were.
	Unflowed []UnflowedRecord `json:"unflowed,omitempty"`
	Damage   string           `json:"damage,omitempty"`
	// Files describes each input of a merged capture, in the order given
	// (absent for one file); File is then "N files".
	Files []FileRecord `json:"files,omitempty"`
}

// FileRecord is one merged input file in the summary record.
type FileRecord struct {
	File      string   `json:"file"`
	Format    string   `json:"format"`
	Gzip      bool     `json:"gzip"`
	LinkTypes []string `json:"link_types"`
	Snaplen   int      `json:"snaplen"`
	Frames    int      `json:"frames"` // frames read from it, those -f skipped included
	Damage    string   `json:"damage,omitempty"`
}

// UnflowedRecord is one kind of frame that did not become a flow.
type UnflowedRecord struct {
	Class  string `json:"class"` // not_ip, other_ip or malformed
	What   string `json:"what"`  // "ARP", "GRE protocol 0x1234", a malformed frame's reason
	Frames int    `json:"frames"`
}

// NewStreamRecord converts a stream to its JSON record.
func NewStreamRecord(st *reassembly.Stream) StreamRecord {
	sm := st.Summary()
	return NewSummaryStreamRecord(&sm)
}

// NewSummaryStreamRecord converts a summary to its JSON record.
func NewSummaryStreamRecord(s *reassembly.Summary) StreamRecord {
	return newSummaryStreamRecord(s, false)
}

func newSummaryStreamRecord(s *reassembly.Summary, stats bool) StreamRecord {
	c, sv := &s.Dirs[0], &s.Dirs[1]
	rec := StreamRecord{
		Type: "stream", ID: s.Name(), Proto: s.Proto.String(), Client: s.Client().String(), Server: s.Server().String(),
		Path:          s.Path(),
		ClientGuessed: s.ClientGuessed(), GuessReason: s.GuessReason(),
		PacketsC2S: int(c.Packets), PacketsS2C: int(sv.Packets), BytesC2S: c.Bytes, BytesS2C: sv.Bytes,
		MissingC2S: c.Missing, MissingS2C: sv.Missing, RetransC2S: int(c.Retrans), RetransS2C: int(sv.Retrans),
		OutOfOrderC2S: int(c.OutOfOrd), OutOfOrderS2C: int(sv.OutOfOrd), TruncatedC2S: int(c.Truncated), TruncatedS2C: int(sv.Truncated),
		FirstFrame: int(s.FirstFrame), LastFrame: int(s.LastFrame), Start: RFC3339(s.Start()), End: RFC3339(s.End()),
		Duration: s.Duration().Seconds(), State: s.State.String(), StateText: s.Describe(), Midstream: s.Midstream(),
		Anomalies: int(s.AnomalyCount), Evicted: s.Evicted(),
	}
	switch s.State {
	case reassembly.StateClosed, reassembly.StateHalfClosed:
		rec.ClosedBy = who(s.ClosedBy())
	case reassembly.StateReset, reassembly.StateRefused:
		rec.ResetBy = who(s.ResetBy())
	}
	if s.HandshakeRTT > 0 {
		rec.HandshakeRTTMs = float64(s.HandshakeRTT) / 1e6
	}
	if d := s.Dups(); d != nil {
		rec.PathDuplicates, rec.DuplicatePaths = d.Count, []string{d.First, d.Again}
	}
	if stats {
		mc, ms := int(c.Messages), int(sv.Messages)
		rec.Framing, rec.MessagesC2S, rec.MessagesS2C = s.Framing(), &mc, &ms
	}
	return rec
}

func who(d reassembly.Direction) string {
	if d == reassembly.ClientToServer {
		return "client"
	}
	return "server"
}

// ReadJSON writes one JSON object per stream, then the findings and the
// summary record.
func ReadJSON(w io.Writer, r *ReadReport) error {
	jw := NewReadJSONWriter(w)
	rows := r.rows()
	for i := range rows {
		if err := jw.Stream(&rows[i]); err != nil {
			return err
		}
	}
	return jw.Finish(r)
}

// ReadJSONWriter writes read's JSON lines as they become known: stream
// records one by one (in the order given), then Finish writes the findings
// and the summary record. It lets read stream huge captures in bounded memory.
type ReadJSONWriter struct {
	w   io.Writer
	enc *json.Encoder
	// Stats adds the framing and message counts to stream records (read --stats).
	Stats bool
	// Async encodes the stream records on a goroutine of their own, in
	// batches, so that a capture of a million short flows spends the
	// tracker's time on tracking (set it for files: a live capture's
	// records must not wait for a batch to fill).
	Async bool

	batch []reassembly.Summary
	full  chan []reassembly.Summary // batches to encode
	free  chan []reassembly.Summary // encoded batches, for reuse
	done  chan error                // the encoder's first error, at its end
	err   error
}

// asyncBatch is how many stream records an Async writer hands over at once.
const asyncBatch = 256

// NewReadJSONWriter returns a writer to w.
func NewReadJSONWriter(w io.Writer) *ReadJSONWriter {
	return &ReadJSONWriter{w: w, enc: NewJSONEncoder(w)}
}

// Stream writes one stream record (with Async, hands it to the encoder).
func (j *ReadJSONWriter) Stream(s *reassembly.Summary) error {
	if !j.Async {
		return j.enc.Encode(newSummaryStreamRecord(s, j.Stats))
	}
	if j.err != nil {
		return j.err
	}
	if j.full == nil {
		j.full, j.free, j.done = make(chan []reassembly.Summary, 4), make(chan []reassembly.Summary, 5), make(chan error, 1)
		for range 5 {
			j.free <- make([]reassembly.Summary, 0, asyncBatch)
		}
		go j.encode()
		j.batch = <-j.free
	}
	j.batch = append(j.batch, *s)
	if len(j.batch) == asyncBatch {
		j.full <- j.batch
		j.batch = <-j.free
	}
	return nil
}

// encode writes the batches handed over, in order, until the channel is
// closed; after an error it only drains them.
func (j *ReadJSONWriter) encode() {
	var err error
	for b := range j.full {
		for i := range b {
			if err == nil {
				err = j.enc.Encode(newSummaryStreamRecord(&b[i], j.Stats))
			}
		}
		j.free <- b[:0]
	}
	j.done <- err
}

// drain hands over the last batch and waits for the encoder to finish.
func (j *ReadJSONWriter) drain() error {
	if j.full == nil {
		return j.err
	}
	if len(j.batch) > 0 {
		j.full <- j.batch
	}
	close(j.full)
	if err := <-j.done; err != nil && j.err == nil {
		j.err = err
	}
	j.full = nil
	return j.err
}

// Finish writes the finding records and the summary record (r.Rows and
// r.Streams are not written again).
func (j *ReadJSONWriter) Finish(r *ReadReport) error {
	if err := j.drain(); err != nil {
		return err
	}
	if err := FindingsJSON(j.w, r.Findings); err != nil {
		return err
	}
	return j.enc.Encode(NewSummaryRecord(r))
}

// NewSummaryRecord builds the summary line.
func NewSummaryRecord(r *ReadReport) SummaryRecord {
	st := r.Stats
	sum := SummaryRecord{Type: "summary", File: r.Info.Name, Format: r.Info.Format, Gzip: r.Info.Gzip,
		Frames: st.Packets, TCPPackets: st.TCP, UDPPackets: st.UDP, OtherIP: st.Other, NotIP: st.NotIP,
		Malformed: st.Malformed, Truncated: st.Truncated, Fragments: r.Defrag.Fragments, Rebuilt: r.Defrag.Reassembled,
		Incomplete: r.Defrag.Incomplete,
		TCPStreams: st.TCPStreams, UDPFlows: st.UDPFlows, FlushedIdle: st.FlushedIdle, FlushedFull: st.FlushedFull, Late: r.Late, PathDuplicates: st.PathDuplicates,
		LinkTypes: []string{}}
	for _, l := range r.Info.LinkTypes {
		sum.LinkTypes = append(sum.LinkTypes, l.String())
	}
	if st.Packets > 0 {
		sum.Start, sum.End = RFC3339(st.First), RFC3339(st.Last)
	}
	for _, c := range []struct {
		class reassembly.UnflowedClass
		name  string
	}{{reassembly.NotIPFrame, "not_ip"}, {reassembly.OtherIPFrame, "other_ip"}, {reassembly.MalformedFrame, "malformed"}} {
		for _, kv := range sortedUnflowed(st.Unflowed, c.class) {
			sum.Unflowed = append(sum.Unflowed, UnflowedRecord{c.name, kv.k.String(), kv.n})
		}
	}
	if r.Damage != nil {
		sum.Damage = r.Damage.Error()
	}
	for _, f := range r.Info.Files {
		fr := FileRecord{File: f.Name, Format: f.Format, Gzip: f.Gzip, LinkTypes: []string{}, Snaplen: f.Snaplen, Frames: f.Frames}
		for _, l := range f.LinkTypes {
			fr.LinkTypes = append(fr.LinkTypes, l.String())
		}
		if f.Damage != nil {
			fr.Damage = f.Damage.Error()
		}
		sum.Files = append(sum.Files, fr)
	}
	return sum
}

// RFC3339 formats a capture time in UTC with nanoseconds.
func RFC3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") }

// Stamp formats a capture time for the text header.
func Stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000000 UTC") }

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}
