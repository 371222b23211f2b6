// Package testutil holds small helpers shared by the tests of several packages.
package testutil

import (
	"os"
	"testing"
)

// Heavy marks a test as heavy: large files or whole vector sets. It runs in
// the test command's second pass (LAFS_HEAVY=1, without the race detector),
// or whenever -short is not given; under -short it is skipped.
func Heavy(t testing.TB) {
	t.Helper()
	if testing.Short() && os.Getenv("LAFS_HEAVY") == "" {
		t.Skip("heavy test: runs without -short (scripts/test runs it in its second pass)")
	}
}
