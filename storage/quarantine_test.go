package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/mutable"
)

// selfCheck is the verifier a node gives its server.
func selfCheck(kind string, shnum lafs.ShareNum, r io.ReaderAt, size int64) error {
	if kind == "immutable" {
		return immutable.SelfCheckAt(shnum, r, size)
	}
	return mutable.SelfCheckAt(shnum, r, size)
}

// quarantineServer is a server with the self-check, keeping quarantined
// shares in a folder on the disk backend and in memory on the other.
func quarantineServer(t *testing.T, b backend.Backend) (*Server, string) {
	t.Helper()
	cfg := Config{VerifyShare: selfCheck, AdvisoryDir: t.TempDir()}
	if _, ok := b.(*disk.Disk); ok {
		cfg.QuarantineDir = filepath.Join(t.TempDir(), "corrupt")
	}
	return newTestServerOn(t, b, cfg), cfg.QuarantineDir
}

// chkShares encodes a small CHK file in 4 shares.
func chkShares(t *testing.T, seed byte) *immutable.MemoryShares {
	t.Helper()
	data := bytes.Repeat([]byte{seed, 1, 2, 3, 4}, 2000)
	var sink immutable.MemoryShares
	p := lafs.Params{K: 2, Happy: 2, N: 4, SegmentSize: 4096}
	if _, err := immutable.Encode(bg, bytes.NewReader(data), uint64(len(data)), [16]byte{seed}, p, &sink); err != nil {
		t.Fatal(err)
	}
	return &sink
}

// flipShareByte flips a bit of a share's data at off in place, behind the
// server's back.
func flipShareByte(t *testing.T, b backend.Backend, k backend.Key, dataStart, off int64) {
	t.Helper()
	p := make([]byte, 1)
	if _, err := b.ReadAt(bg, k, p, dataStart+off); err != nil {
		t.Fatal(err)
	}
	p[0] ^= 0x10
	if err := b.WriteAt(bg, k, p, dataStart+off); err != nil {
		t.Fatal(err)
	}
	if err := b.Sync(bg, k); err != nil {
		t.Fatal(err)
	}
}

