package webapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
	"time"
)

// Operation handles: Tahoe's OphandleTable (web/operations.py). A slow
// operation (t=start-deep-check, t=start-manifest, t=start-deep-size,
// t=start-deep-stats) runs in the background under a handle the client
// chose (ophandle=), and /operations/HANDLE tells how it goes.
//
// A handle lives until its operation has finished and then, unless a
// retain-for= (seconds, on the POST that started it or on any GET) says
// otherwise: four days, or as long as the operation took if longer, while
// nobody has looked at the finished results; one day once someone has.
// release-after-complete=true on a GET of finished results releases the
// handle at once, and so does POST /operations/HANDLE?t=cancel, which
// also stops the operation. A handle released while its operation runs
// (retain-for= too short) stops it too: nobody could see its results.
// A new operation under a handle in use replaces the old one, which stops.

// Tahoe's handle lifetimes.
const (
	uncollectedLifetime = 4 * 24 * time.Hour
	collectedLifetime   = 24 * time.Hour
	// defaultMaxOperations bounds the operations running at once; more
	// wait their turn.
	defaultMaxOperations = 4
	// maxHandles bounds the handles kept (running, waiting or finished):
	// beyond it a new operation is refused until some are released or
	// expire, so that results kept for days cannot fill the node's memory.
	maxHandles = 1000
	// closeWait bounds how long close waits for operations to notice they
	// were stopped.
	closeWait = 10 * time.Second
)

// opKind is what an operation does.
type opKind int

const (
	opDeepCheck opKind = iota
	opManifest
	opDeepSize
	opDeepStats
)

// operation is one slow operation and what it has found so far. Its
// fields below mu change while it runs; once done is closed they no
// longer do.
type operation struct {
	kind   opKind
	added  time.Time
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	finished bool
	err      error
	timer    stopper // the handle's expiry, once set
	timerGen int     // counts the timers set, so that a stale one does nothing
	// What the operation found (see deep.go).
	*deepState
}

// stopper is a timer that can be stopped (a *time.Timer).
type stopper interface{ Stop() bool }

// opTable holds the operations by handle.
type opTable struct {
	ctx     context.Context // the web API's lifetime
	stop    context.CancelFunc
	sem     chan struct{}
	running sync.WaitGroup // the operations' goroutines

	mu  sync.Mutex
	ops map[string]*operation
	// hold, when set, keeps operations started from beginning their work
	// until it is closed (tests look at operations before they run).
	hold chan struct{}

	// The clock, replaced by tests.
	now       func() time.Time
	afterFunc func(time.Duration, func()) stopper
}

func newOpTable(max int) *opTable {
	if max <= 0 {
		max = defaultMaxOperations
	}
	ctx, stop := context.WithCancel(context.Background())
	return &opTable{
		ctx: ctx, stop: stop, sem: make(chan struct{}, max), ops: map[string]*operation{},
		now:       time.Now,
		afterFunc: func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) },
	}
}

// close stops every operation, forgets every handle and waits (up to
// closeWait) for the operations to end, so that none works on after the
// node has stopped.
func (t *opTable) close() {
	t.stop()
	t.mu.Lock()
	for h, op := range t.ops {
		t.releaseLocked(h, op)
	}
	t.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		t.running.Wait()
		close(ended)
	}()
	select {
	case <-ended:
	case <-time.After(closeWait):
	}
}

// errTooManyOperations refuses an operation when maxHandles are kept.
var errTooManyOperations = &webError{http.StatusServiceUnavailable,
	"too many operations: release some (GET /operations/HANDLE?t=status&release-after-complete=true, or POST ?t=cancel) or wait for them to expire"}

