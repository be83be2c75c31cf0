// Command gen writes the synthetic captures in ../synth that exercise what
// the corpus lacks: VLAN and QinQ tags, ARP, ICMP, ICMPv6, SCTP, IPv4
// options and fragments, IPv6 extension headers, truncated frames, and every
// link type the filter package supports. Run it from the module root:
//
//	go run ./capture/filter/testdata/gen
//
// then rerun ../record.sh to refresh the recorded tcpdump answers.
//
// "gen split IN.pcapng OUTDIR" is used by record.sh: it splits a pcapng file
// whose interfaces have different link types (which tcpdump cannot filter)
// into OUTDIR/ifN.pcap, one per interface, plus OUTDIR/ifN.frames listing
// the original frame numbers of the frames in ifN.pcap.
//
// "gen match ORIG MAP FILTERED..." prints, for each FILTERED capture that
// tcpdump -w wrote from ORIG through a filter, the numbers (from 1) of its
// frames in ORIG, mapped through the MAP file of a split unless MAP is "-".
// (tcpdump -# numbers only the frames it prints, so record.sh cannot use
// it.) Frames are compared by content and lengths, in order.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/pcapgo"
)

func ip4(s string) []byte { a := netip.MustParseAddr(s).As4(); return a[:] }
func ip6(s string) []byte { a := netip.MustParseAddr(s).As16(); return a[:] }

type v4opt struct {
	ihl     int // header length in 32-bit words; 5 if zero
	fragOff uint16
	mf      bool
}

func ipv4(src, dst string, proto byte, payload []byte, o v4opt) []byte {
	ihl := o.ihl
	if ihl == 0 {
		ihl = 5
	}
	h := make([]byte, ihl*4)
	h[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(h[2:], uint16(len(h)+len(payload)))
	binary.BigEndian.PutUint16(h[4:], 0x1234)
	frag := o.fragOff & 0x1fff
	if o.mf {
		frag |= 0x2000
	}
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8] = 64
	h[9] = proto
	copy(h[12:], ip4(src))
	copy(h[16:], ip4(dst))
	for i := 20; i < len(h); i++ {
		h[i] = 1 // NOP options
	}
	return append(h, payload...)
}

func ipv6(src, dst string, nh byte, payload []byte) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6] = nh
	h[7] = 64
	copy(h[8:], ip6(src))
	copy(h[24:], ip6(dst))
	return append(h, payload...)
}

func tcp(sp, dp uint16, flags byte, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint32(h[4:], 1000)
	h[12] = 5 << 4
	h[13] = flags
	binary.BigEndian.PutUint16(h[14:], 65535)
	return append(h, payload...)
}

