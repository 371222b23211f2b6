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
	// LeaseSecret is the client's lease secret (private/secret), from
	// which each server's lease renew and cancel secrets derive.
	LeaseSecret []byte
	// QueryTimeout bounds each server's answer to the share query
	// (default 15 s, as Tahoe).
	QueryTimeout time.Duration
	// Progress, if set, is called as plaintext is read and encoded.
	Progress func(done, total int64)
}

// UploadResult describes a finished upload.
type UploadResult struct {
	Cap          cap.Cap
	Happiness    int
	SharesPushed int // shares written now
	SharesExist  int // shares found already in place (and their leases renewed)
	Servers      map[lafs.ShareNum]string
}

// LeaseSecretsFor derives the lease secrets for one storage index on one server.
func LeaseSecretsFor(leaseSecret []byte, si lafs.StorageIndex, serverSeed [20]byte) lafs.LeaseSecrets {
	cr := crypt.ClientRenewalSecret(leaseSecret)
	cc := crypt.ClientCancelSecret(leaseSecret)
	fr := crypt.FileRenewalSecret(cr[:], si[:])
	fc := crypt.FileCancelSecret(cc[:], si[:])
	return lafs.LeaseSecrets{
		Renew:  lafs.Secret(crypt.BucketRenewalSecret(fr[:], serverSeed[:])),
		Cancel: lafs.Secret(crypt.BucketCancelSecret(fc[:], serverSeed[:])),
	}
}

// Upload stores the size bytes of r (read twice with a convergence secret:
// once for the key, once to encode) as a CHK file on servers, given in the
// permuted order for the file's storage index by peers, and returns its cap.
// Files of 55 bytes or fewer become LIT caps and touch no server. Shares
// already on servers are found and reused, so uploading the same file
// twice with the same convergence secret transfers nothing the second time.
func Upload(ctx context.Context, peers lafs.Peers, r io.ReaderAt, size int64, opt UploadOptions) (*UploadResult, error) {
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
	if opt.Convergence != nil {
		key, err = ConvergentKey(io.NewSectionReader(r, 0, size), uint64(size), opt.Convergence, p)
	} else {
		key, err = RandomKey()
	}
	if err != nil {
		return nil, err
	}
	plan, err := NewPlan(uint64(size), p)
	if err != nil {
		return nil, err
	}
	si := crypt.StorageIndexHash(key[:])
	up := &uploader{si: si, plan: plan, opt: opt, params: p}
	if err := up.place(ctx, peers.ServersFor(si)); err != nil {
		return nil, err
	}
	var src io.Reader = io.NewSectionReader(r, 0, size)
	if opt.Progress != nil {
		src = &progressReader{r: src, total: size, f: opt.Progress}
	}
	c, err := encode(ctx, src, plan, key, up)
	if err != nil {
		up.abortAll()
		return nil, err
	}
	return up.finish(c)
}

// bucket is one share being written to one server.
type bucket struct {
	server  *lafs.Server
	shnum   lafs.ShareNum
	secret  []byte
	failed  error
	pending []byte // a small write held back to go out with the next
	pendOff uint64
}

type uploader struct {
	si     lafs.StorageIndex
	plan   Plan
	opt    UploadOptions
	params lafs.Params

	buckets map[int]*bucket      // share -> bucket being written
	exist   map[int]*lafs.Server // share -> server that already holds it
	mu      sync.Mutex
}

