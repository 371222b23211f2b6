package mutable

import (
	"bytes"
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

// slotWrite is one share to write into one server's slot.
type slotWrite struct {
	server *lafs.Server
	rank   int
	shnum  lafs.ShareNum
	test   []byte // the checkstring now in the slot; nil: the slot must be empty
}

// publisher writes a new version's shares with test-and-set (Tahoe's
// Publish): every write tests that the slot still holds what the
// servermap saw (a new share, that the slot is empty), so that a writer
// racing with another finds out.
type publisher struct {
	f        *File
	keys     *Keys
	m        *serverMap
	n        int
	newCheck []byte // the checkstring of the version being written
	// vectors returns the writes that put share sh in place and the
	// share's new length.
	vectors func(sh lafs.ShareNum) ([]lafs.WriteVector, uint64)

	usual time.Duration // what the servers usually take to answer

	mu        sync.Mutex
	badServer map[*lafs.Server]error
	placed    map[lafs.ShareNum][]*lafs.Server
	surprise  error // the first sign of another writer
}

func newPublisher(f *File, keys *Keys, m *serverMap, n int, newCheck []byte, vectors func(lafs.ShareNum) ([]lafs.WriteVector, uint64)) *publisher {
	return &publisher{f: f, keys: keys, m: m, n: n, newCheck: newCheck, vectors: vectors, usual: usualOf(m.servers),
		badServer: map[*lafs.Server]error{}, placed: map[lafs.ShareNum][]*lafs.Server{}}
}

// existing is the initial goal: every share the servermap found, good or
// bad, is replaced where it is (shares numbered N or more are left alone).
func (p *publisher) existing() []slotWrite {
	var goal []slotWrite
	for _, l := range [][]*remoteShare{p.m.shares, p.m.bad} {
		for _, rs := range l {
			if int(rs.shnum) < p.n {
				goal = append(goal, slotWrite{server: rs.server, rank: rs.rank, shnum: rs.shnum, test: rs.checkstring()})
			}
		}
	}
	return goal
}

// placeHomeless gives a server to every share number that has none in
// goal and is not yet placed, as Tahoe's update_goal does: servers that
// hold fewer shares first, then in permuted order, wrapping around when
// there are fewer servers than shares.
func (p *publisher) placeHomeless(goal []slotWrite) []slotWrite {
	load := map[*lafs.Server]int{}
	has := map[lafs.ShareNum]bool{}
	for _, w := range goal {
		load[w.server]++
		has[w.shnum] = true
	}
	p.mu.Lock()
	for sh := range p.placed {
		has[sh] = true
	}
	type cand struct {
		s    *lafs.Server
		rank int
	}
	var cands []cand
	for rank, s := range p.m.servers {
		if p.badServer[s] == nil && p.m.failed[s] == nil {
			cands = append(cands, cand{s, rank})
		}
	}
	p.mu.Unlock()
	if len(cands) == 0 {
		return goal
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return load[a.s] - load[b.s] })
	i := 0
	for sh := lafs.ShareNum(0); int(sh) < p.n; sh++ {
		if !has[sh] {
			c := cands[i%len(cands)]
			goal = append(goal, slotWrite{server: c.s, rank: c.rank, shnum: sh})
			i++
		}
	}
	return goal
}

// run writes the goal. The first server in permuted order is written
// alone first: two writers racing from the same servermap meet there, and
// the loser stops before it has written anything. Shares whose server
// fails are placed elsewhere when placeNew is set. It succeeds when at
// least k shares are placed and nobody else wrote meanwhile.
func (p *publisher) run(ctx context.Context, goal []slotWrite, k int, placeNew bool) error {
	leaderDone := p.m.fresh
	for round := 0; len(goal) > 0 && round <= len(p.m.servers)+1; round++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		groups := groupByServer(goal)
		if !leaderDone {
			failed, ucw := p.write(ctx, groups[0])
			if ucw {
				return fmt.Errorf("%w: %v", ErrUncoordinatedWrite, p.surprise)
			}
			leaderDone = failed == nil
			groups = groups[1:]
			if !leaderDone {
				goal = p.retarget(groups, failed, placeNew)
				continue
			}
		}
		var wg sync.WaitGroup
		failures := make([][]slotWrite, len(groups))
		for i, g := range groups {
			wg.Go(func() { failures[i], _ = p.write(ctx, g) })
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.surprise != nil {
			break
		}
		goal = p.retarget(nil, slices.Concat(failures...), placeNew)
	}
	if p.surprise != nil {
		return fmt.Errorf("%w: %v", ErrUncoordinatedWrite, p.surprise)
	}
	if len(p.placed) < k {
		var errs []error
		for s, err := range p.badServer {
			errs = append(errs, fmt.Errorf("%s: %w", s.String(), err))
		}
		err := fmt.Errorf("%w: placed %d shares, need %d (%d servers known)",
			ErrNotEnoughServers, len(p.placed), k, len(p.m.servers))
		if len(errs) > 0 {
			err = fmt.Errorf("%w: %w", err, errors.Join(errs...))
		}
		return err
	}
	return nil
}

// retarget is the next round's goal: the writes not yet sent, plus new
// homes for the shares whose server failed.
func (p *publisher) retarget(rest [][]slotWrite, failed []slotWrite, placeNew bool) []slotWrite {
	goal := slices.Concat(rest...)
	if placeNew && len(failed) > 0 {
		goal = p.placeHomeless(goal)
	}
	return goal
}