func udp(sp, dp uint16, payload []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

func sctp(sp, dp uint16) []byte {
	h := make([]byte, 12)
	binary.BigEndian.PutUint16(h[0:], sp)
	binary.BigEndian.PutUint16(h[2:], dp)
	return h
}

func icmp(typ, code byte) []byte { return []byte{typ, code, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'} }

func arp(op uint16, sha []byte, spa string, tpa string) []byte {
	b := []byte{0, 1, 8, 0, 6, 4, 0, byte(op)}
	b = append(b, sha...)
	b = append(b, ip4(spa)...)
	b = append(b, 0, 0, 0, 0, 0, 0)
	return append(b, ip4(tpa)...)
}

const (
	tFIN = 0x01
	tSYN = 0x02
	tRST = 0x04
	tPSH = 0x08
	tACK = 0x10
)

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0xa}
	macB = []byte{0x02, 0, 0, 0, 0, 0xb}
)

// l3 is a network-layer packet with its EtherType.
type l3 struct {
	etype uint16
	data  []byte
}

func packets() []l3 {
	pay := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}
	hbh := append([]byte{6, 0, 1, 4, 0, 0, 0, 0}, tcp(40001, 80, tSYN, nil)...)   // hop-by-hop, then TCP
	frag6 := append([]byte{6, 0, 0, 1, 0, 0, 0, 9}, tcp(40002, 80, tSYN, nil)...) // fragment header, then TCP
	return []l3{
		{0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, tSYN, nil), v4opt{})},
		{0x0800, ipv4("10.0.0.2", "10.0.0.1", 6, tcp(80, 40000, tSYN|tACK, nil), v4opt{})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, tPSH|tACK, []byte("GET / HTTP/1.1\r\n\r\n")), v4opt{})},
		{0x0800, ipv4("10.0.0.2", "10.0.0.1", 6, tcp(80, 40000, tFIN|tACK, nil), v4opt{})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, tRST, nil), v4opt{})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.3", 17, udp(5353, 53, pay(30)), v4opt{})},
		{0x0800, ipv4("10.0.0.3", "10.0.0.1", 17, udp(53, 5353, pay(60)), v4opt{})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.4", 17, udp(8000, 9000, pay(1400)), v4opt{mf: true})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.4", 17, append([]byte{0, 80, 0, 80}, pay(200)...), v4opt{fragOff: 185})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.2", 1, icmp(8, 0), v4opt{})},
		{0x0800, ipv4("10.0.0.2", "10.0.0.1", 1, icmp(0, 0), v4opt{})},
		{0x0800, ipv4("10.0.0.9", "10.0.0.1", 1, icmp(3, 3), v4opt{})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.5", 6, tcp(40010, 8080, tSYN, nil), v4opt{ihl: 6})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.5", 132, sctp(5000, 80), v4opt{})},
		{0x0800, ipv4("192.168.1.10", "10.0.0.2", 6, tcp(50000, 22, tPSH|tACK, pay(100)), v4opt{})},
		{0x0800, ipv4("10.1.2.3", "172.16.0.1", 6, tcp(8443, 443, tACK, pay(1200)), v4opt{})},
		{0x0800, ipv4("127.0.0.1", "127.0.0.1", 6, tcp(8765, 40100, tPSH|tACK, pay(5)), v4opt{})},
		{0x0800, ipv4("10.0.0.1", "10.0.0.2", 2, pay(8), v4opt{})}, // IGMP
		{0x86dd, ipv6("2001:db8::1", "2001:db8::2", 6, tcp(443, 50000, tSYN|tACK, nil))},
		{0x86dd, ipv6("2001:db8::2", "2001:db8::1", 6, tcp(50000, 443, tPSH|tACK, pay(300)))},
		{0x86dd, ipv6("::1", "::1", 17, udp(40200, 53, pay(40)))},
		{0x86dd, ipv6("fe80::1", "ff02::1", 58, icmp(128, 0))},
		{0x86dd, ipv6("fe80::2", "fe80::1", 58, icmp(129, 0))},
		{0x86dd, ipv6("fe80::1", "ff02::1:ff00:2", 58, icmp(135, 0))},
		{0x86dd, ipv6("2001:db8:1::5", "2001:db8::2", 0, hbh)},
		{0x86dd, ipv6("2001:db8:1::5", "2001:db8::2", 44, frag6)},
		{0x86dd, ipv6("2001:db8::1", "2001:db8::9", 132, sctp(80, 5000))},
		{0x0806, arp(1, macA, "10.0.0.1", "10.0.0.2")},
		{0x0806, arp(2, macB, "10.0.0.2", "10.0.0.1")},
		{0x8035, arp(3, macA, "10.0.0.7", "10.0.0.8")},
	}
}

func ether(etype uint16, data []byte) []byte {
	b := append(append([]byte{}, macB...), macA...)
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, data...)
}

func tagged(tpid uint16, vid uint16, etype uint16, data []byte) []byte {
	b := append(append([]byte{}, macB...), macA...)
	b = binary.BigEndian.AppendUint16(b, tpid)
	b = binary.BigEndian.AppendUint16(b, vid)
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, data...)
}

type record struct {
	data    []byte
	origLen int
}

