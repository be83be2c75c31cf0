package decode

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/sockscope/sockscope/reassembly"
)

// wsMaxPayload is the largest frame payload taken as real. The 64-bit length
// form allows 2^63; anything over 1 TiB is a misframed stream.
const wsMaxPayload = 1 << 40

// wsPreviewMax is how many bytes of a text payload a summary shows.
const wsPreviewMax = 32

// WebSocket opcodes (RFC 6455 §5.2).
const (
	wsContinuation = 0x0
	wsText         = 0x1
	wsBinary       = 0x2
	wsClose        = 0x8
	wsPing         = 0x9
	wsPong         = 0xA
)

// wsOpNames names the opcodes; "" marks a reserved one.
var wsOpNames = [16]string{
	wsContinuation: "continuation",
	wsText:         "text",
	wsBinary:       "binary",
	wsClose:        "close",
	wsPing:         "ping",
	wsPong:         "pong",
}

// wsDecoder frames RFC 6455 frames, one Message per frame, both directions.
// A message sent in fragments is one frame per Message too (that is where
// its bytes are), but each fragment carries the data message's number in
// its direction and its part number, so a reader can put the whole message
// back together; control frames may come between fragments and do not
// count. The HTTP handshake before the frames is the HTTP/1 framer's job
// (newWS wraps this in one).
type wsDecoder struct {
	msgs [2]int    // data messages started in each direction
	frag [2]wsFrag // fragmented data message in progress in each direction
}

// wsFrag is a fragmented data message in progress.
type wsFrag struct {
	op    byte // wsText or wsBinary; 0 when no message is in progress
	parts int  // fragments seen so far
}

var _ Decoder = (*wsDecoder)(nil)

// newWS returns a WebSocket framer for one connection. A direction that
// starts with an HTTP message (the upgrade handshake) is framed as HTTP/1
// until the upgrade, and as WebSocket frames after it; a direction picked up
// after the handshake is frames from its first byte.
func newWS(t Transport) Decoder {
	d := &httpDecoder{t: t}
	d.mode = [2]httpMode{httpModeWSOrHTTP, httpModeWSOrHTTP}
	return d
}

