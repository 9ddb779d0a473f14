package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// TestRunFDTAndImgextract: snpctl run prints the device tree fdt chose
// before the boot it precedes, boots a kernel that was gzip compressed
// (extracted, as iPXE's chain of a gzip image), and says why a blob that
// is not a device tree is refused.
func TestRunFDTAndImgextract(t *testing.T) {
	dir := t.TempDir()
	// A device tree with an empty root node (Devicetree Specification §5).
	dtb := make([]byte, 40+16+12)
	for i, v := range []uint32{0xd00dfeed, uint32(len(dtb)), 56, 68, 40, 17, 16, 0, 0, 12} {
		binary.BigEndian.PutUint32(dtb[4*i:], v)
	}
	for i, v := range []uint32{1, 0, 2} {
		binary.BigEndian.PutUint32(dtb[56+4*i:], v)
	}
	binary.BigEndian.PutUint32(dtb[64:], 9)
	kernel := peImage(4096)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(kernel)
	w.Close()
	writeFile(t, dir, "t.dtb", string(dtb))
	writeFile(t, dir, "vmlinuz.gz", gz.String())
	writeFile(t, dir, "boot.ipxe", "#!ipxe\nfdt README || echo refused ${errno}\nfdt t.dtb\nsha256sum t.dtb\nimgstat\nchain vmlinuz.gz console=ttyAMA0\n")
	writeFile(t, dir, "README", strings.Repeat("not a device tree\n", 4))
	out, errOut, code := runSnpctl(t, dir, "boot.ipxe")
	if code != 0 {
		t.Fatalf("snpctl run exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	sum := sha256.Sum256(dtb)
	for _, want := range []string{
		"fdt: README is not a flattened device tree: bad magic 0x6e6f7420",
		"refused 0x1c000082\n",
		fmt.Sprintf("%x  t.dtb\n", sum),
		fmt.Sprintf("t.dtb : %d bytes [data] [FDT] [HIDDEN]\n", len(dtb)),
		fmt.Sprintf("would install device tree (%d bytes, version 17, sha256 %x) as EFI configuration table b1b621d5-f19c-41a5-830b-d9152c69aae0\n", len(dtb), sum),
		"would boot vmlinuz (4096 bytes, PE/COFF arm64)\n",
		`command line: "vmlinuz console=ttyAMA0"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "with image t.dtb") {
		t.Errorf("the device tree was offered to the kernel as an image:\n%s", out)
	}
}
