package spillbuf

import (
	"bytes"
	"fmt"
	"testing"
)

func TestBufferSpillsAndReadsBack(t *testing.T) {
	for _, limit := range []int{0, 10, 1 << 20} {
		b := New(limit)
		var want bytes.Buffer
		for i := range 5000 {
			line := fmt.Sprintf("line %d\n", i)
			b.Write([]byte(line))
			want.WriteString(line)
		}
		if (b.f != nil) != (want.Len() > limit) {
			t.Errorf("limit %d: spilled %v for %d bytes", limit, b.f != nil, want.Len())
		}
		for range 2 { // WriteTo twice: the same bytes
			var got bytes.Buffer
			if _, err := b.WriteTo(&got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want.Bytes()) {
				t.Fatalf("limit %d: read back %d bytes, want %d", limit, got.Len(), want.Len())
			}
		}
		if b.Len() != int64(want.Len()) || b.Err() != nil {
			t.Errorf("limit %d: Len %d, Err %v", limit, b.Len(), b.Err())
		}
		b.Write([]byte("more"))
		var got bytes.Buffer
		b.WriteTo(&got)
		if !bytes.HasSuffix(got.Bytes(), []byte("line 4999\nmore")) {
			t.Errorf("limit %d: a write after WriteTo was not appended", limit)
		}
		if err := b.Close(); err != nil {
			t.Error(err)
		}
	}
}
