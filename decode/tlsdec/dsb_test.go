package tlsdec

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
)

// dsbBodies walks a pcapng file's blocks and returns the bodies of its
// Decryption Secrets Blocks and the section's byte order (test helper: the
// capture reader is the lead's to hook up).
func dsbBodies(t *testing.T, data []byte) ([][]byte, binary.ByteOrder) {
	t.Helper()
	var order binary.ByteOrder = binary.LittleEndian
	var out [][]byte
	for len(data) >= 12 {
		if binary.LittleEndian.Uint32(data) == 0x0A0D0D0A { // section header: byte-order magic follows
			if binary.BigEndian.Uint32(data[8:]) == 0x1A2B3C4D {
				order = binary.BigEndian
			} else {
				order = binary.LittleEndian
			}
		}
		typ, n := order.Uint32(data), int(order.Uint32(data[4:]))
		if n < 12 || n > len(data) {
			t.Fatalf("bad block length %d", n)
		}
		if typ == DSBBlockType {
			out = append(out, data[8:n-4])
		}
		data = data[n:]
	}
	return out, order
}

// TestEmbeddedSecrets: the key log that editcap --inject-secrets put in a
// pcapng decrypts its connection to tshark's bytes.
func TestEmbeddedSecrets(t *testing.T) {
	const name = "testdata/50_tls13_embedded_secrets"
	data, err := os.ReadFile(name + ".pcapng")
	if err != nil {
		t.Fatal(err)
	}
	bodies, order := dsbBodies(t, data)
	if len(bodies) != 1 {
		t.Fatalf("%d DSBs, want 1", len(bodies))
	}
	kl := &KeyLog{}
	if ok, err := kl.AddDSB(bodies[0], order); !ok || err != nil {
		t.Fatalf("AddDSB: %v %v", ok, err)
	}
	if st := kl.Stats(); st.Secrets != 4 || kl.Len() != 1 {
		t.Fatalf("stats %+v len %d", st, kl.Len())
	}
	segs := tcpSegments(t, name+".pcapng", 0)
	_, res := run(kl, segs, feeders[0])
	for _, e := range res.errs {
		t.Error(e)
	}
	for d, ext := range []string{".tshark.c2s", ".tshark.s2c"} {
		want, err := os.ReadFile(name + ext)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(res.app[d], want) {
			t.Errorf("direction %d: %d bytes, tshark %d", d, len(res.app[d]), len(want))
		}
	}
}
