package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeFrame: any bytes under any supported link type decode without
// panic, the payload stays inside the frame, and a packet is either TCP/UDP
// with sane lengths or not. Nesting is bounded and reported when exceeded:
// no path is longer than 2*maxEncap layers (a tunnel adds its outer IP
// header as a layer of its own), a frame refused as too deep was
// not also decoded, and the same bytes behind maxEncap+1 VLAN tags are
// refused as too deep.
func FuzzDecodeFrame(f *testing.F) {
	for _, l := range []LinkType{LinkEthernet, LinkSLL, LinkSLL2, LinkRaw, LinkNull, LinkLoop} {
		f.Add(uint16(l), []byte{0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, 0, 80, 0, 81, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0, 0, 0, 0, 0, 0})
	}
	f.Add(uint16(LinkEthernet), bytes.Repeat([]byte{0x81, 0x00}, 40))
	for _, l := range SupportedLinks {
		f.Add(uint16(l), innerIPv4())
	}
	// Every hand-built tunnel and link-type frame of encap_test.go.
	for _, s := range encapSeeds() {
		f.Add(uint16(s.link), s.frame)
	}
	// And the first frames of each real tunnel and link-type capture.
	paths, _ := filepath.Glob("../testdata/captures/tunnels/*.pcap")
	for _, path := range paths {
		src, err := Open(path)
		if err != nil {
			continue
		}
		n := 0
		src.Filter = func(l LinkType, frame []byte) bool {
			if n++; n <= 6 {
				f.Add(uint16(l), append([]byte(nil), frame...))
			}
			return false
		}
		var p Packet
		src.Next(&p)
		src.Close()
	}
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		p := Packet{Frame: 1, CapLen: len(data), WireLen: len(data) + 10}
		DecodeFrame(LinkType(link), data, &p)
		if len(p.Payload) > len(data) {
			t.Fatalf("payload %d > frame %d", len(p.Payload), len(data))
		}
		if p.Proto != ProtoOther && p.PayloadLen < 0 {
			t.Fatalf("negative payload length %d", p.PayloadLen)
		}
		if p.Path.Len() > 2*maxEncap {
			t.Fatalf("path of %d layers, more than %d", p.Path.Len(), 2*maxEncap)
		}
		// An outer IP layer's addresses are, as this packet went, an
		// IPv4 or IPv6 pair.
		for i, l := range p.Path.Layers() {
			if src, dst, ok := p.Path.Outer(i); ok && (src.Is4() != (l.Kind == LayerIPv4) || dst.Is4() != src.Is4()) {
				t.Fatalf("layer %d (%v): %v→%v", i, l.Kind, src, dst)
			}
		}
		if p.Issue == issueTooDeep && p.Proto != ProtoOther {
			t.Fatalf("too deep, yet decoded as %v", p.Proto)
		}
		d := NewDefragmenter(DefragOptions{})
		d.Process(&p)
		deep := append(bytes.Repeat([]byte{0}, 12), bytes.Repeat([]byte{0x81, 0x00, 0x00, 0x01}, maxEncap+1)...)
		deep = append(append(deep, 0x08, 0x00), data...)
		q := Packet{Frame: 1, CapLen: len(deep), WireLen: len(deep)}
		DecodeFrame(LinkEthernet, deep, &q)
		if q.Issue != issueTooDeep || q.Proto != ProtoOther {
			t.Fatalf("%d VLAN tags: issue %q, proto %v", maxEncap+1, q.Issue, q.Proto)
		}
	})
}

// FuzzReader: any file either fails to open with an error, or yields frames
// until io.EOF or a *DamageError — never a panic, never an endless loop.
func FuzzReader(f *testing.F) {
	ents, _ := os.ReadDir("../testdata/corpus")
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".gz") {
			continue
		}
		b, err := os.ReadFile(filepath.Join("../testdata/corpus", e.Name()))
		if err == nil && len(b) < 40000 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := NewReader("fuzz", bytes.NewReader(b))
		if err != nil {
			return
		}
		var p Packet
		for i := 0; ; i++ {
			if i > len(b) {
				t.Fatal("more frames than bytes")
			}
			err := s.Next(&p)
			if err == nil {
				continue
			}
			var de *DamageError
			if !errors.Is(err, io.EOF) && !errors.As(err, &de) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
	})
}
