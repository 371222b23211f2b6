package mutable

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/internal/testgrid"
	"github.com/lafs/lafs/internal/vectors"
	"github.com/lafs/lafs/storage"
)

// checkOpt is a check that gives each server 5 s.
var checkOpt = lafs.CheckOptions{ServerTimeout: 5 * time.Second}

// watched is a test grid whose servers report the corruption advisories
// and the writes they receive.
type watched struct {
	g *testgrid.Grid
	p *peers

	mu      sync.Mutex
	advised map[string][]lafs.ShareNum // server ID -> shares advised corrupt
	writes  int
}

func newWatched(t *testing.T, n int) *watched {
	w := &watched{g: testgrid.New(t, n), advised: map[string][]lafs.ShareNum{}}
	w.p = wrapPeers(w.g, func(i int, s lafs.StorageServer) lafs.StorageServer {
		id := w.g.Servers[i].ID
		return &hooked{StorageServer: s,
			advise: func(sh lafs.ShareNum, _ string) {
				w.mu.Lock()
				w.advised[id] = append(w.advised[id], sh)
				w.mu.Unlock()
			},
			rtw: func(context.Context, map[lafs.ShareNum]lafs.TestWriteVectors) error {
				w.mu.Lock()
				w.writes++
				w.mu.Unlock()
				return nil
			}}
	})
	return w
}

func (w *watched) advisedOf(id string) []lafs.ShareNum {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.advised[id])
}

func (w *watched) writeCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writes
}

// create makes a file on the watched grid and forgets the writes it took.
func (w *watched) create(t *testing.T, keys *Keys, format cap.Format, data []byte) *File {
	t.Helper()
	f, err := Create(context.Background(), w.p, keys, format, data, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.writes = 0
	w.mu.Unlock()
	return f
}

// setShare replaces a share whole (or, with nil data, deletes it).
func setShare(t *testing.T, g *testgrid.Grid, keys *Keys, server int, sh lafs.ShareNum, data []byte) {
	t.Helper()
	s := g.Servers[server]
	size := uint64(len(data))
	tw := map[lafs.ShareNum]lafs.TestWriteVectors{sh: {NewLength: &size}}
	if data != nil {
		tw[sh] = lafs.TestWriteVectors{Write: []lafs.WriteVector{{Offset: 0, Data: data}}, NewLength: &size}
	}
	res, err := s.Storage.ReadTestWrite(context.Background(), keys.StorageIndex, keys.WriteEnabler(s.NodeID), lafs.LeaseSecrets{}, tw, nil)
	if err != nil || !res.Success {
		t.Fatalf("setShare: %v %v", res.Success, err)
	}
}

// shareOn reads a whole share from a server.
func shareOn(t *testing.T, g *testgrid.Grid, si lafs.StorageIndex, server int, sh lafs.ShareNum) []byte {
	t.Helper()
	b, err := g.Servers[server].Storage.ReadMutable(context.Background(), si, sh, 0, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// label is Tahoe's "seq%d-%s" of the share's version, computed here from
// the share's bytes.
func label(t *testing.T, share []byte) string {
	t.Helper()
	h, err := ParseHeader(share)
	if err != nil {
		t.Fatal(err)
	}
	b32 := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(h.RootHash[:]))
	return fmt.Sprintf("seq%d-%s", h.Seqnum, b32[:4])
}

// wantShareMap is the share map a check should report: every share on
// the grid, labelled by its version.
func wantShareMap(t *testing.T, g *testgrid.Grid, si lafs.StorageIndex) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for sh, holders := range shareHolders(t, g, si) {
		for _, i := range holders {
			id := fmt.Sprintf("%s-sh%d", label(t, shareOn(t, g, si, i, sh)), sh)
			out[id] = append(out[id], g.Servers[i].ID)
		}
	}
	return out
}

func sameShareMap(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(slices.Sorted(slices.Values(v)), slices.Sorted(slices.Values(b[k]))) {
			return false
		}
	}
	return true
}

