package bootdisk

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/snp-go/snp-go/lab"
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
var ErrUnavailable = errors.New("bootdisk: Debian arm64 packages unavailable")

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
func CacheDir() (string, error) {
	root, err := lab.RepoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "lab", "cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("bootdisk: creating the download cache: %w", err)
	}
	return dir, nil
}

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
	if err := lookTools("apt-get", "apt-cache", "dpkg", "dpkg-deb", "tar"); err != nil {
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
	unlock, err := lockFile(filepath.Join(dir, ".lock"), 10*time.Minute)
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
	a := apt{dir: dir}
	if err := a.update(); err != nil {
		return nil, err
	}
	kpkg := os.Getenv(envKernelPackage)
	if kpkg == "" {
		if kpkg, err = a.kernelPackage(); err != nil {
			return nil, err
		}
	}
	p := &Packages{GrubPackage: grubPackage, KernelPackage: kpkg}
	if p.GrubVersion, err = a.candidate(grubPackage); err != nil {
		return nil, err
	}
	if p.KernelVersion, err = a.candidate(kpkg); err != nil {
		return nil, err
	}
	grubDir, err := a.unpacked(grubPackage, p.GrubVersion)
	if err != nil {
		return nil, err
	}
	// Only boot/: the kernel package's modules are 300 MB the initrd
	// does not need.
	kernelDir, err := a.unpacked(kpkg, p.KernelVersion, "./boot")
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

// apt runs apt-get and apt-cache on a private arm64 package list under dir,
// leaving the host's own lists, caches and dpkg database alone.
type apt struct{ dir string }

func (a apt) options() []string {
	lists := filepath.Join(a.dir, "apt", "lists")
	archives := filepath.Join(a.dir, "apt", "archives")
	return []string{
		"-q",
		"-oAPT::Architecture=arm64",
		"-oAPT::Architectures=arm64",
		"-oDir::State::Lists=" + lists,
		"-oDir::Cache::Archives=" + archives,
		// No binary caches: apt would write them to /var/cache/apt,
		// where the host's amd64 ones live.
		"-oDir::Cache::pkgcache=",
		"-oDir::Cache::srcpkgcache=",
		// Download into directories root owns without the _apt sandbox
		// user (it could not write there and apt warns).
		"-oAPT::Sandbox::User=root",
		"-oAcquire::Retries=2",
	}
}

func (a apt) run(dir, prog string, args ...string) ([]byte, error) {
	cmd := exec.Command(prog, append(a.options(), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", prog, strings.Join(args, " "), err, lastLines(stderr.String(), 4))
	}
	return out, nil
}

func (a apt) update() error {
	for _, d := range []string{"lists/partial", "archives/partial"} {
		if err := os.MkdirAll(filepath.Join(a.dir, "apt", d), 0o755); err != nil {
			return fmt.Errorf("bootdisk: %w", err)
		}
	}
	cmd := exec.Command("apt-get", append(a.options(), "update")...)
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	// apt-get update exits 0 when a mirror cannot be reached (it only
	// warns), so look for the lists themselves.
	lists, _ := filepath.Glob(filepath.Join(a.dir, "apt", "lists", "*_binary-arm64_Packages*"))
	if err != nil || len(lists) == 0 {
		var warn []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.HasPrefix(l, "W:") || strings.HasPrefix(l, "E:") || strings.HasPrefix(l, "Err:") {
				warn = append(warn, strings.TrimSpace(l))
			}
		}
		why := lastLines(strings.Join(warn, "\n"), 3)
		if err != nil {
			why = err.Error() + ": " + why
		}
		return fmt.Errorf("%w: apt-get update of the arm64 package lists (for %s, %s): %s", ErrUnavailable, grubPackage, kernelMeta, why)
	}
	return nil
}

var kernelDepRE = regexp.MustCompile(`(?m)^\s*Depends:\s*(linux-image-\S+-arm64)\s*$`)

// kernelPackage returns the versioned kernel package linux-image-arm64
// depends on, such as linux-image-6.1.0-56-arm64.
func (a apt) kernelPackage() (string, error) {
	out, err := a.run(a.dir, "apt-cache", "depends", kernelMeta)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	m := kernelDepRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%w: apt-cache depends %s names no linux-image-*-arm64 package:\n%s", ErrUnavailable, kernelMeta, out)
	}
	return string(m[1]), nil
}

