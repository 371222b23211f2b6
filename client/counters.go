package client

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs/cap"
	"github.com/lafs/lafs/mutable"
)

// What a Client counts, for the node's /statistics page. The counters
// count what Tahoe's do (its uploader, downloader and History), at the
// same places:
//
//   - uploader: every immutable upload, LIT files and immutable
//     directories included, with the size of the file, when it starts;
//   - downloader: every read of a CHK file (each WriteRange or ReadAt,
//     an immutable directory's reading included), with the bytes asked
//     for, when it starts; LIT files are not counted;
//   - mutable publishes: every new version of a mutable file or
//     directory (a new one, an overwrite, each attempt of a
//     read-modify-write that changes something, an SDMF file written at
//     an offset), with the size of the new version, when it starts;
//   - mutable retrieves: every read of a mutable file or directory (each
//     read call, each directory listing, each attempt of a
//     read-modify-write), with the size of the version read, whatever
//     part of it was asked for. A write at an offset into an MDMF file
//     is an update in place, which Tahoe counts neither as a retrieve nor
//     as a publish; nor are repairs counted.
//
// Besides, a Client times its operations in histograms: the
// uploads and downloads counted above (a download's first read includes
// the time taken to open the file), every write of a mutable file or
// directory as one publish (MDMF updates in place too, and an SDMF write
// at an offset, which reads and publishes, as one), every read and
// directory listing as one retrieve, and every check of a file or
// directory that has shares. A read-modify-write times its first read and
// its last publish.

// timedOp is a kind of operation whose durations a Client keeps.
type timedOp int

// The operations a Client counts and times.
const (
	opUpload timedOp = iota
	opDownload
	opPublish
	opRetrieve
	opCheck
	numOps
)

// opNames name the operations in Histogram.Op.
var opNames = [numOps]string{"upload", "download", "publish", "retrieve", "check"}

// latencyBounds are the upper bounds of the buckets of every operation's
// histogram: from a millisecond (a LIT upload, a cached read) to ten
// minutes (a large file over a slow link); longer ones fall in the last,
// unbounded bucket.
var latencyBounds = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second,
	10 * time.Second, 30 * time.Second, time.Minute,
	2 * time.Minute, 5 * time.Minute, 10 * time.Minute,
}

// Counters are what a Client counted since it was made (see
// Client.Counters), under the names of Tahoe's counters in comments.
type Counters struct {
	// FilesUploaded and BytesUploaded count immutable uploads
	// (uploader.files_uploaded, uploader.bytes_uploaded).
	FilesUploaded, BytesUploaded int64
	// FilesDownloaded and BytesDownloaded count reads of CHK files
	// (downloader.files_downloaded, downloader.bytes_downloaded).
	FilesDownloaded, BytesDownloaded int64
	// FilesPublished and BytesPublished count new versions of mutable
	// files and directories (mutable.files_published,
	// mutable.bytes_published).
	FilesPublished, BytesPublished int64
	// FilesRetrieved and BytesRetrieved count reads of mutable files and
	// directories (mutable.files_retrieved, mutable.bytes_retrieved).
	FilesRetrieved, BytesRetrieved int64
	// Latencies holds one histogram for each kind of operation, in the
	// order upload, download, publish, retrieve, check.
	Latencies []Histogram
	// Since is when the client began counting.
	Since time.Time
}

// Histogram is how long the operations of one kind took.
type Histogram struct {
	// Op names the operations: "upload", "download", "publish",
	// "retrieve" or "check".
	Op string
	// Bounds are the upper bounds of the buckets, increasing; a last
	// bucket without a bound holds the longer operations.
	Bounds []time.Duration
	// Cumulative[i] counts the operations that took at most Bounds[i].
	Cumulative []int64
	// Count counts every operation, Sum adds up their durations.
	Count int64
	Sum   time.Duration
}

// Counters returns what the client has counted and timed so far.
func (c *Client) Counters() Counters {
	return c.count.snapshot()
}

// counters are a Client's counts and histograms. Its methods may be
// called on a nil *counters, which counts nothing.
type counters struct {
	since                            time.Time
	filesUploaded, bytesUploaded     atomic.Int64
	filesDownloaded, bytesDownloaded atomic.Int64
	filesPublished, bytesPublished   atomic.Int64
	filesRetrieved, bytesRetrieved   atomic.Int64
	hist                             [numOps]histogram
}

// histogram keeps the durations of one Op.
type histogram struct {
	mu      sync.Mutex
	buckets [len(latencyBounds) + 1]int64 // not cumulative
	sum     time.Duration
}

func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(latencyBounds) && d > latencyBounds[i] {
		i++
	}
	h.mu.Lock()
	h.buckets[i]++
	h.sum += d
	h.mu.Unlock()
}

func (h *histogram) snapshot(op timedOp) Histogram {
	out := Histogram{Op: opNames[op], Bounds: latencyBounds[:], Cumulative: make([]int64, len(latencyBounds))}
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, n := range h.buckets {
		out.Count += n
		if i < len(out.Cumulative) {
			out.Cumulative[i] = out.Count
		}
	}
	out.Sum = h.sum
	return out
}

