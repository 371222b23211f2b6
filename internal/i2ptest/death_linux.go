package i2ptest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill i2pd should the test process die
// before it stops i2pd itself.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
