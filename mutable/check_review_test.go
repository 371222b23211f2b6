package mutable

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// The checker and repairer against servers that fail, lie or change
// under them: a repair never publishes an older version over a newer one,
// and a hostile server costs a check a bounded effort.

// unsure wraps a server: reads of the listed shares fail from the nth
// read of each on (1: every read; 2: all but the servermap's), or, with
// rewrite set, the share is rewritten by another writer just before its
// nth read. It counts the writes it receives.
type unsure struct {
	lafs.StorageServer
	shares  []lafs.ShareNum
	nth     int
	rewrite func(sh lafs.ShareNum) error

	mu     sync.Mutex
	reads  map[lafs.ShareNum]int
	writes *atomic.Int64
}

func (u *unsure) ReadMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	u.mu.Lock()
	u.reads[sh]++
	c := u.reads[sh]
	u.mu.Unlock()
	if slices.Contains(u.shares, sh) && c == u.nth && u.rewrite != nil {
		if err := u.rewrite(sh); err != nil {
			return nil, err
		}
	} else if slices.Contains(u.shares, sh) && c >= u.nth && u.rewrite == nil {
		return nil, errors.New("connection reset by peer")
	}
	return u.StorageServer.ReadMutable(ctx, si, sh, off, n)
}

func (u *unsure) ReadTestWrite(ctx context.Context, si lafs.StorageIndex, we lafs.Secret, l lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, rv []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
	u.writes.Add(1)
	return u.StorageServer.ReadTestWrite(ctx, si, we, l, tw, rv)
}

// rewriteShare replaces a share whole, as another writer would, without
// the test's t (it runs inside a server call).
func rewriteShare(g *testgrid.Grid, keys *Keys, server int, sh lafs.ShareNum, data []byte) error {
	s := g.Servers[server]
	size := uint64(len(data))
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{sh: {Write: []lafs.WriteVector{{Offset: 0, Data: data}}, NewLength: &size}}
	res, err := s.Storage.ReadTestWrite(context.Background(), keys.StorageIndex, keys.WriteEnabler(s.NodeID), lafs.LeaseSecrets{}, tw, nil)
	if err == nil && !res.Success {
		err = errors.New("rewrite refused")
	}
	return err
}

