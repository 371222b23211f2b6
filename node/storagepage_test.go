package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend/mem"
	"github.com/lafs/lafs/immutable"
	"github.com/lafs/lafs/storage"
)

// startStorageNode starts a storage node with a web port and returns it
// and a GET of its web API.
func startStorageNode(t *testing.T, ctx context.Context) (*Node, string, func(path string) (int, http.Header, []byte)) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "store")
	if err := Create(dir, CreateOptions{WebPort: "tcp:0:interface=127.0.0.1", Hostname: "127.0.0.1", SharesHappy: 1}); err != nil {
		t.Fatal(err)
	}
	noKeyPool(t, dir)
	n, err := Start(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	u, err := os.ReadFile(filepath.Join(dir, NodeURLFile))
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSpace(string(u))
	get := func(path string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, resp.Header, b
	}
	return n, dir, get
}

func TestStoragePageOnANode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, _, get := startStorageNode(t, ctx)

	code, h, body := get("storage?t=json")
	if code != http.StatusOK || h.Get("Content-Type") != "text/plain" || !bytes.HasSuffix(body, []byte("}\n")) {
		t.Fatalf("GET /storage?t=json: %d %q %s", code, h.Get("Content-Type"), body)
	}
	var page map[string]map[string]any
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	for _, k := range []string{"stats", "bucket-counter", "lease-checker", "lease-checker-progress"} {
		if page[k] == nil {
			t.Errorf("no %q in %s", k, body)
		}
	}
	stats := page["stats"]
	if stats["storage_server.accepting_immutable_shares"] != 1.0 || stats["storage_server.reserved_space"] == nil ||
		stats["storage_server.disk_avail"].(float64) <= 0 || stats["storage_server.allocated"] != 0.0 {
		t.Errorf("stats %v", stats)
	}
	lc := page["lease-checker"]
	if lc["last-cycle-finished"] != nil || lc["current-cycle"] != nil || len(lc["history"].(map[string]any)) != 0 {
		t.Errorf("a new node's lease checker: %v", lc)
	}
	if page["bucket-counter"]["last-complete-bucket-count"] != nil {
		t.Errorf("bucket counter %v", page["bucket-counter"])
	}
	prog := page["lease-checker-progress"]
	if prog["cycle-in-progress"] != false || prog["remaining-wait-time"].(float64) <= 300 || prog["estimated-time-per-cycle"] != nil {
		t.Errorf("during the slow start: %v", prog)
	}

	code, h, body = get("storage")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
		!bytes.Contains(body, []byte("<h1>Storage Server Status</h1>")) || !bytes.Contains(body, []byte("Next crawl in 5 minutes")) ||
		!bytes.Contains(body, []byte("Disabled: scan-only mode")) {
		t.Errorf("GET /storage: %d %q\n%s", code, h.Get("Content-Type"), body)
	}
	if code, _, _ = get("storage?t=xml"); code != http.StatusBadRequest {
		t.Errorf("t=xml: %d", code)
	}
	// The rest of the web API is still there.
	if code, _, _ = get("statistics?t=json"); code != http.StatusOK {
		t.Errorf("GET /statistics?t=json: %d", code)
	}

	_, _, body = get("statistics?t=json")
	var st struct {
		Counters map[string]int64   `json:"counters"`
		Stats    map[string]float64 `json:"stats"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"storage_server.lease_checker.cycles", "storage_server.lease_checker.shares_expired", "storage_server.quarantined_shares"} {
		if v, ok := st.Counters[k]; !ok || v != 0 {
			t.Errorf("counter %s: %d, %v", k, v, ok)
		}
	}
	if st.Stats["storage_server.disk_avail"] <= 0 || st.Stats["storage_server.accepting_immutable_shares"] != 1 {
		t.Errorf("statistics %v", st.Stats)
	}
}

// TestStoragePageJSONShape pins the keys of Tahoe's lease checker state,
// for a cycle in progress and one in the history.
func TestStoragePageJSONShape(t *testing.T) {
	si := lafs.StorageIndex{7}
	counts := storage.CycleCounts{
		Examined:       storage.KindTally{All: storage.Tally{Buckets: 2, Shares: 3, ShareBytes: 300, DiskBytes: 300}, Mutable: storage.Tally{Buckets: 1, Shares: 1}},
		LeasesExamined: storage.KindCount{All: 4},
		CorruptShares:  []storage.ShareRef{{SI: si, Share: 3}},
		CorruptCount:   1,
		LeaseAgeDays:   map[int64]int64{0: 2, 3: 1},
		LeasesPerShare: map[int]int64{1: 2, 2: 1},
	}
	start := time.Unix(1700000000, 0)
	cutoff := time.Date(2009, 3, 18, 0, 0, 0, 0, time.UTC)
	expiry := storage.ExpiryConfig{Mode: storage.ExpireCutoffDate, CutoffDate: cutoff, KeepImmutable: true}
	st := &storage.Status{
		AvailableSpace: 1000, Buckets: 2, Shares: 3,
		Crawler: storage.CrawlerStatus{
			Expiry: expiry, InProgress: true, Cycle: 1, CycleStarted: start.Add(time.Hour),
			PrefixesDone: 512, PercentDone: 50, LastCompletePrefix: "mz", TimeLeft: time.Minute, CycleTime: 2 * time.Minute,
			Sleeping: true, NextWork: start.Add(2*time.Hour + 5*time.Second), SoFar: counts,
			History: []storage.CycleResult{{Cycle: 0, Started: start, Finished: start.Add(time.Minute), Expiry: expiry, Counts: counts}},
		},
	}
	b, err := json.Marshal(storageJSON(st, start.Add(2*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	lc := got["lease-checker"]
	for _, k := range []string{"version", "last-cycle-finished", "current-cycle", "last-complete-prefix", "last-complete-bucket",
		"current-cycle-start-time", "cycle-to-date", "estimated-remaining-cycle", "estimated-current-cycle", "history"} {
		if _, ok := lc[k]; !ok {
			t.Errorf("lease-checker has no %q", k)
		}
	}
	if lc["last-cycle-finished"] != 0.0 || lc["current-cycle"] != 1.0 || lc["last-complete-prefix"] != "mz" || lc["current-cycle-start-time"] != 1700003600.0 {
		t.Errorf("lease-checker %v", lc)
	}
	hist := lc["history"].(map[string]any)["0"].(map[string]any)
	so := lc["cycle-to-date"].(map[string]any)
	for _, d := range []map[string]any{hist, so} {
		for _, k := range []string{"expiration-enabled", "configured-expiration-mode", "lease-age-histogram",
			"leases-per-share-histogram", "corrupt-shares", "space-recovered"} {
			if _, ok := d[k]; !ok {
				t.Errorf("no %q in %v", k, d)
			}
		}
		mode, _ := json.Marshal(d["configured-expiration-mode"])
		if string(mode) != `["cutoff-date",null,1237334400,["mutable"]]` {
			t.Errorf("configured-expiration-mode %s", mode)
		}
		ages, _ := json.Marshal(d["lease-age-histogram"])
		if string(ages) != `[[0,86400,2],[259200,345600,1]]` {
			t.Errorf("lease-age-histogram %s", ages)
		}
		if c, _ := json.Marshal(d["corrupt-shares"]); string(c) != `[["`+si.String()+`",3]]` {
			t.Errorf("corrupt-shares %s", c)
		}
		per, _ := json.Marshal(d["leases-per-share-histogram"])
		if string(per) != `{"1":2,"2":1}` {
			t.Errorf("leases-per-share-histogram %s", per)
		}
		sr := d["space-recovered"].(map[string]any)
		if len(sr) != 48 || sr["examined-shares"] != 3.0 || sr["examined-buckets-mutable"] != 1.0 || sr["actual-diskbytes-immutable"] != 0.0 {
			t.Errorf("space-recovered %v", sr)
		}
	}
	if times, _ := json.Marshal(hist["cycle-start-finish-times"]); string(times) != "[1700000000,1700000060]" {
		t.Errorf("cycle-start-finish-times %s", times)
	}
	est := lc["estimated-current-cycle"].(map[string]any)["space-recovered"].(map[string]any)
	if est["examined-shares"] != 6.0 {
		t.Errorf("at 50%%, a whole cycle is estimated at %v shares, want 6", est["examined-shares"])
	}
	prog := got["lease-checker-progress"]
	if prog["cycle-in-progress"] != true || prog["cycle-complete-percentage"] != 50.0 || prog["estimated-cycle-complete-time-left"] != 60.0 ||
		prog["remaining-sleep-time"] != 5.0 || prog["estimated-time-per-cycle"] != 120.0 {
		t.Errorf("progress %v", prog)
	}
	if got["bucket-counter"]["last-complete-bucket-count"] != 2.0 || got["stats"]["storage_server.total_bucket_count"] != 2.0 {
		t.Errorf("bucket count: %v, %v", got["bucket-counter"], got["stats"])
	}

	// Between cycles, Tahoe shows neither cycle-to-date nor estimates.
	st.Crawler.InProgress = false
	b, _ = json.Marshal(storageJSON(st, start.Add(2*time.Hour)))
	got = nil
	json.Unmarshal(b, &got)
	for _, k := range []string{"cycle-to-date", "estimated-remaining-cycle", "estimated-current-cycle"} {
		if _, ok := got["lease-checker"][k]; ok {
			t.Errorf("%q between cycles", k)
		}
	}
	if p := got["lease-checker-progress"]; p["cycle-in-progress"] != false || p["remaining-wait-time"] != 5.0 || p["next-crawl-time"] != 1700007205.0 {
		t.Errorf("progress between cycles %v", p)
	}
}

// TestStoragePageConfigExpiry: tahoe.cfg's [storage] expire.* reach the
// server as its expiry rule, which the server accepts.
func TestStoragePageConfigExpiry(t *testing.T) {
	cases := []struct {
		cfg  string
		want storage.ExpiryConfig
	}{
		{"", storage.ExpiryConfig{Mode: storage.ExpireAge}},
		{"expire.enabled = true\nexpire.mode = age\nexpire.override_lease_duration = 60 days\nexpire.cutoff_date = 2020-01-01\n",
			storage.ExpiryConfig{Enabled: true, Mode: storage.ExpireAge, OverrideLeaseDuration: 60 * 24 * time.Hour}},
		{"expire.enabled = true\nexpire.mode = cutoff-date\nexpire.cutoff_date = 2009-03-18\nexpire.override_lease_duration = 2mo\nexpire.immutable = false\n",
			storage.ExpiryConfig{Enabled: true, Mode: storage.ExpireCutoffDate, CutoffDate: time.Unix(1237334400, 0).UTC(), KeepImmutable: true}},
		{"expire.mutable = False\n", storage.ExpiryConfig{Mode: storage.ExpireAge, KeepMutable: true}},
	}
	for _, c := range cases {
		cfg, err := ParseConfig("tahoe.cfg", []byte("[storage]\n"+c.cfg))
		if err != nil {
			t.Fatalf("%q: %v", c.cfg, err)
		}
		got := expiryConfig(cfg.Storage())
		if got.Enabled != c.want.Enabled || got.Mode != c.want.Mode || got.OverrideLeaseDuration != c.want.OverrideLeaseDuration ||
			!got.CutoffDate.Equal(c.want.CutoffDate) || got.KeepImmutable != c.want.KeepImmutable || got.KeepMutable != c.want.KeepMutable {
			t.Errorf("%q: %+v, want %+v", c.cfg, got, c.want)
		}
		if _, err := storage.New(mem.New(), storage.Config{Crawl: storage.CrawlConfig{Expiry: got}}); err != nil {
			t.Errorf("%q: the server refuses %+v: %v", c.cfg, got, err)
		}
	}
	for _, bad := range []struct{ text, key string }{
		{"expire.immutable = sometimes\n", "expire.immutable"},
		{"expire.mutable = 2\n", "expire.mutable"},
		{"expire.override_lease_duration = 60\n", "expire.override_lease_duration"},
		{"expire.cutoff_date = 2009-13-01\n", "expire.cutoff_date"},
	} {
		_, err := ParseConfig("tahoe.cfg", []byte("[storage]\n"+bad.text))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Key != bad.key || !strings.Contains(err.Error(), bad.key) {
			t.Errorf("%q: %v, want an error naming %s", bad.text, err, bad.key)
		}
	}
}

// TestQuarantineOnANode: a node's storage server checks the shares
// advisories name, and keeps the bad ones in storage/corrupt/.
func TestQuarantineOnANode(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, dir, _ := startStorageNode(t, ctx)
	var sink immutable.MemoryShares
	data := bytes.Repeat([]byte("abc"), 3000)
	if _, err := immutable.Encode(ctx, bytes.NewReader(data), uint64(len(data)), [16]byte{1}, lafs.Params{K: 1, Happy: 1, N: 2, SegmentSize: 4096}, &sink); err != nil {
		t.Fatal(err)
	}
	si, up := lafs.StorageIndex{0x42}, []byte("upload")
	ls := lafs.LeaseSecrets{Renew: lafs.Secret{1}, Cancel: lafs.Secret{2}}
	for sh := range lafs.ShareNum(2) {
		share := sink.Bytes(sh)
		if _, err := n.Storage.AllocateBuckets(ctx, si, ls, up, []lafs.ShareNum{sh}, uint64(len(share))); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Storage.WriteImmutable(ctx, si, sh, up, 0, share); err != nil {
			t.Fatal(err)
		}
	}
	// Damage a block of share 1 on disk.
	path := filepath.Join(dir, "storage", "shares", si.String()[:2], si.String(), "1")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("XYZ"), storage.ImmutableHeaderSize+0x30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for sh := range lafs.ShareNum(2) {
		if err := n.Storage.AdviseCorruptImmutable(ctx, si, sh, "bad block"); err != nil {
			t.Fatal(err)
		}
	}
	// The checks run in the background: wait for them.
	for {
		st, err := n.Storage.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Quarantine.ChecksPending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the advisories' checks never ended")
		case <-time.After(10 * time.Millisecond):
		}
	}
	if got, _ := n.Storage.ListImmutable(ctx, si); !slices.Equal(got, []lafs.ShareNum{0}) {
		t.Fatalf("after the advisories the node lists %v", got)
	}
	kept, err := filepath.Glob(filepath.Join(dir, "storage", QuarantineDirName, si.String(), "1.*"))
	if err != nil || len(kept) != 1 {
		t.Fatalf("quarantine holds %v, %v", kept, err)
	}
	advisories, _ := os.ReadDir(filepath.Join(dir, "storage", "corruption-advisories"))
	if len(advisories) != 2 {
		t.Errorf("%d advisories recorded, want 2", len(advisories))
	}
}
