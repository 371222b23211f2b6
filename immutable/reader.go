package immutable

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/crypt"
	"github.com/lafs/lafs/zfec"
)

// Hedging: a request that is late against what the servers in use usually
// take gets a twin on another share, the first answer wins, and the slow
// server is used last for a while.
const (
	// lateFactor times the usual answer time makes a request late.
	lateFactor = 4
	// minLate is the shortest time after which a request can be late.
	minLate = 300 * time.Millisecond
	// usualUnknown stands for the usual answer time before any is known.
	usualUnknown = 250 * time.Millisecond
	// demoteFor is how long a server that lost a race is used last.
	demoteFor = time.Minute
)

// Reader reads a CHK file from its shares, checking every hash: the UEB
// against the cap, each share's block hash tree against the share hash tree
// root in the UEB, every block against its share's tree, and every decoded
// segment against the crypttext hash tree. A share that fails any check is
// dropped (and its server told, when it failed its hashes) and another
// takes its place. A request that is late gets a twin on another share,
// and whichever answers first is used. A Reader is safe for concurrent use.
type Reader struct {
	cap *cap.CHK
	si  lafs.StorageIndex
	// ciphertext says the reader has no key (it was opened from a verify
	// cap, to repair): segments are returned as verified ciphertext.
	ciphertext bool
	codec      *zfec.Codec
	info       *fileInfo // set by NewReader, then read-only
	// timeout bounds each storage request (0: only the caller's ctx).
	timeout time.Duration
	cache   *segmentCache // may be nil

	mu      sync.Mutex
	active  []*activeShare // opened and checked, best first
	spare   []Share        // candidates not yet opened, best first
	opening int            // spares being opened
	changed chan struct{}  // closed when a share opens or goes back
	failed  []error        // why shares were dropped
	calls   map[int]*segmentCall
}

// segmentCall is a segment being read, which concurrent readers share.
type segmentCall struct {
	done chan struct{}
	seg  []byte
	err  error
	// quit says the reader who read it gave up (its context ended): the
	// others read it themselves.
	quit bool
}

// NewReader prepares to read the file c from any k of shares (candidates
// may repeat share numbers, as when several servers hold the same share).
// It opens k shares at once.
func NewReader(ctx context.Context, c *cap.CHK, shares []Share) (*Reader, error) {
	return newReader(ctx, c, shares, 0, nil)
}

func newReader(ctx context.Context, c *cap.CHK, shares []Share, timeout time.Duration, cache *segmentCache) (*Reader, error) {
	codec, err := zfec.New(c.K, c.N)
	if err != nil {
		return nil, fmt.Errorf("cap %s: %w", c.StorageIndex(), err)
	}
	r := &Reader{cap: c, si: c.StorageIndex(), codec: codec, timeout: timeout, cache: cache, calls: map[int]*segmentCall{}, changed: make(chan struct{})}
	return r.start(ctx, shares)
}

// newCiphertextReader is a reader of the file v names that returns its
// segments as verified ciphertext, for a repairer that has no key.
func newCiphertextReader(ctx context.Context, v *cap.CHKVerifier, shares []Share, timeout time.Duration) (*Reader, error) {
	c := chkOf(v)
	codec, err := zfec.New(c.K, c.N)
	if err != nil {
		return nil, fmt.Errorf("storage index %s: %w", v.StorageIndex, err)
	}
	r := &Reader{cap: c, si: v.StorageIndex, ciphertext: true, codec: codec, timeout: timeout, calls: map[int]*segmentCall{}, changed: make(chan struct{})}
	return r.start(ctx, shares)
}

// chkOf is a keyless CHK cap with v's fields: enough to open and check
// shares, not to decrypt them.
func chkOf(v *cap.CHKVerifier) *cap.CHK {
	return &cap.CHK{UEBHash: v.UEBHash, K: v.K, N: v.N, Size: v.Size}
}

