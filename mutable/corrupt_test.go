package mutable

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/internal/testgrid"
)

// checkAllShares checks every share on the grid completely: layout,
// fingerprint, signature, hash trees and every block.
func checkAllShares(t *testing.T, g *testgrid.Grid, keys *Keys, seqnum uint64) {
	t.Helper()
	for sh, holders := range shareHolders(t, g, keys.StorageIndex) {
		for _, i := range holders {
			b, err := g.Servers[i].Storage.ReadMutable(context.Background(), keys.StorageIndex, sh, 0, 1<<40)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ParseShare(b)
			if err != nil {
				t.Fatalf("share %d on server %d: %v", sh, i, err)
			}
			if s.Seqnum != seqnum || crypt.SSKPubkeyFingerprint(s.VerificationKey) != keys.Fingerprint {
				t.Fatalf("share %d on server %d: seq %d", sh, i, s.Seqnum)
			}
			if err := verify(&keys.Private.PublicKey, s.Signable(), s.Signature); err != nil {
				t.Fatalf("share %d: %v", sh, err)
			}
			if err := verifyTrees(&s.Header, int(sh), s.ShareHashChain, s.BlockHashTree); err != nil {
				t.Fatalf("share %d: %v", sh, err)
			}
			p := (len(s.BlockHashTree) + 1) / 2
			for seg, blk := range s.Blocks {
				if blockHash(s.Version, s.SegmentSalt(seg), blk) != s.BlockHashTree[p-1+seg] {
					t.Fatalf("share %d block %d", sh, seg)
				}
			}
		}
	}
}

// TestCorruptShares damages shares in every part, one part per share:
// the file stays readable while 3 shares are good, the servers hear of
// the damage, and the next publish replaces the damaged shares.
func TestCorruptShares(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		for _, size := range []int{1000, 300_000} {
			g := testgrid.New(t, 10)
			var mu sync.Mutex
			advised := map[lafs.ShareNum]string{}
			p := wrapPeers(g, func(_ int, s lafs.StorageServer) lafs.StorageServer {
				return &hooked{StorageServer: s, advise: func(sh lafs.ShareNum, why string) {
					mu.Lock()
					advised[sh] = why
					mu.Unlock()
				}}
			})
			data := randomBytes(size, 11)
			f, err := Create(ctx, p, keys, format, data, testOpts)
			if err != nil {
				t.Fatal(err)
			}
			holders := shareHolders(t, g, keys.StorageIndex)
			b, _ := g.Servers[holders[0][0]].Storage.ReadMutable(ctx, keys.StorageIndex, 0, 0, 1<<30)
			s, err := ParseShare(b)
			if err != nil {
				t.Fatal(err)
			}
			h := s.Header
			// One damage per share, on the lowest share numbers, which a
			// reader tries first.
			damage := []uint64{
				h.BlockRange(s.NumSegments()-1).End - 1, // a block (MDMF: the last)
				h.BlockHashTreeRange().Begin + 5,        // the block hash tree
				h.ShareHashChainRange().Begin + 5,       // the share hash chain
				h.SignatureRange().Begin + 100,          // the signature
				h.VerificationKeyRange().Begin + 50,     // the verification key
				3,                                       // the seqnum
				h.BlockRange(0).Begin + 3,               // the first block (MDMF: its salt)
			}
			for sh, off := range damage {
				flip(t, g, keys, holders[lafs.ShareNum(sh)][0], lafs.ShareNum(sh), off)
			}
			r, err := Open(ctx, p, f.Cap().ReadOnly(), testOpts)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := r.Read(ctx); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%v %d with 7 damaged shares: %v", format, size, err)
			}
			for i := range damage {
				waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return advised[lafs.ShareNum(i)] != "" })
			}
			mu.Lock()
			if _, ok := advised[7]; ok {
				t.Errorf("good share 7 reported corrupt: %v", advised)
			}
			mu.Unlock()
			// An eighth: not enough good shares.
			flip(t, g, keys, holders[7][0], 7, h.BlockRange(0).Begin+20)
			r, err = Open(ctx, p, f.Cap().ReadOnly(), testOpts)
			if err == nil {
				_, err = r.Read(ctx)
			}
			if !errors.Is(err, ErrNotEnoughShares) {
				t.Fatalf("%v %d with 8 damaged shares: %v", format, size, err)
			}
			// A writer replaces every damaged share.
			if err := f.Overwrite(ctx, data[:size/2]); err != nil {
				t.Fatal(err)
			}
			checkAllShares(t, g, keys, 2)
			if n := len(shareHolders(t, g, keys.StorageIndex)); n != 10 {
				t.Errorf("%d shares after repair by publish", n)
			}
		}
	}
}

// TestForgedShares refuses shares signed by another key or whose key does
// not match the cap, even when they are the newest.
func TestForgedShares(t *testing.T) {
	ctx := context.Background()
	ks := testKeys(t, 2)
	g := testgrid.New(t, 10)
	f, err := Create(ctx, g, ks[0], cap.MDMF, []byte("the real contents"), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	// Another key signs a newer version with the same storage index: a
	// server that lies cannot make a reader accept it.
	forged := *ks[1]
	forged.StorageIndex = ks[0].StorageIndex
	shares, err := encodeVersion(&forged, MDMFVersion, 9, 3, 10, DefaultSegmentSize, []byte("forged"), nil)
	if err != nil {
		t.Fatal(err)
	}
	for sh, holders := range shareHolders(t, g, ks[0].StorageIndex) {
		if sh < 5 {
			b, _ := shares[sh].Marshal()
			poke(t, g, ks[0], holders[0], sh, 0, b)
		}
	}
	got, err := f.Read(ctx)
	if err != nil || string(got) != "the real contents" || f.Version() != 1 {
		t.Fatalf("read %q version %d: %v", got, f.Version(), err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
