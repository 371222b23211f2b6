package node

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
)

// TestStatisticsCountCorruptContainers: the corrupt containers a storage
// node's server finds show on the node's statistics page.
func TestStatisticsCountCorruptContainers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "store")
	if err := Create(dir, CreateOptions{WebPort: "tcp:0:interface=127.0.0.1", Hostname: "127.0.0.1", SharesHappy: 1}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	n, err := Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	counter := func() int64 {
		t.Helper()
		u, err := os.ReadFile(filepath.Join(dir, NodeURLFile))
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSpace(string(u))+"statistics?t=json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct {
			Counters map[string]int64 `json:"counters"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		v, ok := st.Counters["storage_server.corrupt_containers"]
		if !ok {
			t.Fatalf("no storage_server.corrupt_containers among %v", st.Counters)
		}
		return v
	}
	if got := counter(); got != 0 {
		t.Fatalf("a fresh node counts %d corrupt containers", got)
	}

	// A share container cut to 5 bytes, as the fault run cut them.
	si := lafs.StorageIndex{0xfa, 0x17}
	shareDir := filepath.Join(dir, "storage", "shares", si.String()[:2], si.String())
	if err := os.MkdirAll(shareDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shareDir, "3"), []byte{0, 0, 0, 2, 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Storage.ReadImmutable(ctx, si, 3, 0, 10); !errors.Is(err, lafs.ErrCorruptContainer) {
		t.Fatalf("read of the cut container: %v", err)
	}
	if got := counter(); got != 1 {
		t.Errorf("the statistics count %d corrupt containers, want 1", got)
	}
}
