//go:build !unix

package node

import (
	"errors"
	"os"
	"time"
)

// tryLock: without flock the pid file alone guards the directory.
func tryLock(f *os.File) (bool, error) { return true, nil }

// canProbeLock says whether lockHolder can tell who holds a lock.
const canProbeLock = false

// lockHolder: the system cannot tell who holds a lock here, so nothing can
// be verified.
func lockHolder(f *os.File) (int, error) {
	return 0, errors.ErrUnsupported
}

// processAlive reports whether process pid exists, as far as the system
// lets us see.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}

// processStartTime is not known here.
func processStartTime(pid int) time.Time { return time.Time{} }
