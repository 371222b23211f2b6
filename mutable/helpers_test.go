package mutable

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/internal/testgrid"
)

var (
	testKeyOnce sync.Once
	testKeyList []*Keys
)

// testKeys returns n distinct key sets, made once per test binary.
func testKeys(t testing.TB, n int) []*Keys {
	t.Helper()
	testKeyOnce.Do(func() {
		pool := NewKeyPool(0)
		testKeyList = make([]*Keys, 4)
		var wg sync.WaitGroup
		for i := range testKeyList {
			wg.Go(func() {
				k, err := pool.NewKeys(context.Background())
				if err != nil {
					panic(err)
				}
				testKeyList[i] = k
			})
		}
		wg.Wait()
	})
	return testKeyList[:n]
}

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16)})
	r.Read(b)
	return b
}

// testOpts are fast options for tests.
var testOpts = Options{LeaseSecret: []byte("lease secret for the tests......"), RetryDelay: 1}

// peers is a lafs.Peers over a test grid whose servers' storage goes
// through wrap, with stable *lafs.Server values.
type peers struct {
	g       *testgrid.Grid
	servers map[*lafs.Server]*lafs.Server
}

func wrapPeers(g *testgrid.Grid, wrap func(i int, s lafs.StorageServer) lafs.StorageServer) *peers {
	p := &peers{g: g, servers: map[*lafs.Server]*lafs.Server{}}
	for i, s := range g.Servers {
		c := *s
		c.Storage = wrap(i, s.Storage)
		p.servers[s] = &c
	}
	return p
}

func (p *peers) ServersFor(si lafs.StorageIndex) []*lafs.Server {
	var out []*lafs.Server
	for _, s := range p.g.ServersFor(si) {
		out = append(out, p.servers[s])
	}
	return out
}

// hooked is a storage server whose mutable writes, reads and corruption
// advisories can be watched or changed.
type hooked struct {
	lafs.StorageServer
	rtw    func(ctx context.Context, tw map[lafs.ShareNum]lafs.TestWriteVectors) error
	read   func(sh lafs.ShareNum, off, n uint64)
	advise func(sh lafs.ShareNum, reason string)
}

func (h *hooked) ReadTestWrite(ctx context.Context, si lafs.StorageIndex, we lafs.Secret, l lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, rv []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
	if h.rtw != nil {
		if err := h.rtw(ctx, tw); err != nil {
			return lafs.ReadTestWriteResult{}, err
		}
	}
	return h.StorageServer.ReadTestWrite(ctx, si, we, l, tw, rv)
}

func (h *hooked) ReadMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	if h.read != nil {
		h.read(sh, off, n)
	}
	return h.StorageServer.ReadMutable(ctx, si, sh, off, n)
}

func (h *hooked) AdviseCorruptMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, reason string) error {
	if h.advise != nil {
		h.advise(sh, reason)
	}
	return h.StorageServer.AdviseCorruptMutable(ctx, si, sh, reason)
}

// writeLog records every read-test-write's write vectors.
type writeLog struct {
	mu     sync.Mutex
	writes []map[lafs.ShareNum]lafs.TestWriteVectors
}

func (w *writeLog) hook(_ context.Context, tw map[lafs.ShareNum]lafs.TestWriteVectors) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, tw)
	return nil
}

func (w *writeLog) reset() {
	w.mu.Lock()
	w.writes = nil
	w.mu.Unlock()
}

// shareHolders maps each share number to the servers that hold it.
func shareHolders(t *testing.T, g *testgrid.Grid, si lafs.StorageIndex) map[lafs.ShareNum][]int {
	t.Helper()
	out := map[lafs.ShareNum][]int{}
	for i, s := range g.Servers {
		shs, err := s.Storage.ListMutable(context.Background(), si)
		if err != nil {
			continue
		}
		for _, sh := range shs {
			out[sh] = append(out[sh], i)
		}
	}
	return out
}

// poke overwrites bytes of a share on one server, as a faulty disk would.
func poke(t *testing.T, g *testgrid.Grid, keys *Keys, server int, sh lafs.ShareNum, off uint64, b []byte) {
	t.Helper()
	s := g.Servers[server]
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{sh: {Write: []lafs.WriteVector{{Offset: off, Data: b}}}}
	res, err := s.Storage.ReadTestWrite(context.Background(), keys.StorageIndex, keys.WriteEnabler(s.NodeID), lafs.LeaseSecrets{}, tw, nil)
	if err != nil || !res.Success {
		t.Fatalf("poke: %v %v", res.Success, err)
	}
}

// flip reads one byte of a share and writes it back with its bits flipped.
func flip(t *testing.T, g *testgrid.Grid, keys *Keys, server int, sh lafs.ShareNum, off uint64) {
	t.Helper()
	b, err := g.Servers[server].Storage.ReadMutable(context.Background(), keys.StorageIndex, sh, off, 1)
	if err != nil || len(b) != 1 {
		t.Fatalf("flip: %v", err)
	}
	poke(t, g, keys, server, sh, off, []byte{^b[0]})
}
