package client

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/immutable"
)

// A Client's History is what the node's /status page shows, as Tahoe's
// History (src/allmydata/history.py) feeds its status page: the
// operations under way and the recent ones, newest first, each with its
// kind, the storage index of its file (never a cap), its size, how far
// it got, a status line and its times. Tracked are:
//
//   - uploads of immutable files (LIT files and immutable directories
//     included), from the hashing for the convergent key through the
//     encoding and pushing of the shares; the storage index is known
//     once the upload ends;
//   - downloads: each streamed read of a CHK file (WriteRange, as the web
//     API's GETs and the reading of immutable directories do); ReadAt,
//     which programs may call for a few bytes at a time, is not tracked;
//   - publishes of mutable files and directories: new ones, overwrites,
//     writes at an offset, read-modify-writes (each directory change);
//   - retrieves of mutable files and directories: whole reads, streamed
//     reads and directory listings.
//
// As in Tahoe, only so many finished operations of each kind are kept:
// the last 10 uploads, 10 downloads, 20 publishes and 40 retrieves.

// OpKind is the kind of an operation in a History, named as Tahoe's
// status page names it.
type OpKind string

// The kinds of operation a History tracks.
const (
	OpKindUpload   OpKind = "upload"
	OpKindDownload OpKind = "download"
	OpKindPublish  OpKind = "publish"
	OpKindRetrieve OpKind = "retrieve"
)

// recentLimits is how many finished operations of each kind a History
// keeps: Tahoe's MAX_UPLOAD_STATUSES and the like.
var recentLimits = map[OpKind]int{
	OpKindUpload:   10,
	OpKindDownload: 10,
	OpKindPublish:  20,
	OpKindRetrieve: 40,
}

// OpStatus is one operation as a History saw it at one moment.
type OpStatus struct {
	// ID numbers the operations of a client from 1, in the order they
	// began.
	ID   uint64
	Kind OpKind
	// StorageIndex is the storage index of the operation's file, if
	// HasStorageIndex: an upload knows it only once it has ended (a LIT
	// file, which lives in its cap, has none).
	StorageIndex    lafs.StorageIndex
	HasStorageIndex bool
	// Size is the file's size in bytes (for a download or a retrieve,
	// how many bytes were asked for), -1 if not known.
	Size int64
	// Hashed counts the bytes of an upload read to make its convergent
	// key (the first of its two passes over the file); it is Size for an
	// upload with a random key, and 0 for other kinds.
	Hashed int64
	// Done counts the bytes moved: of an upload, those encrypted and
	// encoded (its ciphertext); of a download or retrieve, those
	// delivered; of a publish, Size once it has ended well.
	Done int64
	// Pushed counts the share bytes of an upload that servers have
	// stored, of PushTotal, what all its shares hold (shares found
	// already in place are not sent, so an upload may end short of it).
	Pushed, PushTotal int64
	// Status says what the operation is doing, or how it ended
	// ("Finished" or "Failed").
	Status string
	// Active says it is under way; Finished is zero until it has ended.
	Active            bool
	Failed            bool
	Started, Finished time.Time
	// Tag is what the program that asked for it called it
	// (WithOperationTag), or "".
	Tag string
}

// Progress is the fraction (0 to 1) of the operation's bytes done: for
// an upload, of its share bytes pushed to servers.
func (s OpStatus) Progress() float64 {
	if s.Kind == OpKindUpload {
		return fraction(s.Pushed, s.PushTotal, s)
	}
	return fraction(s.Done, s.Size, s)
}

// CiphertextProgress is the fraction (0 to 1) of an upload's file that
// has been encrypted and encoded (Progress for other kinds).
func (s OpStatus) CiphertextProgress() float64 {
	if s.Kind != OpKindUpload {
		return s.Progress()
	}
	return fraction(s.Done, s.Size, s)
}

// HashProgress is the fraction (0 to 1) of an upload's first pass, over
// the file to make its key, that is done (1 for other kinds).
func (s OpStatus) HashProgress() float64 {
	if s.Kind != OpKindUpload {
		return 1
	}
	return fraction(s.Hashed, s.Size, s)
}

func fraction(n, of int64, s OpStatus) float64 {
	switch {
	case !s.Active && !s.Failed:
		return 1
	case of <= 0:
		return 0
	}
	return min(float64(n)/float64(of), 1)
}

// History keeps a client's operations under way and its recent ones. It
// is safe for concurrent use.
type History struct {
	mu     sync.Mutex
	now    func() time.Time
	next   uint64
	active map[uint64]*trackedOp
	recent map[OpKind][]OpStatus // oldest first, each at most RecentLimits
}

