package immutable

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
)

// ErrUnhappy means an upload could not place its shares on enough distinct
// servers to reach the servers-of-happiness it was asked for.
var ErrUnhappy = errors.New("upload unhappy")

// UploadOptions configure Upload.
type UploadOptions struct {
	Params lafs.Params
	// Convergence is the convergence secret; nil means a random key
	// (the same file uploaded twice then makes two different caps).
	Convergence []byte
	// Key, if set, is the file's convergent key for Convergence and
	// Params, computed already by the caller (with a KeyWriter); the
	// upload then reads the file only once, to encode it.
	Key *[16]byte
	// LeaseSecret is the client's lease secret (private/secret), from
	// which each server's lease renew and cancel secrets derive.
	LeaseSecret []byte
	// QueryTimeout bounds each server's answer to a share query or an
	// allocation (default 15 s, as Tahoe; negative: no bound here, as
	// when the servers' storage bounds each request itself). Servers much
	// slower than the others are given up on long before that.
	QueryTimeout time.Duration
	// BusyWait bounds how long an upload waits for shares that a server
	// neither accepts nor holds, as when another upload of the same file
	// is under way there, before it places them elsewhere (default 10 s;
	// negative: no wait).
	BusyWait time.Duration
	// Progress, if set, is called as plaintext is read and encoded.
	Progress func(done, total int64)
	// Recorder, if set, keeps the secrets of the shares being uploaded,
	// so that a client that crashes can abort them when it restarts.
	Recorder UploadRecorder
}

// UploadRecorder keeps the upload secrets of shares being uploaded, so that
// a client that dies mid-upload can abort them when it starts again
// (otherwise the servers keep them, and refuse the same shares to other
// uploads, until they give up on them half an hour later).
type UploadRecorder interface {
	// Started records that share sh of si is being uploaded to the
	// server under secret.
	Started(server string, si lafs.StorageIndex, sh lafs.ShareNum, secret lafs.UploadSecret)
	// Ended says that the upload of share sh of si to the server under
	// secret is complete or aborted (another upload's record of the same
	// share, under another secret, stays).
	Ended(server string, si lafs.StorageIndex, sh lafs.ShareNum, secret lafs.UploadSecret)
}

// UploadResult describes a finished upload.
type UploadResult struct {
	Cap          cap.Cap
	Happiness    int
	SharesPushed int // shares written now
	SharesExist  int // shares found already in place (and their leases renewed)
	Servers      map[lafs.ShareNum]string
	// Unplaced lists the shares that no server took: the file has fewer
	// than N shares (still happy enough), and a repair can add them.
	Unplaced []lafs.ShareNum
	// Problems says what went wrong with servers along the way.
	Problems []string
}

// Uploader stores immutable files. Uploads of the same file (the same
// storage index) at the same time share one upload. It is safe for
// concurrent use.
type Uploader struct {
	peers lafs.Peers
	mu    sync.Mutex
	calls map[lafs.StorageIndex]*uploadCall
}

type uploadCall struct {
	done chan struct{}
	res  *UploadResult
	err  error
}

// NewUploader returns an Uploader to the servers that peers gives.
func NewUploader(peers lafs.Peers) *Uploader {
	return &Uploader{peers: peers, calls: map[lafs.StorageIndex]*uploadCall{}}
}

// Upload stores the size bytes of r (read twice with a convergence secret:
// once for the key, once to encode) as a CHK file on servers, given in the
// permuted order for the file's storage index by peers, and returns its cap.
// Files of 55 bytes or fewer become LIT caps and touch no server. Shares
// already on servers are found and reused, so uploading the same file
// twice with the same convergence secret transfers nothing the second time.
func Upload(ctx context.Context, peers lafs.Peers, r io.ReaderAt, size int64, opt UploadOptions) (*UploadResult, error) {
	return (&Uploader{peers: peers}).Upload(ctx, r, size, opt)
}

