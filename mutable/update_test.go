package mutable

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/internal/testgrid"
)

// TestWriteAtTouchesOnlyAffectedSegments writes into the middle of a
// six-segment MDMF file and counts what goes to the servers: each share
// gets its head, the one block (with its salt) and its block hash tree.
func TestWriteAtTouchesOnlyAffectedSegments(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 10)
	log := &writeLog{}
	var readBytes, readMu = uint64(0), make(chan struct{}, 1)
	p := wrapPeers(g, func(_ int, s lafs.StorageServer) lafs.StorageServer {
		return &hooked{StorageServer: s, rtw: log.hook, read: func(_ lafs.ShareNum, off, n uint64) {
			readMu <- struct{}{}
			if off >= mdmfShareDataOffset {
				readBytes += n
			}
			<-readMu
		}}
	})
	data := randomBytes(700_000, 1)
	f, err := Create(ctx, p, keys, cap.MDMF, data, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	const seg = 131073
	h := Header{Version: MDMFVersion, K: 3, N: 10, SegmentSize: seg, DataLength: 700_000}
	gm, _ := h.geometry()

	// Reading a range reads only the blocks of the segments it covers,
	// from k shares, besides their block hash trees.
	r, err := Open(ctx, p, f.Cap().ReadOnly(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	readBytes = 0
	buf := make([]byte, 1000)
	if n, err := r.ReadAt(ctx, buf, 4*seg+77); err != nil || !bytes.Equal(buf[:n], data[4*seg+77:4*seg+1077]) {
		t.Fatalf("ReadAt: %v", err)
	}
	if want := 3 * (SaltSize + gm.blockSize + 32*15); readBytes != want {
		t.Errorf("ReadAt of 1000 bytes read %d bytes of share data, want %d", readBytes, want)
	}

	log.reset()
	readBytes = 0
	patch := []byte("a few bytes written into the middle of the third segment")
	off := 2*seg + 500
	if err := f.WriteAt(ctx, patch, int64(off)); err != nil {
		t.Fatal(err)
	}
	copy(data[off:], patch)

	blockAt := mdmfShareDataOffset + gm.blockOffset(2)
	want := []lafs.WriteVector{
		{Offset: 0, Data: make([]byte, mdmfShareDataOffset)},
		{Offset: blockAt, Data: make([]byte, SaltSize+gm.blockSize)},
		{Offset: mdmfShareDataOffset + gm.dataLen(), Data: make([]byte, 32*15)},
	}
	shares := 0
	for _, tw := range log.writes {
		for sh, v := range tw {
			shares++
			if len(v.Write) != len(want) {
				t.Fatalf("share %d: %d write vectors", sh, len(v.Write))
			}
			for i, w := range v.Write {
				if w.Offset != want[i].Offset || len(w.Data) != len(want[i].Data) {
					t.Errorf("share %d write %d: %d bytes at %d, want %d at %d", sh, i, len(w.Data), w.Offset, len(want[i].Data), want[i].Offset)
				}
			}
		}
	}
	if shares != 10 {
		t.Errorf("%d shares written", shares)
	}
	// Reading the old segment took k blocks of one segment (and the
	// block hash trees), not the whole file.
	if readBytes > 4*(SaltSize+gm.blockSize)+10*32*15 {
		t.Errorf("read %d bytes of share data for a one-segment update", readBytes)
	}
	r, err = Open(ctx, g, f.Cap().ReadOnly(), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Read(ctx); err != nil || !bytes.Equal(got, data) || r.Version() != 2 {
		t.Fatalf("after WriteAt: version %d: %v", r.Version(), err)
	}
}

// TestWriteAtModel applies random writes (inside, across segments, at
// the end, past the end) to SDMF and MDMF files and compares with a model.
func TestWriteAtModel(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	r := rand.New(rand.NewPCG(3, 4))
	for _, format := range formats {
		g := testgrid.New(t, 7)
		o := testOpts
		o.SegmentSize = 1000 // 1002 with k = 3
		model := randomBytes(4321, 9)
		f, err := Create(ctx, g, keys, format, model, o)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 12 {
			var off int
			switch i % 4 {
			case 0: // inside
				off = r.IntN(len(model))
			case 1: // at a segment boundary
				off = min(len(model), 1002*r.IntN(len(model)/1002+1))
			case 2: // at the end
				off = len(model)
			case 3: // past the end
				off = len(model) + r.IntN(3000)
			}
			patch := randomBytes(r.IntN(2500)+1, uint64(i))
			if err := f.WriteAt(ctx, patch, int64(off)); err != nil {
				t.Fatalf("%v write %d at %d: %v", format, len(patch), off, err)
			}
			model = splice(model, patch, uint64(off))
			if f.Size() != int64(len(model)) || f.Version() != uint64(i+2) {
				t.Fatalf("%v: size %d version %d, want %d %d", format, f.Size(), f.Version(), len(model), i+2)
			}
			fresh, err := Open(ctx, g, f.Cap(), o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fresh.Read(ctx)
			if err != nil || !bytes.Equal(got, model) {
				t.Fatalf("%v after write %d (%d bytes at %d): %v", format, i, len(patch), off, err)
			}
			p := make([]byte, 1500)
			at := r.IntN(len(model))
			n, err := fresh.ReadAt(ctx, p, int64(at))
			if !bytes.Equal(p[:n], model[at:at+n]) || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt: %v", err)
			}
		}
		// A zero-length write at the end changes nothing.
		if err := f.WriteAt(ctx, nil, int64(len(model))); err != nil || f.Version() != 13 {
			t.Fatalf("empty write: version %d, %v", f.Version(), err)
		}
	}
}

// TestWriteAtWithoutAllShares falls back to rewriting the whole file when
// a share's block hash tree cannot be had.
func TestWriteAtWithoutAllShares(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 10)
	model := randomBytes(300_000, 2)
	f, err := Create(ctx, g, keys, cap.MDMF, model, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	g.Faults[4].Set(func(f *testgrid.Faults) { f.Offline = true })
	if err := f.WriteAt(ctx, []byte("patch"), 200_000); err != nil {
		t.Fatal(err)
	}
	model = splice(model, []byte("patch"), 200_000)
	g.Faults[4].Set(func(f *testgrid.Faults) { f.Offline = false })
	if got, err := f.Read(ctx); err != nil || !bytes.Equal(got, model) {
		t.Fatal(err)
	}
}

// TestWriteAtMatchesTahoe redoes the grid's MDMF history: a 300,000-byte
// file, then 230 bytes written at offset 150,000. Given Tahoe's salts and
// signature salts, the in-place update must leave every share exactly as
// Tahoe's update left it.
func TestWriteAtMatchesTahoe(t *testing.T) {
	ctx := context.Background()
	var tf tahoeFile
	for _, f := range gridFiles(t) {
		if f.name == "mdmf" {
			tf = f
		}
	}
	s0, err := ParseShare(tf.shares[0])
	if err != nil {
		t.Fatal(err)
	}
	keys := recoverKeys(t, tf.cap, s0)
	// Version 1: the old bytes at 150,000 are unknown, so use others; the
	// update re-encodes that segment anyway.
	v1 := append([]byte(nil), tf.plaintext...)
	copy(v1[150_000:150_230], bytes.Repeat([]byte{'x'}, 230))
	var salts []byte
	salts = append(salts, s0.Salts[0][:]...)
	salts = append(salts, bytes.Repeat([]byte{7}, 16)...)
	salts = append(salts, s0.Salts[2][:]...)
	o := testOpts
	o.rand = io.MultiReader(bytes.NewReader(salts), bytes.NewReader(make([]byte, 32)))
	g := testgrid.New(t, 10)
	f, err := Create(ctx, g, keys, cap.MDMF, v1, o)
	if err != nil {
		t.Fatal(err)
	}
	f.opts.rand = io.MultiReader(bytes.NewReader(s0.Salts[1][:]), bytes.NewReader(pssSalt(t, &keys.Private.PublicKey, s0.Signature)))
	if err := f.WriteAt(ctx, tf.plaintext[150_000:150_230], 150_000); err != nil {
		t.Fatal(err)
	}
	for sh, holders := range shareHolders(t, g, keys.StorageIndex) {
		got, err := g.Servers[holders[0]].Storage.ReadMutable(ctx, keys.StorageIndex, sh, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if want := tf.shares[int(sh)]; !bytes.Equal(got, want) {
			t.Errorf("share %d differs from Tahoe's at byte %d", sh, firstDiff(got, want))
		}
	}
}

// TestWriteAtEmptyMDMF grows an empty MDMF file (no segments) in place.
func TestWriteAtEmptyMDMF(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 10)
	f, err := Create(ctx, g, keys, cap.MDMF, nil, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Read(ctx); err != nil || len(got) != 0 || f.Size() != 0 {
		t.Fatalf("empty file: %d bytes, %v", len(got), err)
	}
	model := randomBytes(140_000, 6)
	if err := f.WriteAt(ctx, model[:5], 0); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteAt(ctx, model[5:], 5); err != nil {
		t.Fatal(err)
	}
	if got, err := f.Read(ctx); err != nil || !bytes.Equal(got, model) || f.Version() != 3 {
		t.Fatalf("version %d: %v", f.Version(), err)
	}
	checkAllShares(t, g, keys, 3)
}
