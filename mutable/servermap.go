package mutable

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// queryReadSize is how much of each share the servermap reads at first, as
// Tahoe's ServermapUpdater does: enough for an SDMF share's header, key,
// signature and hashes, and for everything an MDMF share keeps before its
// blocks.
const queryReadSize = 4000

// remoteShare is one share of the file on one server, as the servermap
// found it.
type remoteShare struct {
	server *lafs.Server
	rank   int // the server's place in the permuted list
	shnum  lafs.ShareNum
	head   []byte  // the first bytes of the share (all of it if shorter)
	hdr    *Header // nil when the header did not parse
	err    error   // why the share is bad; nil for a good one
}

// checkstring is what a test-and-set write compares to replace the share:
// the checkstring of a good share, the first 75 bytes of a bad one.
func (s *remoteShare) checkstring() []byte {
	if s.err == nil {
		return s.hdr.Checkstring()
	}
	return s.head[:min(len(s.head), sdmfSignedSize)]
}

// read returns the bytes of range r, from the head when it holds them. A
// share too short for r is bad; a server that does not answer is not.
func (s *remoteShare) read(ctx context.Context, si lafs.StorageIndex, r Range) ([]byte, error) {
	if r.End <= uint64(len(s.head)) {
		return s.head[r.Begin:r.End:r.End], nil
	}
	b, err := s.server.Storage.ReadMutable(ctx, si, s.shnum, r.Begin, r.Len())
	if err != nil {
		return nil, fmt.Errorf("%s: reading share %d: %w", s.server.String(), s.shnum, err)
	}
	if uint64(len(b)) != r.Len() {
		return nil, badShare("share %d on %s: %d bytes at %d, want %d", s.shnum, s.server.String(), len(b), r.Begin, r.Len())
	}
	return b, nil
}

// serverMap is what one round of queries found: every share of the file
// on every server that answered, good or bad (Tahoe's ServerMap).
type serverMap struct {
	si      lafs.StorageIndex
	servers []*lafs.Server         // the permuted list that was asked
	failed  map[*lafs.Server]error // servers that did not answer
	shares  []*remoteShare         // good: the key matches the cap and the signature verifies
	bad     []*remoteShare         // to be replaced by the next publish
	// fresh marks the map of a file being created: no shares can exist,
	// so nothing was asked and no other writer can be met.
	fresh bool
}

// version is one version of the file: the good shares whose signed
// prefix is the same.
type version struct {
	hdr    *Header
	shares []*remoteShare // by share number, then server rank
}

// distinct counts the different share numbers of the version.
func (v *version) distinct() int {
	seen := map[lafs.ShareNum]bool{}
	for _, s := range v.shares {
		seen[s.shnum] = true
	}
	return len(seen)
}

func (v *version) recoverable() bool { return v.distinct() >= v.hdr.K }

