package storage

import (
	"bytes"
	"errors"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/mem"
)

// tickClock is a counters clock that moves one millisecond each time it
// is read, so that every timed operation takes a known time.
type tickClock struct{ t time.Time }

func (c *tickClock) now() time.Time {
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

// TestCounterOperations drives every storage operation and checks what
// each counts and times, against Tahoe's mapping of its HTTP storage
// protocol onto its storage server's counters (counters.go).
func TestCounterOperations(t *testing.T) {
	s := newTestServer(t, mem.New(), Config{NodeID: lafs.NodeID{9}})
	s.counters.now = (&tickClock{time.Unix(1_700_000_000, 0)}).now
	si := lafs.StorageIndex{1}
	const size = 100 << 10 // two 64 KiB pieces
	data := bytes.Repeat([]byte{7}, size)

	if c := s.Counters(); len(c.Counts) != 0 || len(c.Latencies) != 0 {
		t.Fatalf("a new server counted %+v", c)
	}

	// allocate: 1.
	if res, err := s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0, 1}, size); err != nil || len(res.Allocated) != 2 {
		t.Fatalf("allocate: %+v, %v", res, err)
	}
	// write: 2 (two pieces), close: 1, bytes_added: the container.
	if res, err := s.WriteImmutable(bg, si, 0, up, 0, data); err != nil || !res.Done {
		t.Fatalf("write: %+v, %v", res, err)
	}
	// A refused write counts nothing.
	if _, err := s.WriteImmutable(bg, si, 1, []byte("wrong secret"), 0, data); !errors.Is(err, lafs.ErrUnauthorized) {
		t.Fatalf("write with the wrong secret: %v", err)
	}
	// abort: 1, bytes_added: +0.
	if err := s.AbortImmutable(bg, si, 1, up); err != nil {
		t.Fatal(err)
	}
	// get: 1.
	if got, err := s.ListImmutable(bg, si); err != nil || !slices.Equal(got, []lafs.ShareNum{0}) {
		t.Fatalf("list: %v, %v", got, err)
	}
	// get: 1, read: 2.
	if got, err := s.ReadImmutable(bg, si, 0, 0, 2*size); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %d bytes, %v", len(got), err)
	}
	// A missing share: get 1, read 0; a read past the end: get 1, read 0.
	if _, err := s.ReadImmutable(bg, si, 5, 0, 10); !errors.Is(err, lafs.ErrNotExist) {
		t.Fatalf("read of a missing share: %v", err)
	}
	if got, err := s.ReadImmutable(bg, si, 0, size, 10); err != nil || len(got) != 0 {
		t.Fatalf("read past the end: %d bytes, %v", len(got), err)
	}
	// Aborting a complete share looks for it: get 1.
	if err := s.AbortImmutable(bg, si, 0, up); !errors.Is(err, lafs.ErrNotAllowed) {
		t.Fatalf("abort of a complete share: %v", err)
	}
	// add-lease: 1; none for a storage index without shares.
	if err := s.AddOrRenewLease(bg, si, lease); err != nil {
		t.Fatal(err)
	}
	if err := s.AddOrRenewLease(bg, lafs.StorageIndex{2}, lease); !errors.Is(err, lafs.ErrNotExist) {
		t.Fatalf("lease on nothing: %v", err)
	}
	// writev: 1.
	msi := lafs.StorageIndex{3}
	we := lafs.Secret{4}
	mdata := bytes.Repeat([]byte{5}, 70_000)
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{0: {Write: []lafs.WriteVector{{Offset: 0, Data: mdata}}}}
	if res, err := s.ReadTestWrite(bg, msi, we, lease, tw, nil); err != nil || !res.Success {
		t.Fatalf("read-test-write: %+v, %v", res, err)
	}
	// readv: 2 (70000 bytes); none for a missing share or an empty read.
	if got, err := s.ReadMutable(bg, msi, 0, 0, 100_000); err != nil || !bytes.Equal(got, mdata) {
		t.Fatalf("mutable read: %d bytes, %v", len(got), err)
	}
	if _, err := s.ReadMutable(bg, msi, 7, 0, 10); !errors.Is(err, lafs.ErrNotExist) {
		t.Fatalf("mutable read of a missing share: %v", err)
	}
	if got, err := s.ReadMutable(bg, msi, 0, 70_000, 10); err != nil || len(got) != 0 {
		t.Fatalf("mutable read past the end: %d bytes, %v", len(got), err)
	}
	// Not counted, as in Tahoe: listing mutable shares, the version.
	if _, err := s.ListMutable(bg, msi); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Version(bg); err != nil {
		t.Fatal(err)
	}

	c := s.Counters()
	want := map[string]int64{
		"allocate": 1, "write": 2, "close": 1, "abort": 1, "get": 5, "read": 2,
		"add-lease": 1, "writev": 1, "readv": 2,
		"bytes_added": ImmutableHeaderSize + size + ImmutableLeaseSize,
	}
	if !maps.Equal(c.Counts, want) {
		t.Errorf("counts\n got %v\nwant %v", c.Counts, want)
	}
	// Each counted operation but abort has one time per count.
	for name, n := range want {
		l, ok := c.Latencies[name]
		switch {
		case name == "abort" || name == "bytes_added":
			if ok {
				t.Errorf("%s has latencies %+v", name, l)
			}
		case !ok:
			t.Errorf("no latencies for %s", name)
		case int64(l.SampleSize) != n:
			t.Errorf("%s: %d times for %d counted", name, l.SampleSize, n)
		}
	}
	if len(c.Latencies) != len(want)-2 {
		t.Errorf("latencies of %v", slices.Sorted(maps.Keys(c.Latencies)))
	}
	// The clock moves 1 ms a reading: an allocation takes 1 ms, a write
	// of two pieces 1 ms shared between them, its close 1 ms apart.
	s.counters.mu.Lock()
	times := map[string][]float64{
		"allocate": slices.Clone(s.counters.times[opAllocate].s),
		"write":    slices.Clone(s.counters.times[opWrite].s),
		"close":    slices.Clone(s.counters.times[opClose].s),
	}
	s.counters.mu.Unlock()
	for name, w := range map[string][]float64{"allocate": {0.001}, "write": {0.0005, 0.0005}, "close": {0.001}} {
		if !slices.EqualFunc(times[name], w, func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }) {
			t.Errorf("%s times %v, want %v", name, times[name], w)
		}
	}

	counts, stats := c.Named()
	if counts["storage_server.allocate"] != 1 || counts["storage_server.bytes_added"] != want["bytes_added"] || len(counts) != len(want) {
		t.Errorf("named counters %v", counts)
	}
	if v := stats["storage_server.latencies.write.mean"]; math.Abs(v-0.0005) > 1e-9 {
		t.Errorf("write mean %v", v)
	}
	if v := stats["storage_server.latencies.write.samplesize"]; v != 2 {
		t.Errorf("write samplesize %v", v)
	}
	if v, ok := stats["storage_server.latencies.allocate.mean"]; !ok || !math.IsNaN(v) {
		t.Errorf("the mean of one time is %v (present %v), want NaN (Tahoe's None)", v, ok)
	}
	if len(stats) != 9*len(c.Latencies) {
		t.Errorf("%d latency stats for %d categories", len(stats), len(c.Latencies))
	}
}

