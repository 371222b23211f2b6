package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/dirnode"
)

// The deep traversals: walking a directory tree (Tahoe's deep_traverse in
// dirnode.py), and on it the manifest, deep-stats (deep_stats.py) and
// deep-check.

// Parallelism of the deep traversals. Tahoe walks one node at a time;
// lafs reads a few directories ahead of the walk and checks a few nodes at
// once, while still handing them over in Tahoe's order.
const (
	walkAhead     = 8 // directories read ahead of the walk
	checkParallel = 4 // nodes checked at once by DeepCheck
)

// WalkEntry is one node met by Walk.
type WalkEntry struct {
	// Path is the names leading from the root to the node; empty for the
	// root. The caller may keep it: it is never changed afterwards.
	Path []string
	// Cap is the node's strongest cap as its directory holds it (the
	// write cap when there is one, else the read cap); for an unknown
	// node, the *cap.Unknown kept for it. It is nil only for an unknown
	// node that has no cap at all.
	Cap cap.Cap
	// Kind says whether the node is a file, a directory, or a node of a
	// kind this client does not know (dirnode.KindUnknown).
	Kind dirnode.Kind
	// Size is, for an immutable file (CHK or LIT), its size; for a
	// directory that could be read, the size of its stored contents
	// (Tahoe's get_size of a dirnode); -1 otherwise (mutable files, whose
	// size would cost a query, unknown nodes, unreadable directories).
	Size int64
	// Children is the number of children of a directory that could be
	// read.
	Children int
	// Err is set on a directory that could not be read: Walk hands it
	// over, then stops with an error wrapping Err.
	Err error
}

// VerifyCap is the node's verify cap, nil for LIT files, DIR2-LIT
// directories and unknown nodes.
func (e *WalkEntry) VerifyCap() cap.Cap {
	if e.Cap == nil || e.Kind == dirnode.KindUnknown {
		return nil
	}
	return e.Cap.Verifier()
}

// RepairCap is the weakest cap that can repair the node, as Tahoe's
// get_repair_cap: the verify cap of an immutable file, the write cap of
// a mutable file or directory (nil when only its read cap is known), nil
// for immutable directories, LIT files and unknown nodes.
func (e *WalkEntry) RepairCap() cap.Cap {
	switch c := e.Cap.(type) {
	case *cap.CHK:
		return c.Verifier()
	case *cap.MutableWrite:
		return c
	case *cap.Dir:
		if _, ok := c.File.(*cap.MutableWrite); ok {
			return c
		}
	}
	return nil
}

// StorageIndex is the node's storage index, false when it has none (LIT
// files, DIR2-LIT directories, unknown nodes).
func (e *WalkEntry) StorageIndex() (lafs.StorageIndex, bool) {
	if e.Cap == nil || e.Kind == dirnode.KindUnknown {
		return lafs.StorageIndex{}, false
	}
	return cap.StorageIndex(e.Cap)
}

