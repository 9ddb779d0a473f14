package gptfat_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	. "github.com/snp-go/snp-go/blockio/gptfat"
	"github.com/snp-go/snp-go/blockio/memdisk"
)

var bootEFI = append([]byte("MZ"), bytes.Repeat([]byte{0xAB}, 3000)...)

func testImage(t testing.TB, size int64) []byte {
	t.Helper()
	img, err := memdisk.Build(size, "SNPGO", []memdisk.File{
		{Path: "EFI/BOOT/BOOTAA64.EFI", Data: bootEFI},
		{Path: "EFI/debian/grubaa64.efi", Data: []byte("grub")},
		{Path: "boot/grub/A long file name.cfg", Data: []byte("set timeout=5\n")},
		{Path: "empty.txt", Data: nil},
	})
	if err != nil {
		t.Fatalf("memdisk.Build: %v", err)
	}
	return img
}

func espOf(t testing.TB, img []byte) (*FS, Partition) {
	t.Helper()
	parts, err := ReadGPT(bytes.NewReader(img), 512, uint64(len(img)/512))
	if err != nil {
		t.Fatalf("ReadGPT: %v", err)
	}
	if len(parts) != 1 || !parts[0].IsESP() {
		t.Fatalf("ReadGPT = %+v; want one EFI System Partition", parts)
	}
	p := parts[0]
	sec := io.NewSectionReader(bytes.NewReader(img), int64(p.FirstLBA)*512, int64(p.LastLBA-p.FirstLBA+1)*512)
	f, err := OpenFAT(sec, sec.Size())
	if err != nil {
		t.Fatalf("OpenFAT: %v", err)
	}
	return f, p
}

func TestGPTAndFAT(t *testing.T) {
	for _, size := range []int64{memdisk.MinSize, 8 << 20, 64 << 20} {
		img := testImage(t, size)
		f, p := espOf(t, img)
		if p.FirstLBA != 2048 || p.Type.String() != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" {
			t.Errorf("size %d: partition %+v; want ESP at LBA 2048", size, p)
		}
		if f.Label() != "SNPGO" {
			t.Errorf("size %d: label %q; want SNPGO", size, f.Label())
		}
		t.Logf("size %d: %s", size, f.Type())
		checkFiles(t, f)
	}
}

func checkFiles(t *testing.T, f *FS) {
	t.Helper()
	tests := []struct {
		path string
		want []byte
	}{
		{`\EFI\BOOT\BOOTAA64.EFI`, bootEFI},
		{"efi/boot/bootaa64.efi", bootEFI},
		{"EFI/debian/grubaa64.efi", []byte("grub")},
		{"/boot/grub/A long file name.cfg", []byte("set timeout=5\n")},
		{"boot/GRUB/a LONG file NAME.cfg", []byte("set timeout=5\n")},
		{"empty.txt", []byte{}},
	}
	for _, tc := range tests {
		got, err := f.ReadFile(tc.path, 1<<20)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s ReadFile(%q) = %d bytes, %v; want %d bytes", f.Type(), tc.path, len(got), err, len(tc.want))
		}
	}
	if _, err := f.ReadFile(`\EFI\BOOT\BOOTX64.EFI`, 1<<20); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v; want ErrNotExist", err)
	}
	if _, err := f.ReadFile(`\EFI\BOOT\BOOTAA64.EFI`, 100); err == nil {
		t.Errorf("ReadFile over the limit succeeded")
	}
	if _, err := f.ReadFile(`\EFI`, 1<<20); err == nil {
		t.Errorf("ReadFile(directory) succeeded")
	}
	ents, err := f.ReadDir(`\EFI`)
	if err != nil {
		t.Fatalf("ReadDir(EFI): %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "BOOT,debian" {
		t.Errorf("ReadDir(EFI) = %q; want BOOT, debian", names)
	}
}

