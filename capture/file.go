package capture

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"time"
)

// MaxFrame is the largest frame a record may claim. libpcap and Wireshark
// refuse records above 262144 bytes (MAXIMUM_SNAPLEN); we accept the same, or a
// file's own larger snaplen, up to this hard cap so that a corrupt length field
// can never make us allocate gigabytes.
const MaxFrame = 1 << 20

const readBuffer = 1 << 20 // large buffered reads of the file

// DamageError reports where and why a capture file stopped being readable.
// Every frame before Frame has been returned by Next.
type DamageError struct {
	File   string
	Frame  int   // the frame that could not be read (1-based)
	Offset int64 // byte offset of its record/block in the (decompressed) file
	Reason string
	// Merged is set when File was one of several merged files
	// (MergeSource): Frame counts File's own frames, every good frame of
	// it was merged, and the other files were read to their end.
	Merged bool
	// More lists the other damaged files of a merge, in the order their
	// damage was met.
	More []*DamageError
}

func (e *DamageError) Error() string {
	if !e.Merged {
		return fmt.Sprintf("%s: frame %d at byte offset %d: %s", e.File, e.Frame, e.Offset, e.Reason)
	}
	s := e.merged()
	for _, d := range e.More {
		s += "; also " + d.merged()
	}
	return s + "; the other files were merged to their end"
}

func (e *DamageError) merged() string {
	return fmt.Sprintf("%s: its frame %d at byte offset %d: %s", e.File, e.Frame, e.Offset, e.Reason)
}

// ErrNotCapture is returned by Open for input that is neither pcap nor pcapng.
var ErrNotCapture = errors.New("not a pcap or pcapng file")

// FileSource reads pcap (µs or ns, either byte order) and pcapng files,
// optionally gzip-compressed, from a path or standard input ("-").
type FileSource struct {
	name   string
	f      io.Closer
	r      *bufio.Reader
	off    int64 // offset of the next unread byte
	info   Info
	order  binary.ByteOrder
	frame  int
	buf    []byte
	dmg    error // sticky terminal error
	defrag *Defragmenter

	// pcap
	nanos bool
	link  LinkType

	// pcapng
	ifaces   []ngIface
	dropped  int          // interface descriptions of this section beyond maxInterfaces
	last     time.Time    // timestamp of the last packet, for frames that have none
	linkSeen [1024]uint64 // link types in info.LinkTypes, as a bit set

	// markFiltered (set by Merge) makes Next return the frames Filter
	// rejects, undecoded and marked, so that the merge can number them.
	markFiltered bool

	// Filter, when set, is asked about every frame before it is decoded;
	// frames it rejects are skipped (frame numbers still count them, as in
	// Wireshark and tcpdump -r) and counted in Filtered.
	Filter   func(link LinkType, frame []byte) bool
	Filtered int

	// OnSecrets, when set, receives the secrets of every pcapng Decryption
	// Secrets Block as it is read (editcap --inject-secrets writes them
	// before the packets): its secrets type (0x544c534b "TLSK": a TLS key
	// log) and data. data is valid only during the call.
	OnSecrets func(secretsType uint32, data []byte)
}

type ngIface struct {
	bad      string // why the description is unusable ("" when it is fine)
	link     LinkType
	snaplen  int
	unitsSec uint64 // timestamp units per second
	tsOffset int64  // seconds added to every timestamp
}

// MergeReadBuffer is the smallest read buffer MergeBufferSize gives a
// merged file.
const MergeReadBuffer = 128 << 10

// MergeBufferSize is the read buffer to open each of n merged files with:
// one file's (1 MiB) while n files' buffers stay within 16 MiB, less with
// more files, but never below MergeReadBuffer (128 KiB: 1000 files take
// 128 MiB). Smaller reads cost more system calls (reading 10 parts with
// 128 KiB buffers took about twice the kernel time of one file with 1 MiB).
func MergeBufferSize(n int) int {
	return max(MergeReadBuffer, min(readBuffer, (16<<20)/max(n, 1)))
}

// Open opens a capture file ("-" for standard input) and reads its header.
func Open(path string) (*FileSource, error) { return OpenSize(path, readBuffer) }

// OpenSize is Open with a read buffer of size bytes (at least 4 KiB).
func OpenSize(path string, size int) (*FileSource, error) {
	var rc io.ReadCloser
	if path == "-" {
		rc = io.NopCloser(os.Stdin)
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		rc = f
	}
	s, err := NewReaderSize(path, rc, size)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return s, nil
}

