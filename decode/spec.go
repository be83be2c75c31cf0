package decode

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// Spec is a parsed --framing value: which framer to use and its parameters.
// The zero value is invalid; make one with ParseSpec. Spec is comparable (the
// delimiter is kept in a string, not a slice) so callers can use it as a map
// key or compare it in tests.
type Spec struct {
	// Name is the framer: "auto", "raw", "line", "len", "fixed", or a protocol
	// name: "http1", "tls", "dns", "resp", "ws", "h2", "grpc", "pgsql", "mysql",
	// "mqtt", "kafka", "nats", "amqp", "ssh", "memcached", "smtp", "ftp", "pop3", "imap".
	Name string

	// Delim ends each message of Name "line". Empty means LF, with a CR just
	// before it accepted as part of the line ending (CRLF).
	Delim string

	// Length field of Name "len". The header is the Offset bytes before the
	// field plus the field itself. Without Include the field counts the bytes
	// after the header; with Include it counts the whole message. Adjust is
	// added to the field's value either way (for protocols whose length counts
	// a trailer, or some fixed part, too).
	Width        int  // field size in bytes: 1, 2, 4 or 8
	LittleEndian bool // byte order of the field; big-endian (network order) when false
	Offset       int  // bytes in the header before the field
	Adjust       int  // added to the field's value
	Include      bool // the value counts the whole message, header included

	// Size is the length of every message of Name "fixed", in bytes.
	Size int
}

// Limits on spec parameters. They are far above anything a real protocol
// uses; their job is to keep arithmetic on lengths well inside int64 and to
// catch typos such as "fixed:10000000000".
const (
	specMaxOffset = 1 << 16
	specMaxAdjust = 1 << 30
	specMaxFixed  = 1 << 30
	specMaxDelim  = 64
)

// specProtocols are the framing names that take no parameters, in the order
// the usage text lists them.
var specProtocols = []string{"auto", "raw", "http1", "tls", "dns", "resp", "ws", "h2", "grpc", "pgsql", "mysql", "mqtt", "kafka", "nats", "amqp", "ssh", "memcached", "smtp", "ftp", "pop3", "imap"}

// Framers lists the framings that frame messages (every --framing name but
// auto and raw), in the order the usage text lists them: what
// --hazard-framings accepts.
func Framers() []string {
	return append([]string{"line", "len", "fixed"}, specProtocols[2:]...)
}

// Completions lists --framing values for shell completion.
func Completions() []string {
	return append([]string{"auto", "raw", "line", "len:u32be", "len:u16be", "fixed:"}, specProtocols[2:]...)
}

// specWidths maps the len: width names to field size and byte order. u64le is
// accepted for symmetry although DESIGN.md lists only u64be.
var specWidths = []struct {
	name   string
	width  int
	little bool
}{
	{"u8", 1, false},
	{"u16be", 2, false}, {"u16le", 2, true},
	{"u32be", 4, false}, {"u32le", 4, true},
	{"u64be", 8, false}, {"u64le", 8, true},
}

const specUsage = "want auto, raw, line, line:<delim>, len:<width>[,offset=N][,adjust=N][,include], fixed:N, http1, tls, dns, resp, ws, h2, grpc, pgsql, mysql, mqtt, kafka, nats, amqp, ssh, memcached, smtp, ftp, pop3 or imap"