// packedShares encodes a version and packs its shares.
func packedShares(t *testing.T, keys *Keys, version byte, seqnum uint64, data []byte) [][]byte {
	t.Helper()
	shares, err := encodeVersion(keys, version, seqnum, 3, 10, DefaultSegmentSize, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(shares))
	for i, s := range shares {
		if out[i], err = s.Marshal(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRepairNeverRollsBack: seq 2 is recoverable on four servers, seq 1
// on the other six. When the check has no verdict on the seq-2 shares
// (their servers fail after listing them, during the map or the verify,
// answer too late, or another writer changes them meanwhile), the repair
// is not attempted, nothing is written, and the file still reads as the
// newest version.
func TestRepairNeverRollsBack(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	newer := []lafs.ShareNum{0, 1, 2, 3}
	for _, tc := range []struct {
		name    string
		verify  bool
		nth     int
		delay   bool // the seq-2 servers' reads hang instead
		rewrite bool // another writer rewrites the seq-2 shares during the verify
	}{
		{name: "verify fails", verify: true, nth: 2},
		{name: "map reads fail", nth: 1},
		{name: "map reads fail, verify", verify: true, nth: 1},
		{name: "reads hang", delay: true},
		{name: "another writer", verify: true, nth: 2, rewrite: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := testgrid.New(t, 10)
			old, nw, newest := randomBytes(5000, 5), randomBytes(6000, 6), randomBytes(7000, 7)
			f, err := Create(ctx, g, keys, cap.SDMF, old, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			publishPartly(t, g, keys, SDMFVersion, 2, nw, newer)
			holders := shareHolders(t, g, keys.StorageIndex)
			seq3 := packedShares(t, keys, SDMFVersion, 3, newest)
			var writes atomic.Int64
			p := wrapPeers(g, func(i int, s lafs.StorageServer) lafs.StorageServer {
				u := &unsure{StorageServer: s, nth: tc.nth, reads: map[lafs.ShareNum]int{}, writes: &writes}
				for _, sh := range newer {
					if holders[sh][0] == i {
						u.shares = append(u.shares, sh)
					}
				}
				if tc.delay && len(u.shares) > 0 {
					u.shares = nil
					g.Faults[i].Set(func(f *testgrid.Faults) { f.ReadDelay = time.Hour })
				}
				if tc.rewrite {
					u.rewrite = func(sh lafs.ShareNum) error { return rewriteShare(g, keys, i, sh, seq3[sh]) }
				}
				return u
			})
			opt := lafs.CheckOptions{Verify: tc.verify, Repair: true, ServerTimeout: 5 * time.Second}
			if tc.delay {
				opt.ServerTimeout = 300 * time.Millisecond
			}
			rr, err := CheckAndRepair(ctx, p, f.Cap(), testOpts, opt)
			if err != nil {
				t.Fatal(err)
			}
			for i := range g.Faults {
				g.Faults[i].Set(func(f *testgrid.Faults) { f.ReadDelay = 0 })
			}
			if rr.Attempted || rr.Successful || writes.Load() != 0 || !reportHas(rr.PostRepair, "Repair not attempted: ") {
				t.Errorf("attempted %v, successful %v, %d writes; report %q", rr.Attempted, rr.Successful, writes.Load(), rr.PostRepair.Report)
			}
			if !reportHas(rr.PostRepair, "could not be read or verified") {
				t.Errorf("report %q does not say why", rr.PostRepair.Report)
			}
			want := nw
			if tc.rewrite {
				want = newest
			}
			got, err := f.Read(ctx)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("read after the check: %v; rolled back to the old version: %v", err, bytes.Equal(got, old))
			}
		})
	}
}

// TestRepairRefusesNewerCorrupt: a newer version whose shares are signed
// but fail the verify (so none of them counts) is still a version someone
// wrote; the repair does not publish the older one over it.
func TestRepairRefusesNewerCorrupt(t *testing.T) {
	keys := testKeys(t, 1)[0]
	w := newWatched(t, 10)
	f := w.create(t, keys, cap.MDMF, randomBytes(300_000, 5))
	publishPartly(t, w.g, keys, MDMFVersion, 2, randomBytes(300_000, 6), []lafs.ShareNum{0, 1, 2, 3})
	holders := shareHolders(t, w.g, keys.StorageIndex)
	for _, sh := range []lafs.ShareNum{0, 1, 2, 3} {
		s, err := ParseShare(shareOn(t, w.g, keys.StorageIndex, holders[sh][0], sh))
		if err != nil {
			t.Fatal(err)
		}
		flip(t, w.g, keys, holders[sh][0], sh, s.Header.BlockRange(1).End-1)
	}
	opt := checkOpt
	opt.Verify = true
	rr := repairOK(t, w.p, f.Cap(), opt)
	if rr.Attempted || w.writeCount() != 0 || !reportHas(rr.PostRepair, "Repair not attempted: version seq2-") {
		t.Errorf("%s; attempted %v, %d writes, report %q", counts(rr.PreRepair), rr.Attempted, w.writeCount(), rr.PostRepair.Report)
	}
}

// TestCheckShareShrinksDuringVerify: another writer replaces a share with
// a shorter version while it is verified; the share is not corrupt (its
// reads ran past the new end), its server is not told so, and the check
// says it changed.
func TestCheckShareShrinksDuringVerify(t *testing.T) {
	keys := testKeys(t, 1)[0]
	w := newWatched(t, 10)
	f := w.create(t, keys, cap.MDMF, randomBytes(300_000, 8))
	const sh = 5
	server := shareHolders(t, w.g, keys.StorageIndex)[sh][0]
	short := packedShares(t, keys, MDMFVersion, 2, randomBytes(1000, 9))[sh]
	var once sync.Once
	var rewriteErr error
	p := wrapPeers(w.g, func(i int, s lafs.StorageServer) lafs.StorageServer {
		h := w.p.servers[w.g.Servers[i]].Storage // watched
		if i != server {
			return h
		}
		return &hooked{StorageServer: h, read: func(n lafs.ShareNum, off, _ uint64) {
			if n == sh && off >= mdmfShareDataOffset {
				once.Do(func() { rewriteErr = rewriteShare(w.g, keys, server, sh, short) })
			}
		}}
	})
	opt := checkOpt
	opt.Verify = true
	r := checkOK(t, p, f.Cap(), opt)
	if rewriteErr != nil {
		t.Fatal(rewriteErr)
	}
	if len(r.Corrupt) != 0 || !reportHas(r, "changed while it was checked") {
		t.Errorf("%s; report %q", counts(r), r.Report)
	}
	time.Sleep(50 * time.Millisecond)
	if got := w.advisedOf(w.g.Servers[server].ID); len(got) != 0 {
		t.Errorf("advised %v corrupt", got)
	}
}

// bigLiar lists every share number there is and serves one real share's
// bytes under each.
type bigLiar struct {
	lafs.StorageServer
	real     lafs.ShareNum
	advised  atomic.Int64
	inflight atomic.Int64
	peak     atomic.Int64
}

func (l *bigLiar) ListMutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	out := make([]lafs.ShareNum, 0, 65536)
	for i := range 65536 {
		out = append(out, lafs.ShareNum(i))
	}
	return out, nil
}

func (l *bigLiar) ReadMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	c := l.inflight.Add(1)
	defer l.inflight.Add(-1)
	for p := l.peak.Load(); c > p && !l.peak.CompareAndSwap(p, c); p = l.peak.Load() {
	}
	time.Sleep(time.Millisecond)
	return l.StorageServer.ReadMutable(ctx, si, l.real, off, n)
}

