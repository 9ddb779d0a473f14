package lab

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the kernel SIGKILL QEMU if the process that started
// it dies first (a test binary killed by -timeout runs no cleanups).
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
