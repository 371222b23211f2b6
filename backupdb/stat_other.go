//go:build !linux && !darwin

package backupdb

import "os"

func fromFileInfo(fi os.FileInfo) *FileStat { return fromModTime(fi) }
