// Package firmware provides the UEFI firmware builds snp-go is tested on:
// Debian 12's U-Boot 2023.01 and EDK2 (AAVMF 2022.11), both installed with
// apt-get, and Debian 13's U-Boot 2025.01 and EDK2 (AAVMF 2025.02, strict
// NX), downloaded (not installed) from trixie into the lab cache the way
// lab/bootdisk fetches arm64 packages.
package firmware

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/debian"
)

// trixie is where the newer firmware comes from. SNP_LAB_TRIXIE overrides
// the sources line (a local mirror, say).
const (
	trixieSources = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n"
	envTrixie     = "SNP_LAB_TRIXIE"
)

var (
	trixieMu sync.Mutex
	trixie   = map[string]trixieResult{}
)

type trixieResult struct {
	dir string
	err error
}

// trixieFiles returns the directory holding members of trixie's package
// pkg, unpacked (not installed) into the lab cache on first use; later
// calls and later runs reuse it. Failures wrap debian.ErrUnavailable.
func trixieFiles(pkg string, members ...string) (string, error) {
	trixieMu.Lock()
	defer trixieMu.Unlock()
	if r, ok := trixie[pkg]; ok {
		return r.dir, r.err
	}
	dir, err := fetchTrixie(pkg, members)
	trixie[pkg] = trixieResult{dir, err}
	return dir, err
}

func fetchTrixie(pkg string, members []string) (string, error) {
	if err := debian.LookTools("apt-get", "apt-cache", "dpkg-deb", "tar"); err != nil {
		return "", fmt.Errorf("%w: %v", debian.ErrUnavailable, err)
	}
	base, err := debian.CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(base, "trixie")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := debian.LockFile(filepath.Join(dir, ".lock"), 10*time.Minute)
	if err != nil {
		return "", err
	}
	defer unlock()
	// A previous run's unpacked package is used as it is.
	if got, _ := filepath.Glob(filepath.Join(dir, "pkg", pkg+"_*", members[0])); len(got) > 0 {
		return strings.TrimSuffix(got[len(got)-1], members[0]), nil
	}
	src := os.Getenv(envTrixie)
	if src == "" {
		src = trixieSources
	}
	a := debian.Apt{Dir: dir, Arch: "arm64", Sources: src}
	if err := a.Update(pkg + " (trixie)"); err != nil {
		return "", err
	}
	v, err := a.Candidate(pkg)
	if err != nil {
		return "", err
	}
	var paths []string
	for _, m := range members {
		paths = append(paths, "./"+m)
	}
	d, err := a.Unpacked(pkg, v, paths...)
	if err != nil {
		return "", err
	}
	for _, m := range members {
		if _, err := os.Stat(filepath.Join(d, m)); err != nil {
			return "", fmt.Errorf("firmware: %s %s: %w", pkg, v, err)
		}
	}
	return d + "/", nil
}

// UBoot2025 returns Debian 13's U-Boot for QEMU (u-boot-qemu 2025.01).
func UBoot2025() (lab.Firmware, error) {
	const bin = "usr/lib/u-boot/qemu_arm64/u-boot.bin"
	d, err := trixieFiles("u-boot-qemu", bin)
	if err != nil {
		return lab.Firmware{}, err
	}
	return lab.Firmware{Name: "u-boot-2025.01", BIOS: filepath.Join(d, bin)}, nil
}

// Debian 13's AAVMF builds (qemu-efi-aarch64 2025.02).
const (
	aavmf2025       = "usr/share/AAVMF/AAVMF_CODE.no-secboot.fd"
	aavmf2025Strict = "usr/share/AAVMF/AAVMF_CODE.secboot.strictnx.fd"
	aavmf2025Vars   = "usr/share/AAVMF/AAVMF_VARS.fd"
)

// EDK22025 returns Debian 13's AAVMF (qemu-efi-aarch64: EDK2 2025.02), the
// build with the UEFI Shell.
func EDK22025() (lab.Firmware, error) {
	d, err := trixieFiles("qemu-efi-aarch64", aavmf2025, aavmf2025Strict, aavmf2025Vars)
	if err != nil {
		return lab.Firmware{}, err
	}
	return lab.Firmware{Name: "edk2-2025.02", Code: filepath.Join(d, aavmf2025), Vars: filepath.Join(d, aavmf2025Vars)}, nil
}

// EDK22025StrictNX returns Debian 13's strictest AAVMF: Secure Boot
// capable (off with the plain variable store) and strict NX, which maps
// every data region non-executable and refuses an image with a section
// both writable and executable. It has no UEFI Shell.
func EDK22025StrictNX() (lab.Firmware, error) {
	d, err := trixieFiles("qemu-efi-aarch64", aavmf2025, aavmf2025Strict, aavmf2025Vars)
	if err != nil {
		return lab.Firmware{}, err
	}
	return lab.Firmware{Name: "edk2-2025.02-strictnx", Code: filepath.Join(d, aavmf2025Strict), Vars: filepath.Join(d, aavmf2025Vars)}, nil
}

// All returns every firmware build of the test matrix, in order: U-Boot
// 2023.01 (the lab's default), U-Boot 2025.01, EDK2 2022.11, EDK2 2025.02
// (the installed ones are lab prerequisites: lab.SkipIfMissing). A
// downloaded one is left out with one loud SKIP line in the test log when
// it cannot be had, so a matrix test still runs on the others.
func All(t testing.TB) []lab.Firmware {
	t.Helper()
	out := []lab.Firmware{lab.UBoot}
	if fw, err := UBoot2025(); err != nil {
		t.Logf("SKIP: firmware u-boot-2025.01: %v", err)
	} else {
		out = append(out, fw)
	}
	out = append(out, lab.EDK2)
	if fw, err := EDK22025(); err != nil {
		t.Logf("SKIP: firmware edk2-2025.02: %v", err)
	} else {
		out = append(out, fw)
	}
	return out
}
