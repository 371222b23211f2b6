package mutable

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
)

// The checker (Tahoe's mutable/checker.py). A check maps the file's shares
// on every server the grid lists for its storage index, without stopping
// early as a read does; with Verify it then reads every share of every
// version whole and checks every hash in it; its counts, labels, summary
// and report are those Tahoe's MutableChecker makes. A server that takes
// longer than the check's ServerTimeout to answer a question counts as not
// responding.

// defaultServerTimeout is the ServerTimeout of a check that sets none.
const defaultServerTimeout = 10 * time.Second

// Check checks the shares of the mutable file k names (a write, read or
// verify cap). With opt.Verify it also reads every share whole and checks
// its signature, hashes and blocks; bad shares are listed as corrupt and
// reported to their servers. With opt.AddLease it adds or renews this
// client's lease (derived from opts.LeaseSecret) wherever shares are
// found.
func Check(ctx context.Context, peers lafs.Peers, k cap.Cap, opts Options, opt lafs.CheckOptions) (*lafs.CheckResult, error) {
	c, err := newChecker(peers, k, opts, opt)
	if err != nil {
		return nil, err
	}
	return c.run(ctx)
}

// checker is one check of one file.
type checker struct {
	f       *File
	opt     lafs.CheckOptions
	timeout time.Duration // per question to a server
	sigs    *sigCache

	m         *serverMap
	responded map[*lafs.Server]bool
	// unverified are good shares whose verification could not finish (a
	// server failed mid-way): not counted good, not corrupt either. They
	// stay in m.shares, so that a publish replaces them in place.
	unverified map[*remoteShare]error
	notes      []string // report lines beyond Tahoe's
}

func newChecker(peers lafs.Peers, k cap.Cap, opts Options, opt lafs.CheckOptions) (*checker, error) {
	timeout := opt.ServerTimeout
	if timeout <= 0 {
		timeout = defaultServerTimeout
	}
	opts.QueryTimeout = timeout // also bounds a repair's reads and writes
	f, err := checkedFile(peers, k, opts)
	if err != nil {
		return nil, err
	}
	return &checker{f: f, opt: opt, timeout: timeout, sigs: &sigCache{ok: map[string]bool{}},
		responded: map[*lafs.Server]bool{}, unverified: map[*remoteShare]error{}}, nil
}

// checkedFile opens the file to check without asking the grid. A verify
// cap gives a File with no read key: enough to find and verify shares,
// not to decrypt them.
func checkedFile(peers lafs.Peers, k cap.Cap, opts Options) (*File, error) {
	if d, ok := k.(*cap.Dir); ok {
		k = d.File
	}
	if v, ok := k.(*cap.MutableVerifier); ok {
		return &File{peers: peers, opts: opts.withDefaults(), cap: v, format: v.Format, si: v.StorageIndex,
			fingerprint: v.Fingerprint, sem: make(chan struct{}, 1)}, nil
	}
	f, err := newFile(peers, k, opts)
	if err != nil {
		return nil, fmt.Errorf("mutable check: %w", err)
	}
	return f, nil
}

// run maps, verifies and leases, then makes the result.
func (c *checker) run(ctx context.Context) (*lafs.CheckResult, error) {
	if err := c.mapShares(ctx); err != nil {
		return nil, err
	}
	if c.opt.Verify {
		if err := c.verifyAll(ctx); err != nil {
			return nil, err
		}
	}
	var wg sync.WaitGroup
	if c.opt.AddLease {
		wg.Go(func() { c.addLeases(ctx) })
	}
	wg.Go(func() { c.adviseAll(ctx) })
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return c.result(), nil
}

// errLateServer is why a check stops waiting for a server that is late
// against the others.
var errLateServer = errors.New("late against the other servers")