// TestCounterLatencySummary checks the summary against Tahoe's
// get_latencies on the samples of its own test (test_latencies), the
// values computed by Tahoe's code: only the last 1000 times count, a
// percentile is the sorted times' value at int(p*n) when there are
// enough times, else None.
func TestCounterLatencySummary(t *testing.T) {
	var c counters
	for i := range 10000 {
		c.times[opAllocate].add(float64(i))
	}
	for i := range 20 {
		c.times[opWrite].add(float64(i))
	}
	for i := range 10 {
		c.times[opClose].add(2 * float64(i))
	}
	c.times[opGet].add(5)
	// Out of order, as times come: the summary sorts them.
	for _, i := range []int{40, 3, 56, 0, 17} {
		c.times[opRead].add(float64(i))
	}
	for i := range 57 {
		if i != 40 && i != 3 && i != 56 && i != 0 && i != 17 {
			c.times[opRead].add(float64(i))
		}
	}
	for i := range 999 {
		c.times[opReadv].add(float64(998 - i))
	}
	nan := math.NaN()
	want := map[string]Latency{
		"allocate": {1000, 9499.5, 9010, 9100, 9500, 9900, 9950, 9990, 9999},
		"write":    {20, 9.5, nan, 2, 10, 18, 19, nan, nan},
		"close":    {10, 9, nan, 2, 10, 18, nan, nan, nan},
		"get":      {1, nan, nan, nan, nan, nan, nan, nan, nan},
		"read":     {57, 28, nan, 5, 28, 51, 54, nan, nan},
		"readv":    {999, 499, 9, 99, 499, 899, 949, 989, nan},
	}
	got := c.snapshot().Latencies
	if len(got) != len(want) {
		t.Errorf("categories %v", slices.Sorted(maps.Keys(got)))
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for name, w := range want {
		g := got[name]
		if g.SampleSize != w.SampleSize || !same(g.Mean, w.Mean) || !same(g.P1, w.P1) || !same(g.P10, w.P10) ||
			!same(g.P50, w.P50) || !same(g.P90, w.P90) || !same(g.P95, w.P95) || !same(g.P99, w.P99) || !same(g.P999, w.P999) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, g, w)
		}
	}
}

// TestCounterAbortOnTimeout: an upload dropped for idleness counts as an
// abort, as Tahoe's timer does.
func TestCounterAbortOnTimeout(t *testing.T) {
	clk := &clock{time.Unix(1_700_000_000, 0)}
	s := newTestServer(t, mem.New(), Config{Now: clk.now})
	si := lafs.StorageIndex{1}
	if _, err := s.AllocateBuckets(bg, si, lease, up, []lafs.ShareNum{0}, 10); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(31 * time.Minute)
	if _, err := s.AllocateBuckets(bg, lafs.StorageIndex{2}, lease, up, []lafs.ShareNum{0}, 10); err != nil {
		t.Fatal(err)
	}
	c := s.Counters().Counts
	if c["abort"] != 1 || c["allocate"] != 2 || c["bytes_added"] != 0 {
		t.Errorf("counts %v, want 1 abort, 2 allocates and bytes_added 0", c)
	}
	if _, ok := c["bytes_added"]; !ok {
		t.Errorf("an abort adds 0 to bytes_added, which then appears")
	}
}
