// Command floor is the decode-only speed floor for sockscope benchmarks.
//
// It reads a pcap or pcapng capture through a 1 MiB buffered reader and
// decodes every frame with gopacket's DecodingLayerParser (Ethernet, Dot1Q,
// IPv4, IPv6, TCP, UDP, Payload; preallocated layers, zero-copy reads),
// counting TCP/UDP packets and payload bytes. No flow tracking, no
// reassembly: this is the fastest a gopacket-based Go tool can walk the file.
//
//	go run ./bench/floor /tmp/big.pcap
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

type packetSource interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

func main() {
	if len(os.Args) != 2 || os.Args[1] == "-h" || os.Args[1] == "--help" {
		fmt.Fprintln(os.Stderr, "usage: floor FILE.pcap|FILE.pcapng|-")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	var in io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(in, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return fmt.Errorf("reading magic: %w", err)
	}

	var src packetSource
	var link layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return err
		}
		src, link = r, r.LinkType()
	} else {
		r, err := pcapgo.NewReader(br)
		if err != nil {
			return err
		}
		src, link = r, r.LinkType()
	}

	var (
		eth     layers.Ethernet
		dot1q   layers.Dot1Q
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		udp     layers.UDP
		payload gopacket.Payload
	)
	first := layers.LayerTypeEthernet
	switch link {
	case layers.LinkTypeEthernet:
	case layers.LinkTypeRaw, layers.LinkTypeIPv4:
		first = layers.LayerTypeIPv4 // raw IP; IPv6-only raw captures are rare
	default:
		return fmt.Errorf("unsupported link type %v", link)
	}
	parser := gopacket.NewDecodingLayerParser(first, &eth, &dot1q, &ip4, &ip6, &tcp, &udp, &payload)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)

	var packets, tcpPkts, udpPkts, tcpBytes, udpBytes, errs, frameBytes uint64
	start := time.Now()
	for {
		data, _, err := src.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			return err
		}
		packets++
		frameBytes += uint64(len(data))
		if err := parser.DecodeLayers(data, &decoded); err != nil {
			errs++
		}
		for _, lt := range decoded {
			switch lt {
			case layers.LayerTypeTCP:
				tcpPkts++
				tcpBytes += uint64(len(tcp.Payload))
			case layers.LayerTypeUDP:
				udpPkts++
				udpBytes += uint64(len(udp.Payload))
			}
		}
	}
	el := time.Since(start)
	fmt.Printf("packets=%d frame_bytes=%d tcp_packets=%d tcp_payload_bytes=%d udp_packets=%d udp_payload_bytes=%d decode_errors=%d elapsed=%.3fs rate=%.0fMB/s\n",
		packets, frameBytes, tcpPkts, tcpBytes, udpPkts, udpBytes, errs, el.Seconds(), float64(frameBytes)/1e6/el.Seconds())
	return nil
}