// NewReader reads a capture from r; name is used in messages. Close closes r
// if it is an io.Closer.
func NewReader(name string, r io.Reader) (*FileSource, error) {
	return NewReaderSize(name, r, readBuffer)
}

// NewReaderSize is NewReader with a read buffer of size bytes (at least
// 4 KiB); frames larger than it are still read whole.
func NewReaderSize(name string, r io.Reader, size int) (*FileSource, error) {
	size = max(size, 4096)
	s := &FileSource{name: name, info: Info{Name: name}, defrag: NewDefragmenter(DefragOptions{})}
	if c, ok := r.(io.Closer); ok {
		s.f = c
	}
	br := bufio.NewReaderSize(r, size)
	magic, err := br.Peek(4)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			return nil, err // not a short file but an unreadable one: a directory, an I/O error
		}
		if len(magic) == 0 {
			return nil, fmt.Errorf("%s: empty file: %w", name, ErrNotCapture)
		}
		return nil, fmt.Errorf("%s: %d-byte file is too short for a capture header: %w", name, len(magic), ErrNotCapture)
	}
	if magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		s.info.Gzip = true
		br = bufio.NewReaderSize(zr, size)
		if magic, err = br.Peek(4); err != nil {
			return nil, fmt.Errorf("%s: gzip data is too short for a capture header: %w", name, ErrNotCapture)
		}
	}
	s.r = br
	switch {
	case binary.LittleEndian.Uint32(magic) == 0x0A0D0D0A:
		err = s.readSHB()
	default:
		err = s.readPcapHeader()
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Info describes the file. Link types of pcapng interfaces declared later in
// the file are added as they are met.
func (s *FileSource) Info() Info { return s.info }

// Close closes the underlying file.
func (s *FileSource) Close() error {
	if s.f != nil {
		return s.f.Close()
	}
	return nil
}

// Offset returns how many bytes of the capture were read: of the
// decompressed stream when the file is gzip-compressed. Call it from the
// goroutine that calls Next (a progress line).
func (s *FileSource) Offset() int64 { return s.off }

// Defrag returns the IPv4/IPv6 fragment reassembler (for its statistics).
func (s *FileSource) Defrag() *Defragmenter { return s.defrag }

func (s *FileSource) readFull(n int) ([]byte, error) {
	if cap(s.buf) < n {
		s.buf = make([]byte, n, max(n, 4096))
	}
	b := s.buf[:n]
	m, err := io.ReadFull(s.r, b)
	s.off += int64(m)
	return b[:m], err
}

func (s *FileSource) readPcapHeader() error {
	h, err := s.readFull(24)
	if err != nil {
		return fmt.Errorf("%s: %d-byte file is too short for a pcap header: %w", s.name, len(h), ErrNotCapture)
	}
	switch binary.LittleEndian.Uint32(h) {
	case 0xa1b2c3d4:
		s.order = binary.LittleEndian
	case 0xa1b23c4d:
		s.order, s.nanos = binary.LittleEndian, true
	case 0xd4c3b2a1:
		s.order = binary.BigEndian
	case 0x4d3cb2a1:
		s.order, s.nanos = binary.BigEndian, true
	default:
		return fmt.Errorf("%s: unknown magic number %#08x: %w", s.name, binary.LittleEndian.Uint32(h), ErrNotCapture)
	}
	s.info.Format = "pcap"
	if s.nanos {
		s.info.Format = "pcap-ns"
	}
	s.info.Snaplen = int(s.order.Uint32(h[16:]))
	s.link = LinkType(s.order.Uint32(h[20:]) & 0xffff)
	s.info.LinkTypes = []LinkType{s.link}
	if !Supported(s.link) {
		return fmt.Errorf("%s: unsupported link type %d (%s): sockscope reads link types %s", s.name, s.link, s.link, SupportedList())
	}
	return nil
}

// Next returns the next packet. Frames whose contents cannot be decoded are
// still returned (with p.Issue set); only damage to the file itself ends it.
func (s *FileSource) Next(p *Packet) error {
	if s.dmg != nil {
		return s.dmg
	}
	var err error
	if s.info.Format == "pcapng" {
		err = s.nextNG(p)
	} else {
		err = s.nextPcap(p)
	}
	if err != nil {
		s.dmg = err
		return err
	}
	if s.defrag != nil { // nil in a merge, which reassembles after merging
		s.defrag.Process(p)
	}
	return nil
}

func (s *FileSource) damage(start int64, format string, args ...any) error {
	return &DamageError{File: s.name, Frame: s.frame + 1, Offset: start, Reason: fmt.Sprintf(format, args...)}
}

// cutShort reports a read that stopped early: the file really ended (the
// reason given), or reading it failed — a corrupt gzip stream, a bad
// checksum, an I/O error — which is said instead, so that a damaged
// download is not mistaken for a truncated capture.
func (s *FileSource) cutShort(err error, start int64, format string, args ...any) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.damage(start, format, args...)
	}
	if s.info.Gzip {
		return s.damage(start, "the gzip data is corrupt here (%v): the compressed file itself is damaged", err)
	}
	return s.damage(start, "reading the file failed: %v", err)
}

