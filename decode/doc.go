// Package decode frames stream bytes into application messages: the third
// stage of the pipeline (capture → reassembly → decode → findings → output).
//
// In: reassembly's streams, kept whole (Analyze, for follow, timeline and
// report) or as ordered bytes while they are read (Streamer, for read
// --stats and live). Out: Messages, each with its byte range, the frames
// that carried it, a protocol, a type and a one-line summary, plus the map
// from every segment to the messages it carries (split, coalesced, exact),
// gaps and framing errors.
//
// A Spec names the framing: auto (Detect picks one from the first bytes of
// both directions, content first and the port as a hint, and says why), raw
// (one message per segment or datagram), or one of the Decoders — http1,
// h2, ws, tls, resp, dns, pgsql, mysql, mqtt, ssh, memcached, smtp, imap,
// pop3, ftp, line, len (length-prefixed), fixed. Each Decoder is a small
// state machine over bytes (Next) that must not panic on any input; every
// byte of a direction belongs to exactly one message, gap or partial
// message. Fuzz targets check both.
//
// With TLS keys (subpackage tlsdec: NSS key logs, pcapng decryption
// secrets), TLS is a layer between the TCP bytes and the inner framing
// (TLSLayer): records are decrypted, their authentication checked, and the
// inner messages map to records and records to segments. AnalyzeTLS does it
// for a kept stream; a Streamer with StreamerOptions.Keys does it as the
// bytes arrive (an inner Streamer frames the decrypted data), reporting the
// messages inside with their Records.
package decode
