//go:build unix

package debian

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// LockFile takes an exclusive flock(2) on path, waiting up to wait for
// another process that holds it (a concurrent test run filling the cache).
// The kernel drops the lock if the holder dies.
func LockFile(path string, wait time.Duration) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("debian: cache lock: %w", err)
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("debian: cache lock %s: %v (another test run holds it?)", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
