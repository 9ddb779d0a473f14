//go:build !linux

package tgt

import (
	"errors"
	"os/exec"
)

func killWithParent(cmd *exec.Cmd) {}

func lockHeld(path string) (bool, error) {
	return false, errors.New("tgt: tgtd runs only on Linux")
}