// Walk visits every node reachable from the directory root, root
// included, calling visit once per node, one call at a time, in Tahoe's
// order: a directory, then its unknown children, then its files (each
// group sorted by name), then its subdirectories one after the other,
// each walked whole before the next. A node reachable along several paths
// (a directory linked twice, a cycle) is visited once, along the first
// path met, as Tahoe does it by remembering verify caps; LIT files, which
// have none, are visited wherever they are linked.
//
// A directory is handed to visit after it has been read, with its Size
// and Children; while visit runs, a few of the directories to come are
// being read. A directory that cannot be read is still handed to visit,
// with Err set, and the walk then stops with an error wrapping that one
// (Tahoe's deep traversals stop there too). A root that is a file or an
// unknown node is visited alone.
//
// Walk stops when ctx ends or visit returns an error, and returns that
// error; it returns only once everything it started has stopped.
func (c *Client) Walk(ctx context.Context, root cap.Cap, visit func(*WalkEntry) error) error {
	kind := (&dirnode.Entry{Write: root}).Kind()
	if kind != dirnode.KindDir {
		return visit(&WalkEntry{Path: []string{}, Cap: root, Kind: kind, Size: fileSize(root)})
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &walker{c: c, ctx: ctx, visit: visit, found: map[string]bool{}}
	defer func() {
		cancel()
		w.wg.Wait()
	}()
	if v := root.Verifier(); v != nil {
		w.found[v.String()] = true
	}
	return w.run(&dirJob{entry: &WalkEntry{Path: []string{}, Cap: root, Kind: dirnode.KindDir}})
}

// walker is one Walk.
type walker struct {
	c     *Client
	ctx   context.Context
	visit func(*WalkEntry) error
	found map[string]bool // verify caps of the nodes met
	ahead int             // directories read ahead and not yet walked
	wg    sync.WaitGroup
}

// dirJob is a directory to walk, and its reading once started.
type dirJob struct {
	entry   *WalkEntry
	started bool
	done    chan struct{}
	kids    []dirnode.Entry
	size    int64
	err     error
}

// start reads j's directory in the background.
func (w *walker) start(j *dirJob) {
	j.started = true
	j.done = make(chan struct{})
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer close(j.done)
		d, err := w.c.Dir(j.entry.Cap)
		if err != nil {
			j.err = err
			return
		}
		j.kids, j.size, j.err = d.listSized(w.ctx)
	}()
}

// run walks depth first from root, keeping the directories still to walk
// on a stack whose top is the next one.
func (w *walker) run(root *dirJob) error {
	stack := []*dirJob{root}
	for len(stack) > 0 {
		j := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if j.started {
			w.ahead--
		} else {
			w.start(j)
		}
		for i := len(stack) - 1; i >= 0 && w.ahead < walkAhead; i-- {
			if !stack[i].started {
				w.start(stack[i])
				w.ahead++
			}
		}
		select {
		case <-j.done:
		case <-w.ctx.Done():
			return w.ctx.Err()
		}
		dirs, err := w.dir(j)
		if err != nil {
			return err
		}
		for i := len(dirs) - 1; i >= 0; i-- {
			stack = append(stack, dirs[i])
		}
	}
	return nil
}

// emit visits e, unless the walk was cancelled: then it returns the
// context's error, so that no entry is visited after a cancel (the
// directories read ahead may already hold many).
func (w *walker) emit(e *WalkEntry) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	return w.visit(e)
}

// dir visits the directory j (read by now) and its unknown children and
// files, and returns its subdirectories still to walk, in order.
func (w *walker) dir(j *dirJob) ([]*dirJob, error) {
	e := j.entry
	if j.err != nil {
		if err := w.ctx.Err(); err != nil {
			return nil, err
		}
		e.Err = j.err
		if err := w.emit(e); err != nil {
			return nil, err
		}
		where := "the root directory"
		if len(e.Path) > 0 {
			where = "directory " + strings.Join(e.Path, "/")
		}
		return nil, fmt.Errorf("client: walk: reading %s: %w", where, j.err)
	}
	e.Size, e.Children = j.size, len(j.kids)
	if err := w.emit(e); err != nil {
		return nil, err
	}
	kids := j.kids
	sort.Slice(kids, func(a, b int) bool { return kids[a].Name < kids[b].Name })
	var files, dirs []*WalkEntry
	for i := range kids {
		k := &kids[i]
		child := &WalkEntry{Path: append(e.Path[:len(e.Path):len(e.Path)], k.Name), Cap: k.Cap(), Kind: k.Kind(), Size: -1}
		if child.Kind == dirnode.KindUnknown {
			if err := w.emit(child); err != nil {
				return nil, err
			}
			continue
		}
		if v := child.Cap.Verifier(); v != nil {
			if w.found[v.String()] {
				continue
			}
			w.found[v.String()] = true
		}
		if child.Kind == dirnode.KindDir {
			dirs = append(dirs, child)
		} else {
			child.Size = fileSize(child.Cap)
			files = append(files, child)
		}
	}
	for _, f := range files {
		if err := w.emit(f); err != nil {
			return nil, err
		}
	}
	jobs := make([]*dirJob, len(dirs))
	for i, d := range dirs {
		jobs[i] = &dirJob{entry: d}
	}
	return jobs, nil
}

