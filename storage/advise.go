package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/backend"
)

// AddOrRenewLease implements lafs.StorageServer (Tahoe's add_lease behind
// PUT /storage/v1/lease): on every share of si, immutable or mutable, the
// lease with this renew secret is renewed to now + 31 days, or a new one
// (owner 1) is added. ErrNotExist when si has no shares; ErrNoSpace when a
// new lease needs room the server does not have (it has none when
// read-only), as in Tahoe. Shares whose containers are corrupt are passed
// over (Tahoe fails there); when there is no other, the answer is
// lafs.ErrCorruptContainer.
func (s *Server) AddOrRenewLease(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets) (err error) {
	defer s.counters.leaseDone(s.counters.clock(), &err)
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock := s.locks.lock(si)
	defer unlock()
	all, err := s.b.List(ctx, si)
	if err != nil {
		return s.backendErrf(err, "listing the shares of storage index %v", si)
	}
	now := s.now()
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return err
	}
	found := false
	var corrupt error // the first corrupt share's error
	for _, sh := range all {
		k := backend.Key{SI: si, Share: sh}
		kind, err := s.shareKindOf(ctx, k)
		if kind != kindCorrupt && err == nil {
			switch kind {
			case kindImmutable:
				err = s.renewImmutable(ctx, k, OwnerClient, lease, now, avail)
			case kindMutable:
				var m *mshare
				switch m, err = s.openMutable(ctx, k); {
				case err != nil:
				case s.leasesOutside():
					err = s.addOrRenewStored(ctx, k, kindMutable, m.size, newLease(OwnerClient, lease, expirationFrom(now), s.cfg.NodeID, true))
				default:
					err = m.addOrRenewLease(ctx, lease, expirationFrom(now), s.cfg.NodeID, avail)
				}
			default:
				continue
			}
		}
		if errors.Is(err, lafs.ErrCorruptContainer) {
			if corrupt == nil {
				corrupt = err
			}
			continue
		}
		if err != nil {
			return err
		}
		found = true
	}
	switch {
	case found:
		return nil
	case corrupt != nil:
		return corrupt
	}
	return fmt.Errorf("%w: no shares of storage index %v", lafs.ErrNotExist, si)
}

// maxReasonLen is the longest corruption reason the HTTP protocol carries
// (tstr .size (1..32765)).
const maxReasonLen = 32765

// AdviseCorruptImmutable implements lafs.StorageServer; see adviseCorrupt.
func (s *Server) AdviseCorruptImmutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	return s.adviseCorrupt(ctx, "immutable", kindImmutable, si, shnum, reason)
}

// AdviseCorruptMutable implements lafs.StorageServer; see adviseCorrupt.
func (s *Server) AdviseCorruptMutable(ctx context.Context, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	return s.adviseCorrupt(ctx, "mutable", kindMutable, si, shnum, reason)
}

// adviseCorrupt is Tahoe's advise_corrupt_share: ErrNotExist for a share
// the server does not hold (the HTTP server's 404), else the claim is
// logged and, when Config.AdvisoryDir is set and there is room, written to
// a file of its own named "<UTC time>--<si>-<shnum>", colons removed.
//
// Then, beyond Tahoe, when Config.VerifyShare is set the share is queued
// to be checked, and quarantined if it fails (quarantine.go), after the
// answer: the caller never waits for the check. With a verifier, an
// advisory also reaches a file under the share's name that is no
// container at all (of either kind).
func (s *Server) adviseCorrupt(ctx context.Context, shareType string, want shareKind, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := backend.Key{SI: si, Share: shnum}
	unlock := s.locks.rlock(si)
	kind, err := s.shareKindOf(ctx, k)
	unlock()
	if err != nil && kind != kindCorrupt {
		return err
	}
	if kind != want && (kind != kindCorrupt || s.cfg.VerifyShare == nil) {
		return fmt.Errorf("%w: no %s to advise about", lafs.ErrNotExist, shareName(want, k))
	}
	if len(reason) == 0 || len(reason) > maxReasonLen {
		return fmt.Errorf("%w: corruption reason of %d bytes (1 to %d)", lafs.ErrBadRequest, len(reason), maxReasonLen)
	}
	s.log.Error("client claims corruption", "type", shareType, "si", si, "share", shnum, "reason", reason)
	if err := s.recordAdvisory(ctx, shareType, want, k, reason); err != nil {
		return err
	}
	if s.cfg.VerifyShare != nil {
		s.queueCheck(want, k)
	}
	return nil
}

// The checks of advised shares run in the background, in the order the
// advisories came, at most checkWorkers at a time, each under the
// server's own context, which Close cancels before it waits for them. An
// advisory for a share already waiting or under way adds nothing; the
// queue holds at most maxQueuedChecks; and the advisories of one storage
// index start at most checksPerSIBurst checks at once, then one per
// checkSIRefill. What does not fit is logged and dropped: the share stays
// in service, and the next advisory may find room.
const (
	checkWorkers     = 1
	maxQueuedChecks  = 128
	checksPerSIBurst = 8
	checkSIRefill    = time.Minute
	// maxCheckBudgets bounds the storage indexes whose budget is
	// remembered; full budgets are forgotten first.
	maxCheckBudgets = 4096
)