func newHistory() *History {
	return &History{now: time.Now, active: map[uint64]*trackedOp{}, recent: map[OpKind][]OpStatus{}}
}

// History returns the client's history of operations.
func (c *Client) History() *History { return c.history }

// Snapshot returns the operations under way and the recent ones, each
// newest first.
func (h *History) Snapshot() (active, recent []OpStatus) {
	if h == nil {
		return nil, nil
	}
	h.mu.Lock()
	for _, op := range h.active {
		active = append(active, op.s)
	}
	for _, ops := range h.recent {
		recent = append(recent, ops...)
	}
	h.mu.Unlock()
	newestFirst := func(a, b OpStatus) int {
		if c := b.Started.Compare(a.Started); c != 0 {
			return c
		}
		return int(int64(b.ID) - int64(a.ID))
	}
	slices.SortFunc(active, newestFirst)
	slices.SortFunc(recent, newestFirst)
	return active, recent
}

// trackedOp is an operation under way. Its methods may be called on nil
// (a client without a history), doing nothing.
type trackedOp struct {
	h *History
	s OpStatus // guarded by h.mu
}

// begin records an operation of kind on the file with storage index si.
func (h *History) begin(ctx context.Context, kind OpKind, si lafs.StorageIndex, size int64) *trackedOp {
	op := h.beginUnknown(ctx, kind, size)
	if op != nil {
		h.mu.Lock()
		op.s.StorageIndex, op.s.HasStorageIndex = si, true
		h.mu.Unlock()
	}
	return op
}

// beginUnknown records an operation whose storage index is not known yet.
func (h *History) beginUnknown(ctx context.Context, kind OpKind, size int64) *trackedOp {
	if h == nil {
		return nil
	}
	status := map[OpKind]string{
		OpKindUpload: "Hashing", OpKindDownload: "Fetching",
		OpKindPublish: "Publishing", OpKindRetrieve: "Retrieving",
	}[kind]
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	op := &trackedOp{h: h, s: OpStatus{ID: h.next, Kind: kind, Size: size, Status: status,
		Active: true, Started: h.now(), Tag: tagFrom(ctx)}}
	h.active[op.s.ID] = op
	return op
}

// update changes the operation under the history's lock.
func (o *trackedOp) update(f func(s *OpStatus)) {
	if o == nil {
		return
	}
	o.h.mu.Lock()
	defer o.h.mu.Unlock()
	if o.s.Active {
		f(&o.s)
	}
}

// add counts n more bytes done.
func (o *trackedOp) add(n int64) { o.update(func(s *OpStatus) { s.Done += n }) }

// end ends the operation, failed if err is not nil, and returns err.
func (o *trackedOp) end(err error) error {
	o.update(func(s *OpStatus) {
		if err == nil && s.Kind == OpKindPublish && s.Size >= 0 {
			s.Done = s.Size
		}
	})
	o.finish(err != nil)
	return err
}

// endSized is end for an operation whose size is known only at its end.
func (o *trackedOp) endSized(size int64, err error) error {
	o.update(func(s *OpStatus) {
		s.Size = size
		if err == nil && s.Kind == OpKindRetrieve {
			s.Done = size
		}
	})
	return o.end(err)
}

// endByBytes ends a read: it failed unless it delivered every byte asked.
func (o *trackedOp) endByBytes() {
	if o == nil {
		return
	}
	o.h.mu.Lock()
	failed := o.s.Size >= 0 && o.s.Done < o.s.Size
	o.h.mu.Unlock()
	o.finish(failed)
}

// finish moves the operation to the recent ones.
func (o *trackedOp) finish(failed bool) {
	if o == nil {
		return
	}
	h := o.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if !o.s.Active {
		return
	}
	o.s.Active, o.s.Failed, o.s.Finished = false, failed, h.now()
	o.s.Status = "Finished"
	if failed {
		o.s.Status = "Failed"
	}
	delete(h.active, o.s.ID)
	limit := recentLimits[o.s.Kind]
	r := append(h.recent[o.s.Kind], o.s)
	if len(r) > limit {
		r = slices.Delete(r, 0, len(r)-limit)
	}
	h.recent[o.s.Kind] = r
}

// writer counts the bytes written through it as done.
func (o *trackedOp) writer(w io.Writer) io.Writer {
	if o == nil {
		return w
	}
	return &opWriter{w: w, op: o}
}

type opWriter struct {
	w  io.Writer
	op *trackedOp
}

func (w *opWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.op.add(int64(n))
	return n, err
}

