//go:build !linux

package main

import "syscall"

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal: there a node outlives a local-grid that is killed with SIGKILL
// (a Ctrl-C still stops every node).
func setParentDeathSignal(a *syscall.SysProcAttr) {}
