package node

import (
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCloseWithSilentConnection: a connection that never sends a request
// does not hold a stopping node (http.Server.Shutdown alone waits 5 s).
func TestCloseWithSilentConnection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "node")
	if err := Create(dir, CreateOptions{WebPort: "tcp:0:interface=127.0.0.1", Hostname: "127.0.0.1", SharesHappy: 1}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	n, err := Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	u, err := os.ReadFile(filepath.Join(dir, NodeURLFile))
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(string(u)), "http://"), "/")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(100 * time.Millisecond) // accepted, and silent
	start := time.Now()
	n.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a silent connection open", d)
	}
}