// place finds where every share goes. Most uploads are of new files, so it
// first allocates at once, as if no server held a share, and learns of
// shares already there from the answers (the server lists every share of
// the file it holds); that saves a round of queries per file. If that
// placement is not happy, it does as Tahoe does: asks the first 2N servers
// what they hold, computes the servers-of-happiness placement, allocates,
// and repeats without servers that decline, until the placement is happy
// or no server is left to try.
func (u *uploader) place(ctx context.Context, all []*lafs.Server) error {
	g := u.plan.Geometry
	shareSize := u.plan.Layout.ShareSize()
	cands := all
	if len(cands) > 2*g.N {
		cands = cands[:2*g.N]
	}
	if len(cands) == 0 {
		return fmt.Errorf("%w: no storage servers are connected (need %d for shares.happy)", ErrUnhappy, u.params.Happy)
	}
	timeout := u.opt.QueryTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	readOnly := map[int]bool{}
	problems := make([]string, len(cands))
	for i, s := range cands {
		if s.MaxImmutableShareSize != 0 && s.MaxImmutableShareSize < shareSize {
			readOnly[i] = true
			problems[i] = fmt.Sprintf("%s takes shares of at most %d bytes", s.Nickname, s.MaxImmutableShareSize)
		}
	}
	if err := u.allocate(ctx, cands, map[int][]int{}, maps.Clone(readOnly), slices.Clone(problems), 1); err == nil || ctx.Err() != nil {
		return err
	}

	// Ask every candidate, in parallel, which shares it holds.
	existing := map[int][]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i, s := range cands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			qctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			have, err := s.Storage.ListImmutable(qctx, u.si)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				readOnly[i] = true
				problems[i] = fmt.Sprintf("%s did not answer: %v", serverName(s), err)
				return
			}
			for _, sh := range have {
				if int(sh) < g.N {
					existing[i] = append(existing[i], int(sh))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return u.allocate(ctx, cands, existing, readOnly, problems, len(cands)+1)
}

// allocate places the shares given what the candidates are known to hold
// (existing) and which take no new shares (readOnly), allocates, and, when
// servers decline, tries again without them, up to attempts rounds. It
// returns nil once the placement is happy, with u.buckets and u.exist set;
// otherwise it aborts what it allocated and returns ErrUnhappy. It updates
// existing, readOnly and problems with what the answers tell.
func (u *uploader) allocate(ctx context.Context, cands []*lafs.Server, existing map[int][]int, readOnly map[int]bool, problems []string, attempts int) error {
	idx := make([]int, len(cands))
	for i := range idx {
		idx[i] = i
	}
	for attempt := 0; attempt < attempts; attempt++ {
		placement := placeShares(idx, readOnly, u.plan.Geometry.N, existing)
		// Group the placement by server and allocate there.
		byServer := map[int][]lafs.ShareNum{}
		for sh, s := range placement {
			if s >= 0 {
				byServer[s] = append(byServer[s], lafs.ShareNum(sh))
			}
		}
		u.buckets = map[int]*bucket{}
		u.exist = map[int]*lafs.Server{}
		holds := map[int][]int{}
		declined, err := u.ask(ctx, cands, byServer, existing, readOnly, problems, holds)
		if err != nil {
			u.abortAll()
			return err
		}
		// A share both found and allocated elsewhere needs no write.
		for sh := range u.exist {
			if b, ok := u.buckets[sh]; ok {
				go b.server.Storage.AbortImmutable(context.WithoutCancel(ctx), u.si, b.shnum, b.secret)
				delete(u.buckets, sh)
			}
		}
		h := Happiness(holds)
		if h >= u.params.Happy {
			if declined {
				u.rehome(ctx, cands, existing, readOnly, holds, problems)
			}
			return nil
		}
		// Wait for the aborts: the next round may ask the same servers.
		u.abortAll().Wait()
		u.buckets = nil
		if !declined {
			return u.unhappy(cands, readOnly, h, problems)
		}
	}
	return u.unhappy(cands, readOnly, 0, problems)
}

// ask allocates the shares of byServer on their servers in parallel (a
// read-only server only gets its lease renewed on the shares it holds) and
// records the answers: buckets to write in u.buckets, shares found in
// u.exist, existing and holds; a server that refuses or declines a share
// is marked read-only with its problem, and declined reports it.
func (u *uploader) ask(ctx context.Context, cands []*lafs.Server, byServer map[int][]lafs.ShareNum, existing map[int][]int, readOnly map[int]bool, problems []string, holds map[int][]int) (declined bool, err error) {
	n := u.plan.Geometry.N
	lease := func(s *lafs.Server) lafs.LeaseSecrets { return LeaseSecretsFor(u.opt.LeaseSecret, u.si, s.LeaseSeed) }
	type answer struct {
		res    lafs.AllocateResult
		err    error
		secret []byte
	}
	answers := make(map[int]*answer)
	var wg sync.WaitGroup
	for s, shares := range byServer {
		slices.Sort(shares)
		a := &answer{secret: make([]byte, 32)}
		rand.Read(a.secret)
		answers[s] = a
		if readOnly[s] {
			continue
		}
		wg.Go(func() {
			a.res, a.err = cands[s].Storage.AllocateBuckets(ctx, u.si, lease(cands[s]), a.secret, shares, u.plan.Layout.ShareSize())
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return false, err
	}
	for s, shares := range byServer {
		a := answers[s]
		if readOnly[s] {
			// Shares it already holds: renew the lease, write nothing.
			for _, sh := range shares {
				u.exist[int(sh)] = cands[s]
				holds[s] = append(holds[s], int(sh))
			}
			go cands[s].Storage.AddOrRenewLease(context.WithoutCancel(ctx), u.si, lease(cands[s]))
			continue
		}
		if a.err != nil {
			problems[s] = fmt.Sprintf("%s refused the allocation: %v", serverName(cands[s]), a.err)
			readOnly[s] = true
			declined = true
			continue
		}
		got := map[lafs.ShareNum]bool{}
		for _, sh := range a.res.AlreadyHave {
			got[sh] = true
			if int(sh) < n {
				u.exist[int(sh)] = cands[s]
				holds[s] = append(holds[s], int(sh))
				existing[s] = appendUnique(existing[s], int(sh))
			}
		}
		for _, sh := range a.res.Allocated {
			if got[sh] || int(sh) >= n {
				continue
			}
			got[sh] = true
			if _, dup := u.buckets[int(sh)]; dup {
				continue
			}
			u.buckets[int(sh)] = &bucket{server: cands[s], shnum: sh, secret: a.secret}
			holds[s] = append(holds[s], int(sh))
		}
		for _, sh := range shares {
			if !got[sh] {
				problems[s] = fmt.Sprintf("%s declined share %d (no space?)", serverName(cands[s]), sh)
				readOnly[s] = true
				declined = true
			}
		}
	}
	return declined, nil
}

// rehome gives the shares that a happy placement left without a server
// (their servers declined) to candidates that hold none of the file yet,
// one share each in permuted order, so that the file keeps all N shares
// when servers are to spare. A server that declines again is marked and
// its share stays homeless: happiness is already met.
func (u *uploader) rehome(ctx context.Context, cands []*lafs.Server, existing map[int][]int, readOnly map[int]bool, holds map[int][]int, problems []string) {
	byServer := map[int][]lafs.ShareNum{}
	sh := 0
	for i := range cands {
		for sh < u.plan.Geometry.N && (u.buckets[sh] != nil || u.exist[sh] != nil) {
			sh++
		}
		if sh == u.plan.Geometry.N {
			break
		}
		if !readOnly[i] && len(holds[i]) == 0 {
			byServer[i] = []lafs.ShareNum{lafs.ShareNum(sh)}
			sh++
		}
	}
	u.ask(ctx, cands, byServer, existing, readOnly, problems, holds)
}

func appendUnique(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func serverName(s *lafs.Server) string {
	if s.Nickname != "" {
		return fmt.Sprintf("server %q (%s)", s.Nickname, shortID(s.ID))
	}
	return "server " + shortID(s.ID)
}

func shortID(id string) string {
	if len(id) > 15 {
		return id[:15]
	}
	return id
}

func (u *uploader) unhappy(cands []*lafs.Server, readOnly map[int]bool, h int, problems []string) error {
	usable := 0
	for i := range cands {
		if !readOnly[i] {
			usable++
		}
	}
	var why []string
	for _, p := range problems {
		if p != "" {
			why = append(why, p)
		}
	}
	msg := fmt.Sprintf("shares could be placed on only %d servers such that any %d of them have enough shares to recover the file, but we were asked to place shares on at least %d such servers (found %d servers, %d usable)",
		h, u.params.K, u.params.Happy, len(cands), usable)
	if len(why) > 0 {
		msg += "; " + strings.Join(why, "; ")
	}
	return fmt.Errorf("%w: %s", ErrUnhappy, msg)
}

// WriteShare implements Sink: it sends share data to the server holding
// the share's bucket, holding back small writes to send with the next.
func (u *uploader) WriteShare(ctx context.Context, shnum int, off uint64, data []byte) error {
	u.mu.Lock()
	b := u.buckets[shnum]
	u.mu.Unlock()
	if b == nil || b.failed != nil {
		return nil // already on a server, or given up on
	}
	const small = 64 << 10
	if b.pending != nil && b.pendOff+uint64(len(b.pending)) == off {
		data = append(b.pending, data...)
		off = b.pendOff
		b.pending = nil
	} else if b.pending != nil {
		if err := u.send(ctx, b, b.pendOff, b.pending); err != nil {
			return nil
		}
		b.pending = nil
	}
	if len(data) < small && off+uint64(len(data)) < u.plan.Layout.ShareSize() {
		b.pending, b.pendOff = append([]byte(nil), data...), off
		return nil
	}
	u.send(ctx, b, off, data)
	return nil
}

// send writes to the server; a failure marks the bucket failed (the upload
// goes on and judges happiness at the end) rather than stopping everything.
func (u *uploader) send(ctx context.Context, b *bucket, off uint64, data []byte) error {
	_, err := b.server.Storage.WriteImmutable(ctx, u.si, b.shnum, b.secret, off, data)
	if err != nil && ctx.Err() == nil {
		b.failed = fmt.Errorf("%s: writing share %d: %w", serverName(b.server), b.shnum, err)
		go b.server.Storage.AbortImmutable(context.Background(), u.si, b.shnum, b.secret)
	}
	return err
}

// abortAll aborts every bucket in the background; Wait on the result to
// know they are done.
func (u *uploader) abortAll() *sync.WaitGroup {
	var wg sync.WaitGroup
	for _, b := range u.buckets {
		wg.Go(func() { b.server.Storage.AbortImmutable(context.Background(), u.si, b.shnum, b.secret) })
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
		if b.pending != nil && b.failed == nil {
			u.send(context.Background(), b, b.pendOff, b.pending)
			b.pending = nil
		}
		if b.failed != nil {
			failures = append(failures, b.failed)
			continue
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
