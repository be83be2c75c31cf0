// Package reassembly tracks flows and rebuilds TCP streams and UDP flows
// from capture's packets: the second stage of the pipeline (capture →
// reassembly → decode → findings → output).
//
// In: capture.Packets, in capture order, fed to a Tracker. Out: through
// Options' hooks, a Summary per flow (counters, state, client and server)
// as flows end or are flushed, and for the streams selected by Keep the
// whole Stream: each direction's bytes by sequence number (Half.DataAt),
// the segment map (which frame supplied which bytes, first copy wins,
// conflicts reported with both frames), gaps, and the packet log.
//
// Streams are numbered as Wireshark numbers tcp.stream and udp.stream
// (order of first packet; a new SYN with a new ISN on a reused 4-tuple is a
// new stream), and each direction's bytes equal Wireshark's Follow Stream.
// Sequence numbers are unwrapped into 64-bit offsets once per segment, so a
// stream may carry any number of GiB. Retransmissions, reordering, overlap,
// missing segments, a capture starting mid-connection, truncated snaplen
// and late packets after a close are classified and reported as what they
// are (Segment.Kind, Anomaly).
//
// Memory is bounded: the flow table holds at most MaxFlows flows and evicts
// idle ones (a later packet resumes the same stream number), out-of-order
// bytes are capped per stream and in total, and a kept stream's bytes spill
// to an unlinked temporary file past Options.SpillOver.
package reassembly
