package disk

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveJournal: Linux has syncfs, which a checkpoint needs.
const haveJournal = true

// syncFS flushes the whole file system holding f.
func syncFS(f *os.File) error { return unix.Syncfs(int(f.Fd())) }

// lockFile takes an exclusive lock on f, failing at once if another
// process holds one; it goes with f's close.
func lockFile(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) }

// fdatasync flushes f's data (and only the metadata needed to read it).
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
