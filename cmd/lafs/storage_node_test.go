package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/storagehttp"
)

func dialNode(t *testing.T, dir string) *storagehttp.Client {
	t.Helper()
	n, err := storagehttp.ParseNURL(readNURL(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	c, err := storagehttp.Dial(n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestStorageNodeSurvivesSIGKILL starts a real storage node, kills it with
// SIGKILL in the middle of an upload, and checks that no partial share is
// visible, that the restarted node cleaned up, and that the client can
// start over and finish.
func TestStorageNodeSurvivesSIGKILL(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	if _, errOut, code := runCmd(t, nil, "create-node", "--webport", "none", "--hostname", "127.0.0.1", dir); code != 0 {
		t.Fatalf("create-node: %s", errOut)
	}
	for _, p := range []string{"private", "private/node.pem", "private/storage.furl"} {
		st, err := os.Stat(filepath.Join(dir, p))
		if p == "private/storage.furl" {
			continue // written at first start
		}
		if err != nil || st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v, err %v", p, st.Mode(), err)
		}
	}
	node := startProc(t, "storage server listening", "run", dir)
	c := dialNode(t, dir)
	ctx := ctxT(t)

	var si lafs.StorageIndex
	rand.Read(si[:])
	data := make([]byte, 1<<20)
	rand.Read(data)
	lease := lafs.LeaseSecrets{Renew: lafs.Secret{1}, Cancel: lafs.Secret{2}}
	up := bytes.Repeat([]byte{3}, 32)
	res, err := c.AllocateBuckets(ctx, si, lease, up, []lafs.ShareNum{0}, uint64(len(data)))
	if err != nil || len(res.Allocated) != 1 {
		t.Fatalf("allocate: %v %v", res, err)
	}
	if _, err := c.WriteImmutable(ctx, si, 0, up, 0, data[:len(data)/2]); err != nil {
		t.Fatal(err)
	}
	node.kill(syscall.SIGKILL)

	final := filepath.Join(dir, "storage", "shares", si.String()[:2], si.String(), "0")
	if _, err := os.Stat(final); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a partial share is visible at %s after SIGKILL (err %v)", final, err)
	}

	startProc(t, "storage server listening", "run", dir)
	c = dialNode(t, dir)
	if have, err := c.ListImmutable(ctx, si); err != nil || len(have) != 0 {
		t.Fatalf("after restart the node lists %v, %v", have, err)
	}
	incoming := filepath.Join(dir, "storage", "shares", "incoming")
	if ents, _ := os.ReadDir(incoming); len(ents) != 0 {
		t.Errorf("incoming/ not cleaned at start: %d entries", len(ents))
	}
	// Start over and finish.
	if _, err := c.AllocateBuckets(ctx, si, lease, up, []lafs.ShareNum{0}, uint64(len(data))); err != nil {
		t.Fatal(err)
	}
	wr, err := c.WriteImmutable(ctx, si, 0, up, 0, data)
	if err != nil || !wr.Done {
		t.Fatalf("write: %v %v", wr, err)
	}
	got, err := c.ReadImmutable(ctx, si, 0, 0, uint64(len(data)))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	if _, err := os.Stat(final); err != nil {
		t.Errorf("finished share not at Tahoe's path: %v", err)
	}
}
