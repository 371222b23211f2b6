package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"

	"github.com/lafs/lafs/backend"
)

// abortTimeout bounds the abort of a multipart upload given up, which runs
// in the background (Open aborts whatever it leaves).
const abortTimeout = 30 * time.Second

// multipart is one multipart upload, begun by whichever part upload
// needs it first.
type multipart struct {
	once sync.Once
	id   string
	err  error
}

// errAbandoned ends a multipart upload that was never begun.
var errAbandoned = errors.New("s3: upload abandoned")

// init begins the upload of name, once, and returns its ID.
func (mp *multipart) init(ctx context.Context, b *Backend, name string) (string, error) {
	mp.once.Do(func() {
		mp.id, mp.err = b.client.NewMultipartUpload(ctx, b.cfg.Bucket, b.key(name), minio.PutObjectOptions{})
		if mp.err != nil {
			mp.err = b.wrap("begin the upload of", name, mp.err)
		}
	})
	return mp.id, mp.err
}

// abortLater aborts the multipart upload mp of name in the background.
func (b *Backend) abortLater(name string, mp *multipart) {
	b.wg.Go(func() {
		mp.once.Do(func() { mp.err = errAbandoned })
		if mp.id == "" {
			return
		}
		ctx, cancel := context.WithTimeout(b.ctx, abortTimeout)
		defer cancel()
		if err := b.client.AbortMultipartUpload(ctx, b.cfg.Bucket, b.key(name), mp.id); err != nil && code(err) != "NoSuchUpload" {
			b.log.Warn("s3: abort of an upload failed (the next start cleans it up)", "object", b.key(name), "err", err)
		}
	})
}

// Part states of a staged object.
const (
	partUploading = iota + 1
	partDone
	partFailed // to be uploaded again by Commit
)

type part struct {
	state int
	etag  string
}

// span is a written byte range [start, end) of a staged object.
type span struct{ start, end int64 }

// staged is a new object: a spool file in the staging folder, whose
// parts go up as a multipart upload in the background as soon as each is
// written whole and cannot hold the object's last chunk (a byte beyond it
// has been written). A write that changes an uploaded part's bytes
// starts the upload over under a fresh salt: a chunk is never sealed
// twice under one key and nonce with different bytes. (The storage
// server rewrites bytes only to repeat them, which changes nothing.)
type staged struct {
	b        *Backend
	name     string
	limit    int64
	partSize int64
	ctx      context.Context // of background uploads; canceled by Abort
	cancel   context.CancelFunc

	mu       sync.Mutex
	cond     sync.Cond // on mu: inflight fell
	f        *os.File
	done     bool
	end      int64
	written  []span // sorted, disjoint, not adjacent
	s        *sealer
	mp       *multipart // nil until a part goes up
	parts    map[int64]*part
	scan     int64 // parts below are all scheduled
	inflight int
}

// errFinished is returned by a staged object's WriteAt after Commit or
// Abort.
var errFinished = errors.New("s3: staged object already committed or aborted")

// partSizeFor returns the part size of an object of up to size bytes:
// the configured one, or more when that would need more parts than S3
// allows.
func (b *Backend) partSizeFor(size int64) int64 {
	ps := b.cfg.PartSize
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = (need + chunkSize - 1) / chunkSize * chunkSize
	}
	return ps
}

// Create stages a new object of up to size bytes in a spool file of the
// staging folder (mode 0600).
func (b *Backend) Create(ctx context.Context, k backend.Key, size int64) (backend.Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if size < 0 {
		return nil, fmt.Errorf("s3: negative size %d", size)
	}
	ps := b.partSizeFor(size)
	if ps > maxPartSize {
		return nil, fmt.Errorf("s3: an object of %d bytes is larger than S3 allows", size)
	}
	f, err := os.CreateTemp(b.cfg.StagingDir, spoolPattern)
	if err != nil {
		return nil, fmt.Errorf("s3: staging: %w", mapNoSpace(err))
	}
	name := shareName(k)
	s := &staged{
		b:        b,
		name:     name,
		limit:    size,
		partSize: ps,
		f:        f,
		s:        freshSealer(&b.cfg.SealKey, name),
		parts:    make(map[int64]*part),
	}
	s.cond.L = &s.mu
	s.ctx, s.cancel = context.WithCancel(b.ctx)
	return s, nil
}

// mapNoSpace wraps backend.ErrNoSpace around a full disk's errors.
func mapNoSpace(err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w: %w", backend.ErrNoSpace, err)
	}
	return err
}

// WriteAt writes p at off, which must lie within the size given to
// Create.
func (s *staged) WriteAt(p []byte, off int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return errFinished
	}
	if off < 0 || off > s.limit || int64(len(p)) > s.limit-off {
		return fmt.Errorf("s3: write of %d bytes at %d exceeds the staged size %d", len(p), off, s.limit)
	}
	if len(p) == 0 {
		return nil
	}
	if err := s.checkRewrite(p, off); err != nil {
		return err
	}
	if _, err := s.f.WriteAt(p, off); err != nil {
		return fmt.Errorf("s3: staging: %w", mapNoSpace(err))
	}
	s.addSpan(off, off+int64(len(p)))
	s.end = max(s.end, off+int64(len(p)))
	s.schedule()
	return nil
}

