package decode

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// MQTT 3.1, 3.1.1 and 5.0 control packets (OASIS mqtt-v3.1.1 §2, mqtt-v5.0 §2).
const (
	mqttMaxRemaining = 268_435_455 // four varint bytes
	mqttPreviewMax   = 32
)

var mqttTypes = [16]string{"reserved 0", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC", "PUBREL", "PUBCOMP",
	"SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"}

// mqttDecoder frames MQTT control packets: a type/flags byte, a variable
// length "remaining length", the rest. The protocol level from CONNECT
// (3.1.1 or 5) says whether packets carry properties.
type mqttDecoder struct {
	level byte // 3, 4 (3.1.1) or 5; 0 until CONNECT is seen
}

var _ Decoder = (*mqttDecoder)(nil)

var (
	_ Decoder  = (*mqttDecoder)(nil)
	_ Resyncer = (*mqttDecoder)(nil)
)

func newMQTT(Transport) Decoder { return &mqttDecoder{} }

func mqttErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "mqtt", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// mqttHeader parses the fixed header at the front of b: packet type, flags,
// remaining length and header size. hdr == 0 with a nil error means more
// bytes are needed.
func mqttHeader(b []byte) (typ, flags byte, remaining, hdr int, err *Error) {
	typ, flags = b[0]>>4, b[0]&0xf
	if typ == 0 {
		return 0, 0, 0, 0, mqttErr(0, "packet type 0 is reserved: not MQTT")
	}
	want := byte(0)
	if typ == 6 || typ == 8 || typ == 10 {
		want = 2
	}
	if typ == 3 {
		if flags&6 == 6 {
			return 0, 0, 0, 0, mqttErr(0, "PUBLISH with QoS 3: not MQTT")
		}
	} else if flags != want {
		return 0, 0, 0, 0, mqttErr(0, "%s with flags 0x%x (must be 0x%x)", mqttTypes[typ], flags, want)
	}
	mult := 1
	for i := 1; i <= 4; i++ {
		if i >= len(b) {
			return typ, flags, 0, 0, nil
		}
		remaining += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			return typ, flags, remaining, i + 1, nil
		}
		mult <<= 7
	}
	return 0, 0, 0, 0, mqttErr(1, "remaining length longer than 4 bytes")
}

// Next implements Decoder.
func (d *mqttDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	typ, flags, rem, hdr, perr := mqttHeader(b)
	if perr != nil {
		return Message{}, 0, perr
	}
	if hdr == 0 {
		return Message{}, 0, ErrNeedMore
	}
	n := hdr + rem
	if len(b) < n {
		return Message{}, n, ErrNeedMore
	}
	body := b[hdr:n]
	name := mqttTypes[typ]
	m := Message{Protocol: "mqtt", Fields: []Field{{"type", name}, {"remaining_length", strconv.Itoa(rem)}},
		Parts: []Part{{Range: reassembly.ByteRange{End: int64(hdr)}, Label: "fixed header"}}}
	if rem > 0 {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: int64(hdr), End: int64(n)}, Label: "body"})
	}
	m.Summary = name + d.detail(typ, flags, body, &m)
	return m, n, nil
}

// mqttString reads a 2-byte-length-prefixed string.
func mqttString(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	l := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < l {
		return "", nil, false
	}
	return string(b[2 : 2+l]), b[2+l:], true
}

// mqttSkipProps skips MQTT 5 properties (a varint length, then the bytes).
func mqttSkipProps(b []byte) ([]byte, bool) {
	l, mult := 0, 1
	for i := 0; i < 4 && i < len(b); i++ {
		l += int(b[i]&0x7f) * mult
		if b[i]&0x80 == 0 {
			if len(b)-i-1 < l {
				return nil, false
			}
			return b[i+1+l:], true
		}
		mult <<= 7
	}
	return nil, false
}