func TestAdvisoryQuarantinesCorruptImmutableShare(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func() backend.Backend) {
		b := open()
		s, qdir := quarantineServer(t, b)
		shares := chkShares(t, 1)
		si := lafs.StorageIndex{0xc0, 1}
		putImmutable(t, s, si, 2, shares.Bytes(2), lease)
		putImmutable(t, s, si, 3, shares.Bytes(3), lease)
		k := backend.Key{SI: si, Share: 2}
		flipShareByte(t, b, k, ImmutableHeaderSize, 0x24+100) // in the first block
		container := object(t, b, si, 2)

		if err := s.AdviseCorruptImmutable(bg, si, 2, "block hash mismatch"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ListImmutable(bg, si); !slices.Equal(got, []lafs.ShareNum{3}) {
			t.Fatalf("after the advisory the server lists %v, want only share 3", got)
		}
		if _, err := s.ReadImmutable(bg, si, 2, 0, 10); !errors.Is(err, lafs.ErrNotExist) {
			t.Fatalf("read of the quarantined share: %v", err)
		}
		if st := s.Stats(); st.QuarantinedShares != 1 {
			t.Errorf("stats count %d quarantined shares", st.QuarantinedShares)
		}
		q := s.Quarantined()
		if len(q) != 1 || q[0].SI != si || q[0].Share != 2 || q[0].Kind != "immutable" || !strings.Contains(q[0].Why, "block 0") {
			t.Fatalf("quarantined %+v", q)
		}
		kept := q[0].Container
		if qdir != "" {
			if filepath.Dir(q[0].Path) != filepath.Join(qdir, si.String()) || !strings.HasPrefix(filepath.Base(q[0].Path), "2.") {
				t.Errorf("kept at %s", q[0].Path)
			}
			var err error
			if kept, err = os.ReadFile(q[0].Path); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(kept, container) {
			t.Errorf("the quarantine keeps %d bytes, not the container of %d", len(kept), len(container))
		}
		// A repairer can put a good copy in its place.
		putImmutable(t, s, si, 2, shares.Bytes(2), lease)
		if got, err := s.ReadImmutable(bg, si, 2, 0, 1<<20); err != nil || !bytes.Equal(got, shares.Bytes(2)) {
			t.Fatalf("the repaired share reads %d bytes, %v", len(got), err)
		}
		// The good copy survives an advisory.
		if err := s.AdviseCorruptImmutable(bg, si, 2, "block hash mismatch"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ListImmutable(bg, si); !slices.Equal(got, []lafs.ShareNum{2, 3}) || s.Stats().QuarantinedShares != 1 {
			t.Fatalf("after an advisory on the good copy: %v listed, %d quarantined", got, s.Stats().QuarantinedShares)
		}
	})
}

func TestAdvisoryKeepsGoodImmutableShare(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func() backend.Backend) {
		b := open()
		s, _ := quarantineServer(t, b)
		shares := chkShares(t, 2)
		si := lafs.StorageIndex{0xc0, 2}
		putImmutable(t, s, si, 1, shares.Bytes(1), lease)
		if err := s.AdviseCorruptImmutable(bg, si, 1, "I say it is bad"); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ReadImmutable(bg, si, 1, 0, 1<<20); err != nil || !bytes.Equal(got, shares.Bytes(1)) {
			t.Fatalf("the good share after a false advisory: %d bytes, %v", len(got), err)
		}
		if s.Stats().QuarantinedShares != 0 || len(s.Quarantined()) != 0 {
			t.Fatalf("a good share was quarantined: %+v", s.Quarantined())
		}
		// Share 1's data under number 0 is another matter: its hashes
		// are not those of share 0.
		putImmutable(t, s, si, 0, shares.Bytes(1), lease)
		if err := s.AdviseCorruptImmutable(bg, si, 0, "wrong share"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ListImmutable(bg, si); !slices.Equal(got, []lafs.ShareNum{1}) {
			t.Fatalf("a share under the wrong number is still listed: %v", got)
		}
	})
}

// onePeer is a grid of one server.
type onePeer struct{ s *lafs.Server }

func (p onePeer) ServersFor(lafs.StorageIndex) []*lafs.Server { return []*lafs.Server{p.s} }

func TestAdvisoryOnMutableShares(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func() backend.Backend) {
		b := open()
		s, _ := quarantineServer(t, b)
		ctx := context.Background()
		keys, err := mutable.NewKeyPool(0).NewKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		peers := onePeer{&lafs.Server{ID: "one", Storage: s}}
		f, err := mutable.Create(ctx, peers, keys, cap.MDMF, bytes.Repeat([]byte("mutable "), 500),
			mutable.Options{K: 2, N: 3, LeaseSecret: []byte("lease secret")})
		if err != nil {
			t.Fatal(err)
		}
		si := f.StorageIndex()
		if got, _ := s.ListMutable(bg, si); !slices.Equal(got, []lafs.ShareNum{0, 1, 2}) {
			t.Fatalf("shares %v", got)
		}
		if err := s.AdviseCorruptMutable(bg, si, 0, "bad signature, I say"); err != nil {
			t.Fatal(err)
		}
		// The last byte of share 1's first block.
		h, err := mutable.ParseHeader(readMutable(t, s, si, 1, mutable.HeaderSize))
		if err != nil {
			t.Fatal(err)
		}
		flipShareByte(t, b, backend.Key{SI: si, Share: 1}, MutableDataOffset, int64(h.BlockRange(0).End-1))
		if err := s.AdviseCorruptMutable(bg, si, 1, "block hash mismatch"); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.ListMutable(bg, si); !slices.Equal(got, []lafs.ShareNum{0, 2}) {
			t.Fatalf("after the advisories the server lists %v, want shares 0 and 2", got)
		}
		if q := s.Quarantined(); len(q) != 1 || q[0].Share != 1 || q[0].Kind != "mutable" {
			t.Fatalf("quarantined %+v", q)
		}
	})
}