// Upload is the package's Upload; while an upload of the same file is
// under way, it waits for that one and gives its result.
func (up *Uploader) Upload(ctx context.Context, r io.ReaderAt, size int64, opt UploadOptions) (*UploadResult, error) {
	if size <= LITThreshold {
		data := make([]byte, size)
		if _, err := r.ReadAt(data, 0); err != nil && !(errors.Is(err, io.EOF) && size == 0) {
			return nil, fmt.Errorf("reading file: %w", err)
		}
		return &UploadResult{Cap: LIT(data)}, nil
	}
	p := opt.Params
	if p.Happy == 0 {
		p.Happy = p.K
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var key [16]byte
	var err error
	if opt.Key != nil {
		key = *opt.Key
	} else if opt.Convergence != nil {
		key, err = ConvergentKey(io.NewSectionReader(r, 0, size), uint64(size), opt.Convergence, p)
	} else {
		key, err = RandomKey()
	}
	if err != nil {
		return nil, err
	}
	si := crypt.StorageIndexHash(key[:])
	for up.calls != nil {
		up.mu.Lock()
		c, busy := up.calls[si]
		if !busy {
			c = &uploadCall{done: make(chan struct{})}
			up.calls[si] = c
		}
		up.mu.Unlock()
		if !busy {
			defer func() {
				up.mu.Lock()
				delete(up.calls, si)
				up.mu.Unlock()
				close(c.done)
			}()
			c.res, c.err = up.upload(ctx, r, size, opt, p, key, si)
			return c.res, c.err
		}
		// The same convergent key: the same bytes, params and secret.
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if c.err == nil {
			return c.res, nil
		}
		// That upload failed; try ours.
	}
	return up.upload(ctx, r, size, opt, p, key, si)
}

func (up *Uploader) upload(ctx context.Context, r io.ReaderAt, size int64, opt UploadOptions, p lafs.Params, key [16]byte, si lafs.StorageIndex) (*UploadResult, error) {
	plan, err := NewPlan(uint64(size), p)
	if err != nil {
		return nil, err
	}
	u := newUploader(si, plan, opt, p, up.peers.ServersFor(si))
	if err := u.place(ctx); err != nil {
		u.abortAll()
		return nil, err
	}
	var src io.Reader = io.NewSectionReader(r, 0, size)
	if opt.Progress != nil {
		src = &progressReader{r: src, total: size, f: opt.Progress}
	}
	c, err := encode(ctx, src, plan, key, u)
	if err != nil {
		u.abortAll()
		return nil, err
	}
	return u.finish(c)
}

// bucket is one share being written to one server.
type bucket struct {
	server  *lafs.Server
	shnum   lafs.ShareNum
	secret  lafs.UploadSecret
	failed  error
	pending []byte // writes held back to go out together (see sendAt)
	pendOff uint64
}

// Upload timing: an allocation or a write that is late against what the
// other servers take is given up on, so that one frozen server costs an
// upload seconds, not the minute of a request timeout.
const (
	allocLateFactor = 8
	allocLateMin    = 2 * time.Second
	writeLateFactor = 10
	writeLateMin    = 3 * time.Second
	abortTimeout    = 30 * time.Second
	// writeBackstop, plus a second for every backstopRate bytes, bounds
	// any write.
	writeBackstop = 2 * time.Minute
	backstopRate  = 16 << 10
	// yieldWait bounds the wait for the aborts of an upload that lets
	// another upload of the same file go first.
	yieldWait = 2 * time.Second
)

// uploader places and writes the shares of one file. Servers are named by
// their index in cands, the first 2N servers of the permuted list.
type uploader struct {
	si     lafs.StorageIndex
	plan   Plan
	opt    UploadOptions
	params lafs.Params
	cands  []*lafs.Server

	secrets  []lafs.UploadSecret // each candidate's upload secret
	readOnly map[int]bool        // candidates that take no new shares
	problems []string            // why, per candidate
	existing map[int][]int       // shares each candidate is known to hold
	blocked  map[[2]int]bool     // {candidate, share}: neither taken nor held there
	waited   bool                // for shares under way elsewhere, once

	mu      sync.Mutex
	buckets map[int]*bucket      // share -> bucket being written
	exist   map[int]*lafs.Server // share -> server that already holds it
	rounds  map[uint64]*writeRound
	// failedBuckets counts the buckets given up on, which write no more.
	failedBuckets atomic.Int32
}

func newUploader(si lafs.StorageIndex, plan Plan, opt UploadOptions, p lafs.Params, all []*lafs.Server) *uploader {
	cands := all
	if len(cands) > 2*plan.Geometry.N {
		cands = cands[:2*plan.Geometry.N]
	}
	if opt.QueryTimeout == 0 {
		opt.QueryTimeout = 15 * time.Second
	}
	if opt.BusyWait == 0 {
		opt.BusyWait = 10 * time.Second
	}
	u := &uploader{si: si, plan: plan, opt: opt, params: p, cands: cands,
		secrets: make([]lafs.UploadSecret, len(cands)), readOnly: map[int]bool{}, problems: make([]string, len(cands)),
		existing: map[int][]int{}, blocked: map[[2]int]bool{},
		buckets: map[int]*bucket{}, exist: map[int]*lafs.Server{}}
	shareSize := plan.Layout.ShareSize()
	for i, s := range cands {
		u.secrets[i] = make([]byte, 32)
		rand.Read(u.secrets[i])
		if s.MaxImmutableShareSize != 0 && s.MaxImmutableShareSize < shareSize {
			u.readOnly[i] = true
			u.problems[i] = fmt.Sprintf("%s takes shares of at most %d bytes", s.String(), s.MaxImmutableShareSize)
		}
	}
	return u
}

// holds is what each candidate holds or will hold of the file now.
func (u *uploader) holds() map[int][]int {
	idx := map[*lafs.Server]int{}
	for i, s := range u.cands {
		idx[s] = i
	}
	h := map[int][]int{}
	for sh, b := range u.buckets {
		h[idx[b.server]] = append(h[idx[b.server]], sh)
	}
	for sh, s := range u.exist {
		h[idx[s]] = append(h[idx[s]], sh)
	}
	return h
}

// place finds where every share goes. Most uploads are of new files, so it
// first allocates at once, as if no server held a share, and learns of
// shares already there from the answers (the server lists every share of
// the file it holds); that saves a round of queries per file. Shares that
// a server neither takes nor holds (another upload of the file may be
// under way there) are asked for again for a while. If the placement is
// not happy, it does as Tahoe does: asks the candidates what they hold,
// computes the servers-of-happiness placement, allocates, and repeats
// without servers that decline, until the placement is happy or no server
// is left to try. Once it is happy, shares still without a home go to
// other servers, those that hold none first, so that the file keeps all N
// shares where it can.
func (u *uploader) place(ctx context.Context) error {
	if len(u.cands) == 0 {
		return fmt.Errorf("%w: no storage servers are connected (need %d for shares.happy)", ErrUnhappy, u.params.Happy)
	}
	if err := u.allocate(ctx); err != nil {
		return err
	}
	if Happiness(u.holds()) < u.params.Happy {
		if err := u.queryAll(ctx); err != nil {
			return err
		}
		for attempt := 0; attempt < len(u.cands) && Happiness(u.holds()) < u.params.Happy; attempt++ {
			before := u.refusals()
			if err := u.allocate(ctx); err != nil {
				return err
			}
			if u.refusals() == before {
				break // nothing new was learned: another round would do the same
			}
		}
	}
	if h := Happiness(u.holds()); h < u.params.Happy {
		u.abortAll().Wait()
		return u.unhappy(h)
	}
	u.rehome(ctx)
	return nil
}

// refusals counts what the upload learned that changes placement.
func (u *uploader) refusals() int {
	n := len(u.blocked)
	for _, ro := range u.readOnly {
		if ro {
			n++
		}
	}
	return n
}

// queryAll asks every candidate, in parallel, which shares it holds.
func (u *uploader) queryAll(ctx context.Context) error {
	g := u.plan.Geometry
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, s := range u.cands {
		wg.Go(func() {
			qctx, cancel := u.bound(ctx)
			defer cancel()
			have, err := s.Storage.ListImmutable(qctx, u.si)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				u.readOnly[i] = true
				u.problems[i] = fmt.Sprintf("%s did not answer: %v", s.String(), err)
				return
			}
			for _, sh := range have {
				if int(sh) < g.N {
					u.existing[i] = appendUnique(u.existing[i], int(sh))
				}
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// allocate places the shares that have no home yet, given what is known,
// allocates them, and waits a while for shares that servers neither take
// nor hold.
func (u *uploader) allocate(ctx context.Context) error {
	idx := make([]int, len(u.cands))
	for i := range idx {
		idx[i] = i
	}
	// What candidates hold, and what they will hold once this upload's
	// buckets are written, stays where it is.
	known := u.holds()
	for s, shares := range u.existing {
		for _, sh := range shares {
			known[s] = appendUnique(known[s], sh)
		}
	}
	placement := placeShares(idx, u.readOnly, u.plan.Geometry.N, known, u.isBlocked)
	byServer := map[int][]lafs.ShareNum{}
	for sh, s := range placement {
		if s >= 0 && u.buckets[sh] == nil && u.exist[sh] == nil {
			byServer[s] = append(byServer[s], lafs.ShareNum(sh))
		}
	}
	busy, err := u.ask(ctx, byServer)
	if err != nil {
		return err
	}
	return u.waitForBusy(ctx, busy)
}

func (u *uploader) isBlocked(s, sh int) bool { return u.blocked[[2]int{s, sh}] }

// allocAnswer is a candidate's answer to an allocation.
type allocAnswer struct {
	s   int
	res lafs.AllocateResult
	err error
}

// ask allocates the shares of byServer on their servers in parallel (a
// read-only server only gets its lease renewed on the shares it holds) and
// records the answers. A server that refuses, fails, or is late against
// the others is marked read-only with its problem. It returns, by server,
// the shares that were neither allocated nor found there.
func (u *uploader) ask(ctx context.Context, byServer map[int][]lafs.ShareNum) (busy map[int][]lafs.ShareNum, err error) {
	answers := make(chan allocAnswer, len(byServer))
	asked := map[int]bool{}
	start := time.Now()
	for s, shares := range byServer {
		slices.Sort(shares)
		if u.readOnly[s] {
			// Shares it already holds: renew the lease, write nothing.
			for _, sh := range shares {
				if slices.Contains(u.existing[s], int(sh)) {
					u.exist[int(sh)] = u.cands[s]
				}
			}
			go u.cands[s].Storage.AddOrRenewLease(context.WithoutCancel(ctx), u.si, u.lease(s))
			continue
		}
		asked[s] = true
		// Recorded before the server can allocate, so that a crash
		// leaves no allocation unrecorded.
		u.record(s, shares)
		go func() {
			actx, cancel := u.bound(ctx)
			defer cancel()
			res, err := u.cands[s].Storage.AllocateBuckets(actx, u.si, u.lease(s), u.secrets[s], shares, u.plan.Layout.ShareSize())
			if err == nil {
				u.cands[s].Latency.Observe(time.Since(start))
			}
			answers <- allocAnswer{s, res, err}
		}()
	}
	busy = map[int][]lafs.ShareNum{}
	var took []time.Duration
	var late <-chan time.Time
	for len(asked) > 0 {
		select {
		case a := <-answers:
			delete(asked, a.s)
			took = append(took, time.Since(start))
			if a.err != nil {
				u.refuse(a.s, fmt.Sprintf("%s refused the allocation: %v", u.cands[a.s].String(), a.err))
				u.abortUnknown(a.s, byServer[a.s])
				continue
			}
			if left := u.accept(a.s, byServer[a.s], a.res); len(left) > 0 {
				busy[a.s] = left
			}
			// Answers come in order, so took is sorted: its middle is
			// the median.
			late = time.After(time.Until(start.Add(max(allocLateMin, allocLateFactor*took[len(took)/2]))))
		case <-late:
			// The rest are late: give up on them, and abort whatever
			// they allocate when their answers come.
			for s := range asked {
				u.refuse(s, fmt.Sprintf("%s did not answer the allocation in %v (the others took at most %v)",
					u.cands[s].String(), time.Since(start).Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond)))
				u.cands[s].Latency.Demote(demoteFor)
			}
			u.abortLate(answers, len(asked), byServer)
			asked = nil
		case <-ctx.Done():
			u.abortLate(answers, len(asked), byServer)
			return nil, ctx.Err()
		}
	}
	return busy, ctx.Err()
}

// abortLate waits, in the background, for the n answers still to come to
// an ask that went on without them, and aborts whatever they allocated:
// the upload is not using those servers (or was cancelled).
func (u *uploader) abortLate(answers <-chan allocAnswer, n int, byServer map[int][]lafs.ShareNum) {
	go func() {
		for range n {
			a := <-answers
			if a.err != nil {
				u.abortUnknown(a.s, byServer[a.s])
				continue
			}
			var rest []lafs.ShareNum
			for _, sh := range byServer[a.s] {
				if slices.Contains(a.res.Allocated, sh) {
					u.abortShare(a.s, sh)
				} else {
					rest = append(rest, sh)
				}
			}
			u.unrecord(a.s, rest)
		}
	}()
}

// abortUnknown aborts shares asked of candidate s whose allocation failed
// without a clear answer (it may have been made), which also ends their
// record once the server says they are gone.
func (u *uploader) abortUnknown(s int, shares []lafs.ShareNum) {
	for _, sh := range shares {
		u.abortShare(s, sh)
	}
}

// bound returns ctx limited by QueryTimeout, unless that is negative.
func (u *uploader) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if u.opt.QueryTimeout < 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, u.opt.QueryTimeout)
}

func (u *uploader) lease(s int) lafs.LeaseSecrets {
	return crypt.LeaseSecrets(u.opt.LeaseSecret, u.si, u.cands[s].NodeID)
}

// refuse marks a candidate as taking no new shares.
func (u *uploader) refuse(s int, why string) {
	u.readOnly[s] = true
	u.problems[s] = why
}

// accept records an allocation answer from candidate s for the shares
// asked: those it holds complete, those it now awaits from this upload.
// It returns the shares it did neither for.
func (u *uploader) accept(s int, asked []lafs.ShareNum, res lafs.AllocateResult) (neither []lafs.ShareNum) {
	n := u.plan.Geometry.N
	var aborting []lafs.ShareNum
	got := map[lafs.ShareNum]bool{}
	for _, sh := range res.AlreadyHave {
		got[sh] = true
		if int(sh) < n {
			u.existing[s] = appendUnique(u.existing[s], int(sh))
			if u.exist[int(sh)] == nil && u.buckets[int(sh)] == nil {
				u.exist[int(sh)] = u.cands[s]
			}
		}
	}
	for _, sh := range res.Allocated {
		if got[sh] || int(sh) >= n {
			continue
		}
		got[sh] = true
		if u.buckets[int(sh)] != nil || u.exist[int(sh)] != nil {
			u.abortShare(s, sh) // which ends its record
			aborting = append(aborting, sh)
			continue
		}
		u.buckets[int(sh)] = &bucket{server: u.cands[s], shnum: sh, secret: u.secrets[s]}
	}
	var notOurs []lafs.ShareNum
	for _, sh := range asked {
		if b := u.buckets[int(sh)]; (b == nil || b.server != u.cands[s]) && !slices.Contains(aborting, sh) {
			notOurs = append(notOurs, sh)
		}
		if !got[sh] {
			neither = append(neither, sh)
		}
	}
	u.unrecord(s, notOurs)
	return neither
}

// record tells the Recorder that shares are being asked of candidate s.
func (u *uploader) record(s int, shares []lafs.ShareNum) {
	if u.opt.Recorder != nil {
		for _, sh := range shares {
			u.opt.Recorder.Started(u.cands[s].ID, u.si, sh, u.secrets[s])
		}
	}
}

// unrecord tells the Recorder that shares are not being uploaded to
// candidate s after all.
func (u *uploader) unrecord(s int, shares []lafs.ShareNum) {
	if u.opt.Recorder != nil {
		for _, sh := range shares {
			u.opt.Recorder.Ended(u.cands[s].ID, u.si, sh, u.secrets[s])
		}
	}
}

// waitForBusy deals with shares that servers neither took nor hold. A
// server without room for a share is marked read-only. Otherwise another
// upload of the same file is probably under way there, so the shares are
// asked for again, for up to BusyWait: when that upload ends they are
// found complete (or, if it was given up, allocated). That wait happens
// once per upload. What is still neither is blocked on that server, to be
// placed elsewhere.
func (u *uploader) waitForBusy(ctx context.Context, busy map[int][]lafs.ShareNum) error {
	if len(busy) == 0 {
		return nil
	}
	shareSize := u.plan.Layout.ShareSize()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s := range maps.Clone(busy) {
		wg.Go(func() {
			vctx, cancel := u.bound(ctx)
			defer cancel()
			v, err := u.cands[s].Storage.Version(vctx)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				u.refuse(s, fmt.Sprintf("%s neither took nor holds shares %v, and did not say why: %v", u.cands[s].String(), busy[s], err))
			case v.AvailableSpace < shareSize:
				u.refuse(s, fmt.Sprintf("%s has no room for a share of %d bytes (%d available)", u.cands[s].String(), shareSize, v.AvailableSpace))
			default:
				return
			}
			delete(busy, s)
		})
	}
	wg.Wait()
	if len(busy) == 0 {
		return nil
	}
	deadline := time.Now().Add(u.opt.BusyWait)
	if u.waited {
		deadline = time.Now()
	}
	// The upload that goes on asks for the shares again, to get them once
	// the others let go; the others only look for them to be complete.
	active := !u.waited && u.yield(busy)
	u.waited = true
	for pause := 250 * time.Millisecond; len(busy) > 0 && time.Now().Add(pause).Before(deadline); pause = min(2*pause, 2*time.Second) {
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return ctx.Err()
		}
		var err error
		if active {
			busy, err = u.ask(ctx, busy)
		} else {
			err = u.lookFor(ctx, busy)
		}
		if err != nil {
			return err
		}
	}
	for s, shares := range busy {
		for _, sh := range shares {
			u.blocked[[2]int{s, int(sh)}] = true
		}
		u.problems[s] = fmt.Sprintf("%s neither took nor holds shares %v (another upload of the file is under way there, or was abandoned)", u.cands[s].String(), shares)
	}
	return nil
}

