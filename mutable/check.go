package mutable

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	// seen are the shares the servermap found good (key and signature
	// check out), whatever a verify found of them later: every version
	// that someone wrote, so that a repair never publishes an older one.
	seen []*remoteShare
	// unread are the shares a server listed whose start could not be read
	// (it failed, or was given up on, mid-way): no verdict on them.
	unread []missedShare
	// unverified are good shares whose verification could not finish (a
	// server failed mid-way, or another writer changed the share): not
	// counted good, not corrupt either. They stay in m.shares, so that a
	// publish replaces them in place.
	unverified map[*remoteShare]error
	// incompat are shares of a format this client does not know (their
	// err wraps ErrIncompatible): neither good nor bad, not advised.
	incompat []*remoteShare
	notes    []string // report lines beyond Tahoe's
}

// missedShare is a share a server listed that the check could not read.
type missedShare struct {
	server *lafs.Server
	shnum  lafs.ShareNum
	err    error
}

const (
	// perServerReads bounds the shares of one server read at once.
	perServerReads = 4
	// maxNamedPerServer bounds the shares of one server that a check
	// names in its result and report (bad, incompatible, unreadable), and
	// the bad ones it reports to the server; the others are counted in
	// one line, so that a server listing every share number costs a
	// bounded report.
	maxNamedPerServer = 16
)

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
		missed  []missedShare
		dropped int // share numbers listed that cannot exist
		listErr error
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
			a.found, a.missed, a.dropped, a.listErr = c.queryServer(qctx, s, rank)
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
		if a.dropped > 0 {
			c.note("%s listed %d share numbers of %d or more, which no share can have; they were not read",
				s.String(), a.dropped, lafs.MaxShares)
		}
		for i, ms := range a.missed {
			if context.Cause(qctx) == errLateServer && errors.Is(ms.err, context.Canceled) {
				a.missed[i].err = fmt.Errorf("%w: %w", context.DeadlineExceeded, errLateServer)
			}
		}
		c.unread = append(c.unread, a.missed...)
		noteCapped(c, a.missed, func(ms missedShare) string {
			return fmt.Sprintf("%s: reading share %d: %v", s.String(), ms.shnum, ms.err)
		}, func(ms missedShare) *lafs.Server { return ms.server }, "shares could not be read")
		for _, rs := range a.found {
			switch {
			case errors.Is(rs.err, ErrIncompatible):
				c.incompat = append(c.incompat, rs)
			case rs.err != nil:
				m.bad = append(m.bad, rs)
			default:
				m.shares = append(m.shares, rs)
			}
		}
	}
	c.seen = slices.Clone(m.shares)
	c.m = m
	return nil
}

// queryServer lists one server's shares and reads and checks the start
// of each, a few at a time. It returns the shares it could judge, those it
// could not read, the count of share numbers listed that no share can
// have (not read), and the error of the listing, if any.
func (c *checker) queryServer(ctx context.Context, s *lafs.Server, rank int) ([]*remoteShare, []missedShare, int, error) {
	lctx, cancel := c.ask(ctx)
	start := time.Now()
	shnums, err := s.Storage.ListMutable(lctx, c.f.si)
	cancel()
	if errors.Is(err, lafs.ErrNotExist) {
		return nil, nil, 0, nil
	}
	if err != nil {
		return nil, nil, 0, err
	}
	s.Latency.Observe(time.Since(start))
	slices.Sort(shnums)
	shnums = slices.Compact(shnums)
	dropped := 0
	if i := slices.IndexFunc(shnums, func(sh lafs.ShareNum) bool { return sh >= lafs.MaxShares }); i >= 0 {
		dropped, shnums = len(shnums)-i, shnums[:i]
	}
	found := make([]*remoteShare, len(shnums))
	errs := make([]error, len(shnums))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(perServerReads, len(shnums)) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(shnums); i = int(next.Add(1) - 1) {
				found[i], errs[i] = c.readHead(ctx, s, rank, shnums[i])
			}
		})
	}
	wg.Wait()
	var missed []missedShare
	for i, err := range errs {
		if err != nil {
			missed = append(missed, missedShare{server: s, shnum: shnums[i], err: err})
		}
	}
	return slices.DeleteFunc(found, func(rs *remoteShare) bool { return rs == nil }), missed, dropped, nil
}

// readHead reads the start of one share and judges it as the servermap
// does. It returns nil and no error for a share gone since it was listed,
// and an error when the share could not be judged.
func (c *checker) readHead(ctx context.Context, s *lafs.Server, rank int, sh lafs.ShareNum) (*remoteShare, error) {
	rctx, cancel := c.ask(ctx)
	defer cancel()
	head, err := s.Storage.ReadMutable(rctx, c.f.si, sh, 0, queryReadSize)
	if errors.Is(err, lafs.ErrNotExist) {
		return nil, nil // gone since it was listed
	}
	if err != nil {
		return nil, err
	}
	rs := &remoteShare{server: s, rank: rank, shnum: sh, head: head}
	if err := c.f.checkShare(rctx, rs, c.sigs); err != nil && !errors.Is(err, ErrBadShare) {
		return nil, err
	} else if err != nil {
		rs.err = err
	}
	return rs, nil
}

// addLeases adds or renews this client's lease on every server that holds
// shares of the file, good or bad, as Tahoe's check with add-lease does
// (and on those holding shares it could not read or does not know).
func (c *checker) addLeases(ctx context.Context) {
	var holders []*lafs.Server
	add := func(s *lafs.Server) {
		if !slices.Contains(holders, s) {
			holders = append(holders, s)
		}
	}
	for _, l := range [][]*remoteShare{c.m.shares, c.m.bad, c.incompat} {
		for _, rs := range l {
			add(rs.server)
		}
	}
	for _, ms := range c.unread {
		add(ms.server)
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

// adviseAll tells each bad share's server that the share is corrupt (the
// first maxNamedPerServer of each server), and waits (at most the timeout)
// for the servers to hear it.
func (c *checker) adviseAll(ctx context.Context) {
	named, _ := capPerServer(c.m.bad, shareServer)
	var wg sync.WaitGroup
	for _, rs := range named {
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

// noteCapped adds a report line for each item, at most maxNamedPerServer
// of each server, and a line counting the others of each server.
func noteCapped[T any](c *checker, items []T, line func(T) string, server func(T) *lafs.Server, what string) {
	named, more := capPerServer(items, server)
	for _, it := range named {
		c.notes = append(c.notes, line(it))
	}
	for _, m := range more {
		c.note("%s: %d more %s", m.server.String(), m.n, what)
	}
}

// serverCount is a count of things on one server.
type serverCount struct {
	server *lafs.Server
	n      int
}

// capPerServer keeps, in order, the first maxNamedPerServer items of each
// server, and counts the others of each server (in the order the servers
// are first met).
func capPerServer[T any](items []T, server func(T) *lafs.Server) (named []T, more []serverCount) {
	seen := map[*lafs.Server]int{}
	for _, it := range items {
		s := server(it)
		seen[s]++
		if seen[s] <= maxNamedPerServer {
			named = append(named, it)
			continue
		}
		if seen[s] == maxNamedPerServer+1 {
			more = append(more, serverCount{server: s})
		}
		for i := range more {
			if more[i].server == s {
				more[i].n++
			}
		}
	}
	return named, more
}

func shareServer(rs *remoteShare) *lafs.Server { return rs.server }
