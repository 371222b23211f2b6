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
		Info:  FileInfo{Size: fi.Size(), Mtime: int64(s.Mtim.Sec), Ctime: int64(s.Ctim.Sec)},
		Mtime: pyTime(int64(s.Mtim.Sec), int64(s.Mtim.Nsec)),
		Ctime: pyTime(int64(s.Ctim.Sec), int64(s.Ctim.Nsec)),
		POSIX: true,
		Mode:  uint64(s.Mode),
		Ino:   uint64(s.Ino),
		Dev:   uint64(s.Dev),
		Uid:   uint64(s.Uid),
		Gid:   uint64(s.Gid),
	}
}
