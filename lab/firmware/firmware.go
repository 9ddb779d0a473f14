// Package firmware provides the UEFI firmware builds snp-go is tested on:
// Debian 12's U-Boot 2023.01 and EDK2 (AAVMF 2022.11), both installed with
// apt-get, and Debian 13's U-Boot 2025.01, downloaded (not installed) from
// trixie into the lab cache the way lab/bootdisk fetches arm64 packages.
package firmware

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/debian"
)

// trixie is where U-Boot 2025.01 comes from. SNP_LAB_TRIXIE overrides the
// sources line (a local mirror, say).
const (
	trixieSources = "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n"
	envTrixie     = "SNP_LAB_TRIXIE"
	ubootPackage  = "u-boot-qemu"
	ubootMember   = "usr/lib/u-boot/qemu_arm64/u-boot.bin"
)

var (
	trixieMu  sync.Mutex
	trixie    lab.Firmware
	trixieErr error
)

// UBoot2025 returns Debian 13's U-Boot for QEMU, downloading and unpacking
// u-boot-qemu from trixie into the lab cache on first use (later calls and
// later runs reuse it). Failures wrap debian.ErrUnavailable.
func UBoot2025() (lab.Firmware, error) {
	trixieMu.Lock()
	defer trixieMu.Unlock()
	if trixie.BIOS == "" && trixieErr == nil {
		trixie, trixieErr = fetchUBoot2025()
	}
	return trixie, trixieErr
}

func fetchUBoot2025() (lab.Firmware, error) {
	if err := debian.LookTools("apt-get", "apt-cache", "dpkg-deb", "tar"); err != nil {
		return lab.Firmware{}, fmt.Errorf("%w: %v", debian.ErrUnavailable, err)
	}
	base, err := debian.CacheDir()
	if err != nil {
		return lab.Firmware{}, err
	}
	dir := filepath.Join(base, "trixie")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return lab.Firmware{}, err
	}
	unlock, err := debian.LockFile(filepath.Join(dir, ".lock"), 10*time.Minute)
	if err != nil {
		return lab.Firmware{}, err
	}
	defer unlock()
	// A previous run's unpacked package is used as it is.
	if got, _ := filepath.Glob(filepath.Join(dir, "pkg", ubootPackage+"_2025.*", ubootMember)); len(got) > 0 {
		return lab.Firmware{Name: "u-boot-2025.01", BIOS: got[len(got)-1]}, nil
	}
	src := os.Getenv(envTrixie)
	if src == "" {
		src = trixieSources
	}
	a := debian.Apt{Dir: dir, Arch: "arm64", Sources: src}
	if err := a.Update(ubootPackage + " (trixie)"); err != nil {
		return lab.Firmware{}, err
	}
	v, err := a.Candidate(ubootPackage)
	if err != nil {
		return lab.Firmware{}, err
	}
	pkg, err := a.Unpacked(ubootPackage, v, "./"+ubootMember)
	if err != nil {
		return lab.Firmware{}, err
	}
	bin := filepath.Join(pkg, ubootMember)
	if _, err := os.Stat(bin); err != nil {
		return lab.Firmware{}, fmt.Errorf("firmware: %s %s: %w", ubootPackage, v, err)
	}
	return lab.Firmware{Name: "u-boot-2025.01", BIOS: bin}, nil
}

// All returns every firmware build of the test matrix, in order: U-Boot
// 2023.01 (the lab's default), U-Boot 2025.01, EDK2 (the installed ones are
// lab prerequisites: lab.SkipIfMissing). U-Boot 2025.01 is left out with
// one loud SKIP line in the test log when it cannot be downloaded, so a
// matrix test still runs on the others.
func All(t testing.TB) []lab.Firmware {
	t.Helper()
	out := []lab.Firmware{lab.UBoot}
	if fw, err := UBoot2025(); err != nil {
		t.Logf("SKIP: firmware u-boot-2025.01: %v", err)
	} else {
		out = append(out, fw)
	}
	return append(out, lab.EDK2)
}