func checkOK(t *testing.T, p lafs.Peers, c cap.Cap, opt lafs.CheckOptions) *lafs.CheckResult {
	t.Helper()
	r, err := Check(context.Background(), p, c, testOpts, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func repairOK(t *testing.T, p lafs.Peers, c cap.Cap, opt lafs.CheckOptions) *lafs.RepairResult {
	t.Helper()
	opt.Repair = true
	r, err := CheckAndRepair(context.Background(), p, c, testOpts, opt)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// counts summarizes a result for comparisons.
func counts(r *lafs.CheckResult) string {
	return fmt.Sprintf("healthy=%v recoverable=%v good=%d k=%d n=%d hosts=%d happy=%d wrong=%d rec=%d unrec=%d corrupt=%d responding=%d",
		r.Healthy, r.Recoverable, r.GoodShares, r.SharesNeeded, r.SharesExpected, r.GoodShareHosts, r.Happiness,
		r.WrongShares, r.RecoverableVersions, r.UnrecoverableVersions, len(r.Corrupt), len(r.ServersResponding))
}

func wantCounts(t *testing.T, what string, r *lafs.CheckResult, want string) {
	t.Helper()
	if got := counts(r); got != want {
		t.Errorf("%s:\n got %s\nwant %s\nsummary %q\nreport %q", what, got, want, r.Summary, r.Report)
	}
}

func reportHas(r *lafs.CheckResult, substr string) bool {
	return slices.ContainsFunc(r.Report, func(l string) bool { return strings.Contains(l, substr) })
}

const healthyCounts = "healthy=true recoverable=true good=10 k=3 n=10 hosts=10 happy=10 wrong=0 rec=1 unrec=0 corrupt=0 responding=10"

// TestCheckHealthy checks a healthy SDMF and MDMF file through each of its
// caps, with and without verifying: Tahoe's counts, labels, summary and
// report.
func TestCheckHealthy(t *testing.T) {
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		t.Run(format.String(), func(t *testing.T) {
			w := newWatched(t, 10)
			f := w.create(t, keys, format, randomBytes(300_000, 1))
			want := wantShareMap(t, w.g, keys.StorageIndex)
			lbl := label(t, shareOn(t, w.g, keys.StorageIndex, shareHolders(t, w.g, keys.StorageIndex)[0][0], 0))
			for _, c := range []cap.Cap{f.Cap(), f.Cap().ReadOnly(), f.Cap().(*cap.MutableWrite).Verifier()} {
				for _, verify := range []bool{false, true} {
					opt := checkOpt
					opt.Verify = verify
					r := checkOK(t, w.p, c, opt)
					what := fmt.Sprintf("%s verify=%v", cap.Kind(c), verify)
					wantCounts(t, what, r, healthyCounts)
					if r.Summary != "Healthy" || r.StorageIndex != keys.StorageIndex {
						t.Errorf("%s: summary %q", what, r.Summary)
					}
					if !sameShareMap(r.ShareMap, want) {
						t.Errorf("%s: share map %v, want %v", what, r.ShareMap, want)
					}
					wantReport := []string{"Recoverable Versions: 10*" + lbl, "Best Recoverable Version: " + lbl}
					if !slices.Equal(r.Report, wantReport) {
						t.Errorf("%s: report %q, want %q", what, r.Report, wantReport)
					}
				}
			}
			if w.writeCount() != 0 {
				t.Errorf("a check wrote %d times", w.writeCount())
			}
			rr := repairOK(t, w.p, f.Cap(), checkOpt)
			if rr.Attempted || rr.Successful || rr.PostRepair != rr.PreRepair || w.writeCount() != 0 {
				t.Errorf("repair of a healthy file: attempted %v, successful %v, %d writes", rr.Attempted, rr.Successful, w.writeCount())
			}
		})
	}
}

// TestCheckTahoeRecording compares what a check says of a missing file
// and of a healthy one with what Tahoe 1.20 said (tahoe120_webapi.json),
// and checks Tahoe's own shares, verifying every byte.
func TestCheckTahoeRecording(t *testing.T) {
	var rec struct {
		Exchanges []struct {
			Name     string `json:"name"`
			Response struct {
				Body json.RawMessage `json:"body_json"`
			} `json:"response"`
		} `json:"exchanges"`
	}
	type body struct {
		Summary string `json:"summary"`
		Results struct {
			Happiness   int                 `json:"count-happiness"`
			Good        int                 `json:"count-shares-good"`
			Needed      int                 `json:"count-shares-needed"`
			Expected    int                 `json:"count-shares-expected"`
			Hosts       int                 `json:"count-good-share-hosts"`
			Wrong       int                 `json:"count-wrong-shares"`
			Rec         int                 `json:"count-recoverable-versions"`
			Unrec       int                 `json:"count-unrecoverable-versions"`
			Healthy     bool                `json:"healthy"`
			Recoverable bool                `json:"recoverable"`
			Corrupt     int                 `json:"count-corrupt-shares"`
			Responding  []string            `json:"servers-responding"`
			ShareMap    map[string][]string `json:"sharemap"`
		} `json:"results"`
	}
	if err := json.Unmarshal(vectors.Read(t, "tahoe120_webapi.json"), &rec); err != nil {
		t.Fatal(err)
	}
	tahoe := map[string]*lafs.CheckResult{}
	labels := map[string][]string{}
	for _, e := range rec.Exchanges {
		if !strings.HasPrefix(e.Name, "check_") {
			continue
		}
		var b body
		if err := json.Unmarshal(e.Response.Body, &b); err != nil {
			continue // not a JSON check result
		}
		r := b.Results
		tahoe[e.Name] = &lafs.CheckResult{Summary: b.Summary, Healthy: r.Healthy, Recoverable: r.Recoverable,
			GoodShares: r.Good, SharesNeeded: r.Needed, SharesExpected: r.Expected, GoodShareHosts: r.Hosts,
			Happiness: r.Happiness, WrongShares: r.Wrong, RecoverableVersions: r.Rec, UnrecoverableVersions: r.Unrec,
			Corrupt: make([]lafs.ShareLocation, r.Corrupt), ServersResponding: r.Responding}
		labels[e.Name] = slices.Collect(maps.Keys(r.ShareMap))
	}
	for _, name := range []string{"check_missing_ssk", "check_sdmf", "check_mdmf"} {
		if tahoe[name] == nil {
			t.Fatalf("no %s in the recording", name)
		}
	}
	ks := testKeys(t, 2)
	w := newWatched(t, 10)
	// Tahoe's labels have this form; ours must too.
	form := regexp.MustCompile(`^seq[0-9]+-[a-z2-7]{4}-sh[0-9]$`)
	for _, name := range []string{"check_sdmf", "check_mdmf"} {
		if len(labels[name]) != 10 || !slices.ContainsFunc(labels[name], form.MatchString) {
			t.Fatalf("%s: labels %v do not have the expected form", name, labels[name])
		}
	}
	missing := checkOK(t, w.p, ks[1].WriteCap(cap.SDMF), checkOpt)
	if got, want := counts(missing), counts(tahoe["check_missing_ssk"]); got != want || missing.Summary != tahoe["check_missing_ssk"].Summary {
		t.Errorf("missing file: %s %q, Tahoe: %s %q", got, missing.Summary, want, tahoe["check_missing_ssk"].Summary)
	}
	for _, format := range formats {
		f := w.create(t, ks[0], format, []byte("recorded"))
		name := "check_" + strings.ToLower(format.String())
		r := checkOK(t, w.p, f.Cap(), checkOpt)
		if got, want := counts(r), counts(tahoe[name]); got != want || r.Summary != tahoe[name].Summary {
			t.Errorf("%v: %s %q, Tahoe: %s %q", format, got, r.Summary, want, tahoe[name].Summary)
		}
		for l := range r.ShareMap {
			if !form.MatchString(l) {
				t.Errorf("label %q", l)
			}
		}
		for sh, holders := range shareHolders(t, w.g, ks[0].StorageIndex) {
			for _, i := range holders {
				setShare(t, w.g, ks[0], i, sh, nil)
			}
		}
	}
	// Tahoe's shares pass a verify, through each cap.
	for _, tf := range gridFiles(t) {
		g := testgrid.New(t, 10)
		placeTahoeShares(t, g, tf, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
		for _, c := range []cap.Cap{tf.cap, tf.cap.ReadOnly(), tf.cap.(*cap.MutableWrite).Verifier()} {
			r := checkOK(t, g, c, lafs.CheckOptions{Verify: true})
			wantCounts(t, tf.name+" "+cap.Kind(c), r, healthyCounts)
			if want := wantShareMap(t, g, tf.cap.(*cap.MutableWrite).StorageIndex()); !sameShareMap(r.ShareMap, want) {
				t.Errorf("%s: share map %v, want %v", tf.name, r.ShareMap, want)
			}
		}
	}
}

// TestCheckMissingShares finds shares missing, repairs them, then finds
// old shares come back and repairs again.
func TestCheckMissingShares(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		t.Run(format.String(), func(t *testing.T) {
			w := newWatched(t, 10)
			data := randomBytes(200_000, 2)
			f := w.create(t, keys, format, data)
			holders := shareHolders(t, w.g, keys.StorageIndex)
			setShare(t, w.g, keys, holders[2][0], 2, nil)
			setShare(t, w.g, keys, holders[7][0], 7, nil)
			r := checkOK(t, w.p, f.Cap(), checkOpt)
			wantCounts(t, "two missing", r, "healthy=false recoverable=true good=8 k=3 n=10 hosts=8 happy=8 wrong=0 rec=1 unrec=0 corrupt=0 responding=10")
			if r.Summary != "Unhealthy: 8 shares (enc 3-of-10)" || !reportHas(r, "Unhealthy: best version has only 8 shares (encoding is 3-of-10)") {
				t.Errorf("summary %q, report %q", r.Summary, r.Report)
			}
			// Without Repair, nothing is written.
			rr, err := CheckAndRepair(ctx, w.p, f.Cap(), testOpts, checkOpt)
			if err != nil || rr.Attempted || w.writeCount() != 0 {
				t.Fatalf("check without repair: attempted %v, %d writes, %v", rr.Attempted, w.writeCount(), err)
			}
			rr = repairOK(t, w.p, f.Cap(), checkOpt)
			if !rr.Attempted || !rr.Successful || len(rr.Placed) != 10 {
				t.Fatalf("repair: attempted %v successful %v placed %v; %q", rr.Attempted, rr.Successful, rr.Placed, rr.PostRepair.Report)
			}
			wantCounts(t, "after repair", rr.PostRepair, healthyCounts)
			wantCounts(t, "before repair", rr.PreRepair, counts(r))
			checkAllShares(t, w.g, keys, 2) // Tahoe's repair publishes a new version
			if got, err := f.Read(ctx); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read after repair: %v", err)
			}

			// Two servers miss an update, then come back with their old shares.
			w.g.Faults[0].Set(func(f *testgrid.Faults) { f.Offline = true })
			w.g.Faults[1].Set(func(f *testgrid.Faults) { f.Offline = true })
			data = randomBytes(100_000, 3)
			if err := f.Overwrite(ctx, data); err != nil {
				t.Fatal(err)
			}
			w.g.Faults[0].Set(func(f *testgrid.Faults) { f.Offline = false })
			w.g.Faults[1].Set(func(f *testgrid.Faults) { f.Offline = false })
			r = checkOK(t, w.p, f.Cap(), checkOpt)
			wantCounts(t, "old shares back", r, "healthy=false recoverable=true good=10 k=3 n=10 hosts=8 happy=10 wrong=2 rec=1 unrec=1 corrupt=0 responding=10")
			if r.Summary != "Unhealthy: some versions are unrecoverable" || !reportHas(r, "Unrecoverable Versions: 2*seq2-") {
				t.Errorf("summary %q, report %q", r.Summary, r.Report)
			}
			rr = repairOK(t, w.p, f.Cap(), checkOpt)
			if !rr.Successful {
				t.Fatalf("second repair failed: %q", rr.PostRepair.Report)
			}
			wantCounts(t, "after second repair", rr.PostRepair, healthyCounts)
			checkAllShares(t, w.g, keys, 4)
			if got, err := f.Read(ctx); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read after the second repair: %v", err)
			}
		})
	}
}

