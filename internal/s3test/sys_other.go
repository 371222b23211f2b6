//go:build !linux

package s3test

import "os/exec"

// setPdeathsig does nothing where there is no parent-death signal.
func setPdeathsig(*exec.Cmd) {}
