package bootdisk

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/lab"
)

// TestCPIO unpacks the archive with GNU cpio and compares what it lists and
// extracts with the entries.
func TestCPIO(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("SKIP: cpio not installed (Debian cpio); needed to check the newc writer")
	}
	data := []byte("#!/bin/sh\necho odd length\n\x00\x01")
	entries := []CPIOEntry{
		{Name: "dev", Mode: fs.ModeDir | 0o755},
		{Name: "dev/console", Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600, Major: 5, Minor: 1},
		{Name: "a/b", Mode: fs.ModeDir | 0o700},
		{Name: "a/b/file", Mode: 0o644, Data: data},
		{Name: "init", Mode: 0o755, Data: []byte("x")},
		{Name: "empty", Mode: 0o600},
	}
	archive, err := CPIO(entries)
	if err != nil {
		t.Fatal(err)
	}
	if len(archive)%4 != 0 {
		t.Errorf("len(CPIO(...)) = %d; want a multiple of 4", len(archive))
	}
	cmd := exec.Command("cpio", "-t", "-v", "--quiet")
	cmd.Stdin = bytes.NewReader(archive)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -t: %v: %s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{
		"drwxr-xr-x .* dev$",
		"crw------- .* 5, +1 .* dev/console$",
		"drwx------ .* a/b$",
		"-rw-r--r-- .* " + fmtLen(len(data)) + " .* a/b/file$",
		"-rwxr-xr-x .* 1 .* init$",
		"-rw------- .* 0 .* empty$",
	}
	if len(lines) != len(want) {
		t.Fatalf("cpio -t lists %d entries; want %d:\n%s", len(lines), len(want), out)
	}
	for i, l := range lines {
		if !regexpMatch(want[i], l) {
			t.Errorf("cpio -t line %d = %q; want match for %q", i, l, want[i])
		}
	}
	dir := t.TempDir()
	cmd = exec.Command("cpio", "-i", "-d", "--quiet", "--no-absolute-filenames", "a/b/file", "init")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(archive)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -i: %v: %s", err, out)
	}
	for name, want := range map[string][]byte{"a/b/file": data, "init": []byte("x")} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("extracted %s = %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestCPIORejects(t *testing.T) {
	for _, e := range []CPIOEntry{
		{Name: "/abs", Mode: 0o644},
		{Name: "", Mode: 0o644},
		{Name: newcTrailer, Mode: 0o644},
		{Name: "dir", Mode: fs.ModeDir | 0o755, Data: []byte("x")},
		{Name: "link", Mode: fs.ModeSymlink | 0o777},
	} {
		if _, err := CPIO([]CPIOEntry{e}); err == nil {
			t.Errorf("CPIO(%+v) = nil error; want a refusal", e)
		}
	}
}

// TestBuild builds a disk and reads it back: one ESP, every file in place
// with the right content, grub.cfg as described.
func TestBuild(t *testing.T) {
	img := Need(t, Options{Seed: 7, RandomSize: 300 << 10, Timeout: 5, KernelArgs: "quiet"})
	f, err := os.Open(img.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parts, err := lab.ReadGPT(f, img.Size)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 || parts[0].Type != lab.ESPType {
		t.Fatalf("ReadGPT(boot.img) = %+v; want one EFI System Partition", parts)
	}
	esp := filepath.Join(t.TempDir(), "esp.img")
	cmd := exec.Command("dd", "if="+img.Path, "of="+esp, "bs=512", "skip="+itoa(int64(parts[0].FirstLBA)), "count="+itoa(int64(parts[0].LastLBA-parts[0].FirstLBA+1)), "status=none")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dd: %v: %s", err, out)
	}
	want := map[string]string{
		GrubPath:   fileSHA(t, img.GrubEFI),
		KernelPath: fileSHA(t, img.Packages.Kernel),
		InitrdPath: sha(img.Initrd),
		RandomPath: img.RandomSHA256,
		ConfigPath: sha([]byte(img.Config)),
	}
	for name, sum := range want {
		out, err := exec.Command("mtype", "-i", esp, "::"+name).Output()
		if err != nil {
			t.Errorf("mtype %s: %v", name, err)
			continue
		}
		if got := sha(out); got != sum {
			t.Errorf("SHA-256 of %s on the ESP = %s; want %s", name, got, sum)
		}
	}
	if img.RandomSize != 300<<10 || img.BigSHA256 != "" {
		t.Errorf("RandomSize, BigSHA256 = %d, %q; want %d, \"\"", img.RandomSize, img.BigSHA256, 300<<10)
	}
	for _, s := range []string{"set timeout=5", "echo " + MarkerMenu, "hashsum --hash sha256 " + RandomPath, "linux " + KernelPath + " console=ttyAMA0 snpgo=" + img.Nonce + " quiet", "initrd " + InitrdPath} {
		if !strings.Contains(img.Config, s) {
			t.Errorf("grub.cfg lacks %q:\n%s", s, img.Config)
		}
	}
	if strings.Contains(img.Config, BigPath) {
		t.Errorf("grub.cfg hashes %s without Options.BigSize:\n%s", BigPath, img.Config)
	}
	// Same seed, same random file.
	again := Need(t, Options{Seed: 7, RandomSize: 300 << 10, BigSize: 2 << 20})
	if again.RandomSHA256 != img.RandomSHA256 || again.Nonce == img.Nonce {
		t.Errorf("rebuild with Seed 7: hash %s nonce %s; want hash %s and a new nonce, not %s", again.RandomSHA256, again.Nonce, img.RandomSHA256, img.Nonce)
	}
	if again.BigSize != 2<<20 || len(again.BigSHA256) != 64 {
		t.Errorf("BigSize, BigSHA256 = %d, %q; want %d and a digest", again.BigSize, again.BigSHA256, 2<<20)
	}
	for _, s := range []string{"initrd " + BigPath, "hashsum --hash sha256 " + BigPath, "set timeout=0"} {
		if !strings.Contains(again.Config, s) {
			t.Errorf("grub.cfg with BigSize lacks %q:\n%s", s, again.Config)
		}
	}
	if strings.Contains(again.Config, MarkerMenu) {
		t.Errorf("grub.cfg without a timeout prints %s:\n%s", MarkerMenu, again.Config)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha(b)
}
