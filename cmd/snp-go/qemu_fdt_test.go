package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/snp-go/snp-go/lab"
	"github.com/snp-go/snp-go/lab/bootdisk"
)

// TestQEMUFDT: under U-Boot, snp-go.efi refuses a blob that is not a
// device tree, selects one fetched over TFTP with fdt, extracts a
// gzip-compressed Linux kernel with imgextract (sha256sum of the result
// equals the kernel's), and chains it: Linux prints the model of the
// device tree snp-go installed as the EFI_DTB_TABLE_GUID configuration
// table, not that of U-Boot's own (QEMU's "linux,dummy-virt"), and runs
// on it until it finds no root file system. The device tree is QEMU's own
// for the lab's machine (dumpdtb) with the model renamed.
func TestQEMUFDT(t *testing.T) {
	lab.SkipIfMissing(t)
	pkg, err := bootdisk.Fetch()
	if err != nil {
		t.Skipf("SKIP: %v", err)
	}
	kernel, err := os.ReadFile(pkg.Kernel)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dtbPath := filepath.Join(dir, "qemu.dtb")
	// The machine as the lab starts it: with firmware loaded, QEMU's virt
	// has an ACPI GED where it otherwise has a PL061 GPIO, and Linux
	// faults probing a device the tree names but the machine lacks.
	args, err := lab.Config{NoNet: true}.Args(true)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("qemu-system-aarch64", append(args, "-machine", "dumpdtb="+dtbPath)...).CombinedOutput(); err != nil {
		t.Fatalf("qemu dumpdtb: %v\n%s", err, out)
	}
	dtb, err := os.ReadFile(dtbPath)
	if err != nil {
		t.Fatal(err)
	}
	const qemuModel, model = "linux,dummy-virt\x00", "snp-go,fdt-tests\x00" // same length: the blob's layout stays
	if !bytes.Contains(dtb, []byte(qemuModel)) {
		t.Fatalf("QEMU's device tree has no %q", qemuModel)
	}
	dtb = bytes.ReplaceAll(dtb, []byte(qemuModel), []byte(model))
	var gz bytes.Buffer
	w, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	w.Write(kernel)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"test.dtb": dtb, "bad.dtb": bytes.Repeat([]byte("not a device tree\n"), 8), "vmlinuz.gz": gz.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := `#!ipxe
dhcp
fdt tftp://10.0.2.2/bad.dtb || echo NOT-A-DTB ${errno}
fdt tftp://10.0.2.2/test.dtb
imgextract tftp://10.0.2.2/vmlinuz.gz
sha256sum vmlinuz
imgstat
chain vmlinuz console=ttyAMA0 earlycon=pl011,0x9000000 panic=-1
`
	efi := lab.NeedEFI(t, lab.EFIBuild{Embed: writeFile(t, "embed.ipxe", []byte(script))})
	m, _ := lab.StartEFI(t, lab.Config{TFTP: dir}, efi, "")
	if _, err := m.Expect("fdt: bad.dtb is not a flattened device tree: bad magic 0x6e6f7420", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Expect("NOT-A-DTB 0x1c000082", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := m.Expect(fmt.Sprintf("%x  vmlinuz", sha256.Sum256(kernel)), 4*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched %d gzip bytes and extracted %d in %.1f s", gz.Len(), len(kernel), time.Since(start).Seconds())
	if _, err := m.Expect(fmt.Sprintf("test.dtb : %d bytes [data] [FDT] [HIDDEN]", len(dtb)), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r, err := m.Expect(regexp.MustCompile(`Machine model: [^\r\n]*[\r\n]`), 2*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(r.Text) != "Machine model: snp-go,fdt-tests" {
		t.Errorf("Linux saw %q; want the model of the device tree snp-go installed (snp-go,fdt-tests)", r.Text)
	}
	// The kernel runs on that device tree to the end of its start: no
	// root file system was given.
	if _, err := m.Expect("VFS: Unable to mount root fs", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
}