func TestFAT32(t *testing.T) {
	for _, tool := range []string{"mkfs.vfat", "mcopy", "mmd"} {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat("/usr/sbin/" + tool); err != nil {
				t.Skipf("%s not installed (Debian dosfstools/mtools): skipping the FAT32 test", tool)
			}
		}
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "esp.img")
	run := func(name string, args ...string) {
		t.Helper()
		path, err := exec.LookPath(name)
		if err != nil {
			path = "/usr/sbin/" + name
		}
		if out, err := exec.Command(path, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
	}
	run("mkfs.vfat", "-F", "32", "-n", "ESP32", "-C", img, "40000")
	for _, d := range []string{"::EFI", "::EFI/BOOT", "::EFI/debian", "::boot", "::boot/grub"} {
		run("mmd", "-i", img, d)
	}
	files := map[string][]byte{
		"EFI/BOOT/BOOTAA64.EFI": bootEFI, "EFI/debian/grubaa64.efi": []byte("grub"),
		"boot/grub/A long file name.cfg": []byte("set timeout=5\n"), "empty.txt": {},
	}
	for p, data := range files {
		src := filepath.Join(dir, "src")
		os.WriteFile(src, data, 0o644)
		run("mcopy", "-i", img, src, "::"+p)
	}
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	f, err := OpenFAT(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("OpenFAT(FAT32): %v", err)
	}
	if f.Type() != "FAT32" || f.Label() != "ESP32" {
		t.Fatalf("OpenFAT = %s %q; want FAT32 ESP32", f.Type(), f.Label())
	}
	checkFiles(t, f)
}

func TestGPTCorruption(t *testing.T) {
	img := testImage(t, memdisk.MinSize)
	blocks := uint64(len(img) / 512)
	tests := []struct {
		name   string
		mutate func(b []byte)
	}{
		{"no signature", func(b []byte) { b[512] = 'X' }},
		{"header CRC", func(b []byte) { b[512+24]++ }},
		{"entry CRC", func(b []byte) { b[1024+40]++ }},
		{"entry count", func(b []byte) {
			binary.LittleEndian.PutUint32(b[512+80:], 1<<20)
			fixHeaderCRC(b)
		}},
	}
	for _, tc := range tests {
		b := append([]byte(nil), img...)
		tc.mutate(b)
		if _, err := ReadGPT(bytes.NewReader(b), 512, blocks); err == nil {
			t.Errorf("%s: ReadGPT succeeded; want an error", tc.name)
		}
	}
	if _, err := ReadGPT(bytes.NewReader(make([]byte, 4096)), 512, 8); !errors.Is(err, ErrNoGPT) {
		t.Errorf("ReadGPT(zeros) = %v; want ErrNoGPT", err)
	}
}

func fixHeaderCRC(b []byte) {
	h := b[512 : 512+92]
	binary.LittleEndian.PutUint32(h[16:], 0)
	binary.LittleEndian.PutUint32(h[16:], crc32.ChecksumIEEE(h))
}

func TestBlockReader(t *testing.T) {
	img := testImage(t, memdisk.MinSize)
	reads := 0
	br := &BlockReader{BlockSize: 512, Blocks: uint64(len(img) / 512), Read: func(lba uint64, buf []byte) error {
		reads++
		copy(buf, img[lba*512:])
		return nil
	}}
	for _, c := range []struct{ off, n int }{{0, 10}, {500, 30}, {1024, 512}, {777, 300000}, {len(img) - 5, 5}} {
		got := make([]byte, c.n)
		if n, err := br.ReadAt(got, int64(c.off)); err != nil || n != c.n || !bytes.Equal(got, img[c.off:c.off+c.n]) {
			t.Errorf("ReadAt(%d bytes at %d) = %d, %v; contents differ", c.n, c.off, n, err)
		}
	}
	if n, err := br.ReadAt(make([]byte, 10), int64(len(img)-4)); n != 4 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 4, EOF", n, err)
	}
	// The GPT and the file system read the same through block reads.
	parts, err := ReadGPT(br, 512, br.Blocks)
	if err != nil || len(parts) != 1 {
		t.Fatalf("ReadGPT through BlockReader = %v, %v", parts, err)
	}
	p := parts[0]
	sec := io.NewSectionReader(br, int64(p.FirstLBA)*512, int64(p.LastLBA-p.FirstLBA+1)*512)
	f, err := OpenFAT(sec, sec.Size())
	if err != nil {
		t.Fatalf("OpenFAT through BlockReader: %v", err)
	}
	if got, err := f.ReadFile(`\EFI\BOOT\BOOTAA64.EFI`, 1<<20); err != nil || !bytes.Equal(got, bootEFI) {
		t.Errorf("ReadFile through BlockReader = %d bytes, %v", len(got), err)
	}
}

