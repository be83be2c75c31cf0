package pcapgen

import (
	"bytes"
	"fmt"
	"strings"
)

// TLS12Handshake returns the bytes of a TLS 1.2 connection that negotiates
// suite: ClientHello (client random 0x01 0x02 … 0x20), ServerHello,
// ServerHelloDone, then from the client a ChangeCipherSpec and one
// "encrypted" 48-byte handshake record; and a key log line for its client
// random. It is for tests of what is done with a suite that cannot be
// decrypted: nothing in it is really encrypted.
func TLS12Handshake(suite uint16) (c2s, s2c []byte, keylog string) {
	record := func(typ byte, body []byte) []byte {
		return append([]byte{typ, 3, 3, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	hs := func(typ byte, body []byte) []byte {
		return append([]byte{typ, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	}
	var cr [32]byte
	for i := range cr {
		cr[i] = byte(i + 1)
	}
	ch := append([]byte{3, 3}, cr[:]...)
	ch = append(ch, 0, 0, 2, byte(suite>>8), byte(suite), 1, 0)
	sh := append([]byte{3, 3}, bytes.Repeat([]byte{0x55}, 32)...)
	sh = append(sh, 0, byte(suite>>8), byte(suite), 0)
	c2s = record(22, hs(1, ch))
	s2c = append(record(22, hs(2, sh)), record(22, hs(14, nil))...)
	c2s = append(c2s, record(20, []byte{1})...)
	c2s = append(c2s, record(22, bytes.Repeat([]byte{0xa5}, 48))...)
	return c2s, s2c, fmt.Sprintf("CLIENT_RANDOM %x %s\n", cr, strings.Repeat("42", 48))
}
