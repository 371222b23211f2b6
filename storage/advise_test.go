package storage

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/mem"
)

// gate is a verifier that stops after its first read of each share until
// the test lets it go on, and then says what bad says.
type gate struct {
	started chan lafs.ShareNum // a check began (after one read)
	release chan struct{}      // let one check go on
	calls   atomic.Int32
	bad     error
}

func newGate(bad error) *gate {
	return &gate{started: make(chan lafs.ShareNum, 100), release: make(chan struct{}, 100), bad: bad}
}

func (g *gate) verify(kind string, shnum lafs.ShareNum, r io.ReaderAt, size int64) error {
	g.calls.Add(1)
	p := make([]byte, 1)
	if _, err := r.ReadAt(p, 0); err != nil {
		return err
	}
	g.started <- shnum
	<-g.release
	// Read on, as a real check does, whatever the server did meanwhile.
	if _, err := r.ReadAt(p, size-1); err != nil {
		return err
	}
	return g.bad
}

// within fails t unless f returns within a generous time: f must not
// wait for a check under way.
func within(t *testing.T, what string, f func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s waits for the check under way", what)
	}
}

// TestAdvisoryAnsweredAtOnce: an advisory is answered before its check
// ends; the check holds no lock of the storage index while it reads, so
// leases are added meanwhile; and a share that changed during its check
// is checked again before it is quarantined.
func TestAdvisoryAnsweredAtOnce(t *testing.T) {
	g := newGate(errors.New("bad block"))
	s := newTestServerOn(t, mem.New(), Config{VerifyShare: g.verify})
	si := lafs.StorageIndex{0xd0, 1}
	putImmutable(t, s, si, 0, bytes.Repeat([]byte("x"), 5000), lease)
	within(t, "the advisory", func() error { return s.AdviseCorruptImmutable(bg, si, 0, "bad") })
	<-g.started
	if st, _ := s.Status(bg); st.Quarantine.ChecksPending != 1 {
		t.Errorf("%d checks pending, want 1", st.Quarantine.ChecksPending)
	}
	within(t, "a lease during the check", func() error { return s.AddOrRenewLease(bg, si, lease2) })
	within(t, "a read during the check", func() error { _, err := s.ReadImmutable(bg, si, 0, 0, 10); return err })
	g.release <- struct{}{}
	// The lease changed the container: checked again.
	<-g.started
	g.release <- struct{}{}
	s.waitChecks()
	if n := g.calls.Load(); n != 2 {
		t.Errorf("checked %d times, want 2", n)
	}
	if got, _ := s.ListImmutable(bg, si); len(got) != 0 || len(s.Quarantined()) != 1 {
		t.Errorf("listed %v after a failed check", got)
	}
}

// TestAdvisoryChecksBounded: advisories for a share already waiting or
// under way add nothing, and one storage index gets checksPerSIBurst
// checks at once, then one per checkSIRefill.
func TestAdvisoryChecksBounded(t *testing.T) {
	g := newGate(nil)
	var mu sync.Mutex
	now := t0
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newTestServerOn(t, mem.New(), Config{VerifyShare: g.verify, Now: clk})
	si := lafs.StorageIndex{0xd0, 2}
	for sh := range lafs.ShareNum(12) {
		putImmutable(t, s, si, sh, []byte("a share"), lease)
	}
	advise := func(sh lafs.ShareNum) {
		t.Helper()
		if err := s.AdviseCorruptImmutable(bg, si, sh, "bad"); err != nil {
			t.Fatal(err)
		}
	}
	advise(0)
	<-g.started // share 0 under way
	for range 3 {
		advise(0)
	}
	for sh := range lafs.ShareNum(12) {
		advise(sh)
	}
	if p := s.checks.pending(); p != checksPerSIBurst {
		t.Errorf("%d checks pending, want %d", p, checksPerSIBurst)
	}
	for range checksPerSIBurst {
		g.release <- struct{}{}
	}
	s.waitChecks()
	if n := g.calls.Load(); n != checksPerSIBurst {
		t.Errorf("%d checks, want %d", n, checksPerSIBurst)
	}
	mu.Lock()
	now = now.Add(checkSIRefill)
	mu.Unlock()
	advise(10)
	advise(11)
	g.release <- struct{}{}
	s.waitChecks()
	if n := g.calls.Load(); n != checksPerSIBurst+1 {
		t.Errorf("%d checks after a refill, want %d", n, checksPerSIBurst+1)
	}
	// Another storage index has its own budget.
	other := lafs.StorageIndex{0xd0, 3}
	putImmutable(t, s, other, 0, []byte("a share"), lease)
	g.release <- struct{}{}
	if err := s.AdviseCorruptImmutable(bg, other, 0, "bad"); err != nil {
		t.Fatal(err)
	}
	s.waitChecks()
	if n := g.calls.Load(); n != checksPerSIBurst+2 {
		t.Errorf("%d checks, want %d", n, checksPerSIBurst+2)
	}
}

// TestCloseStopsChecks: Close cancels the check under way and waits for
// it; nothing is quarantined, and later advisories are only recorded.
func TestCloseStopsChecks(t *testing.T) {
	verified := make(chan error, 1)
	started := make(chan struct{})
	verify := func(kind string, shnum lafs.ShareNum, r io.ReaderAt, size int64) error {
		close(started)
		p := make([]byte, 1)
		for {
			if _, err := r.ReadAt(p, 0); err != nil {
				verified <- err
				return err
			}
		}
	}
	b := mem.New()
	s := newTestServerOn(t, b, Config{VerifyShare: verify})
	si := lafs.StorageIndex{0xd0, 4}
	putImmutable(t, s, si, 0, []byte("a share"), lease)
	putImmutable(t, s, si, 1, []byte("a share"), lease)
	if err := s.AdviseCorruptImmutable(bg, si, 0, "bad"); err != nil {
		t.Fatal(err)
	}
	if err := s.AdviseCorruptImmutable(bg, si, 1, "bad"); err != nil {
		t.Fatal(err)
	}
	<-started
	within(t, "Close", s.Close)
	select {
	case err := <-verified:
		if err == nil {
			t.Error("the check read on")
		}
	default:
		t.Error("Close returned before the check ended")
	}
	if err := s.AdviseCorruptImmutable(bg, si, 0, "bad"); err != nil {
		t.Fatal(err)
	}
	if p := s.checks.pending(); p != 0 {
		t.Errorf("%d checks pending after Close", p)
	}
	if got, _ := s.ListImmutable(bg, si); !slices.Equal(got, []lafs.ShareNum{0, 1}) || len(s.Quarantined()) != 0 {
		t.Errorf("listed %v, quarantined %+v", got, s.Quarantined())
	}
}
