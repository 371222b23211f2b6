package node

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// File modes of what this package creates. Tahoe leaves files to the umask
// and protects private/ as a whole; secrets here are also 0600 themselves.
const (
	privateDirMode = 0o700
	secretFileMode = 0o600
	publicFileMode = 0o644
)

// privateDir returns BASEDIR/private, creating it (and BASEDIR) if needed.
// An existing private/ keeps its permissions.
func privateDir(basedir string) (string, error) {
	if err := os.MkdirAll(basedir, 0o755); err != nil {
		return "", err
	}
	dir := filepath.Join(basedir, "private")
	if err := os.Mkdir(dir, privateDirMode); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return dir, nil
		}
		return "", err
	}
	return dir, os.Chmod(dir, privateDirMode) // past the umask
}

// writeTemp writes data to a new temporary file beside path and returns its
// name.
func writeTemp(path string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// writeNewFile creates path holding data, all at once, and never replaces
// an existing file: then it fails with an error matching fs.ErrExist.
func writeNewFile(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	err = os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	// No hard links here: fall back to an exclusive create.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileAtomic replaces path with data, all at once.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// updateFile writes data to path unless it already holds exactly that.
func updateFile(path string, data []byte, perm fs.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return writeFileAtomic(path, data, perm)
}

// loadOrCreate returns the contents of path, first creating it with
// create()'s data if it does not exist. If another process creates it at the
// same time, its contents win.
func loadOrCreate(path string, perm fs.FileMode, create func() ([]byte, error)) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return data, err
	}
	data, err = create()
	if err != nil {
		return nil, err
	}
	if err := writeNewFile(path, data, perm); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, err
	}
	return data, nil
}
