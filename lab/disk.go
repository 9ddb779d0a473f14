package lab

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File is the content of one file on a lab disk: a host file to copy, or bytes.
type File struct {
	Host string // path of a host file; used when Data is nil
	Data []byte
}

// HostFile returns a File copied from the host file at p.
func HostFile(p string) File { return File{Host: p} }

// Bytes returns a File holding b.
func Bytes(b []byte) File { return File{Data: b} }

func (f File) size() (int64, error) {
	if f.Data != nil || f.Host == "" {
		return int64(len(f.Data)), nil
	}
	st, err := os.Stat(f.Host)
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file", f.Host)
	}
	return st.Size(), nil
}

// Disk describes a GPT disk image with one FAT32 EFI System Partition.
type Disk struct {
	// Files maps absolute FAT paths ("/EFI/BOOT/BOOTAA64.EFI") to contents;
	// parent directories are created.
	Files map[string]File
	// Size of the image in bytes (rounded up to MiB); 0 picks one that fits
	// the files, at least MinDiskSize.
	Size int64
	// Label is the FAT volume label (at most 11 characters); default "SNPGO".
	Label string
}

// MinDiskSize is the smallest lab disk: FAT32 needs at least 65525 clusters,
// which with mkfs.vfat's 512-byte clusters is about 33 MiB of partition.
const MinDiskSize = 64 << 20

// ESP layout: sgdisk -n 1:2048:0 puts the partition at LBA 2048 (1 MiB, the
// usual alignment) and ends it at the last usable LBA.
const espFirstLBA = 2048

// Well-known paths on a lab disk.
const (
	EFIPath        = "/snp-go.efi"
	RemovablePath  = "/EFI/BOOT/BOOTAA64.EFI" // UEFI 2.10 §3.5.1.1, arm64
	BootScriptPath = "/boot.scr"              // distro boot's boot_scripts
)

// EFIDisk describes the disk `make qemu` boots: efi (a host path) at
// /snp-go.efi and, if autoboot, a /boot.scr that U-Boot's distro boot runs
// to start it (AutobootScript). It does not add /EFI/BOOT/BOOTAA64.EFI: after
// snp-go returns, distro boot would start that copy a second time; add it
// with d.Files[RemovablePath] = lab.HostFile(efi) when a test needs it.
func EFIDisk(efi string, autoboot bool) Disk {
	d := Disk{Files: map[string]File{EFIPath: HostFile(efi)}}
	if autoboot {
		scr, err := BootScript(autobootFile, "snp-go autoboot", time.Unix(0, 0))
		if err != nil {
			panic(err) // constant input: cannot fail
		}
		d.Files[BootScriptPath] = Bytes(scr)
	}
	return d
}

// autobootFile is the lab's boot.scr. After snp-go returns (or fails to
// load) it ends U-Boot's distro boot so the "=> " prompt comes back at once:
// distro_bootcmd looks each remaining step up with "run VAR" when it gets
// there, so turning those variables into "true" (in memory; the environment
// is never saved) leaves nothing to do. Without this, U-Boot would go on to
// the EFI boot manager, /EFI/BOOT/BOOTAA64.EFI, NVMe and DHCP+TFTP. U-Boot
// still prints "SCRIPT FAILED: continuing..." when the script returns.
const autobootFile = AutobootScript + `
echo snp-go returned to U-Boot: lab boot.scr ends distro boot here
for v in scan_dev_for_boot scan_dev_for_extlinux scan_dev_for_scripts scan_dev_for_efi; do setenv ${v} true; done
for t in ${boot_targets}; do setenv bootcmd_${t} true; done
`