func write(dir, name string, linkType uint32, bigEndian bool, snaplen uint32, recs []record) {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		bo = binary.BigEndian
	}
	b := bo.AppendUint32(nil, 0xa1b2c3d4)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, snaplen)
	b = bo.AppendUint32(b, linkType)
	for i, r := range recs {
		b = bo.AppendUint32(b, 1700000000+uint32(i))
		b = bo.AppendUint32(b, 0)
		b = bo.AppendUint32(b, uint32(len(r.data)))
		b = bo.AppendUint32(b, uint32(r.origLen))
		b = append(b, r.data...)
	}
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		log.Fatal(err)
	}
}

func full(frames ...[]byte) []record {
	var rs []record
	for _, f := range frames {
		rs = append(rs, record{f, len(f)})
	}
	return rs
}

func main() {
	if len(os.Args) == 4 && os.Args[1] == "split" {
		split(os.Args[2], os.Args[3])
		return
	}
	if len(os.Args) >= 4 && os.Args[1] == "match" {
		match(os.Args[2], os.Args[3], os.Args[4:])
		return
	}
	dir := filepath.Join("capture", "filter", "testdata", "synth")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	pk := packets()

	// Ethernet: every packet, plus tagged, truncated and odd frames.
	var eth [][]byte
	for _, p := range pk {
		eth = append(eth, ether(p.etype, p.data))
	}
	eth = append(eth,
		tagged(0x8100, 100, 0x0800, pk[0].data),
		tagged(0x8100, 100, 0x0800, pk[5].data),
		tagged(0x8100, 200, 0x86dd, pk[20].data),
		tagged(0x8100, 0x2000|200, 0x0806, pk[27].data),
		append(tagged(0x88a8, 300, 0x8100, nil), tagged(0x8100, 100, 0x0800, pk[2].data)[14:]...),
		tagged(0x9100, 5, 0x0800, pk[9].data),
		ether(0x88cc, []byte{2, 7, 4, 0, 0, 0, 0, 0, 1, 4, 3, 2, 0, 1, 0, 0}), // LLDP
		ether(0x0026, []byte{0x42, 0x42, 0x03, 0, 0, 0}),                      // 802.3 + LLC
		ether(0x0800, pk[0].data[:10]),                                        // cut inside the IPv4 header
		ether(0x86dd, pk[18].data[:30]),                                       // cut inside the IPv6 header
		ether(0x0800, pk[2].data[:30]),                                        // cut inside the TCP header
		ether(0x0800, ipv4("10.0.0.1", "10.0.0.2", 6, tcp(40000, 80, tACK, make([]byte, 1400)), v4opt{})),
	)
	recs := full(eth...)
	// Two frames cut by a snap length, with their original length kept.
	big := ether(0x0800, ipv4("10.0.0.2", "10.0.0.1", 6, tcp(80, 40000, tACK, make([]byte, 1000)), v4opt{}))
	recs = append(recs, record{big[:60], len(big)}, record{big[:54], len(big)})
	write(dir, "ether.pcap", 1, false, 65535, recs)

	var ipOnly, v4Only, v6Only [][]byte
	for _, p := range pk {
		switch p.etype {
		case 0x0800:
			ipOnly = append(ipOnly, p.data)
			v4Only = append(v4Only, p.data)
		case 0x86dd:
			ipOnly = append(ipOnly, p.data)
			v6Only = append(v6Only, p.data)
		}
	}
	write(dir, "raw.pcap", 101, false, 65535, full(ipOnly...))
	write(dir, "ipv4.pcap", 228, false, 65535, full(v4Only...))
	write(dir, "ipv6.pcap", 229, false, 65535, full(v6Only...))

	afFrames := func(order binary.AppendByteOrder, v6af uint32) [][]byte {
		var out [][]byte
		for _, p := range pk {
			af := uint32(2)
			switch p.etype {
			case 0x0800:
			case 0x86dd:
				af = v6af
			default:
				continue
			}
			out = append(out, append(order.AppendUint32(nil, af), p.data...))
		}
		return out
	}
	write(dir, "null_le.pcap", 0, false, 65535, full(afFrames(binary.LittleEndian, 24)...))
	write(dir, "null_be.pcap", 0, true, 65535, full(afFrames(binary.BigEndian, 30)...))
	write(dir, "loop.pcap", 108, false, 65535, full(afFrames(binary.BigEndian, 24)...))

	var sll, sll2 [][]byte
	for _, p := range pk {
		h := []byte{0, 0, 0, 1, 0, 6}
		h = append(h, macA...)
		h = append(h, 0, 0)
		h = binary.BigEndian.AppendUint16(h, p.etype)
		sll = append(sll, append(h, p.data...))

		h2 := binary.BigEndian.AppendUint16(nil, p.etype)
		h2 = append(h2, 0, 0, 0, 0, 0, 2, 0, 1, 4, 6)
		h2 = append(h2, macA...)
		h2 = append(h2, 0, 0)
		sll2 = append(sll2, append(h2, p.data...))
	}
	write(dir, "sll.pcap", 113, false, 65535, full(sll...))
	write(dir, "sll2.pcap", 276, true, 65535, full(sll2...))
}