// TestCheckVerifyCorrupt damages one share in each of its parts: only a
// verify finds it (but for the parts the servermap reads), the server hears
// of it, and a repair replaces it.
func TestCheckVerifyCorrupt(t *testing.T) {
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		for _, part := range []string{"block", "first block", "block hash tree", "share hash chain", "private key", "signature", "seqnum"} {
			t.Run(format.String()+"/"+part, func(t *testing.T) {
				w := newWatched(t, 10)
				data := randomBytes(300_000, 4)
				f := w.create(t, keys, format, data)
				const sh = 4
				server := shareHolders(t, w.g, keys.StorageIndex)[sh][0]
				s, err := ParseShare(shareOn(t, w.g, keys.StorageIndex, server, sh))
				if err != nil {
					t.Fatal(err)
				}
				h := s.Header
				off := map[string]uint64{
					"block":            h.BlockRange(s.NumSegments()-1).End - 1,
					"first block":      h.BlockRange(0).Begin + 3, // MDMF: in the salt
					"block hash tree":  h.BlockHashTreeRange().Begin + 5,
					"share hash chain": h.ShareHashChainRange().Begin + 5,
					"private key":      h.EncPrivKeyRange().Begin + 100,
					"signature":        h.SignatureRange().Begin + 100,
					"seqnum":           3,
				}[part]
				flip(t, w.g, keys, server, sh, off)
				id := w.g.Servers[server].ID
				seenByMap := part == "signature" || part == "seqnum"
				r := checkOK(t, w.p, f.Cap(), checkOpt)
				if seenByMap {
					wantCounts(t, "check", r, "healthy=false recoverable=true good=9 k=3 n=10 hosts=9 happy=9 wrong=0 rec=1 unrec=0 corrupt=1 responding=10")
				} else {
					wantCounts(t, "check", r, healthyCounts)
				}
				for _, c := range []cap.Cap{f.Cap(), f.Cap().ReadOnly(), f.Cap().(*cap.MutableWrite).Verifier()} {
					opt := checkOpt
					opt.Verify = true
					r := checkOK(t, w.p, c, opt)
					what := "verify by " + cap.Kind(c)
					if part == "private key" && c != f.Cap() {
						// Without the write key the private key cannot be
						// checked (nor can Tahoe's verifier).
						wantCounts(t, what, r, healthyCounts)
						continue
					}
					wantCounts(t, what, r, "healthy=false recoverable=true good=9 k=3 n=10 hosts=9 happy=9 wrong=0 rec=1 unrec=0 corrupt=1 responding=10")
					wantSummary := fmt.Sprintf("Unhealthy: 9 shares (enc 3-of-10) Corrupt Shares: %s-sh%d", strings.TrimPrefix(id, "v0-")[:8], sh)
					if r.Summary != wantSummary || !reportHas(r, "Corrupt Shares:") {
						t.Errorf("%s: summary %q, want %q; report %q", what, r.Summary, wantSummary, r.Report)
					}
					if len(r.Corrupt) == 1 && r.Corrupt[0] != (lafs.ShareLocation{Server: id, StorageIndex: keys.StorageIndex, Num: sh}) {
						t.Errorf("%s: corrupt %v", what, r.Corrupt)
					}
					for l := range r.ShareMap {
						if strings.HasSuffix(l, fmt.Sprintf("-sh%d", sh)) {
							t.Errorf("%s: the corrupt share is in the share map", what)
						}
					}
				}
				waitFor(t, func() bool { return slices.Contains(w.advisedOf(id), sh) })
				opt := checkOpt
				opt.Verify = true
				rr := repairOK(t, w.p, f.Cap(), opt)
				if !rr.Attempted || !rr.Successful {
					t.Fatalf("repair: %v %v %q", rr.Attempted, rr.Successful, rr.PostRepair.Report)
				}
				wantCounts(t, "after repair", rr.PostRepair, healthyCounts)
				checkAllShares(t, w.g, keys, 2)
				if got := shareHolders(t, w.g, keys.StorageIndex)[sh]; !slices.Equal(got, []int{server}) {
					t.Errorf("share %d now on %v, want it replaced in place on %d", sh, got, server)
				}
				if got, err := f.Read(context.Background()); err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read after repair: %v", err)
				}
			})
		}
	}
}