// yield settles which of the uploads of one file going on at once goes
// first, when it got some of the shares and found others under way: the
// one that holds the lowest share number goes on, and it reports so. The
// others abort their buckets and wait for it to finish. Every upload of a
// file asks for every share number, so one holds share 0, and all but
// that one yield. An upload that got no share at all just waits.
func (u *uploader) yield(busy map[int][]lafs.ShareNum) (goOn bool) {
	if len(u.buckets) == 0 {
		return false
	}
	lowestBusy, lowestHeld := lafs.MaxShares, lafs.MaxShares
	for _, shares := range busy {
		for _, sh := range shares {
			lowestBusy = min(lowestBusy, int(sh))
		}
	}
	for sh := range u.buckets {
		lowestHeld = min(lowestHeld, sh)
	}
	if lowestHeld < lowestBusy {
		return true
	}
	idx := map[*lafs.Server]int{}
	for i, s := range u.cands {
		idx[s] = i
	}
	var wg sync.WaitGroup
	for sh, b := range u.buckets {
		busy[idx[b.server]] = append(busy[idx[b.server]], lafs.ShareNum(sh))
		wg.Go(func() { u.abortBucket(b).Wait() })
	}
	// The upload that goes on gets the shares sooner once they are let
	// go; a server that does not answer the abort is not waited for long.
	aborted := make(chan struct{})
	go func() { wg.Wait(); close(aborted) }()
	select {
	case <-aborted:
	case <-time.After(yieldWait):
	}
	u.buckets = map[int]*bucket{}
	return false
}

