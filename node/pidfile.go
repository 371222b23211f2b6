package node

// The node directory's lock. Tahoe 1.20's `tahoe run` writes
// BASEDIR/running.process ("PID CREATE-TIME\n", the process's creation
// time in seconds since the epoch) and refuses to start while the process
// it names still runs, taking the lock file running.process.lock (flock)
// around that check (src/allmydata/util/pid.py). A running lafs node holds
// running.process.lock for its whole life with a POSIX record lock (fcntl
// F_SETLK), and on Linux with flock too (the two are independent there;
// elsewhere they interact, so the record lock alone keeps Tahoe out). So a
// second `lafs run` is refused, and so is `tahoe run` (its 2 s wait for the
// lock times out, or it finds our pid alive). The operating system drops
// the locks with the process, so a running.process a crash left behind
// never blocks a restart.
//
// `lafs stop` takes no lock: it asks the kernel (F_GETLK) which process
// holds the record lock, and signals that process only when
// running.process names it. Without a holder, it trusts running.process
// only where the system tells when the named process started and that
// matches (a Tahoe node); a pid it cannot verify is never signalled.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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
	info os.FileInfo // the lock file's, to know it again
}

// lockWait is how long LockNodeDir waits for a lock another process holds
// for a moment (Tahoe's check holds it up to 2 s), and lockPoll how often
// it tries meanwhile.
const (
	lockWait = 2 * time.Second
	lockPoll = 50 * time.Millisecond
)

// The node directories this process holds. A POSIX record lock is the
// process's, and closing any descriptor of its file drops it, so while this
// process holds a directory its lock file is never opened again here:
// heldLocked tells instead. heldMu also keeps a lock being taken and a
// look at the lock file in this process from crossing.
var (
	heldMu sync.Mutex
	held   []*NodeDirLock
)

// heldLocked reports whether this process holds the lock file at path.
// heldMu must be held.
func heldLocked(path string) bool {
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	for _, l := range held {
		if os.SameFile(fi, l.info) {
			return true
		}
	}
	return false
}

// LockNodeDir claims the node directory dir for this process, as `lafs
// run` does before it starts a node: it fails (wrapping ErrNodeRunning,
// and naming the process) when another lafs node holds the directory, or
// when running.process names a process that still runs and started when
// the file says (a Tahoe node). A lock another process holds for a moment
// (Tahoe's check) is waited for, up to 2 s. A running.process left by a
// node that is gone is replaced.
func LockNodeDir(dir string) (*NodeDirLock, error) {
	path := filepath.Join(dir, PidLockFile)
	deadline := time.Now().Add(lockWait)
	for {
		l, holder, err := tryLockNodeDir(dir, path)
		if l != nil || err != nil {
			return l, err
		}
		if holder != 0 || time.Now().After(deadline) {
			which := ""
			if pf, err := ReadPidFile(dir); err == nil && (holder == 0 || pf.PID == holder) {
				which = fmt.Sprintf(" (pid %d)", pf.PID)
			} else if holder > 0 {
				which = fmt.Sprintf(" (pid %d)", holder)
			}
			return nil, fmt.Errorf("%w in %s%s; stop it first (lafs stop %s)", ErrNodeRunning, dir, which, dir)
		}
		time.Sleep(lockPoll)
	}
}

