package main

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lafs/lafs"
)

func b32(b []byte) string { return lafs.Base32(b) }
func itoa(n int) string   { return strconv.Itoa(n) }

// runCmd runs a command line as main does, without a process, and returns
// what it printed and its exit code.
func runCmd(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCmdEnv(t, env{}, stdin, args...)
}

// runCmdEnv is runCmd in an env with e's clock and time zone.
func runCmdEnv(t *testing.T, e env, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, errOut bytes.Buffer
	e.stdin, e.stdout, e.stderr = bytes.NewReader(stdin), &o, &errOut
	e.getenv = func(string) string { return "" }
	code = run(context.Background(), &e, args)
	return o.String(), errOut.String(), code
}

// fakeClock is a clock for the env that moves only when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// advance moves the clock on by d.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
