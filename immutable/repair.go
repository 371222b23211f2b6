package immutable

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/hashtree"
	"github.com/lafs/lafs/zfec"
)

// RepairOptions configure CheckAndRepair.
type RepairOptions struct {
	// LeaseSecret is the client's lease secret (private/secret): the
	// shares a repair stores get this client's lease.
	LeaseSecret []byte
	// Check says how to check before the repair; its Repair field says
	// whether to repair at all.
	Check lafs.CheckOptions
}

// Repair timing and sizes.
const (
	// repairWriteTimeout, plus a second per repairWriteRate bytes, bounds
	// each write of a repair.
	repairWriteTimeout = 10 * time.Second
	repairWriteRate    = 256 << 10
	// repairFlushLen is how much of a share a repair holds before it
	// sends it.
	repairFlushLen = 1 << 20
	// repairAhead is how many segments are downloaded ahead of encoding.
	repairAhead = 4
)

// CheckAndRepair checks the file v names (as Check does, with
// opt.Check) and, when opt.Check.Repair is set and the file is not
// healthy, repairs it: it downloads and checks the ciphertext from good
// shares, encodes again the share numbers that have no good copy, and
// stores each on a server that holds no share of the file when there is
// one (the least loaded otherwise), so that the file has all N shares on
// as many servers as can be had. A share number that has a good copy
// somewhere is never stored twice. An immutable share cannot be
// overwritten, so the good copy of a corrupt share goes to another server
// (a lafs server that was told of the corruption has moved its bad copy
// out of service, and so may take the good one itself).
//
// The new shares are checked against the UEB before they are completed:
// a repair never stores a share that disagrees with the cap. An
// unrecoverable file (fewer than k good shares) is reported, not
// repaired: Attempted is true and Successful false, as when the repair
// fails. The result after the repair comes from asking the servers
// again; shares that the check before found corrupt and that are still
// there count as corrupt.
func CheckAndRepair(ctx context.Context, peers lafs.Peers, v *cap.CHKVerifier, opt RepairOptions) (*lafs.RepairResult, error) {
	si := v.StorageIndex
	ck := newChecker(v, opt.Check, opt.LeaseSecret)
	servers := peers.ServersFor(si)
	answers, pre, err := ck.check(ctx, servers)
	if err != nil {
		return nil, err
	}
	res := &lafs.RepairResult{StorageIndex: si, PreRepair: pre, PostRepair: pre}
	if !opt.Check.Repair || pre.Healthy {
		return res, nil
	}
	res.Attempted = true
	if !pre.Recoverable {
		post := *pre
		post.Report = append(slices.Clone(pre.Report), fmt.Sprintf("not repaired: %d good shares found, %d needed to rebuild the others", pre.GoodShares, v.K))
		res.PostRepair = &post
		return res, nil
	}
	rp := &repairer{v: v, leaseSecret: opt.LeaseSecret, timeout: ck.opt.ServerTimeout}
	placed, err := rp.run(ctx, answers)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res.Placed = placed
	// Ask again, without verifying what was just checked: the shares that
	// were found bad are still bad unless a new copy was placed there.
	post, err2 := ck.recheck(ctx, servers, pre, placed)
	if err2 != nil {
		return nil, err2
	}
	if err != nil {
		post.Report = append(post.Report, "repair: "+err.Error())
	}
	res.PostRepair = post
	res.Successful = post.Healthy
	return res, nil
}

// recheck lists the shares again after a repair, counting as corrupt the
// shares the check before found corrupt and the repair did not replace
// on the same server.
func (ck *checker) recheck(ctx context.Context, servers []*lafs.Server, pre *lafs.CheckResult, placed []lafs.ShareLocation) (*lafs.CheckResult, error) {
	o := ck.opt
	o.AddLease, o.Verify = false, false
	plain := newChecker(ck.v, o, ck.leaseSecret)
	answers := plain.listAll(ctx, servers)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	bad := map[lafs.ShareLocation]bool{}
	for _, l := range append(slices.Clone(pre.Corrupt), pre.Incompatible...) {
		bad[l] = true
	}
	for _, l := range placed {
		delete(bad, l)
	}
	for _, a := range answers {
		for _, sh := range a.listed {
			l := lafs.ShareLocation{Server: a.server.ID, StorageIndex: ck.v.StorageIndex, Num: sh}
			switch {
			case !bad[l]:
				a.good = append(a.good, sh)
			case slices.Contains(pre.Incompatible, l):
				a.incompat = append(a.incompat, sh)
			default:
				a.corrupt = append(a.corrupt, sh)
			}
		}
	}
	return plain.result(ck.v.StorageIndex, answers), nil
}

