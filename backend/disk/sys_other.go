//go:build !unix && !windows

package disk

import (
	"errors"
	"os"
)

// isNoSpace reports false: this system's errors are not classified.
func isNoSpace(err error) bool { return false }

// syncDir does nothing on this system.
func syncDir(dir string) error { return nil }

// available is not supported on this system.
func available(dir string) (uint64, error) { return 0, errors.ErrUnsupported }

// rmdir removes dir if it is an empty directory.
func rmdir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return errors.New("not a directory")
	}
	return os.Remove(dir)
}

// isCrossDevice reports false: this system's errors are not classified.
func isCrossDevice(err error) bool { return false }
