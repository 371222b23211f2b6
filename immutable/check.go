package immutable

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
)

// The checker's timing. A server that does not answer within
// ServerTimeout counts as not responding; once most servers have
// answered, one that is late against them is given up on much sooner, so
// that a frozen server costs a check seconds, not Tahoe's minute.
const (
	defaultServerTimeout = 10 * time.Second
	checkLateFactor      = 8
	checkLateMin         = 2 * time.Second
	// verifyReadLen is how much of a share's blocks one verify request
	// reads.
	verifyReadLen = 1 << 20
	// verifyParallel bounds the shares verified at once, verifyPerServer
	// those of one server.
	verifyParallel  = 4
	verifyPerServer = 2
)

// Check checks the shares of the file v names on servers (the permuted
// list of its storage index). A plain check believes each server's list
// of the shares it holds; with opt.Verify every share is read whole and
// every hash in it checked against the cap, and each share that fails is
// reported to its server (advise corrupt). With opt.AddLease the client's
// lease (from leaseSecret) is added or renewed on every server that holds
// shares. opt.Repair is ignored (see CheckAndRepair).
//
// As in Tahoe, the file is healthy when all N shares are found good, and
// recoverable when k are. A server that does not answer in time counts
// as not responding; the check itself fails only when ctx ends.
func Check(ctx context.Context, servers []*lafs.Server, v *cap.CHKVerifier, leaseSecret []byte, opt lafs.CheckOptions) (*lafs.CheckResult, error) {
	_, r, err := newChecker(v, opt, leaseSecret).check(ctx, servers)
	return r, err
}

func newChecker(v *cap.CHKVerifier, opt lafs.CheckOptions, leaseSecret []byte) *checker {
	if opt.ServerTimeout <= 0 {
		opt.ServerTimeout = defaultServerTimeout
	}
	return &checker{v: v, opt: opt, leaseSecret: leaseSecret}
}

type checker struct {
	v           *cap.CHKVerifier
	opt         lafs.CheckOptions
	leaseSecret []byte
}

// serverAnswer is what one server told the checker.
type serverAnswer struct {
	server    *lafs.Server
	responded bool
	listed    []lafs.ShareNum
	good      []lafs.ShareNum
	corrupt   []lafs.ShareNum
	incompat  []lafs.ShareNum
	problems  []string
}

// check asks the servers and, with Verify, reads their shares; it returns
// what each server answered and the sum of it.
func (ck *checker) check(ctx context.Context, servers []*lafs.Server) ([]*serverAnswer, *lafs.CheckResult, error) {
	answers := ck.listAll(ctx, servers)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if ck.opt.Verify {
		ck.verifyAll(ctx, answers)
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
	} else {
		for _, a := range answers {
			a.good = a.listed
		}
	}
	return answers, ck.result(ck.v.StorageIndex, answers), nil
}

// listAll asks every server which shares it holds (adding leases first
// when asked), all at once, and gives up on servers that are late.
func (ck *checker) listAll(ctx context.Context, servers []*lafs.Server) []*serverAnswer {
	si := ck.v.StorageIndex
	answers := make([]*serverAnswer, len(servers))
	done := make(chan int, len(servers))
	qctx, cancel := context.WithTimeout(ctx, ck.opt.ServerTimeout)
	defer cancel()
	var mu sync.Mutex // guards answers[i] fields written after give-up
	for i, s := range servers {
		answers[i] = &serverAnswer{server: s}
		go func() {
			a := &serverAnswer{server: s}
			start := time.Now()
			if ck.opt.AddLease {
				err := s.Storage.AddOrRenewLease(qctx, si, crypt.LeaseSecrets(ck.leaseSecret, si, s.NodeID))
				if err != nil && !errors.Is(err, lafs.ErrNotExist) {
					a.problems = append(a.problems, fmt.Sprintf("adding a lease on %s: %v", s, err))
				}
			}
			have, err := s.Storage.ListImmutable(qctx, si)
			if err != nil {
				a.problems = append(a.problems, fmt.Sprintf("asking %s for shares: %v", s, err))
			} else {
				s.Latency.Observe(time.Since(start))
				a.responded = true
				a.listed = sortedUnique(have, ck.v.N)
			}
			mu.Lock()
			answers[i] = a
			mu.Unlock()
			done <- i
		}()
	}
	start := time.Now()
	var took []time.Duration
	var late <-chan time.Time
	for range servers {
		select {
		case <-done:
			took = append(took, time.Since(start))
			if late == nil && 2*len(took) >= len(servers) && len(took) < len(servers) {
				late = time.After(lateAfter(took))
			}
		case <-late:
			cancel()
			late = nil
		case <-qctx.Done():
			// Every server still asking answers promptly once its
			// context is cancelled.
		}
	}
	mu.Lock()
	defer mu.Unlock()
	out := slices.Clone(answers)
	for _, a := range out {
		if !a.responded && len(a.problems) == 0 {
			a.problems = append(a.problems, fmt.Sprintf("%s did not answer in time", a.server))
		}
	}
	return out
}

