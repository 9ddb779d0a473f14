package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/lab"
)

func TestDiskCommand(t *testing.T) {
	lab.SkipIfNoDiskTools(t)
	dir := t.TempDir()
	efi, extra := filepath.Join(dir, "app.efi"), filepath.Join(dir, "x.ipxe")
	os.WriteFile(efi, []byte("MZ fake"), 0o644)
	os.WriteFile(extra, []byte("#!ipxe\n"), 0o644)
	img := filepath.Join(dir, "d.img")
	if err := diskCmd([]string{"--efi", efi, "--removable", "--file", "/scripts/x.ipxe=" + extra, "-o", img}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"/snp-go.efi": "MZ fake", "/EFI/BOOT/BOOTAA64.EFI": "MZ fake", "/scripts/x.ipxe": "#!ipxe\n"} {
		got, err := exec.Command("mtype", "-i", img+"@@1M", "::"+name).Output()
		if err != nil || string(got) != want {
			t.Errorf("mtype %s = %q, %v; want %q", name, got, err, want)
		}
	}
	if err := exec.Command("mtype", "-i", img+"@@1M", "::/boot.scr").Run(); err != nil {
		t.Errorf("no /boot.scr on the disk: %v", err)
	}

	for _, args := range [][]string{
		{"--efi", efi}, // no -o
		{"--efi", filepath.Join(dir, "none"), "-o", img}, // missing app
		{"--efi", efi, "--file", "/nohost", "-o", img},   // bad --file
	} {
		if err := diskCmd(args); err == nil {
			t.Errorf("snplab disk %s = nil error; want one", strings.Join(args, " "))
		}
	}
}
