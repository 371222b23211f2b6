//go:build unix

package disk

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestMoveShareAcrossFileSystems: a move to another file system fails
// with errors.ErrUnsupported and leaves the share.
func TestMoveShareAcrossFileSystems(t *testing.T) {
	root := t.TempDir()
	other, err := os.MkdirTemp("/dev/shm", "lafs-move")
	if err != nil {
		t.Skipf("no /dev/shm: %v", err)
	}
	defer os.RemoveAll(other)
	a, errA := os.Stat(root)
	b, errB := os.Stat(other)
	sa, okA := a.Sys().(*syscall.Stat_t)
	sb, okB := b.Sys().(*syscall.Stat_t)
	if errA != nil || errB != nil || !okA || !okB || sa.Dev == sb.Dev {
		t.Skip("no second file system at hand")
	}
	d := open(t, filepath.Join(root, "storage"))
	k := keyN(5, 0)
	put(t, d, k, []byte("share"))
	if err := d.MoveShare(ctx, k, filepath.Join(other, "kept")); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("move across file systems: %v", err)
	}
	wantFile(t, d, k, "share")
}
