package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/disk"
	"github.com/lafs/lafs/backend/mem"
)

// sentinels are the errors a lafs.StorageServer may return; any other is
// a bare internal error.
var sentinels = []error{
	lafs.ErrNotExist, lafs.ErrUnauthorized, lafs.ErrConflict, lafs.ErrBadRequest, lafs.ErrRange,
	lafs.ErrNoSpace, lafs.ErrNotAllowed, lafs.ErrReadOnly, lafs.ErrCorruptContainer,
}

var kindNames = map[shareKind]string{kindImmutable: "immutable", kindMutable: "mutable"}

// newTestServerOn is newTestServer on any backend.
func newTestServerOn(t *testing.T, b backend.Backend, cfg Config) *Server {
	t.Helper()
	if store := leaseStoreOf(b); store != nil && cfg.Leases == nil {
		cfg.Leases = store
	}
	s, err := New(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newTextLogger logs everything to w.
func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testBackend is one backend the corruption tests run on; dir is where a
// disk backend keeps its files ("" for mem), which no error may name.
type testBackend struct {
	name string
	open func(t *testing.T) (backend.Backend, string)
}

var testBackends = []testBackend{
	{"mem", func(t *testing.T) (backend.Backend, string) { return mem.New(), "" }},
	{"disk", func(t *testing.T) (backend.Backend, string) {
		dir := t.TempDir()
		d, err := disk.Open(filepath.Join(dir, "storage"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d, dir
	}},
}

// checkErr fails t unless err is nil or a lafs sentinel whose text names
// no file under dir.
func checkErr(t *testing.T, op string, err error, dir string) {
	t.Helper()
	if err == nil {
		return
	}
	if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
		t.Errorf("%s: %v: no lafs sentinel (a bare internal error)", op, err)
	}
	if dir != "" && strings.Contains(err.Error(), dir) {
		t.Errorf("%s: error names a path: %v", op, err)
	}
}

// wantCorrupt fails t unless err is lafs.ErrCorruptContainer naming the
// share and no path.
func wantCorrupt(t *testing.T, op string, err error, si lafs.StorageIndex, sh lafs.ShareNum, dir string) {
	t.Helper()
	checkErr(t, op, err, dir)
	if !errors.Is(err, lafs.ErrCorruptContainer) {
		t.Errorf("%s: %v, want ErrCorruptContainer", op, err)
		return
	}
	if name := fmt.Sprintf("share %d of storage index %v", sh, si); !strings.Contains(err.Error(), name) {
		t.Errorf("%s: %q does not name %q", op, err, name)
	}
}

// damage is a way to damage a container of size bytes in a backend.
type damage struct {
	name string
	do   func(ctx context.Context, b backend.Backend, k backend.Key, size int64) error
}

func truncateTo(n int64) damage {
	return damage{fmt.Sprintf("truncated to %d", n), func(ctx context.Context, b backend.Backend, k backend.Key, _ int64) error {
		return errors.Join(b.Truncate(ctx, k, n), b.Sync(ctx, k))
	}}
}

func extendBy(n int64) damage {
	return damage{fmt.Sprintf("extended by %d", n), func(ctx context.Context, b backend.Backend, k backend.Key, size int64) error {
		junk := bytes.Repeat([]byte{0xa5}, int(n))
		return errors.Join(b.WriteAt(ctx, k, junk, size), b.Sync(ctx, k))
	}}
}

func put32(off int64, v uint32) damage {
	return damage{fmt.Sprintf("uint32 at %d = %d", off, v), func(ctx context.Context, b backend.Backend, k backend.Key, _ int64) error {
		return errors.Join(b.WriteAt(ctx, k, binary.BigEndian.AppendUint32(nil, v), off), b.Sync(ctx, k))
	}}
}

func put64(off int64, v uint64) damage {
	return damage{fmt.Sprintf("uint64 at %d = %d", off, v), func(ctx context.Context, b backend.Backend, k backend.Key, _ int64) error {
		return errors.Join(b.WriteAt(ctx, k, binary.BigEndian.AppendUint64(nil, v), off), b.Sync(ctx, k))
	}}
}

func putByte(off int64, v byte) damage {
	return damage{fmt.Sprintf("byte %d = %#x", off, v), func(ctx context.Context, b backend.Backend, k backend.Key, _ int64) error {
		return errors.Join(b.WriteAt(ctx, k, []byte{v}, off), b.Sync(ctx, k))
	}}
}

// corruptCase is a damage and what it does to the share: whether reads
// still serve its data intact, and whether the server finds the
// container corrupt (by reading it, renewing its lease or writing it).
// A container neither readOK nor corrupt is served, but not as it was.
type corruptCase struct {
	damage
	readOK, corrupt bool
}

const testDataLen = 1000

// Container sizes of the shares the tests make: testDataLen bytes of data
// and one lease.
const (
	immSize = ImmutableHeaderSize + testDataLen + ImmutableLeaseSize     // 1084
	mutSize = MutableDataOffset + testDataLen + mutableExtraLeaseCountSz // 1472
)

// immutableCases: where whole lease records follow the share data the
// header's length field gives, the container is read as torn (see
// immutable_container.go), its data intact; else it is corrupt.
func immutableCases() []corruptCase {
	var cs []corruptCase
	for _, n := range []int64{0, 1, 4, 11, 12, 13, 20, 40, 83, 84, 100, 500, 1011, 1013, immSize - 1} {
		cs = append(cs, corruptCase{truncateTo(n), false, true})
	}
	// Cut before the lease: a torn state with no lease record.
	cs = append(cs, corruptCase{truncateTo(immSize - 72), true, false})
	for _, n := range []int64{1, 71, 100, 5000} {
		cs = append(cs, corruptCase{extendBy(n), false, true})
	}
	// A whole record more: torn, as after a crash in add-lease.
	cs = append(cs, corruptCase{extendBy(72), true, false})
	for _, v := range []uint32{0, 3, 0x54616f68, math.MaxUint32} {
		cs = append(cs, corruptCase{put32(0, v), false, true}) // version
	}
	for _, v := range []uint32{0, 999, 1001, math.MaxUint32} {
		cs = append(cs, corruptCase{put32(4, v), false, true}) // data length
	}
	// The lease taken for share data: indistinguishable from a torn
	// container of 1072 bytes of data.
	cs = append(cs, corruptCase{put32(4, 1072), false, false})
	for _, v := range []uint32{0, 2, 15, 1 << 28, math.MaxUint32} {
		cs = append(cs, corruptCase{put32(8, v), true, false}) // lease count: torn
	}
	return cs
}

func mutableCases() []corruptCase {
	var cs []corruptCase
	for _, n := range []int64{0, 1, 11, 12, 31, 32, 33, 83, 99, 100, 101, 467, 468, 469, 1000, 1467, 1468, mutSize - 1} {
		cs = append(cs, corruptCase{truncateTo(n), false, true})
	}
	for _, n := range []int64{1, 92, 1000} {
		cs = append(cs, corruptCase{extendBy(n), true, false}) // nothing reads past the leases
	}
	for _, off := range []int64{0, 3, 26, 31} {
		cs = append(cs, corruptCase{putByte(off, 'X'), false, true}) // magic
	}
	for _, v := range []uint64{1001, 5000, math.MaxUint64} {
		cs = append(cs, corruptCase{put64(mutableDataLengthOffset, v), false, true})
	}
	for _, v := range []uint64{0, 100, 467, 1000, mutSize - 3, 5000, math.MaxUint64} {
		cs = append(cs, corruptCase{put64(mutableExtraLeaseOffset, v), false, true})
	}
	for _, v := range []uint32{1, 5, math.MaxUint32} {
		// The extra lease count: the data is intact, but leases and
		// writes cannot be placed.
		cs = append(cs, corruptCase{put32(MutableDataOffset+testDataLen, v), true, true})
	}
	return cs
}

// testData is the data of share sh.
func testData(sh lafs.ShareNum) []byte {
	return bytes.Repeat([]byte{byte(sh) + 1, 2, 3, 4, 5}, testDataLen/5)
}

// makeImmutable uploads shares 0 and 3 of si.
func makeImmutable(t *testing.T, s *Server, si lafs.StorageIndex) {
	t.Helper()
	if res, err := s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0, 3}, testDataLen); err != nil || len(res.Allocated) != 2 {
		t.Fatalf("allocate: %+v, %v", res, err)
	}
	for _, sh := range []lafs.ShareNum{0, 3} {
		if res, err := s.WriteImmutable(bg, si, sh, up, 0, testData(sh)); err != nil || !res.Done {
			t.Fatalf("write: %+v, %v", res, err)
		}
	}
}

var testWE = lafs.Secret{0xee}

// makeMutable writes shares 0 and 3 of si.
func makeMutable(t *testing.T, s *Server, si lafs.StorageIndex) {
	t.Helper()
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{}
	for _, sh := range []lafs.ShareNum{0, 3} {
		tw[sh] = lafs.TestWriteVectors{Write: []lafs.WriteVector{{Offset: 0, Data: testData(sh)}}}
	}
	if res, err := s.ReadTestWrite(bg, si, testWE, lease, tw, nil); err != nil || !res.Success {
		t.Fatalf("create: %+v, %v", res, err)
	}
}

// TestCorruptContainers damages share 3 of an immutable and of a mutable
// storage index, as the fault run did and more (truncated to many lengths,
// extended, each header field garbled), on the mem and disk backends, and
// puts every operation to the server: a read gives lafs.ErrCorruptContainer
// naming the share and no path (or the data, where the damage spares it);
// the other operations pass over the share (share 0 still works) or give
// that error; no error is a bare internal one; nothing panics; Stats
// counts the share once.
func TestCorruptContainers(t *testing.T) {
	for _, tb := range testBackends {
		for _, kind := range []shareKind{kindImmutable, kindMutable} {
			cases, size, read := immutableCases(), int64(immSize), (*Server).ReadImmutable
			otherRead := (*Server).ReadMutable
			if kind == kindMutable {
				cases, size, read, otherRead = mutableCases(), mutSize, (*Server).ReadMutable, (*Server).ReadImmutable
			}
			for _, c := range cases {
				t.Run(fmt.Sprintf("%s/%s/%s", tb.name, kindNames[kind], c.name), func(t *testing.T) {
					b, dir := tb.open(t)
					s, err := New(b, Config{AdvisoryDir: t.TempDir()})
					if err != nil {
						t.Fatal(err)
					}
					defer s.Close()
					si := lafs.StorageIndex{0xc0, byte(kind)}
					if kind == kindImmutable {
						makeImmutable(t, s, si)
					} else {
						makeMutable(t, s, si)
					}
					k := backend.Key{SI: si, Share: 3}
					if got, err := b.Size(bg, k); err != nil || got != size {
						t.Fatalf("container of %d bytes (%v), want %d", got, err, size)
					}
					if err := c.do(bg, b, k, size); err != nil {
						t.Fatal(err)
					}

					got, err := read(s, bg, si, 3, 0, 1<<20)
					switch {
					case c.readOK:
						if err != nil || !bytes.Equal(got, testData(3)) {
							t.Errorf("read: %d bytes, %v; want the data", len(got), err)
						}
					case c.corrupt:
						wantCorrupt(t, "read", err, si, 3, dir)
					default:
						if err != nil || bytes.Equal(got, testData(3)) {
							t.Errorf("read: %d bytes, %v; want something else than the data", len(got), err)
						}
					}
					if _, err := read(s, bg, si, 3, 5, 1); !c.readOK && c.corrupt {
						wantCorrupt(t, "read at 5", err, si, 3, dir)
					}
					_, err = otherRead(s, bg, si, 3, 0, 10)
					checkErr(t, "read as the other kind", err, dir)
					if !errors.Is(err, lafs.ErrNotExist) && !errors.Is(err, lafs.ErrCorruptContainer) {
						t.Errorf("read as the other kind: %v", err)
					}
					if got, err := read(s, bg, si, 0, 0, 1<<20); err != nil || !bytes.Equal(got, testData(0)) {
						t.Errorf("read of the sound share 0: %v", err)
					}

					list := s.ListImmutable
					if kind == kindMutable {
						list = s.ListMutable
					}
					shs, err := list(bg, si)
					checkErr(t, "list", err, dir)
					if !slices.Contains(shs, 0) {
						t.Errorf("list: %v, %v: want share 0", shs, err)
					}
					if err := s.AddOrRenewLease(bg, si, lafs.LeaseSecrets{Renew: lafs.Secret{42}}); err != nil {
						t.Errorf("lease: %v (share 0 can take it)", err)
					}

					if kind == kindImmutable {
						// A torn container is a share like any other.
						have := []lafs.ShareNum{0, 3}
						if c.corrupt {
							have = have[:1]
						}
						res, err := s.AllocateBuckets(bg, si, lease, []byte("another upload"), []lafs.ShareNum{0, 3}, testDataLen)
						if err != nil || !slices.Equal(res.AlreadyHave, have) || len(res.Allocated) != 0 {
							t.Errorf("allocate: %+v, %v; want %v already there and no allocation", res, err, have)
						}
						checkErr(t, "allocate", err, dir)
						err = s.AbortImmutable(bg, si, 3, up)
						checkErr(t, "abort", err, dir)
						if err == nil {
							t.Error("abort of no upload succeeded")
						}
					}
					write := func(sh lafs.ShareNum) error {
						res, err := s.ReadTestWrite(bg, si, testWE, lease, map[lafs.ShareNum]lafs.TestWriteVectors{
							sh: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("new")}}},
						}, []lafs.ReadVector{{Offset: 0, Size: 10}})
						if err == nil && !res.Success {
							err = errors.New("tests failed")
						}
						return err
					}
					err = write(3)
					checkErr(t, "write share 3", err, dir)
					switch {
					case kind == kindImmutable:
						if !errors.Is(err, lafs.ErrUnauthorized) {
							t.Errorf("write under an immutable storage index: %v", err)
						}
					case c.corrupt:
						wantCorrupt(t, "write share 3", err, si, 3, dir)
					case err != nil:
						t.Errorf("write share 3: %v", err)
					}
					if kind == kindMutable {
						if err := write(0); err != nil {
							t.Errorf("write of share 0 beside a corrupt share 3: %v", err)
						}
					}
					advise := s.AdviseCorruptImmutable
					if kind == kindMutable {
						advise = s.AdviseCorruptMutable
					}
					checkErr(t, "advise", advise(bg, si, 3, "bad"), dir)

					want := 0
					if c.corrupt {
						want = 1
					}
					if got := s.Stats().CorruptContainers; got != want {
						t.Errorf("Stats counts %d corrupt containers, want %d", got, want)
					}
				})
			}
		}
	}
}