func (d *mqttDecoder) detail(typ, flags byte, body []byte, m *Message) string {
	id := func(b []byte) (string, []byte) {
		if len(b) < 2 {
			return "", b
		}
		return strconv.Itoa(int(binary.BigEndian.Uint16(b))), b[2:]
	}
	switch typ {
	case 1: // CONNECT
		proto, rest, ok := mqttString(body)
		if !ok || len(rest) < 4 {
			return ""
		}
		d.level = rest[0]
		ver := map[byte]string{3: "3.1", 4: "3.1.1", 5: "5.0"}[d.level]
		if ver == "" {
			ver = "level " + strconv.Itoa(int(d.level))
		}
		keep := binary.BigEndian.Uint16(rest[2:])
		rest = rest[4:]
		if d.level == 5 {
			if rest, ok = mqttSkipProps(rest); !ok {
				return " " + proto + " " + ver
			}
		}
		client, _, _ := mqttString(rest)
		m.Fields = append(m.Fields, Field{"protocol", proto + " " + ver}, Field{"client_id", client}, Field{"keepalive", strconv.Itoa(int(keep))})
		return fmt.Sprintf(" %s %s client %s keepalive %ds", proto, ver, strconv.Quote(bTrunc(client, 40)), keep)
	case 2: // CONNACK
		if len(body) < 2 {
			return ""
		}
		rc := body[1]
		m.Fields = append(m.Fields, Field{"return_code", strconv.Itoa(int(rc))})
		if rc == 0 {
			return " accepted"
		}
		return fmt.Sprintf(" refused (code %d)", rc)
	case 3: // PUBLISH
		qos := flags >> 1 & 3
		topic, rest, ok := mqttString(body)
		if !ok {
			return ""
		}
		var pid string
		if qos > 0 {
			pid, rest = id(rest)
		}
		if d.level == 5 {
			if rest, ok = mqttSkipProps(rest); !ok {
				rest = nil
			}
		}
		m.Fields = append(m.Fields, Field{"topic", topic}, Field{"qos", strconv.Itoa(int(qos))}, Field{"payload_length", strconv.Itoa(len(rest))})
		var w strings.Builder
		fmt.Fprintf(&w, " %s qos %d", strconv.Quote(bTrunc(topic, 60)), qos)
		if pid != "" {
			w.WriteString(" id " + pid)
		}
		if flags&1 != 0 {
			w.WriteString(" retain")
		}
		if flags&8 != 0 {
			w.WriteString(" dup")
		}
		fmt.Fprintf(&w, " %d B", len(rest))
		if len(rest) > 0 {
			w.WriteByte(' ')
			specWritePreview(&w, rest, mqttPreviewMax)
		}
		return w.String()
	case 4, 5, 6, 7, 9, 11: // acknowledgements carry the packet id
		if pid, _ := id(body); pid != "" {
			return " id " + pid
		}
	case 8, 10: // SUBSCRIBE, UNSUBSCRIBE
		pid, rest := id(body)
		if d.level == 5 {
			var ok bool
			if rest, ok = mqttSkipProps(rest); !ok {
				return " id " + pid
			}
		}
		var topics []string
		for len(rest) > 0 && len(topics) < 8 {
			t, r, ok := mqttString(rest)
			if !ok {
				break
			}
			topics, rest = append(topics, strconv.Quote(bTrunc(t, 40))), r
			if typ == 8 && len(rest) > 0 {
				rest = rest[1:] // options / requested QoS
			}
		}
		return " id " + pid + " " + strings.Join(topics, " ")
	case 14, 15:
		if len(body) > 0 && d.level == 5 {
			return fmt.Sprintf(" reason %d", body[0])
		}
	}
	return ""
}

// Resync implements Resyncer: the first offset with a valid fixed header
// whose packet ends at the end of b or where another valid header starts.
func (d *mqttDecoder) Resync(dir reassembly.Direction, b []byte) int {
	for i := range b {
		_, _, rem, hdr, err := mqttHeader(b[i:])
		if err != nil || hdr == 0 {
			continue
		}
		end := i + hdr + rem
		if end >= len(b) {
			return i
		}
		if _, _, _, h2, err2 := mqttHeader(b[end:]); err2 == nil && h2 > 0 || end+2 > len(b) {
			return i
		}
	}
	return -1
}
