package lab

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// UBootPath is where Debian's u-boot-qemu package installs U-Boot for QEMU's
// arm64 virt machine.
const UBootPath = "/usr/lib/u-boot/qemu_arm64/u-boot.bin"

// prereq is one program or file the lab needs and the package that has it.
type prereq struct {
	name    string // program on $PATH, or absolute file path
	pkg     string // Debian package that provides it
	forDisk bool   // needed to build disk images
	forQEMU bool   // needed to boot
}

var prereqs = []prereq{
	{name: "qemu-system-aarch64", pkg: "qemu-system-arm", forQEMU: true},
	{name: UBootPath, pkg: "u-boot-qemu", forQEMU: true},
	{name: AAVMFCode, pkg: "qemu-efi-aarch64", forQEMU: true},
	{name: AAVMFVars, pkg: "qemu-efi-aarch64", forQEMU: true},
	{name: "sgdisk", pkg: "gdisk", forDisk: true},
	{name: "mkfs.vfat", pkg: "dosfstools", forDisk: true},
	{name: "mmd", pkg: "mtools", forDisk: true},
	{name: "mcopy", pkg: "mtools", forDisk: true},
}

// Missing lists the lab prerequisites that are not installed, each as
// "program (Debian package)". Disk-building tools are checked when disk is
// true, QEMU and U-Boot when qemu is true.
func Missing(disk, qemu bool) []string {
	var out []string
	for _, p := range prereqs {
		if !(disk && p.forDisk || qemu && p.forQEMU) {
			continue
		}
		if !present(p.name) {
			out = append(out, fmt.Sprintf("%s (%s)", p.name, p.pkg))
		}
	}
	return out
}

func present(name string) bool {
	if strings.HasPrefix(name, "/") {
		_, err := os.Stat(name)
		return err == nil
	}
	_, err := exec.LookPath(name)
	return err == nil
}

// Check returns nil when everything the lab needs (disk tools, QEMU and
// U-Boot) is installed, or one error naming every missing piece and the
// Debian packages to install.
func Check() error {
	return missingErr(Missing(true, true))
}

func missingErr(m []string) error {
	if len(m) == 0 {
		return nil
	}
	return errors.New("lab: missing " + strings.Join(m, ", ") + "; install them with apt-get")
}

// SkipIfMissing skips t with one line naming what is missing when the full
// lab (disk tools, QEMU, U-Boot) is not installed. When everything is
// installed but QEMU cannot start the lab's machines (a file from a package
// that is not installed, such as an option ROM), it fails t with QEMU's own
// words: that is a broken lab, not an absent one.
func SkipIfMissing(t testing.TB) {
	t.Helper()
	if err := Check(); err != nil {
		t.Skip("SKIP: " + err.Error())
	}
	if err := Probe(); err != nil {
		t.Fatal(err)
	}
}

var probe struct {
	once sync.Once
	err  error
}

// Probe starts QEMU, halted (-S), once for each machine shape the lab uses
// (with and without the network) and reports the first one QEMU refuses,
// with its error output. Presence checks cannot see this class of problem:
// QEMU is installed and still fails, for instance "failed to find romfile
// efi-virtio.rom" when a NIC gets an option ROM from ipxe-qemu and that
// package is missing. The result is computed once per process.
func Probe() error {
	probe.once.Do(func() {
		for _, c := range []Config{{}, {NoNet: true}} {
			if probe.err = probeConfig(c); probe.err != nil {
				return
			}
		}
	})
	return probe.err
}

// probeConfig starts QEMU for c, halted, and reports an error when it exits
// within half a second (it only exits that early when it refused the
// configuration).
func probeConfig(c Config) error {
	c.ExtraArgs = append(append([]string{}, c.ExtraArgs...), "-S", "-serial", "none", "-display", "none")
	cmd, err := c.Command(true)
	if err != nil {
		return err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: starting %s: %w", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return fmt.Errorf("lab: QEMU refuses the lab machine (%s): %v: %s",
			strings.Join(cmd.Args[1:], " "), err, strings.TrimSpace(stderr.String()))
	case <-time.After(500 * time.Millisecond):
		cmd.Process.Kill()
		<-done
		return nil
	}
}

// SkipIfNoDiskTools skips t when the tools BuildDisk needs are missing.
func SkipIfNoDiskTools(t testing.TB) {
	t.Helper()
	if err := missingErr(Missing(true, false)); err != nil {
		t.Skip("SKIP: " + err.Error())
	}
}