// repairer rebuilds and places the missing shares of one file.
type repairer struct {
	v           *cap.CHKVerifier
	leaseSecret []byte
	timeout     time.Duration
}

// repairBucket is one new share being written to one server.
type repairBucket struct {
	server *lafs.Server
	shnum  lafs.ShareNum
	secret lafs.UploadSecret
	buf    []byte // data not yet sent, from bufOff
	bufOff uint64
	err    error
}

func (rp *repairer) run(ctx context.Context, answers []*serverAnswer) ([]lafs.ShareLocation, error) {
	si := rp.v.StorageIndex
	var shares []Share
	goodNums := map[lafs.ShareNum]bool{}
	for _, a := range answers {
		for _, sh := range a.good {
			shares = append(shares, &remoteShare{server: a.server, si: si, num: sh})
			goodNums[sh] = true
		}
	}
	var missing []lafs.ShareNum
	for sh := 0; sh < rp.v.N; sh++ {
		if !goodNums[lafs.ShareNum(sh)] {
			missing = append(missing, lafs.ShareNum(sh))
		}
	}
	r, err := newCiphertextReader(ctx, rp.v, shares, 4*rp.timeout)
	if err != nil {
		return nil, fmt.Errorf("reading the file to repair it: %w", err)
	}
	info := r.knownInfo()
	g := info.geom
	lay, err := r.writableLayout()
	if err != nil {
		return nil, err
	}
	buckets, problems := rp.place(ctx, answers, missing, lay.ShareSize())
	if len(buckets) == 0 {
		return nil, fmt.Errorf("no server took a new share (%s)", joinProblems(problems))
	}
	err = rp.encode(ctx, r, info, g, lay, buckets)
	var placed []lafs.ShareLocation
	var aborts sync.WaitGroup
	for _, b := range buckets {
		if b.err == nil && err == nil {
			placed = append(placed, lafs.ShareLocation{Server: b.server.ID, StorageIndex: si, Num: b.shnum})
			continue
		}
		aborts.Go(func() {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rp.timeout)
			defer cancel()
			b.server.Storage.AbortImmutable(actx, si, b.shnum, b.secret)
		})
		if b.err != nil {
			problems = append(problems, fmt.Sprintf("share %d on %s: %v", b.shnum, b.server, b.err))
		}
	}
	aborts.Wait()
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return placed, errors.New(joinProblems(problems))
	}
	return placed, nil
}

func joinProblems(p []string) string {
	if len(p) == 0 {
		return "no servers"
	}
	s := p[0]
	for _, x := range p[1:] {
		s += "; " + x
	}
	return s
}

// writableLayout is the layout of the file's shares as an opened share
// has it, when it is the layout this package writes for such a file
// (every share of a file has the same one).
func (r *Reader) writableLayout() (*Layout, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.active) == 0 {
		return nil, errors.New("no share open")
	}
	have := r.active[0].layout
	want := newLayout(r.info.geom, len(r.info.uebBytes), have.Version)
	if have.Data != want.Data || have.PlaintextHashTree != want.PlaintextHashTree ||
		have.CrypttextHashTree != want.CrypttextHashTree || have.BlockHashes != want.BlockHashes ||
		have.ShareHashes != want.ShareHashes || have.URIExtension != want.URIExtension {
		return nil, errors.New("the file's shares have a layout this client does not write; not repaired")
	}
	return want, nil
}

