//go:build !unix

package node

import "time"

// processCPUTime: this system does not tell a process its CPU time here,
// so the node reports no cpu_monitor statistics.
func processCPUTime() (time.Duration, bool) { return 0, false }