// shareNumOn is the one share a server holds.
func shareNumOn(t *testing.T, g *testgrid.Grid, si lafs.StorageIndex, server int) lafs.ShareNum {
	t.Helper()
	shs, err := g.Servers[server].Storage.ListMutable(context.Background(), si)
	if err != nil || len(shs) != 1 {
		t.Fatalf("server %d holds %v: %v", server, shs, err)
	}
	return shs[0]
}

// publishPartly writes a new version of the file on some share numbers
// only, in place of the shares there, as a publish that stopped would.
func publishPartly(t *testing.T, g *testgrid.Grid, keys *Keys, version byte, seqnum uint64, data []byte, shnums []lafs.ShareNum) {
	t.Helper()
	shares, err := encodeVersion(keys, version, seqnum, 3, 10, DefaultSegmentSize, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	holders := shareHolders(t, g, keys.StorageIndex)
	for _, sh := range shnums {
		b, err := shares[sh].Marshal()
		if err != nil {
			t.Fatal(err)
		}
		setShare(t, g, keys, holders[sh][0], sh, b)
	}
}

// TestCheckTwoVersions: a publish that stopped half-way leaves two
// recoverable versions; the repair publishes the newer one's contents
// again over all of them, as Tahoe's does. A newer version too short of
// shares to be read, or two recoverable versions with the same seqnum,
// are not repaired (Tahoe asks for force), and nothing is written.
func TestCheckTwoVersions(t *testing.T) {
	ctx := context.Background()
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		t.Run(format.String(), func(t *testing.T) {
			w := newWatched(t, 10)
			old, nw := randomBytes(150_000, 5), randomBytes(160_000, 6)
			f := w.create(t, keys, format, old)
			v := formatVersion(format)
			publishPartly(t, w.g, keys, v, 2, nw, []lafs.ShareNum{0, 1, 2, 3})
			r := checkOK(t, w.p, f.Cap(), checkOpt)
			wantCounts(t, "two versions", r, "healthy=false recoverable=true good=4 k=3 n=10 hosts=4 happy=10 wrong=6 rec=2 unrec=0 corrupt=0 responding=10")
			if r.Summary != "Unhealthy: multiple versions are recoverable 4 shares (enc 3-of-10)" ||
				!reportHas(r, "Unhealthy: there are multiple recoverable versions") || !reportHas(r, "Best Recoverable Version: seq2-") {
				t.Errorf("summary %q, report %q", r.Summary, r.Report)
			}
			if !sameShareMap(r.ShareMap, wantShareMap(t, w.g, keys.StorageIndex)) {
				t.Errorf("share map %v", r.ShareMap)
			}
			rr := repairOK(t, w.p, f.Cap(), checkOpt)
			if !rr.Successful {
				t.Fatalf("repair: %q", rr.PostRepair.Report)
			}
			wantCounts(t, "after repair", rr.PostRepair, healthyCounts)
			checkAllShares(t, w.g, keys, 3)
			if got, err := f.Read(ctx); err != nil || !bytes.Equal(got, nw) {
				t.Fatalf("read after repair: %v", err)
			}

			// A newer version with two shares: a repair would lose it.
			publishPartly(t, w.g, keys, v, 4, old, []lafs.ShareNum{5, 6})
			w.mu.Lock()
			w.writes = 0
			w.mu.Unlock()
			rr = repairOK(t, w.p, f.Cap(), checkOpt)
			wantCounts(t, "newer unrecoverable", rr.PreRepair, "healthy=false recoverable=true good=8 k=3 n=10 hosts=8 happy=10 wrong=2 rec=1 unrec=1 corrupt=0 responding=10")
			if rr.Attempted || rr.Successful || w.writeCount() != 0 || !reportHas(rr.PostRepair, "Repair not attempted: version seq4-") {
				t.Errorf("newer unrecoverable version: attempted %v, %d writes, report %q", rr.Attempted, w.writeCount(), rr.PostRepair.Report)
			}

			// Two recoverable versions with the same seqnum.
			publishPartly(t, w.g, keys, v, 4, randomBytes(1000, 7), []lafs.ShareNum{0, 1, 2})
			publishPartly(t, w.g, keys, v, 4, randomBytes(1000, 8), []lafs.ShareNum{7, 8, 9})
			rr = repairOK(t, w.p, f.Cap(), checkOpt)
			if rr.PreRepair.RecoverableVersions != 2 || rr.Attempted || w.writeCount() != 0 || !reportHas(rr.PostRepair, "same seqnum") {
				t.Errorf("same seqnum: %s, attempted %v, %d writes, report %q", counts(rr.PreRepair), rr.Attempted, w.writeCount(), rr.PostRepair.Report)
			}
		})
	}
}

