package human

import (
	"testing"
	"time"
)

func TestWords(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{Bytes(0), "0 B"}, {Bytes(1023), "1023 B"}, {Bytes(1024), "1.0 KiB"}, {Bytes(5 << 20), "5.0 MiB"}, {Bytes(3 << 30), "3.0 GiB"},
		{Duration(21 * time.Microsecond), "0.021 ms"}, {Duration(12300 * time.Microsecond), "12.3 ms"},
		{Duration(1204 * time.Millisecond), "1.204 s"}, {Duration(125 * time.Second), "2m5s"},
		{Duration(-3 * time.Millisecond), "-3.000 ms"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
