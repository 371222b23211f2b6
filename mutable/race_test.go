package mutable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// gate holds the first want read-test-writes until all of them have
// arrived, so that writers that found the same version race for real.
type gate struct {
	mu   sync.Mutex
	n    int
	want int
	open chan struct{}
}

func newGate(want int) *gate { return &gate{want: want, open: make(chan struct{})} }

func (g *gate) hook(ctx context.Context, _ map[lafs.ShareNum]lafs.TestWriteVectors) error {
	g.mu.Lock()
	g.n++
	n := g.n
	if n == g.want {
		close(g.open)
	}
	g.mu.Unlock()
	if n > g.want {
		return nil
	}
	select {
	case <-g.open:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("gate: the other writer never came")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func gated(g *testgrid.Grid, gt *gate) *peers {
	return wrapPeers(g, func(_ int, s lafs.StorageServer) lafs.StorageServer {
		return &hooked{StorageServer: s, rtw: gt.hook}
	})
}

// TestUncoordinatedOverwrites races two writers that read the same
// version: exactly one wins, the other gets ErrUncoordinatedWrite, and
// the loser wrote nothing.
func TestUncoordinatedOverwrites(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		g := testgrid.New(t, 10)
		f, err := Create(ctx, g, keys, format, []byte("version one"), testOpts)
		if err != nil {
			t.Fatal(err)
		}
		p := gated(g, newGate(2))
		var writers [2]*File
		for i := range writers {
			if writers[i], err = Open(ctx, p, f.Cap(), testOpts); err != nil {
				t.Fatal(err)
			}
		}
		var errs [2]error
		var wg sync.WaitGroup
		for i, w := range writers {
			wg.Go(func() { errs[i] = w.Overwrite(ctx, []byte(fmt.Sprintf("writer %d was here", i))) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner == -1:
				winner = i
			case errors.Is(err, ErrUncoordinatedWrite):
			default:
				t.Fatalf("%v: writer %d: %v (other: %v)", format, i, err, errs[1-i])
			}
		}
		if winner == -1 {
			t.Fatalf("%v: both writers lost: %v", format, errs)
		}
		got, err := f.Read(ctx)
		if want := fmt.Sprintf("writer %d was here", winner); err != nil || string(got) != want || f.Version() != 2 {
			t.Fatalf("%v: read %q version %d, want %q: %v", format, got, f.Version(), want, err)
		}
		m, err := f.updateServerMap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if vs := m.versions(); len(vs) != 1 || len(vs[0].shares) != 10 || len(m.bad) != 0 {
			t.Fatalf("%v: the loser left traces: %s", format, m.summary())
		}
	}
}

// TestUncoordinatedModify races two Modify calls: both changes land, one
// after the other.
func TestUncoordinatedModify(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		g := testgrid.New(t, 10)
		f, err := Create(ctx, g, keys, format, []byte("start\n"), testOpts)
		if err != nil {
			t.Fatal(err)
		}
		p := gated(g, newGate(2))
		var wg sync.WaitGroup
		var errs [2]error
		for i := range 2 {
			w, err := Open(ctx, p, f.Cap(), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			line := []byte(fmt.Sprintf("line from writer %d\n", i))
			wg.Go(func() {
				errs[i] = w.Modify(ctx, func(old []byte) ([]byte, error) {
					if bytes.Contains(old, line) {
						return old, nil
					}
					return append(append([]byte(nil), old...), line...), nil
				})
			})
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("%v: %v", format, errs)
		}
		got, err := f.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if !bytes.Contains(got, []byte(fmt.Sprintf("line from writer %d\n", i))) {
				t.Errorf("%v: lost writer %d's change: %q", format, i, got)
			}
		}
		// Two versions at least; more when a retry overtook the winner's
		// writes and the winner had to retry in turn.
		if f.Version() < 3 {
			t.Errorf("%v: version %d, want 3 or more", format, f.Version())
		}
	}
}

// TestUncoordinatedWriteAt races two in-place updates of one MDMF file.
func TestUncoordinatedWriteAt(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 10)
	model := randomBytes(400_000, 8)
	f, err := Create(ctx, g, keys, cap.MDMF, model, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	p := gated(g, newGate(2))
	var wg sync.WaitGroup
	var errs [2]error
	patches := [][]byte{[]byte("first patch"), []byte("second patch")}
	offs := []int{10, 300_000}
	for i := range 2 {
		w, err := Open(ctx, p, f.Cap(), testOpts)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { errs[i] = w.WriteAt(ctx, patches[i], int64(offs[i])) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	for i := range 2 {
		model = splice(model, patches[i], uint64(offs[i]))
	}
	if got, err := f.Read(ctx); err != nil || !bytes.Equal(got, model) || f.Version() < 3 {
		t.Fatalf("version %d: %v", f.Version(), err)
	}
}

// TestModify covers Modify's no-change and error paths.
func TestModify(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 5)
	f, err := Create(ctx, g, keys, cap.SDMF, []byte("a"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Modify(ctx, func(old []byte) ([]byte, error) { return nil, nil }); err != nil || f.Version() != 1 {
		t.Fatalf("no change: version %d, %v", f.Version(), err)
	}
	boom := errors.New("boom")
	if err := f.Modify(ctx, func(old []byte) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("modifier error: %v", err)
	}
	if err := f.Modify(ctx, func(old []byte) ([]byte, error) { return append(old, 'b'), nil }); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Read(ctx); string(got) != "ab" || f.Version() != 2 {
		t.Fatalf("got %q version %d: %v", got, f.Version(), err)
	}
}
