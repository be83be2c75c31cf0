// Package human words quantities for people: byte counts and durations,
// the same way in every view, finding and event (one formatter each, so
// that "1.2 MiB" and "12.3 ms" read alike wherever they appear).
package human

import (
	"fmt"
	"time"
)

// Bytes formats a byte count as "812 B", "5.0 KiB", "1.2 MiB", "3.4 GiB".
func Bytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// Duration formats a duration compactly: "0.021 ms", "12.3 ms", "1.204 s",
// and from 100 s on in whole seconds, "2m5s".
func Duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.3f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d < 100*time.Second:
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}