// checkRewrite starts the upload over if p at off changes bytes of a
// part that was sent, or is being sent (a failed upload counts: the store
// may have the part all the same); the caller holds mu.
func (s *staged) checkRewrite(p []byte, off int64) error {
	end := off + int64(len(p))
	for i := off / s.partSize; i*s.partSize < end; i++ {
		if s.parts[i] == nil {
			continue
		}
		lo, hi := max(off, i*s.partSize), min(end, (i+1)*s.partSize)
		old := make([]byte, hi-lo)
		if _, err := s.f.ReadAt(old, lo); err != nil {
			return fmt.Errorf("s3: staging: %w", err)
		}
		if !bytes.Equal(old, p[lo-off:hi-off]) {
			s.restart()
			return nil
		}
	}
	return nil
}

// restart drops the multipart upload and every part and starts over
// under a fresh salt; the caller holds mu.
func (s *staged) restart() {
	if s.mp != nil {
		s.b.abortLater(s.name, s.mp)
	}
	s.mp = nil
	s.parts = make(map[int64]*part)
	s.scan = 0
	s.s = freshSealer(&s.b.cfg.SealKey, s.name)
}

// addSpan notes [start, end) as written; the caller holds mu.
func (s *staged) addSpan(start, end int64) {
	i := 0
	for i < len(s.written) && s.written[i].end < start {
		i++
	}
	j := i
	for j < len(s.written) && s.written[j].start <= end {
		start = min(start, s.written[j].start)
		end = max(end, s.written[j].end)
		j++
	}
	s.written = slices.Replace(s.written, i, j, span{start, end})
}

// covered reports whether [start, end) is all written; the caller holds
// mu.
func (s *staged) covered(start, end int64) bool {
	for _, w := range s.written {
		if w.start <= start {
			if end <= w.end {
				return true
			}
		} else {
			break
		}
	}
	return false
}

// schedule starts the background upload of parts that are written whole
// and end before the furthest byte written, up to partUploadsPerObject at
// a time; the caller holds mu.
func (s *staged) schedule() {
	if s.done {
		return // Commit uploads the rest; Abort wants nothing more
	}
	for s.scan*s.partSize < s.end && s.parts[s.scan] != nil {
		s.scan++
	}
	for i := s.scan; s.inflight < partUploadsPerObject && (i+1)*s.partSize < s.end; i++ {
		if s.parts[i] != nil || !s.covered(i*s.partSize, (i+1)*s.partSize) {
			continue
		}
		if s.mp == nil {
			s.mp = &multipart{}
		}
		s.parts[i] = &part{state: partUploading}
		s.inflight++
		sl, mp := s.s, s.mp
		s.b.wg.Go(func() { s.uploadBackground(i, sl, mp) })
	}
}

