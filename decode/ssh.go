package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// SSH transport layer (RFC 4253): identification lines, then binary
// packets; after NEWKEYS a direction is encrypted.
const (
	sshMaxLine   = 255       // RFC 4253 §4.2, CR LF included
	sshMaxPacket = 256 << 10 // OpenSSH's PACKET_MAX_SIZE
	sshMaxLines  = 64        // lines a server may send before its version
	sshTagGCM    = 16        // AES-GCM authentication tag
	sshNoLength  = -1        // encrypted and the cipher hides packet lengths
	sshKexInit   = 20
	sshNewKeys   = 21
)

// sshMessages names the message numbers (RFC 4250 §4.1.2, with the key
// exchange numbers 30-31 as ECDH/DH use them).
var sshMessages = map[byte]string{
	1: "DISCONNECT", 2: "IGNORE", 3: "UNIMPLEMENTED", 4: "DEBUG", 5: "SERVICE_REQUEST", 6: "SERVICE_ACCEPT",
	7: "EXT_INFO", 20: "KEXINIT", 21: "NEWKEYS", 30: "KEX_ECDH_INIT", 31: "KEX_ECDH_REPLY", 32: "KEX_DH_GEX_INIT",
	33: "KEX_DH_GEX_REPLY", 34: "KEX_DH_GEX_REQUEST", 50: "USERAUTH_REQUEST", 51: "USERAUTH_FAILURE",
	52: "USERAUTH_SUCCESS", 53: "USERAUTH_BANNER", 60: "USERAUTH_PK_OK", 80: "GLOBAL_REQUEST", 81: "REQUEST_SUCCESS",
	82: "REQUEST_FAILURE", 90: "CHANNEL_OPEN", 91: "CHANNEL_OPEN_CONFIRMATION", 92: "CHANNEL_OPEN_FAILURE",
	93: "CHANNEL_WINDOW_ADJUST", 94: "CHANNEL_DATA", 95: "CHANNEL_EXTENDED_DATA", 96: "CHANNEL_EOF",
	97: "CHANNEL_CLOSE", 98: "CHANNEL_REQUEST", 99: "CHANNEL_SUCCESS", 100: "CHANNEL_FAILURE",
}

// sshDir is one direction's progress.
type sshDir struct {
	version   bool     // the identification line was seen
	lines     int      // lines before it
	encrypted bool     // NEWKEYS sent: packets are encrypted
	kexinit   []string // the algorithm name-lists of its last KEXINIT
	extra     int      // encrypted: bytes after the length and packet (tag or MAC), or sshNoLength
	cipher    string
}

// sshDecoder frames SSH: one message per identification line and per
// binary packet. Once a direction is encrypted its packets stay framed
// when the negotiated cipher leaves the length in the clear (AES-GCM, or an
// encrypt-then-MAC MAC); with chacha20-poly1305 (OpenSSH's default) or a
// MAC-then-encrypt MAC the lengths are encrypted too, and the bytes are
// reported as encrypted, not guessed at.
type sshDecoder struct {
	dirs [2]sshDir
}

var _ Decoder = (*sshDecoder)(nil)

func newSSH(Transport) Decoder { return &sshDecoder{} }

func sshErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "ssh", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Next implements Decoder.
func (d *sshDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	st := &d.dirs[dir]
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	if !st.version {
		return d.line(dir, b)
	}
	if st.encrypted && st.extra == sshNoLength {
		return Message{Protocol: "ssh", Summary: fmt.Sprintf("encrypted: %d B (%s hides packet lengths)", len(b), st.cipher),
			Fields: []Field{{"type", "encrypted"}, {"cipher", st.cipher}}}, len(b), nil
	}
	if len(b) < 4 {
		return Message{}, 0, ErrNeedMore
	}
	l := int(binary.BigEndian.Uint32(b))
	if l < 5 || l > sshMaxPacket {
		if st.encrypted {
			return Message{}, 0, sshErr(0, "encrypted packet length %d is implausible (%s)", l, st.cipher)
		}
		return Message{}, 0, sshErr(0, "packet length %d is implausible (5 to %d)", l, sshMaxPacket)
	}
	n := 4 + l
	if st.encrypted {
		n += st.extra
	}
	if len(b) < n {
		return Message{}, n, ErrNeedMore
	}
	m := Message{Protocol: "ssh", Parts: []Part{{Range: reassembly.ByteRange{End: 4}, Label: "length"}}}
	if st.encrypted {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: 4, End: int64(n)}, Label: "encrypted"})
		m.Summary = fmt.Sprintf("encrypted packet %d B (%s)", l, st.cipher)
		m.Fields = []Field{{"type", "encrypted"}, {"packet_length", strconv.Itoa(l)}, {"cipher", st.cipher}}
		return m, n, nil
	}
	pad := int(b[4])
	if pad+1 >= l {
		return Message{}, 0, sshErr(4, "padding length %d leaves no payload in a %d-byte packet", pad, l)
	}
	payload := b[5 : 4+l-pad]
	code := payload[0]
	name := sshMessages[code]
	if name == "" {
		name = "message " + strconv.Itoa(int(code))
	}
	m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: 4, End: int64(n)}, Label: "packet"})
	m.Fields = []Field{{"type", name}, {"packet_length", strconv.Itoa(l)}, {"message_code", strconv.Itoa(int(code))}}
	m.Summary = name
	switch code {
	case sshKexInit:
		st.kexinit = sshNameLists(payload[1:])
		if len(st.kexinit) >= 1 {
			m.Summary += " kex " + bTrunc(firstName(st.kexinit[0]), 40)
		}
	case sshNewKeys:
		d.newKeys(dir)
		m.Summary += ": encrypted from here (" + st.cipher + ")"
	case 1:
		if len(payload) >= 5 {
			m.Summary += " reason " + strconv.Itoa(int(binary.BigEndian.Uint32(payload[1:])))
		}
	}
	return m, n, nil
}

