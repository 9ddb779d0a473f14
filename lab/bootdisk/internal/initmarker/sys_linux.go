package main

import (
	"os"
	"syscall"
)

func kernelRelease() string {
	var u syscall.Utsname
	if err := syscall.Uname(&u); err != nil {
		return "unknown"
	}
	b := make([]byte, 0, len(u.Release))
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

func openConsole() (*os.File, error) {
	_ = os.MkdirAll("/dev", 0o755)
	// EBUSY when already mounted is fine.
	_ = syscall.Mount("devtmpfs", "/dev", "devtmpfs", 0, "")
	return os.OpenFile("/dev/console", os.O_WRONLY, 0)
}

// powerOff syncs and asks the kernel to power off (reboot(2),
// LINUX_REBOOT_CMD_POWER_OFF); on arm64 virt that is PSCI SYSTEM_OFF.
func powerOff() error {
	syscall.Sync()
	return syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
}
