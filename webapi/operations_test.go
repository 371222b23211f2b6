package webapi

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpTableBounds: handles beyond maxHandles are refused, and close
// stops the operations and waits for them to end.
func TestOpTableBounds(t *testing.T) {
	tab := newOpTable(2)
	tab.hold = make(chan struct{}) // nothing starts its work
	var ended atomic.Int32
	run := func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}
	for i := range maxHandles {
		op := &operation{deepState: &deepState{}}
		if err := tab.start(fmt.Sprint("h", i), op, -1, run); err != nil {
			t.Fatalf("operation %d: %v", i, err)
		}
		go func() { <-op.done; ended.Add(1) }()
	}
	var we *webError
	if err := tab.start("one too many", &operation{deepState: &deepState{}}, -1, run); !errors.As(err, &we) || we.code != 503 {
		t.Fatalf("handle %d: %v", maxHandles+1, err)
	}
	// Replacing a handle in use is not a new one.
	if err := tab.start("h0", &operation{deepState: &deepState{}}, -1, run); err != nil {
		t.Fatalf("replacing a handle: %v", err)
	}
	start := time.Now()
	tab.close()
	if d := time.Since(start); d > closeWait/2 {
		t.Errorf("close took %v", d)
	}
	deadline := time.Now().Add(5 * time.Second)
	for ended.Load() != maxHandles && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := ended.Load(); n != maxHandles {
		t.Errorf("%d of %d operations ended after close", n, maxHandles)
	}
	if err := tab.start("after close", &operation{deepState: &deepState{}}, -1, run); err == nil {
		t.Error("an operation started after close")
	}
}
