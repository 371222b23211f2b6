package backendtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lafs/lafs/backend"
)

// RunRecords runs the conformance suite of backend.RecordStore as subtests
// of t. open returns a fresh store holding no records each time it is
// called; it may register cleanups on the t it is given. Beyond what
// backend.RecordStore promises, the suite checks that a store refuses
// invalid names and records over backend.MaxRecordSize with an error,
// keeps no reference to the caller's bytes, and stores an empty record.
// Run it under -race.
func RunRecords(t *testing.T, open func(t *testing.T) backend.RecordStore) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, backend.RecordStore)
	}{
		{"PutGet", testRecordPutGet},
		{"Replace", testRecordReplace},
		{"Delete", testRecordDelete},
		{"Walk", testRecordWalk},
		{"WalkPrefix", testRecordWalkPrefix},
		{"WalkDelete", testRecordWalkDelete},
		{"WalkPut", testRecordWalkPut},
		{"InvalidName", testRecordInvalidName},
		{"Size", testRecordSize},
		{"Concurrent", testRecordConcurrent},
		{"Canceled", testRecordCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

// recPut stores data under name.
func recPut(t testing.TB, rs backend.RecordStore, name string, data []byte) {
	t.Helper()
	if err := rs.PutRecord(ctx, name, data); err != nil {
		t.Fatalf("PutRecord %s: %v", name, err)
	}
}

// wantRecord checks that name holds want.
func wantRecord(t testing.TB, rs backend.RecordStore, name string, want []byte, when string) {
	t.Helper()
	got, err := rs.GetRecord(ctx, name)
	if err != nil {
		t.Errorf("%s: GetRecord %s: %v", when, name, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s: GetRecord %s = %d bytes %.32q, want %d bytes %.32q", when, name, len(got), got, len(want), want)
	}
}

// wantNoRecord checks that GetRecord of name reports ErrNotExist.
func wantNoRecord(t testing.TB, rs backend.RecordStore, name, when string) {
	t.Helper()
	got, err := rs.GetRecord(ctx, name)
	if !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("%s: GetRecord %s = %d bytes, %v; want %v", when, name, len(got), err, backend.ErrNotExist)
	}
}

// recWalk returns the names WalkRecords visits under prefix, checking that
// they come in ascending order without repeats.
func recWalk(t testing.TB, rs backend.RecordStore, prefix string) []string {
	t.Helper()
	var names []string
	if err := rs.WalkRecords(ctx, prefix, func(name string) error {
		names = append(names, name)
		return nil
	}); err != nil {
		t.Fatalf("WalkRecords %q: %v", prefix, err)
	}
	wantAscending(t, names, "WalkRecords "+fmt.Sprintf("%q", prefix))
	return names
}

// wantAscending checks that names are in strictly ascending order.
func wantAscending(t testing.TB, names []string, what string) {
	t.Helper()
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Errorf("%s: %q before %q: not in ascending order without repeats", what, names[i-1], names[i])
		}
	}
}

func testRecordPutGet(t *testing.T, rs backend.RecordStore) {
	data := []byte("a lease record")
	recPut(t, rs, "leases/abc/0", data)
	data[0] = 'X' // the store must have copied it
	wantRecord(t, rs, "leases/abc/0", []byte("a lease record"), "after Put")

	got, err := rs.GetRecord(ctx, "leases/abc/0")
	must(t, err)
	clear(got) // the caller's to change
	wantRecord(t, rs, "leases/abc/0", []byte("a lease record"), "after changing what Get returned")

	recPut(t, rs, "empty", nil)
	if got, err := rs.GetRecord(ctx, "empty"); err != nil || len(got) != 0 {
		t.Errorf("GetRecord of an empty record = %q, %v", got, err)
	}

	// Every allowed character, and a name of the greatest length.
	odd := "x/.hidden_-9/.../a.b"
	recPut(t, rs, odd, []byte("odd"))
	wantRecord(t, rs, odd, []byte("odd"), "name of every character")
	long := strings.Repeat("abcdefg/", 63) + "12345678"
	if len(long) != 512 {
		t.Fatalf("long name of %d bytes", len(long))
	}
	recPut(t, rs, long, []byte("long"))
	wantRecord(t, rs, long, []byte("long"), "name of 512 bytes")

	wantNoRecord(t, rs, "leases/abc/1", "never put")
	wantNoRecord(t, rs, "leases/abc", "a prefix of a record's name")
}

