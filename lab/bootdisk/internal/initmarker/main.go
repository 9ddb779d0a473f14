// Command initmarker is the /init of the lab's boot-disk initrd: the first
// and only process of a Debian arm64 kernel booted by Grub in the QEMU lab.
// It prints one marker line on the console,
//
//	SNPGO-LINUX-OK <kernel release> <nonce>
//
// where the nonce is the value of the snpgo= kernel parameter (the kernel
// hands parameters it does not know to init as environment variables), so
// a test knows the line comes from the kernel command line its grub.cfg
// wrote, and then powers the machine off (PSCI SYSTEM_OFF: QEMU exits).
//
// bootdisk builds it with GOOS=linux GOARCH=arm64 CGO_ENABLED=0.
package main

import (
	"fmt"
	"io"
	"os"
)

// Marker starts the line a test waits for; keep in step with
// bootdisk.LinuxMarker.
const Marker = "SNPGO-LINUX-OK"

func main() {
	out := console()
	release := kernelRelease()
	fmt.Fprintf(out, "\n%s %s %s\n", Marker, release, os.Getenv("snpgo"))
	if err := powerOff(); err != nil {
		fmt.Fprintf(out, "SNPGO-LINUX-POWEROFF-FAILED %v\n", err)
		select {} // init must not exit: the kernel would panic
	}
}

// console returns /dev/console. The kernel opens it as init's standard
// streams when the initramfs has the node (ours does); if that failed,
// mount devtmpfs on /dev and open it there.
func console() io.Writer {
	if _, err := os.Stdout.Stat(); err == nil {
		return os.Stdout
	}
	if f, err := openConsole(); err == nil {
		return f
	}
	return os.Stderr
}