// TestCorruptContainerSays pins what the errors say for the fault run's
// truncated containers.
func TestCorruptContainerSays(t *testing.T) {
	b := mem.New()
	s := newTestServer(t, b, Config{})
	si := lafs.StorageIndex{0xc1}
	makeImmutable(t, s, si)
	k := backend.Key{SI: si, Share: 3}
	for _, tc := range []struct {
		size int64
		want string
	}{
		{40, "immutable share 3 of storage index " + si.String() + ": share container is corrupt: header says 1000 bytes of share data and 1 lease (1084 bytes in all), the file holds 40"},
		{12, "header says 1000 bytes of share data and 1 lease (1084 bytes in all), the file holds 12"},
		{11, "share 3 of storage index " + si.String() + ": share container is corrupt: the file holds 11 bytes, too few for any container header"},
	} {
		if err := b.Truncate(bg, k, tc.size); err != nil {
			t.Fatal(err)
		}
		_, err := s.ReadImmutable(bg, si, 3, 0, 10)
		if !errors.Is(err, lafs.ErrCorruptContainer) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("truncated to %d: %v\nwant it to say %q", tc.size, err, tc.want)
		}
	}
	if n := s.Stats().CorruptContainers; n != 1 {
		t.Errorf("one share found corrupt three times counts %d", n)
	}
}