// lookFor asks the servers of busy which of the shares they hold complete
// now: those are found (and their leases renewed), the rest stay in busy.
func (u *uploader) lookFor(ctx context.Context, busy map[int][]lafs.ShareNum) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for s, shares := range maps.Clone(busy) {
		wg.Go(func() {
			qctx, cancel := u.bound(ctx)
			defer cancel()
			have, err := u.cands[s].Storage.ListImmutable(qctx, u.si)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			var left []lafs.ShareNum
			for _, sh := range shares {
				if !slices.Contains(have, sh) {
					left = append(left, sh)
					continue
				}
				u.existing[s] = appendUnique(u.existing[s], int(sh))
				if u.exist[int(sh)] == nil && u.buckets[int(sh)] == nil {
					u.exist[int(sh)] = u.cands[s]
				}
			}
			if len(left) < len(shares) {
				go u.cands[s].Storage.AddOrRenewLease(context.WithoutCancel(ctx), u.si, u.lease(s))
			}
			if len(left) == 0 {
				delete(busy, s)
			} else {
				busy[s] = left
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}

// rehome gives the shares that a happy placement left without a server
// to other candidates: first those that hold none of the file, one share
// each in permuted order, then (as Tahoe does) those that hold some, the
// least loaded first. A server that declines is marked; a share nobody
// takes stays without a home, and the result says so.
func (u *uploader) rehome(ctx context.Context) {
	for round := 0; round < 2; round++ {
		homeless := u.homeless()
		if len(homeless) == 0 {
			return
		}
		holds := u.holds()
		byServer := map[int][]lafs.ShareNum{}
		load := func(s int) int { return len(holds[s]) + len(byServer[s]) }
		for _, sh := range homeless {
			best := -1
			for s := range u.cands {
				if u.readOnly[s] || u.isBlocked(s, sh) || slices.Contains(byServer[s], lafs.ShareNum(sh)) {
					continue
				}
				if round == 0 && load(s) > 0 {
					continue // first round: servers holding nothing
				}
				if best < 0 || load(s) < load(best) {
					best = s
				}
			}
			if best >= 0 {
				byServer[best] = append(byServer[best], lafs.ShareNum(sh))
			}
		}
		busy, err := u.ask(ctx, byServer)
		if err != nil {
			return
		}
		for s, shares := range busy {
			for _, sh := range shares {
				u.blocked[[2]int{s, int(sh)}] = true
			}
		}
	}
}

// homeless lists the shares with neither a bucket nor a server holding them.
func (u *uploader) homeless() []int {
	var out []int
	for sh := 0; sh < u.plan.Geometry.N; sh++ {
		if u.buckets[sh] == nil && u.exist[sh] == nil {
			out = append(out, sh)
		}
	}
	return out
}

func appendUnique(s []int, v int) []int {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func (u *uploader) unhappy(h int) error {
	usable := 0
	for i := range u.cands {
		if !u.readOnly[i] {
			usable++
		}
	}
	msg := fmt.Sprintf("shares could be placed on only %d servers such that any %d of them have enough shares to recover the file, but we were asked to place shares on at least %d such servers (found %d servers, %d usable)",
		h, u.params.K, u.params.Happy, len(u.cands), usable)
	if why := u.problemList(); len(why) > 0 {
		msg += "; " + strings.Join(why, "; ")
	}
	return fmt.Errorf("%w: %s", ErrUnhappy, msg)
}

func (u *uploader) problemList() []string {
	var why []string
	for _, p := range u.problems {
		if p != "" {
			why = append(why, p)
		}
	}
	return why
}

// sendAt is how much share data a bucket gathers before it sends it: a
// few large writes cost the client and the server much less than many
// small ones, each a request. The encoder's writes (about a MiB of blocks)
// are larger and go as they are; smaller ones (those of other writers,
// the end of a share) are held back. A bucket holds at most this and one
// write.
const sendAt = 512 << 10

// WriteShare implements Sink: it sends share data to the server holding
// the share's bucket, gathering writes that follow each other into writes
// of sendAt bytes.
func (u *uploader) WriteShare(ctx context.Context, shnum lafs.ShareNum, off uint64, data []byte) error {
	u.mu.Lock()
	b := u.buckets[int(shnum)]
	u.mu.Unlock()
	if b == nil || b.failed != nil {
		return nil // already on a server, or given up on
	}
	if len(b.pending) > 0 && b.pendOff+uint64(len(b.pending)) != off {
		// Not contiguous: what is held goes first.
		err := u.send(ctx, b, b.pendOff, b.pending)
		b.pending = b.pending[:0]
		if err != nil {
			return nil
		}
	}
	last := off+uint64(len(data)) >= u.plan.Layout.ShareSize()
	if len(b.pending) == 0 && (len(data) >= sendAt || last) {
		u.send(ctx, b, off, data)
		return nil
	}
	if len(b.pending) == 0 {
		b.pendOff = off
		if b.pending == nil {
			// No more than the share still needs: a small file's
			// buckets hold small buffers.
			rest := u.plan.Layout.ShareSize() - off
			b.pending = make([]byte, 0, int(min(uint64(sendAt), rest))+len(data))
		}
	}
	b.pending = append(b.pending, data...)
	if len(b.pending) >= sendAt || last {
		u.send(ctx, b, b.pendOff, b.pending)
		b.pending = b.pending[:0]
	}
	return nil
}

// writeRound is the writes of the shares' data at one offset (one
// segment's blocks, or the header or the hashes), which go out together:
// each is judged against the others.
type writeRound struct {
	mu   sync.Mutex
	took []time.Duration // of the writes done
	left int             // writes not done
}

// round returns the round of the writes at off, with n writes expected.
func (u *uploader) round(off uint64, n int) *writeRound {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.rounds == nil {
		u.rounds = map[uint64]*writeRound{}
	}
	r := u.rounds[off]
	if r == nil {
		r = &writeRound{left: n}
		u.rounds[off] = r
	}
	return r
}

// finished records a write of the round at off that ended.
func (u *uploader) finished(off uint64, r *writeRound, took time.Duration, ok bool) {
	r.mu.Lock()
	if ok {
		r.took = append(r.took, took)
	}
	r.left--
	last := r.left <= 0
	r.mu.Unlock()
	if last {
		u.mu.Lock()
		delete(u.rounds, off)
		u.mu.Unlock()
	}
}

// late reports whether a write of the round that has taken elapsed is
// late: at least half of the round's writes are done, and it has taken
// writeLateFactor times their median (at least writeLateMin). A slow
// link, where every write is slow, makes none late.
func (r *writeRound) late(elapsed time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if elapsed < writeLateMin || len(r.took) < (len(r.took)+r.left+1)/2 {
		return false
	}
	ds := slices.Clone(r.took)
	slices.Sort(ds)
	return elapsed > writeLateFactor*ds[len(ds)/2]
}

// send writes to the server. A failure, or a write that is late against
// the same round's writes to the other servers, marks the bucket failed
// (the upload goes on and judges happiness at the end) rather than
// stopping everything.
func (u *uploader) send(ctx context.Context, b *bucket, off uint64, data []byte) error {
	u.mu.Lock()
	n := len(u.buckets) - int(u.failedBuckets.Load())
	u.mu.Unlock()
	r := u.round(off, n)
	// When every write is slow (a slow link), none is late: the request
	// timeouts of the connection, and this backstop, still bound them.
	wctx, cancel := context.WithTimeout(ctx, writeBackstop+time.Duration(len(data))*time.Second/backstopRate)
	defer cancel()
	start := time.Now()
	done := make(chan struct{})
	var gaveUp atomic.Bool
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if r.late(time.Since(start)) {
					gaveUp.Store(true)
					cancel()
					return
				}
			}
		}
	}()
	_, err := b.server.Storage.WriteImmutable(wctx, u.si, b.shnum, b.secret, off, data)
	close(done)
	took := time.Since(start)
	u.finished(off, r, took, err == nil)
	if err == nil {
		b.server.Latency.Observe(took)
		return nil
	}
	if ctx.Err() == nil {
		if gaveUp.Load() || wctx.Err() != nil {
			b.server.Latency.Demote(demoteFor)
			err = fmt.Errorf("no answer in %v, far longer than the other servers took: %w", took.Round(time.Millisecond), err)
		}
		b.failed = fmt.Errorf("%s: writing share %d: %w", b.server.String(), b.shnum, err)
		u.failedBuckets.Add(1)
		u.abortBucket(b)
	}
	return err
}

// abortBucket aborts the upload of a bucket in the background.
func (u *uploader) abortBucket(b *bucket) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), abortTimeout)
		defer cancel()
		err := b.server.Storage.AbortImmutable(ctx, u.si, b.shnum, b.secret)
		if u.opt.Recorder != nil && (err == nil || errors.Is(err, lafs.ErrNotExist)) {
			// Otherwise the record stays, for the client to try again
			// when it next starts.
			u.opt.Recorder.Ended(b.server.ID, u.si, b.shnum, b.secret)
		}
	})
	return &wg
}

