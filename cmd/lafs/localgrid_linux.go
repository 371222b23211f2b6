package main

import "syscall"

// setParentDeathSignal has Linux send SIGTERM to a node when local-grid
// itself dies (even by SIGKILL), so that no node outlives its grid.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
