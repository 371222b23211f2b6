//go:build !linux

package i2ptest

import "os/exec"

func setDeathSignal(*exec.Cmd) {}