// BuildDisk writes the disk image d to imgPath (replacing it), without root:
// sgdisk for the GPT, mkfs.vfat for FAT32 in a scratch file next to imgPath,
// mtools to fill it, then a sparse copy into the partition.
func BuildDisk(imgPath string, d Disk) error {
	if err := missingErr(Missing(true, false)); err != nil {
		return err
	}
	names := make([]string, 0, len(d.Files))
	var content int64
	for name, f := range d.Files {
		if err := checkFATPath(name); err != nil {
			return err
		}
		n, err := f.size()
		if err != nil {
			return fmt.Errorf("lab: disk file %s: %w", name, err)
		}
		content += n
		names = append(names, name)
	}
	sort.Strings(names)
	const mib = 1 << 20
	size := d.Size
	need := content + content/8 + 16*mib // FAT tables, directories, slack
	if size == 0 {
		size = max(MinDiskSize, need)
	}
	size = (size + mib - 1) / mib * mib
	if size < MinDiskSize || size < need {
		return fmt.Errorf("lab: disk size %d MiB too small: need %d MiB for %d bytes of files (FAT32 minimum %d MiB)",
			size/mib, (max(need, MinDiskSize)+mib-1)/mib, content, MinDiskSize/mib)
	}
	label := d.Label
	if label == "" {
		label = "SNPGO"
	}

	if err := os.Remove(imgPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("lab: replacing disk image: %w", err)
	}
	img, err := os.OpenFile(imgPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("lab: creating disk image: %w", err)
	}
	defer img.Close()
	if err := img.Truncate(size); err != nil {
		return fmt.Errorf("lab: sizing disk image %s: %w", imgPath, err)
	}
	// Not -q: with -q sgdisk silently skips the work on a fresh image.
	if err := run("sgdisk", "-o", "-n", "1:2048:0", "-t", "1:ef00", "-c", "1:EFI System", imgPath); err != nil {
		return err
	}
	parts, err := ReadGPT(img, size)
	if err != nil {
		return fmt.Errorf("lab: sgdisk wrote an unreadable table to %s: %w", imgPath, err)
	}
	esp := parts[0]
	if esp.Type != ESPType || esp.FirstLBA != espFirstLBA {
		return fmt.Errorf("lab: sgdisk made partition 1 type %s at LBA %d; want %s at LBA %d", esp.Type, esp.FirstLBA, ESPType, espFirstLBA)
	}

	scratch, err := os.MkdirTemp(filepath.Dir(imgPath), ".esp-")
	if err != nil {
		return fmt.Errorf("lab: scratch directory for the ESP: %w", err)
	}
	defer os.RemoveAll(scratch)
	espPath := filepath.Join(scratch, "esp.img")
	if err := run("mkfs.vfat", "-F", "32", "-n", label, "-C", espPath, fmt.Sprint(esp.Size()/1024)); err != nil {
		return err
	}
	dirs := map[string]bool{"/": true}
	for i, name := range names {
		for _, dir := range parents(name) {
			if !dirs[dir] {
				if err := run("mmd", "-i", espPath, "::"+dir); err != nil {
					return err
				}
				dirs[dir] = true
			}
		}
		f := d.Files[name]
		src := f.Host
		if f.Data != nil || src == "" {
			src = filepath.Join(scratch, fmt.Sprintf("file%d", i))
			if err := os.WriteFile(src, f.Data, 0o644); err != nil {
				return fmt.Errorf("lab: staging %s: %w", name, err)
			}
		}
		if err := run("mcopy", "-i", espPath, src, "::"+name); err != nil {
			return err
		}
	}
	espFile, err := os.Open(espPath)
	if err != nil {
		return fmt.Errorf("lab: reading back the ESP: %w", err)
	}
	defer espFile.Close()
	if err := copySparse(img, int64(esp.FirstLBA)*Sector, espFile); err != nil {
		return fmt.Errorf("lab: copying the ESP into %s: %w", imgPath, err)
	}
	return img.Close()
}

// checkFATPath accepts absolute, clean, slash-separated paths.
func checkFATPath(name string) error {
	if !strings.HasPrefix(name, "/") || name == "/" || path.Clean(name) != name ||
		strings.ContainsAny(name, "\\:*?\"<>|\x00") {
		return fmt.Errorf("lab: disk path %q: want an absolute clean path like /EFI/BOOT/BOOTAA64.EFI without \\:*?\"<>|", name)
	}
	return nil
}

// parents returns the directories above name, outermost first.
func parents(name string) []string {
	var out []string
	for dir := path.Dir(name); dir != "/"; dir = path.Dir(dir) {
		out = append([]string{dir}, out...)
	}
	return out
}

// copySparse copies src into dst at offset off, skipping all-zero blocks
// (dst is a fresh sparse file, so they already read as zero).
func copySparse(dst io.WriterAt, off int64, src io.Reader) error {
	buf := make([]byte, 64<<10)
	zero := make([]byte, len(buf))
	for {
		n, err := io.ReadFull(src, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := dst.WriteAt(buf[:n], off); werr != nil {
				return werr
			}
		}
		off += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// run runs a disk tool and turns a failure into an error carrying its output.
func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("lab: %s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
