package bootdisk

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/snp-go/snp-go/lab"
)

// Options shape a boot disk.
type Options struct {
	// Timeout is how long Grub shows its menu, in seconds; 0 boots at once
	// without a menu. A test that wants Grub idle at the menu (no disk
	// reads) sets it and waits for MarkerMenu.
	Timeout int
	// RandomSize is the size of RandomPath, whose SHA-256 Grub prints
	// (integrity check); default 1 MiB.
	RandomSize int64
	// BigSize, if not 0, adds BigPath of that many bytes (say 64 MiB),
	// which Grub reads between MarkerReadBegin and MarkerReadEnd (its read
	// throughput) and then hashes (Linux.BigRead, BigMBps, BigHash).
	BigSize int64
	// Seed makes the random files reproducible; 0 draws them from
	// crypto/rand.
	Seed uint64
	// KernelArgs are appended to the kernel command line.
	KernelArgs string
	// Files are more files for the ESP (they may not replace the disk's own).
	Files map[string]lab.File
	// Size is the image size in bytes; 0 fits the files (lab.Disk.Size).
	Size int64
	// Label is the FAT volume label; default "SNPGOBOOT".
	Label string
}

// DefaultRandomSize is Options.RandomSize when it is 0.
const DefaultRandomSize = 1 << 20

// Image is a built boot disk and what a boot from it must print.
type Image struct {
	Path string // the raw disk image
	Size int64  // its size in bytes

	Packages *Packages // where Grub and the kernel came from
	GrubEFI  string    // host path of the BOOTAA64.EFI on the disk
	Init     string    // host path of the initrd's /init
	Initrd   []byte    // the initrd on the disk
	Config   string    // the grub.cfg on the disk
	Cmdline  string    // the kernel command line grub.cfg passes

	Nonce        string // the last field of the Linux marker line
	RandomSHA256 string // hex SHA-256 of RandomPath
	RandomSize   int64
	BigSHA256    string // hex SHA-256 of BigPath; "" without one
	BigSize      int64
	Timeout      int // Grub menu timeout, seconds
}

// Build writes a boot disk to dir/boot.img: a GPT disk with one FAT32 EFI
// System Partition holding Grub at GrubPath (built with grub-mkimage from
// Debian's grub-efi-arm64-bin), its grub.cfg at ConfigPath, Debian's arm64
// kernel at KernelPath, an initrd at InitrdPath whose /init prints
// LinuxMarker and powers off, and RandomPath (and BigPath) for Grub to
// hash. It downloads the packages on first use (Fetch); scratch files go
// to dir. Errors wrap ErrUnavailable when the packages cannot be had.
func Build(dir string, opt Options) (*Image, error) {
	p, err := Fetch()
	if err != nil {
		return nil, err
	}
	img := &Image{Path: filepath.Join(dir, "boot.img"), Packages: p, Timeout: opt.Timeout}
	if img.GrubEFI, err = GrubEFI(dir, p); err != nil {
		return nil, err
	}
	if img.Init, err = InitBinary(dir); err != nil {
		return nil, err
	}
	if img.Initrd, err = Initrd(img.Init); err != nil {
		return nil, err
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	img.Nonce = hex.EncodeToString(nonce[:])
	img.Cmdline = strings.TrimSpace("console=ttyAMA0 snpgo=" + img.Nonce + " " + opt.KernelArgs)

	var rng *mrand.ChaCha8
	if opt.Seed != 0 {
		var seed [32]byte
		for i := range 8 {
			seed[i] = byte(opt.Seed >> (8 * i))
		}
		rng = mrand.NewChaCha8(seed)
	}
	img.RandomSize = opt.RandomSize
	if img.RandomSize == 0 {
		img.RandomSize = DefaultRandomSize
	}
	random, sum, err := randomFile(dir, "random.bin", img.RandomSize, rng)
	if err != nil {
		return nil, err
	}
	img.RandomSHA256 = sum
	files := map[string]lab.File{
		GrubPath:   lab.HostFile(img.GrubEFI),
		KernelPath: lab.HostFile(p.Kernel),
		InitrdPath: lab.Bytes(img.Initrd),
		RandomPath: lab.HostFile(random),
	}
	if opt.BigSize > 0 {
		big, sum, err := randomFile(dir, "big.bin", opt.BigSize, rng)
		if err != nil {
			return nil, err
		}
		img.BigSize, img.BigSHA256 = opt.BigSize, sum
		files[BigPath] = lab.HostFile(big)
	}
	img.Config = grubConfig(opt.Timeout, opt.BigSize > 0, img.Cmdline)
	files[ConfigPath] = lab.Bytes([]byte(img.Config))
	for name, f := range opt.Files {
		if _, ok := files[name]; ok {
			return nil, fmt.Errorf("bootdisk: Options.Files: %s is one of the boot disk's own files", name)
		}
		files[name] = f
	}
	label := opt.Label
	if label == "" {
		label = "SNPGOBOOT"
	}
	if err := lab.BuildDisk(img.Path, lab.Disk{Files: files, Size: opt.Size, Label: label}); err != nil {
		return nil, err
	}
	st, err := os.Stat(img.Path)
	if err != nil {
		return nil, fmt.Errorf("bootdisk: %w", err)
	}
	img.Size = st.Size()
	return img, nil
}

// randomFile writes size random bytes (from rng, or crypto/rand if nil) to
// dir/name and returns its path and hex SHA-256.
func randomFile(dir, name string, size int64, rng *mrand.ChaCha8) (string, string, error) {
	path := filepath.Join(dir, name)
	f, err := os.Create(path)
	if err != nil {
		return "", "", fmt.Errorf("bootdisk: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		if rng != nil {
			rng.Read(buf[:n])
		} else {
			rand.Read(buf[:n])
		}
		h.Write(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			return "", "", fmt.Errorf("bootdisk: writing %s: %w", path, err)
		}
		left -= n
	}
	if err := f.Close(); err != nil {
		return "", "", fmt.Errorf("bootdisk: writing %s: %w", path, err)
	}
	return path, hex.EncodeToString(h.Sum(nil)), nil
}

// errSkip reports whether err means the fixture cannot be built on this
// host (packages or tools missing) rather than that it is broken.
func errSkip(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, errNoTool)
}

var errNoTool = errors.New("bootdisk: tool not installed")
