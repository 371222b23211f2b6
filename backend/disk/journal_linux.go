package disk

import (
	"os"

	"golang.org/x/sys/unix"
)

// haveJournal: Linux has syncfs, which a checkpoint needs.
const haveJournal = true

// syncFS flushes the whole file system holding f.
func syncFS(f *os.File) error { return unix.Syncfs(int(f.Fd())) }

// fdatasync flushes f's data (and only the metadata needed to read it).
func fdatasync(f *os.File) error { return unix.Fdatasync(int(f.Fd())) }