func TestPEMachine(t *testing.T) {
	img := make([]byte, 0x100)
	copy(img, "MZ")
	binary.LittleEndian.PutUint32(img[0x3c:], 0x80)
	copy(img[0x80:], "PE\x00\x00")
	binary.LittleEndian.PutUint16(img[0x84:], MachineARM64)
	if m, err := PEMachine(img); err != nil || m != MachineARM64 {
		t.Errorf("PEMachine = %#x, %v; want 0xaa64", m, err)
	}
	binary.LittleEndian.PutUint32(img[0x3c:], 0xfffffff0)
	if _, err := PEMachine(img); err == nil {
		t.Errorf("PEMachine with e_lfanew out of range succeeded")
	}
}

// FuzzReadGPT fuzzes the disk from LBA 1 on (the protective MBR is not
// read): whatever ReadGPT accepts must be a 1-based entry inside the disk.
func FuzzReadGPT(f *testing.F) {
	img := testImage(f, memdisk.MinSize)
	f.Add(img[512 : 34*512])
	f.Add(make([]byte, 8*512))
	f.Fuzz(func(t *testing.T, b []byte) {
		data := append(make([]byte, 512), b...)
		blocks := uint64(len(data) / 512)
		parts, err := ReadGPT(bytes.NewReader(data), 512, blocks)
		if err != nil {
			return
		}
		for _, p := range parts {
			if p.Index < 1 || p.FirstLBA > p.LastLBA || p.LastLBA >= blocks {
				t.Fatalf("ReadGPT accepted %+v on a %d-block disk", p, blocks)
			}
		}
	})
}

func FuzzFAT(f *testing.F) {
	img := testImage(f, memdisk.MinSize)
	f.Add(img[2048*512 : len(img)-33*512])
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys, err := OpenFAT(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		fsys.ReadDir("")
		fsys.ReadDir("EFI/BOOT")
		if b, err := fsys.ReadFile(`\EFI\BOOT\BOOTAA64.EFI`, 1<<20); err == nil {
			e, _ := fsys.Stat(`\EFI\BOOT\BOOTAA64.EFI`)
			if len(b) != int(e.Size) {
				t.Fatalf("ReadFile returned %d bytes for a %d-byte file", len(b), e.Size)
			}
		}
	})
}

func TestGUID(t *testing.T) {
	// On-disk bytes of the ESP type GUID: first three fields little-endian.
	want := []byte{0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11, 0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B}
	if !bytes.Equal(ESPType[:], want) {
		t.Errorf("ESPType bytes = % x; want % x", ESPType[:], want)
	}
	for _, s := range []string{"C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"} {
		g, err := ParseGUID(strings.ToLower(s))
		if err != nil || g.String() != s {
			t.Errorf("ParseGUID(%q).String() = %q, %v; want %q", strings.ToLower(s), g.String(), err, s)
		}
	}
	for _, s := range []string{"", "C12A7328F81F11D2BA4B00A0C93EC93B", "C12A7328-F81F-11D2-BA4B-00A0C93EC93", "G12A7328-F81F-11D2-BA4B-00A0C93EC93B"} {
		if _, err := ParseGUID(s); err == nil {
			t.Errorf("ParseGUID(%q) succeeded; want an error", s)
		}
	}
}