// lateAfter is how long to wait for the servers still asked once half
// have answered in the times took: checkLateFactor times their median,
// at least checkLateMin.
func lateAfter(took []time.Duration) time.Duration {
	s := slices.Clone(took)
	slices.Sort(s)
	d := checkLateFactor * s[len(s)/2]
	return max(d, checkLateMin)
}

// sortedUnique keeps the share numbers below n, sorted, once each (a
// server that lists more is lying about the rest).
func sortedUnique(shs []lafs.ShareNum, n int) []lafs.ShareNum {
	out := make([]lafs.ShareNum, 0, len(shs))
	for _, sh := range shs {
		if int(sh) < n {
			out = append(out, sh)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// verifyAll reads and checks every listed share.
func (ck *checker) verifyAll(ctx context.Context, answers []*serverAnswer) {
	type job struct {
		a  *serverAnswer
		sh lafs.ShareNum
	}
	var jobs []job
	perServer := map[*serverAnswer]chan struct{}{}
	for _, a := range answers {
		for _, sh := range a.listed {
			jobs = append(jobs, job{a, sh})
		}
		perServer[a] = make(chan struct{}, verifyPerServer)
	}
	lt := newLateTracker(len(jobs))
	stop := lt.watch(ctx)
	defer stop()
	var mu sync.Mutex
	sem := make(chan struct{}, verifyParallel)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			perServer[j.a] <- struct{}{}
			defer func() { <-perServer[j.a] }()
			s := &remoteShare{server: j.a.server, si: ck.v.StorageIndex, num: j.sh}
			vctx, done := lt.start(ctx)
			err := VerifyShare(vctx, ck.v, &timedShare{s, ck.opt.ServerTimeout})
			if late := done(); late && err != nil {
				err = fmt.Errorf("%w: %w", errLateShare, err)
			}
			kind := classify(err)
			mu.Lock()
			switch kind {
			case shareGood:
				j.a.good = append(j.a.good, j.sh)
			case shareCorrupt:
				j.a.corrupt = append(j.a.corrupt, j.sh)
			case shareIncompatible:
				j.a.incompat = append(j.a.incompat, j.sh)
			}
			if err != nil {
				j.a.problems = append(j.a.problems, fmt.Sprintf("share %d on %s: %v", j.sh, j.a.server, err))
			}
			mu.Unlock()
			if kind == shareCorrupt {
				actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ck.opt.ServerTimeout)
				s.AdviseCorrupt(actx, err.Error())
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, a := range answers {
		slices.Sort(a.good)
		slices.Sort(a.corrupt)
		slices.Sort(a.incompat)
	}
}

// errLateShare marks a share whose verify was given up on because it took
// far longer than the others' (the shares of a file are all one size).
var errLateShare = errors.New("verify given up: far slower than the other shares")

// lateTracker gives up on verifies that are late against the others: once
// half are done, one that has run checkLateFactor times their median (at
// least checkLateMin) is cancelled, so that a server that freezes or
// trickles after answering its listing costs a verify seconds.
type lateTracker struct {
	total int
	mu    sync.Mutex
	took  []time.Duration
	run   map[*lateRun]struct{}
}

type lateRun struct {
	began  time.Time
	cancel context.CancelFunc
	late   bool
}

func newLateTracker(total int) *lateTracker {
	return &lateTracker{total: total, run: map[*lateRun]struct{}{}}
}

// start begins one timed task; done ends it and says whether it was
// given up on as late.
func (lt *lateTracker) start(ctx context.Context) (context.Context, func() (late bool)) {
	ctx, cancel := context.WithCancel(ctx)
	r := &lateRun{began: time.Now(), cancel: cancel}
	lt.mu.Lock()
	lt.run[r] = struct{}{}
	lt.mu.Unlock()
	return ctx, func() bool {
		lt.mu.Lock()
		defer lt.mu.Unlock()
		delete(lt.run, r)
		if !r.late {
			lt.took = append(lt.took, time.Since(r.began))
		}
		cancel()
		return r.late
	}
}

// watch checks the running tasks a few times a second until stopped.
func (lt *lateTracker) watch(ctx context.Context) (stop func()) {
	ctx, stop = context.WithCancel(ctx)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				lt.giveUpLate()
			}
		}
	}()
	return stop
}

func (lt *lateTracker) giveUpLate() {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if 2*len(lt.took) < lt.total || len(lt.took) == 0 {
		return
	}
	limit := lateAfter(lt.took)
	for r := range lt.run {
		if !r.late && time.Since(r.began) > limit {
			r.late = true
			r.cancel()
		}
	}
}

