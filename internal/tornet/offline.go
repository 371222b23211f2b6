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
	torrc := filepath.Join(dir, "torrc")
	logf := filepath.Join(dir, "tor.log")
	conf := fmt.Sprintf("DisableNetwork 1\nSocksPort 0\nControlPort 127.0.0.1:%d\nCookieAuthentication 1\nDataDirectory %s\nLog notice file %s\n__OwningControllerProcess %d\n",
		port, filepath.Join(dir, "data"), logf, os.Getpid())
	if err := os.WriteFile(torrc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-f", torrc, "--ignore-missing-torrc")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf)
			t.Fatalf("tor's control port never answered: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