func readMutable(t *testing.T, s *Server, si lafs.StorageIndex, sh lafs.ShareNum, n uint64) []byte {
	t.Helper()
	b, err := s.ReadMutable(bg, si, sh, 0, n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAdvisoryQuarantinesFileThatIsNoContainer(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func() backend.Backend) {
		b := open()
		s, _ := quarantineServer(t, b)
		si := lafs.StorageIndex{0xc0, 3}
		put(t, b, si, 4, []byte("junk"))
		if err := s.AdviseCorruptMutable(bg, si, 4, "unreadable"); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.List(bg, si); len(got) != 0 {
			t.Fatalf("the junk is still in service: %v", got)
		}
		if q := s.Quarantined(); len(q) != 1 || q[0].Kind != "unknown" {
			t.Fatalf("quarantined %+v", q)
		}
		// Its number can be allocated afresh.
		res, err := s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{4}, 10)
		if err != nil || !slices.Equal(res.Allocated, []lafs.ShareNum{4}) {
			t.Fatalf("allocate after the quarantine: %+v, %v", res, err)
		}
	})
}

// TestAdvisoryWithoutVerifierKeepsEverything: a server with no verifier
// records advisories and touches nothing.
func TestAdvisoryWithoutVerifierKeepsEverything(t *testing.T) {
	b := mem.New()
	s := newTestServerOn(t, b, Config{})
	shares := chkShares(t, 3)
	si := lafs.StorageIndex{0xc0, 4}
	putImmutable(t, s, si, 0, shares.Bytes(0), lease)
	flipShareByte(t, b, backend.Key{SI: si}, ImmutableHeaderSize, 0x24)
	if err := s.AdviseCorruptImmutable(bg, si, 0, "bad"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListImmutable(bg, si); len(got) != 1 || s.Stats().QuarantinedShares != 0 {
		t.Fatalf("listed %v", got)
	}
}

// TestAdvisoryCheckReadErrorKeepsShare: a share whose bytes cannot all be
// read is not taken for corrupt, whatever the bytes read show.
func TestAdvisoryCheckReadErrorKeepsShare(t *testing.T) {
	m := mem.New()
	fb := &failingBackend{Backend: m}
	var log strings.Builder
	s := newTestServerOn(t, fb, Config{VerifyShare: selfCheck, Logger: newTextLogger(&log)})
	shares := chkShares(t, 4)
	si := lafs.StorageIndex{0xc0, 5}
	putImmutable(t, s, si, 0, shares.Bytes(0), lease)
	flipShareByte(t, m, backend.Key{SI: si}, ImmutableHeaderSize, 0x24)
	fb.failFrom = ImmutableHeaderSize + int64(len(shares.Bytes(0)))/2 // the hashes and the UEB
	if err := s.AdviseCorruptImmutable(bg, si, 0, "bad"); err != nil {
		t.Fatal(err)
	}
	fb.failFrom = 0
	if got, _ := s.ListImmutable(bg, si); len(got) != 1 || s.Stats().QuarantinedShares != 0 {
		t.Fatalf("a share that could not be read whole was quarantined: %v listed", got)
	}
	if !strings.Contains(log.String(), "could not check") {
		t.Errorf("the log says nothing of the failed check: %s", log.String())
	}
}

// failingBackend fails reads that reach past failFrom (when set).
type failingBackend struct {
	backend.Backend
	failFrom int64
}

func (f *failingBackend) ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error) {
	if f.failFrom > 0 && off+int64(len(p)) > f.failFrom {
		return 0, errors.New("read: input/output error")
	}
	return f.Backend.ReadAt(ctx, k, p, off)
}
