package node

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/client"
)

// TestStartAndOpenClient runs a storage node with Start, lists it in a
// client directory's private/servers.yaml (from ServerEntry, as
// print-server-entry does), opens that client with OpenClient and moves a
// file through the real node over HTTPS.
func TestStartAndOpenClient(t *testing.T) {
	t.Setenv("LAFS_KEY_POOL_SIZE", "0") // no background RSA work: no mutable files here
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	storeDir := filepath.Join(t.TempDir(), "store")
	if err := Create(storeDir, CreateOptions{WebPort: "none", Hostname: "127.0.0.1", SharesHappy: 1}); err != nil {
		t.Fatal(err)
	}
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
	if err := os.WriteFile(filepath.Join(clientDir, "private", "servers.yaml"), []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := OpenClient(ctx, clientDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Broker.WaitConnected(ctx, 1); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("through a real storage node\n"), 1000)
	up, err := n.Client.Upload(ctx, bytes.NewReader(data), int64(len(data)), client.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := up.Cap
	f, err := n.Client.OpenFile(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := f.WriteRange(ctx, &got, 0, -1); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("read back: %v", err)
	}
	si, _ := cap.StorageIndex(c)
	if have, _ := store.Storage.ListImmutable(ctx, si); len(have) != 2 {
		t.Errorf("storage node holds %d shares, want 2", len(have))
	}
}
