package mutable

import (
	"context"
	"crypto/rsa"
	"math/big"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The key pool's timing is tested in synctest bubbles, on a fake clock
// that moves only when every goroutine waits: each test steps the clock to
// just before and just after the moment a key is due, exactly. Keys come
// from fakeKeys, so that no test waits on RSA; TestKeyPoolRealKeys makes
// the real ones.

// fakeKeys is a key generator for newKeyPool that numbers its keys (the
// modulus is the number: cheap, and tells the keys apart). With gate set,
// each key waits for a value on it, to hold a key "being made".
type fakeKeys struct {
	mu   sync.Mutex
	made int
	gate chan struct{}
}

func (f *fakeKeys) generate() (*rsa.PrivateKey, error) {
	if f.gate != nil {
		<-f.gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.made++
	return &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: big.NewInt(int64(f.made)), E: 65537}}, nil
}

func (f *fakeKeys) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.made
}

// settle lets the bubble's goroutines run until all of them wait, then
// checks how many keys the pool holds and how many were ever made.
func settle(t *testing.T, when string, p *KeyPool, f *fakeKeys, ready, made int) {
	t.Helper()
	synctest.Wait()
	if p.Ready() != ready || f.count() != made {
		t.Fatalf("%s: %d keys ready, %d made; want %d and %d", when, p.Ready(), f.count(), ready, made)
	}
}

// getKey takes a key from p and checks that it is key number want.
func getKey(t *testing.T, p *KeyPool, want int64) {
	t.Helper()
	k, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if k.N.Int64() != want {
		t.Fatalf("got key %d, want key %d", k.N.Int64(), want)
	}
}

// TestKeyPool: the pool fills a quiet moment after its start, hands out
// its keys in order, never one twice, makes one on the spot when empty,
// and fills again a quiet moment after the last Get.
func TestKeyPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeKeys{}
		p := newKeyPool(2, f.generate)
		defer p.Close()
		time.Sleep(refillQuiet - 1)
		settle(t, "just before the start's quiet moment ends", p, f, 0, 0)
		time.Sleep(time.Nanosecond)
		// Two keys in the pool and a third made, waiting for room.
		settle(t, "once it ends", p, f, 2, 3)

		getKey(t, p, 1)
		settle(t, "after one Get", p, f, 2, 3) // the third key took its place
		getKey(t, p, 2)
		settle(t, "after two", p, f, 1, 3)
		getKey(t, p, 3)
		settle(t, "after three", p, f, 0, 3)
		getKey(t, p, 4) // made on the spot
		settle(t, "after four", p, f, 0, 4)

		time.Sleep(refillQuiet - 1)
		settle(t, "just before the quiet moment after the last Get", p, f, 0, 4)
		time.Sleep(time.Nanosecond)
		settle(t, "once it ends", p, f, 2, 7)
		getKey(t, p, 5)
		settle(t, "after a fifth Get", p, f, 2, 7)
		getKey(t, p, 6)
		settle(t, "after a sixth", p, f, 1, 7)

		p.Close()
		p.Close()
		time.Sleep(time.Hour)
		settle(t, "an hour after Close", p, f, 1, 7)
	})
}

// TestKeyPoolWaitsWhileBusy: no key is made while work marked Busy is under
// way, and the pool fills a quiet moment after it ends.
func TestKeyPoolWaitsWhileBusy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeKeys{}
		p := newKeyPool(1, f.generate)
		defer p.Close()
		done := p.Busy()
		// Longer than the start's quiet moment, and not a multiple of it,
		// so that the pool's checks and the end of the work never fall on
		// the same instant.
		time.Sleep(14*refillQuiet + refillQuiet/2)
		settle(t, "while busy", p, f, 0, 0)
		done()
		done() // a second call does nothing
		if n := p.busy.Load(); n != 0 {
			t.Fatalf("busy = %d after done", n)
		}
		time.Sleep(refillQuiet - 1)
		settle(t, "just before the quiet moment after the work ends", p, f, 0, 0)
		time.Sleep(time.Nanosecond)
		settle(t, "once it ends", p, f, 1, 2) // one ready, one waiting for room

		// Two overlapping pieces of work: the later end counts.
		getKey(t, p, 1)
		settle(t, "after a Get", p, f, 1, 2)
		getKey(t, p, 2)
		a := p.Busy()
		b := p.Busy()
		time.Sleep(refillQuiet / 2)
		a()
		time.Sleep(time.Minute)
		settle(t, "a minute after the first of two ended", p, f, 0, 2)
		b()
		time.Sleep(refillQuiet - 1)
		settle(t, "just before the quiet moment after the second", p, f, 0, 2)
		time.Sleep(time.Nanosecond)
		settle(t, "once it ends", p, f, 1, 4)
	})

	var nilPool *KeyPool
	nilPool.Busy()()
}

// TestKeyPoolFinishesKeyBeingMade: work that starts while a key is being
// made does not stop it (the key goes into the pool), and Close waits for
// the key being made.
func TestKeyPoolFinishesKeyBeingMade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeKeys{gate: make(chan struct{})}
		p := newKeyPool(1, f.generate)
		defer p.Close()
		time.Sleep(refillQuiet)
		synctest.Wait() // the first key is being made
		done := p.Busy()
		f.gate <- struct{}{}
		settle(t, "busy while the first key was being made", p, f, 1, 1)
		time.Sleep(time.Minute)
		settle(t, "a minute later, still busy", p, f, 1, 1)
		done()
		time.Sleep(refillQuiet)
		synctest.Wait() // the second key is being made, for when there is room

		closed := make(chan struct{})
		go func() {
			p.Close()
			close(closed)
		}()
		time.Sleep(time.Minute)
		select {
		case <-closed:
			t.Fatal("Close returned while a key was being made")
		default:
		}
		f.gate <- struct{}{}
		<-closed
		settle(t, "after Close", p, f, 1, 2)
	})
}

// TestKeyPoolSizeZero: a pool of size 0 never makes keys in the
// background, only on demand, and not for a cancelled context.
func TestKeyPoolSizeZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeKeys{}
		p := newKeyPool(0, f.generate)
		defer p.Close()
		time.Sleep(time.Hour)
		settle(t, "an hour after the start", p, f, 0, 0)
		getKey(t, p, 1)
		getKey(t, p, 2)
		cancelled, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Get(cancelled); err == nil {
			t.Error("Get with a cancelled context and an empty pool succeeded")
		}
		settle(t, "after the Gets", p, f, 0, 2)
	})
}

// TestKeyPoolRealKeys: NewKeyPool and a nil pool make real 2048-bit keys,
// and NewKeys derives their keys.
func TestKeyPoolRealKeys(t *testing.T) {
	ctx := context.Background()
	p := NewKeyPool(0)
	defer p.Close()
	k, err := p.NewKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if k.Private.N.BitLen() != 2048 {
		t.Fatalf("key of %d bits", k.Private.N.BitLen())
	}
	var nilPool *KeyPool
	if k, err := nilPool.Get(ctx); err != nil || k.N.BitLen() != 2048 || nilPool.Ready() != 0 {
		t.Fatalf("nil pool: %v", err)
	}
	nilPool.Close()
}
