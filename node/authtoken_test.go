package node

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAuthTokenMadeAtEachStart: a node with a web API writes Tahoe's
// private/api_auth_token (0600), anew at each start, so that Tahoe's CLI
// (tahoe status) works against it.
func TestAuthTokenMadeAtEachStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "client")
	if err := Create(dir, CreateOptions{WebPort: "tcp:0:interface=127.0.0.1", Hostname: "127.0.0.1", SharesHappy: 1}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	path := filepath.Join(dir, "private", AuthTokenFile)
	var tokens []string
	for range 2 {
		n, err := Start(ctx, dir, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		fi, _ := os.Stat(path)
		n.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 45 || b[44] != '\n' || fi.Mode().Perm() != 0o600 {
			t.Errorf("token %q, mode %v", b, fi.Mode().Perm())
		}
		tokens = append(tokens, string(b))
	}
	if tokens[0] == tokens[1] {
		t.Error("the token was not made anew at the second start")
	}
}