func (c *counters) snapshot() Counters {
	if c == nil {
		return Counters{}
	}
	out := Counters{
		FilesUploaded: c.filesUploaded.Load(), BytesUploaded: c.bytesUploaded.Load(),
		FilesDownloaded: c.filesDownloaded.Load(), BytesDownloaded: c.bytesDownloaded.Load(),
		FilesPublished: c.filesPublished.Load(), BytesPublished: c.bytesPublished.Load(),
		FilesRetrieved: c.filesRetrieved.Load(), BytesRetrieved: c.bytesRetrieved.Load(),
		Since: c.since,
	}
	for op := range numOps {
		out.Latencies = append(out.Latencies, c.hist[op].snapshot(op))
	}
	return out
}

// add counts one file of n bytes for op (opUpload, opDownload,
// opPublish or opRetrieve).
func (c *counters) add(op timedOp, n int64) {
	if c == nil {
		return
	}
	var files, bytes *atomic.Int64
	switch op {
	case opUpload:
		files, bytes = &c.filesUploaded, &c.bytesUploaded
	case opDownload:
		files, bytes = &c.filesDownloaded, &c.bytesDownloaded
	case opPublish:
		files, bytes = &c.filesPublished, &c.bytesPublished
	case opRetrieve:
		files, bytes = &c.filesRetrieved, &c.bytesRetrieved
	default:
		return
	}
	files.Add(1)
	bytes.Add(max(n, 0))
}

// observe adds one operation of op that took d to its histogram.
func (c *counters) observe(op timedOp, d time.Duration) {
	if c == nil || op < 0 || op >= numOps {
		return
	}
	c.hist[op].observe(d)
}

// timer starts timing an operation of op; calling what it returns ends
// it. The usual use is defer c.count.timer(op)().
func (c *counters) timer(op timedOp) func() {
	start := time.Now()
	return func() { c.observe(op, time.Since(start)) }
}

// start counts one file of n bytes for op now, as Tahoe counts when an
// operation starts, and times the operation until the returned func is
// called: defer c.count.start(op, n)().
func (c *counters) start(op timedOp, n int64) func() {
	c.add(op, n)
	return c.timer(op)
}

// done counts and times a read of a mutable file or directory that began
// at start and got n bytes, if it succeeded (without a version to read
// there is nothing to count).
func (c *counters) done(op timedOp, n int, err error, start time.Time) {
	if err != nil {
		return
	}
	c.add(op, int64(n))
	c.observe(op, time.Since(start))
}

// check times a check (callers skip LIT files, which have no shares to
// check).
func (c *counters) check() func() {
	return c.timer(opCheck)
}

// writeAt counts a write of data at off into the mutable file f, as Tahoe
// counts its update: an SDMF file is read whole and published whole, an
// MDMF file is updated in place, which is neither. Either way the write is
// timed as one publish until the returned func is called.
func (c *counters) writeAt(f *mutable.File, data []byte, off int64) func() {
	old := f.Size()
	if len(data) == 0 && off <= old {
		return func() {} // nothing to write
	}
	if f.Format() == cap.SDMF {
		c.add(opRetrieve, old)
		c.add(opPublish, max(old, off+int64(len(data))))
	}
	return c.timer(opPublish)
}

// modify runs f.Modify(ctx, change), counting each attempt's read of the
// file as a retrieve and each attempt's publish (when change makes a
// difference, or after a collision) as a publish, as Tahoe's modify
// counts them. The first read and the last publish are timed.
func (c *counters) modify(ctx context.Context, f *mutable.File, change func(old []byte) ([]byte, error)) error {
	start := time.Now()
	attempt := 0
	var published time.Time // when the last attempt's publish began
	err := f.Modify(ctx, func(old []byte) ([]byte, error) {
		attempt++
		c.add(opRetrieve, int64(len(old)))
		if attempt == 1 {
			c.observe(opRetrieve, time.Since(start))
		}
		published = time.Time{}
		nw, err := change(old)
		if err != nil {
			return nw, err
		}
		// mutable.File.Modify publishes unless the first attempt changes
		// nothing; after a collision it publishes even an unchanged file.
		if attempt > 1 || nw != nil && !bytes.Equal(nw, old) {
			n := len(nw)
			if nw == nil {
				n = len(old)
			}
			c.add(opPublish, int64(n))
			published = time.Now()
		}
		return nw, nil
	})
	if !published.IsZero() {
		c.observe(opPublish, time.Since(published))
	}
	return err
}

// countedFile is a CHK file whose reads are counted as downloads.
type countedFile struct {
	File
	count *counters
	// opening is how long opening the file took (nanoseconds), added to
	// the time of its first read.
	opening atomic.Int64
}

// file wraps a CHK file just opened (at start) so that its reads are
// counted.
func (c *counters) file(f File, err error, start time.Time) (File, error) {
	if err != nil {
		return nil, err
	}
	cf := &countedFile{File: f, count: c}
	cf.opening.Store(int64(time.Since(start)))
	return cf, nil
}

// read counts a read of length bytes at off (length < 0: to the end),
// clipped to the file as Tahoe clips it, and times it until the returned
// func is called.
func (f *countedFile) read(off, length int64) func() {
	size := f.Size()
	if length < 0 || off+length > size {
		length = size - off
	}
	f.count.add(opDownload, max(length, 0))
	start := time.Now()
	return func() {
		f.count.observe(opDownload, time.Since(start)+time.Duration(f.opening.Swap(0)))
	}
}

func (f *countedFile) ReadAt(p []byte, off int64) (int, error) {
	defer f.read(off, int64(len(p)))()
	return f.File.ReadAt(p, off)
}

func (f *countedFile) WriteRange(ctx context.Context, w io.Writer, off, length int64) (int64, error) {
	defer f.read(off, length)()
	return f.File.WriteRange(ctx, w, off, length)
}