// line frames one identification line (or a line a server sends before it).
func (d *sshDecoder) line(dir reassembly.Direction, b []byte) (Message, int, error) {
	st := &d.dirs[dir]
	i := bytes.IndexByte(b[:min(len(b), sshMaxLine)], '\n')
	if i < 0 {
		if len(b) >= sshMaxLine {
			return Message{}, 0, sshErr(0, "no line end within %d bytes of the identification", sshMaxLine)
		}
		if dir == reassembly.ClientToServer && len(b) >= 4 && !bytes.HasPrefix(b, []byte("SSH-")) {
			return Message{}, 0, sshErr(0, "client identification does not start with \"SSH-\"")
		}
		return Message{}, 0, ErrNeedMore
	}
	text := strings.TrimRight(string(b[:i]), "\r")
	m := Message{Protocol: "ssh"}
	if strings.HasPrefix(text, "SSH-") {
		st.version = true
		m.Summary = "version " + strconv.Quote(bTrunc(text, 100))
		m.Fields = []Field{{"type", "version"}, {"version", text}}
		return m, i + 1, nil
	}
	if dir == reassembly.ClientToServer {
		return Message{}, 0, sshErr(0, "client identification does not start with \"SSH-\"")
	}
	st.lines++
	if st.lines > sshMaxLines {
		return Message{}, 0, sshErr(0, "more than %d lines before the server's identification", sshMaxLines)
	}
	m.Summary = "banner line " + strconv.Quote(bTrunc(text, 100))
	m.Fields = []Field{{"type", "banner"}}
	return m, i + 1, nil
}

// sshNameLists reads the name-lists of a KEXINIT after its 16-byte cookie.
func sshNameLists(b []byte) []string {
	if len(b) < 16 {
		return nil
	}
	b = b[16:]
	var out []string
	for i := 0; i < 10 && len(b) >= 4; i++ {
		l := int(binary.BigEndian.Uint32(b))
		if l > len(b)-4 {
			break
		}
		out = append(out, string(b[4:4+l]))
		b = b[4+l:]
	}
	return out
}

func firstName(list string) string {
	s, _, _ := strings.Cut(list, ",")
	return s
}

// sshNegotiate picks the client's first algorithm the server also lists.
func sshNegotiate(client, server string) string {
	srv := strings.Split(server, ",")
	for _, c := range strings.Split(client, ",") {
		if slices.Contains(srv, c) {
			return c
		}
	}
	return ""
}

// sshMACLens are the tag lengths of the MACs, by name without "-etm@openssh.com".
var sshMACLens = map[string]int{"hmac-sha1": 20, "hmac-sha1-96": 12, "hmac-sha2-256": 32, "hmac-sha2-512": 64,
	"hmac-md5": 16, "hmac-md5-96": 12, "umac-64@openssh.com": 8, "umac-128@openssh.com": 16, "umac-64": 8, "umac-128": 16, "none": 0}

// sshMACLen gives the length of a MAC's tag, -1 when unknown.
func sshMACLen(mac string) int {
	if l, ok := sshMACLens[strings.TrimSuffix(mac, "-etm@openssh.com")]; ok {
		return l
	}
	if l, ok := sshMACLens[strings.TrimSuffix(mac, "-etm@openssh.com")+"@openssh.com"]; ok {
		return l
	}
	return -1
}

// newKeys works out how direction dir's encrypted packets can be framed,
// from the algorithms both KEXINITs offered.
func (d *sshDecoder) newKeys(dir reassembly.Direction) {
	st := &d.dirs[dir]
	st.encrypted, st.extra, st.cipher = true, sshNoLength, "an unknown cipher"
	c, s := d.dirs[reassembly.ClientToServer].kexinit, d.dirs[reassembly.ServerToClient].kexinit
	if len(c) < 6 || len(s) < 6 {
		return
	}
	enc := sshNegotiate(c[2+int(dir)], s[2+int(dir)])
	mac := sshNegotiate(c[4+int(dir)], s[4+int(dir)])
	if enc == "" {
		return
	}
	st.cipher = enc
	switch {
	case strings.HasPrefix(enc, "aes128-gcm@") || strings.HasPrefix(enc, "aes256-gcm@"):
		st.extra = sshTagGCM
	case strings.HasPrefix(enc, "chacha20-poly1305@"):
		// the length is encrypted with its own key
	case strings.HasSuffix(mac, "-etm@openssh.com") || enc == "none":
		if l := sshMACLen(mac); l >= 0 {
			st.extra, st.cipher = l, enc+" + "+mac
		}
	default:
		st.cipher = enc + " + " + mac
	}
}
