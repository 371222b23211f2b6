//go:build unix

package node

import (
	"syscall"
	"time"
)

// processCPUTime returns the CPU time, user and system, that this process
// has used (Python's time.process_time).
func processCPUTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
