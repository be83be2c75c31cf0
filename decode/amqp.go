package decode

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// AMQP 0-9-1 (the 0-9-1 specification, §4.2): the client first sends the
// protocol header "AMQP\x00\x00\x09\x01"; then both sides send frames: a
// type octet (1 method, 2 content header, 3 content body, 8 heartbeat), a
// 16-bit channel, a 32-bit payload size, the payload and the frame-end octet
// 0xCE. A method payload starts with its class and method ids.

const (
	amqpHeaderLen  = 7
	amqpFrameEnd   = 0xCE
	amqpMaxFrame   = 128 << 20 // RabbitMQ caps frame_max far lower (128 KiB by default)
	amqpPreviewMax = 32
	amqpProtoHdr   = "AMQP"
)

var amqpClasses = map[uint16]string{10: "Connection", 20: "Channel", 30: "Access", 40: "Exchange", 50: "Queue", 60: "Basic", 85: "Confirm", 90: "Tx"}

var amqpMethods = map[uint32]string{
	10<<16 | 10: "Start", 10<<16 | 11: "Start-Ok", 10<<16 | 20: "Secure", 10<<16 | 21: "Secure-Ok", 10<<16 | 30: "Tune",
	10<<16 | 31: "Tune-Ok", 10<<16 | 40: "Open", 10<<16 | 41: "Open-Ok", 10<<16 | 50: "Close", 10<<16 | 51: "Close-Ok",
	10<<16 | 60: "Blocked", 10<<16 | 61: "Unblocked", 10<<16 | 70: "Update-Secret", 10<<16 | 71: "Update-Secret-Ok",
	20<<16 | 10: "Open", 20<<16 | 11: "Open-Ok", 20<<16 | 20: "Flow", 20<<16 | 21: "Flow-Ok", 20<<16 | 40: "Close", 20<<16 | 41: "Close-Ok",
	30<<16 | 10: "Request", 30<<16 | 11: "Request-Ok",
	40<<16 | 10: "Declare", 40<<16 | 11: "Declare-Ok", 40<<16 | 20: "Delete", 40<<16 | 21: "Delete-Ok", 40<<16 | 30: "Bind",
	40<<16 | 31: "Bind-Ok", 40<<16 | 40: "Unbind", 40<<16 | 51: "Unbind-Ok",
	50<<16 | 10: "Declare", 50<<16 | 11: "Declare-Ok", 50<<16 | 20: "Bind", 50<<16 | 21: "Bind-Ok", 50<<16 | 30: "Purge",
	50<<16 | 31: "Purge-Ok", 50<<16 | 40: "Delete", 50<<16 | 41: "Delete-Ok", 50<<16 | 50: "Unbind", 50<<16 | 51: "Unbind-Ok",
	60<<16 | 10: "Qos", 60<<16 | 11: "Qos-Ok", 60<<16 | 20: "Consume", 60<<16 | 21: "Consume-Ok", 60<<16 | 30: "Cancel",
	60<<16 | 31: "Cancel-Ok", 60<<16 | 40: "Publish", 60<<16 | 50: "Return", 60<<16 | 60: "Deliver", 60<<16 | 70: "Get",
	60<<16 | 71: "Get-Ok", 60<<16 | 72: "Get-Empty", 60<<16 | 80: "Ack", 60<<16 | 90: "Reject", 60<<16 | 100: "Recover-Async",
	60<<16 | 110: "Recover", 60<<16 | 111: "Recover-Ok", 60<<16 | 120: "Nack",
	85<<16 | 10: "Select", 85<<16 | 11: "Select-Ok",
	90<<16 | 10: "Select", 90<<16 | 11: "Select-Ok", 90<<16 | 20: "Commit", 90<<16 | 21: "Commit-Ok", 90<<16 | 30: "Rollback", 90<<16 | 31: "Rollback-Ok",
}

