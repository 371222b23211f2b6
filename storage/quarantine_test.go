package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/mutable"
)

// selfCheck is the verifier a node gives its server (node's
// verifyShare): the self-checks, whose errors for a layout they do not
// know wrap ErrShareIncompatible.
func selfCheck(kind string, shnum lafs.ShareNum, r io.ReaderAt, size int64) error {
	var err error
	if kind == "immutable" {
		err = immutable.SelfCheckAt(shnum, r, size)
	} else {
		err = mutable.SelfCheckAt(shnum, r, size)
	}
	if errors.Is(err, immutable.ErrIncompatible) || errors.Is(err, mutable.ErrIncompatible) {
		return fmt.Errorf("%w: %w", ErrShareIncompatible, err)
	}
	return err
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
		s.waitChecks()
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
		if len(q) != 1 || q[0].SI != si || q[0].Share != 2 || q[0].Kind != "immutable" || !strings.Contains(q[0].Why, "block 0") ||
			q[0].Size != int64(len(container)) {
			t.Fatalf("quarantined %+v", q)
		}
		if qdir != "" {
			if filepath.Dir(q[0].Path) != filepath.Join(qdir, si.String()) || !strings.HasPrefix(filepath.Base(q[0].Path), "2.") {
				t.Errorf("kept at %s", q[0].Path)
			}
			kept, err := os.ReadFile(q[0].Path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(kept, container) {
				t.Errorf("the quarantine keeps %d bytes, not the container of %d", len(kept), len(container))
			}
		} else if q[0].Path != "" {
			t.Errorf("kept at %q without a quarantine folder", q[0].Path)
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
		s.waitChecks()
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
		s.waitChecks()
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
		s.waitChecks()
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
		s.waitChecks()
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

// TestAdvisoryOnFilesThatAreNoContainer: a file under a share's name that
// this server cannot read as a container is taken out of service only if
// its data, where its header's fields put it, fails the check: one too
// short for a header stays (logged and counted), as does a container of
// another version, which may be a later Tahoe's.
func TestAdvisoryOnFilesThatAreNoContainer(t *testing.T) {
	shares := chkShares(t, 3)
	good := shares.Bytes(0)
	imm := func(version uint32, data []byte) []byte {
		c := (&ImmutableContainer{Header: ImmutableHeader{Version: ImmutableV2, DataLength: uint32(len(data))}, Data: data,
			Leases: []Lease{{Owner: 1, Expiration: 1 << 31}}}).Bytes()
		binary.BigEndian.PutUint32(c, version)
		return c
	}
	bad := bytes.Clone(good)
	bad[0x24+10] ^= 1
	futureMutable := (&MutableContainer{Header: MutableHeader{Version: MutableV2}, Data: []byte("mutable data")}).Bytes()
	copy(futureMutable, "Tahoe mutable container v3\n")
	for _, tc := range []struct {
		name        string
		file        []byte
		mutable     bool
		quarantined bool
	}{
		{"four bytes", []byte("junk"), true, false},
		{"eleven bytes", []byte("eleven byte"), false, false},
		{"immutable version 3", imm(3, bad), false, false},
		{"immutable version 200", imm(200, []byte("future")), false, false},
		{"mutable v3 magic", futureMutable, true, false},
		{"immutable version damaged, data good", imm(0x54616f68, good), false, false},
		{"immutable version damaged, data bad", imm(0x54616f68, bad), false, true},
		// The advisory's kind is no proof: the data is checked as both.
		{"immutable version damaged, data good, mutable advisory", imm(0x54616f68, good), true, false},
		{"immutable version damaged, data bad, mutable advisory", imm(0x54616f68, bad), true, true},
		{"garbage under a damaged header", imm(0xeeeeeeee, bytes.Repeat([]byte{0xee}, 2000)), false, true},
		{"header fields giving no place for data", bytes.Repeat([]byte{0xff}, 2000), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := mem.New()
			s := newTestServerOn(t, b, Config{VerifyShare: selfCheck})
			si := lafs.StorageIndex{0xc0, 3}
			put(t, b, si, 0, tc.file)
			advise := s.AdviseCorruptImmutable
			if tc.mutable {
				advise = s.AdviseCorruptMutable
			}
			if err := advise(bg, si, 0, "unreadable"); err != nil {
				t.Fatal(err)
			}
			s.waitChecks()
			got, _ := b.List(bg, si)
			if tc.quarantined {
				if len(got) != 0 || len(s.Quarantined()) != 1 || s.Quarantined()[0].Kind != "unknown" {
					t.Fatalf("still in service: %v, quarantined %+v", got, s.Quarantined())
				}
				// Its number can be allocated afresh.
				res, err := s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, 10)
				if err != nil || !slices.Equal(res.Allocated, []lafs.ShareNum{0}) {
					t.Fatalf("allocate after the quarantine: %+v, %v", res, err)
				}
				return
			}
			if len(got) != 1 || len(s.Quarantined()) != 0 {
				t.Fatalf("taken out of service: %v left, quarantined %+v", got, s.Quarantined())
			}
			if s.Stats().CorruptContainers != 1 {
				t.Errorf("counted %d corrupt containers", s.Stats().CorruptContainers)
			}
		})
	}
}

// TestAdvisoryKeepsIncompatibleShare: a share the verifier finds of a
// format it does not know stays in service.
func TestAdvisoryKeepsIncompatibleShare(t *testing.T) {
	b := mem.New()
	verify := func(kind string, shnum lafs.ShareNum, r io.ReaderAt, size int64) error {
		return fmt.Errorf("%w: layout version 9", ErrShareIncompatible)
	}
	s := newTestServerOn(t, b, Config{VerifyShare: verify})
	si := lafs.StorageIndex{0xc0, 8}
	putImmutable(t, s, si, 0, []byte("a share of a later layout"), lease)
	if err := s.AdviseCorruptImmutable(bg, si, 0, "cannot read it"); err != nil {
		t.Fatal(err)
	}
	s.waitChecks()
	if got, _ := s.ListImmutable(bg, si); len(got) != 1 || len(s.Quarantined()) != 0 {
		t.Fatalf("listed %v, quarantined %+v", got, s.Quarantined())
	}

	// The self-checks say so of share layouts of later versions.
	s = newTestServerOn(t, b, Config{VerifyShare: selfCheck})
	later := bytes.Clone(chkShares(t, 9).Bytes(1))
	binary.BigEndian.PutUint32(later, 3) // the layout version
	putImmutable(t, s, si, 1, later, lease)
	mut := bytes.Repeat([]byte{5}, 2000) // a mutable share's version byte: 5
	putMutable(t, s, lafs.StorageIndex{0xc0, 9}, 0, mut, lease)
	if err := s.AdviseCorruptImmutable(bg, si, 1, "cannot read it"); err != nil {
		t.Fatal(err)
	}
	if err := s.AdviseCorruptMutable(bg, lafs.StorageIndex{0xc0, 9}, 0, "cannot read it"); err != nil {
		t.Fatal(err)
	}
	s.waitChecks()
	if len(s.Quarantined()) != 0 {
		t.Fatalf("quarantined %+v", s.Quarantined())
	}
}

// TestAdvisoryKeepsShareWithTornLeaseRegion (the review's proof): a kill
// -9 between add-lease's two writes (the lease record appended, then the
// lease count in the header) leaves a container whose share data is
// intact. It stays in service whatever an advisory says, its leases are
// readable, and the next lease change repairs it.
func TestAdvisoryKeepsShareWithTornLeaseRegion(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func() backend.Backend) {
		b := open()
		s, _ := quarantineServer(t, b)
		shares := chkShares(t, 7)
		si := lafs.StorageIndex{0xc0, 7}
		putImmutable(t, s, si, 1, shares.Bytes(1), lease)
		k := backend.Key{SI: si, Share: 1}
		c := object(t, b, si, 1)
		// The first write of add-lease, without the second.
		rec := bytes.Repeat([]byte{0xab}, ImmutableLeaseSize)
		if err := b.WriteAt(bg, k, rec, int64(len(c))); err != nil {
			t.Fatal(err)
		}
		b.Sync(bg, k)
		if err := s.AdviseCorruptImmutable(bg, si, 1, "anything"); err != nil {
			t.Fatal(err)
		}
		s.waitChecks()
		got, _ := s.ListImmutable(bg, si)
		if !slices.Contains(got, 1) {
			q := s.Quarantined()
			t.Fatalf("share 1, whose data is intact, was quarantined: %+v", q)
		}
		if data, err := s.ReadImmutable(bg, si, 1, 0, 1<<20); err != nil || !bytes.Equal(data, shares.Bytes(1)) {
			t.Errorf("read %d bytes, %v", len(data), err)
		}
		if ls, _ := leasesOf(t, b, si, 1); len(ls) != 1 || !ls[0].HasRenewSecret(lease.Renew, true) {
			t.Errorf("leases %+v, want the upload's", ls)
		}
		if err := s.AddOrRenewLease(bg, si, lease2); err != nil {
			t.Fatal(err)
		}
		if leaseStoreOf(b) != nil {
			return // leases live outside: nothing rewrites the container
		}
		after := object(t, b, si, 1)
		info, err := ReadContainerInfo(bytes.NewReader(after), int64(len(after)))
		if err != nil || info.DataLength != int64(len(shares.Bytes(1))) || len(info.Leases) != 2 {
			t.Errorf("after a lease change Tahoe's rule reads %+v, %v", info, err)
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
	s := newTestServerOn(t, fb, Config{VerifyShare: selfCheck, Logger: newTextLogger(&syncWriter{w: &log})})
	shares := chkShares(t, 4)
	si := lafs.StorageIndex{0xc0, 5}
	putImmutable(t, s, si, 0, shares.Bytes(0), lease)
	flipShareByte(t, m, backend.Key{SI: si}, ImmutableHeaderSize, 0x24)
	fb.failFrom.Store(ImmutableHeaderSize + int64(len(shares.Bytes(0)))/2) // the hashes and the UEB
	if err := s.AdviseCorruptImmutable(bg, si, 0, "bad"); err != nil {
		t.Fatal(err)
	}
	s.waitChecks()
	fb.failFrom.Store(0)
	if got, _ := s.ListImmutable(bg, si); len(got) != 1 || s.Stats().QuarantinedShares != 0 {
		t.Fatalf("a share that could not be read whole was quarantined: %v listed", got)
	}
	if s.Close(); !strings.Contains(log.String(), "could not check") {
		t.Errorf("the log says nothing of the failed check: %s", log.String())
	}
}

// failingBackend fails reads that reach past failFrom (when set).
type failingBackend struct {
	backend.Backend
	failFrom atomic.Int64
}

// syncWriter serializes writes to w, for loggers used from several
// goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

func (f *failingBackend) ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error) {
	if from := f.failFrom.Load(); from > 0 && off+int64(len(p)) > from {
		return 0, errors.New("read: input/output error")
	}
	return f.Backend.ReadAt(ctx, k, p, off)
}
