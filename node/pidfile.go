package node

// The node directory's lock. Tahoe 1.20's `tahoe run` writes
// BASEDIR/running.process ("PID CREATE-TIME\n", the process's creation
// time in seconds since the epoch) and refuses to start while the process
// it names still runs, taking the lock file running.process.lock around
// that check (src/allmydata/util/pid.py). A running lafs node holds that
// lock file locked (flock) for its whole life, so a second `lafs run` is
// refused at once, and so is Tahoe's `tahoe run` (its 2 s wait for the
// lock times out). The operating system drops the lock with the process,
// so a running.process a crash left behind never blocks a restart: whoever
// gets the lock knows no lafs node runs there, and trusts the file only if
// its process still runs and started when the file says (a Tahoe node).

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// PidFile and PidLockFile are the names, in a node directory, of Tahoe's
// pid file and of the file locked while a node runs.
const (
	PidFile     = "running.process"
	PidLockFile = "running.process.lock"
)

// ErrNodeRunning is wrapped by the error of LockNodeDir when a node
// already runs in the directory.
var ErrNodeRunning = errors.New("a node is already running")

// NodeDirLock is a node directory held by this process: its lock file
// locked and running.process naming this process. Release gives it up.
type NodeDirLock struct {
	dir  string
	lock *os.File
}

// LockNodeDir claims the node directory dir for this process, as `lafs
// run` does before it starts a node: it fails (wrapping ErrNodeRunning,
// and naming the process) when another lafs node holds the directory, or
// when running.process names a process that still runs and started when
// the file says (a Tahoe node). A running.process left by a node that is
// gone is replaced.
func LockNodeDir(dir string) (*NodeDirLock, error) {
	f, err := os.OpenFile(filepath.Join(dir, PidLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking the node directory: %w", err)
	}
	held, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking the node directory %s: %w", dir, err)
	}
	if !held {
		f.Close()
		which := ""
		if pf, err := ReadPidFile(dir); err == nil {
			which = fmt.Sprintf(" (pid %d)", pf.PID)
		}
		return nil, fmt.Errorf("%w in %s%s; stop it first (lafs stop %s)", ErrNodeRunning, dir, which, dir)
	}
	l := &NodeDirLock{dir: dir, lock: f}
	if pf, err := ReadPidFile(dir); err == nil && pf.PID != os.Getpid() && pf.alive() {
		l.lock.Close()
		return nil, fmt.Errorf("%w in %s: its %s names pid %d, which is running (if that is no node, remove the file)",
			ErrNodeRunning, dir, PidFile, pf.PID)
	}
	if err := writePidFile(dir); err != nil {
		l.lock.Close()
		return nil, err
	}
	return l, nil
}

// Release removes running.process and unlocks the directory. It is safe to
// call more than once.
func (l *NodeDirLock) Release() {
	if l == nil || l.lock == nil {
		return
	}
	if pf, err := ReadPidFile(l.dir); err == nil && pf.PID == os.Getpid() {
		os.Remove(filepath.Join(l.dir, PidFile))
	}
	l.lock.Close() // closing the file drops the lock
	l.lock = nil
}

// writePidFile writes running.process for this process, in Tahoe's form,
// replacing any there atomically.
func writePidFile(dir string) error {
	created := processStartTime(os.Getpid())
	if created.IsZero() {
		created = time.Now()
	}
	line := fmt.Sprintf("%d %s\n", os.Getpid(), strconv.FormatFloat(float64(created.UnixMicro())/1e6, 'f', -1, 64))
	tmp := filepath.Join(dir, PidFile+".tmp")
	if err := os.WriteFile(tmp, []byte(line), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", PidFile, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, PidFile)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", PidFile, err)
	}
	return nil
}

// PidInfo is what running.process says: the node's process id and when
// that process was created.
type PidInfo struct {
	PID     int
	Created time.Time
}

// ErrBadPidFile is wrapped by the errors of a running.process that is not
// "PID CREATE-TIME".
var ErrBadPidFile = errors.New("invalid pid file")

// ReadPidFile reads the node directory's running.process. A missing file is
// an error wrapping fs.ErrNotExist.
func ReadPidFile(dir string) (PidInfo, error) {
	b, err := os.ReadFile(filepath.Join(dir, PidFile))
	if err != nil {
		return PidInfo{}, err
	}
	return parsePidFile(string(b))
}

// parsePidFile parses Tahoe's "PID CREATE-TIME".
func parsePidFile(s string) (PidInfo, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return PidInfo{}, fmt.Errorf("%w %s: want \"PID CREATE-TIME\"", ErrBadPidFile, PidFile)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return PidInfo{}, fmt.Errorf("%w %s: bad pid", ErrBadPidFile, PidFile)
	}
	t, err := strconv.ParseFloat(f[1], 64)
	if err != nil || math.IsNaN(t) || math.IsInf(t, 0) || t < 0 || t > 1e11 {
		return PidInfo{}, fmt.Errorf("%w %s: bad creation time", ErrBadPidFile, PidFile)
	}
	sec, frac := math.Modf(t)
	return PidInfo{PID: pid, Created: time.Unix(int64(sec), int64(frac*1e9))}, nil
}

// alive reports whether the process the file names runs and, where the
// system tells when a process started, started when the file says (a
// recycled pid does not count).
func (p PidInfo) alive() bool {
	if !processAlive(p.PID) {
		return false
	}
	started := processStartTime(p.PID)
	if started.IsZero() {
		return true
	}
	d := started.Sub(p.Created)
	return d > -2*time.Second && d < 2*time.Second
}

// RunState is whether a node runs in a node directory, as NodeDirState
// finds it.
type RunState struct {
	// PID is the process running.process names (0: no usable file).
	PID int
	// Locked says a lafs node holds the directory's lock: it runs.
	Locked bool
	// Running says a node runs there: Locked, or running.process names a
	// process that runs and started when the file says (a Tahoe node).
	Running bool
}

// NodeDirState tells whether a node runs in dir, for `lafs stop` and
// `lafs status`. It takes the lock for a moment to see whether it is free
// (so it never blocks a node that starts meanwhile for longer than that).
func NodeDirState(dir string) (RunState, error) {
	var st RunState
	pf, perr := ReadPidFile(dir)
	if perr == nil {
		st.PID = pf.PID
	}
	f, err := os.OpenFile(filepath.Join(dir, PidLockFile), os.O_RDWR, 0)
	switch {
	case err == nil:
		held, lerr := tryLock(f)
		f.Close()
		if lerr != nil {
			return st, fmt.Errorf("looking at the node directory's lock: %w", lerr)
		}
		st.Locked = !held
	case !errors.Is(err, os.ErrNotExist):
		return st, fmt.Errorf("looking at the node directory's lock: %w", err)
	}
	if st.Locked && st.PID == 0 {
		// The node is between taking its lock and writing its pid.
		time.Sleep(50 * time.Millisecond)
		if pf, err := ReadPidFile(dir); err == nil {
			st.PID = pf.PID
		}
	}
	st.Running = st.Locked || (perr == nil && pf.alive())
	return st, nil
}
