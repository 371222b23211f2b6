package client

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
)

// tally is what the test expects the client to have counted.
type tally struct {
	up, upB, down, downB, pub, pubB, ret, retB int64
}

func (c *Client) tally() tally {
	s := c.Counters()
	return tally{s.FilesUploaded, s.BytesUploaded, s.FilesDownloaded, s.BytesDownloaded,
		s.FilesPublished, s.BytesPublished, s.FilesRetrieved, s.BytesRetrieved}
}

// timed returns how many operations of each kind the client timed.
func timed(t *testing.T, c *Client) [numOps]int64 {
	t.Helper()
	var out [numOps]int64
	for i, h := range c.Counters().Latencies {
		if h.Op != opNames[i] {
			t.Fatalf("histogram %d is %s's", i, h.Op)
		}
		out[i] = h.Count
	}
	return out
}

// step checks that do changed the counters by want and the histograms'
// counts by ops (upload, download, publish, retrieve, check). want is a
// tally, or a func() tally called after do, for sizes do finds out.
func step(t *testing.T, c *Client, what string, wantT any, ops [numOps]int64, do func() error) {
	t.Helper()
	before, tb := c.tally(), timed(t, c)
	if err := do(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	after, ta := c.tally(), timed(t, c)
	want, ok := wantT.(tally)
	if f, isFunc := wantT.(func() tally); isFunc {
		want, ok = f(), true
	}
	if !ok {
		t.Fatalf("%s: want is a %T", what, wantT)
	}
	got := tally{after.up - before.up, after.upB - before.upB, after.down - before.down, after.downB - before.downB,
		after.pub - before.pub, after.pubB - before.pubB, after.ret - before.ret, after.retB - before.retB}
	if got != want {
		t.Errorf("%s counted %+v, want %+v", what, got, want)
	}
	for op := range numOps {
		if ta[op]-tb[op] != ops[op] {
			t.Errorf("%s timed %d %ss, want %d", what, ta[op]-tb[op], opNames[op], ops[op])
		}
	}
}

// TestCounters runs every kind of operation and checks what the client
// counts, as Tahoe counts it, and times.
func TestCounters(t *testing.T) {
	ctx := context.Background()
	c, _ := newTestClient(t)
	if s := c.Counters(); len(s.Latencies) != int(numOps) || s.Since.IsZero() || s.FilesUploaded != 0 {
		t.Fatalf("a new client's counters: %+v", s)
	}
	data := bytes.Repeat([]byte("counted "), 125) // 1000 bytes
	var chk, lit cap.Cap

	// Immutable files: uploads with their size, LIT files too; reads of
	// CHK files with the bytes asked for (clipped to the file), not of
	// LIT files.
	step(t, c, "CHK upload", tally{up: 1, upB: 1000}, [numOps]int64{opUpload: 1}, func() error {
		r, err := c.Upload(ctx, bytes.NewReader(data), int64(len(data)), UploadOptions{})
		chk = r.Cap
		return err
	})
	step(t, c, "LIT upload", tally{up: 1, upB: 20}, [numOps]int64{opUpload: 1}, func() error {
		r, err := c.UploadStream(ctx, bytes.NewReader(data[:20]), UploadOptions{})
		lit = r.Cap
		return err
	})
	f, err := c.OpenFile(ctx, chk)
	if err != nil {
		t.Fatal(err)
	}
	step(t, c, "ranged read", tally{down: 1, downB: 50}, [numOps]int64{opDownload: 1}, func() error {
		_, err := f.WriteRange(ctx, io.Discard, 100, 50)
		return err
	})
	step(t, c, "ReadAt past the end", tally{down: 1, downB: 100}, [numOps]int64{opDownload: 1}, func() error {
		_, err := f.ReadAt(make([]byte, 200), 900)
		if err == io.EOF {
			err = nil
		}
		return err
	})
	step(t, c, "whole read", tally{down: 1, downB: 1000}, [numOps]int64{opDownload: 1}, func() error {
		_, err := f.WriteRange(ctx, io.Discard, 0, -1)
		return err
	})
	step(t, c, "LIT read", tally{}, [numOps]int64{}, func() error {
		f, err := c.OpenFile(ctx, lit)
		if err != nil {
			return err
		}
		_, err = f.WriteRange(ctx, io.Discard, 0, -1)
		return err
	})

	// Mutable files: each publish with the new version's size, each read
	// with the whole version's size.
	var ssk cap.Cap
	step(t, c, "new SDMF file", tally{pub: 1, pubB: 300}, [numOps]int64{opPublish: 1}, func() error {
		ssk, err = c.CreateMutable(ctx, data[:300], cap.SDMF)
		return err
	})
	var m *MutableFile
	step(t, c, "opening", tally{}, [numOps]int64{}, func() error {
		m, err = c.OpenMutable(ctx, ssk)
		return err
	})
	step(t, c, "Read", tally{ret: 1, retB: 300}, [numOps]int64{opRetrieve: 1}, func() error {
		_, err := m.Read(ctx)
		return err
	})
	step(t, c, "ranged mutable read", tally{ret: 1, retB: 300}, [numOps]int64{opRetrieve: 1}, func() error {
		_, err := m.WriteRange(ctx, io.Discard, 10, 5)
		return err
	})
	step(t, c, "mutable ReadAt", tally{ret: 1, retB: 300}, [numOps]int64{opRetrieve: 1}, func() error {
		_, err := m.ReadAt(ctx, make([]byte, 10), 0)
		return err
	})
	step(t, c, "Overwrite", tally{pub: 1, pubB: 400}, [numOps]int64{opPublish: 1}, func() error {
		return m.Overwrite(ctx, data[:400])
	})
	step(t, c, "SDMF WriteAt", tally{ret: 1, retB: 400, pub: 1, pubB: 405}, [numOps]int64{opPublish: 1}, func() error {
		return m.WriteAt(ctx, data[:10], 395)
	})
	step(t, c, "Modify without a change", tally{ret: 1, retB: 405}, [numOps]int64{opRetrieve: 1}, func() error {
		return m.Modify(ctx, func(old []byte) ([]byte, error) { return nil, nil })
	})
	step(t, c, "Modify", tally{ret: 1, retB: 405, pub: 1, pubB: 5}, [numOps]int64{opRetrieve: 1, opPublish: 1}, func() error {
		return m.Modify(ctx, func(old []byte) ([]byte, error) { return old[:5], nil })
	})

	// A Modify whose first publish collides with another writer's reads
	// and publishes again: both attempts count, as in Tahoe.
	other, err := c.OpenMutable(ctx, ssk)
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	step(t, c, "colliding Modify", tally{ret: 2, retB: 5 + 7, pub: 3, pubB: 6 + 7 + 8}, [numOps]int64{opRetrieve: 1, opPublish: 2}, func() error {
		return m.Modify(ctx, func(old []byte) ([]byte, error) {
			attempts++
			if attempts == 1 {
				if err := other.Overwrite(ctx, []byte("7 bytes")); err != nil {
					return nil, err
				}
				return []byte("6 byte"), nil
			}
			return []byte("8 bytes!"), nil
		})
	})
	if attempts != 2 {
		t.Errorf("the colliding Modify made %d attempts, want 2", attempts)
	}

	// An MDMF file written at an offset is updated in place, which Tahoe
	// counts neither as a retrieve nor as a publish; it is timed.
	var mdmf *MutableFile
	step(t, c, "new MDMF file", tally{pub: 1, pubB: 1000}, [numOps]int64{opPublish: 1}, func() error {
		k, err := c.CreateMutable(ctx, data, cap.MDMF)
		if err == nil {
			mdmf, err = c.OpenMutable(ctx, k)
		}
		return err
	})
	step(t, c, "MDMF WriteAt", tally{}, [numOps]int64{opPublish: 1}, func() error {
		return mdmf.WriteAt(ctx, []byte("in place"), 500)
	})
	step(t, c, "empty WriteAt", tally{}, [numOps]int64{}, func() error {
		return mdmf.WriteAt(ctx, nil, 10)
	})

	// Directories: a new one is a publish, a change a retrieve and a
	// publish, a listing a retrieve, whatever handle does it.
	var d *Dir
	step(t, c, "CreateDir", tally{pub: 1}, [numOps]int64{opPublish: 1}, func() error {
		d, err = c.CreateDir(ctx, cap.SDMF)
		return err
	})
	dirSize := func() int64 {
		t.Helper()
		m, err := c.OpenMutable(ctx, d.Cap().(*cap.Dir).File)
		if err != nil {
			t.Fatal(err)
		}
		return m.Size()
	}
	var size1 int64
	step(t, c, "linking", func() tally { size1 = dirSize(); return tally{ret: 1, pub: 1, pubB: size1} }, [numOps]int64{opRetrieve: 1, opPublish: 1}, func() error {
		return d.Set(ctx, "file", chk, nil, ReplaceAny)
	})
	step(t, c, "listing", tally{ret: 1, retB: size1}, [numOps]int64{opRetrieve: 1}, func() error {
		_, err := d.List(ctx)
		return err
	})
	step(t, c, "listing through another handle", tally{ret: 1, retB: size1}, [numOps]int64{opRetrieve: 1}, func() error {
		other, err := c.OpenDir(ctx, d.ReadOnlyCap())
		if err != nil {
			return err
		}
		_, err = other.Get(ctx, "file")
		return err
	})
	step(t, c, "Upload into it", func() tally { return tally{up: 1, upB: 1000, ret: 1, retB: size1, pub: 1, pubB: dirSize()} },
		[numOps]int64{opUpload: 1, opRetrieve: 1, opPublish: 1}, func() error {
			_, err := d.Upload(ctx, "again", bytes.NewReader(data), int64(len(data)), UploadOptions{}, ReplaceAny)
			return err
		})

	// An immutable directory is uploaded, and read as a CHK file.
	var imm *Dir
	var immSize int64
	step(t, c, "CreateImmutableDir", func() tally {
		immSize = int64(imm.Cap().(*cap.Dir).File.(*cap.CHK).Size)
		return tally{up: 1, upB: immSize}
	}, [numOps]int64{opUpload: 1}, func() error {
		e, err := EntryFor("file", chk, nil)
		if err != nil {
			return err
		}
		imm, err = c.CreateImmutableDir(ctx, []dirnode.Entry{e})
		return err
	})
	step(t, c, "immutable listing", tally{down: 1, downB: immSize}, [numOps]int64{opDownload: 1}, func() error {
		d, err := c.Dir(imm.Cap())
		if err != nil {
			return err
		}
		_, err = d.List(ctx)
		return err
	})

	// Deep traversals read every directory.
	step(t, c, "Walk", tally{ret: 1, retB: dirSize()}, [numOps]int64{opRetrieve: 1}, func() error {
		return c.Walk(ctx, d.Cap(), func(*WalkEntry) error { return nil })
	})

	// Checks are timed, but for LIT files, which have no shares.
	step(t, c, "checks", tally{}, [numOps]int64{opCheck: 3}, func() error {
		for _, k := range []cap.Cap{chk, lit, ssk, d.Cap()} {
			if _, err := c.Check(ctx, k, lafs.CheckOptions{}); err != nil {
				return err
			}
		}
		return nil
	})

	// Every timed operation fell in a bucket, and the buckets add up.
	for _, h := range c.Counters().Latencies {
		if len(h.Bounds) != len(h.Cumulative) || h.Bounds[0] != time.Millisecond || h.Bounds[len(h.Bounds)-1] != 10*time.Minute {
			t.Errorf("%s: bounds %v", h.Op, h.Bounds)
		}
		for i := 1; i < len(h.Cumulative); i++ {
			if h.Cumulative[i] < h.Cumulative[i-1] || h.Bounds[i] <= h.Bounds[i-1] {
				t.Errorf("%s: buckets %v over %v", h.Op, h.Cumulative, h.Bounds)
			}
		}
		if h.Count == 0 || h.Cumulative[len(h.Cumulative)-1] > h.Count || h.Sum <= 0 {
			t.Errorf("%s: count %d, sum %v, buckets %v", h.Op, h.Count, h.Sum, h.Cumulative)
		}
	}
}

// TestCounterHistogram checks the buckets operations fall in.
func TestCounterHistogram(t *testing.T) {
	var h histogram
	for _, d := range []time.Duration{0, time.Millisecond, time.Millisecond + 1, 3 * time.Second, time.Hour, -time.Second} {
		h.observe(d)
	}
	s := h.snapshot(opCheck)
	want := map[time.Duration]int64{time.Millisecond: 3, 2500 * time.Microsecond: 4, 2500 * time.Millisecond: 4, 5 * time.Second: 5, 10 * time.Minute: 5}
	for i, b := range s.Bounds {
		if n, ok := want[b]; ok && s.Cumulative[i] != n {
			t.Errorf("bucket %v holds %d, want %d", b, s.Cumulative[i], n)
		}
	}
	if s.Count != 6 || s.Sum != time.Hour+3*time.Second+2*time.Millisecond+1 || s.Op != "check" {
		t.Errorf("count %d, sum %v, op %s", s.Count, s.Sum, s.Op)
	}
	var none *counters // a nil *counters counts nothing and does not fail
	none.start(opUpload, 5)()
	if s := none.snapshot(); s.FilesUploaded != 0 || s.Latencies != nil {
		t.Errorf("%+v", s)
	}
}