// abortShare aborts share sh allocated on candidate s in the background.
func (u *uploader) abortShare(s int, sh lafs.ShareNum) {
	u.abortBucket(&bucket{server: u.cands[s], shnum: sh, secret: u.secrets[s]})
}

// abortAll aborts every bucket in the background; Wait on the result to
// know they are done.
func (u *uploader) abortAll() *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, b := range u.buckets {
		wg.Go(func() { u.abortBucket(b).Wait() })
	}
	return &wg
}

// finish checks that the shares written and found still make the upload
// happy and reports what happened.
func (u *uploader) finish(c *cap.CHK) (*UploadResult, error) {
	res := &UploadResult{Cap: c, Servers: map[lafs.ShareNum]string{}}
	holds := map[*lafs.Server][]int{}
	var failures []error
	for sh, b := range u.buckets {
		if len(b.pending) > 0 && b.failed == nil {
			u.send(context.Background(), b, b.pendOff, b.pending)
		}
		b.pending = nil
		if b.failed != nil {
			failures = append(failures, b.failed)
			res.Problems = append(res.Problems, b.failed.Error())
			continue
		}
		if u.opt.Recorder != nil {
			u.opt.Recorder.Ended(b.server.ID, u.si, b.shnum, b.secret)
		}
		res.SharesPushed++
		holds[b.server] = append(holds[b.server], sh)
		res.Servers[b.shnum] = b.server.ID
	}
	for sh, s := range u.exist {
		res.SharesExist++
		holds[s] = append(holds[s], sh)
		res.Servers[lafs.ShareNum(sh)] = s.ID
	}
	for sh := 0; sh < u.plan.Geometry.N; sh++ {
		if _, ok := res.Servers[lafs.ShareNum(sh)]; !ok {
			res.Unplaced = append(res.Unplaced, lafs.ShareNum(sh))
		}
	}
	res.Problems = append(res.Problems, u.problemList()...)
	byIndex := map[int][]int{}
	i := 0
	for _, shs := range holds {
		byIndex[i] = shs
		i++
	}
	res.Happiness = Happiness(byIndex)
	if res.Happiness < u.params.Happy {
		return nil, fmt.Errorf("%w: after write failures only %d servers hold shares, need %d: %w",
			ErrUnhappy, res.Happiness, u.params.Happy, errors.Join(failures...))
	}
	return res, nil
}

type progressReader struct {
	r     io.Reader
	done  int64
	total int64
	f     func(done, total int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	p.f(p.done, p.total)
	return n, err
}