// fileSize is the size of an immutable file, known from its cap; -1 for
// anything else.
func fileSize(c cap.Cap) int64 {
	switch c := c.(type) {
	case *cap.CHK:
		return clampSize(c.Size)
	case *cap.LIT:
		return int64(len(c.Data))
	}
	return -1
}

func clampSize(n uint64) int64 {
	if n > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(n)
}

// listSized lists the directory as List does and also returns the size
// of its stored contents: the length of the mutable file's current
// version, or the size of the immutable file.
func (d *Dir) listSized(ctx context.Context) ([]dirnode.Entry, int64, error) {
	switch f := d.cap.File.(type) {
	case *cap.CHK:
		entries, err := d.List(ctx)
		return entries, clampSize(f.Size), err
	case *cap.LIT:
		entries, err := d.List(ctx)
		return entries, int64(len(f.Data)), err
	}
	f, opened, err := d.openFile(ctx)
	if err != nil {
		return nil, -1, err
	}
	var data []byte
	start := time.Now()
	op := d.c.history.begin(ctx, OpKindRetrieve, f.StorageIndex(), f.Size())
	if opened {
		data, err = readCurrent(ctx, f)
	} else {
		data, err = f.Read(ctx)
	}
	d.c.count.done(opRetrieve, len(data), err, start)
	op.endSized(int64(len(data)), err)
	if err != nil {
		return nil, -1, err
	}
	entries, err := dirnode.Unpack(data, d.writeKey, false)
	return entries, int64(len(data)), err
}

// DeepStats sums up a tree as Tahoe's deep-stats does (deep_stats.py):
// counts and sizes of files and directories, and a histogram of file
// sizes. The zero value is ready; Add each node Walk visits. Mutable
// files are counted but their sizes are not known (Tahoe's
// size-mutable-files is not implemented either).
type DeepStats struct {
	CountImmutableFiles      int64
	CountMutableFiles        int64
	CountLiteralFiles        int64
	CountFiles               int64
	CountDirectories         int64
	CountUnknown             int64
	SizeImmutableFiles       int64
	SizeLiteralFiles         int64
	SizeDirectories          int64
	LargestDirectory         int64 // bytes of the largest directory's contents
	LargestDirectoryChildren int64
	LargestImmutableFile     int64
	// SizeFilesHistogram counts the immutable files (CHK and LIT) by
	// size, in Tahoe's buckets (two per decade), sorted by size.
	SizeFilesHistogram []HistogramBucket
}

// HistogramBucket is one bucket of DeepStats.SizeFilesHistogram: Count
// files of Min to Max bytes (both included). It is written in JSON as
// Tahoe writes it, [min, max, count].
type HistogramBucket struct {
	Min, Max, Count int64
}

// MarshalJSON writes the bucket as [min, max, count].
func (b HistogramBucket) MarshalJSON() ([]byte, error) {
	return json.Marshal([3]int64{b.Min, b.Max, b.Count})
}

