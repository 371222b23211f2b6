package immutable_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
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

// holder returns the index in g.Servers of the server holding share sh.
func holder(t *testing.T, g *testgrid.Grid, res *immutable.UploadResult, sh lafs.ShareNum) int {
	t.Helper()
	for i, s := range g.Servers {
		if s.ID == res.Servers[sh] {
			return i
		}
	}
	t.Fatalf("no server holds share %d", sh)
	return -1
}

func requests(g *testgrid.Grid) int {
	n := 0
	for _, f := range g.Faults {
		n += f.Requests()
	}
	return n
}

// A server that freezes (answers nothing, holds its connections) while a
// download opens its shares, or while it reads blocks, costs the download
// well under the request timeout: the late request is hedged on another
// share, and the slow server is then used last.
func TestDownloadHedgesFrozenServer(t *testing.T) {
	data := randomData(2<<20+77, 7) // 17 segments of 128 KiB
	for _, when := range []string{"opening", "reading"} {
		t.Run(when, func(t *testing.T) {
			g := testgrid.New(t, 10)
			res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
			if err != nil {
				t.Fatal(err)
			}
			frozen := holder(t, g, res, 0)
			freeze := func() { g.Faults[frozen].Set(func(f *testgrid.Faults) { f.ReadDelay = time.Hour }) }
			d := immutable.NewDownloader(g, immutable.DownloadOptions{RequestTimeout: 30 * time.Second, CacheBytes: -1})
			start := time.Now()
			if when == "opening" {
				freeze()
			}
			r, err := d.Open(context.Background(), res.Cap.(*cap.CHK))
			if err != nil {
				t.Fatal(err)
			}
			if when == "reading" {
				if _, err := r.Segment(context.Background(), 0); err != nil {
					t.Fatal(err)
				}
				freeze()
			}
			var buf bytes.Buffer
			if _, err := r.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
				t.Fatalf("download: %v", err)
			}
			took := time.Since(start)
			t.Logf("download with a server frozen while %s: %v", when, took)
			if took > 3*time.Second {
				t.Errorf("a frozen server cost %v", took)
			}
			if !g.Servers[frozen].Latency.Demoted() {
				t.Errorf("the frozen server is not demoted")
			}
			// The next download avoids it from the start.
			start = time.Now()
			if got, err := download(t, g, res.Cap); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("second download: %v", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("second download took %v", took)
			}
		})
	}
}

// A share that fails its hashes is reported to its server.
func TestDownloadAdvisesCorruption(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(300000, 8)
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	si := res.Cap.(*cap.CHK).StorageIndex()
	g.FlipShare(t, si, 0, false, 0x24+100) // a byte of block 0
	g.FlipShare(t, si, 1, false, 0x24+2)
	if got, err := download(t, g, res.Cap); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
	for _, sh := range []lafs.ShareNum{0, 1} {
		f := g.Faults[holder(t, g, res, sh)]
		deadline := time.Now().Add(5 * time.Second)
		for len(f.Advised()) == 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if a := f.Advised(); len(a) != 1 || a[0] != sh {
			t.Errorf("share %d's server was advised of %v", sh, a)
		}
	}
	for i, f := range g.Faults {
		if i != holder(t, g, res, 0) && i != holder(t, g, res, 1) && len(f.Advised()) != 0 {
			t.Errorf("server %d holds good shares but was advised of %v", i, f.Advised())
		}
	}
}

