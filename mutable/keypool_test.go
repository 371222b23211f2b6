package mutable

import (
	"context"
	"testing"
	"time"
)

func TestKeyPool(t *testing.T) {
	ctx := context.Background()
	p := NewKeyPool(2)
	defer p.Close()
	waitFor(t, func() bool { return p.Ready() == 2 })
	seen := map[string]bool{}
	for range 3 { // two from the pool, one made on the spot
		k, err := p.NewKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if k.Private.N.BitLen() != 2048 || seen[string(k.PublicDER)] {
			t.Fatal("bad or repeated key")
		}
		seen[string(k.PublicDER)] = true
	}
	// The pool fills again in the background.
	waitFor(t, func() bool { return p.Ready() >= 1 })
	p.Close()
	p.Close()

	var nilPool *KeyPool
	if k, err := nilPool.Get(ctx); err != nil || k == nil || nilPool.Ready() != 0 {
		t.Fatalf("nil pool: %v", err)
	}
	nilPool.Close()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := NewKeyPool(0).Get(cancelled); err == nil {
		t.Error("Get with a cancelled context and an empty pool succeeded")
	}
}

// TestKeyPoolWaitsWhileBusy: no key is made while work marked Busy is
// under way, and the pool fills once it ends.
func TestKeyPoolWaitsWhileBusy(t *testing.T) {
	p := NewKeyPool(1)
	defer p.Close()
	done := p.Busy() // before the first refill: the pool starts quiet
	time.Sleep(3 * refillQuiet)
	if n := p.Ready(); n != 0 {
		t.Fatalf("%d keys made while busy", n)
	}
	done()
	done() // a second call does nothing
	if p.busy.Load() != 0 {
		t.Fatalf("busy = %d after done", p.busy.Load())
	}
	waitFor(t, func() bool { return p.Ready() == 1 })
	var nilPool *KeyPool
	nilPool.Busy()()
}
