package bootdisk

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/snp-go/snp-go/lab/debian"
)

// Packages are the Debian arm64 packages a boot disk is made of, unpacked
// (never installed) in the download cache.
type Packages struct {
	GrubPackage string // "grub-efi-arm64-bin"
	GrubVersion string
	// GrubModules is the unpacked usr/lib/grub/arm64-efi: grub-mkimage -d.
	GrubModules string

	KernelPackage string // "linux-image-6.1.0-56-arm64"
	KernelVersion string
	KernelRelease string // "6.1.0-56-arm64", what uname -r says
	Kernel        string // the unpacked boot/vmlinuz-<release>
}

// ErrUnavailable wraps every failure to download or unpack the arm64
// packages (no network to the Debian mirror, say): tests skip on it.
var ErrUnavailable = debian.ErrUnavailable

// Package names. The kernel is the one Debian's linux-image-arm64
// metapackage depends on, unless SNP_LAB_KERNEL names another package.
const (
	grubPackage      = "grub-efi-arm64-bin"
	kernelMeta       = "linux-image-arm64"
	grubModulesDir   = "usr/lib/grub/arm64-efi"
	manifestName     = "packages.json"
	envKernelPackage = "SNP_LAB_KERNEL"
	envRefresh       = "SNP_LAB_REFRESH"
)

// CacheDir returns the lab's download cache, lab/cache in the repository
// (git-ignored), creating it.
func CacheDir() (string, error) { return debian.CacheDir() }

var (
	fetchMu  sync.Mutex
	fetched  *Packages
	fetchErr error
)

// Fetch returns the arm64 Grub and kernel packages, downloading and
// unpacking them into CacheDir()/arm64 on first use. Later calls, in this
// process or another, reuse the cache without touching the network (set
// SNP_LAB_REFRESH=1 to look for newer versions). Two processes may call it
// at once: a lock file serialises them, and every directory appears by
// rename only when complete. A download failure is wrapped in
// ErrUnavailable and says which package could not be had.
func Fetch() (*Packages, error) {
	fetchMu.Lock()
	defer fetchMu.Unlock()
	if fetched != nil || fetchErr != nil {
		return fetched, fetchErr
	}
	fetched, fetchErr = fetch()
	return fetched, fetchErr
}

func fetch() (*Packages, error) {
	if err := debian.LookTools("apt-get", "apt-cache", "dpkg", "dpkg-deb", "tar"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	base, err := CacheDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(base, "arm64")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bootdisk: %w", err)
	}
	unlock, err := debian.LockFile(filepath.Join(dir, ".lock"), 10*time.Minute)
	if err != nil {
		return nil, err
	}
	defer unlock()

	manifest := filepath.Join(dir, manifestName)
	if os.Getenv(envRefresh) == "" {
		if p, err := readManifest(manifest); err == nil && p.complete() {
			return p, nil
		}
	}
	a := debian.Apt{Dir: dir, Arch: "arm64"}
	if err := a.Update(grubPackage + ", " + kernelMeta); err != nil {
		return nil, err
	}
	kpkg := os.Getenv(envKernelPackage)
	if kpkg == "" {
		if kpkg, err = kernelPackage(a); err != nil {
			return nil, err
		}
	}
	p := &Packages{GrubPackage: grubPackage, KernelPackage: kpkg}
	if p.GrubVersion, err = a.Candidate(grubPackage); err != nil {
		return nil, err
	}
	if p.KernelVersion, err = a.Candidate(kpkg); err != nil {
		return nil, err
	}
	grubDir, err := a.Unpacked(grubPackage, p.GrubVersion)
	if err != nil {
		return nil, err
	}
	// Only boot/: the kernel package's modules are 300 MB the initrd
	// does not need.
	kernelDir, err := a.Unpacked(kpkg, p.KernelVersion, "./boot")
	if err != nil {
		return nil, err
	}
	p.GrubModules = filepath.Join(grubDir, grubModulesDir)
	vmlinuz, err := filepath.Glob(filepath.Join(kernelDir, "boot", "vmlinuz-*"))
	if err != nil || len(vmlinuz) != 1 {
		return nil, fmt.Errorf("bootdisk: %s %s holds %d boot/vmlinuz-* files; want 1", kpkg, p.KernelVersion, len(vmlinuz))
	}
	p.Kernel = vmlinuz[0]
	p.KernelRelease = strings.TrimPrefix(filepath.Base(p.Kernel), "vmlinuz-")
	if !p.complete() {
		return nil, fmt.Errorf("bootdisk: %s lacks %s", grubPackage, grubModulesDir)
	}
	if err := writeManifest(manifest, p); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Packages) complete() bool {
	for _, f := range []string{filepath.Join(p.GrubModules, "moddep.lst"), p.Kernel} {
		if f == "" {
			return false
		}
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return p.KernelRelease != ""
}

func readManifest(path string) (*Packages, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p Packages
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	return &p, nil
}

func writeManifest(path string, p *Packages) error {
	b, err := json.MarshalIndent(p, "", "\t")
	if err != nil {
		return err
	}
	return writeAtomic(path, append(b, '\n'))
}

// writeAtomic writes data to a temporary file next to path and renames it.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("bootdisk: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil || f.Chmod(0o644) != nil {
		f.Close()
		return fmt.Errorf("bootdisk: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bootdisk: writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("bootdisk: %w", err)
	}
	return nil
}

var kernelDepRE = regexp.MustCompile(`(?m)^\s*Depends:\s*(linux-image-\S+-arm64)\s*$`)

// kernelPackage returns the versioned kernel package linux-image-arm64
// depends on, such as linux-image-6.1.0-56-arm64.
func kernelPackage(a debian.Apt) (string, error) {
	out, err := a.Run(a.Dir, "apt-cache", "depends", kernelMeta)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	m := kernelDepRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%w: apt-cache depends %s names no linux-image-*-arm64 package:\n%s", ErrUnavailable, kernelMeta, out)
	}
	return string(m[1]), nil
}
