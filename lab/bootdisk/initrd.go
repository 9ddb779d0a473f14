package bootdisk

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/snp-go/snp-go/lab"
)

// initPackage is the /init program, built for the guest.
const initPackage = "github.com/snp-go/snp-go/lab/bootdisk/internal/initmarker"

// InitBinary builds the initrd's /init (package internal/initmarker) as a
// static linux/arm64 executable, dir/init, and returns its path.
func InitBinary(dir string) (string, error) {
	root, err := lab.RepoRoot()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "init")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, initPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("bootdisk: building /init: go build %s: %v: %s", initPackage, err, strings.TrimSpace(string(msg)))
	}
	return out, nil
}

// Initrd returns the initramfs for the kernel: an uncompressed newc cpio
// with /dev/console (so the kernel can give /init its console before
// anything is mounted), /dev, /proc, /sys, and /init read from initPath.
func Initrd(initPath string) ([]byte, error) {
	init, err := os.ReadFile(initPath)
	if err != nil {
		return nil, fmt.Errorf("bootdisk: %w", err)
	}
	return CPIO([]CPIOEntry{
		{Name: "dev", Mode: fs.ModeDir | 0o755},
		// Linux Documentation/admin-guide/devices.txt: 5,1 is /dev/console.
		{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Name: "proc", Mode: fs.ModeDir | 0o755},
		{Name: "sys", Mode: fs.ModeDir | 0o755},
		{Name: "init", Mode: 0o755, Data: init},
	})
}
