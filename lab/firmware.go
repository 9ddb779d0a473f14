package lab

import (
	"fmt"
	"os"
	"regexp"
	"testing"
	"time"
)

// Firmware is the arm64 virt machine's UEFI firmware: a U-Boot binary
// (QEMU's -bios) or an EDK2 pair of flash images (AAVMF: code read-only,
// variables attached with snapshot=on so a run never changes the file).
type Firmware struct {
	Name string // for logs and test names, e.g. "u-boot-2023.01"
	BIOS string // U-Boot: the u-boot.bin QEMU loads with -bios
	Code string // EDK2: the code flash image (unit 0)
	Vars string // EDK2: the variable store template (unit 1)
}

// EDK2 reports whether f is an EDK2 (pflash) firmware.
func (f Firmware) EDK2() bool { return f.Code != "" }

// Debian 12's firmware packages, installed by .ci/run.
const (
	AAVMFCode = "/usr/share/AAVMF/AAVMF_CODE.fd" // qemu-efi-aarch64
	AAVMFVars = "/usr/share/AAVMF/AAVMF_VARS.fd"
)

// UBoot is Debian 12's U-Boot for QEMU (u-boot-qemu), the lab's default.
var UBoot = Firmware{Name: "u-boot-2023.01", BIOS: UBootPath}

// EDK2 is Debian 12's AAVMF (qemu-efi-aarch64: EDK2 2022.11).
var EDK2 = Firmware{Name: "edk2-2022.11", Code: AAVMFCode, Vars: AAVMFVars}

// args returns QEMU's firmware arguments, checking the files exist.
func (f Firmware) args() ([]string, error) {
	if f.EDK2() {
		for _, p := range []string{f.Code, f.Vars} {
			if _, err := os.Stat(p); err != nil {
				return nil, fmt.Errorf("lab: firmware %s: %w (install qemu-efi-aarch64)", f.Name, err)
			}
		}
		return []string{
			"-drive", "if=pflash,format=raw,readonly=on,file=" + qemuEscape(f.Code),
			"-drive", "if=pflash,format=raw,snapshot=on,file=" + qemuEscape(f.Vars),
		}, nil
	}
	bios := f.BIOS
	if bios == "" {
		bios = UBootPath
	}
	if _, err := os.Stat(bios); err != nil {
		return nil, fmt.Errorf("lab: firmware %s: %w (install u-boot-qemu)", bios, err)
	}
	return []string{"-bios", bios}, nil
}

// bdsStartRE is EDK2's boot manager starting a boot option (BdsDxe's
// DEBUG_INFO line, printed by the release AAVMF too).
var bdsStartRE = regexp.MustCompile(`BdsDxe: starting Boot[0-9A-F]{4} "[^"]*" from [^\r\n]*\r?\n`)

// StartEFI starts the EFI application efi the firmware's way, on a fresh
// machine made from cfg (cfg.Disks come after the application's disk) and
// returns the machine and the console match at which the firmware began to
// run it: U-Boot's "N bytes read" before bootefi, EDK2's "BdsDxe: starting
// Boot0001" (EDK2 boots /EFI/BOOT/BOOTAA64.EFI of the first disk by
// itself). The application's output follows.
func StartEFI(t testing.TB, cfg Config, efi string) (*Machine, Match) {
	t.Helper()
	img := t.TempDir() + "/efi-disk.img"
	d := EFIDisk(efi, false)
	if cfg.Firmware.EDK2() {
		d.Files = map[string]File{RemovablePath: HostFile(efi)}
	}
	if err := BuildDisk(img, d); err != nil {
		t.Fatal(err)
	}
	cfg.Disks = append([]string{img}, cfg.Disks...)
	cfg.Snapshot = true
	m := Start(t, cfg)
	if cfg.Firmware.EDK2() {
		at, err := m.Expect(bdsStartRE, 2*time.Minute)
		if err != nil {
			t.Fatalf("EDK2 did not start %s: %v", RemovablePath, err)
		}
		return m, at
	}
	if _, err := m.StopAutoboot(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	loaded, err := m.Bootefi("0:1", EFIPath[1:], 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m, loaded
}
