package bootdisk

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// GrubModules are the modules built into BOOTAA64.EFI. grub-mkimage adds
// their dependencies from moddep.lst; gcry_sha256 is named because hashsum
// finds its digest at run time (crypto.lst), not through moddep.lst, and the
// image has no module directory to load it from.
var GrubModules = []string{
	"part_gpt", "fat", "normal", "linux", "echo", "search", "configfile",
	"ls", "cat", "test", "hashsum", "gcry_sha256", "sleep",
}

// GrubPrefix is the device-less prefix built into the image: Grub looks for
// grub.cfg in this directory of the disk and partition it was loaded from.
const GrubPrefix = "/EFI/BOOT"

// earlyCfg is the configuration embedded in the image (grub-mkimage -c). It
// runs before normal mode reads $prefix/grub.cfg and names the device Grub
// found itself on.
const earlyCfg = "echo \"" + MarkerGrubEarly + " root=$root prefix=$prefix\"\n"

// GrubEFI builds Grub as an arm64 EFI application, dir/BOOTAA64.EFI, from
// the unpacked module directory p.GrubModules with grub-mkimage (Debian
// grub-common) and returns its path.
func GrubEFI(dir string, p *Packages) (string, error) {
	if _, err := exec.LookPath("grub-mkimage"); err != nil {
		return "", fmt.Errorf("%w: grub-mkimage (Debian grub-common)", errNoTool)
	}
	early := filepath.Join(dir, "early.cfg")
	if err := os.WriteFile(early, []byte(earlyCfg), 0o644); err != nil {
		return "", fmt.Errorf("bootdisk: %w", err)
	}
	out := filepath.Join(dir, "BOOTAA64.EFI")
	args := append([]string{"-d", p.GrubModules, "-O", "arm64-efi", "-p", GrubPrefix, "-c", early, "-o", out}, GrubModules...)
	if msg, err := exec.Command("grub-mkimage", args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("bootdisk: grub-mkimage %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(msg))
	}
	return out, nil
}

// Markers grub.cfg and the initrd print, in boot order.
const (
	MarkerGrubEarly   = "SNPGO-GRUB-EARLY"      // embedded early.cfg ran
	MarkerGrubCfg     = "SNPGO-GRUB-CFG"        // grub.cfg from the ESP runs
	MarkerHashBegin   = "SNPGO-GRUB-HASH-BEGIN" // hashsum of RandomPath follows
	MarkerHashEnd     = "SNPGO-GRUB-HASH-END"
	MarkerMenu        = "SNPGO-GRUB-MENU"       // the menu with a timeout comes next
	MarkerGrubLinux   = "SNPGO-GRUB-LINUX"      // the menu entry runs: linux /vmlinuz next
	MarkerKernel      = "SNPGO-GRUB-KERNEL"     // the kernel is loaded
	MarkerReadBegin   = "SNPGO-GRUB-READ-BEGIN" // initrd BigPath: a plain read follows
	MarkerReadEnd     = "SNPGO-GRUB-READ-END"
	MarkerBigBegin    = "SNPGO-GRUB-BIG-BEGIN" // hashsum of BigPath follows
	MarkerBigEnd      = "SNPGO-GRUB-BIG-END"
	MarkerGrubBoot    = "SNPGO-GRUB-BOOT" // kernel and initrd loaded: boot next
	LinuxMarker       = "SNPGO-LINUX-OK"  // /init: "SNPGO-LINUX-OK <release> <nonce>"
	LinuxPowerOffFail = "SNPGO-LINUX-POWEROFF-FAILED"
)

// Paths on the ESP.
const (
	GrubPath   = "/EFI/BOOT/BOOTAA64.EFI" // UEFI 2.10 §3.5.1.1 removable media path, arm64
	ConfigPath = "/EFI/BOOT/grub.cfg"
	KernelPath = "/vmlinuz"
	InitrdPath = "/initrd.img"
	RandomPath = "/random.bin"
	BigPath    = "/big.bin"
)

// MenuTitle is the one menu entry of grub.cfg.
const MenuTitle = "snp-go lab Linux"

// grubConfig returns grub.cfg: markers, the SHA-256 of the random file,
// then a menu with one entry that boots the kernel with the initrd, shown
// for timeout seconds (0: no menu, boot at once). With big, the entry
// reads BigPath twice after loading the kernel: as an initrd (Grub's
// plainest whole-file read, no per-byte work: the throughput figure), then
// through hashsum (the integrity check); the real initrd replaces it.
func grubConfig(timeout int, big bool, cmdline string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "echo %s\n", MarkerGrubCfg)
	fmt.Fprintf(&b, "echo %s\nhashsum --hash sha256 %s\necho %s\n", MarkerHashBegin, RandomPath, MarkerHashEnd)
	fmt.Fprintf(&b, "set default=0\nset timeout=%d\nset timeout_style=menu\n", timeout)
	if timeout > 0 {
		fmt.Fprintf(&b, "echo %s\n", MarkerMenu)
	}
	fmt.Fprintf(&b, "menuentry '%s' {\n", MenuTitle)
	fmt.Fprintf(&b, "\techo %s\n", MarkerGrubLinux)
	fmt.Fprintf(&b, "\tlinux %s %s\n", KernelPath, cmdline)
	fmt.Fprintf(&b, "\techo %s\n", MarkerKernel)
	if big {
		fmt.Fprintf(&b, "\techo %s\n\tinitrd %s\n\techo %s\n", MarkerReadBegin, BigPath, MarkerReadEnd)
		fmt.Fprintf(&b, "\techo %s\n\thashsum --hash sha256 %s\n\techo %s\n", MarkerBigBegin, BigPath, MarkerBigEnd)
	}
	fmt.Fprintf(&b, "\tinitrd %s\n", InitrdPath)
	fmt.Fprintf(&b, "\techo %s\n", MarkerGrubBoot)
	b.WriteString("\tboot\n}\n")
	return b.String()
}
