package storage

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
)

// crashBackend is mem that logs the in-place changes to one object, so
// that a test can rebuild every state a crash could leave of it: what the
// last Sync made durable, plus any subset of the changes made since (the
// kernel writes a file's pages back in its own order).
type crashBackend struct {
	*mem.Mem
	mu  sync.Mutex
	k   backend.Key
	on  bool
	ops []crashOp
}

type crashOp struct {
	kind byte // 'w', 't', 's' (sync)
	off  int64
	data []byte
}

func (c *crashBackend) log(k backend.Key, op crashOp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.on && k == c.k {
		c.ops = append(c.ops, op)
	}
}

func (c *crashBackend) WriteAt(ctx context.Context, k backend.Key, p []byte, off int64) error {
	c.log(k, crashOp{'w', off, bytes.Clone(p)})
	return c.Mem.WriteAt(ctx, k, p, off)
}

func (c *crashBackend) Truncate(ctx context.Context, k backend.Key, size int64) error {
	c.log(k, crashOp{'t', size, nil})
	return c.Mem.Truncate(ctx, k, size)
}

func (c *crashBackend) Sync(ctx context.Context, k backend.Key) error {
	c.log(k, crashOp{'s', 0, nil})
	return c.Mem.Sync(ctx, k)
}

// record starts logging the changes to k.
func (c *crashBackend) record(k backend.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.k, c.on, c.ops = k, true, nil
}

func applyOp(b []byte, op crashOp) []byte {
	switch op.kind {
	case 'w':
		if end := op.off + int64(len(op.data)); end > int64(len(b)) {
			b = append(b, make([]byte, end-int64(len(b)))...)
		}
		copy(b[op.off:], op.data)
	case 't':
		if op.off <= int64(len(b)) {
			b = b[:op.off]
		} else {
			b = append(b, make([]byte, op.off-int64(len(b)))...)
		}
	}
	return b
}