func testRecordReplace(t *testing.T, rs backend.RecordStore) {
	recPut(t, rs, "r/1", pattern(1, 5000))
	recPut(t, rs, "r/2", []byte("other"))
	recPut(t, rs, "r/1", []byte("short"))
	wantRecord(t, rs, "r/1", []byte("short"), "after replacing with fewer bytes")
	recPut(t, rs, "r/1", pattern(2, 9000))
	wantRecord(t, rs, "r/1", pattern(2, 9000), "after replacing with more bytes")
	wantRecord(t, rs, "r/2", []byte("other"), "a neighbour")
	if got := recWalk(t, rs, ""); !slices.Equal(got, []string{"r/1", "r/2"}) {
		t.Errorf("WalkRecords after replacing = %q", got)
	}
}

func testRecordDelete(t *testing.T, rs backend.RecordStore) {
	recPut(t, rs, "d/1", []byte("one"))
	recPut(t, rs, "d/2", []byte("two"))
	must(t, rs.DeleteRecord(ctx, "d/1"))
	wantNoRecord(t, rs, "d/1", "after Delete")
	wantRecord(t, rs, "d/2", []byte("two"), "a neighbour after Delete")
	if err := rs.DeleteRecord(ctx, "d/1"); err != nil {
		t.Errorf("DeleteRecord again: %v, want no error", err)
	}
	if err := rs.DeleteRecord(ctx, "never/put"); err != nil {
		t.Errorf("DeleteRecord of a name never put: %v, want no error", err)
	}
	if got := recWalk(t, rs, ""); !slices.Equal(got, []string{"d/2"}) {
		t.Errorf("WalkRecords after Delete = %q", got)
	}
	recPut(t, rs, "d/1", []byte("again"))
	wantRecord(t, rs, "d/1", []byte("again"), "put after Delete")
}

func testRecordWalk(t *testing.T, rs backend.RecordStore) {
	if got := recWalk(t, rs, ""); len(got) != 0 {
		t.Errorf("WalkRecords of an empty store = %q", got)
	}
	want := []string{"a", "a-b", "a.b", "a/b", "a0", "b/c/d", "leases/aa/1", "leases/aa/10", "leases/aa/2", "z"}
	order := []int{7, 2, 9, 0, 4, 8, 1, 6, 3, 5}
	for _, i := range order {
		recPut(t, rs, want[i], []byte(want[i]))
	}
	if got := recWalk(t, rs, ""); !slices.Equal(got, want) {
		t.Errorf("WalkRecords = %q\nwant %q", got, want)
	}

	errStop := errors.New("stop here")
	var seen []string
	err := rs.WalkRecords(ctx, "", func(name string) error {
		seen = append(seen, name)
		if len(seen) == 3 {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) || len(seen) != 3 {
		t.Errorf("WalkRecords whose f fails on the third call: %v after %d calls", err, len(seen))
	}
}

func testRecordWalkPrefix(t *testing.T, rs backend.RecordStore) {
	for _, name := range []string{"leases/ab/0", "leases/ab/1", "leases/abc/0", "leases/b/0", "leasedb/epoch", "other/x"} {
		recPut(t, rs, name, []byte(name))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"leases/", []string{"leases/ab/0", "leases/ab/1", "leases/abc/0", "leases/b/0"}},
		{"leases/ab/", []string{"leases/ab/0", "leases/ab/1"}},
		{"leases/ab", []string{"leases/ab/0", "leases/ab/1", "leases/abc/0"}}, // a prefix of strings, not of folders
		{"lease", []string{"leasedb/epoch", "leases/ab/0", "leases/ab/1", "leases/abc/0", "leases/b/0"}},
		{"leasedb/epoch", []string{"leasedb/epoch"}},
		{"leases/c", nil},
		{"nothing/", nil},
	} {
		if got := recWalk(t, rs, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("WalkRecords %q = %q\nwant %q", tc.prefix, got, tc.want)
		}
	}
}

// testRecordWalkDelete deletes records during a walk, as a lease index
// rebuild deletes orphans: the one being visited, and one further on.
func testRecordWalkDelete(t *testing.T, rs backend.RecordStore) {
	var names []string
	for i := range 20 {
		names = append(names, fmt.Sprintf("w/%02d", i))
	}
	for _, n := range names {
		recPut(t, rs, n, []byte(n))
	}
	var seen []string
	err := rs.WalkRecords(ctx, "w/", func(name string) error {
		seen = append(seen, name)
		if err := rs.DeleteRecord(ctx, name); err != nil {
			return err
		}
		if name == "w/05" {
			return rs.DeleteRecord(ctx, "w/15")
		}
		return nil
	})
	must(t, err)
	wantAscending(t, seen, "WalkRecords while deleting")
	// Every record not deleted ahead of the walk is seen; w/15 may be.
	want := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "w/15" })
	if got := slices.DeleteFunc(slices.Clone(seen), func(n string) bool { return n == "w/15" }); !slices.Equal(got, want) {
		t.Errorf("WalkRecords while deleting saw %q\nwant %q (and perhaps w/15)", seen, want)
	}
	if got := recWalk(t, rs, ""); len(got) != 0 {
		t.Errorf("after deleting every record, WalkRecords = %q", got)
	}
}