// ParseSpec parses a --framing value:
//
//	auto | raw | http1 | tls | dns | resp | ws | h2
//	line                  LF ends a message; a CR before it belongs to the line ending
//	line:<delim>          delim may use the escapes \n \r \t \0 \\ and \xHH; several bytes allowed
//	len:<width>[,offset=N][,adjust=N][,include]
//	                      width u8, u16be, u16le, u32be, u32le, u64be (or u64le)
//	fixed:N               every message is N bytes
//
// Errors are written for a person who typed the flag: they name the part that
// is wrong and list what would be accepted.
func ParseSpec(s string) (Spec, error) {
	name, arg, hasArg := strings.Cut(s, ":")
	switch name {
	case "line":
		if !hasArg {
			return Spec{Name: "line"}, nil
		}
		delim, err := specUnescape(arg)
		if err != nil {
			return Spec{}, fmt.Errorf("line: delimiter %q: %v", arg, err)
		}
		if delim == "" {
			return Spec{}, fmt.Errorf("line: empty delimiter: write line:\\n, line:\\r\\n, line:\\0, ... or just line")
		}
		if len(delim) > specMaxDelim {
			return Spec{}, fmt.Errorf("line: delimiter is %d bytes: at most %d", len(delim), specMaxDelim)
		}
		return Spec{Name: "line", Delim: delim}, nil
	case "len":
		if !hasArg || arg == "" {
			return Spec{}, fmt.Errorf("len: missing width: want len:u8, len:u16be, len:u32be, ... (for example len:u32be,offset=2)")
		}
		return specParseLen(arg)
	case "fixed":
		if !hasArg || arg == "" {
			return Spec{}, fmt.Errorf("fixed: missing size: want fixed:N, for example fixed:16")
		}
		n, err := strconv.Atoi(arg)
		if err != nil || n <= 0 || n > specMaxFixed {
			return Spec{}, fmt.Errorf("fixed: size %q: want a whole number of bytes from 1 to %d", arg, specMaxFixed)
		}
		return Spec{Name: "fixed", Size: n}, nil
	}
	for _, p := range specProtocols {
		if name == p {
			if hasArg {
				return Spec{}, fmt.Errorf("%s: takes no parameters (got %q)", name, arg)
			}
			return Spec{Name: name}, nil
		}
	}
	return Spec{}, fmt.Errorf("unknown framing %q: %s", s, specUsage)
}

func specParseLen(arg string) (Spec, error) {
	opts := strings.Split(arg, ",")
	sp := Spec{Name: "len"}
	for _, w := range specWidths {
		if opts[0] == w.name {
			sp.Width, sp.LittleEndian = w.width, w.little
		}
	}
	if sp.Width == 0 {
		return Spec{}, fmt.Errorf("len: unknown width %q: want u8, u16be, u16le, u32be, u32le, u64be or u64le", opts[0])
	}
	seen := map[string]bool{}
	for _, o := range opts[1:] {
		key, val, hasVal := strings.Cut(o, "=")
		if seen[key] {
			return Spec{}, fmt.Errorf("len: %s given twice", key)
		}
		seen[key] = true
		switch key {
		case "include":
			if hasVal {
				return Spec{}, fmt.Errorf("len: include takes no value (got %q)", o)
			}
			sp.Include = true
		case "offset":
			n, err := strconv.ParseInt(val, 0, 64)
			if !hasVal || err != nil || n < 0 || n > specMaxOffset {
				return Spec{}, fmt.Errorf("len: offset %q: want offset=N, N from 0 to %d (bytes before the length field)", val, specMaxOffset)
			}
			sp.Offset = int(n)
		case "adjust":
			n, err := strconv.ParseInt(val, 0, 64)
			if !hasVal || err != nil || n < -specMaxAdjust || n > specMaxAdjust {
				return Spec{}, fmt.Errorf("len: adjust %q: want adjust=N, N from %d to %d (added to the length value)", val, -specMaxAdjust, specMaxAdjust)
			}
			sp.Adjust = int(n)
		default:
			return Spec{}, fmt.Errorf("len: unknown option %q: want offset=N, adjust=N or include", o)
		}
	}
	return sp, nil
}

// String returns the canonical spelling of s, which ParseSpec accepts and
// which views print ("framing len:u32be,offset=2").
func (s Spec) String() string {
	switch s.Name {
	case "line":
		if s.Delim == "" {
			return "line"
		}
		return "line:" + specEscape(s.Delim)
	case "len":
		var b strings.Builder
		b.WriteString("len:")
		for _, w := range specWidths {
			if w.width == s.Width && w.little == s.LittleEndian {
				b.WriteString(w.name)
			}
		}
		if s.Offset != 0 {
			fmt.Fprintf(&b, ",offset=%d", s.Offset)
		}
		if s.Adjust != 0 {
			fmt.Fprintf(&b, ",adjust=%d", s.Adjust)
		}
		if s.Include {
			b.WriteString(",include")
		}
		return b.String()
	case "fixed":
		return "fixed:" + strconv.Itoa(s.Size)
	}
	return s.Name
}

