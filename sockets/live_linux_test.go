//go:build linux

package sockets

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const liveHowTo = "live sockets test: run as root with SOCKSCOPE_LIVE=1, e.g. sudo SOCKSCOPE_LIVE=1 go test -run Live -v ./sockets"

var nsSeq atomic.Int32

// inNS runs f on a locked OS thread inside a new network namespace with lo
// up, and removes the namespace after.
func inNS(t *testing.T, f func()) {
	t.Helper()
	if os.Getenv("SOCKSCOPE_LIVE") != "1" {
		t.Skip(liveHowTo)
	}
	name := fmt.Sprintf("sssock%d-%d", os.Getpid(), nsSeq.Add(1))
	for _, args := range [][]string{{"netns", "add", name}, {"-n", name, "link", "set", "lo", "up"}} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s (%s)", args, err, out, liveHowTo)
		}
		if args[0] == "netns" {
			t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
		}
	}
	runtime.LockOSThread()
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(orig)
	target, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if unix.Setns(orig, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
	}()
	f()
}

func fdOf(t *testing.T, c syscall.Conn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// TestLiveSnapshot: this test's own sockets, IPv4 and IPv6, TCP and UDP,
// are found with this process and the right fds; a second Take checks
// the cached owners instead of reading every process again.
func TestLiveSnapshot(t *testing.T) {
	inNS(t, func() {
		ln6, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln6.Close()
		c6, err := net.Dial("tcp6", ln6.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c6.Close()
		s6, err := ln6.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer s6.Close()
		c6.Write([]byte("hello"))
		u4, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer u4.Close()
		u6, err := net.ListenPacket("udp6", "[::1]:0")
		if err != nil {
			t.Fatal(err)
		}
		defer u6.Close()
		u6.WriteTo([]byte("datagram"), u6.LocalAddr()) // queued, never read

		want := map[string]int{ // "proto state local" → fd
			"tcp LISTEN " + ln6.Addr().String():          fdOf(t, ln6.(*net.TCPListener)),
			"tcp ESTABLISHED " + c6.LocalAddr().String(): fdOf(t, c6.(*net.TCPConn)),
			"tcp ESTABLISHED " + s6.LocalAddr().String(): fdOf(t, s6.(*net.TCPConn)),
			"udp UNCONN " + u4.LocalAddr().String():      fdOf(t, u4.(*net.UDPConn)),
			"udp UNCONN " + u6.LocalAddr().String():      fdOf(t, u6.(*net.UDPConn)),
		}
		sc := NewScanner()
		var snap *Snapshot
		for try := 0; try < 2; try++ {
			if snap, err = sc.Take(); err != nil {
				t.Fatal(err)
			}
			if try == 1 && snap.Scan.FullProcScan {
				t.Errorf("second snapshot read every process again: %+v", snap.Scan)
			}
			found := 0
			for _, s := range snap.Sockets {
				key := s.Proto + " " + s.State + " " + s.Local.String()
				fd, ok := want[key]
				if !ok {
					continue
				}
				found++
				if len(s.Owners) != 1 || s.Owners[0].PID != os.Getpid() || s.Owners[0].FD != fd || s.Inode == 0 {
					t.Errorf("%s: owners %+v inode %d; want pid %d fd %d", key, s.Owners, s.Inode, os.Getpid(), fd)
				}
				if s.Proto == "tcp" && s.State == "ESTABLISHED" && (s.TCP == nil || s.TCP.RTTMicros == 0 || s.TCP.Cwnd == 0) {
					t.Errorf("%s: tcp_info %+v", key, s.TCP)
				}
				if s.Local.String() == u6.LocalAddr().String() && s.RecvQ == 0 {
					t.Errorf("%s: the datagram sent to it is not queued", key)
				}
			}
			if found != len(want) {
				t.Errorf("found %d of %d sockets in %+v", found, len(want), snap.Sockets)
			}
		}
		if snap.Netstat == nil || len(snap.Missing) != 0 {
			t.Errorf("netstat %+v, missing %+v", snap.Netstat, snap.Missing)
		}
		ls := snap.Listeners()
		for _, l := range ls {
			if l.Proto == "tcp" && (len(l.Accepted) != 1 || l.Exposure() != LoopbackOnly) {
				t.Errorf("listener %s: %d accepted, exposure %s", l.Local, len(l.Accepted), l.Exposure())
			}
		}
		peer := snap.Peers()
		for i := range snap.Sockets {
			s := &snap.Sockets[i]
			if s.Proto == "tcp" && s.State == "ESTABLISHED" {
				if p := peer(s); p == nil || p.Local != s.Remote {
					t.Errorf("%s: peer %+v", s.Local, p)
				}
			}
		}
	})
}

// BenchmarkTake measures a snapshot with the owner cache warm.
func BenchmarkTake(b *testing.B) {
	sc := NewScanner()
	if _, err := sc.Take(); err != nil {
		b.Skip(err)
	}
	for b.Loop() {
		if _, err := sc.Take(); err != nil {
			b.Fatal(err)
		}
	}
}
