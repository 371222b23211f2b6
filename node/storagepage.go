package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/leasedb"
	"github.com/lafs/lafs/storage"
)

// The storage server status page, /storage on the web port (Tahoe's
// web/storage.py and storage_status.xhtml): the server's space, what its
// crawler is doing, and what the lease expirer found, in HTML or, with
// t=json, in the JSON Tahoe gives ({"stats", "bucket-counter",
// "lease-checker", "lease-checker-progress"}, keys named as Tahoe names
// them; what lafs adds has keys Tahoe does not use).

// storagePage serves /storage for a node, whether or not it runs a
// storage server.
type storagePage struct{ n *Node }

// withStoragePage routes /storage to the storage status page and every
// other path to h.
func withStoragePage(n *Node, h http.Handler) http.Handler {
	return &storageMux{web: h, page: storagePage{n}}
}

type storageMux struct {
	web  http.Handler
	page storagePage
}

func (m *storageMux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/storage" || r.URL.Path == "/storage/" {
		m.page.ServeHTTP(w, r)
		return
	}
	m.web.ServeHTTP(w, r)
}

// Close closes the web API handler, if it is an io.Closer.
func (m *storageMux) Close() error {
	if c, ok := m.web.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

func (p storagePage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	t := r.URL.Query().Get("t")
	if t == "" {
		t = "html"
	}
	var st *storage.Status
	if srv := p.n.Storage; srv != nil {
		s, err := srv.Status(r.Context())
		if err != nil {
			p.n.Log.Warn("storage status page", "err", err)
			http.Error(w, "the storage server's status is unavailable", http.StatusInternalServerError)
			return
		}
		st = &s
	}
	now := time.Now()
	be := p.backendInfo(r.Context())
	switch strings.ToUpper(t) {
	case "HTML":
		var buf bytes.Buffer
		d := p.htmlData(st, now)
		d.Backend = be.text()
		if err := storageTemplate.Execute(&buf, d); err != nil {
			p.n.Log.Warn("storage status page", "err", err)
			http.Error(w, "rendering the page failed", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		w.Write(buf.Bytes())
	case "JSON":
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", " ")
		doc := storageJSON(st, now)
		if st != nil {
			doc["lafs-backend"] = be.json()
		}
		if err := enc.Encode(doc); err != nil {
			http.Error(w, "encoding the status failed", http.StatusInternalServerError)
			return
		}
		h.Set("Content-Type", "text/plain")
		w.Write(buf.Bytes())
	default:
		http.Error(w, "Unknown t value: "+strconv.Quote(t), http.StatusBadRequest)
	}
}

// storageJSON is Tahoe's StorageStatus.render_JSON of st (nil: no storage
// server, where Tahoe has nothing to show either).
func storageJSON(st *storage.Status, now time.Time) map[string]any {
	if st == nil {
		return map[string]any{"stats": map[string]any{}, "bucket-counter": nil, "lease-checker": nil, "lease-checker-progress": nil}
	}
	return map[string]any{
		"stats":                  storageStats(st),
		"bucket-counter":         bucketCounterState(st),
		"lease-checker":          leaseCheckerState(st.Crawler, now),
		"lease-checker-progress": crawlerProgress(st.Crawler, now),
	}
}

// storageStats is Tahoe's StorageServer.get_stats, as far as lafs knows:
// the disk totals of statvfs are missing (as in Tahoe where it fails), and
// there are no latencies. lafs adds its own counts.
func storageStats(st *storage.Status) map[string]any {
	accepting := 0
	if !st.ReadOnly && st.AvailableSpace > 0 {
		accepting = 1
	}
	m := map[string]any{
		"storage_server.allocated":                  st.Allocated,
		"storage_server.reserved_space":             st.ReservedSpace,
		"storage_server.disk_avail":                 st.AvailableSpace,
		"storage_server.accepting_immutable_shares": accepting,
		"storage_server.corrupt_containers":         st.Stats.CorruptContainers,
		"storage_server.quarantined_shares":         st.Stats.QuarantinedShares,
	}
	if st.Buckets > 0 {
		m["storage_server.total_bucket_count"] = st.Buckets
	}
	return m
}

// unixSeconds is t as Tahoe's time.time(), or nil for the zero time.
func unixSeconds(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return float64(t.UnixNano()) / 1e9
}

// crawlerBase is the state every Tahoe crawler reports.
func crawlerBase(c storage.CrawlerStatus) map[string]any {
	m := map[string]any{
		"version":                  1,
		"last-cycle-finished":      nil,
		"current-cycle":            nil,
		"last-complete-prefix":     nil,
		"last-complete-bucket":     nil,
		"current-cycle-start-time": unixSeconds(c.CycleStarted),
	}
	if last, ok := c.LastCycle(); ok {
		m["last-cycle-finished"] = last.Cycle
	}
	if c.InProgress {
		m["current-cycle"] = c.Cycle
		if c.LastCompletePrefix != "" {
			m["last-complete-prefix"] = c.LastCompletePrefix
		}
	}
	return m
}

// bucketCounterState is Tahoe's BucketCountingCrawler state: lafs's one
// crawler counts the buckets as it goes.
func bucketCounterState(st *storage.Status) map[string]any {
	m := crawlerBase(st.Crawler)
	m["last-complete-bucket-count"] = nil
	if st.Buckets >= 0 {
		m["last-complete-bucket-count"] = st.Buckets
	}
	return m
}

// leaseCheckerState is Tahoe's LeaseCheckingCrawler.get_state.
func leaseCheckerState(c storage.CrawlerStatus, now time.Time) map[string]any {
	m := crawlerBase(c)
	history := map[string]any{}
	for _, h := range c.History {
		d := cycleJSON(h.Counts, h.Expiry)
		d["cycle-start-finish-times"] = []any{unixSeconds(h.Started), unixSeconds(h.Finished)}
		history[strconv.Itoa(h.Cycle)] = d
	}
	m["history"] = history
	if !c.InProgress {
		return m
	}
	m["cycle-to-date"] = cycleJSON(c.SoFar, c.Expiry)
	soFar := spaceRecovered(c.SoFar)
	remaining, whole := map[string]any{}, map[string]any{}
	pc := c.PercentDone / 100
	for k, v := range soFar {
		if pc > 0 {
			r := float64(v) * (1 - pc) / pc
			remaining[k], whole[k] = r, float64(v)+r
		} else {
			remaining[k], whole[k] = nil, nil
		}
	}
	m["estimated-remaining-cycle"] = map[string]any{"space-recovered": remaining}
	m["estimated-current-cycle"] = map[string]any{"space-recovered": whole}
	return m
}

// shareTypesExpired is Tahoe's sharetypes_to_expire.
func shareTypesExpired(e storage.ExpiryConfig) []string {
	out := []string{}
	if !e.KeepImmutable {
		out = append(out, "immutable")
	}
	if !e.KeepMutable {
		out = append(out, "mutable")
	}
	return out
}

// expiryMode is Tahoe's configured-expiration-mode: [mode, override
// seconds or null, cutoff date in seconds or null, share types].
func expiryMode(e storage.ExpiryConfig) []any {
	mode := string(e.Mode)
	if mode == "" {
		mode = string(storage.ExpireAge)
	}
	var override, cutoff any
	if mode == string(storage.ExpireAge) && e.OverrideLeaseDuration > 0 {
		override = int64(e.OverrideLeaseDuration / time.Second)
	}
	if mode == string(storage.ExpireCutoffDate) {
		cutoff = e.CutoffDate.Unix()
	}
	return []any{mode, override, cutoff, shareTypesExpired(e)}
}

// cycleJSON is a cycle-to-date or history entry.
func cycleJSON(cc storage.CycleCounts, e storage.ExpiryConfig) map[string]any {
	days := make([]int64, 0, len(cc.LeaseAgeDays))
	for d := range cc.LeaseAgeDays {
		days = append(days, d)
	}
	sort.Slice(days, func(i, j int) bool { return days[i] < days[j] })
	ages := [][3]int64{}
	for _, d := range days {
		ages = append(ages, [3]int64{d * 86400, (d + 1) * 86400, cc.LeaseAgeDays[d]})
	}
	perShare := map[string]int64{}
	for n, c := range cc.LeasesPerShare {
		perShare[strconv.Itoa(n)] = c
	}
	corrupt := cc.CorruptShares
	if corrupt == nil {
		corrupt = []storage.ShareRef{}
	}
	leases := map[string]int64{}
	for _, g := range []struct {
		name string
		c    storage.KindCount
	}{{"examined", cc.LeasesExamined}, {"configured", cc.LeasesExpired}, {"actual", cc.LeasesRemoved}} {
		leases[g.name+"-leases"] = g.c.All
		leases[g.name+"-leases-mutable"] = g.c.Mutable
		leases[g.name+"-leases-immutable"] = g.c.Immutable
	}
	return map[string]any{
		"expiration-enabled":         e.Enabled,
		"configured-expiration-mode": expiryMode(e),
		"lease-age-histogram":        ages,
		"leases-per-share-histogram": perShare,
		"corrupt-shares":             corrupt,
		"space-recovered":            spaceRecovered(cc),
		// lafs's own: leases looked at, expired and removed, and how
		// many corrupt shares there were in all.
		"lease-counts":        leases,
		"corrupt-share-count": cc.CorruptCount,
	}
}

// spaceRecovered is Tahoe's space-recovered dictionary.
func spaceRecovered(cc storage.CycleCounts) map[string]int64 {
	m := map[string]int64{}
	for _, g := range []struct {
		name string
		t    storage.KindTally
	}{{"actual", cc.Actual}, {"original", cc.Original}, {"configured", cc.Configured}, {"examined", cc.Examined}} {
		for _, k := range []struct {
			suffix string
			t      storage.Tally
		}{{"", g.t.All}, {"-mutable", g.t.Mutable}, {"-immutable", g.t.Immutable}} {
			m[g.name+"-buckets"+k.suffix] = k.t.Buckets
			m[g.name+"-shares"+k.suffix] = k.t.Shares
			m[g.name+"-sharebytes"+k.suffix] = k.t.ShareBytes
			m[g.name+"-diskbytes"+k.suffix] = k.t.DiskBytes
		}
	}
	return m
}

// seconds is d in seconds, or nil when negative (unknown).
func seconds(d time.Duration) any {
	if d < 0 {
		return nil
	}
	return d.Seconds()
}

// crawlerProgress is Tahoe's ShareCrawler.get_progress.
func crawlerProgress(c storage.CrawlerStatus, now time.Time) map[string]any {
	m := map[string]any{"estimated-time-per-cycle": seconds(c.CycleTime)}
	var wait any
	if c.Sleeping {
		wait = math.Max(0, c.NextWork.Sub(now).Seconds())
	}
	if c.InProgress {
		m["cycle-in-progress"] = true
		m["cycle-complete-percentage"] = c.PercentDone
		m["estimated-cycle-complete-time-left"] = seconds(c.TimeLeft)
		m["remaining-sleep-time"] = wait
		return m
	}
	m["cycle-in-progress"] = false
	m["next-crawl-time"] = nil
	if c.Sleeping {
		m["next-crawl-time"] = unixSeconds(c.NextWork)
	}
	m["remaining-wait-time"] = wait
	return m
}

// abbreviateSpace is Tahoe's abbreviate_space (SI units).
func abbreviateSpace(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"k", "M", "G", "T", "P"} {
		f /= 1000
		if f < 1000 {
			return fmt.Sprintf("%.2f %sB", f, u)
		}
	}
	return fmt.Sprintf("%.2f EB", f/1000)
}

// abbreviateTime is Tahoe's web abbreviate_time of a duration.
func abbreviateTime(d time.Duration) string {
	s := d.Seconds()
	plural := func(n float64, unit string) string {
		if int64(n) == 1 {
			return "1 " + unit
		}
		return fmt.Sprintf("%d %ss", int64(n), unit)
	}
	const hour, dayS = 3600.0, 86400.0
	switch {
	case s < 0.001:
		return fmt.Sprintf("%.0fus", s*1e6)
	case s < 0.01:
		return fmt.Sprintf("%.1fms", s*1000)
	case s < 1:
		return fmt.Sprintf("%.0fms", s*1000)
	case s < 10:
		return fmt.Sprintf("%.2fs", s)
	case s < 120:
		return plural(s, "second")
	case s < 3*hour:
		return plural(s/60, "minute")
	case s < 2*dayS:
		return plural(s/hour, "hour")
	case s < 60*dayS:
		return plural(s/dayS, "day")
	case s < 4*365*dayS:
		return plural(s/(30*dayS), "month")
	}
	return plural(s/(365*dayS), "year")
}

// storageHTML is what the HTML page shows.
type storageHTML struct {
	Running                     bool
	Nickname, NodeID            string
	Reserved, Available, Alloc  string
	Accepting                   string
	Buckets                     string
	Progress                    string
	ExpiryEnabled, ExpiryMode   string
	CurrentCycle                []string
	LastCycleSummary            string
	LastCycle                   []string
	CurrentCorrupt, LastCorrupt []string
	Quarantined, Corrupt        int
	Backend                     string
}

func (p storagePage) htmlData(st *storage.Status, now time.Time) storageHTML {
	d := storageHTML{Nickname: p.n.Config.Node().Nickname}
	if p.n.Identity != nil {
		d.NodeID = lafs.Base32(p.n.Identity.NodeID[:])
	}
	if st == nil {
		return d
	}
	c := st.Crawler
	space := func(n uint64) string { return fmt.Sprintf("%s (%d)", abbreviateSpace(n), n) }
	d.Running = true
	d.Reserved, d.Available, d.Alloc = space(st.ReservedSpace), space(st.AvailableSpace), space(st.Allocated)
	d.Accepting = "Yes"
	if st.ReadOnly || st.AvailableSpace == 0 {
		d.Accepting = "No"
	}
	d.Buckets = "Not computed yet"
	if st.Buckets >= 0 {
		d.Buckets = strconv.FormatInt(st.Buckets, 10)
	}
	d.Quarantined, d.Corrupt = st.Stats.QuarantinedShares, st.Stats.CorruptContainers
	d.Progress = progressText(c, now)

	e := c.Expiry
	d.ExpiryEnabled = "Disabled: scan-only mode, no leases will be removed"
	if e.Enabled {
		d.ExpiryEnabled = "Enabled: expired leases will be removed"
	}
	switch {
	case e.Mode == storage.ExpireCutoffDate:
		d.ExpiryMode = fmt.Sprintf("Leases created or last renewed before %s (%s) UTC will be considered expired.",
			e.CutoffDate.UTC().Format("2006-01-02"), e.CutoffDate.UTC().Format("02-Jan-2006"))
	case e.OverrideLeaseDuration > 0:
		d.ExpiryMode = fmt.Sprintf("Leases created or last renewed more than %s ago will be considered expired.", abbreviateTime(e.OverrideLeaseDuration))
	default:
		d.ExpiryMode = "Leases will expire naturally, probably 31 days after creation or renewal."
	}
	d.ExpiryMode += " The following sharetypes will be expired: " + strings.Join(shareTypesExpired(e), " ") + "."

	if c.InProgress {
		sr := c.SoFar
		d.CurrentCycle = []string{
			fmt.Sprintf("So far, this cycle has examined %d shares in %d buckets (%d mutable / %d immutable) (%s / %s)",
				sr.Examined.All.Shares, sr.Examined.All.Buckets, sr.Examined.Mutable.Buckets, sr.Examined.Immutable.Buckets,
				abbreviateSpace(uint64(sr.Examined.Mutable.DiskBytes)), abbreviateSpace(uint64(sr.Examined.Immutable.DiskBytes))),
			"and has recovered: " + recovered(sr.Actual),
		}
		if !e.Enabled {
			d.CurrentCycle = append(d.CurrentCycle, "If expiration were enabled, we would have recovered: "+recovered(sr.Configured)+" by now")
		}
		d.CurrentCycle = append(d.CurrentCycle, fmt.Sprintf("Leases examined: %d, expired: %d, removed: %d",
			sr.LeasesExamined.All, sr.LeasesExpired.All, sr.LeasesRemoved.All))
		d.CurrentCorrupt = corruptList(sr)
	}
	if last, ok := c.LastCycle(); ok {
		d.LastCycleSummary = fmt.Sprintf("Last complete cycle (which took %s and finished %s ago) recovered: %s",
			abbreviateTime(last.Finished.Sub(last.Started)), abbreviateTime(now.Sub(last.Finished)), recovered(last.Counts.Actual))
		d.LastCycle = []string{"and saw a total of " + recovered(last.Counts.Examined)}
		if !last.Expiry.Enabled {
			d.LastCycle = append(d.LastCycle, "but expiration was not enabled. If it had been, it would have recovered: "+recovered(last.Counts.Configured))
		}
		d.LastCycle = append(d.LastCycle, fmt.Sprintf("Leases examined: %d, expired: %d, removed: %d",
			last.Counts.LeasesExamined.All, last.Counts.LeasesExpired.All, last.Counts.LeasesRemoved.All))
		d.LastCorrupt = corruptList(last.Counts)
	}
	return d
}

// progressText is Tahoe's format_crawler_progress.
func progressText(c storage.CrawlerStatus, now time.Time) string {
	var b strings.Builder
	wait := time.Duration(0)
	if c.Sleeping {
		wait = max(0, c.NextWork.Sub(now))
	}
	if c.InProgress {
		fmt.Fprintf(&b, "Current crawl %.1f%% complete", c.PercentDone)
		if c.TimeLeft >= 0 {
			fmt.Fprintf(&b, " (ETA %ds)", int64(c.TimeLeft.Seconds()))
		}
		fmt.Fprintf(&b, " (next work in %s)", abbreviateTime(wait))
	} else {
		fmt.Fprintf(&b, "Next crawl in %s", abbreviateTime(wait))
	}
	if c.CycleTime >= 0 {
		fmt.Fprintf(&b, " (estimated cycle time %s)", abbreviateTime(c.CycleTime))
	}
	return b.String()
}

// recovered is Tahoe's format_recovered.
func recovered(t storage.KindTally) string {
	return fmt.Sprintf("%d shares, %d buckets (%d mutable / %d immutable), %s (%s / %s)",
		t.All.Shares, t.All.Buckets, t.Mutable.Buckets, t.Immutable.Buckets,
		abbreviateSpace(uint64(t.All.DiskBytes)), abbreviateSpace(uint64(t.Mutable.DiskBytes)), abbreviateSpace(uint64(t.Immutable.DiskBytes)))
}

func corruptList(cc storage.CycleCounts) []string {
	var out []string
	for _, r := range cc.CorruptShares {
		out = append(out, fmt.Sprintf("SI %s shnum %d", r.SI, r.Share))
	}
	if n := cc.CorruptCount - int64(len(cc.CorruptShares)); n > 0 {
		out = append(out, fmt.Sprintf("and %d more", n))
	}
	return out
}

var storageTemplate = template.Must(template.New("storage").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Tahoe-LAFS - Storage Server Status</title>
<link href="/tahoe.css" rel="stylesheet" type="text/css">
</head>
<body>
{{if .Running}}
<h1>Storage Server Status</h1>
<table class="storage_status">
<tr><td>Reserved space:</td><td>{{.Reserved}}</td></tr>
<tr><td>Space Available to Tahoe:</td><td>{{.Available}}</td></tr>
<tr><td>Allocated to uploads in progress:</td><td>{{.Alloc}}</td></tr>
</table>
<ul>
<li>Server Nickname: <span class="nickname mine">{{.Nickname}}</span></li>
{{if .Backend}}<li>Shares kept in: <span class="backend">{{.Backend}}</span></li>{{end}}
<li>Server Nodeid: <span class="nodeid mine data-chars">{{.NodeID}}</span></li>
<li>Accepting new shares: <span>{{.Accepting}}</span></li>
<li>Total buckets: <span>{{.Buckets}}</span> (the number of files and directories for which this server is holding a share)
<ul><li><span>{{.Progress}}</span></li></ul></li>
<li>Corrupt share containers found: {{.Corrupt}}; shares quarantined after failing their self-check: {{.Quarantined}}</li>
</ul>
<h2>Lease Expiration Crawler</h2>
<ul>
<li>Expiration <span>{{.ExpiryEnabled}}</span></li>
<li>{{.ExpiryMode}}</li>
<li>{{.Progress}}</li>
{{if .CurrentCycle}}<li>Current cycle:<ul>{{range .CurrentCycle}}<li>{{.}}</li>{{end}}{{if .CurrentCorrupt}}<li>Corrupt shares:<ul>{{range .CurrentCorrupt}}<li>{{.}}</li>{{end}}</ul></li>{{end}}</ul></li>{{end}}
{{if .LastCycleSummary}}<li>{{.LastCycleSummary}}<ul>{{range .LastCycle}}<li>{{.}}</li>{{end}}{{if .LastCorrupt}}<li>Corrupt shares:<ul>{{range .LastCorrupt}}<li>{{.}}</li>{{end}}</ul></li>{{end}}</ul></li>{{end}}
</ul>
<p>See this page <a href="?t=json">in JSON</a></p>
{{else}}
<h1>No Storage Server Running</h1>
{{end}}
</body>
</html>
`))

// backendInfo is what the status page shows of where the shares live.
type backendInfo struct {
	kind   string
	s3     S3Config
	stats  *leasedb.Stats
	errMsg string
}

func (p storagePage) backendInfo(ctx context.Context) backendInfo {
	sh := p.n.Shares
	if sh == nil {
		return backendInfo{}
	}
	bi := backendInfo{kind: sh.Kind, s3: sh.S3}
	if sh.Index != nil {
		st, err := sh.Index.Stats(ctx)
		if err != nil {
			p.n.Log.Warn("storage status page: the lease index", "err", err)
			bi.errMsg = "the lease index is unavailable"
		} else {
			bi.stats = &st
		}
	}
	return bi
}

// json is the page's "lafs-backend" object.
func (b backendInfo) json() map[string]any {
	m := map[string]any{"type": b.kind}
	if b.kind != BackendS3 {
		return m
	}
	m["bucket"], m["endpoint"], m["region"], m["prefix"] = b.s3.Bucket, b.s3.Endpoint, b.s3.Region, b.s3.Prefix
	if b.errMsg != "" {
		m["error"] = b.errMsg
	}
	if st := b.stats; st != nil {
		m["objects"] = map[string]any{
			"shares":                st.Shares,
			"mutable-shares":        st.MutableShares,
			"immutable-shares":      st.ImmutableShares,
			"unknown-shares":        st.UnknownShares,
			"bytes":                 st.Bytes,
			"leases":                st.Leases,
			"shares-without-record": st.SharesWithoutRecord,
		}
		m["lease-index"] = map[string]any{
			"last-rebuild":   unixSeconds(st.LastRebuild),
			"rebuild-reason": st.RebuildReason,
		}
	}
	return m
}

// text is the page's line about the backend.
func (b backendInfo) text() string {
	switch b.kind {
	case "":
		return ""
	case BackendS3:
	default:
		return "a local folder, in Tahoe's layout"
	}
	s := fmt.Sprintf("S3 bucket %s at %s", b.s3.Bucket, b.s3.Endpoint)
	if b.s3.Prefix != "" {
		s += fmt.Sprintf(" (keys under %s)", b.s3.Prefix)
	}
	if b.errMsg != "" {
		return s + "; " + b.errMsg
	}
	if st := b.stats; st != nil {
		s += fmt.Sprintf(": %d shares (%d mutable, %d immutable), %s, %d leases",
			st.Shares, st.MutableShares, st.ImmutableShares, abbreviateSpace(uint64(max(st.Bytes, 0))), st.Leases)
		if !st.LastRebuild.IsZero() {
			s += fmt.Sprintf("; lease index rebuilt from the bucket %s ago (%s)", abbreviateTime(time.Since(st.LastRebuild)), st.RebuildReason)
		}
	}
	return s
}
