//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A file of another owner (as in a shared, sticky directory) is written
// in place, keeping its owner, as Tahoe's open(path, "wb") would; a
// rename would give it to the user, or be refused by a sticky directory.
func TestGetSaveOtherOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o1777)
	target := filepath.Join(dir, "shared")
	os.WriteFile(target, []byte("old"), 0o666)
	os.Chmod(target, 0o666)
	if err := os.Chown(target, 65534, 65534); err != nil {
		t.Skip(err)
	}
	if err := saveTo(t, target, nil, "downloaded"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(target)
	fi, _ := os.Stat(target)
	if st := fi.Sys().(*syscall.Stat_t); string(b) != "downloaded" || st.Uid != 65534 || fi.Mode().Perm() != 0o666 {
		t.Errorf("saved %q, owner %d, mode %04o; want the download, owner 65534, mode 0666", b, st.Uid, fi.Mode().Perm())
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %v", names)
	}
}
