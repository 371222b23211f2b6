//go:build !unix

package main

import "syscall"

// nodeProcAttr: no process groups here.
func nodeProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }

// signalName knows no names here.
func signalName(sig syscall.Signal) string { return "" }
