//go:build linux

package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sockscope/sockscope/sockets"
)

// TestLiveProcesses runs the released binary's live --processes in a
// namespace with python3 programs of known pids: each connection's
// "opened" record names the client and server processes and fds; after the
// capture opens, only CAP_SYS_PTRACE is left. Connections that open and
// close at once (peer.py churn) are counted, to measure how many clients
// are caught before their socket is gone (the server side falls back to
// the listener, which stays).
func TestLiveProcesses(t *testing.T) {
	ns := newTestNS(t)
	server := startPeer(t, ns, "server", "8000", "128", "read")
	cmd, out, errOut := startCLI(t, ns, func(o, _ string) bool { return strings.Contains(o, `"type":"start"`) },
		"live", "lo", "--format", "json", "--processes", "-f", "tcp port 8000")
	if st := procStatus(t, cmd.Process.Pid); st["CapEff"] != "0000000000080000" || st["CapPrm"] != "0000000000080000" || st["NoNewPrivs"] != "1" {
		t.Errorf("capabilities after the capture opened: %v; want only CAP_SYS_PTRACE (bit 19)", st)
	}
	if !strings.Contains(out.String(), `"privileges":"capabilities dropped except CAP_SYS_PTRACE"`) {
		t.Errorf("start record: %s", out)
	}
	client := startPeer(t, ns, "client", "8000", "2", "100")
	const churn = 20
	startPeer(t, ns, "churn", "8000", fmt.Sprint(churn))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out.waitFor(ctx, func(s string) bool { return strings.Count(s, `"event":"opened"`) >= 2+churn })
	if code := interrupt(t, cmd); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	type opened struct {
		Event  string       `json:"event"`
		Client string       `json:"client"`
		CP     *sockets.End `json:"client_process"`
		SP     *sockets.End `json:"server_process"`
	}
	var held, short, shortClient, shortServer int
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var r opened
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Event != "opened" {
			continue
		}
		if r.CP != nil && r.CP.PID == client {
			held++
			if r.CP.Command != "python3" || r.CP.FD < 3 || r.CP.FD > 4 || r.SP == nil || r.SP.PID != server || r.SP.Command != "python3" || r.SP.FD < 3 {
				t.Errorf("held connection %s: client %+v server %+v; want python3[%d] fd 3 or 4 → python3[%d]", r.Client, r.CP, r.SP, client, server)
			}
			continue
		}
		short++
		if r.CP != nil {
			shortClient++
		}
		if r.SP != nil && r.SP.PID == server {
			shortServer++
		}
	}
	if held != 2 {
		t.Errorf("%d opened records name the client python3[%d], want 2:\n%s", held, client, out)
	}
	if short != churn || shortServer != churn {
		t.Errorf("%d short connections seen, %d with the server named; want %d", short, shortServer, churn)
	}
	t.Logf("short connections: %d of %d clients named before their socket closed; the server named for %d (listener fallback)", shortClient, churn, shortServer)
}
