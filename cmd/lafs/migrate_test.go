package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/internal/s3test"
	"github.com/lafs/lafs/node"
	"github.com/lafs/lafs/storage"
)

// migrateNode makes a storage node with create-node whose tahoe.cfg names
// a prefix of its own in srv's bucket, with the credentials in private/,
// but whose backend is still disk.
func migrateNode(t *testing.T, srv *s3test.Server) (string, lafs.NodeID) {
	t.Helper()
	base := t.TempDir()
	dir := filepath.Join(base, "node")
	secret := filepath.Join(base, "secret")
	if err := os.WriteFile(secret, []byte(srv.SecretKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCmd(t, nil, "create-node", "--webport", "none", "--hostname", "127.0.0.1",
		"--storage-backend=s3", "--s3-endpoint", "http://"+srv.Endpoint, "--s3-bucket", srv.Bucket,
		"--s3-prefix", s3test.Prefix(), "--s3-path-style", "--s3-access-key-id", srv.AccessKey,
		"--s3-secret-access-key-file", secret, dir)
	if code != 0 {
		t.Fatalf("create-node: %s", errOut)
	}
	if _, err := node.EditConfig(dir, func(f *node.CfgFile) error { return f.Set("storage", "backend", "disk") }); err != nil {
		t.Fatal(err)
	}
	id, err := node.LoadOrCreateIdentity(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, id.NodeID
}

// testShare is a share migrateFill wrote, and what it holds.
type testShare struct {
	k       backend.Key
	mutable bool
	data    []byte
}

// migrateFill writes immutable shares (one bigger than Migrate's copy
// chunk), mutable shares and extra leases into the node's storage folder
// through a storage server, and returns them and how many storage indexes
// they are in.
func migrateFill(t *testing.T, dir string, id lafs.NodeID) ([]testShare, int) {
	t.Helper()
	ctx := ctxT(t)
	d, err := disk.Open(filepath.Join(dir, "storage"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err := storage.New(d, storage.Config{NodeID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lease := lafs.LeaseSecrets{Renew: lafs.Secret{1}, Cancel: lafs.Secret{2}}
	other := lafs.LeaseSecrets{Renew: lafs.Secret{3}, Cancel: lafs.Secret{4}}
	up := lafs.UploadSecret(bytes.Repeat([]byte{5}, 32))
	var shares []testShare
	random := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	for i := range 6 {
		si := lafs.StorageIndex{byte(i + 1), 0xaa}
		size := 100 + 1000*i
		if i == 5 {
			size = 5<<20/2 + 17
		}
		for _, sh := range []lafs.ShareNum{0, 3} {
			data := random(size)
			if res, err := s.AllocateBuckets(ctx, si, lease, up, []lafs.ShareNum{sh}, uint64(len(data))); err != nil || len(res.Allocated) != 1 {
				t.Fatalf("allocate: %+v, %v", res, err)
			}
			if w, err := s.WriteImmutable(ctx, si, sh, up, 0, data); err != nil || !w.Done {
				t.Fatalf("write: %+v, %v", w, err)
			}
			shares = append(shares, testShare{k: backend.Key{SI: si, Share: sh}, data: data})
		}
		if i < 2 {
			if err := s.AddOrRenewLease(ctx, si, other); err != nil {
				t.Fatal(err)
			}
		}
	}
	we := lafs.Secret{9}
	for i := range 2 {
		si := lafs.StorageIndex{byte(0x40 + i), 0xbb}
		tw := map[lafs.ShareNum]lafs.TestWriteVectors{}
		for _, sh := range []lafs.ShareNum{1, 2} {
			data := random(300 + 50*int(sh))
			tw[sh] = lafs.TestWriteVectors{Write: []lafs.WriteVector{{Offset: 0, Data: data}}}
			shares = append(shares, testShare{k: backend.Key{SI: si, Share: sh}, mutable: true, data: data})
		}
		if res, err := s.ReadTestWrite(ctx, si, we, lease, tw, nil); err != nil || !res.Success {
			t.Fatalf("mutable write: %+v, %v", res, err)
		}
		if err := s.AddOrRenewLease(ctx, si, other); err != nil {
			t.Fatal(err)
		}
	}
	return shares, 8
}

// shareLeases returns the leases of share k, wherever sh keeps them.
func shareLeases(t *testing.T, ctx context.Context, sh storage.Shares, k backend.Key) []storage.Lease {
	t.Helper()
	if sh.Leases != nil {
		ls, err := sh.Leases.Leases(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return ls
	}
	size, err := sh.Backend.Size(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	info, err := storage.ReadContainerInfo(backend.ReaderAt(ctx, sh.Backend, k), size)
	if err != nil {
		t.Fatal(err)
	}
	var out []storage.Lease
	for _, nl := range info.Leases {
		out = append(out, nl.Lease)
	}
	return out
}

// openSide opens the node's shares on one backend.
func openSide(t *testing.T, ctx context.Context, dir string, id lafs.NodeID, kind string) *node.OpenedShares {
	t.Helper()
	cfg, err := node.ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	o, err := node.OpenShares(ctx, dir, cfg, id, node.OpenShareOptions{Backend: kind})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// leaseKey is what a lease is compared by across backends.
func leaseKey(l storage.Lease) string {
	return fmt.Sprintf("%d/%x/%x/%d", l.Owner, l.RenewSecret, l.CancelSecret, l.Expiration)
}

// allLeases reads the leases of every share on one side of the node.
func allLeases(t *testing.T, dir string, id lafs.NodeID, kind string, shares []testShare) map[backend.Key][]string {
	t.Helper()
	ctx := ctxT(t)
	o := openSide(t, ctx, dir, id, kind)
	defer o.Close()
	m := map[backend.Key][]string{}
	for _, s := range shares {
		for _, l := range shareLeases(t, ctx, o.Shares, s.k) {
			m[s.k] = append(m[s.k], leaseKey(l))
		}
	}
	return m
}

// verifySide checks that a storage server over one side of the node
// serves every share with its data, that the side holds no other share,
// and that each share's leases are want's.
func verifySide(t *testing.T, dir string, id lafs.NodeID, kind string, shares []testShare, want map[backend.Key][]string) {
	t.Helper()
	ctx := ctxT(t)
	o := openSide(t, ctx, dir, id, kind)
	defer o.Close()
	srv, err := storage.New(o.Backend, storage.Config{NodeID: id, Leases: o.Leases})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, s := range shares {
		var got []byte
		if s.mutable {
			got, err = srv.ReadMutable(ctx, s.k.SI, s.k.Share, 0, uint64(len(s.data)))
		} else {
			got, err = srv.ReadImmutable(ctx, s.k.SI, s.k.Share, 0, uint64(len(s.data)))
		}
		if err != nil || !bytes.Equal(got, s.data) {
			t.Errorf("%s: share %d of %v reads %d bytes (%v), want %d", kind, s.k.Share, s.k.SI, len(got), err, len(s.data))
		}
		var leases []string
		for _, l := range shareLeases(t, ctx, o.Shares, s.k) {
			leases = append(leases, leaseKey(l))
		}
		if strings.Join(leases, " ") != strings.Join(want[s.k], " ") || len(leases) == 0 {
			t.Errorf("%s: share %d of %v has leases %v, want %v", kind, s.k.Share, s.k.SI, leases, want[s.k])
		}
	}
	n := 0
	err = o.Backend.Walk(ctx, func(si lafs.StorageIndex) error {
		sh, err := o.Backend.List(ctx, si)
		n += len(sh)
		return err
	})
	if err != nil || n != len(shares) {
		t.Errorf("%s holds %d shares (%v), want %d", kind, n, err, len(shares))
	}
}

// backendOf is [storage] backend of the node in dir.
func backendOf(t *testing.T, dir string) string {
	t.Helper()
	cfg, err := node.ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Storage().Backend
}

// TestMigrateStorageRoundTrip moves a node's shares and leases from disk
// to a real S3 server and back, running each direction twice.
func TestMigrateStorageRoundTrip(t *testing.T) {
	srv := s3test.Start(t)
	dir, id := migrateNode(t, srv)
	shares, buckets := migrateFill(t, dir, id)
	want := allLeases(t, dir, id, "disk", shares)
	noSecret := func(s ...string) {
		t.Helper()
		for _, x := range s {
			if strings.Contains(x, srv.SecretKey) {
				t.Errorf("the secret key shows: %q", x)
			}
		}
	}

	out, errOut, code := runCmd(t, nil, "admin", "migrate-storage", "--to=s3", dir)
	noSecret(out, errOut)
	wantDone := fmt.Sprintf("done: %d buckets, %d shares copied, 0 already present, 0 failed", buckets, len(shares))
	if code != 0 || !strings.Contains(errOut, wantDone) {
		t.Fatalf("to s3: exit %d, stderr:\n%s\nwant %q", code, errOut, wantDone)
	}
	if !strings.Contains(out, "backend = s3") || !strings.Contains(out, "rm -r "+filepath.Join(dir, "storage", "shares")) {
		t.Errorf("to s3: stdout:\n%s", out)
	}
	if b := backendOf(t, dir); b != node.BackendS3 {
		t.Fatalf("backend %q after the migration", b)
	}
	verifySide(t, dir, id, "s3", shares, want)

	// Again: the node uses the bucket already, nothing is copied (from
	// the old place, that would bring back shares deleted since).
	out, errOut, code = runCmd(t, nil, "admin", "migrate-storage", "--to", "s3", "--basedir", dir)
	noSecret(out, errOut)
	if code != 0 || !strings.Contains(out, "backend is s3 already") || strings.Contains(errOut, "done:") {
		t.Fatalf("to s3 again: exit %d, stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}

	// Back to a storage folder that still holds the old shares: refused.
	_, errOut, code = runCmd(t, nil, "admin", "migrate-storage", "--to=disk", dir)
	if code != 1 || !strings.Contains(errOut, "already holds shares") || backendOf(t, dir) != node.BackendS3 {
		t.Fatalf("to a full storage folder: exit %d, stderr:\n%s", code, errOut)
	}
	// As the first run said, the old shares are removed; then back.
	if err := os.RemoveAll(filepath.Join(dir, "storage", "shares")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCmd(t, nil, "admin", "migrate-storage", "--to=disk", dir)
	noSecret(out, errOut)
	wantDone = fmt.Sprintf("done: %d buckets, %d shares copied, 0 already present, 0 failed", buckets, len(shares))
	if code != 0 || !strings.Contains(errOut, wantDone) {
		t.Fatalf("to disk: exit %d, stderr:\n%s\nwant %q", code, errOut, wantDone)
	}
	if !strings.Contains(out, "backend = disk") || !strings.Contains(out, "bucket "+srv.Bucket) {
		t.Errorf("to disk: stdout:\n%s", out)
	}
	if b := backendOf(t, dir); b != node.BackendDisk {
		t.Fatalf("backend %q after the migration back", b)
	}
	verifySide(t, dir, id, "disk", shares, want)

	out, _, code = runCmd(t, nil, "admin", "migrate-storage", "--to=disk", dir)
	if code != 0 || !strings.Contains(out, "backend is disk already") {
		t.Fatalf("to disk again: exit %d, stdout:\n%s", code, out)
	}
}

// cancelWriter collects what is written and cancels a context once it
// holds a line starting with on.
type cancelWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	on     string
	cancel func()
}

func (w *cancelWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.cancel != nil && strings.Contains("\n"+w.buf.String(), "\n"+w.on) {
		w.cancel()
		w.cancel = nil
	}
	return len(p), nil
}

// countOf reads a count out of a summary line ("N shares copied").
func countOf(t *testing.T, summary, what string) int {
	t.Helper()
	m := regexp.MustCompile(`(\d+) ` + what).FindStringSubmatch(summary)
	if m == nil {
		t.Fatalf("no %q in %q", what, summary)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// TestMigrateStorageResumeAndFailures: a migration interrupted part way
// goes on where it was; a corrupt share is listed, by storage index and
// share number, and keeps tahoe.cfg as it was until it is dealt with.
func TestMigrateStorageResumeAndFailures(t *testing.T) {
	srv := s3test.Start(t)
	dir, id := migrateNode(t, srv)
	shares, buckets := migrateFill(t, dir, id)
	want := allLeases(t, dir, id, "disk", shares)
	// A corrupt share, walked last (storage indexes go in the order of
	// their base32 names).
	bad := lafs.StorageIndex{0xc8, 0xee} // "z...": after the others in the walk
	badDir := filepath.Join(dir, "storage", "shares", backend.Prefix(bad), bad.String())
	if err := os.MkdirAll(badDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badDir, "4"), []byte("no share container at all"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Stopped after the first storage index.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stderr := &cancelWriter{on: "copying:", cancel: cancel}
	var stdout bytes.Buffer
	e := env{stdin: strings.NewReader(""), stdout: &stdout, stderr: stderr, getenv: func(string) string { return "" }}
	if code := run(ctx, &e, []string{"admin", "migrate-storage", "--to=s3", dir}); code == 0 {
		t.Fatalf("interrupted run: exit 0:\n%s", stderr.buf.String())
	}
	first := stderr.buf.String()
	if !strings.Contains(first, "Interrupted") || backendOf(t, dir) != node.BackendDisk {
		t.Fatalf("interrupted run:\n%s", first)
	}
	_, stopped, _ := strings.Cut(first, "stopped: ")
	copied := countOf(t, stopped, "shares copied")
	if copied == 0 || copied >= len(shares) {
		t.Fatalf("the interrupted run copied %d shares of %d:\n%s", copied, len(shares), first)
	}

	// Going on: the rest is copied, the corrupt share fails.
	out, errOut, code := runCmd(t, nil, "admin", "migrate-storage", "--to=s3", dir)
	_, summary, _ := strings.Cut(errOut, "finished: ")
	if code != 1 || !strings.Contains(errOut, "Going on with the migration") ||
		countOf(t, summary, "already present") != copied || countOf(t, summary, "shares copied") != len(shares)-copied ||
		countOf(t, summary, "failed") != 1 {
		t.Fatalf("second run: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "storage index "+bad.String()+" share 4: not a valid share container") ||
		strings.Contains(errOut, badDir) || !strings.Contains(errOut, "tahoe.cfg is unchanged") {
		t.Errorf("second run: the corrupt share is not listed as it should be:\n%s", errOut)
	}
	if backendOf(t, dir) != node.BackendDisk {
		t.Fatal("tahoe.cfg changed despite a failure")
	}

	// Once it is removed, the migration completes.
	if err := os.RemoveAll(badDir); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCmd(t, nil, "admin", "migrate-storage", "--to=s3", dir)
	wantDone := fmt.Sprintf("done: %d buckets, 0 shares copied, %d already present, 0 failed", buckets, len(shares))
	if code != 0 || !strings.Contains(errOut, wantDone) || backendOf(t, dir) != node.BackendS3 {
		t.Fatalf("third run: exit %d, stderr:\n%s\nwant %q", code, errOut, wantDone)
	}
	if _, err := os.Stat(filepath.Join(dir, "storage", node.MigrateMarkerPrefix+"s3")); err == nil {
		t.Error("the migration's marker is left behind")
	}
	verifySide(t, dir, id, "s3", shares, want)
}

// TestMigrateStorageRefuses: the command refuses a running node (one
// holding the node directory's lock), a node without the bucket's
// settings or credentials, and a command line without --to.
func TestMigrateStorageRefuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	if _, errOut, code := runCmd(t, nil, "create-node", "--webport", "none", "--hostname", "127.0.0.1", dir); code != 0 {
		t.Fatalf("create-node: %s", errOut)
	}
	lock, err := node.LockNodeDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCmd(t, nil, "admin", "migrate-storage", "--to=s3", dir)
	lock.Release()
	if code != 1 || !strings.Contains(errOut, "already running") || !strings.Contains(errOut, "while the node is stopped") {
		t.Fatalf("running node: exit %d, stderr %q", code, errOut)
	}

	_, errOut, code = runCmd(t, nil, "admin", "migrate-storage", "--to=s3", dir)
	if code != 1 || !strings.Contains(errOut, "s3.endpoint: not set") {
		t.Fatalf("no bucket: exit %d, stderr %q", code, errOut)
	}
	if _, err := node.EditConfig(dir, func(f *node.CfgFile) error {
		if err := f.Set("storage", "s3.endpoint", "http://127.0.0.1:9"); err != nil {
			return err
		}
		return f.Set("storage", "s3.bucket", "lafs-shares")
	}); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCmd(t, nil, "admin", "migrate-storage", "--to=s3", dir)
	if code != 1 || !strings.Contains(errOut, "credentials must be in") || !strings.Contains(errOut, node.S3AccessKeyFile[len("private/"):]) {
		t.Fatalf("no credentials: exit %d, stderr %q", code, errOut)
	}
	// The failed runs left the directory free.
	lock, err = node.LockNodeDir(dir)
	if err != nil {
		t.Fatalf("the node directory is still held: %v", err)
	}
	lock.Release()

	for _, args := range [][]string{{dir}, {"--to=cloud", dir}, {"--to=s3", dir, dir}} {
		if _, errOut, code := runCmd(t, nil, append([]string{"admin", "migrate-storage"}, args...)...); code != 2 {
			t.Errorf("migrate-storage %q: exit %d, stderr %q", args, code, errOut)
		}
	}
	if _, errOut, code := runCmd(t, nil, "admin", "migrate-storage", "--to=s3", filepath.Join(dir, "nope")); code != 1 || !strings.Contains(errOut, "not a node directory") {
		t.Errorf("no node directory: exit %d, stderr %q", code, errOut)
	}
}