// updateServerMap asks every server, in parallel, for its shares of the
// file and checks each share's header, public key and signature. Servers
// that are late against the others' answers (see queryLateFactor) are
// given up on and marked failed.
func (f *File) updateServerMap(ctx context.Context) (*serverMap, error) {
	m := &serverMap{si: f.si, servers: f.peers.ServersFor(f.si), failed: map[*lafs.Server]error{}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the late ones' requests
	type answer struct {
		s     *lafs.Server
		found []*remoteShare
		err   error
		took  time.Duration
	}
	answers := make(chan answer, len(m.servers))
	sigs := &sigCache{ok: map[string]bool{}}
	start := time.Now()
	for rank, s := range m.servers {
		go func() {
			qctx, cancel := f.opts.bound(ctx)
			defer cancel()
			found, err := f.queryServer(qctx, s, rank, sigs)
			answers <- answer{s, found, err, time.Since(start)}
		}()
	}
	waiting := map[*lafs.Server]bool{}
	for _, s := range m.servers {
		waiting[s] = true
	}
	var took []time.Duration
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for len(waiting) > 0 {
		select {
		case a := <-answers:
			delete(waiting, a.s)
			took = append(took, a.took)
			if a.err != nil {
				m.failed[a.s] = a.err
			} else {
				a.s.Latency.Observe(a.took)
			}
			for _, rs := range a.found {
				if rs.err != nil {
					m.bad = append(m.bad, rs)
				} else {
					m.shares = append(m.shares, rs)
				}
			}
			// Servers found too slow lately get less patience.
			floor := readLateMin
			for s := range waiting {
				if !s.Latency.Demoted() {
					floor = queryLateMin
				}
			}
			timer.Reset(time.Until(start.Add(max(floor, queryLateFactor*median(took)))))
		case <-timer.C:
			for s := range waiting {
				m.failed[s] = fmt.Errorf("%s did not answer in %v (the others took at most %v)",
					s.String(), time.Since(start).Round(time.Millisecond), slices.Max(took).Round(time.Millisecond))
				s.Latency.Demote(demoteFor)
			}
			waiting = nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	byPlace := func(a, b *remoteShare) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return int(a.shnum) - int(b.shnum)
	}
	slices.SortFunc(m.shares, byPlace)
	slices.SortFunc(m.bad, byPlace)
	return m, nil
}

// queryServer reads and checks the shares one server holds. It returns
// the shares it could judge and an error if the server failed to answer
// some question.
func (f *File) queryServer(ctx context.Context, s *lafs.Server, rank int, sigs *sigCache) ([]*remoteShare, error) {
	shnums, err := s.Storage.ListMutable(ctx, f.si)
	if err != nil {
		return nil, err
	}
	// A server that lists share numbers no share can have is not asked for
	// them, and one server's shares are read a few at a time.
	slices.Sort(shnums)
	shnums = slices.Compact(shnums)
	if i := slices.IndexFunc(shnums, func(sh lafs.ShareNum) bool { return sh >= lafs.MaxShares }); i >= 0 {
		shnums = shnums[:i]
	}
	out := make([]*remoteShare, len(shnums))
	errs := make([]error, len(shnums))
	sem := make(chan struct{}, perServerReads)
	var wg sync.WaitGroup
	for i, sh := range shnums {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			head, err := s.Storage.ReadMutable(ctx, f.si, sh, 0, queryReadSize)
			if errors.Is(err, lafs.ErrNotExist) {
				return // gone since it was listed
			}
			if err != nil {
				errs[i] = err
				return
			}
			rs := &remoteShare{server: s, rank: rank, shnum: sh, head: head}
			if err := f.checkShare(ctx, rs, sigs); err != nil && !errors.Is(err, ErrBadShare) {
				errs[i] = err
				return
			} else if err != nil {
				rs.err = err
				if !errors.Is(err, ErrIncompatible) { // perhaps a good share of a future format
					f.adviseCorrupt(rs, err)
				}
			}
			out[i] = rs
		})
	}
	wg.Wait()
	return slices.DeleteFunc(out, func(rs *remoteShare) bool { return rs == nil }), errors.Join(errs...)
}

// checkShare parses the share's header and checks that its verification
// key is the one the cap names and that it signed the signed prefix.
func (f *File) checkShare(ctx context.Context, rs *remoteShare, sigs *sigCache) error {
	h, err := ParseHeader(rs.head)
	if err != nil {
		return err
	}
	rs.hdr = h
	if int(rs.shnum) >= h.N {
		return badShare("share number %d with N=%d", rs.shnum, h.N)
	}
	vk, err := rs.read(ctx, f.si, h.VerificationKeyRange())
	if err != nil {
		return err
	}
	if crypt.SSKPubkeyFingerprint(vk) != f.fingerprint {
		return badShare("verification key does not match the cap's fingerprint")
	}
	sig, err := rs.read(ctx, f.si, h.SignatureRange())
	if err != nil {
		return err
	}
	return sigs.verify(vk, h.Signable(), sig)
}

// sigCache remembers verified signatures: all shares of a version carry
// the same one.
type sigCache struct {
	mu sync.Mutex
	ok map[string]bool
}

