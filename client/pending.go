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
)

// pendingUploads keeps, in a small private file, the upload secrets of the
// immutable shares being uploaded, so that a client that dies mid-upload
// can abort them when it starts again. Servers otherwise keep such shares
// half-written, and refuse them to every other upload, for half an hour.
// It implements immutable.UploadRecorder.
//
// The file is a log: "+ SERVER SI SHARE SECRET" when a share's upload
// starts, "- SERVER SI SHARE" when it ends (the storage index and secret
// in Tahoe's base32), each line one append, so that recording costs a
// write, not a rewrite; a line cut by a crash is ignored. The log is
// rewritten with only what is open when it grows, and emptied when nothing
// is.
type pendingUploads struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	f       *os.File // open for appending; nil after close
	closed  bool
	size    int64
	entries map[pendingKey][]byte // open uploads -> secret
}

type pendingKey struct {
	server string
	si     lafs.StorageIndex
	share  lafs.ShareNum
}

// compactAt is the log size past which it is rewritten with only the
// uploads still open.
const compactAt = 256 << 10

// openPendingUploads reads what a previous run left in path and starts the
// log anew with it.
func openPendingUploads(path string, log *slog.Logger) (*pendingUploads, map[pendingKey][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("reading the uploads in progress: %w", err)
	}
	left := parsePending(b)
	p := &pendingUploads{path: path, log: log, entries: map[pendingKey][]byte{}}
	for k, v := range left {
		p.entries[k] = v
	}
	if err := p.rewrite(); err != nil {
		return nil, nil, fmt.Errorf("recording the uploads in progress: %w", err)
	}
	return p, left, nil
}

// parsePending replays a log into the uploads it leaves open.
func parsePending(b []byte) map[pendingKey][]byte {
	out := map[pendingKey][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue // a line cut by a crash
		}
		si, err1 := lafs.ParseBase32Len(f[2], 16)
		sh, err2 := strconv.ParseUint(f[3], 10, 8)
		if err1 != nil || err2 != nil {
			continue
		}
		k := pendingKey{f[1], lafs.StorageIndex(si), lafs.ShareNum(sh)}
		switch {
		case f[0] == "+" && len(f) == 5:
			if secret, err := lafs.ParseBase32(f[4]); err == nil {
				out[k] = secret
			}
		case f[0] == "-":
			delete(out, k)
		}
	}
	return out
}

// Started implements immutable.UploadRecorder.
func (p *pendingUploads) Started(server string, si lafs.StorageIndex, sh lafs.ShareNum, secret lafs.UploadSecret) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.entries[pendingKey{server, si, sh}] = secret
	p.append(fmt.Sprintf("+ %s %s %d %s\n", server, si, sh, lafs.Base32(secret)))
}

// Ended implements immutable.UploadRecorder.
func (p *pendingUploads) Ended(server string, si lafs.StorageIndex, sh lafs.ShareNum, secret lafs.UploadSecret) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := pendingKey{server, si, sh}
	if have, ok := p.entries[k]; !ok || !bytes.Equal(have, secret) {
		return // not recorded, or another upload's record of the share
	}
	delete(p.entries, k)
	if len(p.entries) == 0 || p.size > compactAt {
		p.warn(p.rewrite())
		return
	}
	p.append(fmt.Sprintf("- %s %s %d\n", server, si, sh))
}

// append adds a line to the log. p.mu held.
func (p *pendingUploads) append(line string) {
	if p.f == nil {
		return
	}
	n, err := p.f.WriteString(line)
	p.size += int64(n)
	p.warn(err)
}

// rewrite starts the log anew with the uploads open now. p.mu held.
func (p *pendingUploads) rewrite() error {
	if p.closed {
		return nil
	}
	if p.f != nil {
		p.f.Close()
	}
	var buf bytes.Buffer
	for k, secret := range p.entries {
		fmt.Fprintf(&buf, "+ %s %s %d %s\n", k.server, k.si, k.share, lafs.Base32(secret))
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.path), "."+filepath.Base(p.path)+".*")
	if err != nil {
		p.f = nil
		return err
	}
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		p.f = nil
		return err
	}
	if err := os.Rename(tmp.Name(), p.path); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		p.f = nil
		return err
	}
	p.f, p.size = tmp, int64(buf.Len())
	return nil
}

func (p *pendingUploads) warn(err error) {
	if err != nil {
		p.log.Warn("cannot record the uploads in progress", "err", err)
	}
}

// close closes the log; what is still open stays in it.
func (p *pendingUploads) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.f != nil {
		p.f.Close()
		p.f = nil
	}
	p.closed = true
	if len(p.entries) == 0 {
		os.Remove(p.path)
	}
}

// abortLeftovers aborts the shares a previous run left in progress,
// waiting up to maxWait for their servers to connect, and forgets each
// once its server says it is aborted or gone. What it cannot abort is
// forgotten too: the servers drop it on their own in time.
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
					p.Ended(k.server, k.si, k.share, secret)
				}
			}
		}
		if len(left) == 0 {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
	if len(left) > 0 {
		p.log.Warn("could not abort uploads left by an earlier run: their servers did not answer; they will drop them on their own", "shares", len(left))
		for k, secret := range left {
			p.Ended(k.server, k.si, k.share, secret)
		}
	}
}
