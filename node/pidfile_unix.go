//go:build unix

package node

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tryLock takes an exclusive flock on f without waiting: false if another
// open file holds one. The lock goes with f's close (or the process).
func tryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return false, err
	}
}

// processAlive reports whether process pid exists and is not a zombie.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	if st, ok := procStat(pid); ok && st.state == 'Z' {
		return false
	}
	return true
}

// processStartTime is when process pid was created, as psutil (and so
// Tahoe) computes it on Linux: the boot time plus the start time in clock
// ticks. It is zero where /proc does not tell.
func processStartTime(pid int) time.Time {
	st, ok := procStat(pid)
	if !ok {
		return time.Time{}
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			boot, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return time.Time{}
			}
			const clockTicks = 100 // USER_HZ, the same on every Linux ABI
			ns := st.startTicks * (int64(time.Second) / clockTicks)
			return time.Unix(boot, 0).Add(time.Duration(ns))
		}
	}
	return time.Time{}
}

type procStatus struct {
	state      byte
	startTicks int64
}

// procStat reads the state and start time of /proc/PID/stat.
func procStat(pid int) (procStatus, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStatus{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // the command name may hold anything
	if i < 0 {
		return procStatus{}, false
	}
	f := strings.Fields(s[i+1:])
	// After the name: state is field 3 of the line, starttime field 22.
	if len(f) < 20 || len(f[0]) != 1 {
		return procStatus{}, false
	}
	start, err := strconv.ParseInt(f[19], 10, 64)
	if err != nil {
		return procStatus{}, false
	}
	return procStatus{state: f[0][0], startTicks: start}, true
}