// TestCheckRepairNeedsWriteCap: a read or verify cap checks, but does not
// repair (Tahoe's #625), and nothing is written.
func TestCheckRepairNeedsWriteCap(t *testing.T) {
	keys := testKeys(t, 1)[0]
	w := newWatched(t, 10)
	f := w.create(t, keys, cap.MDMF, randomBytes(5000, 9))
	setShare(t, w.g, keys, shareHolders(t, w.g, keys.StorageIndex)[5][0], 5, nil)
	for _, c := range []cap.Cap{f.Cap().ReadOnly(), f.Cap().(*cap.MutableWrite).Verifier()} {
		rr := repairOK(t, w.p, c, checkOpt)
		wantCounts(t, cap.Kind(c), rr.PreRepair, "healthy=false recoverable=true good=9 k=3 n=10 hosts=9 happy=9 wrong=0 rec=1 unrec=0 corrupt=0 responding=10")
		if rr.Attempted || rr.Successful || !reportHas(rr.PostRepair, "needs its write cap") || reportHas(rr.PreRepair, "needs its write cap") {
			t.Errorf("%s: attempted %v successful %v; report %q", cap.Kind(c), rr.Attempted, rr.Successful, rr.PostRepair.Report)
		}
	}
	if w.writeCount() != 0 {
		t.Errorf("%d writes", w.writeCount())
	}
}