// TestErrorsNameNoPath: the disk backend's errors name the files of the
// storage folder; the server's errors name the share instead, for missing
// shares and for whatever lies in a share's place.
func TestErrorsNameNoPath(t *testing.T) {
	dir := t.TempDir()
	d, err := disk.Open(filepath.Join(dir, "storage"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := newTestServerOn(t, d, Config{})
	si := lafs.StorageIndex{0xd0}
	named := func(op string, err error, want string) {
		t.Helper()
		checkErr(t, op, err, dir)
		if !errors.Is(err, lafs.ErrNotExist) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want ErrNotExist saying %q", op, err, want)
		}
	}
	_, err = s.ReadImmutable(bg, si, 3, 0, 10)
	named("read a missing immutable share", err, "no immutable share 3 of storage index "+si.String())
	_, err = s.ReadMutable(bg, si, 4, 0, 10)
	named("read a missing mutable share", err, "no mutable share 4 of storage index "+si.String())
	named("lease", s.AddOrRenewLease(bg, si, lease), "storage index "+si.String())

	// A folder where share 5 should be: the disk backend calls it no
	// share, naming it.
	siDir := filepath.Join(dir, "storage", "shares", si.String()[:2], si.String())
	if err := os.MkdirAll(filepath.Join(siDir, "5"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Size(bg, backend.Key{SI: si, Share: 5}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("the disk backend's error does not name the folder (the test needs it to): %v", err)
	}
	_, err = s.ReadImmutable(bg, si, 5, 0, 10)
	named("read a folder as an immutable share", err, "no immutable share 5 of storage index "+si.String())
	_, err = s.ReadMutable(bg, si, 5, 0, 10)
	named("read a folder as a mutable share", err, "no mutable share 5 of storage index "+si.String())
}

// faultBackend is mem with errors of the kind the disk backend gives,
// naming files: readErr for ReadAt, writeErr for WriteAt and Create,
// availErr for Available.
type faultBackend struct {
	*mem.Mem
	readErr, writeErr, availErr error
}

func (f *faultBackend) ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error) {
	if f.readErr != nil {
		return 0, f.readErr
	}
	return f.Mem.ReadAt(ctx, k, p, off)
}

func (f *faultBackend) WriteAt(ctx context.Context, k backend.Key, p []byte, off int64) error {
	if f.writeErr != nil {
		return f.writeErr
	}
	return f.Mem.WriteAt(ctx, k, p, off)
}

func (f *faultBackend) Create(ctx context.Context, k backend.Key, size int64) (backend.Staged, error) {
	if f.writeErr != nil {
		return nil, f.writeErr
	}
	return f.Mem.Create(ctx, k, size)
}

func (f *faultBackend) Available(ctx context.Context) (uint64, error) {
	if f.availErr != nil {
		return 0, f.availErr
	}
	return f.Mem.Available(ctx)
}

// TestBackendErrorsNameNoPath: whatever the backend's error says, the
// server's names the share: the sentinel it maps to and the system's
// error number stay in the chain, the path goes only to the log.
func TestBackendErrorsNameNoPath(t *testing.T) {
	const secretDir = "/srv/very/secret/storage"
	pathErr := func(op string, errno syscall.Errno) error {
		return fmt.Errorf("backend/disk: %w", &fs.PathError{Op: op, Path: secretDir + "/shares/ab/abc/3", Err: errno})
	}
	var logged bytes.Buffer
	f := &faultBackend{Mem: mem.New()}
	s := newTestServerOn(t, f, Config{Logger: newTextLogger(&logged)})
	si := lafs.StorageIndex{0xd1}
	makeImmutable(t, s, si)
	makeMutable(t, s, lafs.StorageIndex{0xd2})

	f.readErr = pathErr("read", syscall.EIO)
	_, err := s.ReadImmutable(bg, si, 3, 0, 10)
	if err == nil || strings.Contains(err.Error(), secretDir) || !strings.Contains(err.Error(), "share 3 of storage index "+si.String()) ||
		!errors.Is(err, syscall.EIO) {
		t.Errorf("read with EIO: %v", err)
	}
	if !strings.Contains(logged.String(), secretDir) {
		t.Errorf("the log lacks the path:\n%s", logged.String())
	}
	f.readErr = nil

	f.writeErr = fmt.Errorf("%w: %w", backend.ErrNoSpace, pathErr("write", syscall.ENOSPC))
	err = s.AddOrRenewLease(bg, si, lafs.LeaseSecrets{Renew: lafs.Secret{9}})
	if !errors.Is(err, lafs.ErrNoSpace) || strings.Contains(err.Error(), secretDir) {
		t.Errorf("lease on a full disk: %v", err)
	}
	_, err = s.ReadTestWrite(bg, lafs.StorageIndex{0xd2}, testWE, lease, map[lafs.ShareNum]lafs.TestWriteVectors{
		0: {Write: []lafs.WriteVector{{Offset: 0, Data: []byte("x")}}},
	}, nil)
	if !errors.Is(err, lafs.ErrNoSpace) || strings.Contains(err.Error(), secretDir) {
		t.Errorf("mutable write on a full disk: %v", err)
	}
	f.writeErr = fmt.Errorf("%w: %w", backend.ErrNotExist, pathErr("open", syscall.ENOENT))
	err = s.AddOrRenewLease(bg, si, lafs.LeaseSecrets{Renew: lafs.Secret{10}})
	if !errors.Is(err, lafs.ErrNotExist) || strings.Contains(err.Error(), secretDir) {
		t.Errorf("lease on a vanished share: %v", err)
	}
	f.writeErr = nil

	f.availErr = fmt.Errorf("backend/disk: free space of %s: %w", secretDir, syscall.EIO)
	_, err = s.Version(bg)
	if err == nil || strings.Contains(err.Error(), secretDir) {
		t.Errorf("version without free space: %v", err)
	}
}

// FuzzServeContainer puts arbitrary bytes where share 3 of a storage
// index lies and every operation to the server: none may panic or fail
// with a bare internal error, and share 4 beside it stays usable.
func FuzzServeContainer(f *testing.F) {
	imm := (&ImmutableContainer{Header: ImmutableHeader{Version: ImmutableV2, DataLength: 5}, Data: []byte("hello"),
		Leases: []Lease{{Owner: 1, Expiration: 7}}}).Bytes()
	mut := (&MutableContainer{Header: MutableHeader{Version: MutableV2, WriteEnabler: testWE}, Data: []byte("mutable data"),
		ExtraLeases: []Lease{{Owner: 1}}}).Bytes()
	for _, seed := range [][]byte{imm, mut, imm[:40], mut[:100], mut[:MutableDataOffset+3], {0, 0, 0, 1}, nil} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := mem.New()
		si := lafs.StorageIndex{0xf0}
		put(t, m, si, 3, b)
		s := newTestServer(t, m, Config{})
		tw := func(sh lafs.ShareNum) map[lafs.ShareNum]lafs.TestWriteVectors {
			return map[lafs.ShareNum]lafs.TestWriteVectors{sh: {Write: []lafs.WriteVector{{Offset: 2, Data: []byte("xyz")}}}}
		}
		var errs []error
		add := func(_ any, err error) { errs = append(errs, err) }
		add(s.ReadImmutable(bg, si, 3, 0, 1<<20))
		add(s.ReadMutable(bg, si, 3, 0, 1<<20))
		add(s.ReadMutable(bg, si, 3, 1<<40, 10))
		add(s.ListImmutable(bg, si))
		add(s.ListMutable(bg, si))
		add(nil, s.AddOrRenewLease(bg, si, lease))
		add(s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{3}, 10))
		add(nil, s.AbortImmutable(bg, si, 3, up))
		add(nil, s.AdviseCorruptImmutable(bg, si, 3, "bad"))
		add(nil, s.AdviseCorruptMutable(bg, si, 3, "bad"))
		add(s.ReadTestWrite(bg, si, testWE, lease, tw(3), []lafs.ReadVector{{Offset: 0, Size: 100}}))
		add(s.ReadTestWrite(bg, si, testWE, lease, tw(3), nil))
		add(s.ReadMutable(bg, si, 3, 0, 1<<20))
		for i, err := range errs {
			checkErr(t, fmt.Sprintf("operation %d", i), err, "")
		}
		if s.Stats().CorruptContainers > 1 {
			t.Errorf("one container counted %d times", s.Stats().CorruptContainers)
		}
	})
}