// ask bounds one question to a server by the check's ServerTimeout.
func (c *checker) ask(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// mapShares asks every server for its shares of the file and checks each
// share's header, verification key and signature, as the servermap does,
// but waits for every server (up to the timeout) rather than for enough.
func (c *checker) mapShares(ctx context.Context) error {
	f := c.f
	m := &serverMap{si: f.si, servers: f.peers.ServersFor(f.si), failed: map[*lafs.Server]error{}}
	type answer struct {
		found   []*remoteShare
		listErr error
		errs    []error
	}
	answers := make([]answer, len(m.servers))
	// Once half the servers have answered, the others get queryLateFactor
	// times the median answer (at least queryLateMin) before they are
	// given up on: a frozen server costs a check seconds.
	qctx, giveUp := context.WithCancelCause(ctx)
	defer giveUp(nil)
	took := make(chan time.Duration, len(m.servers))
	var wg sync.WaitGroup
	for rank, s := range m.servers {
		wg.Go(func() {
			start := time.Now()
			a := &answers[rank]
			a.found, a.errs, a.listErr = c.queryServer(qctx, s, rank)
			took <- time.Since(start)
		})
	}
	var times []time.Duration
	var late <-chan time.Time
	for range m.servers {
		select {
		case d := <-took:
			times = append(times, d)
			if late == nil && 2*len(times) >= len(m.servers) && len(times) < len(m.servers) {
				late = time.After(max(queryLateMin, queryLateFactor*median(times)))
			}
		case <-late:
			giveUp(errLateServer)
			<-took
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for rank, s := range m.servers {
		a := answers[rank]
		if a.listErr != nil && context.Cause(qctx) == errLateServer && errors.Is(a.listErr, context.Canceled) {
			a.listErr = fmt.Errorf("%w: %w", context.DeadlineExceeded, errLateServer)
		}
		if a.listErr != nil {
			m.failed[s] = a.listErr
			if errors.Is(a.listErr, errLateServer) {
				s.Latency.Demote(demoteFor)
				c.note("%s did not answer in time (late against the other servers)", s.String())
			} else if errors.Is(a.listErr, context.DeadlineExceeded) {
				s.Latency.Demote(demoteFor)
				c.note("%s did not answer within %v", s.String(), c.timeout)
			} else {
				c.note("%s did not answer: %v", s.String(), a.listErr)
			}
			continue
		}
		c.responded[s] = true
		for _, err := range a.errs {
			c.note("%s: %v", s.String(), err)
		}
		for _, rs := range a.found {
			if rs.err != nil {
				m.bad = append(m.bad, rs)
			} else {
				m.shares = append(m.shares, rs)
			}
		}
	}
	c.m = m
	return nil
}

// queryServer lists one server's shares and reads and checks the start
// of each. It returns the shares it could judge, the errors of those it
// could not read, and the error of the listing, if any.
func (c *checker) queryServer(ctx context.Context, s *lafs.Server, rank int) ([]*remoteShare, []error, error) {
	lctx, cancel := c.ask(ctx)
	start := time.Now()
	shnums, err := s.Storage.ListMutable(lctx, c.f.si)
	cancel()
	if errors.Is(err, lafs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	s.Latency.Observe(time.Since(start))
	slices.Sort(shnums)
	shnums = slices.Compact(shnums)
	found := make([]*remoteShare, len(shnums))
	errs := make([]error, len(shnums))
	var wg sync.WaitGroup
	for i, sh := range shnums {
		wg.Go(func() {
			rctx, cancel := c.ask(ctx)
			defer cancel()
			head, err := s.Storage.ReadMutable(rctx, c.f.si, sh, 0, queryReadSize)
			if errors.Is(err, lafs.ErrNotExist) {
				return // gone since it was listed
			}
			if err != nil {
				errs[i] = fmt.Errorf("reading share %d: %w", sh, err)
				return
			}
			rs := &remoteShare{server: s, rank: rank, shnum: sh, head: head}
			if err := c.f.checkShare(rctx, rs, c.sigs); errors.Is(err, ErrBadShare) {
				rs.err = err
			} else if err != nil {
				errs[i] = fmt.Errorf("reading share %d: %w", sh, err)
				return
			}
			found[i] = rs
		})
	}
	wg.Wait()
	return slices.DeleteFunc(found, func(rs *remoteShare) bool { return rs == nil }),
		slices.DeleteFunc(errs, func(err error) bool { return err == nil }), nil
}

// addLeases adds or renews this client's lease on every server that holds
// shares of the file, good or bad, as Tahoe's check with add-lease does.
func (c *checker) addLeases(ctx context.Context) {
	var holders []*lafs.Server
	for _, l := range [][]*remoteShare{c.m.shares, c.m.bad} {
		for _, rs := range l {
			if !slices.Contains(holders, rs.server) {
				holders = append(holders, rs.server)
			}
		}
	}
	errs := make([]error, len(holders))
	var wg sync.WaitGroup
	for i, s := range holders {
		wg.Go(func() {
			lctx, cancel := c.ask(ctx)
			defer cancel()
			secrets := crypt.LeaseSecrets(c.f.opts.LeaseSecret, c.f.si, s.NodeID)
			errs[i] = s.Storage.AddOrRenewLease(lctx, c.f.si, secrets)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && ctx.Err() == nil {
			c.note("%s: adding a lease: %v", holders[i].String(), err)
		}
	}
}

// adviseAll tells each bad share's server that the share is corrupt, and
// waits (at most the timeout) for the servers to hear it.
func (c *checker) adviseAll(ctx context.Context) {
	var wg sync.WaitGroup
	for _, rs := range c.m.bad {
		wg.Go(func() {
			actx, cancel := c.ask(ctx)
			defer cancel()
			rs.server.Storage.AdviseCorruptMutable(actx, c.f.si, rs.shnum, rs.err.Error())
		})
	}
	wg.Wait()
}

// note adds a line to the report beyond Tahoe's.
func (c *checker) note(format string, args ...any) {
	c.notes = append(c.notes, fmt.Sprintf(format, args...))
}
