package capture

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// FileInfo describes one input of a merged source.
type FileInfo struct {
	Info
	Frames int   // frames read from the file, those a Filter skipped included
	Damage error // why the file stopped early (a *DamageError), or nil
}

// MergeSource returns the frames of several capture files as one capture, in
// timestamp order, as mergecap merges them: it holds one pending frame per
// file and returns the earliest (on equal timestamps, the one of the file
// given first; within a file, frames keep their order even when its own
// timestamps go backwards). mergecap 4.0 gives equal timestamps to the file
// given last instead, which swaps the last frame of a rotated part and the
// first of the next when they share a timestamp: only there do frame
// numbers differ from Wireshark's on the mergecap'd file. Frames are numbered 1..N in merged order, as
// Wireshark numbers the merged file; frames a file's Filter skips still take
// their place in that numbering (as they do in one file), so frame N is frame
// N of `mergecap -w merged.pcapng FILES...`.
//
// Memory is one read buffer per file: files are read as they are merged,
// never loaded. IPv4/IPv6 fragments are reassembled after the merge (one
// Defragmenter for the merged capture, as Wireshark does on the merged file).
//
// A damaged file gives every good frame it has, then stops taking part; the
// other files are read to their end, and only then does Next return the
// damage: a *DamageError naming the file and where in it reading stopped
// (Frame counts that file's frames), with Merged set, and any further
// damaged files in More.
type MergeSource struct {
	in     []mergeInput
	heap   []int // indexes into in of the files with a pending frame, earliest first
	last   int   // the file whose frame Next returned last (-1: none), read again on the next call
	frame  int
	defrag *Defragmenter
	damage []*DamageError
	other  error // a read error that is not damage (none today: FileSource reports every failure as damage)
	done   error // sticky end: io.EOF or the damage
}

type mergeInput struct {
	src *FileSource
	p   Packet
	dmg error
}

// Merge returns a source that merges srcs in time order (see MergeSource).
// It takes the files over: their Filter and OnSecrets keep working, their
// own fragment reassembly is replaced by the merge's, and Close closes them
// all. Give it at least two files: one file is best read directly.
func Merge(srcs ...*FileSource) *MergeSource {
	m := &MergeSource{in: make([]mergeInput, len(srcs)), last: -1, defrag: NewDefragmenter(DefragOptions{})}
	for i, s := range srcs {
		s.defrag = nil
		s.markFiltered = true
		m.in[i].src = s
	}
	return m
}

// Defrag returns the fragment reassembler of the merged capture.
func (m *MergeSource) Defrag() *Defragmenter { return m.defrag }

// Files returns the merged files, in the order given.
func (m *MergeSource) Files() []*FileSource {
	fs := make([]*FileSource, len(m.in))
	for i := range m.in {
		fs[i] = m.in[i].src
	}
	return fs
}

// Filtered counts the frames the files' filters skipped.
func (m *MergeSource) Filtered() int {
	n := 0
	for i := range m.in {
		n += m.in[i].src.Filtered
	}
	return n
}

// Next returns the earliest pending frame of all files.
func (m *MergeSource) Next(p *Packet) error {
	if m.done != nil {
		return m.done
	}
	cand := -1 // a file whose new frame is not queued yet
	if m.last >= 0 {
		// The caller is done with the frame it was given last, which may
		// alias its file's buffer: only now may that file read on.
		if m.read(m.last) {
			cand = m.last
		}
		m.last = -1
	} else if m.frame == 0 && len(m.heap) == 0 {
		for i := range m.in {
			if m.read(i) {
				m.push(i)
			}
		}
	}
	for {
		var i int
		switch {
		case cand >= 0 && (len(m.heap) == 0 || m.before(cand, m.heap[0])):
			// Still the earliest, as every frame of a rotated file is
			// but at the cuts: no queue work.
			i = cand
		case cand >= 0:
			m.push(cand)
			i = m.pop()
		case len(m.heap) > 0:
			i = m.pop()
		default:
			m.done = m.end()
			return m.done
		}
		cand = -1
		m.frame++
		in := &m.in[i]
		if in.p.filtered {
			// Skipped by the file's filter: it keeps its frame number.
			if m.read(i) {
				cand = i
			}
			continue
		}
		*p = in.p
		p.Frame = m.frame
		m.last = i
		m.defrag.Process(p)
		return nil
	}
}

// read reads file i's next frame into its slot; false at its end or damage.
func (m *MergeSource) read(i int) bool {
	in := &m.in[i]
	if in.dmg != nil {
		return false
	}
	err := in.src.Next(&in.p)
	switch {
	case err == nil:
		return true
	case errors.Is(err, io.EOF):
		in.dmg = io.EOF
		return false
	}
	in.dmg = err // as the file alone says it, for Info
	var de *DamageError
	if errors.As(err, &de) {
		d := *de
		d.Merged = true
		m.damage = append(m.damage, &d)
	} else if m.other == nil {
		m.other = fmt.Errorf("%s: %w", in.src.name, err)
	}
	return false
}

func (m *MergeSource) end() error {
	if len(m.damage) == 0 {
		if m.other != nil {
			return m.other
		}
		return io.EOF
	}
	first := *m.damage[0]
	first.More = m.damage[1:]
	return &first
}

// before orders pending frames: earlier time first, then the file given first.
func (m *MergeSource) before(i, j int) bool {
	if c := m.in[i].p.Time.Compare(m.in[j].p.Time); c != 0 {
		return c < 0
	}
	return i < j
}

func (m *MergeSource) push(i int) {
	h := append(m.heap, i)
	k := len(h) - 1
	for k > 0 {
		parent := (k - 1) / 2
		if !m.before(h[k], h[parent]) {
			break
		}
		h[k], h[parent] = h[parent], h[k]
		k = parent
	}
	m.heap = h
}

func (m *MergeSource) pop() int {
	h := m.heap
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	k := 0
	for {
		l, r, least := 2*k+1, 2*k+2, k
		if l < n && m.before(h[l], h[least]) {
			least = l
		}
		if r < n && m.before(h[r], h[least]) {
			least = r
		}
		if least == k {
			break
		}
		h[k], h[least] = h[least], h[k]
		k = least
	}
	m.heap = h
	return top
}

// Info describes the merged capture: Name says how many files, LinkTypes is
// the union of the files' (in order of first appearance, file by file),
// Format is the files' common format or the formats joined with "+",
// Snaplen the largest, Gzip whether any was compressed; Files describes
// each file (its own format, snaplen, link types, frames and damage).
func (m *MergeSource) Info() Info {
	info := Info{Name: fmt.Sprintf("%d files", len(m.in)), Files: make([]FileInfo, len(m.in))}
	var formats []string
	seen := map[LinkType]bool{}
	for i := range m.in {
		in := &m.in[i]
		fi := in.src.Info()
		info.Files[i] = FileInfo{Info: fi, Frames: in.src.frame}
		if in.dmg != nil && in.dmg != io.EOF {
			info.Files[i].Damage = in.dmg
		}
		if !slices.Contains(formats, fi.Format) {
			formats = append(formats, fi.Format)
		}
		info.Gzip = info.Gzip || fi.Gzip
		info.Snaplen = max(info.Snaplen, fi.Snaplen)
		for _, l := range fi.LinkTypes {
			if !seen[l] {
				seen[l] = true
				info.LinkTypes = append(info.LinkTypes, l)
			}
		}
	}
	info.Format = strings.Join(formats, "+")
	return info
}

// Close closes every file.
func (m *MergeSource) Close() error {
	var err error
	for i := range m.in {
		if cerr := m.in[i].src.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