// TestCheckVerifyCap checks through a verify cap, and finds that shares
// whose key does not match the cap's fingerprint are not the file's.
func TestCheckVerifyCap(t *testing.T) {
	ks := testKeys(t, 2)
	for _, format := range formats {
		w := newWatched(t, 10)
		f := w.create(t, ks[0], format, randomBytes(1000, 10))
		v := f.Cap().(*cap.MutableWrite).Verifier().(*cap.MutableVerifier)
		wantCounts(t, "verify cap", checkOK(t, w.p, v, lafs.CheckOptions{Verify: true}), healthyCounts)
		wrong := &cap.MutableVerifier{Format: v.Format, StorageIndex: v.StorageIndex, Fingerprint: ks[1].Fingerprint}
		r := checkOK(t, w.p, wrong, lafs.CheckOptions{Verify: true})
		wantCounts(t, "wrong fingerprint", r, "healthy=false recoverable=false good=0 k=3 n=10 hosts=0 happy=0 wrong=0 rec=0 unrec=0 corrupt=10 responding=10")
		if !strings.HasPrefix(r.Summary, "Unhealthy: no versions are recoverable Corrupt Shares: ") || !reportHas(r, "fingerprint") {
			t.Errorf("summary %q, report %q", r.Summary, r.Report)
		}
	}
	if _, err := Check(context.Background(), testgrid.New(t, 1), &cap.CHKVerifier{}, testOpts, checkOpt); err == nil {
		t.Error("checked a CHK verify cap as a mutable file")
	}
}