// testRecordWalkPut puts records during a walk: no error, no repeats, and
// every record there before the walk is seen.
func testRecordWalkPut(t *testing.T, rs backend.RecordStore) {
	for i := range 10 {
		recPut(t, rs, fmt.Sprintf("p/%02d", i*2), []byte("x"))
	}
	var seen []string
	err := rs.WalkRecords(ctx, "p/", func(name string) error {
		seen = append(seen, name)
		var i int
		fmt.Sscanf(name, "p/%d", &i)
		if i < 20 {
			if err := rs.PutRecord(ctx, fmt.Sprintf("p/%02d", i+1), []byte("y")); err != nil {
				return err
			}
		}
		return rs.PutRecord(ctx, name, []byte("replaced"))
	})
	must(t, err)
	wantAscending(t, seen, "WalkRecords while putting")
	for i := range 10 {
		if n := fmt.Sprintf("p/%02d", i*2); !slices.Contains(seen, n) {
			t.Errorf("WalkRecords while putting missed %s", n)
		}
	}
}

// invalidNames are names every RecordStore refuses.
var invalidNames = []string{
	"", "/", "a/", "/a", "a//b", "A", "leases/ABC/0", "a b", "a\x00b", "é",
	".", "..", "a/./b", "a/../b", "../a", "a\\b", "a:b",
	strings.Repeat("a", 513),
	strings.Repeat("abcdefg/", 64) + "1",
}

func testRecordInvalidName(t *testing.T, rs backend.RecordStore) {
	recPut(t, rs, "a/b", []byte("kept"))
	for _, name := range invalidNames {
		if backend.ValidRecordName(name) {
			t.Fatalf("ValidRecordName(%.40q) = true", name)
		}
		if err := rs.PutRecord(ctx, name, []byte("x")); err == nil {
			t.Errorf("PutRecord(%.40q) succeeded", name)
		}
		if got, err := rs.GetRecord(ctx, name); err == nil {
			t.Errorf("GetRecord(%.40q) = %q, no error", name, got)
		}
		if err := rs.DeleteRecord(ctx, name); err == nil {
			t.Errorf("DeleteRecord(%.40q) succeeded", name)
		}
	}
	if got := recWalk(t, rs, ""); !slices.Equal(got, []string{"a/b"}) {
		t.Errorf("after refused puts, WalkRecords = %q", got)
	}
	wantRecord(t, rs, "a/b", []byte("kept"), "after refused deletes")
}

func testRecordSize(t *testing.T, rs backend.RecordStore) {
	largest := pattern(3, backend.MaxRecordSize)
	recPut(t, rs, "big", largest)
	wantRecord(t, rs, "big", largest, "a record of MaxRecordSize bytes")
	if err := rs.PutRecord(ctx, "big", pattern(4, backend.MaxRecordSize+1)); err == nil {
		t.Errorf("PutRecord of MaxRecordSize+1 bytes succeeded")
	}
	wantRecord(t, rs, "big", largest, "after a refused oversized replacement")
	if err := rs.PutRecord(ctx, "huge", pattern(5, 4*backend.MaxRecordSize)); err == nil {
		t.Errorf("PutRecord of 4*MaxRecordSize bytes succeeded")
	}
	wantNoRecord(t, rs, "huge", "after a refused oversized put")
}

