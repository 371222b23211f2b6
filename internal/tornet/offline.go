package tornet

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// StartOffline starts one tor with DisableNetwork 1, which reaches no
// relay ever, and returns the address (127.0.0.1:PORT) of its control
// port, which takes cookie authentication. Tor still answers control
// commands there (ADD_ONION makes a service), for tests that need Tor's
// control port but no network, and start in well under a second. It
// skips t without tor (or fails it when LAFS_REQUIRE_TOR=1), and stops
// tor when t ends.
func StartOffline(t testing.TB) string {
	t.Helper()
	return StartOfflineTor(t).Addr
}

// Offline is a tor started by StartOfflineTor.
type Offline struct {
	// Addr is its control port, 127.0.0.1:PORT.
	Addr  string
	bin   string
	torrc string
	logf  string
	cmd   *exec.Cmd
}

// StartOfflineTor is StartOffline, returning the tor so that a test can
// restart it (Restart).
func StartOfflineTor(t testing.TB) *Offline {
	t.Helper()
	bin, err := lookPath("tor", "/usr/sbin/tor")
	if err != nil {
		if os.Getenv("LAFS_REQUIRE_TOR") == "1" {
			t.Fatalf("%s (LAFS_REQUIRE_TOR=1): %v", noTor, err)
		}
		t.Skipf("skipped: %s", noTor)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	o := &Offline{Addr: fmt.Sprintf("127.0.0.1:%d", port), bin: bin, torrc: filepath.Join(dir, "torrc"), logf: filepath.Join(dir, "tor.log")}
	conf := fmt.Sprintf("DisableNetwork 1\nSocksPort 0\nControlPort 127.0.0.1:%d\nCookieAuthentication 1\nDataDirectory %s\nLog notice file %s\n__OwningControllerProcess %d\n",
		port, filepath.Join(dir, "data"), o.logf, os.Getpid())
	if err := os.WriteFile(o.torrc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.stop)
	o.start(t)
	return o
}

// Restart stops the tor and starts it again on the same control port
// and data directory, as a Tor restarted by its operator: the onion
// services added through its control port are gone.
func (o *Offline) Restart(t testing.TB) {
	t.Helper()
	o.stop()
	o.start(t)
}

func (o *Offline) start(t testing.TB) {
	t.Helper()
	o.cmd = exec.Command(o.bin, "-f", o.torrc, "--ignore-missing-torrc")
	if err := o.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", o.Addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(o.logf)
			t.Fatalf("tor's control port never answered: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (o *Offline) stop() {
	if o.cmd != nil && o.cmd.Process != nil {
		o.cmd.Process.Kill()
		o.cmd.Wait()
	}
}
