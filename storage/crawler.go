package storage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// The share crawler (Tahoe's storage/crawler.py ShareCrawler, with the
// LeaseCheckingCrawler of expirer.py and the BucketCountingCrawler folded
// in): it walks every storage index the server holds, prefix by prefix,
// and hands each to the lease expirer (expirer.go). It works in slices
// and sleeps between them, so that it takes only a fraction of the
// server's time; it keeps its place in a state file, so that a restart
// goes on where it stopped; and it remembers the results of the last
// cycles for the status page.
//
// A backend that is a backend.PrefixWalker (disk and mem are) is read one
// prefix at a time, as Tahoe reads one prefix folder: the crawler holds
// the storage indexes of the prefix under way only, whatever the number
// the server holds. Another backend is walked whole once per cycle, and
// the storage indexes found (16 bytes each) are kept until the cycle
// ends. Either way a backend lists committed objects only, so an upload
// in progress is never touched.

// NumPrefixes is how many prefixes a crawl cycle walks: the values of the
// first 10 bits of a storage index, the first two characters of its
// base32 name (Tahoe's prefix directories, shares/<prefix>/<si>).
const NumPrefixes = backend.NumPrefixes

// crawlPrefixes are the prefixes in the order a cycle takes them: as
// Tahoe's, sorted as strings.
var crawlPrefixes = backend.Prefixes()

// CrawlPace is how fast the crawler goes: it works for Slice, then sleeps
// long enough that working takes Fraction of its time (Tahoe's
// allowed_cpu_percentage and cpu_slice).
type CrawlPace struct {
	// Fraction of the time spent crawling, in (0, 1]; 0 means
	// DefaultCrawlPace's. At 1 it never sleeps between slices.
	Fraction float64
	// Slice is how long it works before sleeping; 0 means
	// DefaultCrawlPace's. It checks after each storage index and each
	// prefix, so a slice may run over by one storage index.
	Slice time.Duration
	// SlowStart is how long it waits before its first slice, so that a
	// starting node is not slowed down.
	SlowStart time.Duration
	// MinCycle is the least time from the start of one cycle to the start
	// of the next.
	MinCycle time.Duration
}

// DefaultCrawlPace is Tahoe's lease checker's: 10% of the time, one-second
// slices, a six-minute slow start and at most two cycles a day.
var DefaultCrawlPace = CrawlPace{Fraction: 0.10, Slice: time.Second, SlowStart: 6 * time.Minute, MinCycle: 12 * time.Hour}

// maxPause bounds the sleep between two slices of a cycle (Tahoe: 299 s).
const maxPause = 299 * time.Second

// errorPause is the least sleep after a slice that failed (the backend
// could not be walked), so that a lasting failure does not spin.
const errorPause = time.Minute

// CrawlConfig configures the crawler and the lease expirer it drives.
type CrawlConfig struct {
	// StateFile keeps the crawler's place and the last cycles' results
	// across restarts, replaced whole at each save; empty keeps them in
	// memory only. The format is lafs's own (JSON), not Tahoe's
	// lease_checker.state.
	StateFile string
	// Pace is how fast it goes; zero fields of Fraction and Slice take
	// DefaultCrawlPace's.
	Pace CrawlPace
	// Expiry is the lease expiry rule; the zero value only counts.
	Expiry ExpiryConfig
}

// historyLength is how many finished cycles are remembered (as Tahoe).
const historyLength = 10

// CycleResult is one finished crawl cycle.
type CycleResult struct {
	Cycle             int
	Started, Finished time.Time
	// Expiry is the rule the cycle applied.
	Expiry ExpiryConfig
	Counts CycleCounts
}

// CrawlerStatus is what the crawler is doing and has done.
type CrawlerStatus struct {
	// Running says a Crawl is running.
	Running bool
	// Expiry and Pace are the configuration.
	Expiry ExpiryConfig
	Pace   CrawlPace
	// InProgress says a cycle is under way (possibly asleep between
	// slices); else the crawler waits for the next one.
	InProgress bool
	// Cycle is the number of the cycle under way, or of the next one.
	Cycle int
	// CycleStarted is when the cycle under way began.
	CycleStarted time.Time
	// PrefixesDone is how many of the NumPrefixes the cycle has done,
	// PercentDone the same in percent, LastCompletePrefix the last one
	// ("" when none).
	PrefixesDone       int
	PercentDone        float64
	LastCompletePrefix string
	// TimeLeft is the estimated time to the end of the cycle, CycleTime
	// of a whole cycle; -1 when there is nothing to estimate from yet.
	TimeLeft, CycleTime time.Duration
	// Sleeping says the crawler sleeps until NextWork.
	Sleeping bool
	NextWork time.Time
	// SoFar is what the cycle under way found so far.
	SoFar CycleCounts
	// History holds the last cycles finished, oldest first.
	History []CycleResult
}