// Next returns the frame at the front of b. With ErrNeedMore it returns the
// frame's total length once the header (up to 14 bytes) is in.
func (d *wsDecoder) Next(dir reassembly.Direction, b []byte, _ bool) (Message, int, error) {
	di := dir & 1
	if len(b) < 2 {
		return Message{}, 0, ErrNeedMore
	}
	fin := b[0]&0x80 != 0
	rsv := b[0] & 0x70
	op := b[0] & 0x0F
	masked := b[1]&0x80 != 0
	opName := wsOpNames[op]
	if opName == "" {
		return Message{}, 0, &Error{Protocol: "ws", Offset: 0, Reason: fmt.Sprintf("reserved opcode 0x%X", op)}
	}
	control := op >= 0x8
	if control && !fin {
		return Message{}, 0, &Error{Protocol: "ws", Offset: 0, Reason: fmt.Sprintf("%s frame without FIN: control frames cannot be fragmented", opName)}
	}
	plen := uint64(b[1] & 0x7F)
	hdr := 2
	switch plen {
	case 126:
		hdr = 4
	case 127:
		hdr = 10
	}
	if control && plen > 125 {
		return Message{}, 0, &Error{Protocol: "ws", Offset: 1, Reason: fmt.Sprintf("%s frame with a long payload: control payloads are at most 125 bytes", opName)}
	}
	if len(b) < hdr {
		return Message{}, 0, ErrNeedMore
	}
	switch plen {
	case 126:
		plen = uint64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		plen = binary.BigEndian.Uint64(b[2:10])
		if plen > wsMaxPayload {
			return Message{}, 0, &Error{Protocol: "ws", Offset: 2, Reason: fmt.Sprintf("payload length %d is implausible (over %s)", plen, specSize(wsMaxPayload))}
		}
	}
	var key []byte
	if masked {
		hdr += 4
		if len(b) < hdr {
			return Message{}, 0, ErrNeedMore
		}
		key = b[hdr-4 : hdr]
	}
	total := int64(hdr) + int64(plen)
	if int64(len(b)) < total {
		return Message{}, int(total), ErrNeedMore
	}
	n := int(total)
	payload := b[hdr:n]

	m := Message{Protocol: "ws", Parts: make([]Part, 1, 2), Fields: make([]Field, 4, 8)}
	m.Parts[0] = Part{Range: reassembly.ByteRange{End: int64(hdr)}, Label: "header"}
	if len(payload) > 0 {
		m.Parts = append(m.Parts, Part{Range: reassembly.ByteRange{Start: int64(hdr), End: total}, Label: "payload"})
	}
	masking := "no"
	if masked {
		masking = "yes"
	}
	m.Fields[0] = Field{"opcode", opName}
	m.Fields[1] = Field{"fin", strconv.FormatBool(fin)}
	m.Fields[2] = Field{"masked", masking}
	m.Fields[3] = Field{"payload_length", strconv.Itoa(len(payload))}
	if rsv != 0 {
		// RSV1 is permessage-deflate's "compressed" bit (RFC 7692).
		m.Fields = append(m.Fields, Field{"rsv", fmt.Sprintf("%03b", rsv>>4)})
	}

	var w strings.Builder
	w.Grow(64 + wsPreviewMax)
	w.WriteString("WS ")
	switch {
	case control:
		w.WriteString(opName)
		switch {
		case op == wsClose && len(payload) >= 2:
			var code [2]byte
			wsUnmask(code[:], payload[:2], key, 0)
			c := strconv.Itoa(int(binary.BigEndian.Uint16(code[:])))
			w.WriteString(" " + c)
			m.Fields = append(m.Fields, Field{"close_code", c})
			if len(payload) > 2 {
				reason := make([]byte, len(payload)-2) // at most 123 bytes
				wsUnmask(reason, payload[2:], key, 2)
				w.WriteString(" ")
				specWritePreview(&w, reason, 125)
				m.Fields = append(m.Fields, Field{"close_reason", string(reason)})
			}
		case op == wsClose && len(payload) == 1:
			w.WriteString(" (invalid 1-byte payload)")
		case len(payload) > 0:
			w.WriteByte(' ')
			specWriteSize(&w, int64(len(payload)))
		}

	case op == wsContinuation && d.frag[di].op == 0:
		w.WriteString("continuation ")
		specWriteSize(&w, int64(len(payload)))
		if fin {
			w.WriteString(" (final; start of message not seen)")
		} else {
			w.WriteString(" (start of message not seen)")
		}

	case op == wsContinuation:
		f := &d.frag[di]
		f.parts++
		part := strconv.Itoa(f.parts)
		w.WriteString("continuation of " + wsOpNames[f.op] + " message (part " + part)
		if fin {
			w.WriteString(", final")
		}
		w.WriteString(") ")
		specWriteSize(&w, int64(len(payload)))
		m.Fields = append(m.Fields, Field{"message", strconv.Itoa(d.msgs[di])}, Field{"part", part})
		if fin {
			m.Fields = append(m.Fields, Field{"final", "true"})
			*f = wsFrag{}
		}

	default:
		// A text or binary frame starts a data message (if one was still in
		// progress, its end was lost or the peer broke the protocol: start anew).
		d.msgs[di]++
		m.Fields = append(m.Fields, Field{"message", strconv.Itoa(d.msgs[di])})
		w.WriteString(opName + " ")
		specWriteSize(&w, int64(len(payload)))
		if op == wsText && rsv&0x40 == 0 && len(payload) > 0 {
			// A few bytes past the limit, so the cut can respect UTF-8.
			var buf [wsPreviewMax + 4]byte
			p := buf[:min(len(payload), len(buf))]
			wsUnmask(p, payload, key, 0)
			w.WriteByte(' ')
			specWritePreview(&w, p, wsPreviewMax)
		}
		if rsv&0x40 != 0 {
			w.WriteString(" (compressed)")
		}
		if fin {
			d.frag[di] = wsFrag{}
		} else {
			d.frag[di] = wsFrag{op: op, parts: 1}
			w.WriteString(" (part 1, more follow)")
			m.Fields = append(m.Fields, Field{"part", "1"})
		}
	}
	m.Summary = w.String()
	return m, n, nil
}

// wsUnmask copies len(dst) bytes of p to dst, unmasked with key (RFC 6455
// §5.3), p starting at payload offset off. A nil key means no masking.
func wsUnmask(dst, p, key []byte, off int) {
	copy(dst, p)
	if key != nil {
		for i := range dst {
			dst[i] ^= key[(off+i)&3]
		}
	}
}