// specUnescape decodes the escapes a shell user can type without quoting
// trouble: \n \r \t \0 \\ and \xHH. Any other byte stands for itself.
func specUnescape(s string) (string, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i == len(s) {
			return "", fmt.Errorf(`trailing \`)
		}
		switch s[i] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '0':
			out = append(out, 0)
		case '\\':
			out = append(out, '\\')
		case 'x':
			if i+2 >= len(s) {
				return "", fmt.Errorf(`\x needs two hex digits`)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf(`\x%s: want two hex digits`, s[i+1:i+3])
			}
			out = append(out, byte(v))
			i += 2
		default:
			return "", fmt.Errorf(`unknown escape \%c: want \n, \r, \t, \0, \\ or \xHH`, s[i])
		}
	}
	return string(out), nil
}

// specEscape is the inverse of specUnescape, used by Spec.String.
func specEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == 0:
			b.WriteString(`\0`)
		case c == '\\':
			b.WriteString(`\\`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// specSize formats a byte count the way summaries show it: "12 B", "1.2 KiB",
// "5.0 MiB". Binary units, because the numbers come from length fields that
// people compare with powers of two.
func specSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n) / unit
	for _, u := range []string{"KiB", "MiB", "GiB"} {
		if f < unit {
			return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
		}
		f /= unit
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " TiB"
}

// specPreviewLen returns how many bytes of b (at most max) a summary shows,
// cut at a UTF-8 character boundary when the text is UTF-8, and whether
// that is fewer than all of b. The bytes are shown raw: views escape them.
func specPreviewLen(b []byte, max int) (int, bool) {
	if len(b) <= max {
		return len(b), false
	}
	cut := max
	// Step back over at most 3 continuation bytes so a multi-byte character
	// is not split (a split one would be shown as escapes).
	for i := 0; i < 3 && cut > 0 && b[cut]&0xC0 == 0x80; i++ {
		cut--
	}
	if cut == 0 {
		cut = max
	}
	return cut, true
}

// specPreview returns specPreviewLen's bytes as a string, and whether b was cut.
func specPreview(b []byte, max int) (string, bool) {
	n, cut := specPreviewLen(b, max)
	return string(b[:n]), cut
}

// specWritePreview writes b as a quoted preview of at most max bytes to w:
// "hello" or "hello wo"... when cut. Summaries are built in one
// strings.Builder so that a message costs few allocations.
func specWritePreview(w *strings.Builder, b []byte, max int) {
	n, cut := specPreviewLen(b, max)
	w.WriteByte('"')
	w.Write(b[:n])
	w.WriteByte('"')
	if cut {
		w.WriteString("...")
	}
}

// specWriteSize writes specSize(n) to w.
func specWriteSize(w *strings.Builder, n int64) {
	var buf [24]byte
	if n < 1024 {
		w.Write(strconv.AppendInt(buf[:0], n, 10))
		w.WriteString(" B")
		return
	}
	w.WriteString(specSize(n))
}

// specUint reads an unsigned integer of width 1, 2, 4 or 8 bytes.
func specUint(b []byte, width int, little bool) uint64 {
	switch width {
	case 1:
		return uint64(b[0])
	case 2:
		if little {
			return uint64(binary.LittleEndian.Uint16(b))
		}
		return uint64(binary.BigEndian.Uint16(b))
	case 4:
		if little {
			return uint64(binary.LittleEndian.Uint32(b))
		}
		return uint64(binary.BigEndian.Uint32(b))
	}
	if little {
		return binary.LittleEndian.Uint64(b)
	}
	return binary.BigEndian.Uint64(b)
}