// amqpMethodName is "Basic.Publish", or the numbers when unknown.
func amqpMethodName(class, method uint16) string {
	c, ok := amqpClasses[class]
	if !ok {
		c = "class " + strconv.Itoa(int(class))
	}
	if m, ok := amqpMethods[uint32(class)<<16|uint32(method)]; ok {
		return c + "." + m
	}
	return c + ".method " + strconv.Itoa(int(method))
}

type amqpDecoder struct {
	started bool // the client's protocol header was seen (or frames began)
}

var (
	_ Decoder  = (*amqpDecoder)(nil)
	_ Resyncer = (*amqpDecoder)(nil)
)

func newAMQP(Transport) Decoder { return &amqpDecoder{} }

func amqpErr(off int, format string, args ...any) *Error {
	return &Error{Protocol: "amqp", Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Next implements Decoder.
func (d *amqpDecoder) Next(dir reassembly.Direction, b []byte, atEOF bool) (Message, int, error) {
	if len(b) == 0 {
		return Message{}, 0, ErrNeedMore
	}
	if dir == reassembly.ClientToServer && !d.started && b[0] == 'A' {
		k := min(len(b), 4)
		if string(b[:k]) != amqpProtoHdr[:k] {
			return Message{}, 0, amqpErr(0, "not an AMQP protocol header")
		}
		if len(b) < 8 {
			return Message{}, 8, ErrNeedMore
		}
		d.started = true
		ver := fmt.Sprintf("%d-%d-%d", b[5], b[6], b[7])
		if b[4] != 0 {
			ver = fmt.Sprintf("%d %d-%d-%d", b[4], b[5], b[6], b[7])
		}
		return Message{Protocol: "amqp", Summary: "protocol header AMQP " + ver,
			Fields: []Field{{"type", "protocol header"}, {"version", ver}},
			Parts:  []Part{{reassembly.ByteRange{End: 8}, "protocol header"}}}, 8, nil
	}
	typ := b[0]
	if typ != 1 && typ != 2 && typ != 3 && typ != 8 {
		return Message{}, 0, amqpErr(0, "frame type %d (want 1 method, 2 header, 3 body or 8 heartbeat)", typ)
	}
	if len(b) < amqpHeaderLen {
		return Message{}, 0, ErrNeedMore
	}
	ch := binary.BigEndian.Uint16(b[1:])
	size := int64(binary.BigEndian.Uint32(b[3:]))
	if size > amqpMaxFrame {
		return Message{}, 0, amqpErr(3, "implausible frame size %d", size)
	}
	n := amqpHeaderLen + int(size) + 1
	if len(b) < n {
		return Message{}, n, ErrNeedMore
	}
	if b[n-1] != amqpFrameEnd {
		return Message{}, 0, amqpErr(n-1, "frame end 0x%02x after a %d-byte payload (want 0xce)", b[n-1], size)
	}
	if dir == reassembly.ClientToServer {
		d.started = true
	}
	p := b[amqpHeaderLen : n-1]
	m := Message{Protocol: "amqp",
		Fields: []Field{{"type", ""}, {"channel", strconv.Itoa(int(ch))}, {"length", strconv.FormatInt(size, 10)}},
		Parts:  []Part{{reassembly.ByteRange{End: amqpHeaderLen}, "frame header"}}}
	if size > 0 {
		m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: amqpHeaderLen, End: int64(n - 1)}, "payload"})
	}
	m.Parts = append(m.Parts, Part{reassembly.ByteRange{Start: int64(n - 1), End: int64(n)}, "frame end"})
	var w strings.Builder
	switch typ {
	case 1:
		m.Fields[0].Value = "method"
		if len(p) < 4 {
			fmt.Fprintf(&w, "method frame ch %d (too short for class and method)", ch)
			break
		}
		class, method := binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:])
		name := amqpMethodName(class, method)
		m.Fields = append(m.Fields, Field{"class", strconv.Itoa(int(class))}, Field{"method", strconv.Itoa(int(method))}, Field{"name", name})
		fmt.Fprintf(&w, "%s ch %d", name, ch)
		w.WriteString(amqpArgs(class, method, p[4:], &m))
	case 2:
		m.Fields[0].Value = "content header"
		if len(p) < 14 {
			fmt.Fprintf(&w, "content header ch %d (too short)", ch)
			break
		}
		class, body := binary.BigEndian.Uint16(p), binary.BigEndian.Uint64(p[4:])
		c := amqpClasses[class]
		if c == "" {
			c = "class " + strconv.Itoa(int(class))
		}
		m.Fields = append(m.Fields, Field{"class", strconv.Itoa(int(class))}, Field{"body_size", strconv.FormatUint(body, 10)})
		fmt.Fprintf(&w, "content header ch %d %s body %d B", ch, c, body)
	case 3:
		m.Fields[0].Value = "content body"
		fmt.Fprintf(&w, "content body ch %d %d B", ch, size)
		if size > 0 {
			w.WriteByte(' ')
			specWritePreview(&w, p, amqpPreviewMax)
		}
	case 8:
		m.Fields[0].Value = "heartbeat"
		fmt.Fprintf(&w, "heartbeat ch %d", ch)
	}
	m.Summary = w.String()
	return m, n, nil
}

