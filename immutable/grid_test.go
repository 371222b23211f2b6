package immutable_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/internal/testgrid"
)

var opts = immutable.UploadOptions{
	Params:      lafs.Params{K: 3, Happy: 7, N: 10, SegmentSize: 128 << 10},
	Convergence: []byte("convergence secret"),
	LeaseSecret: bytes.Repeat([]byte{9}, 32),
}

func randomData(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func download(t *testing.T, g *testgrid.Grid, c cap.Cap) ([]byte, error) {
	t.Helper()
	r, err := immutable.Open(context.Background(), g, c.(*cap.CHK), 2*time.Second)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	_, err = r.WriteTo(&buf)
	return buf.Bytes(), err
}

func TestUploadDownloadOnGrid(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(1<<20+12345, 1)
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Happiness != 10 || res.SharesPushed != 10 {
		t.Errorf("happiness %d, pushed %d", res.Happiness, res.SharesPushed)
	}
	got, err := download(t, g, res.Cap)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
	// Second upload of the same file: all shares found, none pushed.
	res2, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Cap.String() != res.Cap.String() || res2.SharesPushed != 0 || res2.SharesExist != 10 {
		t.Errorf("re-upload: cap same=%v pushed %d exist %d", res2.Cap.String() == res.Cap.String(), res2.SharesPushed, res2.SharesExist)
	}
	// Seven servers down: still readable from the other three.
	for i := 0; i < 7; i++ {
		g.Faults[i].Set(func(f *testgrid.Faults) { f.Offline = true })
	}
	got, err = download(t, g, res.Cap)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download with 7 servers down: %v", err)
	}
	// An eighth: a clear error.
	g.Faults[7].Set(func(f *testgrid.Faults) { f.Offline = true })
	if _, err := download(t, g, res.Cap); !errors.Is(err, immutable.ErrNotEnoughShares) {
		t.Fatalf("download with 8 down: %v", err)
	}
}

func TestDownloadSurvivesCorruptAndSlowServers(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(600000, 2)
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Three servers corrupt every read, two hang: the download switches.
	for i := 0; i < 3; i++ {
		g.Faults[i].Set(func(f *testgrid.Faults) { f.Corrupt = true })
	}
	for i := 3; i < 5; i++ {
		g.Faults[i].Set(func(f *testgrid.Faults) { f.Delay = time.Hour })
	}
	start := time.Now()
	got, err := download(t, g, res.Cap)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
	t.Logf("download past 3 corrupt and 2 hung servers took %v", time.Since(start))
}

func TestUploadUnhappy(t *testing.T) {
	g := testgrid.New(t, 5)
	data := randomData(100000, 3)
	_, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if !errors.Is(err, immutable.ErrUnhappy) && !strings.Contains(err.Error(), "happ") {
		t.Fatalf("5 servers for happy=7: %v", err)
	}
	if !strings.Contains(err.Error(), "found 5 servers") {
		t.Errorf("error does not say how many servers were found: %v", err)
	}
	t.Log(err)
	// Declining servers are skipped.
	g = testgrid.New(t, 10)
	for i := 0; i < 3; i++ {
		g.Faults[i].Set(func(f *testgrid.Faults) { f.Declines = true })
	}
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Happiness != 7 {
		t.Errorf("happiness %d with 3 declining servers", res.Happiness)
	}
	got, err := download(t, g, res.Cap)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
}

func TestUploadLIT(t *testing.T) {
	g := testgrid.New(t, 1)
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader([]byte("tiny")), 4, opts)
	if err != nil || res.Cap.String() != "URI:LIT:oruw46i" {
		t.Fatalf("%v %v", res, err)
	}
}

// listCounter counts the share queries (ListImmutable) servers receive.
type listCounter struct {
	lafs.StorageServer
	n *atomic.Int64
}

func (l listCounter) ListImmutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	l.n.Add(1)
	return l.StorageServer.ListImmutable(ctx, si)
}

// countingPeers is a grid whose servers count the share queries.
type countingPeers struct {
	lafs.Peers
	n *atomic.Int64
}

func (c countingPeers) ServersFor(si lafs.StorageIndex) []*lafs.Server {
	var out []*lafs.Server
	for _, s := range c.Peers.ServersFor(si) {
		s2 := *s
		s2.Storage = listCounter{s.Storage, c.n}
		out = append(out, &s2)
	}
	return out
}

// TestUploadAllocatesFirst: a new file is placed without a round of share
// queries, a re-upload finds its shares through the allocation, and when
// the first placement is unhappy the queries follow.
func TestUploadAllocatesFirst(t *testing.T) {
	ctx := context.Background()
	g := testgrid.New(t, 20)
	var n atomic.Int64
	peers := countingPeers{g, &n}
	data := randomData(200000, 7)
	res, err := immutable.Upload(ctx, peers, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() != 0 || res.SharesPushed != 10 || res.Happiness != 10 {
		t.Errorf("new file: %d share queries, %d pushed, happiness %d; want 0, 10, 10", n.Load(), res.SharesPushed, res.Happiness)
	}
	// The same file again: found by the allocation, nothing pushed.
	res, err = immutable.Upload(ctx, peers, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil || n.Load() != 0 || res.SharesPushed != 0 || res.SharesExist != 10 {
		t.Errorf("re-upload: %v, %d queries, %d pushed, %d found", err, n.Load(), res.SharesPushed, res.SharesExist)
	}
	// Four of the first ten servers decline: the first placement is
	// unhappy (6 < 7), so the upload asks every candidate and places again.
	data = randomData(200000, 8)
	si := uploadSI(t, data)
	first := g.ServersFor(si)
	for _, s := range first[:4] {
		for i, gs := range g.Servers {
			if gs.ID == s.ID {
				g.Faults[i].Set(func(f *testgrid.Faults) { f.Declines = true })
			}
		}
	}
	res, err = immutable.Upload(ctx, peers, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if n.Load() == 0 || res.Happiness < 7 {
		t.Errorf("after declines: %d queries, happiness %d", n.Load(), res.Happiness)
	}
	got, err := download(t, g, res.Cap)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
}

// uploadSI is the storage index the test options give data.
func uploadSI(t *testing.T, data []byte) lafs.StorageIndex {
	t.Helper()
	key, err := immutable.ConvergentKey(bytes.NewReader(data), uint64(len(data)), opts.Convergence, opts.Params)
	if err != nil {
		t.Fatal(err)
	}
	return crypt.StorageIndexHash(key[:])
}

// TestUploadRehomes: when servers decline but the placement is happy
// anyway, the shares they declined go to spare servers, so the file keeps
// all N shares.
func TestUploadRehomes(t *testing.T) {
	ctx := context.Background()
	g := testgrid.New(t, 13)
	data := randomData(150000, 9)
	first := g.ServersFor(uploadSI(t, data))
	for _, s := range first[:3] {
		for i, gs := range g.Servers {
			if gs.ID == s.ID {
				g.Faults[i].Set(func(f *testgrid.Faults) { f.Declines = true })
			}
		}
	}
	res, err := immutable.Upload(ctx, g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.SharesPushed != 10 || res.Happiness != 10 {
		t.Errorf("pushed %d shares, happiness %d; want 10, 10", res.SharesPushed, res.Happiness)
	}
	declined := map[string]bool{first[0].ID: true, first[1].ID: true, first[2].ID: true}
	for sh, id := range res.Servers {
		if declined[id] {
			t.Errorf("share %d placed on a declining server", sh)
		}
	}
	got, err := download(t, g, res.Cap)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
}
