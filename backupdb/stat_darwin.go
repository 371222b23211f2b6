package backupdb

import (
	"os"
	"syscall"
)

func fromFileInfo(fi os.FileInfo) *FileStat {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fromModTime(fi)
	}
	return &FileStat{
		Info:  FileInfo{Size: fi.Size(), Mtime: s.Mtimespec.Sec, Ctime: s.Ctimespec.Sec},
		Mtime: pyTime(s.Mtimespec.Sec, s.Mtimespec.Nsec),
		Ctime: pyTime(s.Ctimespec.Sec, s.Ctimespec.Nsec),
		POSIX: true,
		Mode:  uint64(s.Mode),
		Ino:   s.Ino,
		Dev:   uint64(int64(s.Dev)),
		Uid:   uint64(s.Uid),
		Gid:   uint64(s.Gid),
	}
}