// amqpShortStr reads a short string (an octet length, then the bytes).
func amqpShortStr(b []byte) (string, []byte, bool) {
	if len(b) < 1 || len(b)-1 < int(b[0]) {
		return "", nil, false
	}
	return string(b[1 : 1+int(b[0])]), b[1+int(b[0]):], true
}

// amqpArgs describes the arguments of the methods people look for.
func amqpArgs(class, method uint16, a []byte, m *Message) string {
	q := func(s string) string { return strconv.Quote(bTrunc(s, 60)) }
	add := func(name, v string) { m.Fields = append(m.Fields, Field{name, v}) }
	switch uint32(class)<<16 | uint32(method) {
	case 10<<16 | 10: // Connection.Start: version, server properties...
		if len(a) >= 2 {
			return fmt.Sprintf(" version 0-%d-%d", a[0], a[1])
		}
	case 10<<16 | 30, 10<<16 | 31: // Tune, Tune-Ok
		if len(a) >= 8 {
			return fmt.Sprintf(" channel_max %d frame_max %d heartbeat %d", binary.BigEndian.Uint16(a), binary.BigEndian.Uint32(a[2:]), binary.BigEndian.Uint16(a[6:]))
		}
	case 10<<16 | 40: // Connection.Open: virtual host
		if vh, _, ok := amqpShortStr(a); ok {
			add("vhost", vh)
			return " vhost " + q(vh)
		}
	case 10<<16 | 50, 20<<16 | 40: // Close: reply code and text, failing class and method
		if len(a) >= 2 {
			code := binary.BigEndian.Uint16(a)
			add("reply_code", strconv.Itoa(int(code)))
			text, rest, ok := amqpShortStr(a[2:])
			s := fmt.Sprintf(" %d", code)
			if ok {
				add("reply_text", text)
				s += " " + q(text)
				if len(rest) >= 4 && binary.BigEndian.Uint16(rest) != 0 {
					s += " (in " + amqpMethodName(binary.BigEndian.Uint16(rest), binary.BigEndian.Uint16(rest[2:])) + ")"
				}
			}
			return s
		}
	case 40<<16 | 10: // Exchange.Declare: reserved, exchange, type
		if len(a) >= 2 {
			if ex, rest, ok := amqpShortStr(a[2:]); ok {
				add("exchange", ex)
				s := " exchange " + q(ex)
				if t, _, ok := amqpShortStr(rest); ok {
					s += " type " + q(t)
				}
				return s
			}
		}
	case 50<<16 | 10, 50<<16 | 20, 50<<16 | 30, 50<<16 | 40, 60<<16 | 20, 60<<16 | 70: // queue first, after a reserved short
		if len(a) >= 2 {
			if queue, rest, ok := amqpShortStr(a[2:]); ok {
				add("queue", queue)
				s := " queue " + q(queue)
				if class == 50 && method == 20 { // Queue.Bind: exchange, routing key
					if ex, rest, ok := amqpShortStr(rest); ok {
						if rk, _, ok := amqpShortStr(rest); ok {
							s += " exchange " + q(ex) + " routing-key " + q(rk)
						}
					}
				}
				return s
			}
		}
	case 50<<16 | 11: // Queue.Declare-Ok: queue, message count, consumer count
		if queue, rest, ok := amqpShortStr(a); ok && len(rest) >= 8 {
			add("queue", queue)
			return fmt.Sprintf(" queue %s messages %d consumers %d", q(queue), binary.BigEndian.Uint32(rest), binary.BigEndian.Uint32(rest[4:]))
		}
	case 60<<16 | 40: // Basic.Publish: reserved, exchange, routing key
		if len(a) >= 2 {
			if ex, rest, ok := amqpShortStr(a[2:]); ok {
				if rk, _, ok := amqpShortStr(rest); ok {
					add("exchange", ex)
					add("routing_key", rk)
					return " exchange " + q(ex) + " routing-key " + q(rk)
				}
			}
		}
	case 60<<16 | 60, 60<<16 | 71: // Deliver (consumer tag first), Get-Ok: delivery tag, redelivered, exchange, routing key
		rest := a
		if method == 60 {
			var ok bool
			if _, rest, ok = amqpShortStr(a); !ok {
				return ""
			}
		}
		if len(rest) < 9 {
			return ""
		}
		tag := binary.BigEndian.Uint64(rest)
		add("delivery_tag", strconv.FormatUint(tag, 10))
		s := fmt.Sprintf(" delivery-tag %d", tag)
		if rest[8]&1 != 0 {
			s += " redelivered"
		}
		if ex, rest, ok := amqpShortStr(rest[9:]); ok {
			if rk, _, ok := amqpShortStr(rest); ok {
				add("exchange", ex)
				add("routing_key", rk)
				s += " exchange " + q(ex) + " routing-key " + q(rk)
			}
		}
		return s
	case 60<<16 | 80, 60<<16 | 90, 60<<16 | 120: // Ack, Reject, Nack: delivery tag
		if len(a) >= 8 {
			tag := binary.BigEndian.Uint64(a)
			add("delivery_tag", strconv.FormatUint(tag, 10))
			return fmt.Sprintf(" delivery-tag %d", tag)
		}
	case 60<<16 | 21, 60<<16 | 31: // Consume-Ok, Cancel-Ok: consumer tag
		if tag, _, ok := amqpShortStr(a); ok {
			return " consumer-tag " + q(tag)
		}
	}
	return ""
}