// LastCycle returns the last cycle finished, if any.
func (c CrawlerStatus) LastCycle() (CycleResult, bool) {
	if len(c.History) == 0 {
		return CycleResult{}, false
	}
	return c.History[len(c.History)-1], true
}

// crawlState is what the crawler keeps across restarts.
type crawlState struct {
	Version int `json:"version"`
	// LastCycleFinished is the number of the last cycle finished, -1 if
	// none; CurrentCycle that of the cycle under way, -1 between cycles.
	LastCycleFinished int       `json:"last-cycle-finished"`
	CurrentCycle      int       `json:"current-cycle"`
	CycleStarted      time.Time `json:"current-cycle-start-time"`
	// PrefixesDone counts the prefixes of crawlPrefixes done; of the next
	// one, the storage indexes up to LastBucket (base32) are done.
	PrefixesDone int           `json:"prefixes-done"`
	LastBucket   string        `json:"last-complete-bucket"`
	SoFar        CycleCounts   `json:"cycle-to-date"`
	History      []CycleResult `json:"history"`
}

const crawlStateVersion = 1

func freshCrawlState() crawlState {
	return crawlState{Version: crawlStateVersion, LastCycleFinished: -1, CurrentCycle: -1}
}

// valid reports whether a loaded state makes sense.
func (st *crawlState) valid() bool {
	return st.Version == crawlStateVersion && st.LastCycleFinished >= -1 && st.CurrentCycle >= -1 &&
		st.PrefixesDone >= 0 && st.PrefixesDone <= NumPrefixes
}

// crawlCounts are the crawler's counts since the server started.
type crawlCounts struct {
	cycles, sharesExamined, sharesDeleted, bytesDeleted, leasesRemoved atomic.Int64
}

// crawler is the running crawler of a Server.
type crawler struct {
	s   *Server
	cfg CrawlConfig

	mu      sync.Mutex
	st      crawlState
	running bool
	// sleepFrom and sleepFor describe the sleep under way, if any.
	sleepFrom time.Time
	sleepFor  time.Duration
	// resumedAt and resumedPrefixes mark where this process took up the
	// cycle, to estimate the time left.
	resumedAt       time.Time
	resumedPrefixes int
	// index holds the storage indexes of the cycle indexCycle by prefix,
	// for backends that are no backend.PrefixWalker.
	index      map[string][]lafs.StorageIndex
	indexCycle int
}

func newCrawler(s *Server, cfg CrawlConfig) (*crawler, error) {
	if err := cfg.Expiry.Validate(); err != nil {
		return nil, err
	}
	if cfg.Pace.Fraction < 0 || cfg.Pace.Fraction > 1 || cfg.Pace.Slice < 0 || cfg.Pace.SlowStart < 0 || cfg.Pace.MinCycle < 0 {
		return nil, fmt.Errorf("storage: crawl pace %+v out of range", cfg.Pace)
	}
	if cfg.Pace.Fraction == 0 {
		cfg.Pace.Fraction = DefaultCrawlPace.Fraction
	}
	if cfg.Pace.Slice == 0 {
		cfg.Pace.Slice = DefaultCrawlPace.Slice
	}
	c := &crawler{s: s, cfg: cfg, st: freshCrawlState()}
	c.load()
	return c, nil
}

