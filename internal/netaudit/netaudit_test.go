//go:build linux

package netaudit

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testutil"
)

// helperEnv makes the test binary act as the traced program (see
// TestHelperProcess).
const helperEnv = "NETAUDIT_HELPER"

// TestHelperProcess is the program traced by TestTraceGo, not a test: with
// NETAUDIT_HELPER=1 it makes the connections its arguments name, prints
// "ready", waits for SIGTERM, makes one more and exits.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		return
	}
	args := flagArgs()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM)
	dial := func(network, addr string) {
		if addr == "" {
			return
		}
		if c, err := net.DialTimeout(network, addr, 5*time.Second); err == nil {
			c.Close()
		}
	}
	dial("tcp", args["tcp"])
	dial("tcp", args["tcp6"])
	dial("tcp", args["refused"])
	dial("unix", args["unix"])
	// A datagram to an address (sendto), and one through a connected
	// socket (a connect, then a send with no address).
	if u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err == nil {
		dst, _ := net.ResolveUDPAddr("udp", args["udp"])
		u.WriteTo([]byte("sendto"), dst)
		u.WriteMsgUDP([]byte("sendmsg"), nil, dst)
		u.Close()
	}
	if c, err := net.Dial("udp", args["udp"]); err == nil {
		c.Write([]byte("connected"))
		c.Close()
	}
	// Many threads at once, so that strace splits calls.
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() { dial("tcp", args["tcp"]) })
	}
	wg.Wait()
	fmt.Println("ready")
	<-stop
	dial("tcp", args["last"])
	os.Exit(0)
}

// flagArgs reads the helper's arguments, key=value after "--".
func flagArgs() map[string]string {
	m := map[string]string{}
	for i, a := range os.Args {
		if a != "--" {
			continue
		}
		for _, kv := range os.Args[i+1:] {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
	}
	return m
}

// listen opens a listener that accepts and closes connections until the
// test ends.
func listen(t *testing.T, network, addr string) net.Listener {
	return testutil.Serve(t, network, addr, func(net.Conn) {})
}

// TestTraceGo traces a Go program (this test binary, as the helper) that
// makes every kind of connection, stops it with Signal and checks that
// each one is in the trace, split calls included, and that Check reports
// all but the allowed one.
func TestTraceGo(t *testing.T) {
	tcp := listen(t, "tcp", "127.0.0.1:0").Addr().String()
	last := listen(t, "tcp", "127.0.0.1:0").Addr().String()
	sock := filepath.Join(t.TempDir(), "s")
	listen(t, "unix", sock)
	var tcp6 string
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		tcp6 = l.Addr().String()
		l.Close() // refused: the attempt must be seen all the same
	}
	refused := listen(t, "tcp", "127.0.0.1:0")
	refusedAddr := refused.Addr().String()
	refused.Close()
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "--",
		"tcp="+tcp, "tcp6="+tcp6, "refused="+refusedAddr, "unix="+sock, "udp="+udp.LocalAddr().String(), "last="+last)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	tr := Wrap(t, cmd)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() && sc.Text() != "ready" {
	}
	if err := tr.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("traced helper: %v (strace's status is the command's)", err)
	}
	if err := tr.Signal(syscall.SIGTERM); err == nil {
		t.Error("Signal to a command that has exited did not fail")
	}

	events, err := tr.Events()
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range events {
		if e.Unparsed {
			t.Errorf("unparsed: %s", e.Line)
		}
		count[e.Syscall+" "+e.Family+" "+e.Addr]++
	}
	want := map[string]int{
		"connect inet " + tcp:                      33,
		"connect inet " + refusedAddr:              1,
		"connect unix " + sock:                     1,
		"sendto inet " + udp.LocalAddr().String():  1,
		"sendmsg inet " + udp.LocalAddr().String(): 1,
		"connect inet " + udp.LocalAddr().String(): 1,
		"connect inet " + last:                     1,
	}
	if tcp6 != "" {
		want["connect inet6 "+tcp6] = 1
	}
	for k, n := range want {
		if count[k] != n {
			t.Errorf("%q seen %d times, want %d", k, count[k], n)
		}
	}
	b, _ := os.ReadFile(tr.File)
	if t.Failed() {
		t.Logf("trace:\n%s", b)
	}
	t.Logf("%d events, %d calls split by strace", len(events), strings.Count(string(b), " resumed>"))

	allowed := func(e Event) bool { return e.Syscall == "connect" && e.Addr == tcp }
	v := tr.Check(allowed)
	for _, e := range v {
		if allowed(e) {
			t.Errorf("Check reported an allowed event: %v", e)
		}
	}
	if len(v) < len(want)-1 {
		t.Errorf("Check reported %d events:\n%s", len(v), Format(v))
	}
	if s := Format(v); !strings.Contains(s, refusedAddr) || !strings.Contains(s, sock) {
		t.Errorf("Format leaves out the refused connection or the unix socket:\n%s", s)
	}
}

// TestTraceBash traces bash's /dev/tcp and /dev/udp: a C program's calls.
func TestTraceBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	tcp := listen(t, "tcp", "127.0.0.1:0").Addr().(*net.TCPAddr)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	up := udp.LocalAddr().(*net.UDPAddr).Port
	cmd := exec.Command(bash, "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d; echo hi >/dev/udp/127.0.0.1/%d", tcp.Port, up))
	tr := Wrap(t, cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	events, err := tr.Events()
	if err != nil {
		t.Fatal(err)
	}
	// Only the inet calls are compared: the C library may also try a
	// unix socket of its own (nscd's, to look up the user), which depends
	// on the host.
	var got []string
	for _, e := range events {
		if e.Family != "inet" && e.Family != "inet6" {
			continue
		}
		got = append(got, e.Syscall+" "+e.Family+" "+e.Addr+" = "+e.Result)
	}
	want := []string{
		"connect inet " + tcp.String() + " = 0",
		"connect inet " + udp.LocalAddr().String() + " = 0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckMissingTrace: a trace that was never written is a violation,
// not a clean run.
func TestCheckMissingTrace(t *testing.T) {
	tr := &Trace{File: filepath.Join(t.TempDir(), "none")}
	if v := tr.Check(func(Event) bool { return true }); len(v) != 1 || !v[0].Unparsed {
		t.Errorf("Check of a missing trace = %v", v)
	}
}