func (s *FileSource) nextPcap(p *Packet) error {
	for {
		start := s.off
		h, err := s.readFull(16)
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return s.cutShort(err, start, "file ends inside a record header (%d of 16 bytes)", len(h))
		}
		sec := s.order.Uint32(h[0:])
		frac := s.order.Uint32(h[4:])
		incl := s.order.Uint32(h[8:])
		orig := s.order.Uint32(h[12:])
		limit := uint32(max(s.info.Snaplen, 262144))
		if incl > limit || incl > MaxFrame {
			return s.damage(start, "record claims %d bytes, more than the snapshot length (%d): the file is corrupt here", incl, limit)
		}
		data, err := s.readFull(int(incl))
		if err != nil {
			return s.cutShort(err, start, "file ends in the middle of a packet: record says %d bytes, only %d present", incl, len(data))
		}
		var nsec int64
		if s.nanos {
			nsec = int64(frac)
		} else {
			nsec = int64(frac) * 1000
		}
		s.frame++
		if s.Filter != nil && !s.Filter(s.link, data) {
			s.Filtered++
			if s.markFiltered {
				*p = Packet{Frame: s.frame, Time: time.Unix(int64(sec), 0).Add(time.Duration(nsec)), filtered: true}
				return nil
			}
			continue
		}
		*p = Packet{Frame: s.frame, Time: time.Unix(int64(sec), 0).Add(time.Duration(nsec)), Link: s.link, CapLen: int(incl), WireLen: int(max(orig, incl))}
		DecodeFrame(s.link, data, p)
		return nil
	}
}

// pcapng block types.
const (
	ngSHB = 0x0A0D0D0A
	ngIDB = 1
	ngOPB = 2 // obsolete Packet Block
	ngSPB = 3
	ngEPB = 6
	ngDSB = 0x0A // Decryption Secrets Block
)

// maxBlock bounds a pcapng block: a frame plus generous room for options.
const maxBlock = MaxFrame + 1<<16

func (s *FileSource) readSHB() error {
	start := s.off
	h, err := s.readFull(12)
	if err != nil {
		return fmt.Errorf("%s: file too short for a pcapng section header: %w", s.name, ErrNotCapture)
	}
	switch binary.LittleEndian.Uint32(h[8:]) {
	case 0x1A2B3C4D:
		s.order = binary.LittleEndian
	case 0x4D3C2B1A:
		s.order = binary.BigEndian
	default:
		return fmt.Errorf("%s: pcapng section header at byte offset %d has a bad byte-order magic: %w", s.name, start, ErrNotCapture)
	}
	total := s.order.Uint32(h[4:])
	if total < 28 || total%4 != 0 || total > maxBlock {
		return fmt.Errorf("%s: pcapng section header at byte offset %d has a bad length %d: %w", s.name, start, total, ErrNotCapture)
	}
	if _, err := s.readFull(int(total) - 12); err != nil {
		return fmt.Errorf("%s: file ends inside the pcapng section header: %w", s.name, ErrNotCapture)
	}
	s.info.Format = "pcapng"
	s.ifaces, s.dropped = s.ifaces[:0], 0
	return nil
}

