package client

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/mutable"
)

// newTestClient returns a client over a fresh grid of 10 servers.
func newTestClient(t *testing.T) (*Client, *testgrid.Grid) {
	t.Helper()
	g := testgrid.New(t, 10)
	c, err := New(Config{
		Params:            lafs.DefaultParams,
		Convergence:       []byte("client test convergence"),
		LeaseSecret:       []byte("client test lease secret"),
		Peers:             g,
		TempDir:           t.TempDir(),
		MutableRetryDelay: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, g
}

func TestNewRejects(t *testing.T) {
	g := testgrid.New(t, 1)
	for _, cfg := range []Config{
		{Params: lafs.DefaultParams, Peers: g, MutableFormat: 7},
		{Params: lafs.DefaultParams, Peers: g, KeyPoolSize: -1},
		{Params: lafs.DefaultParams},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestKeyPool(t *testing.T) {
	g := testgrid.New(t, 10)
	c, err := New(Config{Params: lafs.DefaultParams, Peers: g, KeyPoolSize: 2, MutableFormat: cap.MDMF})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.MutableFormat() != cap.MDMF {
		t.Errorf("MutableFormat %v", c.MutableFormat())
	}
	seen := map[string]bool{}
	for range 3 {
		k, err := c.CreateMutable(context.Background(), []byte("x"), c.MutableFormat())
		if err != nil {
			t.Fatal(err)
		}
		if seen[k.String()] || !strings.HasPrefix(k.String(), "URI:MDMF:") {
			t.Fatalf("cap %s repeated or not MDMF", k)
		}
		seen[k.String()] = true
	}
}

func TestMutableFiles(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	for _, format := range []cap.Format{cap.SDMF, cap.MDMF} {
		t.Run(format.String(), func(t *testing.T) {
			k, err := c.CreateMutable(ctx, []byte("first version"), format)
			if err != nil {
				t.Fatal(err)
			}
			f, err := c.OpenMutable(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if f.Format() != format || f.IsReadOnly() || f.Size() != 13 || f.Version() != 1 || f.Cap().String() != k.String() {
				t.Fatalf("opened %v %v %d %d", f.Format(), f.IsReadOnly(), f.Size(), f.Version())
			}
			if err := f.Overwrite(ctx, []byte("second version")); err != nil {
				t.Fatal(err)
			}
			if err := f.WriteAt(ctx, []byte("SECOND"), 0); err != nil {
				t.Fatal(err)
			}
			if err := f.WriteAt(ctx, []byte("!"), f.Size()); err != nil {
				t.Fatal(err)
			}
			ro, err := c.OpenMutable(ctx, f.ReadOnlyCap())
			if err != nil {
				t.Fatal(err)
			}
			got, err := ro.Read(ctx)
			if err != nil || string(got) != "SECOND version!" || ro.Version() != 4 {
				t.Fatalf("read %q v%d %v", got, ro.Version(), err)
			}
			var b bytes.Buffer
			if n, err := ro.WriteRange(ctx, &b, 7, 4); err != nil || n != 4 || b.String() != "vers" {
				t.Errorf("WriteRange: %d %q %v", n, b.String(), err)
			}
			b.Reset()
			if _, err := ro.WriteRange(ctx, &b, 0, -1); err != nil || b.String() != "SECOND version!" {
				t.Errorf("WriteRange whole: %q %v", b.String(), err)
			}
			p := make([]byte, 3)
			if n, err := ro.ReadAt(ctx, p, 1); err != nil || string(p[:n]) != "ECO" {
				t.Errorf("ReadAt %q %v", p[:n], err)
			}
			for name, err := range map[string]error{
				"Overwrite": ro.Overwrite(ctx, []byte("x")),
				"WriteAt":   ro.WriteAt(ctx, []byte("x"), 0),
				"Modify":    ro.Modify(ctx, func(b []byte) ([]byte, error) { return b, nil }),
			} {
				if !errors.Is(err, ErrReadOnly) {
					t.Errorf("%s through a read cap: %v", name, err)
				}
			}
		})
	}
}

func TestOpenMutableRefuses(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	lit, _ := cap.Parse("URI:LIT:nbswy3dp")
	if _, err := c.OpenMutable(ctx, lit); !errors.Is(err, ErrNotFile) {
		t.Errorf("LIT: %v", err)
	}
	missing, _ := cap.Parse("URI:SSK:q6hru6aoq3sq5ksswfl5r4eeau:kanl6hwtqw5vritz77s2j44zg3pl34ont6etjs4pcjckzbihmz5a")
	if _, err := c.OpenMutable(ctx, missing); !errors.Is(err, mutable.ErrNoShares) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := c.OpenFile(ctx, missing); !errors.Is(err, ErrNotFile) || strings.Contains(err.Error(), "q6hru6") {
		t.Errorf("OpenFile of a mutable cap: %v", err)
	}
}

func TestOpenNode(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	lit, _ := cap.Parse("URI:LIT:nbswy3dp")
	mk, err := c.CreateMutable(ctx, []byte("m"), cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	d, err := c.CreateDir(ctx, cap.SDMF)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []cap.Cap{lit, mk, mk.ReadOnly(), d.Cap(), d.ReadOnlyCap()} {
		n, err := c.OpenNode(ctx, k)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if n.Cap().String() != k.String() {
			t.Errorf("OpenNode(%s).Cap() = %s", k, n.Cap())
		}
		switch n := n.(type) {
		case *ImmutableFile:
			if n.Size() != 5 {
				t.Errorf("LIT size %d", n.Size())
			}
		case *MutableFile:
			if n.IsReadOnly() != k.IsReadOnly() {
				t.Errorf("%s: read-only %v", k, n.IsReadOnly())
			}
		case *Dir:
			if n.IsReadOnly() != k.IsReadOnly() {
				t.Errorf("%s: read-only %v", k, n.IsReadOnly())
			}
		default:
			t.Errorf("%s: %T", k, n)
		}
	}
	for _, s := range []string{"URI:NEWKIND:x", d.Cap().Verifier().String()} {
		k, _ := cap.Parse(s)
		if n, err := c.OpenNode(ctx, k); !errors.Is(err, ErrUnknownCap) || n != nil {
			t.Errorf("%s: %v %v", s, n, err)
		}
	}
}

// TestUploadStreamSameCap checks that a streamed upload (its convergent key
// computed while spooling) makes the cap of the same bytes uploaded from a
// file, below and above one segment.
func TestUploadStreamSameCap(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	for _, size := range []int{100, lafs.DefaultSegmentSize - 1, lafs.DefaultSegmentSize + 1} {
		data := bytes.Repeat([]byte("stream "), size/7+1)[:size]
		streamed, err := c.UploadStream(ctx, bytes.NewReader(data), UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		direct, err := c.Upload(ctx, bytes.NewReader(data), int64(size), UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if streamed.Cap.String() != direct.Cap.String() {
			t.Errorf("size %d: UploadStream gave %s, Upload %s", size, streamed.Cap, direct.Cap)
		}
	}
}