// start takes the candidate shares and opens k of them.
func (r *Reader) start(ctx context.Context, shares []Share) (*Reader, error) {
	c := r.cap
	for _, s := range shares {
		if int(s.Num()) < c.N {
			r.spare = append(r.spare, s)
		}
	}
	// Servers found slow lately go last; then primary shares, whose
	// decoding is a copy rather than a matrix inversion.
	sort.SliceStable(r.spare, func(i, j int) bool {
		di, dj := demoted(r.spare[i]), demoted(r.spare[j])
		if di != dj {
			return dj
		}
		return int(r.spare[i].Num()) < c.K && int(r.spare[j].Num()) >= c.K
	})
	if _, err := r.race(ctx, c.K, -1, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// Size is the file's size in bytes.
func (r *Reader) Size() int64 { return int64(r.cap.Size) }

// UEB is the file's verified URI extension block.
func (r *Reader) UEB() *UEB { return r.info.ueb }

func latencyOf(s Share) *lafs.Latency {
	if rs, ok := s.(*remoteShare); ok {
		return rs.server.Latency
	}
	return nil
}

func demoted(s Share) bool { return latencyOf(s).Demoted() }

// usual is what the servers of the shares in use or to try usually take
// to answer: the median of what is known of them.
func (r *Reader) usual() time.Duration {
	r.mu.Lock()
	var ds []time.Duration
	for _, a := range r.active {
		if d := latencyOf(a.share).Typical(); d > 0 {
			ds = append(ds, d)
		}
	}
	for _, s := range r.spare {
		if d := latencyOf(s).Typical(); d > 0 {
			ds = append(ds, d)
		}
	}
	r.mu.Unlock()
	if len(ds) == 0 {
		return usualUnknown
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// next picks a share for a task on segment seg (-1: only opening), none of
// whose number is in busy and whose block of seg is not known bad: an
// opened one if any, else a spare to open; servers found slow lately come
// last. When there is none it returns a channel that is closed when a
// share that another race is opening is done (so that there may be one),
// or nil when no share is being opened: then none will come.
func (r *Reader) next(busy map[lafs.ShareNum]bool, seg int) (*activeShare, Share, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, slow := range []bool{false, true} {
		for _, a := range r.active {
			if !busy[a.share.Num()] && !a.badBlocks[seg] && demoted(a.share) == slow {
				return a, nil, nil
			}
		}
		for i, s := range r.spare {
			if !busy[s.Num()] && demoted(s) == slow {
				r.spare = slices.Delete(r.spare, i, i+1)
				r.opening++
				return nil, s, nil
			}
		}
	}
	if r.opening == 0 {
		return nil, nil, nil
	}
	return nil, nil, r.changed
}

// open opens a spare share that next gave and adds it to the active
// ones. A share whose opening was cancelled (its race ended) goes back
// among the spares at once, so that it is never in neither list.
func (r *Reader) open(ctx context.Context, s Share) (*activeShare, error) {
	a, info, err := openShare(ctx, r.cap, s, r.knownInfo())
	r.mu.Lock()
	defer r.mu.Unlock()
	r.opening--
	defer r.signal() // success or not: races waiting on opens look again
	if err != nil {
		if errors.Is(err, context.Canceled) {
			r.spare = append(r.spare, s)
		}
		return nil, err
	}
	if r.info == nil {
		r.info = info
	}
	r.active = append(r.active, a)
	return a, nil
}

// signal wakes the races waiting for a share to open. r.mu held.
func (r *Reader) signal() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *Reader) knownInfo() *fileInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.info
}

// fail records why a share failed a task for segment seg (-1: opening it)
// and drops it; but a share whose block failed its hash is kept for its
// other blocks (each is checked on its own). Its server is told when the
// share failed its hashes.
func (r *Reader) fail(a *activeShare, s Share, seg int, err error) {
	r.mu.Lock()
	if a != nil {
		if seg >= 0 && errors.Is(err, ErrCorrupt) {
			if a.badBlocks == nil {
				a.badBlocks = map[int]bool{}
			}
			a.badBlocks[seg] = true
		} else if i := slices.Index(r.active, a); i >= 0 {
			r.active = slices.Delete(r.active, i, i+1)
		}
	}
	r.failed = append(r.failed, &ShareError{s.Num(), err})
	r.mu.Unlock()
	if errors.Is(err, context.DeadlineExceeded) {
		latencyOf(s).Demote(demoteFor)
	}
	if adv, ok := s.(corruptionAdviser); ok && (errors.Is(err, ErrCorrupt) || errors.Is(err, lafs.ErrCorruptContainer)) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			adv.AdviseCorrupt(ctx, err.Error())
		}()
	}
}

// demote moves a share that lost a race to the end of the active ones and
// marks its server as slow.
func (r *Reader) demote(s Share) {
	latencyOf(s).Demote(demoteFor)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, a := range r.active {
		if a.share == s {
			r.active = append(slices.Delete(r.active, i, i+1), a)
			return
		}
	}
}

// footprint estimates the memory the reader holds: the hash trees of the
// shares it may open, and the small shares it holds whole.
func (r *Reader) footprint() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	perShare := int64(64*r.info.geom.NumSegments) + 512
	n := int64(4 << 10)
	for _, a := range r.active {
		n += perShare + int64(len(a.whole))
	}
	return n + int64(len(r.spare))*perShare
}