func (s *FileSource) nextNG(p *Packet) error {
	for {
		start := s.off
		h, err := s.readFull(8)
		if err == io.EOF {
			return io.EOF
		}
		if err != nil {
			return s.cutShort(err, start, "file ends inside a block header (%d of 8 bytes)", len(h))
		}
		typ := s.order.Uint32(h[0:])
		if typ == ngSHB {
			// A new section: its byte order may differ. Re-read the header with
			// the bytes we already consumed pushed back logically.
			bom, err := s.readFull(4)
			if err != nil {
				return s.cutShort(err, start, "file ends inside a section header")
			}
			var order binary.ByteOrder
			switch binary.LittleEndian.Uint32(bom) {
			case 0x1A2B3C4D:
				order = binary.LittleEndian
			case 0x4D3C2B1A:
				order = binary.BigEndian
			default:
				return s.damage(start, "section header has a bad byte-order magic")
			}
			s.order = order
			total := order.Uint32(h[4:])
			if total < 28 || total%4 != 0 || total > maxBlock {
				return s.damage(start, "section header has a bad length %d", total)
			}
			if _, err := s.readFull(int(total) - 12); err != nil {
				return s.cutShort(err, start, "file ends inside a section header")
			}
			s.ifaces, s.dropped = s.ifaces[:0], 0
			continue
		}
		total := s.order.Uint32(h[4:])
		if total < 12 || total%4 != 0 || total > maxBlock {
			return s.damage(start, "block of type %#x claims length %d: the file is corrupt here", typ, total)
		}
		body, err := s.readFull(int(total) - 8)
		if err != nil {
			return s.cutShort(err, start, "file ends in the middle of a block: block says %d bytes, only %d present", total, len(body)+8)
		}
		if trailer := s.order.Uint32(body[len(body)-4:]); trailer != total {
			return s.damage(start, "block length %d does not match its trailing length %d", total, trailer)
		}
		body = body[:len(body)-4]
		switch typ {
		case ngIDB:
			if err := s.parseIDB(body); err != nil {
				return s.damage(start, "%s", err)
			}
		case ngDSB:
			// Secrets type, secrets length, the secrets (padded to 32 bits).
			if s.OnSecrets != nil && len(body) >= 8 {
				if n := s.order.Uint32(body[4:]); uint64(n) <= uint64(len(body)-8) {
					s.OnSecrets(s.order.Uint32(body[0:]), body[8:8+n])
				}
			}
		case ngEPB, ngOPB:
			// The block's framing is sound (length and trailer agree), so a
			// packet block with impossible contents is one bad frame, not the
			// end of the file: it is returned with an Issue and reading goes on.
			s.frame++
			if len(body) < 20 {
				s.badFrame(p, 0, "packet block too short (%d bytes)", len(body))
				return nil
			}
			var id uint32
			if typ == ngEPB {
				id = s.order.Uint32(body[0:])
			} else {
				id = uint32(s.order.Uint16(body[0:]))
			}
			tsHi, tsLo := s.order.Uint32(body[4:]), s.order.Uint32(body[8:])
			capl, orig := s.order.Uint32(body[12:]), s.order.Uint32(body[16:])
			if uint64(capl) > uint64(len(body)-20) {
				s.badFrame(p, int(id), "packet block claims %d captured bytes but holds only %d", capl, len(body)-20)
				return nil
			}
			ifc, issue := s.iface(id)
			if issue != "" {
				s.badFrame(p, int(id), "%s", issue)
				return nil
			}
			if s.Filter != nil && !s.Filter(ifc.link, body[20:20+capl]) {
				s.Filtered++
				if s.markFiltered {
					*p = Packet{Frame: s.frame, Time: ngTime(tsHi, tsLo, ifc), filtered: true}
					return nil
				}
				continue
			}
			*p = Packet{Frame: s.frame, Time: ngTime(tsHi, tsLo, ifc), Iface: int(id), Link: ifc.link, CapLen: int(capl), WireLen: int(max(orig, capl))}
			s.last = p.Time
			DecodeFrame(ifc.link, body[20:20+capl], p)
			return nil
		case ngSPB:
			s.frame++
			ifc, issue := s.iface(0)
			if issue != "" {
				s.badFrame(p, 0, "simple packet block: %s", issue)
				return nil
			}
			if len(body) < 4 {
				s.badFrame(p, 0, "simple packet block too short (%d bytes)", len(body))
				return nil
			}
			orig := s.order.Uint32(body[0:])
			capl := min(uint64(orig), uint64(len(body)-4))
			if sl := ifc.snaplen; sl > 0 {
				capl = min(capl, uint64(sl))
			}
			if s.Filter != nil && !s.Filter(ifc.link, body[4:4+capl]) {
				s.Filtered++
				if s.markFiltered {
					*p = Packet{Frame: s.frame, Time: s.last, filtered: true}
					return nil
				}
				continue
			}
			// A simple packet block has no timestamp: it gets the last one seen.
			*p = Packet{Frame: s.frame, Time: s.last, Link: ifc.link, CapLen: int(capl), WireLen: int(max(uint64(orig), capl))}
			DecodeFrame(ifc.link, body[4:4+capl], p)
			return nil
		default:
			// Name resolution, interface statistics, decryption secrets,
			// custom blocks: nothing sockscope needs.
		}
	}
}

