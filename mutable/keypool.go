package mutable

import (
	"context"
	"crypto/rsa"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lafs/lafs/crypt"
)

// KeyPool hands out fresh 2048-bit RSA keys for new mutable files. Making
// one takes about a tenth of a second, so the pool keeps up to its size
// ready, made in the background, and makes one on the spot when it has
// none. Tahoe's client keeps such a pool too (its KeyGenerator).
type KeyPool struct {
	// The pool refills only after a quiet moment, so that making keys (a
	// tenth of a second of CPU each) does not slow down the work it
	// serves: busy counts the work under way (Busy), lastBusy is when a
	// key was last taken or work last ended (UnixNano).
	busy     atomic.Int64
	lastBusy atomic.Int64
	keys     chan *rsa.PrivateKey
	stop     chan struct{}
	done     sync.WaitGroup
	once     sync.Once
	generate func() (*rsa.PrivateKey, error) // crypt.GenerateRSAKey; tests make cheap keys
}

// NewKeyPool starts a pool that keeps size keys ready. A size of 0 makes
// every key on demand. Close stops its background work.
func NewKeyPool(size int) *KeyPool { return newKeyPool(size, crypt.GenerateRSAKey) }

// newKeyPool is NewKeyPool with the key generator given.
func newKeyPool(size int, generate func() (*rsa.PrivateKey, error)) *KeyPool {
	p := &KeyPool{keys: make(chan *rsa.PrivateKey, max(size, 0)), stop: make(chan struct{}), generate: generate}
	p.lastBusy.Store(time.Now().UnixNano()) // a start is busy: wait a moment
	if size > 0 {
		p.done.Go(p.fill)
	}
	return p
}

// refillQuiet is how long after the last Get, or the end of the last work
// marked Busy, the pool waits before making another key.
const refillQuiet = 250 * time.Millisecond

// Busy marks the start of work that making keys should not slow down (the
// client marks every storage request); call done when it ends. The pool makes
// keys only when no such work is under way and none ended in the last
// refillQuiet. A key already being made is finished.
func (p *KeyPool) Busy() (done func()) {
	if p == nil {
		return func() {}
	}
	p.busy.Add(1)
	var once sync.Once
	return func() {
		once.Do(func() {
			p.lastBusy.Store(time.Now().UnixNano())
			p.busy.Add(-1)
		})
	}
}

// fill keeps the pool full until Close.
func (p *KeyPool) fill() {
	for {
		for {
			wait := refillQuiet - time.Since(time.Unix(0, p.lastBusy.Load()))
			if p.busy.Load() > 0 {
				wait = refillQuiet
			}
			if wait <= 0 {
				break
			}
			select {
			case <-time.After(wait):
			case <-p.stop:
				return
			}
		}
		k, err := p.generate()
		if err != nil {
			return
		}
		select {
		case p.keys <- k:
		case <-p.stop:
			return
		}
	}
}

// Get returns a fresh key, never the same one twice: one from the pool,
// or a new one if the pool is empty (or nil).
func (p *KeyPool) Get(ctx context.Context) (*rsa.PrivateKey, error) {
	if p == nil {
		return crypt.GenerateRSAKey()
	}
	p.lastBusy.Store(time.Now().UnixNano())
	select {
	case k := <-p.keys:
		return k, nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return p.generate()
}

// NewKeys returns the derived keys of a fresh RSA key: what Create needs.
func (p *KeyPool) NewKeys(ctx context.Context) (*Keys, error) {
	k, err := p.Get(ctx)
	if err != nil {
		return nil, err
	}
	return DeriveKeys(k)
}

// Ready is the number of keys waiting in the pool.
func (p *KeyPool) Ready() int {
	if p == nil {
		return 0
	}
	return len(p.keys)
}

// Close stops making keys and waits for the key being made to be done.
func (p *KeyPool) Close() {
	if p == nil {
		return
	}
	p.once.Do(func() { close(p.stop) })
	p.done.Wait()
}
