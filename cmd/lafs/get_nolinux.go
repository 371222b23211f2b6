//go:build !linux

package main

// renameNoReplace has no atomic system call here: the caller falls back
// to a hard link.
func renameNoReplace(old, new string) error { return errNoReplace }
