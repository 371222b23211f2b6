package backupdb

import (
	"os"
)

// FileStat is what Tahoe's backup reads of a local file or directory with
// os.stat (following symlinks): the FileInfo the database compares, and
// the metadata Tahoe records beside each child of a backed-up directory
// (get_local_metadata).
type FileStat struct {
	Info FileInfo
	// Mtime and Ctime are st_mtime and st_ctime as Python's floats:
	// seconds plus nanoseconds × 1e-9. On POSIX ctime is the inode's
	// change time; elsewhere it is the modification time here.
	Mtime, Ctime float64
	// POSIX is set where the st_mode, st_ino, st_dev, st_uid and st_gid
	// fields below are the system's own (Unix); Tahoe records them then.
	POSIX                    bool
	Mode, Ino, Dev, Uid, Gid uint64
}

// Stat stats path, following symlinks, as Python's os.stat.
func Stat(path string) (*FileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	return fromFileInfo(fi), nil
}

// pyTime is a timespec as CPython's os.stat makes st_mtime of it.
func pyTime(sec, nsec int64) float64 { return float64(sec) + float64(nsec)*1e-9 }

// fromModTime is FileStat where only the modification time is known.
func fromModTime(fi os.FileInfo) *FileStat {
	t := fi.ModTime()
	sec, nsec := t.Unix(), int64(t.Nanosecond())
	return &FileStat{
		Info:  FileInfo{Size: fi.Size(), Mtime: sec, Ctime: sec},
		Mtime: pyTime(sec, nsec),
		Ctime: pyTime(sec, nsec),
	}
}
