//go:build linux

package cmd

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The privilege tests run the built sockscope binary (CGO_ENABLED=0, as
// released) in a network namespace: dropping privileges is per process and
// for good, so it cannot happen inside the test binary.

// builtCLI builds ./sockscope into a directory removed after the test (the
// build cache makes the second build quick).
func builtCLI(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sockscope")
	cmd := exec.Command("go", "build", "-o", path, "./sockscope")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build sockscope: %v: %s", err, out)
	}
	return path
}

// startCLI runs the built binary inside ns and waits until ready holds for
// its stdout+stderr (the capture is open).
func startCLI(t *testing.T, ns *testNS, ready func(out, errOut string) bool, args ...string) (*exec.Cmd, *syncBuffer, *syncBuffer) {
	t.Helper()
	bin := builtCLI(t)
	out, errOut := newSyncBuffer(), newSyncBuffer()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name, bin}, args...)...) // ip execs bin: same pid
	cmd.Stdout, cmd.Stderr = out, errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	started := false
	for !started && ctx.Err() == nil {
		// Either buffer may change: poll both briefly.
		wctx, wcancel := context.WithTimeout(ctx, 50*time.Millisecond)
		errOut.waitFor(wctx, func(string) bool { return false })
		wcancel()
		started = ready(out.String(), errOut.String())
	}
	if !started {
		t.Fatalf("%v did not start; stdout %s; stderr %s", args, out, errOut)
	}
	return cmd, out, errOut
}

// procStatus reads the fields of /proc/PID/status.
func procStatus(t *testing.T, pid int) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		m[k] = strings.Join(strings.Fields(v), " ")
	}
	return m
}

// interrupt stops the CLI as Ctrl-C would and returns its exit code.
func interrupt(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no exit 10 s after SIGINT")
	}
	return -1
}

const noCaps = "0000000000000000"

// TestLivePrivilegesUser: with --user nobody, the capture opens as root,
// then the process runs as nobody with no capability left, and no way to
// regain one; it still captures, and its -w file is created as nobody.
func TestLivePrivilegesUser(t *testing.T) {
	ns := newTestNS(t)
	dir, err := os.MkdirTemp("", "sockscope-priv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777) // nobody writes the -w file here
	pcapng := filepath.Join(dir, "live.pcapng")
	cmd, out, errOut := startCLI(t, ns, func(o, _ string) bool { return strings.Contains(o, `"type":"start"`) },
		"live", "lo", "--format", "json", "--user", "nobody", "-w", pcapng)
	if !strings.Contains(out.String(), `"privileges":"running as nobody (uid 65534)"`) {
		t.Errorf("start record: %s", out)
	}
	st := procStatus(t, cmd.Process.Pid)
	for k, want := range map[string]string{"Uid": "65534 65534 65534 65534", "Gid": "65534 65534 65534 65534",
		"CapEff": noCaps, "CapPrm": noCaps, "CapInh": noCaps, "CapAmb": noCaps, "CapBnd": noCaps, "NoNewPrivs": "1"} {
		if st[k] != want {
			t.Errorf("/proc/%d/status %s: %q, want %q", cmd.Process.Pid, k, st[k], want)
		}
	}
	req, resp, err := loTraffic(ns, 3000)
	if err != nil {
		t.Fatal(err)
	}
	waitOut(t, out, func(s string) bool {
		return strings.Contains(s, `"event":"closed"`) && strings.Count(s, `"event":"datagram"`) >= 2
	})
	if code := interrupt(t, cmd); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	if !strings.Contains(out.String(), `"type":"capture"`) || !strings.Contains(out.String(), `"summary":"GET /hello"`) {
		t.Errorf("capture as nobody:\n%s", out)
	}
	fi, err := os.Stat(pcapng)
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
		t.Errorf("-w file owned by uid %d, want 65534 (created after the switch)", uid)
	}
	for d, want := range map[string][]byte{"c2s": req, "s2c": resp} {
		got, stderr, code := runCLI(t, nil, "follow", pcapng, "tcp/0", "--format", "raw", "--dir", d)
		if code != 0 || got != string(want) {
			t.Errorf("-w file, %s: exit %d, %d bytes, want the %d the test wrote; %s", d, code, len(got), len(want), stderr)
		}
	}
}

// TestLivePrivilegesDropCaps: without --user, root keeps its uid but drops
// every capability once the capture is open, and the capture still works.
func TestLivePrivilegesDropCaps(t *testing.T) {
	ns := newTestNS(t)
	cmd, out, errOut := startCLI(t, ns, func(_, e string) bool { return strings.Contains(e, "listening on lo") },
		"follow", "-i", "lo", "-f", "tcp", "tcp/0", "--format", "raw", "--dir", "s2c")
	if !strings.Contains(errOut.String(), "capabilities dropped") {
		t.Errorf("stderr: %s", errOut)
	}
	st := procStatus(t, cmd.Process.Pid)
	for k, want := range map[string]string{"Uid": "0 0 0 0", "CapEff": noCaps, "CapPrm": noCaps, "CapInh": noCaps, "CapAmb": noCaps,
		"CapBnd": noCaps, "NoNewPrivs": "1"} {
		if st[k] != want {
			t.Errorf("/proc/%d/status %s: %q, want %q", cmd.Process.Pid, k, st[k], want)
		}
	}
	_, resp, err := loTraffic(ns, 3000)
	if err != nil {
		t.Fatal(err)
	}
	waitOut(t, errOut, func(s string) bool { return strings.Contains(s, "Ctrl-C shows it") })
	if code := interrupt(t, cmd); code != 0 {
		t.Fatalf("exit %d; stderr: %s", code, errOut)
	}
	if out.String() != string(resp) {
		t.Errorf("follow -i after dropping capabilities: %d bytes, want the %d the server wrote; stderr %s", len(out.String()), len(resp), errOut)
	}
}