// upload runs up.Upload, tracking it as an upload: the first pass over r
// (making the convergent key) as hashing, then opt.Progress's counts of
// the bytes encoded and pushed.
func (h *History) upload(ctx context.Context, up *immutable.Uploader, r io.ReaderAt, size int64, opt immutable.UploadOptions) (*immutable.UploadResult, error) {
	op := h.beginUnknown(ctx, OpKindUpload, size)
	if op == nil {
		return up.Upload(ctx, r, size, opt)
	}
	hashing := opt.Convergence != nil && opt.Key == nil && size > immutable.LITThreshold
	op.update(func(s *OpStatus) {
		if !hashing {
			s.Hashed, s.Status = size, "Contacting servers"
		}
	})
	if size > immutable.LITThreshold {
		p := opt.Params
		if p.Happy == 0 {
			p.Happy = p.K
		}
		if plan, err := immutable.NewPlan(uint64(size), p); err == nil {
			op.update(func(s *OpStatus) { s.PushTotal = int64(plan.Layout.ShareSize()) * int64(plan.Geometry.N) })
		}
	}
	hr := &hashingReader{r: r, op: op, size: size}
	progress := opt.Progress
	opt.Progress = func(done, total int64) {
		op.update(func(s *OpStatus) {
			hr.encoding = true
			s.Hashed, s.Done = size, done
			s.Status = "Encoding and pushing"
			if done >= size {
				s.Status = "Pushing the last segments and hashes"
			}
		})
		if progress != nil {
			progress(done, total)
		}
	}
	res, err := up.Upload(context.WithValue(ctx, uploadKey{}, op), hr, size, opt)
	if err == nil {
		op.update(func(s *OpStatus) {
			s.Hashed, s.Done = size, size
			if k, ok := res.Cap.(*cap.CHK); ok {
				s.StorageIndex, s.HasStorageIndex = k.StorageIndex(), true
			}
		})
	}
	op.end(err)
	return res, err
}

type uploadKey struct{}

// pushed counts n bytes of shares written (unless err) by the upload whose
// ctx it is.
func pushed(ctx context.Context, n int, err error) {
	if err != nil {
		return
	}
	if op, ok := ctx.Value(uploadKey{}).(*trackedOp); ok {
		op.update(func(s *OpStatus) { s.Pushed += int64(n) })
	}
}

// hashingReader counts an upload's first pass over its file, which makes
// the convergent key: every read before the encoding starts.
type hashingReader struct {
	r        io.ReaderAt
	op       *trackedOp
	size     int64
	encoding bool // set under the history's lock once encoding began
}

func (r *hashingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.r.ReadAt(p, off)
	r.op.update(func(s *OpStatus) {
		if r.encoding || off+int64(n) <= s.Hashed {
			return
		}
		s.Hashed = min(off+int64(n), r.size)
		if s.Hashed >= r.size {
			s.Status = "Contacting servers"
		}
	})
	return n, err
}

// file wraps a CHK file just opened so that its streamed reads are
// tracked as downloads.
func (h *History) file(k *cap.CHK, f File, err error) (File, error) {
	if err != nil || h == nil {
		return f, err
	}
	return &trackedFile{File: f, h: h, si: k.StorageIndex()}, nil
}

// trackedFile is a CHK file whose streamed reads are tracked.
type trackedFile struct {
	File
	h  *History
	si lafs.StorageIndex
}

func (f *trackedFile) WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error) {
	size := f.Size()
	if length < 0 || off+length > size {
		length = size - off
	}
	op := f.h.begin(ctx, OpKindDownload, f.si, max(length, 0))
	defer op.endByBytes()
	return f.File.WriteRange(ctx, op.writer(w), off, length)
}

type tagKey struct{}

// maxTagLen bounds an operation's tag.
const maxTagLen = 64

// WithOperationTag returns ctx carrying tag, by which the operations of
// the client made with that ctx are known in its History (OpStatus.Tag):
// the web API tags the operations of a request that carries one, so
// that the program that made it can follow their progress on the
// node's /status page. A tag is letters, digits, '-', '_' and '.', at
// most 64 of them; any other is ignored.
func WithOperationTag(ctx context.Context, tag string) context.Context {
	if !validTag(tag) {
		return ctx
	}
	return context.WithValue(ctx, tagKey{}, tag)
}

func validTag(tag string) bool {
	if tag == "" || len(tag) > maxTagLen {
		return false
	}
	return strings.IndexFunc(tag, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_' || r == '.')
	}) < 0
}

func tagFrom(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	tag, _ := ctx.Value(tagKey{}).(string)
	return tag
}
