// Command gen writes large, deterministic pcap captures for benchmarking
// sockscope against the decode floor, tshark, tcptrace and tcpflow.
//
//	go run ./bench/gen -size 1GB -o /tmp/big.pcap            # mix of TCP/UDP traffic
//	go run ./bench/gen -mode scan -flows 1000000 -o /tmp/scan.pcap
//
// Output is classic little-endian microsecond pcap with Ethernet framing.
// Packets are hand-assembled into a 1 MiB bufio.Writer (no gopacket
// serialization). IPv4 total length, header lengths, sequence and
// acknowledgement numbers are always exact; TCP/UDP checksums are computed
// unless -checksum=false. The same seed gives byte-identical output.
//
// At exit a one-line summary goes to stderr, including the tcp.stream ID
// (order of first packet, from 0, like Wireshark) of the largest stream.
package main

import (
	"flag"
	"fmt"
	"github.com/sockscope/sockscope/internal/pcapgen"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSuffix(u, suf.s), suf.m
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(u), 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}

func main() {
	sizeStr := flag.String("size", "1GB", "mix: target file size (KB/MB/GB are powers of 1024; intended 100MB..2GB, 1MB minimum); generation stops once all connections open at that point have closed")
	seed := flag.Uint64("seed", 1, "PRNG seed; the same seed gives byte-identical output")
	out := flag.String("o", "-", "output file, or - for stdout")
	mode := flag.String("mode", "mix", "mix (realistic TCP/UDP mix), scan (many short SYN/RST flows), or long (one connection carrying -size bytes server to client, any size: follow's memory test)")
	flows := flag.Int("flows", 1000000, "scan: number of distinct flows")
	seg := flag.Int("seg", 64000, "long: payload bytes per data segment (1448 is what a real 1500-MTU link carries)")
	csum := flag.Bool("checksum", true, "compute TCP/UDP checksums (IPv4 header checksum is always computed)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "gen: unexpected arguments:", flag.Args())
		os.Exit(2)
	}

	size, err := parseSize(*sizeStr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(2)
	}
	cfg := Config{Mode: *mode, Seed: *seed, Size: size, Flows: *flows, Checksum: *csum}
	switch *mode {
	case "mix":
		if size < 1<<20 || size > 2<<30 {
			fmt.Fprintln(os.Stderr, "gen: -size must be between 1MB and 2GB")
			os.Exit(2)
		}
	case "long":
		if err := long(*out, size, *seg, *seed); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		return
	case "scan":
		if *flows < 1 || *flows > 50_000_000 {
			fmt.Fprintln(os.Stderr, "gen: -flows must be between 1 and 50000000")
			os.Exit(2)
		}
	default:
		fmt.Fprintln(os.Stderr, "gen: -mode must be mix, scan or long")
		os.Exit(2)
	}

	var w io.Writer = os.Stdout
	var f *os.File
	if *out != "-" {
		f, err = os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		w = f
	}
	start := time.Now()
	sum, err := Generate(w, cfg)
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "gen: mode=%s seed=%d %s elapsed=%.2fs rate=%.0fMB/s\n",
		*mode, *seed, sum, el, float64(sum.Bytes)/1e6/el)
}

// long writes one TCP connection (pcapgen.WriteLong): a 1000-byte request,
// then size bytes from the server in seg-byte segments, with its ISN
// 1000 bytes short of the wrap; it prints the sha256 of the server's bytes.
func long(out string, size int64, seg int, seed uint64) error {
	var w io.Writer = os.Stdout
	var f *os.File
	if out != "-" {
		var err error
		if f, err = os.Create(out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	start := time.Now()
	res, err := pcapgen.WriteLong(w, pcapgen.LongConfig{C2S: 1000, S2C: size, SegSize: seg, ISN: [2]uint32{1, 1<<32 - 1000}, Seed: seed})
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		return err
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "gen: mode=long seed=%d frames=%d bytes=%d stream=tcp/0 s2c_bytes=%d s2c_sha256=%x elapsed=%.2fs\n",
		seed, res.Frames, res.FileBytes, res.Bytes[1], res.SHA256[1], el)
	return nil
}
