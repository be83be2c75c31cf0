// Package tlsdec decrypts TLS 1.2 and TLS 1.3 records with the secrets of an
// NSS key log (SSLKEYLOGFILE), one TCP connection at a time, as its bytes
// arrive.
//
// # Keys
//
// A KeyLog holds secrets by client random: CLIENT_RANDOM (the TLS 1.2 master
// secret) and the TLS 1.3 CLIENT_/SERVER_HANDSHAKE_TRAFFIC_SECRET,
// CLIENT_/SERVER_TRAFFIC_SECRET_0 and CLIENT_EARLY_TRAFFIC_SECRET lines;
// other labels, comments and blank lines are skipped. Fill one with
// ReadKeyLogFile or ParseKeyLog, or Write text to it as it comes (a line is
// taken when its newline arrives). FileTail.Refresh re-reads a key log file
// that grows while a capture runs; KeyLog.AddDSB takes the body of a pcapng
// Decryption Secrets Block (ParseDSB splits one); Merge combines key logs.
// A KeyLog is safe for concurrent use. Secrets are never printed: no error,
// String method or Info holds one.
//
// # Sessions
//
// A Session is one TCP connection. Feed it the in-order bytes of each
// direction as they come, in any chunks (a record may span chunks, a chunk
// may hold many records); call Gap for bytes the capture lost and Close at
// the end. It calls Config.OnRecord for every record with its direction,
// number (N, from 1 per direction), byte range in that direction's stream,
// outer content type and, once decrypted, the inner content type (TLS 1.3)
// and the plaintext with its offset in the direction's decrypted
// application data (what Wireshark's Follow TLS Stream shows). A record that
// cannot be decrypted says why in Err, a *DecryptError: NoKey (no secret for
// the client random), UnsupportedSuite (named), UnsupportedVersion,
// AuthFailed ("record 7 failed authentication: wrong key or damaged
// capture"), NoHandshake, Malformed, Truncated, Lost. A record whose
// authentication tag, MAC or CBC padding does not verify never yields
// plaintext.
//
// Session.Info reports what the cleartext handshake showed: version, suite,
// randoms, SNI, offered and negotiated ALPN (from the ServerHello in TLS 1.2,
// from the decrypted EncryptedExtensions in TLS 1.3: "h2" or "http/1.1" picks
// the inner framing), HelloRetryRequest, extended master secret,
// encrypt-then-MAC, resumption, 0-RTT offered/accepted and KeyUpdates.
//
// A streaming driver over sockscope's reassembly (one Session per stream):
//
//	sessions := map[int]*tlsdec.Session{}
//	opts.OnData = func(st *reassembly.Stream, d reassembly.Direction, r reassembly.ByteRange, b []byte, frame int) {
//		s := sessions[st.ID]
//		if s == nil {
//			s = tlsdec.NewSession(tlsdec.Config{Keys: keys, OnRecord: func(rec *tlsdec.Record) {
//				// rec.Range maps onto the segment map; rec.Plaintext (valid only
//				// now) goes to the inner framing at rec.AppOffset.
//			}})
//			sessions[st.ID] = s
//		}
//		if b == nil {
//			s.Gap(d, r.Len())
//		} else {
//			s.Feed(d, b)
//		}
//	}
//	// when the stream ends: s.Close(); s.Info()
//
// Record ranges count from the first byte fed for that direction, so a driver
// that feeds a stream from its offset 0 gets ranges in the stream's own
// offsets.
//
// # What is decrypted
//
// TLS 1.3: TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384,
// TLS_CHACHA20_POLY1305_SHA256, TLS_AES_128_CCM_SHA256, with the HKDF-Expand-Label key schedule from
// the traffic secrets: handshake keys, then application keys after each
// direction's Finished, the next generation after a KeyUpdate, early data
// with CLIENT_EARLY_TRAFFIC_SECRET; inner content type and padding removed.
// If a key change cannot be seen (a damaged Finished, a key log with only the
// application secrets), the next key is tried after the current one fails.
// TLS 1.2: AES-GCM, AES-CCM, ChaCha20-Poly1305 and AES-CBC with HMAC-SHA1/SHA256/
// SHA384 (MAC-then-encrypt, or encrypt-then-MAC when the ServerHello agreed to
// it), with the SHA-256 or SHA-384 PRF, for RSA, DHE and ECDHE key exchange
// alike (the key log gives the master secret); session resumption by ID or
// ticket uses the new connection's CLIENT_RANDOM line. Not decrypted: AES-CCM_8,
// TLS 1.0/1.1 and SSL 3, 3DES, RC4, Camellia, renegotiation. AES-CCM is built
// here on crypto/aes and crypto/cipher's CTR mode (neither the standard
// library nor golang.org/x/crypto has it); all else is their code.
//
// # Memory
//
// A Session holds at most one incomplete record per direction (5 +
// MaxRecordLen bytes), one record of plaintext, parsed hello fields, and,
// only while the other direction's hello has not been fed yet, up to
// Config.MaxWaiting bytes of complete records per direction (keys depend on
// both hellos: a driver feeding one whole direction first, or 0-RTT data sent
// before the ServerHello). Handshake messages it does not parse (certificates)
// are skipped, not kept.
package tlsdec
