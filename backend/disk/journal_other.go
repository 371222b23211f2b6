//go:build !linux

package disk

import (
	"errors"
	"os"
)

// haveJournal: without syncfs there is no cheap checkpoint, so every
// change is fsynced on its own.
const haveJournal = false

func syncFS(f *os.File) error { return errors.ErrUnsupported }

func fdatasync(f *os.File) error { return f.Sync() }

func lockFile(f *os.File) error { return nil }