// A Downloader remembers where a file's shares are and what small files
// hold: reading a small file again costs no storage request, a large one
// no share queries. A file whose shares went bad is looked for afresh.
func TestDownloaderRemembers(t *testing.T) {
	g := testgrid.New(t, 10)
	small := randomData(1000, 9)
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(small), int64(len(small)), opts)
	if err != nil {
		t.Fatal(err)
	}
	large := randomData(600000, 10)
	resL, err := immutable.Upload(context.Background(), g, bytes.NewReader(large), int64(len(large)), opts)
	if err != nil {
		t.Fatal(err)
	}
	// Files up to 128 KiB are kept.
	d := immutable.NewDownloader(g, immutable.DownloadOptions{CacheBytes: 1 << 20})
	get := func(c cap.Cap) []byte {
		r, err := d.Open(context.Background(), c.(*cap.CHK))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := r.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	before := requests(g)
	if !bytes.Equal(get(res.Cap), small) {
		t.Fatal("small file differs")
	}
	first := requests(g) - before
	// 10 share queries, then one read per share for header, hashes,
	// UEB and the block.
	if first > 10+3 {
		t.Errorf("first read of a 1 KB file made %d storage requests", first)
	}
	before = requests(g)
	for i := 0; i < 100; i++ {
		if !bytes.Equal(get(res.Cap), small) {
			t.Fatal("small file differs")
		}
	}
	if n := requests(g) - before; n != 0 {
		t.Errorf("100 more reads of a 1 KB file made %d storage requests", n)
	}
	if !bytes.Equal(get(resL.Cap), large) {
		t.Fatal("large file differs")
	}
	before = requests(g)
	if !bytes.Equal(get(resL.Cap), large) {
		t.Fatal("large file differs")
	}
	// 5 segments of k blocks, no queries, no opens.
	if n := requests(g) - before; n != 5*3 {
		t.Errorf("second read of a 5-segment file made %d storage requests, want 15", n)
	}
	// Shares lost: the remembered ones fail, and the file is looked for
	// again on the servers left.
	for i := 0; i < 3; i++ {
		g.Faults[holder(t, g, resL, lafs.ShareNum(i))].Set(func(f *testgrid.Faults) { f.Offline = true })
	}
	if !bytes.Equal(get(resL.Cap), large) {
		t.Fatal("large file differs after losing three servers")
	}
}

// Many readers of one file at once share one open and one read of each
// segment.
func TestDownloaderCoalesces(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(5000, 11)
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range g.Faults {
		f.Set(func(f *testgrid.Faults) { f.Delay = 20 * time.Millisecond })
	}
	d := immutable.NewDownloader(g, immutable.DownloadOptions{})
	before := requests(g)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Go(func() {
			r, err := d.Open(context.Background(), res.Cap.(*cap.CHK))
			if err != nil {
				t.Error(err)
				return
			}
			var buf bytes.Buffer
			if _, err := r.WriteTo(&buf); err != nil || !bytes.Equal(buf.Bytes(), data) {
				t.Errorf("read: %v", err)
			}
		})
	}
	wg.Wait()
	if n := requests(g) - before; n > 10+3+3 {
		t.Errorf("50 readers at once made %d storage requests", n)
	}
}

// recorder is an UploadRecorder that remembers what is in progress.
type recorder struct {
	mu      sync.Mutex
	started int
	open    map[string][]byte
}

func (r *recorder) Started(server string, si lafs.StorageIndex, sh lafs.ShareNum, secret lafs.UploadSecret) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.open == nil {
		r.open = map[string][]byte{}
	}
	r.started++
	r.open[fmt.Sprint(server, si, sh)] = secret
}

func (r *recorder) Ended(server string, si lafs.StorageIndex, sh lafs.ShareNum, secret lafs.UploadSecret) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.open, fmt.Sprint(server, si, sh))
}

func (r *recorder) openCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.open)
}

func serversUsed(res *immutable.UploadResult) int {
	ids := map[string]bool{}
	for _, id := range res.Servers {
		ids[id] = true
	}
	return len(ids)
}

// A server that is frozen before the upload (it accepts connections and
// answers nothing) costs seconds, and its share goes to a server that
// already has one, as Tahoe does: the file keeps all N shares.
func TestUploadFrozenServerKeepsAllShares(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(1<<20, 12)
	frozen := g.ServersFor(uploadSI(t, data))[4]
	for i, s := range g.Servers {
		if s == frozen {
			g.Faults[i].Set(func(f *testgrid.Faults) { f.Delay = time.Hour })
		}
	}
	rec := &recorder{}
	o := opts
	o.Recorder = rec
	start := time.Now()
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("upload with a frozen server: %v; problems: %v", took, res.Problems)
	if took > 5*time.Second {
		t.Errorf("a frozen server cost the upload %v", took)
	}
	if res.SharesPushed != 10 || len(res.Unplaced) != 0 || serversUsed(res) != 9 || res.Happiness != 9 {
		t.Errorf("pushed %d shares to %d servers (unplaced %v, happiness %d); want 10 on 9", res.SharesPushed, serversUsed(res), res.Unplaced, res.Happiness)
	}
	if !strings.Contains(strings.Join(res.Problems, "; "), "did not answer the allocation") {
		t.Errorf("problems do not name the late server: %v", res.Problems)
	}
	// Every share asked for was recorded before it was asked for. The
	// frozen server's record stays: whether it allocated is unknown until
	// it answers an abort, or the client aborts it when it restarts.
	if rec.started != 11 || rec.openCount() != 1 {
		t.Errorf("recorder: %d started, %d still open; want 11, 1", rec.started, rec.openCount())
	}
	if got, err := download(t, g, res.Cap); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
}