// testRecordConcurrent puts, reads and deletes different records from
// several goroutines, and replaces one record while others read it: every
// read sees one whole version, never a mixture.
func testRecordConcurrent(t *testing.T, rs backend.RecordStore) {
	const workers, each = 8, 20
	var wg sync.WaitGroup
	for g := range workers {
		wg.Go(func() {
			for i := range each {
				name := fmt.Sprintf("c/%d/%d", g, i)
				data := pattern(g*each+i, 100+i*37)
				if err := rs.PutRecord(ctx, name, data); err != nil {
					t.Errorf("PutRecord %s: %v", name, err)
					return
				}
				if got, err := rs.GetRecord(ctx, name); err != nil || !bytes.Equal(got, data) {
					t.Errorf("GetRecord %s right after Put: %d bytes, %v", name, len(got), err)
				}
				if i%4 == 3 {
					if err := rs.DeleteRecord(ctx, name); err != nil {
						t.Errorf("DeleteRecord %s: %v", name, err)
					}
				}
			}
		})
	}

	versions := [][]byte{pattern(100, 10), pattern(101, 3000), pattern(102, 70000)}
	recPut(t, rs, "shared", versions[0])
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				got, err := rs.GetRecord(ctx, "shared")
				if err != nil {
					t.Errorf("GetRecord while it is replaced: %v", err)
					return
				}
				if !slices.ContainsFunc(versions, func(v []byte) bool { return bytes.Equal(v, got) }) {
					t.Errorf("GetRecord while it is replaced read %d bytes that are no version put", len(got))
					return
				}
			}
		})
	}
	for i := range 30 {
		if err := rs.PutRecord(ctx, "shared", versions[i%len(versions)]); err != nil {
			t.Errorf("PutRecord shared: %v", err)
			break
		}
	}
	wg.Wait()
	close(stop)
	readers.Wait()

	for g := range workers {
		var want []string
		for i := range each {
			if i%4 != 3 {
				want = append(want, fmt.Sprintf("c/%d/%d", g, i))
			}
		}
		slices.Sort(want)
		prefix := fmt.Sprintf("c/%d/", g)
		if got := recWalk(t, rs, prefix); !slices.Equal(got, want) {
			t.Errorf("WalkRecords %q after concurrent puts = %q\nwant %q", prefix, got, want)
		}
		for i := range each {
			name := fmt.Sprintf("c/%d/%d", g, i)
			if i%4 == 3 {
				wantNoRecord(t, rs, name, "after concurrent deletes")
			} else {
				wantRecord(t, rs, name, pattern(g*each+i, 100+i*37), "after concurrent puts")
			}
		}
	}
}

// testRecordCanceled calls every method with a canceled context: none may
// panic, a Put that fails leaves the old record whole or replaces it
// whole, and a walk stops once its context is canceled.
func testRecordCanceled(t *testing.T, rs backend.RecordStore) {
	recPut(t, rs, "k/1", []byte("old"))
	recPut(t, rs, "k/2", []byte("two"))
	recPut(t, rs, "k/3", []byte("three"))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	rs.GetRecord(cctx, "k/1")
	rs.DeleteRecord(cctx, "k/3")
	calls := 0
	rs.WalkRecords(cctx, "", func(string) error { calls++; return nil })
	if err := rs.PutRecord(cctx, "k/1", pattern(6, 5000)); err != nil {
		got, err := rs.GetRecord(ctx, "k/1")
		if err != nil || !bytes.Equal(got, []byte("old")) && !bytes.Equal(got, pattern(6, 5000)) {
			t.Errorf("after a failed canceled Put, GetRecord = %d bytes, %v: neither version", len(got), err)
		}
	}
	if err := rs.PutRecord(cctx, "k/new", []byte("new")); err != nil {
		if got, err := rs.GetRecord(ctx, "k/new"); !errors.Is(err, backend.ErrNotExist) && !bytes.Equal(got, []byte("new")) {
			t.Errorf("after a failed canceled Put of a new record, GetRecord = %q, %v", got, err)
		}
	}
	wantRecord(t, rs, "k/2", []byte("two"), "after canceled calls")

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	calls = 0
	err := rs.WalkRecords(wctx, "k/", func(string) error { calls++; wcancel(); return nil })
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("WalkRecords canceled in its first call: %v after %d calls, want %v after 1", err, calls, context.Canceled)
	}
}
