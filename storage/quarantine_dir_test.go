package storage

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/backend/mem"
)

// corruptShare uploads share sh of si, a CHK share with a damaged block,
// and returns its container.
func corruptShare(t *testing.T, s *Server, b backend.Backend, si lafs.StorageIndex, sh lafs.ShareNum) []byte {
	t.Helper()
	shares := chkShares(t, byte(sh)+1)
	putImmutable(t, s, si, sh, shares.Bytes(sh), lease)
	flipShareByte(t, b, backend.Key{SI: si, Share: sh}, ImmutableHeaderSize, 0x24+100)
	return object(t, b, si, sh)
}

// quarantineOne advises share sh of si corrupt and waits for its check.
func quarantineOne(t *testing.T, s *Server, si lafs.StorageIndex, sh lafs.ShareNum) QuarantinedShare {
	t.Helper()
	n := len(s.Quarantined())
	if err := s.AdviseCorruptImmutable(bg, si, sh, "bad"); err != nil {
		t.Fatal(err)
	}
	s.waitChecks()
	q := s.Quarantined()
	if len(q) != n+1 {
		t.Fatalf("share %d not quarantined", sh)
	}
	return q[n]
}

// TestQuarantineMovesOnDisk: on the disk backend the container is moved
// into the quarantine, not copied.
func TestQuarantineMovesOnDisk(t *testing.T) {
	dir := t.TempDir()
	d, err := disk.Open(filepath.Join(dir, "storage"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := newTestServerOn(t, d, Config{VerifyShare: selfCheck, QuarantineDir: filepath.Join(dir, "storage", "corrupt")})
	si := lafs.StorageIndex{0xe0, 1}
	container := corruptShare(t, s, d, si, 2)
	before, err := os.Stat(filepath.Join(dir, "storage", "shares", si.String()[:2], si.String(), "2"))
	if err != nil {
		t.Fatal(err)
	}
	q := quarantineOne(t, s, si, 2)
	after, err := os.Stat(q.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the container was copied, not moved")
	}
	if got, _ := os.ReadFile(q.Path); !bytes.Equal(got, container) {
		t.Error("the quarantine holds other bytes")
	}
	if _, err := d.Size(bg, backend.Key{SI: si, Share: 2}); err == nil {
		t.Error("the share is still in the backend")
	}
	if st, _ := s.Status(bg); st.Quarantine.Files != 1 || st.Quarantine.Bytes != int64(len(container)) || st.Quarantine.Shares != 1 {
		t.Errorf("status %+v", st.Quarantine)
	}
}

// TestQuarantineCopyCounted: a backend that cannot move its objects has
// the container copied, when the space the server may use has room for
// it, and the copy counts as used.
func TestQuarantineCopyCounted(t *testing.T) {
	const capacity = 1 << 20
	m := mem.NewWithCapacity(capacity)
	qdir := t.TempDir()
	s := newTestServerOn(t, m, Config{VerifyShare: selfCheck, QuarantineDir: qdir})
	si := lafs.StorageIndex{0xe0, 2}
	container := corruptShare(t, s, m, si, 0)
	v0, _ := s.Version(bg)
	q := quarantineOne(t, s, si, 0)
	if got, err := os.ReadFile(q.Path); err != nil || !bytes.Equal(got, container) {
		t.Fatalf("kept %d bytes, %v", len(got), err)
	}
	v1, _ := s.Version(bg)
	// The share left the backend, and its copy counts as used instead.
	if v1.AvailableSpace != v0.AvailableSpace {
		t.Errorf("available space %d, then %d after the quarantine", v0.AvailableSpace, v1.AvailableSpace)
	}

	// With no room left but the reserved space, nothing is copied.
	s2 := newTestServerOn(t, m, Config{VerifyShare: selfCheck, QuarantineDir: t.TempDir()})
	container = corruptShare(t, s2, m, si, 1)
	v, _ := s2.Version(bg)
	s2.cfg.ReservedSpace = v.AvailableSpace - uint64(len(container)) + 1
	q = quarantineOne(t, s2, si, 1)
	if q.Path != "" {
		t.Errorf("copied into the reserved space, at %s", q.Path)
	}
}

// TestQuarantineLimits: the quarantine keeps at most QuarantineMaxBytes,
// dropping the oldest first, and nothing older than QuarantineMaxAge; a
// restarted server finds what it holds.
func TestQuarantineLimits(t *testing.T) {
	dir := t.TempDir()
	d, err := disk.Open(filepath.Join(dir, "storage"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var mu sync.Mutex
	now := t0
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	si := lafs.StorageIndex{0xe0, 3}
	cfg := Config{VerifyShare: selfCheck, QuarantineDir: filepath.Join(dir, "corrupt"), Now: clk, QuarantineMaxAge: 10 * day}
	s := newTestServerOn(t, d, cfg)
	size := int64(len(corruptShare(t, s, d, si, 0)))
	s.cfg.QuarantineMaxBytes = size * 3 / 2
	first := quarantineOne(t, s, si, 0)
	advance(time.Hour)
	corruptShare(t, s, d, si, 1)
	second := quarantineOne(t, s, si, 1)
	if _, err := os.Stat(first.Path); err == nil {
		t.Error("the oldest container outlived the size limit")
	}
	if _, err := os.Stat(second.Path); err != nil {
		t.Errorf("the newest container: %v", err)
	}
	if st, _ := s.Status(bg); st.Quarantine.Files != 1 || st.Quarantine.Bytes != size || st.Quarantine.Shares != 2 {
		t.Errorf("status %+v", st.Quarantine)
	}
	// Too large to keep at all: quarantined all the same, kept nowhere.
	s.cfg.QuarantineMaxBytes = size - 1
	corruptShare(t, s, d, si, 2)
	if q := quarantineOne(t, s, si, 2); q.Path != "" {
		t.Errorf("kept at %s, past the limit", q.Path)
	}
	s.Close()

	// A restarted server finds the container, and drops it once it is
	// too old.
	s = newTestServerOn(t, d, cfg)
	if st, _ := s.Status(bg); st.Quarantine.Files != 1 || st.Quarantine.Bytes != size {
		t.Errorf("after a restart: status %+v", st.Quarantine)
	}
	advance(10*day - time.Hour)
	s.pruneQuarantine()
	if _, err := os.Stat(second.Path); err != nil {
		t.Errorf("a container younger than the limit: %v", err)
	}
	advance(time.Hour + time.Second)
	s.pruneQuarantine()
	if _, err := os.Stat(second.Path); err == nil {
		t.Error("a container outlived the age limit")
	}
	if _, err := os.Stat(filepath.Dir(second.Path)); err == nil {
		t.Error("the storage index's empty folder is left")
	}
	if st, _ := s.Status(bg); st.Quarantine.Files != 0 || st.Quarantine.Bytes != 0 {
		t.Errorf("status %+v", st.Quarantine)
	}
}