// place finds a server for each missing share and allocates it there:
// servers that hold no share of the file first, in permuted order, then
// the least loaded. A server that already has the share (a bad copy it
// keeps) or will not take it is not asked for it again.
func (rp *repairer) place(ctx context.Context, answers []*serverAnswer, missing []lafs.ShareNum, shareSize uint64) ([]*repairBucket, []string) {
	si := rp.v.StorageIndex
	type cand struct {
		s    *lafs.Server
		load int
		gone bool
	}
	var cands []*cand
	for _, a := range answers {
		if !a.responded {
			continue
		}
		if m := a.server.MaxImmutableShareSize; m != 0 && m < shareSize {
			continue
		}
		cands = append(cands, &cand{s: a.server, load: len(a.listed)})
	}
	blocked := map[[2]int]bool{} // {cand, share}
	var buckets []*repairBucket
	var problems []string
	todo := slices.Clone(missing)
	for round := 0; len(todo) > 0 && round <= len(cands); round++ {
		byCand := map[int][]lafs.ShareNum{}
		var unplaced []lafs.ShareNum
		for _, sh := range todo {
			best := -1
			for i, c := range cands {
				if c.gone || blocked[[2]int{i, int(sh)}] {
					continue
				}
				if best < 0 || c.load < cands[best].load {
					best = i
				}
			}
			if best < 0 {
				unplaced = append(unplaced, sh)
				continue
			}
			byCand[best] = append(byCand[best], sh)
			cands[best].load++
		}
		if len(byCand) == 0 {
			todo = unplaced
			break
		}
		type answer struct {
			i      int
			asked  []lafs.ShareNum
			secret lafs.UploadSecret
			res    lafs.AllocateResult
			err    error
		}
		ch := make(chan answer, len(byCand))
		for i, shs := range byCand {
			go func() {
				secret := make(lafs.UploadSecret, 32)
				rand.Read(secret)
				s := cands[i].s
				actx, cancel := context.WithTimeout(ctx, rp.timeout)
				defer cancel()
				res, err := s.Storage.AllocateBuckets(actx, si, crypt.LeaseSecrets(rp.leaseSecret, si, s.NodeID), secret, shs, shareSize)
				ch <- answer{i, shs, secret, res, err}
			}()
		}
		todo = unplaced
		for range byCand {
			a := <-ch
			c := cands[a.i]
			if a.err != nil {
				c.gone = true
				problems = append(problems, fmt.Sprintf("allocating on %s: %v", c.s, a.err))
				todo = append(todo, a.asked...)
				continue
			}
			for _, sh := range a.asked {
				if slices.Contains(a.res.Allocated, sh) {
					buckets = append(buckets, &repairBucket{server: c.s, shnum: sh, secret: a.secret})
					continue
				}
				// Held already (a copy the check found bad or could not
				// read) or under way: not here.
				blocked[[2]int{a.i, int(sh)}] = true
				c.load--
				todo = append(todo, sh)
			}
		}
	}
	for _, sh := range todo {
		problems = append(problems, fmt.Sprintf("no server took share %d", sh))
	}
	slices.SortFunc(buckets, func(a, b *repairBucket) int { return int(a.shnum) - int(b.shnum) })
	return buckets, problems
}