// tryLockNodeDir makes one attempt at LockNodeDir. When the lock is busy
// it returns no lock and no error, with the pid of the lafs node holding
// it (0 if none is known: someone holds it for a moment).
func tryLockNodeDir(dir, path string) (*NodeDirLock, int, error) {
	heldMu.Lock()
	defer heldMu.Unlock()
	if heldLocked(path) {
		return nil, os.Getpid(), nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("locking the node directory: %w", err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("locking the node directory %s: %w", dir, err)
	}
	if !ok {
		holder, _ := lockHolder(f)
		f.Close()
		return nil, max(holder, 0), nil
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("locking the node directory %s: %w", dir, err)
	}
	l := &NodeDirLock{dir: dir, lock: f, info: info}
	if pf, err := ReadPidFile(dir); err == nil && pf.PID != os.Getpid() && pf.alive() {
		f.Close()
		return nil, 0, fmt.Errorf("%w in %s: its %s names pid %d, which is running (if that is no node, remove the file)",
			ErrNodeRunning, dir, PidFile, pf.PID)
	}
	if err := writePidFile(dir); err != nil {
		f.Close()
		return nil, 0, err
	}
	held = append(held, l)
	return l, 0, nil
}

// Release removes running.process and unlocks the directory. It is safe to
// call more than once.
func (l *NodeDirLock) Release() {
	if l == nil {
		return
	}
	heldMu.Lock()
	defer heldMu.Unlock()
	if l.lock == nil {
		return
	}
	if pf, err := ReadPidFile(l.dir); err == nil && pf.PID == os.Getpid() {
		os.Remove(filepath.Join(l.dir, PidFile))
	}
	l.lock.Close() // closing the file drops the locks
	l.lock = nil
	for i, h := range held {
		if h == l {
			held = append(held[:i], held[i+1:]...)
			break
		}
	}
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
// recycled pid does not count). Where the system does not tell, a live
// process counts: LockNodeDir would rather refuse to start beside a node
// than run two in one directory.
func (p PidInfo) alive() bool {
	if !processAlive(p.PID) {
		return false
	}
	started := processStartTime(p.PID)
	return started.IsZero() || sameStart(started, p.Created)
}

// verified reports whether the process the file names runs and is known to
// have started when the file says. Where the system does not tell when a
// process started, nothing is verified.
func (p PidInfo) verified() bool {
	return processAlive(p.PID) && sameStart(processStartTime(p.PID), p.Created)
}

// sameStart reports whether a process that started at started (zero:
// unknown) is the one a pid file says was created at created.
func sameStart(started, created time.Time) bool {
	if started.IsZero() {
		return false
	}
	d := started.Sub(created)
	return d > -2*time.Second && d < 2*time.Second
}

// RunState is whether a node runs in a node directory, as NodeDirState
// finds it.
type RunState struct {
	// PID is the process running.process names (0: no usable file).
	PID int
	// Holder is the process holding the directory's lock, as the kernel
	// tells (0: none): a lafs node.
	Holder int
	// Locked says a lafs node holds the directory's lock (Holder is set).
	Locked bool
	// Running says a node runs there: Locked, or, with the lock free,
	// running.process names a process that runs and is known to have
	// started when the file says (a Tahoe node).
	Running bool
	// Verified says PID is the node's process, and so may be signalled:
	// the lock's holder is PID (and started when the file says, where the
	// system tells), or the lock is free and PID is a Tahoe node as
	// Running says. A node that holds the lock but is not yet named by
	// running.process (it is starting) is Running but not Verified.
	Verified bool
}

// NodeDirState tells whether a node runs in dir, for `lafs stop`. It takes
// no lock: it asks the kernel which process holds the directory's lock, so
// it never keeps a node from starting, and a recycled pid cannot fool it.
// Where the kernel cannot tell (Windows), it fails wrapping
// errors.ErrUnsupported.
func NodeDirState(dir string) (RunState, error) {
	var st RunState
	path := filepath.Join(dir, PidLockFile)
	heldMu.Lock()
	holder, err := 0, error(nil)
	if heldLocked(path) {
		holder = os.Getpid()
	} else {
		holder, err = probeLock(path)
	}
	heldMu.Unlock()
	if err != nil {
		return st, fmt.Errorf("looking at the node directory's lock: %w", err)
	}
	pf, perr := ReadPidFile(dir)
	if perr == nil {
		st.PID = pf.PID
	}
	if holder > 0 {
		st.Holder, st.Locked, st.Running = holder, true, true
		if perr == nil && pf.PID == holder {
			started := processStartTime(holder)
			st.Verified = started.IsZero() || sameStart(started, pf.Created)
		}
		return st, nil
	}
	// No lafs node holds the directory: running.process is stale unless it
	// is a Tahoe node's, which only a start time can tell.
	st.Running = perr == nil && pf.verified()
	st.Verified = st.Running
	return st, nil
}

// probeLock is the pid of the process holding the lock file at path, 0 if
// none does (or the file is missing).
func probeLock(path string) (int, error) {
	if !canProbeLock {
		return 0, errors.ErrUnsupported
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	pid, err := lockHolder(f)
	return max(pid, 0), err
}