// Add counts one node. A directory adds its size and its number of
// children when it could be read.
func (s *DeepStats) Add(e *WalkEntry) {
	switch e.Kind {
	case dirnode.KindUnknown:
		s.CountUnknown++
	case dirnode.KindDir:
		s.CountDirectories++
		if e.Err == nil && e.Size >= 0 {
			s.SizeDirectories += e.Size
			s.LargestDirectory = max(s.LargestDirectory, e.Size)
			s.LargestDirectoryChildren = max(s.LargestDirectoryChildren, int64(e.Children))
		}
	default:
		s.CountFiles++
		switch e.Cap.(type) {
		case *cap.LIT:
			s.CountLiteralFiles++
			s.SizeLiteralFiles += e.Size
			s.count(e.Size)
		case *cap.CHK:
			s.CountImmutableFiles++
			s.SizeImmutableFiles += e.Size
			s.LargestImmutableFile = max(s.LargestImmutableFile, e.Size)
			s.count(e.Size)
		default:
			s.CountMutableFiles++
		}
	}
}

// count adds a file of size bytes to the histogram.
func (s *DeepStats) count(size int64) {
	lo, hi := sizeBucket(size)
	i := sort.Search(len(s.SizeFilesHistogram), func(i int) bool { return s.SizeFilesHistogram[i].Min >= lo })
	if i < len(s.SizeFilesHistogram) && s.SizeFilesHistogram[i].Min == lo {
		s.SizeFilesHistogram[i].Count++
		return
	}
	s.SizeFilesHistogram = append(s.SizeFilesHistogram, HistogramBucket{})
	copy(s.SizeFilesHistogram[i+1:], s.SizeFilesHistogram[i:])
	s.SizeFilesHistogram[i] = HistogramBucket{lo, hi, 1}
}

// Size is what Tahoe's deep-size reports: the bytes of the immutable
// files and of the directories (a lower bound of the space the tree
// takes before encoding).
func (s *DeepStats) Size() int64 {
	return s.SizeImmutableFiles + s.SizeDirectories
}

// Clone returns a copy of s that shares nothing with it.
func (s *DeepStats) Clone() *DeepStats {
	c := *s
	c.SizeFilesHistogram = append([]HistogramBucket{}, s.SizeFilesHistogram...)
	return &c
}

// DeepStatsAPIVersion is Tahoe's "api-version" of the deep-stats JSON.
const DeepStatsAPIVersion = 1

// MarshalJSON writes the stats as Tahoe's deep-stats JSON: its keys, in
// its order, starting with "api-version".
func (s DeepStats) MarshalJSON() ([]byte, error) {
	h := s.SizeFilesHistogram
	if h == nil {
		h = []HistogramBucket{}
	}
	return json.Marshal(struct {
		APIVersion               int               `json:"api-version"`
		CountImmutableFiles      int64             `json:"count-immutable-files"`
		CountMutableFiles        int64             `json:"count-mutable-files"`
		CountLiteralFiles        int64             `json:"count-literal-files"`
		CountFiles               int64             `json:"count-files"`
		CountDirectories         int64             `json:"count-directories"`
		CountUnknown             int64             `json:"count-unknown"`
		SizeImmutableFiles       int64             `json:"size-immutable-files"`
		SizeLiteralFiles         int64             `json:"size-literal-files"`
		SizeDirectories          int64             `json:"size-directories"`
		LargestDirectory         int64             `json:"largest-directory"`
		LargestDirectoryChildren int64             `json:"largest-directory-children"`
		LargestImmutableFile     int64             `json:"largest-immutable-file"`
		SizeFilesHistogram       []HistogramBucket `json:"size-files-histogram"`
	}{DeepStatsAPIVersion, s.CountImmutableFiles, s.CountMutableFiles, s.CountLiteralFiles, s.CountFiles,
		s.CountDirectories, s.CountUnknown, s.SizeImmutableFiles, s.SizeLiteralFiles, s.SizeDirectories,
		s.LargestDirectory, s.LargestDirectoryChildren, s.LargestImmutableFile, h})
}