// groupByServer groups writes into one request per server, in permuted
// order.
func groupByServer(goal []slotWrite) [][]slotWrite {
	slices.SortStableFunc(goal, func(a, b slotWrite) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return int(a.shnum) - int(b.shnum)
	})
	var out [][]slotWrite
	for i, w := range goal {
		if i == 0 || w.server != goal[i-1].server {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], w)
	}
	return out
}

// write sends one server its shares in one read-test-write. It returns
// the writes to retry elsewhere when the server failed, and whether a
// test failed (someone else wrote).
func (p *publisher) write(ctx context.Context, ws []slotWrite) (failed []slotWrite, testFailed bool) {
	s := ws[0].server
	tw := make(map[lafs.ShareNum]lafs.TestWriteVectors, len(ws))
	sending := 0
	for _, w := range ws {
		vecs, size := p.vectors(w.shnum)
		for _, v := range vecs {
			sending += len(v.Data)
		}
		test := lafs.TestVector{Offset: 0, Size: 1} // Tahoe's (0, 1, eq, ""): the slot is empty
		if w.test != nil {
			test = lafs.TestVector{Offset: 0, Size: uint64(max(1, len(w.test))), Specimen: w.test}
		}
		tw[w.shnum] = lafs.TestWriteVectors{Test: []lafs.TestVector{test}, Write: vecs, NewLength: &size}
	}
	we := p.keys.WriteEnabler(s.NodeID)
	lease := crypt.LeaseSecrets(p.f.opts.LeaseSecret, p.f.si, s.NodeID)
	// A write much slower than the servers usually answer is given up
	// on, and its shares placed elsewhere.
	floor := queryLateMin
	if s.Latency.Demoted() {
		floor = readLateMin // found too slow lately: less patience
	}
	late := max(floor, queryLateFactor*p.usual) + time.Duration(sending)*time.Second/writeRate
	if p.f.opts.QueryTimeout > 0 {
		late = min(late, p.f.opts.QueryTimeout)
	}
	wctx, cancel := context.WithTimeout(ctx, late)
	defer cancel()
	start := time.Now()
	res, err := s.Storage.ReadTestWrite(wctx, p.f.si, we, lease, tw, []lafs.ReadVector{{Offset: 0, Size: sdmfSignedSize}})
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if wctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer in %v, far longer than the servers usually take: %w", late.Round(time.Millisecond), err)
			s.Latency.Demote(demoteFor)
		}
		p.badServer[s] = err
		return ws, false
	}
	s.Latency.Observe(time.Since(start))
	for sh, data := range res.Data {
		if _, ours := tw[sh]; ours || len(data) == 0 {
			continue
		}
		if bytes.HasPrefix(data[0], p.newCheck) {
			continue // ours from an earlier round, or a convergent write
		}
		if old := p.m.known(s, sh); old != nil && bytes.HasPrefix(data[0], old.checkstring()) {
			continue // known, and left alone
		}
		p.surpriseAt(s, fmt.Sprintf("share %d appeared", sh))
	}
	if !res.Success {
		p.surpriseAt(s, "a test-and-set write found the slot changed")
		return nil, true
	}
	for _, w := range ws {
		p.placed[w.shnum] = append(p.placed[w.shnum], s)
	}
	return nil, false
}

func (p *publisher) surpriseAt(s *lafs.Server, what string) {
	if p.surprise == nil {
		p.surprise = fmt.Errorf("%s on %s", what, s.String())
	}
}

// publish encodes contents as the version after what m found and writes
// it, replacing every share m found and placing the others on the
// servers in permuted order. It returns a retriever for the new version.
func (f *File) publish(ctx context.Context, m *serverMap, k, n int, contents []byte) (*retriever, error) {
	keys := f.keys
	shares, err := encodeVersion(keys, formatVersion(f.format), m.highestSeqnum()+1, k, n, f.opts.SegmentSize, contents, f.randReader())
	if err != nil {
		return nil, err
	}
	packed := make([][]byte, n)
	for sh, s := range shares {
		if packed[sh], err = s.Marshal(); err != nil {
			return nil, err
		}
	}
	p := newPublisher(f, keys, m, n, shares[0].Checkstring(), func(sh lafs.ShareNum) ([]lafs.WriteVector, uint64) {
		return []lafs.WriteVector{{Offset: 0, Data: packed[sh]}}, uint64(len(packed[sh]))
	})
	if err := p.run(ctx, p.placeHomeless(p.existing()), k, true); err != nil {
		return nil, err
	}
	return f.newRetriever(p.newVersion(shares, func(sh lafs.ShareNum) []byte { return packed[sh] })), nil
}

// newVersion describes what was published as a servermap would have found
// it, so that the file can be read back without asking again. head gives
// the leading bytes known of each share.
func (p *publisher) newVersion(shares []*Share, head func(lafs.ShareNum) []byte) *version {
	v := &version{hdr: &shares[0].Header}
	rank := map[*lafs.Server]int{}
	for i, s := range p.m.servers {
		rank[s] = i
	}
	for sh, servers := range p.placed {
		for _, s := range servers {
			h := head(sh)
			v.shares = append(v.shares, &remoteShare{server: s, rank: rank[s], shnum: sh,
				head: h[:min(len(h), queryReadSize)], hdr: &shares[sh].Header})
		}
	}
	slices.SortFunc(v.shares, func(a, b *remoteShare) int {
		if a.shnum != b.shnum {
			return int(a.shnum) - int(b.shnum)
		}
		return a.rank - b.rank
	})
	return v
}

func formatVersion(f cap.Format) byte {
	if f == cap.MDMF {
		return MDMFVersion
	}
	return SDMFVersion
}