func (c *sigCache) verify(vk, signable, sig []byte) error {
	key := string(vk) + "\x00" + string(signable) + "\x00" + string(sig)
	c.mu.Lock()
	done := c.ok[key]
	c.mu.Unlock()
	if done {
		return nil
	}
	pub, err := crypt.ParseRSAPublicKey(vk)
	if err != nil {
		return badShare("verification key: %v", err)
	}
	if err := verify(pub, signable, sig); err != nil {
		return err
	}
	c.mu.Lock()
	c.ok[key] = true
	c.mu.Unlock()
	return nil
}

// versions groups the good shares by version, best first: highest
// seqnum, then highest root hash (Tahoe sorts its verinfo tuples the same
// way), then the rest of the signed prefix.
func (m *serverMap) versions() []*version {
	byPrefix := map[string]*version{}
	var out []*version
	for _, s := range m.shares {
		key := string(s.hdr.Signable())
		v := byPrefix[key]
		if v == nil {
			v = &version{hdr: s.hdr}
			byPrefix[key] = v
			out = append(out, v)
		}
		v.shares = append(v.shares, s)
	}
	slices.SortFunc(out, func(a, b *version) int {
		if a.hdr.Seqnum != b.hdr.Seqnum {
			if a.hdr.Seqnum > b.hdr.Seqnum {
				return -1
			}
			return 1
		}
		if c := bytes.Compare(b.hdr.RootHash[:], a.hdr.RootHash[:]); c != 0 {
			return c
		}
		return bytes.Compare(b.hdr.Signable(), a.hdr.Signable())
	})
	for _, v := range out {
		slices.SortStableFunc(v.shares, func(a, b *remoteShare) int { return int(a.shnum) - int(b.shnum) })
	}
	return out
}

// best is the best recoverable version.
func (m *serverMap) best() (*version, error) {
	vs := m.versions()
	for _, v := range vs {
		if v.recoverable() {
			return v, nil
		}
	}
	if len(vs) == 0 && len(m.bad) == 0 {
		return nil, fmt.Errorf("%w (storage index %v; %s)", ErrNoShares, m.si, m.summary())
	}
	return nil, fmt.Errorf("%w (storage index %v; %s)", ErrNotEnoughShares, m.si, m.summary())
}

// highestSeqnum is the highest seqnum of any good share, recoverable or
// not (0 if none): a new version must be numbered above it.
func (m *serverMap) highestSeqnum() uint64 {
	var n uint64
	for _, s := range m.shares {
		n = max(n, s.hdr.Seqnum)
	}
	return n
}

// known finds what the servermap saw in one slot.
func (m *serverMap) known(s *lafs.Server, sh lafs.ShareNum) *remoteShare {
	for _, l := range [][]*remoteShare{m.shares, m.bad} {
		for _, rs := range l {
			if rs.server == s && rs.shnum == sh {
				return rs
			}
		}
	}
	return nil
}

// summary describes the versions, bad shares and silent servers found.
func (m *serverMap) summary() string {
	var parts []string
	for _, v := range m.versions() {
		parts = append(parts, fmt.Sprintf("seq %d: %d of %d shares needed", v.hdr.Seqnum, v.distinct(), v.hdr.K))
	}
	parts = append(parts, fmt.Sprintf("asked %d servers", len(m.servers)))
	if len(m.bad) > 0 {
		parts = append(parts, fmt.Sprintf("%d bad shares (first: %v)", len(m.bad), m.bad[0].err))
	}
	if len(m.failed) > 0 {
		for s, err := range m.failed {
			parts = append(parts, fmt.Sprintf("%d did not answer (%s: %v)", len(m.failed), s.String(), err))
			break
		}
	}
	return strings.Join(parts, "; ")
}

// adviseCorrupt tells a share's server that the share failed its checks,
// as Tahoe does; nobody waits for the answer.
func (f *File) adviseCorrupt(rs *remoteShare, why error) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rs.server.Storage.AdviseCorruptMutable(ctx, f.si, rs.shnum, why.Error())
	}()
}