type shareVerdict int

const (
	shareGood shareVerdict = iota
	shareCorrupt
	shareIncompatible
	shareUnread // the server failed or did not answer: no verdict
)

func classify(err error) shareVerdict {
	switch {
	case err == nil:
		return shareGood
	case errors.Is(err, ErrIncompatible):
		return shareIncompatible
	case errors.Is(err, ErrCorrupt), errors.Is(err, lafs.ErrCorruptContainer):
		return shareCorrupt
	}
	return shareUnread
}

// ErrIncompatible marks a share of a layout version this client does not
// know, perhaps of a later format: not known to be corrupt. Such errors
// wrap ErrCorrupt too (the share cannot be used); test for this one first.
var ErrIncompatible = errors.New("share of an unknown layout version")

// timedShare bounds each read of a share.
type timedShare struct {
	s       *remoteShare
	timeout time.Duration
}

func (t *timedShare) Num() lafs.ShareNum { return t.s.Num() }

func (t *timedShare) ReadAt(ctx context.Context, off uint64, n int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	return t.s.ReadAt(ctx, off, n)
}

// VerifyShare reads share s of the file v names whole and checks
// everything in it against the cap: the UEB against the cap's UEB hash,
// the crypttext hash tree against the UEB, the block hash tree through
// the share hash chain against the UEB's share root, and every block
// against the block hash tree. A share that fails gives an error wrapping ErrCorrupt; one the
// server could not read, the server's error.
func VerifyShare(ctx context.Context, v *cap.CHKVerifier, s Share) error {
	a, info, err := openShare(ctx, chkOf(v), s, nil)
	if err != nil {
		return err
	}
	g := info.geom
	if a.whole != nil {
		for i := 0; i < g.NumSegments; i++ {
			if _, err := a.readBlock(ctx, g, i); err != nil {
				return err
			}
		}
	} else {
		per := max(1, verifyReadLen/g.BlockSize)
		for first := 0; first < g.NumSegments; first += per {
			n := min(per, g.NumSegments-first)
			off := a.layout.Data + uint64(first)*uint64(g.BlockSize)
			length := (n-1)*g.BlockSize + g.BlockLen(first+n-1)
			b, err := readFull(ctx, a.share, off, length)
			if err != nil {
				return err
			}
			for i := first; i < first+n; i++ {
				at := (i - first) * g.BlockSize
				if crypt.BlockHash(b[at:at+g.BlockLen(i)]) != a.blockTree[len(a.blockTree)-a.blockTree.NumLeaves()+i] {
					return fmt.Errorf("%w: block %d fails its hash", ErrCorrupt, i)
				}
			}
		}
	}
	return nil
}

// result sums up the answers as Tahoe's immutable checker does.
func (ck *checker) result(si lafs.StorageIndex, answers []*serverAnswer) *lafs.CheckResult {
	v := ck.v
	r := &lafs.CheckResult{
		StorageIndex:   si,
		SharesNeeded:   v.K,
		SharesExpected: v.N,
		ShareMap:       map[string][]string{},
	}
	goodOn := map[lafs.ShareNum][]string{}
	holds := map[int][]int{}
	for i, a := range answers {
		if a.responded {
			r.ServersResponding = append(r.ServersResponding, a.server.ID)
		}
		if len(a.good) > 0 {
			r.GoodShareHosts++
		}
		for _, sh := range a.good {
			goodOn[sh] = append(goodOn[sh], a.server.ID)
			holds[i] = append(holds[i], int(sh))
		}
		for _, sh := range a.corrupt {
			r.Corrupt = append(r.Corrupt, lafs.ShareLocation{Server: a.server.ID, StorageIndex: si, Num: sh})
		}
		for _, sh := range a.incompat {
			r.Incompatible = append(r.Incompatible, lafs.ShareLocation{Server: a.server.ID, StorageIndex: si, Num: sh})
		}
		r.Report = append(r.Report, a.problems...)
	}
	for sh, ids := range goodOn {
		sort.Strings(ids)
		r.ShareMap[strconv.Itoa(int(sh))] = ids
	}
	r.GoodShares = len(goodOn)
	r.Happiness = Happiness(holds)
	r.Healthy = r.GoodShares >= v.N
	r.Recoverable = r.GoodShares >= v.K
	if r.Recoverable {
		r.RecoverableVersions = 1
	} else {
		r.UnrecoverableVersions = 1
	}
	if r.Healthy {
		r.Summary = "Healthy"
	} else {
		r.Summary = fmt.Sprintf("Not Healthy: %d shares (enc %d-of-%d)", r.GoodShares, v.K, v.N)
	}
	return r
}