// load reads the state file. One that is missing starts afresh; one that
// cannot be read or makes no sense too, after a warning (as Tahoe).
func (c *crawler) load() {
	if c.cfg.StateFile == "" {
		return
	}
	b, err := os.ReadFile(c.cfg.StateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	st := freshCrawlState()
	if err == nil {
		err = json.Unmarshal(b, &st)
		if err == nil && !st.valid() {
			err = errors.New("state out of range")
		}
	}
	if err != nil {
		c.s.log.Warn("lease checker: starting afresh: its state file is unreadable", "file", c.cfg.StateFile, "err", err)
		return
	}
	c.st = st
}

// save writes the state file, replacing it whole (a new file renamed over
// the old), and logs a failure: the crawler goes on.
func (c *crawler) save() {
	if c.cfg.StateFile == "" {
		return
	}
	c.mu.Lock()
	b, err := json.Marshal(&c.st)
	c.mu.Unlock()
	if err == nil {
		tmp := c.cfg.StateFile + ".tmp"
		if err = os.WriteFile(tmp, b, 0o600); err == nil {
			err = os.Rename(tmp, c.cfg.StateFile)
		}
	}
	if err != nil {
		c.s.log.Warn("lease checker: saving its state", "file", c.cfg.StateFile, "err", err)
	}
}

// Crawl runs the crawler and lease expirer until ctx is done: after
// Pace.SlowStart, cycle after cycle over every storage index, each cycle
// beginning at least Pace.MinCycle after the one before. It takes up a
// cycle a previous run left where that run stopped (Config.Crawl's state
// file). It returns nil once ctx is done, its state saved; an error only
// if another Crawl is running.
func (s *Server) Crawl(ctx context.Context) error {
	c := s.crawl
	c.mu.Lock()
	if c.running {
		c.mu.Unlock()
		return errors.New("storage: the crawler is already running")
	}
	c.running = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		c.save()
	}()
	if !c.sleep(ctx, c.cfg.Pace.SlowStart) {
		return nil
	}
	c.mu.Lock()
	c.resumedAt, c.resumedPrefixes = time.Now(), c.st.PrefixesDone
	c.mu.Unlock()
	for {
		start := time.Now()
		finished, err := c.slice(ctx, start)
		if ctx.Err() != nil {
			return nil
		}
		c.save()
		pause := c.pause(time.Since(start), finished)
		if err != nil {
			s.log.Warn("lease checker: crawling", "err", err)
			pause = max(pause, errorPause)
		}
		if !c.sleep(ctx, pause) {
			return nil
		}
	}
}

// pause is the sleep after a slice that took elapsed: enough to keep to
// Pace.Fraction, and after the end of a cycle enough to keep to
// Pace.MinCycle.
func (c *crawler) pause(elapsed time.Duration, finished bool) time.Duration {
	var d time.Duration
	if f := c.cfg.Pace.Fraction; f < 1 {
		d = time.Duration(float64(elapsed)/f) - elapsed
	}
	d = min(max(d, 0), maxPause)
	if finished {
		c.mu.Lock()
		last := c.st.History[len(c.st.History)-1]
		c.mu.Unlock()
		d = max(d, c.cfg.Pace.MinCycle-last.Finished.Sub(last.Started))
	}
	return d
}

