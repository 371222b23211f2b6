package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/internal/tahoevec"
	"github.com/lafs/lafs/internal/vectors"
)

// put commits a container into b as it is.
func put(t *testing.T, b backend.Backend, si lafs.StorageIndex, sh lafs.ShareNum, c []byte) {
	t.Helper()
	ctx := context.Background()
	st, err := b.Create(ctx, backend.Key{SI: si, Share: sh}, int64(len(c)))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.WriteAt(c, 0); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// get returns a committed container from b.
func get(t *testing.T, b backend.Backend, si lafs.StorageIndex, sh lafs.ShareNum) []byte {
	t.Helper()
	ctx := context.Background()
	k := backend.Key{SI: si, Share: sh}
	n, err := b.Size(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	p := make([]byte, n)
	if _, err := b.ReadAt(ctx, k, p, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return p
}

// gridSecrets derives a lease's secrets as a Tahoe client does (TAHOE-NOTES §9).
type gridSecrets struct{ renew, cancel crypt.Hash }

func (g gridSecrets) bucket(si lafs.StorageIndex, serverID [20]byte) lafs.LeaseSecrets {
	fr := crypt.FileRenewalSecret(g.renew[:], si[:])
	fc := crypt.FileCancelSecret(g.cancel[:], si[:])
	return lafs.LeaseSecrets{
		Renew:  crypt.BucketRenewalSecret(fr[:], serverID[:]),
		Cancel: crypt.BucketCancelSecret(fc[:], serverID[:]),
	}
}

// TestTahoeGridContainers parses every container a Tahoe 1.20 grid wrote,
// checks the lease secrets against the client's derivation, and serves
// the containers as they are.
func TestTahoeGridContainers(t *testing.T) {
	g := tahoevec.LoadGrid(t)
	ls, err := lafs.ParseBase32(g.LeaseSecretB32)
	if err != nil {
		t.Fatal(err)
	}
	secrets := gridSecrets{crypt.ClientRenewalSecret(ls), crypt.ClientCancelSecret(ls)}

	// The server ids, from offset 32 of each server's mutable containers.
	ids := map[string][20]byte{}
	for _, o := range g.Objects {
		for _, sh := range o.Shares {
			if MutableVersion(sh.Container) != 0 {
				id := [20]byte(sh.Container[32:52])
				if old, ok := ids[sh.Server]; ok && old != id {
					t.Fatalf("%s: two server ids", sh.Server)
				}
				ids[sh.Server] = id
			}
		}
	}

	now := time.Unix(2_000_000_000, 0)
	backends := map[string]*mem.Mem{}
	servers := map[string]*Server{}
	for name, id := range ids {
		backends[name] = mem.New()
		servers[name] = newTestServer(t, backends[name], Config{NodeID: id, Now: func() time.Time { return now }})
	}

	var nImm, nMut int
	ctx := context.Background()
	for _, o := range g.Objects {
		if len(o.Shares) == 0 {
			continue
		}
		sib, err := lafs.ParseBase32Len(o.StorageIndex, 16)
		if err != nil {
			t.Fatal(err)
		}
		si := lafs.StorageIndex(sib)
		var writeKey []byte
		if c, err := cap.Parse(o.Cap); err == nil {
			if d, ok := c.(*cap.Dir); ok {
				c = d.File
			}
			if mw, ok := c.(*cap.MutableWrite); ok {
				writeKey = mw.WriteKey[:]
			}
		}
		for _, sh := range o.Shares {
			id := ids[sh.Server]
			want := secrets.bucket(si, id)
			shnum := lafs.ShareNum(sh.ShNum)
			srv, b := servers[sh.Server], backends[sh.Server]
			put(t, b, si, shnum, sh.Container)

			if MutableVersion(sh.Container) != 0 {
				nMut++
				c, err := ParseMutableContainer(sh.Container)
				if err != nil {
					t.Fatalf("%s: %v", sh.Path, err)
				}
				if c.Header.Version != MutableV2 || c.Header.WriteEnablerNodeID != id {
					t.Fatalf("%s: header %+v", sh.Path, c.Header)
				}
				if writeKey != nil && c.Header.WriteEnabler != crypt.SSKWriteEnabler(writeKey, id[:]) {
					t.Errorf("%s: write enabler is not the one derived from the cap", sh.Path)
				}
				leases := c.Leases()
				if len(leases) != 1 || leases[0].Owner != OwnerClient || leases[0].NodeID != id ||
					leases[0].RenewSecret != HashLeaseSecret(want.Renew) || leases[0].CancelSecret != HashLeaseSecret(want.Cancel) ||
					!leases[0].HasRenewSecret(want.Renew, true) {
					t.Fatalf("%s: leases %+v do not match the derived secrets", sh.Path, leases)
				}
				if c.Header.ExtraLeaseOffset == MutableDataOffset+c.Header.DataLength && !bytes.Equal(c.Bytes(), sh.Container) {
					t.Errorf("%s: re-encoding differs", sh.Path)
				}
				got, err := srv.ReadMutable(ctx, si, shnum, 0, 1<<30)
				if err != nil || !bytes.Equal(got, c.Data) {
					t.Fatalf("%s: ReadMutable: %v", sh.Path, err)
				}
				// The write enabler the client would present passes; another fails.
				if writeKey != nil {
					res, err := srv.ReadTestWrite(ctx, si, c.Header.WriteEnabler, want, nil, []lafs.ReadVector{{Offset: 0, Size: 1}})
					if err != nil || !res.Success || !bytes.Equal(res.Data[shnum][0], c.Data[:1]) {
						t.Fatalf("%s: read-test-write with the right enabler: %+v, %v", sh.Path, res, err)
					}
				}
				if _, err := srv.ReadTestWrite(ctx, si, lafs.Secret{1}, want, nil, nil); !errors.Is(err, lafs.ErrUnauthorized) {
					t.Fatalf("%s: wrong write enabler: %v", sh.Path, err)
				}
				continue
			}

			nImm++
			c, err := ParseImmutableContainer(sh.Container)
			if err != nil {
				t.Fatalf("%s: %v", sh.Path, err)
			}
			data, err := tahoevec.ImmutableShareData(sh.Container)
			if err != nil {
				t.Fatal(err)
			}
			if c.Header.Version != ImmutableV2 || int(c.Header.DataLength) != len(data) || !bytes.Equal(c.Data, data) {
				t.Fatalf("%s: header %+v, %d data bytes", sh.Path, c.Header, len(c.Data))
			}
			if len(c.Leases) != 1 || c.Leases[0].Owner != OwnerUpload ||
				c.Leases[0].RenewSecret != HashLeaseSecret(want.Renew) || c.Leases[0].CancelSecret != HashLeaseSecret(want.Cancel) {
				t.Fatalf("%s: leases do not match the derived secrets", sh.Path)
			}
			if !bytes.Equal(c.Bytes(), sh.Container) {
				t.Errorf("%s: re-encoding differs", sh.Path)
			}
			got, err := srv.ReadImmutable(ctx, si, shnum, 0, 1<<30)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: ReadImmutable: %v", sh.Path, err)
			}
		}
	}
	if nImm != 30 || nMut != 40 {
		t.Errorf("%d immutable and %d mutable containers, want 30 and 40", nImm, nMut)
	}

	// Renewing with the client's secrets changes only the expiration;
	// another client's lease is added after it.
	for _, o := range g.Objects {
		if len(o.Shares) == 0 {
			continue
		}
		si := lafs.StorageIndex(must(lafs.ParseBase32Len(o.StorageIndex, 16)))
		for _, sh := range o.Shares {
			srv, b, id := servers[sh.Server], backends[sh.Server], ids[sh.Server]
			shnum := lafs.ShareNum(sh.ShNum)
			if err := srv.AddOrRenewLease(ctx, si, secrets.bucket(si, id)); err != nil {
				t.Fatal(err)
			}
			after := get(t, b, si, shnum)
			if len(after) != len(sh.Container) {
				t.Fatalf("%s: renewal changed the size", sh.Path)
			}
			other := lafs.LeaseSecrets{Renew: lafs.Secret{9}, Cancel: lafs.Secret{8}}
			if err := srv.AddOrRenewLease(ctx, si, other); err != nil {
				t.Fatal(err)
			}
			var leases []Lease
			if MutableVersion(after) != 0 {
				c, err := ParseMutableContainer(get(t, b, si, shnum))
				if err != nil {
					t.Fatal(err)
				}
				leases = c.Leases()
			} else {
				c, err := ParseImmutableContainer(get(t, b, si, shnum))
				if err != nil {
					t.Fatal(err)
				}
				leases = c.Leases
			}
			exp := uint32(now.Add(LeaseDuration).Unix())
			if len(leases) != 2 || leases[0].Expiration != exp || leases[1].Expiration != exp ||
				leases[1].Owner != OwnerClient || !leases[1].HasRenewSecret(other.Renew, true) {
				t.Fatalf("%s: leases after renewing and adding: %+v", sh.Path, leases)
			}
		}
	}
}

// firstKey returns some key of m.
func firstKey[V any](m map[string]V) (string, error) {
	for k := range m {
		return k, nil
	}
	return "", errors.New("empty map")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestStoredSharesV1 reads the version 1 containers of Tahoe 1.2's
// test_download.py: immutable with one clear-text lease, and mutable.
func TestStoredSharesV1(t *testing.T) {
	var file struct {
		Immutable, Mutable struct {
			Shares map[string]map[string][]byte `json:"shares"`
		}
	}
	if err := json.Unmarshal(vectors.Read(t, "stored_shares.json"), &file); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Unix(1_900_000_000, 0)
	b := mem.New()
	srv := newTestServer(t, b, Config{NodeID: [20]byte{7}, Now: func() time.Time { return now }})
	newcomer := lafs.LeaseSecrets{Renew: lafs.Secret{3}, Cancel: lafs.Secret{4}}
	exp := uint32(now.Add(LeaseDuration).Unix())

	// Each server's shares under a storage index of their own, since
	// each server has its own lease secrets.
	n := 0
	for server, shares := range file.Immutable.Shares {
		immSI := lafs.StorageIndex{1, byte(must(strconv.Atoi(server)))}
		for shs, container := range shares {
			n++
			sh := lafs.ShareNum(must(strconv.Atoi(shs)))
			c, err := ParseImmutableContainer(container)
			if err != nil {
				t.Fatal(err)
			}
			if c.Header.Version != ImmutableV1 || len(c.Data) != 1410 || len(c.Leases) != 1 || c.Hashed() {
				t.Fatalf("share %d: header %+v, %d bytes, %d leases", sh, c.Header, len(c.Data), len(c.Leases))
			}
			if !bytes.Equal(c.Bytes(), container) {
				t.Errorf("share %d: re-encoding differs", sh)
			}
			put(t, b, immSI, sh, container)
			if got, err := srv.ReadImmutable(ctx, immSI, sh, 0, 5000); err != nil || !bytes.Equal(got, c.Data) {
				t.Fatalf("share %d: ReadImmutable: %v", sh, err)
			}
		}
		// A v1 lease is renewed by its clear-text secret; a new one is
		// added in clear.
		first := must(ParseImmutableContainer(shares[must(firstKey(shares))])).Leases[0]
		if err := srv.AddOrRenewLease(ctx, immSI, lafs.LeaseSecrets{Renew: first.RenewSecret}); err != nil {
			t.Fatal(err)
		}
		if err := srv.AddOrRenewLease(ctx, immSI, newcomer); err != nil {
			t.Fatal(err)
		}
		for shs := range shares {
			sh := lafs.ShareNum(must(strconv.Atoi(shs)))
			c := must(ParseImmutableContainer(get(t, b, immSI, sh)))
			if len(c.Leases) != 2 || c.Leases[0].Expiration != exp ||
				c.Leases[1].RenewSecret != newcomer.Renew || c.Leases[1].CancelSecret != newcomer.Cancel {
				t.Fatalf("share %d: leases %+v: want the first renewed and the second added in clear", sh, c.Leases)
			}
		}
	}
	if n != 10 {
		t.Fatalf("%d immutable shares, want 10", n)
	}

	for server, shares := range file.Mutable.Shares {
		mutSI := lafs.StorageIndex{2, byte(must(strconv.Atoi(server)))}
		for shs, container := range shares {
			sh := lafs.ShareNum(must(strconv.Atoi(shs)))
			c, err := ParseMutableContainer(container)
			if err != nil {
				t.Fatal(err)
			}
			if c.Header.Version != MutableV1 || c.Hashed() || len(c.Data) == 0 {
				t.Fatalf("share %d: header %+v", sh, c.Header)
			}
			put(t, b, mutSI, sh, container)
			if got, err := srv.ReadMutable(ctx, mutSI, sh, 0, 5000); err != nil || !bytes.Equal(got, c.Data) {
				t.Fatalf("share %d: ReadMutable: %v", sh, err)
			}
			// Writes keep the container's version: the lease goes in clear.
			if _, err := srv.ReadTestWrite(ctx, mutSI, c.Header.WriteEnabler, newcomer, map[lafs.ShareNum]lafs.TestWriteVectors{
				sh: {Write: []lafs.WriteVector{{Offset: uint64(len(c.Data)), Data: []byte("!")}}},
			}, nil); err != nil {
				t.Fatal(err)
			}
			after, err := ParseMutableContainer(get(t, b, mutSI, sh))
			if err != nil {
				t.Fatal(err)
			}
			l := after.Leases()
			if after.Header.Version != MutableV1 || !bytes.Equal(after.Data, append(bytes.Clone(c.Data), '!')) ||
				l[len(l)-1].RenewSecret != newcomer.Renew || len(l) != len(c.Leases())+1 {
				t.Fatalf("share %d after a write: %+v, leases %+v", sh, after.Header, l)
			}
		}
	}
}

// TestSDMFOldShares reads mutable containers from an older Tahoe.
func TestSDMFOldShares(t *testing.T) {
	var file struct {
		Shares map[string][]byte `json:"shares"`
	}
	if err := json.Unmarshal(vectors.Read(t, "sdmf_old_shares.json"), &file); err != nil {
		t.Fatal(err)
	}
	b := mem.New()
	srv := newTestServer(t, b, Config{})
	si := lafs.StorageIndex{5}
	for shs, container := range file.Shares {
		sh := lafs.ShareNum(must(strconv.Atoi(shs)))
		c, err := ParseMutableContainer(container)
		if err != nil {
			t.Fatalf("share %d: %v", sh, err)
		}
		if len(c.Data) == 0 || c.Data[0] != 0 { // SDMF version byte
			t.Fatalf("share %d: %d data bytes", sh, len(c.Data))
		}
		put(t, b, si, sh, container)
		if got, err := srv.ReadMutable(context.Background(), si, sh, 0, 1<<20); err != nil || !bytes.Equal(got, c.Data) {
			t.Fatalf("share %d: ReadMutable: %v", sh, err)
		}
	}
	got, err := srv.ListMutable(context.Background(), si)
	if err != nil || len(got) != len(file.Shares) {
		t.Fatalf("ListMutable: %v, %v", got, err)
	}
}