// maxInterfaces bounds how many interfaces a file may describe.
const maxInterfaces = 1 << 16

func (s *FileSource) parseIDB(body []byte) error {
	if len(s.ifaces) >= maxInterfaces {
		// Keep counting, so that packets on these interfaces are told apart
		// from packets on interfaces never described.
		s.dropped++
		return nil
	}
	if len(body) < 8 {
		// Keep its place: the interfaces after it keep their numbers.
		s.ifaces = append(s.ifaces, ngIface{bad: fmt.Sprintf("its description block is too short (%d bytes)", len(body))})
		return nil
	}
	ifc := ngIface{link: LinkType(s.order.Uint16(body[0:])), snaplen: int(s.order.Uint32(body[4:])), unitsSec: 1_000_000}
	opts := body[8:]
	for len(opts) >= 4 {
		code, l := s.order.Uint16(opts[0:]), int(s.order.Uint16(opts[2:]))
		if code == 0 {
			break
		}
		if 4+l > len(opts) {
			break
		}
		v := opts[4 : 4+l]
		switch {
		case code == 9 && l >= 1: // if_tsresol
			r := v[0]
			if r&0x80 != 0 {
				if e := r & 0x7f; e < 64 {
					ifc.unitsSec = 1 << e
				}
			} else if r <= 19 {
				u := uint64(1)
				for range r {
					u *= 10
				}
				ifc.unitsSec = u
			}
		case code == 14 && l >= 8: // if_tsoffset
			ifc.tsOffset = int64(s.order.Uint64(v))
		}
		opts = opts[4+(l+3)&^3:]
	}
	s.ifaces = append(s.ifaces, ifc)
	// A set, not a search of LinkTypes: a file may describe every one of
	// the 65536 link types, and a linear search would make that quadratic.
	if w, bit := ifc.link>>6, uint64(1)<<(ifc.link&63); s.linkSeen[w]&bit == 0 {
		s.linkSeen[w] |= bit
		s.info.LinkTypes = append(s.info.LinkTypes, ifc.link)
	}
	return nil
}

// iface returns the description of interface id of this section, or why
// there is none.
func (s *FileSource) iface(id uint32) (ngIface, string) {
	switch {
	case uint64(id) < uint64(len(s.ifaces)):
		if ifc := s.ifaces[id]; ifc.bad != "" {
			return ngIface{}, fmt.Sprintf("packet on interface %d, but %s", id, ifc.bad)
		}
		return s.ifaces[id], ""
	case uint64(id) < uint64(len(s.ifaces)+s.dropped):
		return ngIface{}, fmt.Sprintf("packet on interface %d, but sockscope keeps only the first %d interface descriptions of a section", id, maxInterfaces)
	}
	return ngIface{}, fmt.Sprintf("packet refers to interface %d, but only %d interfaces were described", id, len(s.ifaces)+s.dropped)
}

// badFrame fills p with a frame that cannot be decoded at all, for the
// reason given: it counts as a frame (and as malformed), with the time of
// the frame before it.
func (s *FileSource) badFrame(p *Packet, iface int, format string, args ...any) {
	*p = Packet{Frame: s.frame, Time: s.last, Iface: iface, Issue: fmt.Sprintf(format, args...)}
}

func ngTime(hi, lo uint32, ifc ngIface) time.Time {
	ts := uint64(hi)<<32 | uint64(lo)
	u := ifc.unitsSec
	if u == 0 {
		u = 1_000_000
	}
	sec := ts / u
	rem := ts % u
	// rem * 1e9 / u without overflow.
	h, l := bits.Mul64(rem, 1_000_000_000)
	nsec, _ := bits.Div64(h, l, u)
	return time.Unix(int64(sec)+ifc.tsOffset, int64(nsec))
}

// Supported reports whether sockscope decodes frames of link type l.
func Supported(l LinkType) bool {
	switch l {
	case LinkNull, LinkEthernet, LinkPPP, LinkPPPHDLC, LinkRaw, 12, 14, LinkCHDLC, LinkIEEE80211,
		LinkLoop, LinkSLL, LinkRadiotap, LinkPPI, LinkIPv4, LinkIPv6, LinkNFLOG, LinkSLL2:
		return true
	}
	return false
}
