package storage

import (
	"path/filepath"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/storage/storagetest"
)

// TestConformanceDisk runs the storage server conformance suite over a
// disk backend in a fresh folder, journal and all, as a node serves it.
func TestConformanceDisk(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) lafs.StorageServer {
		dir := t.TempDir()
		d, err := disk.Open(filepath.Join(dir, "storage"))
		if err != nil {
			t.Fatal(err)
		}
		// Cleanups run last first: the server stops, then the journal
		// is flushed and closed.
		t.Cleanup(func() {
			if err := d.Close(); err != nil {
				t.Errorf("closing the disk backend: %v", err)
			}
		})
		return newTestServerOn(t, d, Config{NodeID: [20]byte{1, 2, 3}, AdvisoryDir: filepath.Join(dir, "corruption-advisories")})
	})
}