// uploadBackground uploads part i, sealed by sl, to mp, and notes the
// outcome unless the upload started over meanwhile.
func (s *staged) uploadBackground(i int64, sl *sealer, mp *multipart) {
	etag, err := s.uploadPart(s.ctx, i, sl, mp, -1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight--
	s.cond.Broadcast()
	if s.mp != mp {
		s.schedule() // started over: this slot is free for the new parts
		return
	}
	if err != nil {
		s.parts[i] = &part{state: partFailed}
		if s.ctx.Err() == nil {
			s.b.log.Debug("s3: background part upload failed; Commit retries it", "object", s.b.key(s.name), "part", i+1, "err", err)
		}
		return
	}
	s.parts[i] = &part{state: partDone, etag: etag}
	s.schedule()
}

// uploadPart seals part i of the spool with sl and uploads it to mp.
// size is the object's plaintext size, or -1 while the part is known not
// to hold the last chunk. It holds one of the backend's upload slots, and
// a buffer of a sealed part, while it runs.
func (s *staged) uploadPart(ctx context.Context, i int64, sl *sealer, mp *multipart, size int64) (string, error) {
	b := s.b
	if err := b.acquire(ctx); err != nil {
		return "", err
	}
	defer b.release()
	id, err := mp.init(ctx, b, s.name)
	if err != nil {
		return "", err
	}
	end := (i + 1) * s.partSize
	if size >= 0 {
		end = min(end, size)
	}
	buf := b.buffer(sealedPartSize(s.partSize))
	defer b.putBuffer(buf)
	sealed, err := sl.sealChunks(*buf, s.f, i*s.partSize/chunkSize, end, size)
	if err != nil {
		return "", fmt.Errorf("s3: staging: %w", err)
	}
	op, err := b.client.PutObjectPart(ctx, b.cfg.Bucket, b.key(s.name), id, int(i+1), bytesReader(sealed), int64(len(sealed)), partOpts)
	if err != nil {
		return "", b.wrap(fmt.Sprintf("upload part %d of", i+1), s.name, err)
	}
	return op.ETag, nil
}

// ReadAt reads back what was written so far, as io.ReaderAt does; the
// object ends at the furthest byte written. (Not part of backend.Staged:
// the storage server uses it to check that a rewrite repeats the bytes.)
func (s *staged) ReadAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return 0, errFinished
	}
	if off < 0 {
		return 0, fmt.Errorf("s3: negative offset %d", off)
	}
	if off >= s.end {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), s.end-off))
	if _, err := s.f.ReadAt(p[:n], off); err != nil && err != io.EOF {
		return 0, fmt.Errorf("s3: staging: %w", err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Commit uploads what is not yet up and makes the object visible whole:
// one conditional PUT for an object of one part, else the completion of
// the multipart upload, conditional on the key being free (If-None-Match:
// *), so that of two commits to one key exactly one wins and the other
// gets backend.ErrExist. Unless ctx is done at once (then the staged
// object may still be committed or aborted), Commit finishes the staged
// object whatever its outcome.
func (s *staged) Commit(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return errFinished
	}
	s.done = true
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	for s.inflight > 0 {
		s.cond.Wait()
	}
	end, sl, mp, parts := s.end, s.s, s.mp, s.parts
	s.mu.Unlock()

	m, err := s.commit(ctx, end, sl, mp, parts)
	s.finish()
	b := s.b
	if err != nil {
		if kind(err) == errPrecondition {
			return fmt.Errorf("%w: %w", backend.ErrExist, err)
		}
		return err
	}
	b.cache.put(s.name, m)
	return nil
}

func (s *staged) commit(ctx context.Context, end int64, sl *sealer, mp *multipart, parts map[int64]*part) (*meta, error) {
	b := s.b
	n := max(1, (end+s.partSize-1)/s.partSize)
	if mp == nil && n == 1 {
		if err := b.acquire(ctx); err != nil {
			return nil, err
		}
		defer b.release()
		buf := b.buffer(sealedSize(end))
		defer b.putBuffer(buf)
		sealed, err := sl.sealChunks(*buf, s.f, 0, end, end)
		if err != nil {
			return nil, fmt.Errorf("s3: staging: %w", err)
		}
		etag, err := b.putSealed(ctx, s.name, sealed, true, "")
		if err != nil {
			return nil, err
		}
		return &meta{etag: etag, stored: int64(len(sealed)), s: sl, checked: true}, nil
	}
	if mp == nil || mp.err != nil {
		// None begun, or its beginning failed in the background: all
		// parts go up now. (No part upload runs, so mp.err is settled.)
		mp = &multipart{}
		parts = nil
	}
	done := make([]minio.CompletePart, n)
	var g errgroup.Group
	g.SetLimit(partUploadsPerObject)
	for i := range n {
		if p := parts[i]; p != nil && p.state == partDone {
			done[i] = minio.CompletePart{PartNumber: int(i + 1), ETag: p.etag}
			continue
		}
		g.Go(func() error {
			etag, err := s.uploadPart(ctx, i, sl, mp, end)
			done[i] = minio.CompletePart{PartNumber: int(i + 1), ETag: etag}
			return err
		})
	}
	err := g.Wait()
	if err == nil {
		err = b.precheck(ctx, s.name, true, "")
	}
	if err == nil {
		var id string
		if id, err = mp.init(ctx, b, s.name); err == nil {
			var info minio.UploadInfo
			err = retryFolderRace(ctx, func() (err error) {
				info, err = b.client.CompleteMultipartUpload(ctx, b.cfg.Bucket, b.key(s.name), id, done, putOpts(true, ""))
				return err
			})
			if err == nil {
				return &meta{etag: trimETag(info.ETag), stored: sealedSize(end), s: sl, checked: true}, nil
			}
			if m := b.landed(ctx, s.name, err, sl.header(), sealedSize(end)); m != nil {
				return &meta{etag: m.etag, stored: m.stored, s: sl, checked: true}, nil
			}
			err = b.wrap("complete the upload of", s.name, err)
		}
	}
	b.abortLater(s.name, mp)
	return nil, err
}

// Abort discards the staged object and its multipart upload, if any (in
// the background); after Commit or Abort it does nothing.
func (s *staged) Abort() error {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil
	}
	s.done = true
	mp := s.mp
	s.mu.Unlock()
	s.cancel()
	if mp != nil {
		s.b.abortLater(s.name, mp)
	}
	return s.finish()
}

// finish removes the spool file.
func (s *staged) finish() error {
	s.cancel()
	path := s.f.Name()
	s.f.Close()
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("s3: staging: %w", err)
	}
	return nil
}