func split(in, outDir string) {
	f, err := os.Open(in)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	if err != nil {
		log.Fatal(err)
	}
	recs := map[int][]record{}
	frames := map[int][]string{}
	for n := 1; ; n++ {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatalf("%s: frame %d: %v", in, n, err)
		}
		recs[ci.InterfaceIndex] = append(recs[ci.InterfaceIndex], record{append([]byte(nil), data...), ci.Length})
		frames[ci.InterfaceIndex] = append(frames[ci.InterfaceIndex], fmt.Sprint(n))
	}
	for i := 0; i < r.NInterfaces(); i++ {
		iface, err := r.Interface(i)
		if err != nil {
			log.Fatal(err)
		}
		name := fmt.Sprintf("if%d", i)
		write(outDir, name+".pcap", uint32(iface.LinkType), false, 262144, recs[i])
		list := strings.Join(frames[i], "\n") + "\n"
		if err := os.WriteFile(filepath.Join(outDir, name+".frames"), []byte(list), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

type frameKey struct {
	data    string
	capLen  int
	origLen int
}

// readAll reads the frames of a pcap or pcapng file until EOF or an error.
func readAll(path string) []frameKey {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		log.Fatal(err)
	}
	type reader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var r reader
	if binary.LittleEndian.Uint32(magic[:]) == 0x0a0d0d0a {
		r, err = pcapgo.NewNgReader(f, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	} else {
		r, err = pcapgo.NewReader(f)
	}
	if err != nil {
		log.Fatalf("%s: %v", path, err)
	}
	var out []frameKey
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			return out
		}
		out = append(out, frameKey{string(data), ci.CaptureLength, ci.Length})
	}
}

// match prints, for each filtered capture, its path, a tab, and the
// numbers of its frames in orig as ranges ("1-3,5"). If mapFile is not "-",
// frame n of orig is reported as line n of mapFile.
func match(orig, mapFile string, filtered []string) {
	all := readAll(orig)
	var numbers []int
	if mapFile != "-" {
		b, err := os.ReadFile(mapFile)
		if err != nil {
			log.Fatal(err)
		}
		for _, line := range strings.Fields(string(b)) {
			var n int
			if _, err := fmt.Sscan(line, &n); err != nil {
				log.Fatalf("%s: %v", mapFile, err)
			}
			numbers = append(numbers, n)
		}
	}
	for _, path := range filtered {
		var nums []int
		j := 0
		for _, k := range readAll(path) {
			for j < len(all) && all[j] != k {
				j++
			}
			if j == len(all) {
				log.Fatalf("%s: a frame is not in %s", path, orig)
			}
			n := j + 1
			if numbers != nil {
				n = numbers[j]
			}
			nums = append(nums, n)
			j++
		}
		fmt.Printf("%s\t%s\n", path, ranges(nums))
	}
}

// ranges formats ascending numbers as "1-3,5,7-9".
func ranges(nums []int) string {
	var parts []string
	for i := 0; i < len(nums); {
		j := i
		for j+1 < len(nums) && nums[j+1] == nums[j]+1 {
			j++
		}
		if i == j {
			parts = append(parts, fmt.Sprint(nums[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", nums[i], nums[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}
