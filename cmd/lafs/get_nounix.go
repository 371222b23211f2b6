//go:build !unix

package main

import "io/fs"

// sharedFile: links and owners are not looked at here.
func sharedFile(fi fs.FileInfo) bool { return false }