func (l *bigLiar) AdviseCorruptMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, reason string) error {
	l.advised.Add(1)
	return nil
}

// TestCheckManyShareNumbers: a server that lists every share number costs
// a check a bounded effort: share numbers no share can have are not read,
// a few shares are read at a time, and a bounded number of bad ones are
// named and reported to the server.
func TestCheckManyShareNumbers(t *testing.T) {
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 10)
	var liar *bigLiar
	p := wrapPeers(g, func(i int, s lafs.StorageServer) lafs.StorageServer {
		if i == 0 {
			liar = &bigLiar{StorageServer: s}
			return liar
		}
		return s
	})
	f, err := Create(context.Background(), p, keys, cap.SDMF, randomBytes(5000, 13), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	liar.real = shareNumOn(t, g, keys.StorageIndex, 0)
	for _, verify := range []bool{false, true} {
		liar.advised.Store(0)
		liar.peak.Store(0)
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		r := checkOK(t, p, f.Cap(), lafs.CheckOptions{Verify: verify, ServerTimeout: 5 * time.Second})
		runtime.ReadMemStats(&m1)
		alloc := (m1.TotalAlloc - m0.TotalAlloc) >> 20
		t.Logf("verify=%v: %s; %d report lines, %d advisories, peak %d reads at once, %d MiB allocated",
			verify, counts(r), len(r.Report), liar.advised.Load(), liar.peak.Load(), alloc)
		if len(r.Corrupt) > maxNamedPerServer || liar.advised.Load() > maxNamedPerServer || len(r.Report) > 3*maxNamedPerServer {
			t.Errorf("verify=%v: %d corrupt named, %d advisories, %d report lines", verify, len(r.Corrupt), liar.advised.Load(), len(r.Report))
		}
		if liar.peak.Load() > perServerReads {
			t.Errorf("%d reads at once on one server", liar.peak.Load())
		}
		if alloc > 64 {
			t.Errorf("verify=%v: the check allocated %d MiB", verify, alloc)
		}
		if !reportHas(r, "listed 65280 share numbers of 256 or more") || !reportHas(r, "more bad shares on") {
			t.Errorf("verify=%v: report %q", verify, r.Report)
		}
	}
}

// bigKey serves its shares with the verification key's end (and what
// follows it) moved 1 TiB further, and records the largest read asked.
type bigKey struct {
	lafs.StorageServer
	maxN atomic.Uint64
}

func (b *bigKey) ReadMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	for m := b.maxN.Load(); n > m && !b.maxN.CompareAndSwap(m, n); m = b.maxN.Load() {
	}
	d, err := b.StorageServer.ReadMutable(ctx, si, sh, off, min(n, 4000))
	if err != nil || off != 0 || len(d) < mdmfHeaderSize {
		return d, err
	}
	for _, at := range []int{91, 99, 107, 115} { // vk end, share data, block hash tree, EOF
		binary.BigEndian.PutUint64(d[at:], binary.BigEndian.Uint64(d[at:])+1<<40)
	}
	return d, nil
}

