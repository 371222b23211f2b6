package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lafs/lafs"
	"github.com/lafs/lafs/crypt"
)

// pendingUploads keeps, in a small private file, the upload secrets of the
// immutable shares being uploaded, so that a client that dies mid-upload
// can abort them when it starts again. Servers otherwise keep such shares
// half-written, and refuse them to every other upload, for half an hour.
// It implements immutable.UploadRecorder. The file is rewritten in the
// background at most every flushEvery, so a crash right after an
// allocation may leave that one unrecorded (the servers then drop it
// after their timeout, as they would have anyway).
type pendingUploads struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	entries map[pendingKey][]byte // -> upload secret
	dirty   bool
	kick    chan struct{}
	done    chan struct{}
	stopped chan struct{}
}

type pendingKey struct {
	server string
	si     lafs.StorageIndex
	share  lafs.ShareNum
}

const flushEvery = 100 * time.Millisecond

// openPendingUploads reads what a previous run left in path and starts
// keeping the file.
func openPendingUploads(path string, log *slog.Logger) (*pendingUploads, map[pendingKey][]byte, error) {
	left, err := readPending(path)
	if err != nil {
		return nil, nil, err
	}
	p := &pendingUploads{path: path, log: log, entries: map[pendingKey][]byte{},
		kick: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{})}
	for k, v := range left {
		p.entries[k] = v
	}
	go p.flusher()
	return p, left, nil
}

// readPending parses the file: one share a line, "server si share secret"
// (the storage index and secret in Tahoe's base32).
func readPending(path string) (map[pendingKey][]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the uploads in progress: %w", err)
	}
	out := map[pendingKey][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			continue // a line cut by a crash
		}
		si, err1 := crypt.ParseBase32Len(f[1], 16)
		sh, err2 := strconv.ParseUint(f[2], 10, 8)
		secret, err3 := crypt.ParseBase32(f[3])
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out[pendingKey{f[0], lafs.StorageIndex(si), lafs.ShareNum(sh)}] = secret
	}
	return out, nil
}

// Started implements immutable.UploadRecorder.
func (p *pendingUploads) Started(server string, si lafs.StorageIndex, sh lafs.ShareNum, secret []byte) {
	p.change(func() { p.entries[pendingKey{server, si, sh}] = secret })
}

// Ended implements immutable.UploadRecorder.
func (p *pendingUploads) Ended(server string, si lafs.StorageIndex, sh lafs.ShareNum) {
	p.change(func() { delete(p.entries, pendingKey{server, si, sh}) })
}

func (p *pendingUploads) change(f func()) {
	p.mu.Lock()
	f()
	p.dirty = true
	p.mu.Unlock()
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

func (p *pendingUploads) flusher() {
	defer close(p.stopped)
	for {
		select {
		case <-p.kick:
		case <-p.done:
			p.flush()
			return
		}
		p.flush()
		select {
		case <-time.After(flushEvery):
		case <-p.done:
			p.flush()
			return
		}
	}
}

// flush writes the file anew (or removes it when nothing is in progress).
func (p *pendingUploads) flush() {
	p.mu.Lock()
	if !p.dirty {
		p.mu.Unlock()
		return
	}
	p.dirty = false
	var buf bytes.Buffer
	for k, secret := range p.entries {
		fmt.Fprintf(&buf, "%s %s %d %s\n", k.server, k.si, k.share, crypt.Base32(secret))
	}
	empty := len(p.entries) == 0
	p.mu.Unlock()
	var err error
	if empty {
		err = os.Remove(p.path)
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	} else {
		err = writeFileAtomic(p.path, buf.Bytes())
	}
	if err != nil {
		p.log.Warn("cannot record the uploads in progress", "err", err)
	}
}

func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// close writes what is pending and stops the flusher.
func (p *pendingUploads) close() {
	close(p.done)
	<-p.stopped
}

// abortLeftovers aborts the shares a previous run left in progress,
// waiting up to maxWait for their servers to connect, and forgets each
// once its server says it is gone or aborted.
func (p *pendingUploads) abortLeftovers(ctx context.Context, peers lafs.Peers, left map[pendingKey][]byte, maxWait time.Duration) {
	deadline := time.Now().Add(maxWait)
	for len(left) > 0 && time.Now().Before(deadline) {
		for k, secret := range left {
			for _, s := range peers.ServersFor(k.si) {
				if s.ID != k.server {
					continue
				}
				actx, cancel := context.WithTimeout(ctx, 30*time.Second)
				err := s.Storage.AbortImmutable(actx, k.si, k.share, secret)
				cancel()
				if err == nil || errors.Is(err, lafs.ErrNotExist) || errors.Is(err, lafs.ErrUnauthorized) || errors.Is(err, lafs.ErrNotAllowed) {
					delete(left, k)
					p.Ended(k.server, k.si, k.share)
				}
			}
		}
		if len(left) == 0 {
			break
		}
		select {
		case <-time.After(2 * time.Second):
		case <-ctx.Done():
			return
		}
	}
	if len(left) > 0 {
		p.log.Warn("could not abort uploads left by an earlier run: their servers did not answer; they will drop them on their own", "shares", len(left))
		for k := range left {
			p.Ended(k.server, k.si, k.share)
		}
	}
}