// start runs op under handle in the background: run does the work, and
// its error (nil when it completed) ends the operation. retainFor, when
// not negative, is the handle's lifetime from now. It refuses a new
// handle when maxHandles are kept.
func (t *opTable) start(handle string, op *operation, retainFor time.Duration, run func(ctx context.Context) error) error {
	t.mu.Lock()
	if t.ctx.Err() != nil {
		t.mu.Unlock()
		return &webError{http.StatusServiceUnavailable, "the node is stopping"}
	}
	old, replacing := t.ops[handle]
	if !replacing && len(t.ops) >= maxHandles {
		t.mu.Unlock()
		return errTooManyOperations
	}
	ctx, cancel := context.WithCancel(t.ctx)
	op.cancel, op.done, op.added = cancel, make(chan struct{}), t.now()
	if replacing {
		t.releaseLocked(handle, old)
	}
	t.ops[handle] = op
	hold := t.hold
	if retainFor >= 0 {
		t.setTimerLocked(handle, op, retainFor)
	}
	t.running.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.running.Done()
		defer cancel()
		err := func() error {
			if hold != nil {
				select {
				case <-hold:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			select {
			case t.sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			defer func() { <-t.sem }()
			return run(ctx)
		}()
		op.mu.Lock()
		op.finished, op.err = true, err
		op.mu.Unlock()
		close(op.done)
		t.completed(handle, op)
	}()
	return nil
}

// completed gives a finished operation's handle its lifetime, unless a
// retain-for= gave it one already.
func (t *opTable) completed(handle string, op *operation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ops[handle] != op {
		return
	}
	op.mu.Lock()
	hasTimer := op.timer != nil
	op.mu.Unlock()
	if !hasTimer {
		t.setTimerLocked(handle, op, max(uncollectedLifetime, t.now().Sub(op.added)))
	}
}

// setTimerLocked (re)sets the time the handle is released.
func (t *opTable) setTimerLocked(handle string, op *operation, d time.Duration) {
	op.mu.Lock()
	defer op.mu.Unlock()
	if op.timer != nil {
		op.timer.Stop()
	}
	op.timerGen++
	gen := op.timerGen
	op.timer = t.afterFunc(max(d, 0), func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		op.mu.Lock()
		current := op.timerGen == gen
		op.mu.Unlock()
		if current && t.ops[handle] == op {
			t.releaseLocked(handle, op)
		}
	})
}

// releaseLocked forgets the handle and stops its operation.
func (t *opTable) releaseLocked(handle string, op *operation) {
	if t.ops[handle] == op {
		delete(t.ops, handle)
	}
	op.mu.Lock()
	if op.timer != nil {
		op.timer.Stop()
	}
	op.timerGen++
	op.mu.Unlock()
	op.cancel()
}

// get finds the operation of a handle.
func (t *opTable) get(handle string) (*operation, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	op, ok := t.ops[handle]
	return op, ok
}

// retainForArg reads retain-for= (seconds): -1 when absent.
func retainForArg(q *request) (time.Duration, error) {
	v, given := q.arg("retain-for")
	if !given {
		return -1, nil
	}
	n, ok := pyInt(v)
	if !ok {
		return 0, badRequest("invalid retain-for= argument: %s", pyStrRepr(v))
	}
	switch {
	case n.Sign() <= 0:
		return 0, nil
	case !n.IsInt64() || n.Int64() > math.MaxInt64/int64(time.Second):
		return time.Duration(math.MaxInt64), nil
	}
	return time.Duration(n.Int64()) * time.Second, nil
}

// serveOperation serves /operations/HANDLE and what is below it. Any
// method renders the status (Tahoe's renderers take them all); POST with
// t=cancel stops the operation and releases its handle, after which its
// status so far is rendered.
func (h *handler) serveOperation(w http.ResponseWriter, q *request, handle string, rest []string) error {
	t := h.ops
	op, ok := t.get(handle)
	if !ok {
		return &pageError{http.StatusNotFound, "Error", "unknown/expired handle '" + handle + "'", ""}
	}
	if q.Method == http.MethodPost {
		if err := h.readForm(q, true); err != nil {
			return err
		}
	}
	if q.Method == http.MethodPost && q.argOr("t", "status") == "cancel" {
		t.mu.Lock()
		t.releaseLocked(handle, op)
		t.mu.Unlock()
	} else {
		retainFor, err := retainForArg(q)
		if err != nil {
			return err
		}
		release, err := q.boolArg("release-after-complete", "false")
		if err != nil {
			return err
		}
		t.mu.Lock()
		if t.ops[handle] == op {
			if retainFor >= 0 {
				t.setTimerLocked(handle, op, retainFor)
			}
			op.mu.Lock()
			finished := op.finished
			op.mu.Unlock()
			switch {
			case finished && release:
				t.releaseLocked(handle, op)
			case finished && retainFor < 0:
				// The results are collected: the handle lives a day more.
				t.setTimerLocked(handle, op, collectedLifetime)
			}
		}
		t.mu.Unlock()
	}
	op.mu.Lock()
	failed := op.finished && op.err != nil && !errors.Is(op.err, context.Canceled)
	err := op.err
	op.mu.Unlock()
	if failed {
		return traversalError(err)
	}
	return h.renderOperation(w, q, handle, op, rest)
}