// TestCheckHostileKeyLength: a share whose offsets give its verification
// key a terabyte is bad, not a terabyte to ask for.
func TestCheckHostileKeyLength(t *testing.T) {
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 10)
	var hostile *bigKey
	p := wrapPeers(g, func(i int, s lafs.StorageServer) lafs.StorageServer {
		if i == 0 {
			hostile = &bigKey{StorageServer: s}
			return hostile
		}
		return s
	})
	f, err := Create(context.Background(), g, keys, cap.MDMF, randomBytes(5000, 13), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	for _, verify := range []bool{false, true} {
		r := checkOK(t, p, f.Cap(), lafs.CheckOptions{Verify: verify, ServerTimeout: 5 * time.Second})
		if n := hostile.maxN.Load(); n > batchBytes {
			t.Errorf("verify=%v: asked the hostile server for %d bytes in one read", verify, n)
		}
		if len(r.Corrupt) != 1 || r.Corrupt[0].Server != g.Servers[0].ID || !reportHas(r, "verification key of") {
			t.Errorf("verify=%v: corrupt %v, report %q", verify, r.Corrupt, r.Report)
		}
	}
}

// TestParseRejectsHugeParts: the parts whose length only the unsigned
// offsets state are bounded.
func TestParseRejectsHugeParts(t *testing.T) {
	put := func(b []byte, off int, v uint64, n int) []byte {
		b = bytes.Clone(b)
		if n == 4 {
			binary.BigEndian.PutUint32(b[off:], uint32(v))
		} else {
			binary.BigEndian.PutUint64(b[off:], v)
		}
		return b
	}
	sdmf, mdmf := goodShare(t, SDMFVersion), goodShare(t, MDMFVersion)
	sh, err := ParseHeader(sdmf)
	if err != nil {
		t.Fatal(err)
	}
	mh, err := ParseHeader(mdmf)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		b          []byte
	}{
		// Every offset after the part moved on, so that only the part grows.
		{"MDMF verification key", "verification key of", put(put(put(put(mdmf, 91, mh.Offsets.VerificationKeyEnd+1<<40, 8),
			99, mh.Offsets.ShareData+1<<40, 8), 107, mh.Offsets.BlockHashTree+1<<40, 8), 115, mh.Offsets.EOF+1<<40, 8)},
		{"MDMF signature", "signature of", put(put(put(put(put(mdmf, 83, mh.Offsets.VerificationKey+1<<20, 8),
			91, mh.Offsets.VerificationKeyEnd+1<<20, 8), 99, mh.Offsets.ShareData+1<<20, 8),
			107, mh.Offsets.BlockHashTree+1<<20, 8), 115, mh.Offsets.EOF+1<<20, 8)},
		{"MDMF share hash chain", "share hash chain of", put(put(put(put(put(put(mdmf, 75, mh.Offsets.Signature+34*600, 8),
			83, mh.Offsets.VerificationKey+34*600, 8), 91, mh.Offsets.VerificationKeyEnd+34*600, 8),
			99, mh.Offsets.ShareData+34*600, 8), 107, mh.Offsets.BlockHashTree+34*600, 8), 115, mh.Offsets.EOF+34*600, 8)},
		{"MDMF private key", "private key of", put(put(put(put(put(put(put(mdmf, 67, mh.Offsets.ShareHashChain+1<<20, 8),
			75, mh.Offsets.Signature+1<<20, 8), 83, mh.Offsets.VerificationKey+1<<20, 8), 91, mh.Offsets.VerificationKeyEnd+1<<20, 8),
			99, mh.Offsets.ShareData+1<<20, 8), 107, mh.Offsets.BlockHashTree+1<<20, 8), 115, mh.Offsets.EOF+1<<20, 8)},
		{"SDMF verification key", "verification key of", put(put(put(put(put(put(sdmf, 75, sh.Offsets.Signature+1<<20, 4),
			79, sh.Offsets.ShareHashChain+1<<20, 4), 83, sh.Offsets.BlockHashTree+1<<20, 4), 87, sh.Offsets.ShareData+1<<20, 4),
			91, sh.Offsets.EncPrivKey+1<<20, 8), 99, sh.Offsets.EOF+1<<20, 8)},
		{"SDMF private key", "private key of", put(sdmf, 99, sh.Offsets.EOF+1<<40, 8)},
	} {
		if _, err := ParseHeader(c.b); !errors.Is(err, ErrBadShare) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a bad share's %q", c.name, err, c.want)
		}
	}
}

