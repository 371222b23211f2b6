package client

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// TestCheckEveryKind checks a file, a LIT, a mutable file and a directory
// through every cap they have, and repairs each after a server is lost.
func TestCheckEveryKind(t *testing.T) {
	ctx := context.Background()
	c, g := newTestClient(t)
	up, err := c.Upload(ctx, bytes.NewReader(bytes.Repeat([]byte("check me "), 20000)), 180000, UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lit, err := c.Upload(ctx, bytes.NewReader([]byte("tiny")), 4, UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mut, err := c.CreateMutable(ctx, []byte("mutable contents"), cap.MDMF)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.Check(ctx, lit.Cap, lafs.CheckOptions{}); r != nil || err != nil {
		t.Errorf("LIT: %v %v", r, err)
	}
	caps := []cap.Cap{up.Cap, up.Cap.Verifier(), mut, mut.ReadOnly(), mut.Verifier(), d.Cap(), d.Cap().ReadOnly(), d.Cap().Verifier()}
	for _, k := range caps {
		r, err := c.Check(ctx, k, lafs.CheckOptions{Verify: true})
		if err != nil || !r.Healthy || r.GoodShares != 10 {
			t.Errorf("%s: %+v %v", cap.Kind(k), r, err)
		}
	}
	// One server's shares gone: every kind unhealthy, then repaired
	// through its write cap (or, for the immutable file, its verify cap).
	g.Faults[3].Set(func(f *testgrid.Faults) { f.Offline = true })
	for _, k := range []cap.Cap{up.Cap.Verifier(), mut, d.Cap()} {
		rr, err := c.CheckAndRepair(ctx, k, lafs.CheckOptions{Repair: true})
		if err != nil || !rr.Attempted || !rr.Successful || rr.PreRepair.Healthy || !rr.PostRepair.Healthy {
			t.Errorf("repair %s: %+v %v", cap.Kind(k), rr, err)
		}
	}
	if _, err := c.Check(ctx, &cap.Unknown{S: "x-future:thing"}, lafs.CheckOptions{}); !errors.Is(err, ErrUnknownCap) {
		t.Errorf("unknown cap: %v", err)
	}
}