// exhausted reports whether the reader has fewer than k shares left to
// try: a Downloader then forgets it, so that the next open looks for
// shares afresh.
func (r *Reader) exhausted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	nums := map[lafs.ShareNum]bool{}
	for _, a := range r.active {
		nums[a.share.Num()] = true
	}
	for _, s := range r.spare {
		nums[s.Num()] = true
	}
	return len(nums) < r.cap.K
}

func (r *Reader) notEnough(good, want int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := fmt.Errorf("%w: %d of %d (storage index %s)", ErrNotEnoughShares, good, want, r.si)
	if len(r.failed) > 0 {
		return fmt.Errorf("%w; failures: %w", err, errors.Join(r.failed...))
	}
	return err
}

// attempt is one task of a race on one share.
type attempt struct {
	share  Share
	lateAt time.Time
	hedged bool
}

// race runs task on want shares of distinct numbers at once, for segment
// seg, opening shares as needed (with a nil task and seg -1 it only opens
// them). A share that fails is dropped (for seg only, when its block failed
// its hash) and another takes its place; when a task is late
// against what the servers usually take, another share gets a twin task,
// and the first answers win; servers that lost are used last for a while.
// It returns each winning share's result.
func (r *Reader) race(ctx context.Context, want, seg int, task func(ctx context.Context, a *activeShare) ([]byte, error)) (map[*activeShare][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		at   *attempt
		a    *activeShare
		data []byte
		err  error
	}
	results := make(chan result)
	pending := map[*attempt]bool{}
	busy := map[lafs.ShareNum]bool{}
	got := map[*activeShare][]byte{}
	usual := r.usual()
	// launch starts a task on another share, or returns what to wait on
	// for one (see next).
	var opened <-chan struct{}
	launch := func() bool {
		a, s, wait := r.next(busy, seg)
		if a == nil && s == nil {
			opened = wait
			return false
		}
		late := lateFactor * usual
		if a == nil {
			late *= 2 // opening takes a request or two more
		} else {
			s = a.share
		}
		at := &attempt{share: s, lateAt: time.Now().Add(max(late, minLate))}
		pending[at] = true
		busy[s.Num()] = true
		go func() {
			start := time.Now()
			res := result{at: at, a: a}
			tctx, tcancel := ctx, context.CancelFunc(func() {})
			if r.timeout > 0 {
				tctx, tcancel = context.WithTimeout(ctx, r.timeout)
			}
			defer tcancel()
			if res.a == nil {
				res.a, res.err = r.open(tctx, s)
			}
			if res.err == nil && task != nil {
				res.data, res.err = task(tctx, res.a)
			}
			if res.err == nil {
				latencyOf(s).Observe(time.Since(start))
			}
			select {
			case results <- res:
			case <-ctx.Done():
				// The race is over. A share whose opening was cut went
				// back among the spares (open); a failure still counts.
				if res.err != nil && !errors.Is(res.err, context.Canceled) {
					r.fail(res.a, s, seg, res.err)
				}
			}
		}()
		return true
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for len(got) < want {
		// Shares that other races are opening may come to fill the
		// places that no share could be launched on.
		opened = nil
		for len(pending)+len(got) < want && launch() {
		}
		if len(pending) == 0 && opened == nil {
			return nil, r.notEnough(len(got), want)
		}
		var next time.Time
		for at := range pending {
			if !at.hedged && (next.IsZero() || at.lateAt.Before(next)) {
				next = at.lateAt
			}
		}
		if next.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(next))
		}
		select {
		case res := <-results:
			delete(pending, res.at)
			if res.err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				delete(busy, res.at.share.Num())
				r.fail(res.a, res.at.share, seg, res.err)
				continue
			}
			got[res.a] = res.data
		case <-timer.C:
			now := time.Now()
			for at := range pending {
				if !at.hedged && !now.Before(at.lateAt) {
					at.hedged = true
					launch()
				}
			}
		case <-opened:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for at := range pending {
		if at.hedged {
			r.demote(at.share)
		}
	}
	return got, nil
}

