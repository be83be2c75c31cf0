// Package filter compiles tcpdump filter expressions to classic BPF
// without libpcap or cgo.
//
// In: a filter string in tcpdump (pcap-filter(7)) syntax, such as
// "tcp port 80 and host 10.0.0.1", and the pcap LINKTYPE of the frames it
// will see. Out: a classic BPF program ([]bpf.Instruction from
// golang.org/x/net/bpf) that returns the snap length for frames it accepts
// and 0 for frames it rejects, exactly like the program libpcap's
// pcap_compile would build. The same program can be attached to a live
// socket (SetBPF) or run over frames read from a file with a [Matcher].
//
// The pipeline is [Parse] (lexer and parser to a [Node] tree, following
// libpcap's grammar, including its quirks: "and" and "or" have equal
// precedence and associate to the left, and a bare value after "and"/"or"
// reuses the previous qualifiers, so "host a or b" means
// "host a or host b"), then [Compile] (tree to cBPF, with long forward
// jumps routed through "ja" trampolines).
//
// Supported: host, net (CIDR, "mask", and short forms such as "net 10"),
// port, portrange and proto, each with src/dst/"src or dst"/"src and dst"
// and a protocol qualifier where libpcap allows one; tcp, udp, sctp, icmp,
// icmp6, ip, ip6, arp, rarp; vlan and "vlan N" (Ethernet only; tests
// after "vlan" move 4 bytes further into the frame, as in libpcap);
// "mpls [label]" (Ethernet, Cisco HDLC; each one moves the tests after it
// past one label stack entry, and "ip"/"ip6" after it test the bottom of
// stack bit and the IP version, as libpcap does) and "pppoes [id]"
// (Ethernet; the tests after it look inside the PPP frame); "geneve [vni]"
// (UDP port 6081 over IPv4 or IPv6; the tests after it look inside, at
// offsets the program computes at run time from the outer IPv4 header and
// the Geneve options, as libpcap does: vlan, mpls, pppoes, geneve and byte
// comparisons after it are refused);
// greater, less, len; proto[expr:size] loads for ether/link, ip, ip6, arp,
// rarp, tcp, udp, sctp, icmp and icmp6 with + - * / % & | ^ << >> and unary
// minus; and, or, not, !, &&, ||, parentheses; and libpcap's named
// constants (tcpflags, tcp-syn, icmptype, icmp-echo, icmp6-echo, ...).
// Link types: Ethernet (1), PPP (9), PPP serial (50), Cisco HDLC (104),
// Linux SLL (113), Linux SLL2 (276), raw IP (101, 228, 229), BSD null (0)
// and BSD loop (108).
//
// Anything else (host names, service names, MAC addresses, "ether host",
// "gateway", "broadcast", protochain, 802.11, vxlan (libpcap 1.11), ...) is refused with an
// [*UnsupportedError] that names the unsupported part and its offset, and
// malformed input gets an [*Error] that says what was expected where. The
// accept sets are checked against tcpdump 4.99.3 / libpcap 1.10.3 answers
// recorded in testdata/tcpdump_accepts.json (see testdata/record.sh); known
// differences are listed in the doc comment of [Compile].
//
// Note for live capture on Linux: the kernel usually moves VLAN tags out of
// the frame into metadata, and this package always tests the tag in the
// frame (as libpcap does for files), so "vlan" is meant for files.
package filter