// sleep waits d, reporting false if ctx ended first.
func (c *crawler) sleep(ctx context.Context, d time.Duration) bool {
	c.mu.Lock()
	c.sleepFrom, c.sleepFor = time.Now(), d
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.sleepFrom, c.sleepFor = time.Time{}, 0
		c.mu.Unlock()
	}()
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// slice works from where the crawler stands until Pace.Slice has passed
// since start (checked after each storage index and each prefix) or the
// cycle is over, beginning a cycle if none is under way. It reports
// whether it finished the cycle. Errors with one storage index are
// logged and passed over; an error is returned only when the backend
// cannot be walked or ctx is done.
func (c *crawler) slice(ctx context.Context, start time.Time) (bool, error) {
	c.mu.Lock()
	if c.st.CurrentCycle < 0 {
		c.st.CurrentCycle = c.st.LastCycleFinished + 1
		c.st.CycleStarted = c.s.now()
		c.st.PrefixesDone, c.st.LastBucket = 0, ""
		c.st.SoFar = CycleCounts{}
		c.resumedAt, c.resumedPrefixes = time.Now(), 0
	}
	cycle := c.st.CurrentCycle
	c.mu.Unlock()
	over := func() bool { return time.Since(start) >= c.cfg.Pace.Slice }
	for {
		c.mu.Lock()
		i, last := c.st.PrefixesDone, c.st.LastBucket
		c.mu.Unlock()
		if i == NumPrefixes {
			break
		}
		sis, err := c.bucketsOf(ctx, cycle, crawlPrefixes[i])
		if err != nil {
			return false, err
		}
		for _, si := range sis {
			name := si.String()
			if name <= last {
				continue
			}
			var found CycleCounts
			err := c.s.examineBucket(ctx, si, c.s.now(), c.cfg.Expiry, &found)
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			if err != nil {
				c.s.log.Warn("lease checker: passing over a storage index", "si", si, "err", err)
			}
			c.mu.Lock()
			c.st.SoFar.add(&found)
			c.st.LastBucket = name
			c.mu.Unlock()
			if over() {
				return false, nil
			}
		}
		c.mu.Lock()
		c.st.PrefixesDone++
		c.st.LastBucket = ""
		c.mu.Unlock()
		if over() && i+1 < NumPrefixes {
			return false, nil
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.st.History = append(c.st.History, CycleResult{
		Cycle: cycle, Started: c.st.CycleStarted, Finished: c.s.now(),
		Expiry: c.cfg.Expiry, Counts: c.st.SoFar.clone(),
	})
	if n := len(c.st.History); n > historyLength {
		c.st.History = slices.Clone(c.st.History[n-historyLength:])
	}
	c.st.LastCycleFinished, c.st.CurrentCycle = cycle, -1
	c.st.PrefixesDone, c.st.LastBucket = 0, ""
	c.st.SoFar = CycleCounts{}
	c.index = nil
	c.s.crawlCounts.cycles.Add(1)
	res := c.st.History[len(c.st.History)-1].Counts
	c.s.log.Info("lease checker: cycle finished", "cycle", cycle,
		"shares", res.Examined.All.Shares, "deleted", res.Actual.All.Shares, "would_delete", res.Configured.All.Shares,
		"leases_removed", res.LeasesRemoved.All, "corrupt", res.CorruptCount)
	return true, nil
}

// bucketsOf returns the storage indexes of a prefix in the order of their
// base32 names: from the backend's WalkPrefix if it has one, else from an
// index of the whole backend made by one Walk per cycle.
func (c *crawler) bucketsOf(ctx context.Context, cycle int, prefix string) ([]lafs.StorageIndex, error) {
	var sis []lafs.StorageIndex
	if pw, ok := c.s.b.(backend.PrefixWalker); ok {
		err := pw.WalkPrefix(ctx, prefix, func(si lafs.StorageIndex) error {
			sis = append(sis, si)
			return nil
		})
		if err != nil {
			return nil, c.s.backendErrf(err, "listing the storage indexes of prefix %s", prefix)
		}
	} else {
		c.mu.Lock()
		index := c.index
		if c.indexCycle != cycle {
			index = nil
		}
		c.mu.Unlock()
		if index == nil {
			index = map[string][]lafs.StorageIndex{}
			err := c.s.b.Walk(ctx, func(si lafs.StorageIndex) error {
				p := backend.Prefix(si)
				index[p] = append(index[p], si)
				return nil
			})
			if err != nil {
				return nil, c.s.backendErrf(err, "listing the storage indexes")
			}
			c.mu.Lock()
			c.index, c.indexCycle = index, cycle
			c.mu.Unlock()
		}
		sis = slices.Clone(index[prefix])
	}
	slices.SortFunc(sis, func(a, b lafs.StorageIndex) int { return cmp.Compare(a.String(), b.String()) })
	return slices.CompactFunc(sis, func(a, b lafs.StorageIndex) bool { return a == b }), nil
}

// status reports the crawler's state.
func (c *crawler) status() CrawlerStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &c.st
	cs := CrawlerStatus{
		Running:    c.running,
		Expiry:     c.cfg.Expiry,
		Pace:       c.cfg.Pace,
		InProgress: st.CurrentCycle >= 0,
		Cycle:      st.LastCycleFinished + 1,
		TimeLeft:   -1,
		CycleTime:  -1,
		History:    slices.Clone(st.History),
	}
	for i := range cs.History {
		cs.History[i].Counts = cs.History[i].Counts.clone()
	}
	if n := len(st.History); n > 0 {
		last := st.History[n-1]
		cs.CycleTime = last.Finished.Sub(last.Started)
	}
	if c.sleepFrom != (time.Time{}) {
		cs.Sleeping = true
		cs.NextWork = c.s.now().Add(c.sleepFor - time.Since(c.sleepFrom))
	}
	if !cs.InProgress {
		return cs
	}
	cs.Cycle = st.CurrentCycle
	cs.CycleStarted = st.CycleStarted
	cs.PrefixesDone = st.PrefixesDone
	cs.PercentDone = 100 * float64(st.PrefixesDone) / NumPrefixes
	if st.PrefixesDone > 0 {
		cs.LastCompletePrefix = crawlPrefixes[st.PrefixesDone-1]
	}
	cs.SoFar = st.SoFar.clone()
	if done := st.PrefixesDone - c.resumedPrefixes; done > 0 && !c.resumedAt.IsZero() {
		per := time.Since(c.resumedAt) / time.Duration(done)
		cs.TimeLeft = per * time.Duration(NumPrefixes-st.PrefixesDone)
		if cs.CycleTime < 0 {
			cs.CycleTime = per * NumPrefixes
		}
	}
	return cs
}

// MarshalJSON encodes a share as Tahoe lists corrupt shares:
// [storage index in base32, share number].
func (r ShareRef) MarshalJSON() ([]byte, error) {
	return json.Marshal([]any{r.SI.String(), r.Share})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (r *ShareRef) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("storage: a share is [storage index, number], got %d items", len(pair))
	}
	var si string
	if err := json.Unmarshal(pair[0], &si); err != nil {
		return err
	}
	var err error
	if r.SI, err = lafs.ParseStorageIndex(si); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &r.Share)
}