// A server that freezes in the middle of an upload loses its share, and
// the upload goes on within seconds; the result says which share is
// missing.
func TestUploadServerFreezesMidway(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(2<<20, 13)
	frozen := g.ServersFor(uploadSI(t, data))[2]
	for i, s := range g.Servers {
		if s == frozen {
			g.Faults[i].Set(func(f *testgrid.Faults) { f.WriteDelay = time.Hour })
		}
	}
	start := time.Now()
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), opts)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("upload with a server frozen midway: %v", took)
	if took > 5*time.Second {
		t.Errorf("a frozen server cost the upload %v", took)
	}
	if res.SharesPushed != 9 || len(res.Unplaced) != 1 || !strings.Contains(strings.Join(res.Problems, "; "), "no answer in") {
		t.Errorf("pushed %d, unplaced %v, problems %v", res.SharesPushed, res.Unplaced, res.Problems)
	}
	if got, err := download(t, g, res.Cap); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
}

// Uploads of the same file at the same time all succeed: within one
// Uploader they share one upload; from separate clients, the later ones
// wait for the shares under way and find them complete.
func TestUploadSameFileAtOnce(t *testing.T) {
	g := testgrid.New(t, 10)
	data := randomData(500000, 14)
	up := immutable.NewUploader(g)
	var wg sync.WaitGroup
	caps := make([]string, 40)
	for i := range caps {
		wg.Go(func() {
			u := up
			if i%2 == 1 {
				u = immutable.NewUploader(g) // another client
			}
			res, err := u.Upload(context.Background(), bytes.NewReader(data), int64(len(data)), opts)
			if err != nil {
				t.Errorf("upload %d: %v", i, err)
				return
			}
			if len(res.Unplaced) != 0 {
				t.Errorf("upload %d left shares %v unplaced", i, res.Unplaced)
			}
			caps[i] = res.Cap.String()
		})
	}
	wg.Wait()
	for _, c := range caps {
		if c != caps[0] {
			t.Fatalf("caps differ: %s, %s", c, caps[0])
		}
	}
	// One copy of each share: nobody placed them elsewhere.
	n := 0
	for _, b := range g.Backends {
		shares, _ := b.List(context.Background(), uploadSI(t, data))
		n += len(shares)
	}
	if n != 10 {
		t.Errorf("%d shares stored, want 10", n)
	}
}

// Shares left half-written by a client that died (their buckets stay on
// the servers until they give up on them) are waited for a while, then
// placed elsewhere: the upload succeeds with every share.
func TestUploadPastAbandonedShares(t *testing.T) {
	g := testgrid.New(t, 20)
	data := randomData(300000, 15)
	si := uploadSI(t, data)
	plan, err := immutable.NewPlan(uint64(len(data)), opts.Params)
	if err != nil {
		t.Fatal(err)
	}
	// The dead client had every share under way on each of the first ten
	// servers.
	all := []lafs.ShareNum{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for _, s := range g.ServersFor(si)[:10] {
		res, err := s.Storage.AllocateBuckets(context.Background(), si, lafs.LeaseSecrets{}, []byte("the dead client's upload secret!"), all, plan.Layout.ShareSize())
		if err != nil || len(res.Allocated) != 10 {
			t.Fatal(res, err)
		}
	}
	o := opts
	o.BusyWait = 500 * time.Millisecond
	res, err := immutable.Upload(context.Background(), g, bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res.Problems)
	if res.SharesPushed != 10 || res.Happiness != 10 {
		t.Errorf("pushed %d, happiness %d; want 10, 10", res.SharesPushed, res.Happiness)
	}
	if p := strings.Join(res.Problems, "; "); !strings.Contains(p, "neither took nor holds") || strings.Contains(p, "no space") {
		t.Errorf("problems: %v; servers %v", res.Problems, res.Servers)
	}
	if got, err := download(t, g, res.Cap); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download: %v", err)
	}
}