// checkQueue is the queue of advisory checks (see above).
type checkQueue struct {
	mu      sync.Mutex
	changed *sync.Cond // broadcast when a check ends or the queue stops
	jobs    []checkJob // waiting, oldest first
	queued  map[backend.Key]bool
	running int
	budgets map[lafs.StorageIndex]*checkBudget
	stopped bool
	ctx     context.Context // cancelled by stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// checkJob is an advisory to check.
type checkJob struct {
	k    backend.Key
	want shareKind
}

// checkBudget is a storage index's token bucket of checks.
type checkBudget struct {
	tokens float64
	at     time.Time
}

func (q *checkQueue) init() {
	q.changed = sync.NewCond(&q.mu)
	q.queued = make(map[backend.Key]bool)
	q.budgets = make(map[lafs.StorageIndex]*checkBudget)
	q.ctx, q.cancel = context.WithCancel(context.Background())
}

// pending returns how many checks wait or are under way.
func (q *checkQueue) pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.queued)
}

// stop drops the checks waiting, cancels the one under way and waits for
// it to end. Later advisories are not checked.
func (q *checkQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	for _, j := range q.jobs {
		delete(q.queued, j.k)
	}
	q.jobs = nil
	q.changed.Broadcast()
	q.mu.Unlock()
	q.cancel()
	q.wg.Wait()
}

// take spends one of si's checks, if it has one left, at now.
func (q *checkQueue) take(si lafs.StorageIndex, now time.Time) bool {
	b := q.budgets[si]
	if b == nil {
		if len(q.budgets) >= maxCheckBudgets {
			for k, o := range q.budgets {
				if o.refill(now) >= checksPerSIBurst {
					delete(q.budgets, k)
				}
			}
			if len(q.budgets) >= maxCheckBudgets {
				return false
			}
		}
		b = &checkBudget{tokens: checksPerSIBurst, at: now}
		q.budgets[si] = b
	}
	if b.refill(now) < 1 {
		return false
	}
	b.tokens--
	return true
}

// refill adds the checks earned since the last look and returns the
// tokens.
func (b *checkBudget) refill(now time.Time) float64 {
	if d := now.Sub(b.at); d > 0 {
		b.tokens = min(checksPerSIBurst, b.tokens+float64(d)/float64(checkSIRefill))
		b.at = now
	}
	return b.tokens
}

// queueCheck queues the check of share k, which an advisory says is of
// kind want, unless it is queued already or there is no room for it.
func (s *Server) queueCheck(want shareKind, k backend.Key) {
	q := &s.checks
	q.mu.Lock()
	defer q.mu.Unlock()
	var why string
	switch {
	case q.stopped:
		why = "the server is closed"
	case q.queued[k]:
		return
	case len(q.jobs) >= maxQueuedChecks:
		why = "too many checks are waiting"
	case !q.take(k.SI, s.now()):
		why = "too many advisories for this storage index"
	}
	if why != "" {
		s.log.Warn("share reported corrupt not checked", "si", k.SI, "share", k.Share, "why", why)
		return
	}
	q.jobs = append(q.jobs, checkJob{k, want})
	q.queued[k] = true
	if q.running < checkWorkers {
		q.running++
		q.wg.Add(1)
		go s.runChecks()
	}
}

// runChecks checks advised shares until the queue is empty or stopped.
func (s *Server) runChecks() {
	q := &s.checks
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if len(q.jobs) == 0 || q.stopped {
			q.running--
			q.changed.Broadcast()
			q.mu.Unlock()
			return
		}
		j := q.jobs[0]
		q.jobs = q.jobs[1:]
		q.mu.Unlock()

		s.checkAdvised(q.ctx, j.want, j.k)

		q.mu.Lock()
		delete(q.queued, j.k)
		q.changed.Broadcast()
		q.mu.Unlock()
	}
}

// waitChecks returns once no advisory check waits or is under way (for
// tests).
func (s *Server) waitChecks() {
	q := &s.checks
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.queued) > 0 {
		q.changed.Wait()
	}
}

// recordAdvisory writes the advisory to Config.AdvisoryDir, if set and
// there is room.
func (s *Server) recordAdvisory(ctx context.Context, shareType string, want shareKind, k backend.Key, reason string) error {
	if s.cfg.AdvisoryDir == "" {
		return nil
	}
	report := CorruptionReport(shareType, k.SI, k.Share, reason)
	avail, err := s.availableSpace(ctx)
	if err != nil {
		return err
	}
	if uint64(len(report)) > avail {
		s.log.Warn("no room to record a corruption advisory", "si", k.SI, "share", k.Share)
		return nil
	}
	path := filepath.Join(s.cfg.AdvisoryDir, CorruptionReportName(s.now(), k.SI, k.Share))
	if err := os.WriteFile(path, []byte(report), 0o600); err != nil {
		return s.backendErrf(err, "recording a corruption advisory for %s", shareName(want, k))
	}
	return nil
}

// CorruptionReport renders an advisory as Tahoe's CORRUPTION_REPORT_FORMAT
// does; shareType is "immutable" or "mutable".
func CorruptionReport(shareType string, si lafs.StorageIndex, shnum lafs.ShareNum, reason string) string {
	return fmt.Sprintf("report: Share Corruption\ntype: %s\nstorage_index: %s\nshare_number: %d\n\n%s\n\n", shareType, si, shnum, reason)
}

// CorruptionReportName is the file name Tahoe gives an advisory:
// iso_utc(now, sep="T") + "--" + si + "-" + shnum, without colons (for
// Windows), such as "2024-05-01T120304.123456--<si>-3".
func CorruptionReportName(now time.Time, si lafs.StorageIndex, shnum lafs.ShareNum) string {
	now = now.UTC()
	ts := now.Format("2006-01-02T15:04:05")
	if us := now.Nanosecond() / 1000; us != 0 {
		ts += fmt.Sprintf(".%06d", us)
	}
	return strings.ReplaceAll(fmt.Sprintf("%s--%s-%d", ts, si, shnum), ":", "")
}
