//go:build !linux

package main

import "syscall"

// setParentDeathSignal does nothing where the kernel has no parent-death
// signal: there the pipe of exitWithParent alone stops a node whose
// local-grid died.
func setParentDeathSignal(a *syscall.SysProcAttr) {}
