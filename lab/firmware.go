package lab

import (
	"fmt"
	"os"
	"regexp"
	"strings"
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

// EDK2SecureBoot is the same EDK2 with Secure Boot on: Debian's snakeoil
// variable store has PK, KEK and db enrolled with the snakeoil certificate,
// whose key signs images it accepts (SnakeoilKey, SnakeoilCert).
var EDK2SecureBoot = Firmware{Name: "edk2-2022.11-secureboot", Code: "/usr/share/AAVMF/AAVMF_CODE.snakeoil.fd", Vars: "/usr/share/AAVMF/AAVMF_VARS.snakeoil.fd"}

// Debian's snakeoil signing pair for EDK2SecureBoot (qemu-efi-aarch64); the
// key is encrypted with SnakeoilPassword.
const (
	SnakeoilKey      = "/usr/share/qemu-efi-aarch64/PkKek-1-snakeoil.key"
	SnakeoilCert     = "/usr/share/qemu-efi-aarch64/PkKek-1-snakeoil.pem"
	SnakeoilPassword = "snakeoil"
)

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

// EDK2 UEFI Shell texts (the shell in AAVMF's firmware volume); its
// startup countdown has colour escapes between the words.
var shellStartup = regexp.MustCompile(`in \d+ seconds to skip`)

// ShellPrompt is the EDK2 UEFI Shell's prompt.
const ShellPrompt = "Shell> "

// StartEFI starts the EFI application efi the firmware's way, on a fresh
// machine made from cfg (cfg.Disks come after the application's disk), with
// args as its command line (its load options), and returns the machine and
// the console match at which the firmware began to run it; the
// application's output follows.
//
//   - U-Boot: at the prompt, `setenv bootargs ARGS` (when args is not
//     empty), then load and bootefi; the match is "N bytes read".
//   - EDK2 without args: the boot manager starts /EFI/BOOT/BOOTAA64.EFI of
//     the first disk by itself (UEFI 2.10 §3.5.1); the match is "BdsDxe:
//     starting Boot0001 ...".
//   - EDK2 with args: the first disk gets bootindex=0 and no removable-media
//     loader, so the boot manager falls through to the UEFI Shell; at its
//     prompt `fs0:\snp-go.efi ARGS`; the match is the end of its echo. The
//     firmware has then connected no NIC by itself (the application must).
func StartEFI(t testing.TB, cfg Config, efi, args string) (*Machine, Match) {
	t.Helper()
	img := t.TempDir() + "/efi-disk.img"
	d := EFIDisk(efi, false)
	edk2 := cfg.Firmware.EDK2()
	if edk2 && args == "" {
		d.Files = map[string]File{RemovablePath: HostFile(efi)}
	}
	if err := BuildDisk(img, d); err != nil {
		t.Fatal(err)
	}
	cfg.Disks = append([]string{img}, cfg.Disks...)
	cfg.Snapshot = true
	cfg.FirstDiskBoots = edk2 && args != ""
	m := Start(t, cfg)
	switch {
	case edk2 && args == "":
		at, err := m.Expect(bdsStartRE, 2*time.Minute)
		if err != nil {
			t.Fatalf("EDK2 did not start %s: %v", RemovablePath, err)
		}
		return m, at
	case edk2:
		if _, err := m.Expect(shellStartup, 2*time.Minute); err != nil {
			t.Fatalf("EDK2 did not start its UEFI Shell: %v", err)
		}
		// Any key but ESC: go on without startup.nsh (there is none).
		if err := m.Send(" "); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Expect(ShellPrompt, 30*time.Second); err != nil {
			t.Fatal(err)
		}
		cmd := `fs0:` + strings.ReplaceAll(EFIPath, "/", `\`) + " " + args
		if err := m.Send(cmd + "\r"); err != nil {
			t.Fatal(err)
		}
		// The end of the echo (a long line may wrap before it).
		at, err := m.Expect(regexp.MustCompile(`\n`), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return m, at
	}
	if _, err := m.StopAutoboot(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if args != "" {
		if _, err := m.Run("setenv bootargs "+args, 10*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := m.Bootefi("0:1", EFIPath[1:], 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return m, loaded
}

// WaitFirmware waits for the firmware to take over again after the
// application StartEFI started returned: U-Boot's prompt; EDK2's shell
// prompt when the shell started it, else the boot manager's next step (its
// next boot option, or its front page).
func (m *Machine) WaitFirmware(fw Firmware, fromShell bool, timeout time.Duration) error {
	switch {
	case !fw.EDK2():
		_, err := m.WaitPrompt(timeout)
		return err
	case fromShell:
		_, err := m.Expect(ShellPrompt, timeout)
		return err
	default:
		_, err := m.Expect(regexp.MustCompile(`BdsDxe: (loading|starting|failed to load) Boot|Shell> `), timeout)
		return err
	}
}
