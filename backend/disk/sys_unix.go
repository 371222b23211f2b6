//go:build unix

package disk

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// isNoSpace reports whether err says the file system or the user's quota
// is full.
func isNoSpace(err error) bool {
	return errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT)
}

// syncDir fsyncs a directory, making the entries added to it durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// rmdir removes dir if it is an empty directory.
func rmdir(dir string) error { return unix.Rmdir(dir) }

// isCrossDevice reports whether err says a link or rename crossed file
// systems.
func isCrossDevice(err error) bool { return errors.Is(err, unix.EXDEV) }
