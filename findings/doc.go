// Package findings points out what a careful network engineer would notice
// in a capture: port scans, slow senders, cleartext protocols, exposed and
// refused services, connections left open or reset, receivers not reading,
// stalls and loss, capture artifacts, and framing hazards.
//
// In: the tracker's hooks (reassembly.Options OnPacket, OnData, OnStream;
// Engine.Hooks chains them with other consumers), then a Summary of the
// capture. Out: []Finding, each with a kind, a severity (info or warning),
// the streams and frames that show it, and a one-sentence message, sorted
// most important first (Sort).
//
// Each detector is small and has its rule and thresholds documented beside
// its code (scan.go, slow.go, content.go, framer.go, ends.go, stall.go,
// artifacts.go); Config holds the thresholds, with the flag names that tune
// them.
//
// What it never does: keep stream payloads (only the first SniffBytes per
// direction until the framing is picked, and bounded framer buffers for the
// framing-hazard check), grow without bound (every map and list is capped,
// and a reached cap is reported as an analysis_limit finding), read clocks,
// or print: rendering is output's job.
//
// Scale: a stream gets per-stream state only once it carries payload or a
// window change (the SYN/RST-only streams of a scan or flood get none);
// scan targets, services and scan sources live in packed hash tables
// (table.go: 8 bytes a slot for IPv4); unclosed connections and
// established resets are aggregated as they come. MaxTracked caps the
// scan targets, services, handshake resets, cleartext/TLS endpoints and
// their client addresses. Messages list at most listItems (10) items and
// refusedAddrs (5) addresses of refusedRanges (8) port ranges; a finding
// has at most MaxEvidence (20) details, streams and frames; at most
// MaxPerKind (100) findings of a kind are listed, the rest summed up in one.
//
// TLS streams have their record boundaries followed (records over many
// segments); with keys (Engine.SetKeys) they are decrypted as they come
// (tls.go): streams or records that could not be, and why; runs of tiny
// records.
//
// Per-stream findings (slow_sender, zero_window, retransmission,
// delayed_ack, framing_hazard, tls_not_decrypted, tls_tiny_records,
// tls_record_straddle) are certain once their stream is delivered:
// Pop returns them as they come, for live views. The others need the whole
// capture and come from Finish.
package findings
