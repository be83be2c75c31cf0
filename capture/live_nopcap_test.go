//go:build !pcap

package capture_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/sockscope/sockscope/capture"
)

// TestLibpcapNotBuilt checks that asking for libpcap in a build without
// -tags pcap fails before anything is opened (no root needed).
func TestLibpcapNotBuilt(t *testing.T) {
	if capture.HaveLibpcap {
		t.Fatal("HaveLibpcap in a build without -tags pcap")
	}
	want := capture.ErrNoLibpcap
	if runtime.GOOS != "linux" {
		want = capture.ErrLiveUnsupported
	}
	src, err := capture.OpenLive(t.Context(), "lo", capture.LiveOptions{Libpcap: true})
	if !errors.Is(err, want) {
		if src != nil {
			src.Close()
		}
		t.Fatalf("OpenLive with Libpcap: %v, want %v", err, want)
	}
}
