// Package backendtest is the conformance suite that every backend.Backend
// passes (restic's backend test suite and perkeep's storagetest are the
// models). A backend's test file calls Run with a constructor:
//
//	func TestBackend(t *testing.T) {
//		backendtest.Run(t, func(t *testing.T) backend.Backend { return mem.New() })
//	}
//
// The suite checks what backend.Backend promises, plus what all our
// backends do beyond it: a staged object refuses writes past the size
// given to Create, Commit and Abort finish it (later writes fail, a later
// Abort does nothing), and a staged object that is also an io.ReaderAt
// reads back what was written to it. A backend that is a
// backend.PrefixWalker is checked against Walk wherever Walk is. Run it
// under -race.
package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// Run runs the suite as subtests of t. open returns a fresh, empty backend
// each time it is called; it may register cleanups on the t it is given.
func Run(t *testing.T, open func(t *testing.T) backend.Backend) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, backend.Backend)
	}{
		{"List", testList},
		{"CommitVisibility", testCommitVisibility},
		{"ReadAt", testReadAt},
		{"WriteAt", testWriteAt},
		{"Truncate", testTruncate},
		{"StagedSize", testStagedSize},
		{"CommitExisting", testCommitExisting},
		{"Abort", testAbort},
		{"NotExist", testNotExist},
		{"Delete", testDelete},
		{"Walk", testWalk},
		{"WalkPrefix", testWalkPrefix},
		{"Available", testAvailable},
		{"Concurrent", testConcurrent},
		{"Churn", testChurn},
		{"Large", testLarge},
		{"Canceled", testCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

var ctx = context.Background()

// si returns a storage index that begins with the given bytes. Indexes
// with the same first byte share Tahoe's two-character prefix folder.
func si(b ...byte) lafs.StorageIndex {
	s := lafs.StorageIndex{15: 0x5a} // a tail, to catch indexes cut short
	copy(s[:], b)
	return s
}

func key(s lafs.StorageIndex, n lafs.ShareNum) backend.Key { return backend.Key{SI: s, Share: n} }

// pattern returns n bytes that differ with seed and position.
func pattern(seed, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(seed*131 + i*7 + i>>8)
	}
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// stage creates a staged object of the given size and writes data at 0.
func stage(t testing.TB, b backend.Backend, k backend.Key, size int64, data string) backend.Staged {
	t.Helper()
	st, err := b.Create(ctx, k, size)
	must(t, err)
	must(t, st.WriteAt([]byte(data), 0))
	return st
}

// put stores data under k (stage, write, commit).
func put(t testing.TB, b backend.Backend, k backend.Key, data []byte) {
	t.Helper()
	must(t, tryPut(b, k, data))
}

func tryPut(b backend.Backend, k backend.Key, data []byte) error {
	st, err := b.Create(ctx, k, int64(len(data)))
	if err != nil {
		return fmt.Errorf("Create %v: %w", k, err)
	}
	if err := st.WriteAt(data, 0); err != nil {
		st.Abort()
		return fmt.Errorf("staged WriteAt %v: %w", k, err)
	}
	if err := st.Commit(ctx); err != nil {
		return fmt.Errorf("Commit %v: %w", k, err)
	}
	return nil
}

// get returns a committed object's bytes.
func get(t testing.TB, b backend.Backend, k backend.Key) []byte {
	t.Helper()
	p, err := tryGet(b, k)
	must(t, err)
	return p
}

// tryGet reads a whole object: Size bytes, then io.EOF.
func tryGet(b backend.Backend, k backend.Key) ([]byte, error) {
	n, err := b.Size(ctx, k)
	if err != nil {
		return nil, fmt.Errorf("Size %v: %w", k, err)
	}
	p := make([]byte, n+1)
	m, err := b.ReadAt(ctx, k, p, 0)
	if int64(m) != n || err != io.EOF {
		return nil, fmt.Errorf("ReadAt %v of all %d bytes and one more: n=%d err=%v, want n=%d io.EOF", k, n, m, err, n)
	}
	return p[:n], nil
}

// wantData checks that k holds want.
func wantData(t testing.TB, b backend.Backend, k backend.Key, want, when string) {
	t.Helper()
	if got := get(t, b, k); string(got) != want {
		t.Errorf("%s: %v holds %q, want %q", when, k, got, want)
	}
}

// wantList checks that List(s) gives want.
func wantList(t testing.TB, b backend.Backend, s lafs.StorageIndex, when string, want ...lafs.ShareNum) {
	t.Helper()
	l, err := b.List(ctx, s)
	if err != nil || !slices.Equal(l, want) {
		t.Errorf("%s: List = %v, %v; want %v", when, l, err, want)
	}
}

func wantNotExist(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("%s: %v, want ErrNotExist", what, err)
	}
}

// walk returns the storage indexes Walk visits, in byte order. If b is a
// backend.PrefixWalker, it checks that walking every prefix visits the
// same ones, each under its own prefix.
func walk(t testing.TB, b backend.Backend) []lafs.StorageIndex {
	t.Helper()
	var got []lafs.StorageIndex
	must(t, b.Walk(ctx, func(s lafs.StorageIndex) error { got = append(got, s); return nil }))
	sortSIs(got)
	if dup := duplicate(got); dup != nil {
		t.Errorf("Walk visits %v more than once", *dup)
	}
	if pw, ok := b.(backend.PrefixWalker); ok {
		byPrefix := walkPrefixes(t, pw)
		if !slices.Equal(byPrefix, got) {
			t.Errorf("WalkPrefix over all prefixes = %v, Walk = %v", byPrefix, got)
		}
	}
	return got
}

func sortSIs(sis []lafs.StorageIndex) {
	slices.SortFunc(sis, func(a, b lafs.StorageIndex) int { return bytes.Compare(a[:], b[:]) })
}

// duplicate returns a storage index that sorted sis holds twice, if any.
func duplicate(sis []lafs.StorageIndex) *lafs.StorageIndex {
	for i := 1; i < len(sis); i++ {
		if sis[i] == sis[i-1] {
			return &sis[i]
		}
	}
	return nil
}

// walkPrefixes returns the storage indexes WalkPrefix visits over all
// the prefixes, in byte order, checking that each comes under its own
// prefix and only once.
func walkPrefixes(t testing.TB, pw backend.PrefixWalker) []lafs.StorageIndex {
	t.Helper()
	var all []lafs.StorageIndex
	for _, p := range backend.Prefixes() {
		must(t, pw.WalkPrefix(ctx, p, func(s lafs.StorageIndex) error {
			if backend.Prefix(s) != p {
				t.Errorf("WalkPrefix(%q) visits %v, of prefix %q", p, s, backend.Prefix(s))
			}
			all = append(all, s)
			return nil
		}))
	}
	sortSIs(all)
	if dup := duplicate(all); dup != nil {
		t.Errorf("WalkPrefix visits %v more than once", *dup)
	}
	return all
}

func testList(t *testing.T, b backend.Backend) {
	wantList(t, b, si(3), "empty backend")
	for _, n := range []lafs.ShareNum{10, 2, 255, 0, 1, 100} {
		put(t, b, key(si(3), n), pattern(int(n), 5))
	}
	put(t, b, key(si(3, 1), 7), []byte("same prefix, other index"))
	wantList(t, b, si(3), "after puts", 0, 1, 2, 10, 100, 255)
}

func testCommitVisibility(t *testing.T, b backend.Backend) {
	k := key(si(2), 3)
	data := pattern(1, 1000)
	st := stage(t, b, k, 1000, string(data[:500]))
	must(t, st.WriteAt(data[500:], 500))
	if ra, ok := st.(io.ReaderAt); ok {
		p := make([]byte, 10)
		if n, err := ra.ReadAt(p, 495); n != 10 || err != nil || !bytes.Equal(p, data[495:505]) {
			t.Errorf("staged ReadAt: %d, %v, %x", n, err, p)
		}
	}
	wantList(t, b, k.SI, "staged")
	_, err := b.Size(ctx, k)
	wantNotExist(t, "Size of a staged object", err)
	_, err = b.ReadAt(ctx, k, make([]byte, 1), 0)
	wantNotExist(t, "ReadAt of a staged object", err)
	if got := walk(t, b); len(got) != 0 {
		t.Errorf("Walk shows a staged object: %v", got)
	}
	must(t, st.Commit(ctx))
	wantList(t, b, k.SI, "committed", 3)
	wantData(t, b, k, string(data), "committed")
	if err := st.WriteAt([]byte("x"), 0); err == nil {
		t.Errorf("staged WriteAt after Commit succeeded")
	}
	if err := st.Abort(); err != nil {
		t.Errorf("Abort after Commit: %v", err)
	}
	wantData(t, b, k, string(data), "Abort after Commit")
}

func testReadAt(t *testing.T, b backend.Backend) {
	k := key(si(4), 0)
	data := pattern(2, 10)
	put(t, b, k, data)
	for _, c := range []struct {
		off, len, n int
		eof         bool // io.EOF required
	}{
		{0, 10, 10, false}, {3, 4, 4, false}, {8, 5, 2, true},
		{10, 1, 0, true}, {20, 3, 0, true}, {5, 0, 0, false},
	} {
		p := make([]byte, c.len)
		n, err := b.ReadAt(ctx, k, p, int64(c.off))
		// io.ReaderAt allows io.EOF with a full read at the very end.
		okErr := err == nil && !c.eof || err == io.EOF && (c.eof || c.off+c.len >= len(data))
		if n != c.n || !okErr || n > 0 && !bytes.Equal(p[:n], data[c.off:c.off+n]) {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v, %x", c.len, c.off, n, err, p[:n])
		}
	}
	if _, err := b.ReadAt(ctx, k, make([]byte, 1), -1); err == nil || err == io.EOF {
		t.Errorf("ReadAt at -1: %v, want an error", err)
	}
}

func testWriteAt(t *testing.T, b backend.Backend) {
	k := key(si(5), 1)
	put(t, b, k, []byte("0123456789"))
	must(t, b.WriteAt(ctx, k, []byte("ab"), 4))
	wantData(t, b, k, "0123ab6789", "overwrite")
	must(t, b.WriteAt(ctx, k, []byte("XY"), 9))
	must(t, b.WriteAt(ctx, k, []byte("end"), 15))
	wantData(t, b, k, "0123ab678XY\x00\x00\x00\x00end", "extending writes")
	must(t, b.Sync(ctx, k))
	wantData(t, b, k, "0123ab678XY\x00\x00\x00\x00end", "after Sync")
	if err := b.WriteAt(ctx, k, []byte("z"), -1); err == nil {
		t.Errorf("WriteAt at -1 succeeded")
	}
}

func testTruncate(t *testing.T, b backend.Backend) {
	k := key(si(6), 2)
	put(t, b, k, []byte("0123456789"))
	must(t, b.Truncate(ctx, k, 4))
	wantData(t, b, k, "0123", "shrunk")
	must(t, b.Truncate(ctx, k, 8))
	wantData(t, b, k, "0123\x00\x00\x00\x00", "grown (the old tail must not come back)")
	must(t, b.Truncate(ctx, k, 0))
	must(t, b.Sync(ctx, k))
	wantData(t, b, k, "", "truncated to 0")
	wantList(t, b, k.SI, "truncated to 0", 2)
	if err := b.Truncate(ctx, k, -1); err == nil {
		t.Errorf("Truncate to -1 succeeded")
	}
}

func testStagedSize(t *testing.T, b backend.Backend) {
	k := key(si(7), 0)
	st, err := b.Create(ctx, k, 10)
	must(t, err)
	must(t, st.WriteAt([]byte("abcde"), 2))
	if err := st.WriteAt([]byte("xyz"), 8); err == nil {
		t.Errorf("staged write past the size given to Create succeeded")
	}
	must(t, st.Commit(ctx))
	// The object ends at the furthest byte written; the gap reads as zeros.
	wantData(t, b, k, "\x00\x00abcde", "sparse staged writes")
	must(t, stage(t, b, key(k.SI, 1), 0, "").Commit(ctx))
	wantData(t, b, key(k.SI, 1), "", "empty object")
}

func testCommitExisting(t *testing.T, b backend.Backend) {
	k := key(si(8), 4)
	put(t, b, k, []byte("first"))
	st := stage(t, b, k, 6, "second")
	wantData(t, b, k, "first", "staged over a committed object")
	if err := st.Commit(ctx); !errors.Is(err, backend.ErrExist) {
		t.Errorf("second Commit: %v, want ErrExist", err)
	}
	if err := st.Abort(); err != nil {
		t.Errorf("Abort after a refused Commit: %v", err)
	}
	wantData(t, b, k, "first", "refused Commit")
}

func testAbort(t *testing.T, b backend.Backend) {
	k := key(si(9), 5)
	st := stage(t, b, k, 3, "abc")
	must(t, st.Abort())
	if err := st.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if err := st.WriteAt([]byte("x"), 0); err == nil {
		t.Errorf("WriteAt after Abort succeeded")
	}
	if err := st.Commit(ctx); err == nil {
		t.Errorf("Commit after Abort succeeded")
	}
	wantList(t, b, k.SI, "aborted")
	_, err := b.Size(ctx, k)
	wantNotExist(t, "Size after Abort", err)
	put(t, b, k, []byte("new")) // the key is free again
	wantData(t, b, k, "new", "Abort, then a new upload")
}

func testNotExist(t *testing.T, b backend.Backend) {
	k := key(si(10), 1)
	put(t, b, key(k.SI, 0), []byte("neighbour"))
	for _, k := range []backend.Key{k, key(si(11), 0)} {
		_, err := b.Size(ctx, k)
		wantNotExist(t, "Size", err)
		_, err = b.ReadAt(ctx, k, make([]byte, 4), 0)
		wantNotExist(t, "ReadAt", err)
		wantNotExist(t, "WriteAt", b.WriteAt(ctx, k, []byte("x"), 0))
		wantNotExist(t, "Truncate", b.Truncate(ctx, k, 0))
		wantNotExist(t, "Sync", b.Sync(ctx, k))
		wantNotExist(t, "Delete", b.Delete(ctx, k))
	}
	wantList(t, b, k.SI, "after failed calls", 0)
	wantList(t, b, si(11), "after failed calls")
}

func testDelete(t *testing.T, b backend.Backend) {
	a, c := key(si(12), 0), key(si(12), 9)
	put(t, b, a, []byte("a"))
	put(t, b, c, []byte("c"))
	must(t, b.Delete(ctx, a))
	wantList(t, b, a.SI, "one deleted", 9)
	wantNotExist(t, "second Delete", b.Delete(ctx, a))
	must(t, b.Delete(ctx, c))
	wantList(t, b, a.SI, "all deleted")
	if got := walk(t, b); len(got) != 0 {
		t.Errorf("Walk after deleting all = %v", got)
	}
	put(t, b, c, []byte("again"))
	wantData(t, b, c, "again", "Delete, then a new upload")
}

func testWalk(t *testing.T, b backend.Backend) {
	want := []lafs.StorageIndex{si(13), si(13, 1), si(14), si(0xff, 0xff, 0xff)}
	for i, s := range want {
		put(t, b, key(s, lafs.ShareNum(i)), []byte("x"))
		put(t, b, key(s, 200), []byte("y"))
	}
	defer stage(t, b, key(si(15), 0), 1, "s").Abort()
	if got := walk(t, b); !slices.Equal(got, want) {
		t.Errorf("Walk = %v, want %v", got, want)
	}
	stop := errors.New("stop")
	calls := 0
	err := b.Walk(ctx, func(s lafs.StorageIndex) error {
		calls++
		if _, err := b.List(ctx, s); err != nil { // f may call the backend
			return err
		}
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Walk whose f fails: %v after %d calls, want %v after 1", err, calls, stop)
	}
}

// testWalkPrefix checks a backend.PrefixWalker (and skips others): over
// all the prefixes it visits what Walk does, one prefix folder's worth
// at a time; staged and deleted objects never show; f's errors and ctx
// stop it; and a name that is no prefix is refused.
func testWalkPrefix(t *testing.T, b backend.Backend) {
	pw, ok := b.(backend.PrefixWalker)
	if !ok {
		t.Skip("not a backend.PrefixWalker")
	}
	// Neighbours that share a prefix or just miss it: the prefix is the
	// first byte and the top two bits of the second.
	want := []lafs.StorageIndex{
		si(0, 0), si(0x22, 0x00), si(0x22, 0x3f), si(0x22, 0x3f, 0xff),
		si(0x22, 0x40), si(0x23), si(0xff, 0xc0), si(0xff, 0xff, 0xff),
	}
	for i, s := range want {
		put(t, b, key(s, lafs.ShareNum(i)), []byte("x"))
	}
	put(t, b, key(want[1], 9), []byte("second share"))
	gone := si(0x22, 0x01)
	put(t, b, key(gone, 0), []byte("deleted"))
	must(t, b.Delete(ctx, key(gone, 0)))
	// Uploads in progress: one under a fresh storage index in a prefix
	// of its own, one in a prefix that has committed objects, one more
	// share of a storage index that has some.
	staged := si(0x80, 0x80)
	defer stage(t, b, key(staged, 0), 1, "s").Abort()
	defer stage(t, b, key(si(0x22, 0x02), 0), 1, "s").Abort()
	defer stage(t, b, key(want[0], 7), 1, "s").Abort()

	if got := walk(t, b); !slices.Equal(got, want) {
		t.Errorf("Walk = %v, want %v", got, want)
	}
	if got := walkPrefixes(t, pw); !slices.Equal(got, want) {
		t.Errorf("WalkPrefix over all prefixes = %v, want %v", got, want)
	}
	one := func(c context.Context, p string, f func(lafs.StorageIndex) error) ([]lafs.StorageIndex, error) {
		var got []lafs.StorageIndex
		err := pw.WalkPrefix(c, p, func(s lafs.StorageIndex) error {
			got = append(got, s)
			if f != nil {
				return f(s)
			}
			return nil
		})
		sortSIs(got)
		return got, err
	}
	p := backend.Prefix(want[1])
	if got, err := one(ctx, p, nil); err != nil || !slices.Equal(got, want[1:4]) {
		t.Errorf("WalkPrefix(%q) = %v, %v; want %v", p, got, err, want[1:4])
	}
	for _, s := range []lafs.StorageIndex{staged, si(0x41)} {
		if got, err := one(ctx, backend.Prefix(s), nil); err != nil || len(got) != 0 {
			t.Errorf("WalkPrefix(%q) of an empty prefix = %v, %v", backend.Prefix(s), got, err)
		}
	}

	// f may call the backend; its error stops the walk.
	stop := errors.New("stop")
	got, err := one(ctx, p, func(s lafs.StorageIndex) error {
		if _, err := b.List(ctx, s); err != nil {
			return err
		}
		return stop
	})
	if !errors.Is(err, stop) || len(got) != 1 {
		t.Errorf("WalkPrefix whose f fails: %v after %d calls, want %v after 1", err, len(got), stop)
	}
	cctx, cancel := context.WithCancel(ctx)
	got, err = one(cctx, p, func(lafs.StorageIndex) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) || len(got) != 1 {
		t.Errorf("WalkPrefix canceled in its first call: %v after %d calls, want %v after 1", err, len(got), context.Canceled)
	}
	if got, err := one(cctx, p, nil); !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Errorf("WalkPrefix with a canceled context: %v after %d calls, want %v at once", err, len(got), context.Canceled)
	}

	for _, bad := range []string{"", "a", "aaa", "AA", "a1", "..", "incoming", "/a"} {
		if _, err := one(ctx, bad, nil); err == nil {
			t.Errorf("WalkPrefix(%q) succeeded, want an error", bad)
		}
	}
	// A prefix, though incoming/ begins with it.
	if got, err := one(ctx, "in", nil); err != nil || len(got) != 0 {
		t.Errorf(`WalkPrefix("in") = %v, %v; want nothing`, got, err)
	}
}

func testAvailable(t *testing.T, b backend.Backend) {
	if n, err := b.Available(ctx); err != nil || n == 0 {
		t.Errorf("Available = %d, %v on a fresh backend", n, err)
	}
}

// testConcurrent creates shares of several storage indexes in parallel
// while others list and walk.
func testConcurrent(t *testing.T, b backend.Backend) {
	const sis, shares = 4, 10
	var wg sync.WaitGroup
	for i := range sis {
		for n := range shares {
			wg.Go(func() {
				if err := tryPut(b, key(si(16, byte(i)), lafs.ShareNum(n)), pattern(i*shares+n, 3000)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Go(func() {
			for range 20 {
				if _, err := b.List(ctx, si(16, byte(i))); err != nil {
					t.Error(err)
				}
				if err := b.Walk(ctx, func(lafs.StorageIndex) error { return nil }); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	for i := range sis {
		wantList(t, b, si(16, byte(i)), "after parallel puts", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
		for n := range shares {
			k := key(si(16, byte(i)), lafs.ShareNum(n))
			if !bytes.Equal(get(t, b, k), pattern(i*shares+n, 3000)) {
				t.Errorf("%v holds the wrong bytes", k)
			}
		}
	}
}

// testChurn has goroutines create, read and delete different shares of two
// storage indexes over and over, so that folders an implementation removes
// when they empty vanish under the others.
func testChurn(t *testing.T, b backend.Backend) {
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			k := key(si(17, byte(g%2)), lafs.ShareNum(g))
			for i := range 30 {
				data := pattern(g+i, 100)
				if err := tryPut(b, k, data); err != nil {
					t.Error(err)
					return
				}
				if got, err := tryGet(b, k); !bytes.Equal(got, data) {
					t.Errorf("%v: read back other bytes (%v)", k, err)
				}
				if err := b.Delete(ctx, k); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := walk(t, b); len(got) != 0 {
		t.Errorf("after churn Walk = %v", got)
	}
}

// testLarge streams 8 MiB in through WriteAt in chunks and reads it back
// in chunks, as the storage server handles large shares.
func testLarge(t *testing.T, b backend.Backend) {
	const size, chunk = 8 << 20, 1 << 20
	k := key(si(18), 0)
	st, err := b.Create(ctx, k, size)
	must(t, err)
	for off := 0; off < size; off += chunk {
		must(t, st.WriteAt(pattern(off/chunk, chunk), int64(off)))
	}
	must(t, st.Commit(ctx))
	if n, err := b.Size(ctx, k); n != size || err != nil {
		t.Fatalf("Size = %d, %v", n, err)
	}
	p := make([]byte, chunk)
	for off := 0; off < size; off += chunk {
		n, err := b.ReadAt(ctx, k, p, int64(off))
		if n != chunk || err != nil && err != io.EOF || !bytes.Equal(p, pattern(off/chunk, chunk)) {
			t.Fatalf("chunk at %d: n=%d err=%v or wrong bytes", off, n, err)
		}
	}
}

// testCanceled calls every method with a canceled context: none may panic,
// a Commit that fails must leave nothing visible, and Walk stops.
func testCanceled(t *testing.T, b backend.Backend) {
	k := key(si(19), 1)
	for _, s := range []lafs.StorageIndex{si(19), si(20), si(21)} {
		put(t, b, key(s, 1), []byte("data"))
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	b.List(cctx, k.SI)
	b.Size(cctx, k)
	b.ReadAt(cctx, k, make([]byte, 2), 0)
	b.WriteAt(cctx, k, []byte("x"), 0)
	b.Truncate(cctx, k, 4)
	b.Available(cctx)
	b.Walk(cctx, func(lafs.StorageIndex) error { return nil })
	b.Delete(cctx, key(si(20), 1))
	nk := key(k.SI, 2)
	if st, err := b.Create(cctx, nk, 1); err == nil {
		st.WriteAt([]byte("z"), 0)
		if err := st.Commit(cctx); err != nil {
			_, err := b.Size(ctx, nk)
			wantNotExist(t, "Size after a canceled Commit failed", err)
		}
		st.Abort()
	}
	if got := get(t, b, k); len(got) != 4 {
		t.Errorf("after canceled calls: %q", got)
	}

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	calls := 0
	err := b.Walk(wctx, func(lafs.StorageIndex) error { calls++; wcancel(); return nil })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("Walk canceled in its first call: %v after %d calls, want %v after 1", err, calls, context.Canceled)
	}
}
