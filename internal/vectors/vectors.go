// Package vectors finds the shared Tahoe-LAFS test vectors (../shared/vectors
// beside the checkout) for tests. When they are absent a test skips with a
// message, except under CI=true, where it fails: CI must never pass by
// skipping the judge.
package vectors

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Dir returns the vectors folder, or skips (fails under CI=true) when absent.
// LAFS_VECTORS overrides the location.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("LAFS_VECTORS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	d := filepath.Join(root, "..", "shared", "vectors")
	if _, err := os.Stat(filepath.Join(d, "README.md")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test vectors not found at %s (set LAFS_VECTORS): %v", d, err)
		}
		t.Skipf("test vectors not found at %s; set LAFS_VECTORS to run this test", d)
	}
	return d
}

// Read returns the contents of one vectors file.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
