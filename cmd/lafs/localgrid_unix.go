//go:build unix

package main

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// nodeProcAttr puts a node in its own process group, so that a Ctrl-C in
// the terminal reaches local-grid only, which then stops every node in
// order.
func nodeProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// signalName is the usual name of sig ("SIGKILL"), or "" when unknown.
func signalName(sig syscall.Signal) string { return unix.SignalName(sig) }