// Resync implements Resyncer: the first offset holding a frame header of a
// known type whose frame-end octet is where its size says, or whose frame
// runs past the end of b.
func (d *amqpDecoder) Resync(dir reassembly.Direction, b []byte) int {
	for i := 0; i+amqpHeaderLen <= len(b); i++ {
		t := b[i]
		if t != 1 && t != 2 && t != 3 && t != 8 {
			continue
		}
		size := int64(binary.BigEndian.Uint32(b[i+3:]))
		if size > amqpMaxFrame {
			continue
		}
		end := int64(i) + amqpHeaderLen + size
		if end >= int64(len(b)) || b[end] == amqpFrameEnd {
			return i
		}
	}
	return -1
}

// detectAMQP reports whether the client's first bytes are the AMQP
// protocol header, or the server's a Connection.Start method frame.
func detectAMQP(c2s, s2c []byte) (string, bool) {
	if len(c2s) >= 8 && string(c2s[:4]) == amqpProtoHdr && c2s[4] <= 1 {
		return fmt.Sprintf("AMQP protocol header (%d-%d-%d)", c2s[5], c2s[6], c2s[7]), true
	}
	if len(s2c) >= 11 && s2c[0] == 1 && s2c[1] == 0 && s2c[2] == 0 && binary.BigEndian.Uint32(s2c[7:]) == 10<<16|10 {
		return "server's first frame is AMQP Connection.Start", true
	}
	return "", false
}