// Segment returns the plaintext of segment i, fetching blocks from k shares
// in parallel and replacing any share that fails, lies or is late. The
// result is shared with other callers and must not be changed.
func (r *Reader) Segment(ctx context.Context, i int) ([]byte, error) {
	g := r.info.geom
	if i < 0 || i >= g.NumSegments {
		return nil, fmt.Errorf("segment %d out of range (file has %d)", i, g.NumSegments)
	}
	if seg := r.cache.get(r.cap, i); seg != nil {
		return seg, nil
	}
	for {
		r.mu.Lock()
		c, ok := r.calls[i]
		if !ok {
			c = &segmentCall{done: make(chan struct{})}
			r.calls[i] = c
		}
		r.mu.Unlock()
		if !ok {
			c.seg, c.err = r.readSegment(ctx, i)
			c.quit = c.err != nil && ctx.Err() != nil
			if c.err == nil {
				r.cache.put(r.cap, i, c.seg)
			}
			r.mu.Lock()
			delete(r.calls, i)
			r.mu.Unlock()
			close(c.done)
			return c.seg, c.err
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if !c.quit {
			return c.seg, c.err
		}
		// The reader we waited for gave up; read it ourselves.
	}
}

func (r *Reader) readSegment(ctx context.Context, i int) ([]byte, error) {
	g := r.info.geom
	got, err := r.race(ctx, g.K, i, func(ctx context.Context, a *activeShare) ([]byte, error) {
		return a.readBlock(ctx, g, i)
	})
	if err != nil {
		return nil, fmt.Errorf("segment %d of %d: %w", i, g.NumSegments, err)
	}
	blocks := make([][]byte, 0, g.K)
	nums := make([]int, 0, g.K)
	for a, b := range got {
		blocks = append(blocks, b)
		nums = append(nums, int(a.share.Num()))
	}
	data, err := r.codec.Decode(blocks, nums)
	if err != nil {
		return nil, fmt.Errorf("decoding segment %d: %w", i, err)
	}
	bl := g.BlockLen(i)
	seg := make([]byte, 0, g.K*bl)
	for _, d := range data {
		seg = append(seg, d...)
	}
	seg = seg[:g.SegmentLen(i)]
	ct := r.info.ctTree
	if crypt.CrypttextSegmentHash(seg) != ct[len(ct)-ct.NumLeaves()+i] {
		return nil, fmt.Errorf("%w: segment %d decodes to ciphertext that fails its hash", ErrCorrupt, i)
	}
	if r.ciphertext {
		return seg, nil
	}
	stream, err := crypt.NewCTRAt(r.cap.Key[:], int64(i)*int64(g.SegmentSize))
	if err != nil {
		return nil, err
	}
	stream.XORKeyStream(seg, seg)
	return seg, nil
}

// ReadAt reads len(p) bytes of plaintext at off, as io.ReaderAt.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	return r.ReadAtContext(context.Background(), p, off)
}

// ReadAtContext is ReadAt with a context.
func (r *Reader) ReadAtContext(ctx context.Context, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	n := 0
	for n < len(p) {
		if off >= r.Size() {
			return n, io.EOF
		}
		i := int(off / int64(r.info.geom.SegmentSize))
		seg, err := r.Segment(ctx, i)
		if err != nil {
			return n, err
		}
		c := copy(p[n:], seg[off-int64(i)*int64(r.info.geom.SegmentSize):])
		n += c
		off += int64(c)
	}
	return n, nil
}

// WriteRange streams length bytes of plaintext from off to w, fetching a
// few segments ahead in parallel; length < 0 means to the end of the file.
func (r *Reader) WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error) {
	size := r.Size()
	if off < 0 || off > size {
		return 0, fmt.Errorf("offset %d outside the file (size %d)", off, size)
	}
	if length < 0 || off+length > size {
		length = size - off
	}
	if length == 0 {
		return 0, nil
	}
	ss := int64(r.info.geom.SegmentSize)
	first, last := int(off/ss), int((off+length-1)/ss)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	type result struct {
		seg []byte
		err error
	}
	const ahead = 4
	pending := make(chan chan result, ahead)
	go func() {
		defer close(pending)
		for i := first; i <= last; i++ {
			ch := make(chan result, 1)
			select {
			case pending <- ch:
			case <-ctx.Done():
				return
			}
			go func() {
				seg, err := r.Segment(ctx, i)
				ch <- result{seg, err}
			}()
		}
	}()
	var written int64
	for i := first; i <= last; i++ {
		ch, ok := <-pending
		if !ok {
			return written, ctx.Err()
		}
		res := <-ch
		if res.err != nil {
			return written, res.err
		}
		seg := res.seg
		start := int64(i) * ss
		if i == first {
			seg = seg[off-start:]
			start = off
		}
		if end := off + length; start+int64(len(seg)) > end {
			seg = seg[:end-start]
		}
		n, err := w.Write(seg)
		written += int64(n)
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// WriteTo streams the whole file to w.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	return r.WriteRange(context.Background(), w, 0, -1)
}
