//go:build linux

package cmd

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// hostileTraffic makes, inside ns, the text of jsonAttackCapture on lo:
// an HTTP exchange whose path, Host and reason hold jsonSoft, a TLS
// ClientHello whose SNI holds jsonHostile, and a DNS query over UDP whose
// name does.
func hostileTraffic(ns *testNS) error {
	req := []byte("GET /" + jsonSoft + " HTTP/1.1\r\nHost: " + jsonSoft + "\r\n\r\n")
	resp := []byte("HTTP/1.1 200 " + jsonSoft + "\r\nContent-Length: " + fmt.Sprint(len(jsonHostile)) + "\r\n\r\n" + jsonHostile)
	var inner error
	err := ns.do(func() {
		if inner = tcpExchange(req, resp); inner != nil {
			return
		}
		if inner = tcpExchange(clientHello(jsonHostile+".example"), nil); inner != nil {
			return
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:53")
		if err != nil {
			inner = err
			return
		}
		defer u.Close()
		uc, err := net.Dial("udp", "127.0.0.1:53")
		if err != nil {
			inner = err
			return
		}
		defer uc.Close()
		uc.Write(dnsMsg(9, false, jsonHostile, "example"))
		u.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, from, err := u.ReadFrom(make([]byte, 512))
		if err != nil {
			inner = err
			return
		}
		u.WriteTo(dnsMsg(9, true, jsonHostile, "example"), from)
	})
	if err == nil {
		err = inner
	}
	return err
}

// TestEscapeLiveJSONViews: the JSON of the live views (live, read -i,
// timeline -i, follow -i) is as safe as the file views': valid, no raw
// ESC, DEL, U+009B or U+202E, and the strings decode to the values sent.
func TestEscapeLiveJSONViews(t *testing.T) {
	ns := newTestNS(t)
	sni := "Handshake ClientHello SNI=" + jsonHostile + ".example"
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"live", "lo", "--format", "json"}, []string{"GET /" + jsonSoft, sni, "SNI " + jsonHostile + ".example"}},
		{[]string{"read", "-i", "lo", "--format", "json"}, []string{"SNI " + jsonHostile + ".example"}},
		{[]string{"timeline", "-i", "lo", "--format", "json"}, []string{"#1 GET /" + jsonSoft, "#1 " + sni}},
		{[]string{"follow", "-i", "lo", "tcp/1", "--format", "json"}, []string{jsonHostile + ".example", sni}},
	}
	for _, tt := range tests {
		var out, errOut *syncBuffer
		var stop func() int
		if tt.args[0] == "live" {
			out, errOut, stop = runLiveCLI(t, ns, tt.args...)
		} else {
			out, errOut, stop, _ = runLiveView(t, ns, tt.args...)
		}
		if err := hostileTraffic(ns); err != nil {
			stop()
			t.Fatal(err)
		}
		if tt.args[0] != "read" && tt.args[0] != "follow" { // these write when the capture stops
			waitOut(t, out, func(s string) bool { return strings.Contains(s, `\u009b31m\u202eevil.example`) })
		} else {
			time.Sleep(200 * time.Millisecond)
		}
		if code := stop(); code != 0 {
			t.Errorf("%v: exit %d; stderr: %s", tt.args, code, errOut)
			continue
		}
		checkTerminalSafe(t, fmt.Sprintf("%v (stderr)", tt.args), errOut.String(), false)
		got := checkJSONSafe(t, fmt.Sprint(tt.args), out.String())
		for _, w := range tt.want {
			if !got[w] {
				t.Errorf("%v: no string decodes to %q:\n%s", tt.args, w, out)
			}
		}
	}
}
