package tgt

import (
	"os/exec"
	"syscall"
)

// killWithParent makes the kernel SIGKILL tgtd if the process that started
// it dies first (a test binary killed by -timeout runs no cleanups).
func killWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// lockHeld reports whether a process holds a lockf(3) (POSIX record) lock
// on the first byte of path, as tgtd does on its socket.N.lock. F_GETLK
// only asks; it takes nothing.
func lockHeld(path string) (bool, error) {
	f, err := openIfExists(path)
	if f == nil || err != nil {
		return false, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != syscall.F_UNLCK, nil
}