// states returns every state a crash could leave of the object that was
// start when recording began, each with a name.
func (c *crashBackend) states(start []byte) (names []string, states [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := bytes.Clone(start)
	var group []crashOp
	flush := func(g int) {
		for mask := range 1 << len(group) {
			st := bytes.Clone(base)
			var kept []string
			for i, op := range group {
				if mask&(1<<i) != 0 {
					st = applyOp(st, op)
					kept = append(kept, fmt.Sprintf("%c@%d", op.kind, op.off))
				}
			}
			names = append(names, fmt.Sprintf("after %d syncs, then %v", g, kept))
			states = append(states, st)
		}
		for _, op := range group {
			base = applyOp(base, op)
		}
		group = nil
	}
	g := 0
	for _, op := range c.ops {
		if op.kind == 's' {
			flush(g)
			g++
			continue
		}
		group = append(group, op)
	}
	flush(g)
	return names, states
}

// leaseSet names leases by their renew secret's first byte.
func leaseSet(ls []Lease) []byte {
	var out []byte
	for _, l := range ls {
		out = append(out, l.RenewSecret[0])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// v1Lease is a lease as a version 1 container stores it (secrets in
// clear), so that a test can tell leases apart by their secrets.
func v1Secrets(b byte) lafs.LeaseSecrets {
	return lafs.LeaseSecrets{Renew: lafs.Secret{b}, Cancel: lafs.Secret{b, 1}}
}

// v1Container is an immutable version 1 container of data with leases
// whose renew secrets begin with the given bytes, each expiring at exp.
func v1Container(data []byte, exp []uint32, ids ...byte) []byte {
	c := &ImmutableContainer{Header: ImmutableHeader{Version: ImmutableV1, DataLength: uint32(len(data))}, Data: data}
	for i, id := range ids {
		c.Leases = append(c.Leases, newLease(OwnerClient, v1Secrets(id), exp[i], lafs.NodeID{}, false))
	}
	return c.Bytes()
}

// checkCrashStates checks every state a crash could leave of share k: it
// parses, its data is data, its leases in use include must and are among
// may; and once the server adds a lease, the container is as Tahoe's rule
// reads it too.
func checkCrashStates(t *testing.T, cb *crashBackend, start []byte, k backend.Key, data []byte, must, may []byte) {
	t.Helper()
	names, states := cb.states(start)
	if len(states) < 3 {
		t.Fatalf("only %d states recorded", len(states))
	}
	for i, st := range states {
		c, err := ParseImmutableContainer(st)
		if err != nil {
			t.Errorf("%s: %v", names[i], err)
			continue
		}
		got := leaseSet(c.Leases)
		if !bytes.Equal(c.Data, data) {
			t.Errorf("%s: %d bytes of data, want %d", names[i], len(c.Data), len(data))
		}
		for _, id := range must {
			if !slices.Contains(got, id) {
				t.Errorf("%s: leases in use %v lack %d", names[i], got, id)
			}
		}
		for _, id := range got {
			if !slices.Contains(may, id) {
				t.Errorf("%s: leases in use %v hold %d", names[i], got, id)
			}
		}
		// The server serves it, and its next lease change repairs it.
		m := mem.New()
		put(t, m, k.SI, k.Share, st)
		s := newTestServer(t, m, Config{})
		if got, err := s.ReadImmutable(bg, k.SI, k.Share, 0, 1<<20); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: read %d bytes, %v", names[i], len(got), err)
		}
		if err := s.AddOrRenewLease(bg, k.SI, v1Secrets(99)); err != nil {
			t.Errorf("%s: lease: %v", names[i], err)
			continue
		}
		after := get(t, m, k.SI, k.Share)
		info, err := ReadContainerInfo(bytes.NewReader(after), int64(len(after)))
		if err != nil || info.DataLength != int64(len(data)) || len(info.Leases) != len(c.Leases)+1 {
			t.Errorf("%s: after a lease change Tahoe's rule reads %+v, %v", names[i], info, err)
		}
	}
}

// TestAddLeaseCrashSafe: whatever a crash keeps of add-lease's writes
// (the record appended, the count), the share data is served intact and
// the leases in use are the old ones, with or without the new one; the
// next lease change writes the container back in the state Tahoe reads.
func TestAddLeaseCrashSafe(t *testing.T) {
	cb := &crashBackend{Mem: mem.New()}
	si := lafs.StorageIndex{0xa1}
	k := backend.Key{SI: si}
	data := bytes.Repeat([]byte("share data "), 50)
	start := v1Container(data, []uint32{1 << 31, 1 << 31}, 1, 2)
	put(t, cb, si, 0, start)
	s := newTestServerOn(t, cb, Config{})
	cb.record(k)
	if err := s.AddOrRenewLease(bg, si, v1Secrets(3)); err != nil {
		t.Fatal(err)
	}
	checkCrashStates(t, cb, start, k, data, []byte{1, 2}, []byte{1, 2, 3})
}

// TestExpiryCrashSafe: whatever a crash keeps of the expirer's writes
// when it removes expired leases (the records kept, the count, the cut),
// no lease still valid is lost.
func TestExpiryCrashSafe(t *testing.T) {
	cb := &crashBackend{Mem: mem.New()}
	si := lafs.StorageIndex{0xa2}
	k := backend.Key{SI: si}
	data := bytes.Repeat([]byte("share data "), 50)
	expired, valid := uint32(t0.Add(-day).Unix()), uint32(t0.Add(10*day).Unix())
	start := v1Container(data, []uint32{expired, valid, expired, valid}, 1, 2, 3, 4)
	put(t, cb, si, 0, start)
	s := newTestServerOn(t, cb, Config{Now: func() time.Time { return t0 }})
	cb.record(k)
	var cc CycleCounts
	if err := s.examineBucket(bg, si, t0, ExpiryConfig{Enabled: true}, &cc); err != nil {
		t.Fatal(err)
	}
	if cc.LeasesRemoved.All != 2 {
		t.Fatalf("%d leases removed, want 2", cc.LeasesRemoved.All)
	}
	checkCrashStates(t, cb, start, k, data, []byte{2, 4}, []byte{1, 2, 3, 4})
}

// TestTornLeaseRegionRead: the states a crash in a lease change leaves,
// made by hand as a Tahoe folder may hold them, are served with their
// data intact and their leases read as the count and the records agree.
func TestTornLeaseRegionRead(t *testing.T) {
	data := bytes.Repeat([]byte{7}, 300)
	three := v1Container(data, []uint32{5, 6, 7}, 1, 2, 3)
	two := v1Container(data, []uint32{5, 6}, 1, 2)
	withCount := func(b []byte, n uint32) []byte {
		b = bytes.Clone(b)
		b[8], b[9], b[10], b[11] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
		return b
	}
	for _, tc := range []struct {
		name      string
		container []byte
		leases    []byte
	}{
		{"record appended, count not", withCount(three, 2), []byte{1, 2}},
		{"count written, record not", withCount(two, 3), []byte{1, 2}},
		{"junk record appended", append(bytes.Clone(two), bytes.Repeat([]byte{0xab}, ImmutableLeaseSize)...), []byte{1, 2}},
		{"records rewritten and count, not cut", withCount(three, 1), []byte{1}},
		{"records rewritten and cut, count not", withCount(three[:len(three)-2*ImmutableLeaseSize], 3), []byte{1}},
		{"no lease record left", withCount(three[:ImmutableHeaderSize+len(data)], 1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseImmutableContainer(tc.container)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Data, data) || !bytes.Equal(leaseSet(c.Leases), tc.leases) {
				t.Errorf("parsed %d bytes of data, leases %v; want %v", len(c.Data), leaseSet(c.Leases), tc.leases)
			}
			m := mem.New()
			si := lafs.StorageIndex{0xa3}
			put(t, m, si, 0, tc.container)
			s := newTestServer(t, m, Config{})
			if got, err := s.ReadImmutable(bg, si, 0, 0, 1000); err != nil || !bytes.Equal(got, data) {
				t.Errorf("read %d bytes, %v", len(got), err)
			}
			if got, err := s.ListImmutable(bg, si); err != nil || !slices.Equal(got, []lafs.ShareNum{0}) {
				t.Errorf("list %v, %v", got, err)
			}
			if s.Stats().CorruptContainers != 0 {
				t.Error("counted corrupt")
			}
		})
	}
}

// bigBackend presents one object as a container of gap more bytes of
// share data than it holds: virtual bytes [at, at+gap) are zeros that are
// not stored, so a test can have a share of 4 GiB or more without
// writing it. Writes into the gap fail.
type bigBackend struct {
	backend.Backend
	k       backend.Key
	at, gap int64
}

func (b *bigBackend) Size(ctx context.Context, k backend.Key) (int64, error) {
	n, err := b.Backend.Size(ctx, k)
	if k == b.k && err == nil {
		n += b.gap
	}
	return n, err
}

func (b *bigBackend) ReadAt(ctx context.Context, k backend.Key, p []byte, off int64) (int, error) {
	if k != b.k {
		return b.Backend.ReadAt(ctx, k, p, off)
	}
	n := 0
	for n < len(p) {
		v := off + int64(n)
		switch {
		case v < b.at:
			m, err := b.Backend.ReadAt(ctx, k, p[n:min(len(p), n+int(b.at-v))], v)
			n += m
			if err != nil {
				return n, err
			}
		case v < b.at+b.gap:
			m := int(min(int64(len(p)-n), b.at+b.gap-v))
			clear(p[n : n+m])
			n += m
		default:
			m, err := b.Backend.ReadAt(ctx, k, p[n:], v-b.gap)
			return n + m, err
		}
	}
	return n, nil
}

func (b *bigBackend) WriteAt(ctx context.Context, k backend.Key, p []byte, off int64) error {
	if k != b.k {
		return b.Backend.WriteAt(ctx, k, p, off)
	}
	switch {
	case off+int64(len(p)) <= b.at:
		return b.Backend.WriteAt(ctx, k, p, off)
	case off >= b.at+b.gap:
		return b.Backend.WriteAt(ctx, k, p, off-b.gap)
	}
	return fmt.Errorf("test: write of %d bytes at %d into the share data", len(p), off)
}

func (b *bigBackend) Truncate(ctx context.Context, k backend.Key, size int64) error {
	if k == b.k {
		if size < b.at+b.gap {
			return fmt.Errorf("test: truncate to %d cuts the share data", size)
		}
		size -= b.gap
	}
	return b.Backend.Truncate(ctx, k, size)
}

// checkLargeCrashStates checks every state a crash could leave of a
// container of bigData bytes of share data (held as a header and lease
// records, see bigBackend): Tahoe's rule, the only one for a saturated
// length field, finds the share data whole, and the leases in use
// include must and are among may.
func checkLargeCrashStates(t *testing.T, cb *crashBackend, start []byte, bigData int64, must, may []byte) {
	t.Helper()
	names, states := cb.states(start)
	if cb.on && len(states) < 2 {
		t.Fatalf("only %d states recorded", len(states))
	}
	for i, st := range states {
		h, err := ParseImmutableHeader(st)
		if err != nil {
			t.Errorf("%s: %v", names[i], err)
			continue
		}
		lay, err := h.layout(int64(len(st)) + bigData)
		if err != nil {
			t.Errorf("%s: %v", names[i], err)
			continue
		}
		if want := ImmutableHeaderSize + bigData; lay.dataEnd != want {
			t.Errorf("%s: share data ends at %d, want %d", names[i], lay.dataEnd, want)
			continue
		}
		var got []Lease
		for off := lay.dataEnd - bigData; off < int64(len(st)); off += ImmutableLeaseSize {
			l, err := ParseImmutableLease(st[off : off+ImmutableLeaseSize])
			if err != nil {
				t.Fatalf("%s: %v", names[i], err)
			}
			got = append(got, l)
		}
		ids := leaseSet(got)
		for _, id := range must {
			if !slices.Contains(ids, id) {
				t.Errorf("%s: leases in use %v lack %d", names[i], ids, id)
			}
		}
		for _, id := range ids {
			if !slices.Contains(may, id) {
				t.Errorf("%s: leases in use %v hold %d", names[i], ids, id)
			}
		}
	}
}

// largeContainer is a container of 5 GiB of share data (not held: see
// bigBackend) with leases whose renew secrets begin with ids.
func largeContainer(t *testing.T, si lafs.StorageIndex, exp []uint32, ids ...byte) (*crashBackend, *bigBackend, []byte, int64) {
	const bigData = int64(5) << 30
	c := &ImmutableContainer{Header: ImmutableHeader{Version: ImmutableV1, DataLength: math.MaxUint32}}
	for i, id := range ids {
		c.Leases = append(c.Leases, newLease(OwnerClient, v1Secrets(id), exp[i], lafs.NodeID{}, false))
	}
	start := c.Bytes()
	cb := &crashBackend{Mem: mem.New()}
	put(t, cb, si, 0, start)
	return cb, &bigBackend{Backend: cb, k: backend.Key{SI: si}, at: ImmutableHeaderSize, gap: bigData}, start, bigData
}

// TestExpiryCrashSafeLargeShare: on a share of 4 GiB or more (its length
// field saturated, so that only Tahoe's rule reads it) the expirer never
// changes the count or the size, whatever a crash keeps of its writes:
// leases [B valid, A expired] never become "A in use, B's record share
// data" (the review's torn state [B, A] with count 1).
func TestExpiryCrashSafeLargeShare(t *testing.T) {
	si := lafs.StorageIndex{0xa4}
	expired, valid := uint32(t0.Add(-day).Unix()), uint32(t0.Add(10*day).Unix())
	cb, bb, start, bigData := largeContainer(t, si, []uint32{valid, expired, expired}, 2, 1, 3)
	s := newTestServerOn(t, bb, Config{Now: func() time.Time { return t0 }})
	cb.record(backend.Key{SI: si})
	var cc CycleCounts
	if err := s.examineBucket(bg, si, t0, ExpiryConfig{Enabled: true}, &cc); err != nil {
		t.Fatal(err)
	}
	if cc.LeasesRemoved.All != 2 {
		t.Fatalf("%d leases removed, want 2", cc.LeasesRemoved.All)
	}
	checkLargeCrashStates(t, cb, start, bigData, []byte{2}, []byte{1, 2, 3})
	// Afterwards only B is in use (in every record), and the next cycle
	// removes nothing.
	checkLargeCrashStates(t, &crashBackend{}, get(t, cb, si, 0), bigData, []byte{2}, []byte{2})
	cc = CycleCounts{}
	if err := s.examineBucket(bg, si, t0, ExpiryConfig{Enabled: true}, &cc); err != nil {
		t.Fatal(err)
	}
	if cc.LeasesRemoved.All != 0 || cc.Actual.All.Shares != 0 {
		t.Errorf("second cycle removed %d leases, deleted %d shares", cc.LeasesRemoved.All, cc.Actual.All.Shares)
	}
}

// TestAddLeaseCrashSafeLargeShare: on a share of 4 GiB or more a new
// lease takes the place of the lease that expires first, in one write;
// no crash state reads share bytes as a lease or a lease as share data.
func TestAddLeaseCrashSafeLargeShare(t *testing.T) {
	si := lafs.StorageIndex{0xa5}
	expired, valid := uint32(t0.Add(-day).Unix()), uint32(t0.Add(10*day).Unix())
	cb, bb, start, bigData := largeContainer(t, si, []uint32{valid, expired}, 1, 2)
	now := t0
	s := newTestServerOn(t, bb, Config{Now: func() time.Time { return now }})
	cb.record(backend.Key{SI: si})
	if err := s.AddOrRenewLease(bg, si, v1Secrets(3)); err != nil {
		t.Fatal(err)
	}
	checkLargeCrashStates(t, cb, start, bigData, []byte{1}, []byte{1, 2, 3})
	after := get(t, cb, si, 0)
	checkLargeCrashStates(t, &crashBackend{}, after, bigData, []byte{1, 3}, []byte{1, 3})
	// Renewing, a day later, keeps the records in place too.
	now = t0.Add(day)
	if err := s.AddOrRenewLease(bg, si, v1Secrets(1)); err != nil {
		t.Fatal(err)
	}
	if got := get(t, cb, si, 0); len(got) != len(start) {
		t.Errorf("container of %d bytes (besides its share data), want %d", len(got), len(start))
	}
	// With every lease valid, the one that expires first gives way.
	if err := s.AddOrRenewLease(bg, si, v1Secrets(4)); err != nil {
		t.Fatal(err)
	}
	checkLargeCrashStates(t, &crashBackend{}, get(t, cb, si, 0), bigData, []byte{1, 4}, []byte{1, 4})
}
