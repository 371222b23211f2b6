//go:build unix

package main

import (
	"io/fs"
	"os"
	"syscall"
)

// sharedFile says whether a rename over the file fi describes would
// change more than its contents: it has other hard links (which would
// keep the old data) or another owner (whose ownership the new file
// would lose).
func sharedFile(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return uint64(st.Nlink) > 1 || int(st.Uid) != os.Geteuid()
}
