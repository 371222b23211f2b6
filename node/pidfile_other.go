//go:build !unix

package node

import (
	"os"
	"time"
)

// tryLock: without flock the pid file alone guards the directory.
func tryLock(f *os.File) (bool, error) { return true, nil }

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
