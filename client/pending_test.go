package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/internal/testgrid"
)

func pendingLines(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

// A client that dies in the middle of an upload leaves its shares
// half-written on the servers, which refuse them to anyone else until
// they give up on them. The client keeps their upload secrets in a file
// meanwhile; started again, it aborts them, and the same file uploads at
// once to the same servers.
func TestPendingUploadsAbortedAfterACrash(t *testing.T) {
	g := testgrid.New(t, 10)
	path := filepath.Join(t.TempDir(), "uploads-in-progress")
	cfg := Config{
		Params: lafs.DefaultParams, Convergence: []byte("pending test"), LeaseSecret: []byte("lease"),
		Peers: g, TempDir: t.TempDir(), PendingUploads: path,
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 300000)
	rand.Read(data)
	for _, f := range g.Faults {
		f.Set(func(f *testgrid.Faults) { f.WriteDelay = time.Hour })
	}
	failed := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), UploadOptions{})
		failed <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for pendingLines(t, path) != 10 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := pendingLines(t, path); n != 10 {
		t.Fatalf("%d shares recorded as in progress, want 10", n)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the file of upload secrets: %v, %v; want mode 0600", fi.Mode(), err)
	}
	// The client "dies": the servers become unreachable before it can
	// abort anything, and come back with the half-written shares.
	for _, f := range g.Faults {
		f.Set(func(f *testgrid.Faults) { f.Offline = true })
	}
	cancel()
	if err := <-failed; err == nil {
		t.Fatal("the upload succeeded with every server offline")
	}
	c.Close()
	if n := pendingLines(t, path); n != 10 {
		t.Fatalf("after the crash %d shares are recorded, want 10", n)
	}
	for _, f := range g.Faults {
		f.Set(func(f *testgrid.Faults) { f.Offline, f.WriteDelay = false, 0 })
	}

	c2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	deadline = time.Now().Add(10 * time.Second)
	for pendingLines(t, path) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := pendingLines(t, path); n != 0 {
		t.Errorf("%d uploads are still recorded as in progress", n)
	}
	start := time.Now()
	rep, err := c2.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second || rep.SharesPlaced != 10 || len(rep.Problems) != 0 {
		t.Errorf("upload after the restart: %v, %d shares placed, problems %v", d, rep.SharesPlaced, rep.Problems)
	}
}