// TestCheckFrozenServer: a server that takes requests and never answers
// costs the check its ServerTimeout, and the repair places its share
// elsewhere.
func TestCheckFrozenServer(t *testing.T) {
	keys := testKeys(t, 1)[0]
	for _, format := range formats {
		t.Run(format.String(), func(t *testing.T) {
			w := newWatched(t, 10)
			data := randomBytes(200_000, 11)
			f := w.create(t, keys, format, data)
			opt := lafs.CheckOptions{ServerTimeout: 300 * time.Millisecond}
			timed := func(what string, limit time.Duration, op func()) {
				t.Helper()
				start := time.Now()
				op()
				if d := time.Since(start); d > limit {
					t.Errorf("%s took %v, want at most %v", what, d, limit)
				}
			}
			w.g.Faults[3].Set(func(f *testgrid.Faults) { f.Delay = time.Hour })
			timed("check", 2*time.Second, func() {
				r := checkOK(t, w.p, f.Cap(), opt)
				wantCounts(t, "frozen", r, "healthy=false recoverable=true good=9 k=3 n=10 hosts=9 happy=9 wrong=0 rec=1 unrec=0 corrupt=0 responding=9")
				if slices.Contains(r.ServersResponding, w.g.Servers[3].ID) || !reportHas(r, "did not answer within 300ms") {
					t.Errorf("responding %v, report %q", r.ServersResponding, r.Report)
				}
			})
			// Share reads that hang, while listings answer.
			w.g.Faults[5].Set(func(f *testgrid.Faults) { f.ReadDelay = time.Hour })
			timed("verify", 3*time.Second, func() {
				o := opt
				o.Verify = true
				r := checkOK(t, w.p, f.Cap(), o)
				wantCounts(t, "frozen reads", r, "healthy=false recoverable=true good=8 k=3 n=10 hosts=8 happy=8 wrong=0 rec=1 unrec=0 corrupt=0 responding=9")
			})
			w.g.Faults[5].Set(func(f *testgrid.Faults) { f.ReadDelay = 0 })
			timed("repair", 10*time.Second, func() {
				rr := repairOK(t, w.p, f.Cap(), opt)
				if !rr.Successful {
					t.Fatalf("repair: %q", rr.PostRepair.Report)
				}
				wantCounts(t, "after repair", rr.PostRepair, "healthy=true recoverable=true good=10 k=3 n=10 hosts=9 happy=9 wrong=0 rec=1 unrec=0 corrupt=0 responding=9")
			})
			w.g.Faults[3].Set(func(f *testgrid.Faults) { f.Delay = 0 })
			if got, err := f.Read(context.Background()); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read: %v", err)
			}
		})
	}
}

// TestCheckUnrecoverable: with two shares of 3 needed left, the check
// says so in Tahoe's words and the repair is not attempted.
func TestCheckUnrecoverable(t *testing.T) {
	keys := testKeys(t, 1)[0]
	w := newWatched(t, 10)
	f := w.create(t, keys, cap.SDMF, randomBytes(1000, 12))
	for sh, holders := range shareHolders(t, w.g, keys.StorageIndex) {
		if sh >= 2 {
			setShare(t, w.g, keys, holders[0], sh, nil)
		}
	}
	w.mu.Lock()
	w.writes = 0
	w.mu.Unlock()
	rr := repairOK(t, w.p, f.Cap(), lafs.CheckOptions{Verify: true})
	wantCounts(t, "two shares", rr.PreRepair, "healthy=false recoverable=false good=2 k=3 n=10 hosts=2 happy=2 wrong=0 rec=0 unrec=1 corrupt=0 responding=10")
	if rr.PreRepair.Summary != "Unhealthy: some versions are unrecoverable no versions are recoverable" {
		t.Errorf("summary %q", rr.PreRepair.Summary)
	}
	if rr.Attempted || rr.Successful || w.writeCount() != 0 || !reportHas(rr.PostRepair, "nothing to repair it from") {
		t.Errorf("attempted %v, %d writes, report %q", rr.Attempted, w.writeCount(), rr.PostRepair.Report)
	}
	if n := len(shareHolders(t, w.g, keys.StorageIndex)); n != 2 {
		t.Errorf("%d shares left", n)
	}
}

// liar is a server that lists shares it does not have, answers reads of
// them with garbage, and pads short reads with zeros, as if every share
// went on for ever.
type liar struct {
	lafs.StorageServer
}

func (l *liar) ListMutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	shs, err := l.StorageServer.ListMutable(ctx, si)
	return append(shs, 300, 300, 9999, 7), err
}

func (l *liar) ReadMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	if sh >= 256 {
		return randomBytes(int(min(n, 5000)), uint64(sh)), nil
	}
	b, err := l.StorageServer.ReadMutable(ctx, si, sh, off, n)
	if err != nil {
		return nil, err
	}
	return append(b, make([]byte, n-uint64(len(b)))...), nil
}