// TestSelfCheckTahoeShares: Tahoe's own shares pass SelfCheck (and so
// the bounds on their parts).
func TestSelfCheckTahoeShares(t *testing.T) {
	n := 0
	for _, f := range append(gridFiles(t), oldFiles(t)...) {
		for sh, b := range f.shares {
			n++
			if err := SelfCheck(lafs.ShareNum(sh), b); err != nil {
				t.Errorf("%s share %d: %v", f.name, sh, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no Tahoe shares")
	}
}

// TestRepairTooBig: a version bigger than a repair holds in memory is not
// repaired, and the report says why.
func TestRepairTooBig(t *testing.T) {
	keys := testKeys(t, 1)[0]
	defer func(n uint64) { maxRepairBytes = n }(maxRepairBytes)
	maxRepairBytes = 100_000
	w := newWatched(t, 10)
	f := w.create(t, keys, cap.MDMF, randomBytes(200_000, 3))
	setShare(t, w.g, keys, shareHolders(t, w.g, keys.StorageIndex)[4][0], 4, nil)
	rr := repairOK(t, w.p, f.Cap(), checkOpt)
	if rr.Attempted || w.writeCount() != 0 || !reportHas(rr.PostRepair, "is 200000 bytes, more than the 100000 bytes a repair reads") {
		t.Errorf("attempted %v, %d writes, report %q", rr.Attempted, w.writeCount(), rr.PostRepair.Report)
	}
	maxRepairBytes = 200_000
	if rr := repairOK(t, w.p, f.Cap(), checkOpt); !rr.Successful {
		t.Errorf("repair at the bound: %q", rr.PostRepair.Report)
	}
}

// TestCheckIncompatibleShare: a share of a plausible future format is
// listed as incompatible, not corrupt; neither a check nor a read reports
// it to its server; SelfCheck says ErrIncompatible, not ErrBadShare; and
// the repair does not overwrite it.
func TestCheckIncompatibleShare(t *testing.T) {
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		t.Run(format.String(), func(t *testing.T) {
			w := newWatched(t, 10)
			data := randomBytes(5000, 4)
			f := w.create(t, keys, format, data)
			const sh = 6
			server := shareHolders(t, w.g, keys.StorageIndex)[sh][0]
			b := shareOn(t, w.g, keys.StorageIndex, server, sh)
			b[0] = 2
			setShare(t, w.g, keys, server, sh, b)
			w.mu.Lock()
			w.writes = 0
			w.mu.Unlock()
			if err := SelfCheck(sh, b); !errors.Is(err, ErrIncompatible) || errors.Is(err, ErrBadShare) {
				t.Errorf("SelfCheck: %v, want ErrIncompatible and not ErrBadShare", err)
			}
			b[0] = 200
			if err := SelfCheck(sh, b); !errors.Is(err, ErrBadShare) || errors.Is(err, ErrIncompatible) {
				t.Errorf("SelfCheck of version 200: %v, want ErrBadShare", err)
			}
			id := w.g.Servers[server].ID
			for _, verify := range []bool{false, true} {
				r := checkOK(t, w.p, f.Cap(), lafs.CheckOptions{Verify: verify, ServerTimeout: 5 * time.Second})
				wantCounts(t, "incompatible", r, "healthy=false recoverable=true good=9 k=3 n=10 hosts=9 happy=9 wrong=0 rec=1 unrec=0 corrupt=0 responding=10")
				want := []lafs.ShareLocation{{Server: id, StorageIndex: keys.StorageIndex, Num: sh}}
				if !slices.Equal(r.Incompatible, want) || !reportHas(r, "format this client does not know") {
					t.Errorf("verify=%v: incompatible %v, report %q", verify, r.Incompatible, r.Report)
				}
			}
			g, err := Open(context.Background(), w.p, f.Cap(), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := g.Read(context.Background()); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read: %v", err)
			}
			rr := repairOK(t, w.p, f.Cap(), checkOpt)
			if rr.Attempted || w.writeCount() != 0 || !reportHas(rr.PostRepair, "Repair not attempted: shares of a format") {
				t.Errorf("repair: attempted %v, %d writes, report %q", rr.Attempted, w.writeCount(), rr.PostRepair.Report)
			}
			time.Sleep(50 * time.Millisecond) // a read's advisories are not waited for
			if got := w.advisedOf(id); len(got) != 0 {
				t.Errorf("advised %v corrupt", got)
			}
		})
	}
}
