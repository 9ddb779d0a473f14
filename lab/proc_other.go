//go:build !linux

package lab

import "os/exec"

// killWithParent has no portable equivalent outside Linux; Console's
// deadline and Close still kill QEMU.
func killWithParent(cmd *exec.Cmd) {}
