package disk

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMoveShare: a share moved out is the same file in its new place,
// gone from the backend and its folders, and no replay of the journal
// brings it back after a crash.
func TestMoveShare(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "storage")
	d := open(t, dir)
	k := keyN(4, 2)
	put(t, d, k, []byte("0123456789"))
	must(t, d.WriteAt(ctx, k, []byte("AB"), 2))
	must(t, d.Sync(ctx, k))
	before, err := os.Stat(d.path(k))
	must(t, err)
	dst := filepath.Join(root, "kept")

	must(t, os.WriteFile(dst, nil, filePerm))
	if err := d.MoveShare(ctx, k, dst); err == nil {
		t.Error("moved over an existing file")
	}
	wantFile(t, d, k, "01AB456789")
	must(t, os.Remove(dst))

	must(t, d.MoveShare(ctx, k, dst))
	after, err := os.Stat(dst)
	must(t, err)
	if !os.SameFile(before, after) {
		t.Error("the share was copied, not moved")
	}
	if b, _ := os.ReadFile(dst); string(b) != "01AB456789" {
		t.Errorf("moved %q", b)
	}
	_, err = d.Size(ctx, k)
	wantNotExist(t, "size of the moved share", err)
	wantGone(t, siDir(d.shares, k.SI))
	wantNotExist(t, "moving it again", d.MoveShare(ctx, k, filepath.Join(root, "again")))

	crash(d)
	d2 := open(t, dir)
	_, err = d2.Size(ctx, k)
	wantNotExist(t, "size of the moved share after a crash", err)
	if b, _ := os.ReadFile(dst); string(b) != "01AB456789" {
		t.Errorf("after a crash the moved file holds %q", b)
	}
}