// TestCheckHostileServers: garbage shares, shares that lie about their
// length and truncated shares are found corrupt, without panics or
// endless reads.
func TestCheckHostileServers(t *testing.T) {
	keys := testKeys(t, 1)[0]
	g := testgrid.New(t, 10)
	p := wrapPeers(g, func(i int, s lafs.StorageServer) lafs.StorageServer {
		if i < 2 {
			return &liar{s}
		}
		return s
	})
	f, err := Create(context.Background(), p, keys, cap.SDMF, randomBytes(5000, 13), testOpts)
	if err != nil {
		t.Fatal(err)
	}
	// Server 0's share says it ends far away (the EOF offset is not
	// signed); server 2's share is cut short in its header.
	sh0 := shareNumOn(t, g, keys.StorageIndex, 0)
	b := shareOn(t, g, keys.StorageIndex, 0, sh0)
	b[100] = 0x10 // EOF near 2^52
	setShare(t, g, keys, 0, sh0, b)
	setShare(t, g, keys, 2, shareNumOn(t, g, keys.StorageIndex, 2), b[:50])
	start := time.Now()
	r := checkOK(t, p, f.Cap(), lafs.CheckOptions{Verify: true, ServerTimeout: time.Second})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("check took %v", d)
	}
	// Corrupt: server 0's share, server 2's share; share 7 listed by the
	// liars is good where it is; the share numbers no share can have
	// (300, 9999) are not read, only counted in the report.
	var corrupt []string
	for _, c := range r.Corrupt {
		corrupt = append(corrupt, fmt.Sprintf("%s/%d", c.Server, c.Num))
	}
	t.Logf("corrupt %v; report %q", corrupt, r.Report)
	if len(r.Corrupt) != 2 || r.GoodShares != 8 || !r.Recoverable {
		t.Errorf("%s; corrupt %v", counts(r), corrupt)
	}
	if !reportHas(r, "encrypted private key of") || !reportHas(r, "listed 2 share numbers of 256 or more") {
		t.Errorf("report %q", r.Report)
	}
}

// TestCheckAddLease adds this client's lease wherever shares are.
func TestCheckAddLease(t *testing.T) {
	keys := testKeys(t, 1)[0]
	w := newWatched(t, 12)
	f := w.create(t, keys, cap.MDMF, randomBytes(1000, 14))
	other := testOpts
	other.LeaseSecret = []byte("another client's lease secret...")
	has := func(i int, opts Options) bool {
		s := w.g.Servers[i]
		secrets := crypt.LeaseSecrets(opts.LeaseSecret, keys.StorageIndex, s.NodeID)
		for sh := range lafs.ShareNum(10) {
			k := backend.Key{SI: keys.StorageIndex, Share: sh}
			n, err := w.g.Backends[i].Size(context.Background(), k)
			if err != nil {
				continue
			}
			c := make([]byte, n)
			if got, _ := w.g.Backends[i].ReadAt(context.Background(), k, c, 0); got != len(c) {
				t.Fatalf("server %d: read %d of %d bytes", i, got, n)
			}
			hashed := storage.HashLeaseSecret(secrets.Renew)
			if bytes.Contains(c, secrets.Renew[:]) || bytes.Contains(c, hashed[:]) {
				return true
			}
		}
		return false
	}
	holders := map[int]bool{}
	for _, hs := range shareHolders(t, w.g, keys.StorageIndex) {
		for _, i := range hs {
			holders[i] = true
		}
	}
	for i := range holders {
		if has(i, other) {
			t.Fatal("another client's lease before the check")
		}
	}
	if _, err := Check(context.Background(), w.p, f.Cap().ReadOnly(), other, lafs.CheckOptions{AddLease: true}); err != nil {
		t.Fatal(err)
	}
	for i := range holders {
		if !has(i, other) {
			t.Errorf("server %d: no lease added", i)
		}
	}
}

// TestCheckFrozenServerDefaultTimeout: with the default ServerTimeout
// (10 s), a frozen server is given up on once it is late against the
// others, so that a check costs seconds (Tahoe: 60 s).
func TestCheckFrozenServerDefaultTimeout(t *testing.T) {
	keys := testKeys(t, 1)[0]
	w := newWatched(t, 10)
	f := w.create(t, keys, cap.SDMF, randomBytes(2000, 13))
	w.g.Faults[3].Set(func(f *testgrid.Faults) { f.Delay = time.Hour })
	start := time.Now()
	r := checkOK(t, w.p, f.Cap(), lafs.CheckOptions{Verify: true})
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("check with a frozen server took %v", d)
	}
	wantCounts(t, "frozen", r, "healthy=false recoverable=true good=9 k=3 n=10 hosts=9 happy=9 wrong=0 rec=1 unrec=0 corrupt=0 responding=9")
	if !reportHas(r, "late against the other servers") {
		t.Errorf("report %q", r.Report)
	}
}