// encode reads the ciphertext segment by segment, encodes it again and
// writes the blocks of the buckets' shares, then checks that the share
// hash tree it built has the UEB's root before it writes the hashes and
// the UEB that complete each share.
func (rp *repairer) encode(ctx context.Context, r *Reader, info *fileInfo, g Geometry, lay *Layout, buckets []*repairBucket) error {
	codec, err := zfec.New(g.K, g.N)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	header := lay.Header()
	for _, b := range buckets {
		b.buf = append(b.buf[:0], header...)
		b.bufOff = 0
	}
	// Segments are fetched ahead, in order.
	type fetched struct {
		seg []byte
		err error
	}
	segs := make([]chan fetched, g.NumSegments)
	for i := range segs {
		segs[i] = make(chan fetched, 1)
	}
	sem := make(chan struct{}, repairAhead)
	go func() {
		for i := 0; i < g.NumSegments; i++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				seg, err := r.Segment(ctx, i)
				segs[i] <- fetched{seg, err}
			}()
		}
	}()
	blockHashes := make([][]crypt.Hash, g.N)
	padded := make([]byte, g.K*g.BlockSize)
	parity := make([][]byte, g.N-g.K)
	for i := range parity {
		parity[i] = make([]byte, g.BlockSize)
	}
	held := 0 // bytes of each share held since the last flush
	for i := 0; i < g.NumSegments; i++ {
		var f fetched
		select {
		case f = <-segs[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-sem
		if f.err != nil {
			return fmt.Errorf("reading the file to repair it: %w", f.err)
		}
		bs := g.BlockLen(i)
		data := make([][]byte, g.K)
		n := copy(padded, f.seg)
		clear(padded[n : g.K*bs])
		for c := range data {
			data[c] = padded[c*bs : (c+1)*bs]
		}
		par := make([][]byte, g.N-g.K)
		for c := range par {
			par[c] = parity[c][:bs]
		}
		if err := codec.Encode(data, par); err != nil {
			return fmt.Errorf("encoding segment %d: %w", i, err)
		}
		block := func(sh int) []byte {
			if sh < g.K {
				return data[sh]
			}
			return par[sh-g.K]
		}
		for sh := 0; sh < g.N; sh++ {
			blockHashes[sh] = append(blockHashes[sh], crypt.BlockHash(block(sh)))
		}
		for _, b := range buckets {
			if b.err == nil {
				b.buf = append(b.buf, block(int(b.shnum))...)
			}
		}
		held += bs
		if held >= repairFlushLen || i == g.NumSegments-1 {
			held = 0
			if err := rp.flush(ctx, buckets); err != nil {
				return err
			}
		}
	}
	roots := make([]crypt.Hash, g.N)
	trees := make([]hashtree.Tree, g.N)
	for sh := range trees {
		trees[sh] = hashtree.New(blockHashes[sh])
		roots[sh] = trees[sh].Root()
	}
	shareTree := hashtree.New(roots)
	if shareTree.Root() != info.ueb.ShareRootHash {
		return errors.New("the shares encoded again do not match the file's UEB (it was not encoded as this client encodes); not repaired")
	}
	ctBytes := treeBytes(info.ctTree)
	ueb := info.uebBytes
	for _, b := range buckets {
		if b.err != nil {
			continue
		}
		t := make([]byte, 0, lay.ShareSize()-lay.PlaintextHashTree)
		t = append(t, make([]byte, lay.CrypttextHashTree-lay.PlaintextHashTree)...)
		t = append(t, ctBytes...)
		t = append(t, treeBytes(trees[b.shnum])...)
		t = append(t, marshalShareHashes(shareTree, hashtree.NeededHashes(g.N, int(b.shnum), true))...)
		if lay.Version == 1 {
			t = append(t, byte(len(ueb)>>24), byte(len(ueb)>>16), byte(len(ueb)>>8), byte(len(ueb)))
		} else {
			var l [8]byte
			for i := range l {
				l[7-i] = byte(uint64(len(ueb)) >> (8 * i))
			}
			t = append(t, l[:]...)
		}
		t = append(t, ueb...)
		if uint64(len(t)) != lay.ShareSize()-lay.PlaintextHashTree {
			return fmt.Errorf("internal error: share trailer of %d bytes, layout wants %d", len(t), lay.ShareSize()-lay.PlaintextHashTree)
		}
		b.buf, b.bufOff = t, lay.PlaintextHashTree
	}
	return rp.flush(ctx, buckets)
}

// flush sends what each bucket holds, all at once. A bucket whose write
// fails is given up (the others go on); the repair fails only when every
// bucket has.
func (rp *repairer) flush(ctx context.Context, buckets []*repairBucket) error {
	var wg sync.WaitGroup
	for _, b := range buckets {
		if b.err != nil || len(b.buf) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			timeout := repairWriteTimeout + time.Duration(len(b.buf)/repairWriteRate)*time.Second
			wctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			_, err := b.server.Storage.WriteImmutable(wctx, rp.v.StorageIndex, b.shnum, b.secret, b.bufOff, b.buf)
			if err != nil {
				b.err = fmt.Errorf("writing at %d: %w", b.bufOff, err)
				return
			}
			b.bufOff += uint64(len(b.buf))
			b.buf = b.buf[:0]
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, b := range buckets {
		if b.err == nil {
			return nil
		}
	}
	return errors.New("every new share failed: " + strconv.Itoa(len(buckets)) + " tried")
}
