package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EFIBuild selects a variant of snp-go.efi (the Makefile's EMBED, TRUST,
// SIGN_KEY/SIGN_CERT and BANNER_TIMEOUT).
type EFIBuild struct {
	Embed string   // boot script to embed (a file)
	Trust []string // PEM files with trust anchors
	// SignKey and SignCert (PEM files, the key unencrypted) Authenticode-sign
	// the image for UEFI Secure Boot (make SIGN_KEY= SIGN_CERT=).
	SignKey, SignCert string
	// BannerTimeout is BANNER_TIMEOUT, the "Press Ctrl-B" wait in tenths
	// of a second ("0": none); "" leaves the Makefile's default (20).
	BannerTimeout string
}

// ErrNoTamaGo is returned by BuildEFI when the TamaGo compiler is missing.
var ErrNoTamaGo = errors.New("lab: TamaGo compiler (tamago-go) is not installed: see README.md, 'The TamaGo compiler'")

var (
	efiMu    sync.Mutex
	efiBuilt = map[string]string{}
)

// RepoRoot returns the directory holding the Makefile (the module root).
func RepoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("lab: go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("lab: not inside the snp-go module")
	}
	return filepath.Dir(mod), nil
}

// BuildEFI builds snp-go.efi with `make OUT=... EMBED=... TRUST=...` (the
// Makefile is the one recipe) into a cache directory under the system
// temporary directory, once per variant per process, and returns its path.
func BuildEFI(b EFIBuild) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	// The checkout is part of the key: two trees (worktrees, helpers) must
	// not overwrite each other's build.
	key := sha256.Sum256([]byte(root + "\x00" + b.Embed + "\x00" + strings.Join(b.Trust, ",") + "\x00" + b.SignKey + "\x00" + b.SignCert + "\x00" + b.BannerTimeout))
	name := hex.EncodeToString(key[:8])
	efiMu.Lock()
	defer efiMu.Unlock()
	if p, ok := efiBuilt[name]; ok {
		return p, nil
	}
	dir := filepath.Join(os.TempDir(), "snp-go-lab-efi", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "snp-go.efi")
	args := []string{"-C", root, "--no-print-directory", "efi", "OUT=" + out}
	if b.Embed != "" {
		args = append(args, "EMBED="+b.Embed)
	}
	if len(b.Trust) > 0 {
		args = append(args, "TRUST="+strings.Join(b.Trust, ","))
	}
	if b.SignKey != "" || b.SignCert != "" {
		args = append(args, "SIGN_KEY="+b.SignKey, "SIGN_CERT="+b.SignCert)
	}
	if b.BannerTimeout != "" {
		args = append(args, "BANNER_TIMEOUT="+b.BannerTimeout)
	}
	cmd := exec.Command("make", args...)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 2 && strings.Contains(string(msg), "TamaGo compiler") {
			return "", fmt.Errorf("%w\n%s", ErrNoTamaGo, msg)
		}
		return "", fmt.Errorf("lab: make %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	efiBuilt[name] = out
	return out, nil
}

// NeedEFI builds snp-go.efi for a test, or skips the test with one SKIP
// line when the TamaGo compiler is missing (every other failure fails it).
func NeedEFI(t testing.TB, b EFIBuild) string {
	t.Helper()
	p, err := BuildEFI(b)
	if errors.Is(err, ErrNoTamaGo) {
		t.Skipf("SKIP: %v", ErrNoTamaGo)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}
