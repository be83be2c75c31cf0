// Package capture turns capture files and live interfaces into decoded
// packets: the first stage of the pipeline (capture → reassembly → decode →
// findings → output).
//
// In: a pcap or pcapng file (optionally gzip-compressed, or stdin), or a live
// interface (AF_PACKET ring on Linux; libpcap behind the pcap build tag).
// Out: a Source whose Next fills one Packet per frame, in capture order, with
// its time, lengths, link type, the IP and transport headers decoded, and the
// payload aliased in place.
//
// DecodeFrame never fails and never allocates on a frame that decodes: a
// frame it cannot read gets an Issue (or NotIP) saying what it was, and the
// rest of the capture goes on. Encapsulations are removed before anything
// downstream sees the packet — VLAN tags (any depth), MPLS, PPPoE, GRE and
// ERSPAN, IP-in-IP, VXLAN, Geneve, GTP-U, GRE-in-UDP — bounded at maxEncap
// layers, and the path a packet took is kept (Path) for the views. IPv4 and
// IPv6 fragments are reassembled within fixed bounds (Defrag).
//
// A damaged file yields every good frame first, then a *DamageError naming
// the file, the frame and the byte offset where reading stopped and why. No
// length read from a file drives an allocation.
//
// Merge reads several capture files as one, in timestamp order as mergecap
// merges them (one pending frame per file), numbering frames as in the
// merged file; a damaged file's good frames are merged and its damage
// reported once the other files are read. One file is read directly.
//
// Subpackage filter compiles tcpdump's filter language to classic BPF and
// runs it in pure Go, on files and on live captures.
package capture
