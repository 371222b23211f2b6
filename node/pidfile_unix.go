//go:build unix

package node

import (
	"errors"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// tryLock locks f without waiting, as a running node holds it: a POSIX
// record lock (fcntl) over the whole file, whose holder others can ask the
// kernel for (lockHolder), and on Linux an flock too, which Tahoe's check
// takes. Elsewhere flock and record locks interact (one process could not
// hold both), and the record lock alone keeps Tahoe's flock off. It is
// false if another process (or open file) holds either. The locks go with
// any close of f's file in this process, or with the process.
func tryLock(f *os.File) (bool, error) {
	fd := int(f.Fd())
	if runtime.GOOS == "linux" {
		if ok, err := retryEINTR(func() error { return syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) }); !ok || err != nil {
			return false, err
		}
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	ok, err := retryEINTR(func() error { return syscall.FcntlFlock(uintptr(fd), syscall.F_SETLK, &lk) })
	if !ok && err == nil && runtime.GOOS == "linux" {
		// Someone holds only the record lock; give the flock back.
		syscall.Flock(fd, syscall.LOCK_UN)
	}
	return ok, err
}

// retryEINTR runs a non-blocking lock call: true if it took the lock,
// false (and no error) if the lock is busy.
func retryEINTR(lock func() error) (bool, error) {
	for {
		err := lock()
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EACCES):
			return false, nil
		case errors.Is(err, syscall.EINTR):
			continue
		}
		return false, err
	}
}

// canProbeLock says whether lockHolder can tell who holds a lock.
const canProbeLock = true

// lockHolder asks the kernel (F_GETLK, which takes no lock) which process
// holds a record lock on f's file that would keep a write lock off: its
// pid, 0 if none, or -1 if the holder is no process (an open-file lock).
// Locks of this process do not count.
func lockHolder(f *os.File) (int, error) {
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	for {
		err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		break
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, nil
	}
	if lk.Pid <= 0 {
		return -1, nil
	}
	return int(lk.Pid), nil
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