var candidateRE = regexp.MustCompile(`(?m)^\s*Candidate:\s*(\S+)\s*$`)

func (a apt) candidate(pkg string) (string, error) {
	out, err := a.run(a.dir, "apt-cache", "policy", pkg)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	m := candidateRE.FindSubmatch(out)
	if m == nil || string(m[1]) == "(none)" {
		return "", fmt.Errorf("%w: no arm64 candidate for %s in the package lists", ErrUnavailable, pkg)
	}
	return string(m[1]), nil
}

// unpacked returns the directory holding pkg=version unpacked by dpkg -x
// (or, if members are named, only those parts of its data archive),
// downloading the .deb first if it is not in the cache.
func (a apt) unpacked(pkg, version string, members ...string) (string, error) {
	name := pkg + "_" + strings.ReplaceAll(version, ":", "%3a")
	dest := filepath.Join(a.dir, "pkg", name)
	if _, err := os.Stat(dest); err == nil {
		return dest, nil
	}
	debDir := filepath.Join(a.dir, "debs")
	if err := os.MkdirAll(debDir, 0o755); err != nil {
		return "", fmt.Errorf("bootdisk: %w", err)
	}
	deb := filepath.Join(debDir, name+"_arm64.deb")
	if _, err := os.Stat(deb); err != nil {
		tmp, err := os.MkdirTemp(debDir, ".download-")
		if err != nil {
			return "", fmt.Errorf("bootdisk: %w", err)
		}
		defer os.RemoveAll(tmp)
		if _, err := a.run(tmp, "apt-get", "download", pkg+"="+version); err != nil {
			return "", fmt.Errorf("%w: downloading %s %s: %v", ErrUnavailable, pkg, version, err)
		}
		got, _ := filepath.Glob(filepath.Join(tmp, "*.deb"))
		if len(got) != 1 {
			return "", fmt.Errorf("%w: apt-get download %s=%s left %d .deb files; want 1", ErrUnavailable, pkg, version, len(got))
		}
		if err := os.Rename(got[0], deb); err != nil {
			return "", fmt.Errorf("bootdisk: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return "", fmt.Errorf("bootdisk: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), ".unpack-")
	if err != nil {
		return "", fmt.Errorf("bootdisk: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := unpackDeb(deb, tmp, members); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("bootdisk: %w", err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return "", fmt.Errorf("bootdisk: %w", err)
	}
	return dest, nil
}

// unpackDeb extracts deb into dir: all of it with dpkg -x, or only members
// of its data archive with dpkg-deb --fsys-tarfile | tar -x.
func unpackDeb(deb, dir string, members []string) error {
	if len(members) == 0 {
		if out, err := exec.Command("dpkg", "-x", deb, dir).CombinedOutput(); err != nil {
			return fmt.Errorf("bootdisk: dpkg -x %s: %v: %s (delete it to download it again)", deb, err, bytes.TrimSpace(out))
		}
		return nil
	}
	fsys := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	tar := exec.Command("tar", append([]string{"-x", "-C", dir}, members...)...)
	pipe, err := fsys.StdoutPipe()
	if err != nil {
		return fmt.Errorf("bootdisk: %w", err)
	}
	tar.Stdin = pipe
	var fsysErr, tarErr bytes.Buffer
	fsys.Stderr, tar.Stderr = &fsysErr, &tarErr
	if err := fsys.Start(); err != nil {
		return fmt.Errorf("bootdisk: dpkg-deb: %w", err)
	}
	terr := tar.Run()
	ferr := fsys.Wait()
	if ferr != nil || terr != nil {
		return fmt.Errorf("bootdisk: dpkg-deb --fsys-tarfile %s | tar -x %s: %v %s; %v %s (delete the .deb to download it again)",
			deb, strings.Join(members, " "), ferr, bytes.TrimSpace(fsysErr.Bytes()), terr, bytes.TrimSpace(tarErr.Bytes()))
	}
	return nil
}

func lookTools(names ...string) error {
	var missing []string
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not installed", strings.Join(missing, ", "))
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
