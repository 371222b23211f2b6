package mutable

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// A server that stops answering (it takes requests and never replies)
// costs a mutable file's reads and writes seconds, not the request
// timeout: the servermap goes on without it, a publish places its shares
// elsewhere, a block read is hedged on another share; and once it is
// known to be slow, later operations give it less patience.
func TestFrozenServer(t *testing.T) {
	ctx := context.Background()
	for _, format := range []cap.Format{cap.SDMF, cap.MDMF} {
		t.Run(format.String(), func(t *testing.T) {
			g := testgrid.New(t, 10)
			data := randomBytes(300000, 3)
			f, err := Create(ctx, g, testKeys(t, 1)[0], format, data, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			timed := func(what string, limit time.Duration, op func() error) {
				t.Helper()
				start := time.Now()
				if err := op(); err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				d := time.Since(start)
				t.Logf("%s: %v", what, d)
				if d > limit {
					t.Errorf("%s took %v, want at most %v", what, d, limit)
				}
			}
			read := func() error {
				f2, err := Open(ctx, g, f.Cap(), testOpts)
				if err != nil {
					return err
				}
				got, err := f2.Read(ctx)
				if err == nil && !bytes.Equal(got, data) {
					t.Fatal("read the wrong bytes")
				}
				return err
			}
			// Frozen for every request: the servermap leaves it out.
			g.Faults[0].Set(func(f *testgrid.Faults) { f.Delay = time.Hour })
			timed("read with a frozen server", 4*time.Second, read)
			data = randomBytes(300000, 4)
			timed("overwrite with a frozen server (known slow)", 2*time.Second, func() error { return f.Overwrite(ctx, data) })
			timed("read again", 2*time.Second, read)
			g.Faults[0].Set(func(f *testgrid.Faults) { f.Delay = 0 })
			// Two servers whose share reads hang (the servermap's reads
			// too): the servermap leaves them out, block reads are
			// hedged.
			for i := range g.Servers {
				g.Servers[i].Latency = nil // nothing known: no demotions
			}
			f2, err := Open(ctx, g, f.Cap(), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range g.Faults {
				s.Set(func(f *testgrid.Faults) { f.ReadDelay = 0 })
			}
			g.Faults[1].Set(func(f *testgrid.Faults) { f.ReadDelay = time.Hour })
			g.Faults[2].Set(func(f *testgrid.Faults) { f.ReadDelay = time.Hour })
			timed("read with two servers whose share reads hang", 4*time.Second, func() error {
				got, err := f2.Read(ctx)
				if err == nil && !bytes.Equal(got, data) {
					t.Fatal("read the wrong bytes")
				}
				return err
			})
		})
	}
}
