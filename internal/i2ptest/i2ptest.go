// Package i2ptest starts an I2P router (Debian's i2pd) for tests, cut off
// from the public I2P network: no reseeding (empty reseed URLs), its only
// transport (NTCP2) bound to 127.0.0.1, SSU2, UPnP, the address-book
// subscriptions, the web console and the proxies off, and a network ID of
// its own, so that it would not talk to a public router even if it met
// one. Its SAM bridge listens on 127.0.0.1.
//
// One router alone builds zero-hop tunnels, and two SAM sessions on it
// reach each other when their sessions use SessionOptions.
package i2ptest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/testutil"
)

// SessionOptions are the I2CP options (for SAM's SESSION CREATE, or lafs's
// [i2p] lafs.sam-options) under which sessions on one router reach each other:
// zero-hop tunnels, and a LeaseSet of the original type, since i2pd 2.45
// misreads the newer type when it looks up one of its own destinations.
var SessionOptions = []string{
	"inbound.length=0", "outbound.length=0",
	"inbound.quantity=1", "outbound.quantity=1",
	"i2cp.leaseSetType=1", "i2cp.leaseSetEncType=0",
}

// Router is a running i2pd.
type Router struct {
	// SAM is the SAM bridge's address, 127.0.0.1:PORT.
	SAM string
	dir string
	cmd *exec.Cmd
}

// SAMEndpoint is the SAM bridge as Tahoe's [i2p] sam.port writes it.
func (r *Router) SAMEndpoint() string { return "tcp:" + r.SAM }

const noI2P = "i2pd is not installed (Debian: apt-get install i2pd)"

// Need returns the path of i2pd, or skips t without it (fails it when
// LAFS_REQUIRE_I2P=1). Under -short it skips too, unless LAFS_HEAVY is
// set: a SAM session takes about 20 s to be ready, and scripts/test runs
// the I2P tests in its heavy pass.
func Need(t testing.TB) string {
	t.Helper()
	required := os.Getenv("LAFS_REQUIRE_I2P") == "1"
	bin, err := exec.LookPath("i2pd")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/i2pd"); err2 == nil {
			bin, err = "/usr/sbin/i2pd", nil
		}
	}
	if err != nil {
		if required {
			t.Fatalf("%s (LAFS_REQUIRE_I2P=1)", noI2P)
		}
		t.Skipf("skipped: %s", noI2P)
	}
	if testing.Short() && os.Getenv("LAFS_HEAVY") == "" {
		t.Skip("skipped under -short: i2pd makes a SAM session ready in about 20 s")
	}
	return bin
}

// Start starts a router and waits until its SAM bridge answers. It stops
// the router when t ends, and prints the end of its log if t failed.
func Start(t testing.TB) *Router {
	t.Helper()
	bin := Need(t)
	dir := t.TempDir()
	ports, err := testutil.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	r := &Router{SAM: fmt.Sprintf("127.0.0.1:%d", ports[1]), dir: dir}
	conf := filepath.Join(dir, "i2pd.conf")
	if err := os.WriteFile(conf, []byte(config(dir, ports[0], ports[1])), 0o600); err != nil {
		t.Fatal(err)
	}
	tunnels := filepath.Join(dir, "tunnels.conf")
	if err := os.WriteFile(tunnels, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	r.cmd = exec.Command(bin, "--conf="+conf, "--tunconf="+tunnels, "--tunnelsdir="+filepath.Join(dir, "tunnels.d"),
		"--datadir="+filepath.Join(dir, "data"), "--pidfile="+filepath.Join(dir, "i2pd.pid"))
	r.cmd.Stdout, r.cmd.Stderr = nil, nil
	setDeathSignal(r.cmd)
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("i2ptest: starting i2pd: %v", err)
	}
	exited := make(chan struct{})
	go func() { r.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("i2pd's log ends:\n%s", r.logTail(40))
		}
	})
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := hello(r.SAM); err == nil {
			return r
		}
		select {
		case <-exited:
			t.Fatalf("i2ptest: i2pd exited: %v\n%s", r.cmd.ProcessState, r.logTail(40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("i2ptest: i2pd's SAM bridge never answered\n%s", r.logTail(40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// config is i2pd.conf for a router in dir with NTCP2 on ntcp and SAM on
// sam, both on 127.0.0.1.
func config(dir string, ntcp, sam int) string {
	return fmt.Sprintf(`log = file
logfile = %[1]s/i2pd.log
loglevel = info
host = 127.0.0.1
ipv4 = true
ipv6 = false
address4 = 127.0.0.1
netid = 77
nat = false
floodfill = true
notransit = true
[ntcp2]
enabled = true
published = true
port = %[2]d
[ssu2]
enabled = false
[http]
enabled = false
[httpproxy]
enabled = false
[socksproxy]
enabled = false
[sam]
enabled = true
address = 127.0.0.1
port = %[3]d
[bob]
enabled = false
[i2cp]
enabled = false
[i2pcontrol]
enabled = false
[upnp]
enabled = false
[reseed]
urls =
yggurls =
threshold = 0
[addressbook]
enabled = true
defaulturl =
subscriptions =
[nettime]
enabled = false
`, dir, ntcp, sam)
}

// hello checks that the SAM bridge at addr answers HELLO.
func hello(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("HELLO VERSION MIN=3.0 MAX=3.3\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.Contains(line, "RESULT=OK") {
		return fmt.Errorf("HELLO: %q", line)
	}
	return nil
}

func (r *Router) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "i2pd.log"))
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
