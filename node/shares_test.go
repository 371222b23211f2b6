package node

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs/internal/s3test"
)

// TestS3NodeWithoutSealKey: a node whose seal key is gone does not start
// (a new key could read nothing in its bucket, and would take the bucket
// over); the error says what to restore and shows no secret.
func TestS3NodeWithoutSealKey(t *testing.T) {
	srv := s3test.Start(t)
	dir := createS3NodeOn(t, srv)
	if err := os.Remove(filepath.Join(dir, filepath.FromSlash(StorageSealKeyFile))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, dir, nil)
	if err == nil {
		n.Close()
		t.Fatal("a node without its seal key started")
	}
	if !errors.Is(err, ErrNoSealKey) || strings.Contains(err.Error(), srv.SecretKey) {
		t.Fatalf("start without the seal key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(StorageSealKeyFile))); err == nil {
		t.Error("starting made a new seal key")
	}
}

// TestStartDropsMigrationMarkers: a node that starts removes the marker of
// an unfinished migration, whose copies may be out of date from then on.
func TestStartDropsMigrationMarkers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	if err := Create(dir, CreateOptions{WebPort: "none", Hostname: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	marker := filepath.Join(dir, "storage", MigrateMarkerPrefix+"s3")
	if err := os.MkdirAll(filepath.Dir(marker), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(marker, []byte("2026-12-04T00:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n, err := Start(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if _, err := os.Stat(marker); err == nil {
		t.Error("the marker of the unfinished migration is still there")
	}
}
