package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
)

// TestStartAndOpenClient runs a storage node with Start, lists it in a
// client directory's private/servers.yaml (from ServerEntry, as
// print-server-entry does), opens that client with OpenClient and moves a
// file through the real node over HTTPS.
func TestStartAndOpenClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	storeDir := filepath.Join(t.TempDir(), "store")
	if err := Create(storeDir, CreateOptions{WebPort: "none", Hostname: "127.0.0.1", SharesHappy: 1}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, storeDir)
	store, err := Start(ctx, storeDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	entry, err := ServerEntry(storeDir)
	if err != nil {
		t.Fatal(err)
	}

	clientDir := filepath.Join(t.TempDir(), "client")
	if err := Create(clientDir, CreateOptions{Kind: KindClient, WebPort: "none", SharesNeeded: 1, SharesHappy: 1, SharesTotal: 2}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, clientDir)
	if err := os.WriteFile(filepath.Join(clientDir, "private", "servers.yaml"), []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	cl, err := OpenClient(ctx, clientDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The first upload waits for the storage node to connect.
	data := bytes.Repeat([]byte("through a real storage node\n"), 1000)
	c := roundTrip(t, ctx, cl, data)
	si, _ := cap.StorageIndex(c)
	if have, _ := store.Storage.ListImmutable(ctx, si); len(have) != 2 {
		t.Errorf("storage node holds %d shares, want 2", len(have))
	}
}

// noKeyPool sets [client] lafs.key-pool-size = 0 in a node directory's
// tahoe.cfg: no background RSA work in tests that make no mutable files.
func noKeyPool(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "tahoe.cfg")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "[client]\n", "[client]\nlafs.key-pool-size = 0\n", 1)
	if s == string(b) {
		t.Fatalf("%s has no [client] section", p)
	}
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