// sizeBuckets are Tahoe's histogram buckets: (0,0), (1,3), then each
// from the last one's end plus one up to the next power of sqrt(10) at
// or above it, computed in floating point exactly as Tahoe's
// next_power_of_k does (4-10, 11-31, 32-100, 101-316, 317-1000, ...).
var sizeBuckets = sync.OnceValue(func() [][2]int64 {
	b := [][2]int64{{0, 0}, {1, 3}}
	root := math.Sqrt(10)
	for b[len(b)-1][1] < math.MaxInt64 {
		lo := b[len(b)-1][1] + 1
		n := new(big.Float).SetInt64(lo)
		p := 1.0
		for new(big.Float).SetFloat64(p).Cmp(n) < 0 {
			p *= root
		}
		hi := int64(math.MaxInt64)
		if p < math.MaxInt64 {
			hi = int64(p)
		}
		b = append(b, [2]int64{lo, hi})
	}
	return b
})

// sizeBucket returns the bucket of Tahoe's histogram that holds size.
func sizeBucket(size int64) (lo, hi int64) {
	b := sizeBuckets()
	i := sort.Search(len(b), func(i int) bool { return b[i][1] >= size })
	if i == len(b) {
		i--
	}
	return b[i][0], b[i][1]
}

// DeepCheckEntry is one node of a deep check: the node as Walk visited it
// and what checking it found.
type DeepCheckEntry struct {
	*WalkEntry
	// Check is the node's check (without opt.Repair); Repair its check
	// and repair (with opt.Repair). Both are nil for the nodes that have
	// no shares to check: LIT files, DIR2-LIT directories and unknown
	// nodes (Tahoe counts them healthy without checking them).
	Check  *lafs.CheckResult
	Repair *lafs.RepairResult
}

// DeepCheck checks every node reachable from root, as Walk visits them,
// with Check, or with CheckAndRepair when opt.Repair is set, and hands
// each result to visit in Walk's order, one call at a time. A few nodes
// are checked at once. It stops at the first error (a directory that
// cannot be read, after visiting it with its check; a check that fails;
// visit's error; ctx ending) and returns it.
func (c *Client) DeepCheck(ctx context.Context, root cap.Cap, opt lafs.CheckOptions, visit func(*DeepCheckEntry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type pending struct {
		e    *DeepCheckEntry
		err  error
		done chan struct{}
	}
	queue := make(chan *pending, checkParallel)
	var wg sync.WaitGroup
	emitted := make(chan error, 1)
	go func() {
		var err error
		for p := range queue {
			if err != nil {
				continue
			}
			select {
			case <-p.done:
			case <-ctx.Done():
				err = ctx.Err()
				continue
			}
			if err = p.err; err == nil {
				err = visit(p.e)
			}
			if err != nil {
				cancel()
			}
		}
		emitted <- err
	}()
	walkErr := c.Walk(ctx, root, func(e *WalkEntry) error {
		p := &pending{e: &DeepCheckEntry{WalkEntry: e}, done: make(chan struct{})}
		select {
		case queue <- p:
		case <-ctx.Done():
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(p.done)
			p.err = c.checkNode(ctx, p.e, opt)
		}()
		return nil
	})
	close(queue)
	wg.Wait()
	visitErr := <-emitted
	switch {
	case visitErr != nil && !(errors.Is(visitErr, context.Canceled) && walkErr != nil):
		return visitErr
	case walkErr != nil:
		return walkErr
	}
	return visitErr
}

// checkNode checks one node of a deep check.
func (c *Client) checkNode(ctx context.Context, e *DeepCheckEntry, opt lafs.CheckOptions) error {
	if e.Kind == dirnode.KindUnknown || e.Cap == nil {
		return nil
	}
	var err error
	if opt.Repair {
		e.Repair, err = c.CheckAndRepair(ctx, e.Cap, opt)
	} else {
		e.Check, err = c.Check(ctx, e.Cap, opt)
	}
	if err != nil {
		where := "the root"
		if len(e.Path) > 0 {
			where = strings.Join(e.Path, "/")
		}
		return fmt.Errorf("client: deep check of %s: %w", where, err)
	}
	return nil
}
