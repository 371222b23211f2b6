// Package vectors reads the Tahoe-LAFS test vectors that the repository
// keeps in testdata/vectors at the module root (their origins are in
// testdata/vectors/README.md): Tahoe's published capability and hash
// vectors, share files from Tahoe's own tests, and recordings of a live
// Tahoe 1.20 grid and web API. Large files are stored gzip-compressed as
// NAME.gz; Read decompresses them.
//
// A vector that cannot be read fails the test: a byte-compatibility test
// must never pass by skipping. $LAFS_VECTORS names another folder to read
// instead (to try newer recordings before copying them in).
package vectors

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// module is the module path whose root holds testdata/vectors.
const module = "github.com/lafs/lafs"

// Dir returns the folder the vectors are read from: $LAFS_VECTORS when
// set, else testdata/vectors at the module root. It fails the test when
// the folder cannot be found. Files in it may be stored compressed (NAME.gz):
// read them with Read.
func Dir(t testing.TB) string {
	t.Helper()
	d, err := dir()
	if err != nil {
		t.Fatalf("test vectors: %v", err)
	}
	return d
}

// Read returns the contents of the vectors file name, decompressed when
// the folder holds only name.gz. A file that is missing or unreadable
// fails the test.
func Read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := read(name)
	if err != nil {
		t.Fatalf("test vector %s: %v", name, err)
	}
	return b
}

var (
	cacheMu sync.Mutex
	cache   = map[string][]byte{} // decompressed .gz files, by path
)

func read(name string) ([]byte, error) {
	d, err := dir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(d, name)
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	gz := path + ".gz"
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if b, ok := cache[gz]; ok {
		return bytes.Clone(b), nil
	}
	b, err = gunzip(gz)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("neither %s nor %s.gz is in %s", name, name, d)
	}
	if err != nil {
		return nil, err
	}
	cache[gz] = b
	return bytes.Clone(b), nil
}

func gunzip(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	b, err := io.ReadAll(zr)
	if err == nil {
		err = zr.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	return b, nil
}

// dir finds the vectors folder: $LAFS_VECTORS, or testdata/vectors in the
// module root above the working directory (where go test runs a
// package's tests) or above this source file.
func dir() (string, error) {
	if d := os.Getenv("LAFS_VECTORS"); d != "" {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			return "", fmt.Errorf("LAFS_VECTORS=%s is not a folder", d)
		}
		return d, nil
	}
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		starts = append(starts, filepath.Dir(file))
	}
	for _, start := range starts {
		if root, ok := moduleRoot(start); ok {
			d := filepath.Join(root, "testdata", "vectors")
			if st, err := os.Stat(d); err != nil || !st.IsDir() {
				return "", fmt.Errorf("%s is missing from the checkout", d)
			}
			return d, nil
		}
	}
	return "", fmt.Errorf("no folder above %q holds the go.mod of %s", starts, module)
}

// moduleRoot returns the folder at or above start whose go.mod declares
// this module.
func moduleRoot(start string) (string, bool) {
	for d := start; ; {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && declares(b, module) {
			return d, true
		}
		up := filepath.Dir(d)
		if up == d {
			return "", false
		}
		d = up
	}
}

// declares reports whether a go.mod's module line names mod.
func declares(gomod []byte, mod string) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "module" && strings.Trim(f[1], `"`) == mod {
			return true
		}
	}
	return false
}
