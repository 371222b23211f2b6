package client

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs"
)

// The client talks to every storage server through one decorator (as
// restic wraps its backends), which is the one place for what every
// request needs:
//   - a time limit (Config.RequestTimeout);
//   - one more try of a read that failed in transit;
//   - counts for the status page (Client.StorageStats);
//   - telling the key pool that the client is busy, so that it makes RSA
//     keys only when no request is under way.
// Hedging stays in the read and upload paths, which know what a late
// request means there (and feed each server's lafs.Latency).

// peers gives the servers of the wrapped lafs.Peers with their storage
// decorated, each server wrapped once.
type peers struct {
	inner lafs.Peers
	c     *Client
	mu    sync.Mutex
	wrap  map[*lafs.Server]*lafs.Server
}

// ServersFor implements lafs.Peers.
func (p *peers) ServersFor(si lafs.StorageIndex) []*lafs.Server {
	servers := p.inner.ServersFor(si)
	out := make([]*lafs.Server, len(servers))
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, s := range servers {
		w := p.wrap[s]
		if w == nil || w.Storage.(*decorated).inner != s.Storage {
			// New, or reconnected with a new connection.
			c := *s
			c.Storage = &decorated{inner: s.Storage, c: p.c}
			w = &c
			p.wrap[s] = w
		}
		out[i] = w
	}
	return out
}

// StorageStats counts the client's requests to storage servers.
type StorageStats struct {
	Requests, Failures, Retries, Timeouts int64
}

type storageCounters struct {
	requests, failures, retries, timeouts atomic.Int64
}

// StorageStats returns the counts of the client's storage requests.
func (c *Client) StorageStats() StorageStats {
	return StorageStats{
		Requests: c.stats.requests.Load(), Failures: c.stats.failures.Load(),
		Retries: c.stats.retries.Load(), Timeouts: c.stats.timeouts.Load(),
	}
}

// decorated is one server's storage as the client uses it.
type decorated struct {
	inner lafs.StorageServer
	c     *Client
}

// retryPause is the wait before a read that failed in transit is tried
// once more.
const retryPause = 100 * time.Millisecond

// call runs one request: bounded in time, counted, timed, with the client
// marked busy. A read (idempotent) that failed in transit, not with an
// answer of the server's, is tried once more.
func call[T any](ctx context.Context, d *decorated, idempotent bool, f func(context.Context) (T, error)) (T, error) {
	done := d.c.keys.Busy()
	defer done()
	for try := 0; ; try++ {
		d.c.stats.requests.Add(1)
		rctx, cancel := context.WithTimeout(ctx, d.c.cfg.RequestTimeout)
		v, err := f(rctx)
		timedOut := rctx.Err() == context.DeadlineExceeded
		cancel()
		if err == nil {
			return v, nil
		}
		d.c.stats.failures.Add(1)
		if ctx.Err() != nil {
			return v, err
		}
		if timedOut {
			d.c.stats.timeouts.Add(1)
			return v, err
		}
		if !idempotent || try > 0 || answered(err) {
			return v, err
		}
		d.c.stats.retries.Add(1)
		select {
		case <-time.After(retryPause):
		case <-ctx.Done():
			return v, err
		}
	}
}

// answered reports whether err is the server's answer (a refusal, a
// missing share, a corrupt container...), which trying again will not
// change, rather than a failure in transit.
func answered(err error) bool {
	for _, e := range []error{lafs.ErrBadRequest, lafs.ErrUnauthorized, lafs.ErrReadOnly, lafs.ErrNotExist,
		lafs.ErrNotAllowed, lafs.ErrConflict, lafs.ErrRange, lafs.ErrNoSpace, lafs.ErrCorruptContainer} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

type none struct{}

func (d *decorated) Version(ctx context.Context) (lafs.ServerVersion, error) {
	return call(ctx, d, true, func(ctx context.Context) (lafs.ServerVersion, error) { return d.inner.Version(ctx) })
}

func (d *decorated) AllocateBuckets(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets, uploadSecret lafs.UploadSecret, shares []lafs.ShareNum, size uint64) (lafs.AllocateResult, error) {
	// Idempotent under the same upload secret.
	return call(ctx, d, true, func(ctx context.Context) (lafs.AllocateResult, error) {
		return d.inner.AllocateBuckets(ctx, si, lease, uploadSecret, shares, size)
	})
}

func (d *decorated) WriteImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, uploadSecret lafs.UploadSecret, off uint64, data []byte) (lafs.WriteResult, error) {
	// Rewriting the same bytes is allowed: idempotent.
	r, err := call(ctx, d, true, func(ctx context.Context) (lafs.WriteResult, error) {
		return d.inner.WriteImmutable(ctx, si, sh, uploadSecret, off, data)
	})
	pushed(ctx, len(data), err) // the upload's progress (history.go)
	return r, err
}

func (d *decorated) AbortImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, uploadSecret lafs.UploadSecret) error {
	_, err := call(ctx, d, true, func(ctx context.Context) (none, error) {
		return none{}, d.inner.AbortImmutable(ctx, si, sh, uploadSecret)
	})
	return err
}

func (d *decorated) ReadImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	return call(ctx, d, true, func(ctx context.Context) ([]byte, error) { return d.inner.ReadImmutable(ctx, si, sh, off, n) })
}

func (d *decorated) ListImmutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	return call(ctx, d, true, func(ctx context.Context) ([]lafs.ShareNum, error) { return d.inner.ListImmutable(ctx, si) })
}

func (d *decorated) AdviseCorruptImmutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, reason string) error {
	_, err := call(ctx, d, false, func(ctx context.Context) (none, error) {
		return none{}, d.inner.AdviseCorruptImmutable(ctx, si, sh, reason)
	})
	return err
}

func (d *decorated) AddOrRenewLease(ctx context.Context, si lafs.StorageIndex, lease lafs.LeaseSecrets) error {
	_, err := call(ctx, d, true, func(ctx context.Context) (none, error) { return none{}, d.inner.AddOrRenewLease(ctx, si, lease) })
	return err
}

func (d *decorated) ReadTestWrite(ctx context.Context, si lafs.StorageIndex, we lafs.Secret, lease lafs.LeaseSecrets, tw map[lafs.ShareNum]lafs.TestWriteVectors, rv []lafs.ReadVector) (lafs.ReadTestWriteResult, error) {
	// Not idempotent: its test may fail against its own earlier write.
	return call(ctx, d, false, func(ctx context.Context) (lafs.ReadTestWriteResult, error) {
		return d.inner.ReadTestWrite(ctx, si, we, lease, tw, rv)
	})
}

func (d *decorated) ReadMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, off, n uint64) ([]byte, error) {
	return call(ctx, d, true, func(ctx context.Context) ([]byte, error) { return d.inner.ReadMutable(ctx, si, sh, off, n) })
}

func (d *decorated) ListMutable(ctx context.Context, si lafs.StorageIndex) ([]lafs.ShareNum, error) {
	return call(ctx, d, true, func(ctx context.Context) ([]lafs.ShareNum, error) { return d.inner.ListMutable(ctx, si) })
}

func (d *decorated) AdviseCorruptMutable(ctx context.Context, si lafs.StorageIndex, sh lafs.ShareNum, reason string) error {
	_, err := call(ctx, d, false, func(ctx context.Context) (none, error) {
		return none{}, d.inner.AdviseCorruptMutable(ctx, si, sh, reason)
	})
	return err
}
