package lab

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBootScriptMatchesMkimage(t *testing.T) {
	if _, err := exec.LookPath("mkimage"); err != nil {
		t.Skip("SKIP: mkimage not installed (Debian u-boot-tools); needed only to cross-check BootScript")
	}
	for _, tc := range []struct{ name, script string }{
		{"autoboot", AutobootScript + "\n"},
		{"odd length", "echo hi\n"}, // 8 bytes
		{"unaligned", "echo odd\n"}, // 9 bytes: mkimage must not pad a single image
		{"", "version\n"},
	} {
		t.Run(tc.script, func(t *testing.T) {
			dir := t.TempDir()
			src, out := filepath.Join(dir, "s.txt"), filepath.Join(dir, "boot.scr")
			if err := os.WriteFile(src, []byte(tc.script), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("mkimage", "-A", "arm64", "-O", "linux", "-T", "script", "-C", "none", "-n", tc.name, "-d", src, out)
			cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=1700000000")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mkimage: %v: %s", err, b)
			}
			want, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			got, err := BootScript(tc.script, tc.name, time.Unix(1700000000, 0))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("BootScript(%q, %q) =\n% x\nwant (mkimage)\n% x", tc.script, tc.name, got, want)
			}
		})
	}
}

func TestBootScriptRejectsLongName(t *testing.T) {
	if _, err := BootScript("version\n", strings.Repeat("n", 32), time.Unix(0, 0)); err == nil {
		t.Error("BootScript with a 32-byte name = nil error; want an error (header holds 31 + NUL)")
	}
}

func TestBuildDiskReadBack(t *testing.T) {
	SkipIfNoDiskTools(t)
	if _, err := exec.LookPath("mtype"); err != nil {
		t.Skip("SKIP: mtype (mtools) not installed")
	}
	dir := t.TempDir()
	host := filepath.Join(dir, "app.efi")
	hostData := bytes.Repeat([]byte("MZ-not-really-"), 1000)
	if err := os.WriteFile(host, hostData, 0o644); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"/snp-go.efi":            hostData,
		"/EFI/BOOT/BOOTAA64.EFI": hostData,
		"/deep/a/b/c/hello.txt":  []byte("hello from the lab\n"),
		"/empty":                 {},
	}
	d := EFIDisk(host, true)
	d.Files["/EFI/BOOT/BOOTAA64.EFI"] = HostFile(host)
	d.Files["/deep/a/b/c/hello.txt"] = Bytes(files["/deep/a/b/c/hello.txt"])
	d.Files["/empty"] = Bytes([]byte{})
	img := filepath.Join(dir, "disk.img")
	if err := BuildDisk(img, d); err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if st.Size() != MinDiskSize {
		t.Errorf("image size %d; want MinDiskSize %d for a few KiB of files", st.Size(), MinDiskSize)
	}
	parts, err := ReadGPT(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 1 {
		t.Fatalf("ReadGPT = %d partitions; want 1", len(parts))
	}
	p := parts[0]
	if want := uint64(MinDiskSize/Sector - 34); p.Index != 1 || p.Type != ESPType || p.FirstLBA != 2048 || p.LastLBA != want {
		t.Errorf("partition = %+v; want #1 type %s LBA 2048..%d", p, ESPType, want)
	}
	if p.Name != "EFI System" {
		t.Errorf("partition name %q; want %q", p.Name, "EFI System")
	}
	fat := img + "@@1M"
	for name, want := range files {
		got, err := exec.Command("mtype", "-i", fat, "::"+name).Output()
		if err != nil {
			t.Errorf("mtype %s: %v", name, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("mtype %s = %d bytes %.20q; want %d bytes %.20q", name, len(got), got, len(want), want)
		}
	}
	scr, err := exec.Command("mtype", "-i", fat, "::/boot.scr").Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(scr) < 72 || binary.BigEndian.Uint32(scr) != uimageMagic || !bytes.Contains(scr, []byte(AutobootScript)) {
		t.Errorf("/boot.scr = %q; want a uImage script of AutobootScript", scr)
	}
	// FAT32 boot sector: file system type "FAT32   " at offset 82.
	fsType := make([]byte, 8)
	if _, err := f.ReadAt(fsType, 2048*Sector+82); err != nil {
		t.Fatal(err)
	}
	if string(fsType) != "FAT32   " {
		t.Errorf("ESP boot sector type %q; want %q", fsType, "FAT32   ")
	}
}

func TestBuildDiskErrors(t *testing.T) {
	SkipIfNoDiskTools(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		d    Disk
		want string
	}{
		{"relative path", Disk{Files: map[string]File{"snp-go.efi": Bytes(nil)}}, "absolute"},
		{"dotdot", Disk{Files: map[string]File{"/a/../b": Bytes(nil)}}, "clean"},
		{"missing host file", Disk{Files: map[string]File{"/x": HostFile(filepath.Join(dir, "nope"))}}, "nope"},
		{"too small", Disk{Size: 16 << 20}, "too small"},
		{"too small for content", Disk{Size: 64 << 20, Files: map[string]File{"/big": Bytes(make([]byte, 60<<20))}}, "too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := BuildDisk(filepath.Join(dir, "d.img"), tc.d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("BuildDisk(%s) = %v; want an error mentioning %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestBuildDiskGrowsForContent(t *testing.T) {
	SkipIfNoDiskTools(t)
	img := filepath.Join(t.TempDir(), "d.img")
	if err := BuildDisk(img, Disk{Files: map[string]File{"/big.bin": Bytes(make([]byte, 70<<20))}}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(img)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() <= 70<<20 || st.Size()%(1<<20) != 0 {
		t.Errorf("image for a 70 MiB file is %d bytes; want more than 70 MiB, whole MiB", st.Size())
	}
}

// gptImage builds a minimal valid GPT (header + 4 entries of 128 bytes) in
// memory, with one ESP entry, and lets a test corrupt it.
func gptImage(mutate func(hdr, entries []byte)) []byte {
	img := make([]byte, 64*Sector)
	hdr := img[Sector : 2*Sector]
	entries := img[2*Sector : 3*Sector]
	copy(hdr, "EFI PART")
	binary.LittleEndian.PutUint32(hdr[8:], 0x00010000)
	binary.LittleEndian.PutUint32(hdr[12:], 92)
	binary.LittleEndian.PutUint64(hdr[72:], 2)
	binary.LittleEndian.PutUint32(hdr[80:], 4)
	binary.LittleEndian.PutUint32(hdr[84:], 128)
	// C12A7328-F81F-11D2-BA4B-00A0C93EC93B in EFI byte order
	copy(entries, []byte{0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b})
	entries[16] = 1 // unique GUID
	binary.LittleEndian.PutUint64(entries[32:], 34)
	binary.LittleEndian.PutUint64(entries[40:], 63)
	copy(entries[56:], []byte{'E', 0, 'S', 0, 'P', 0})
	if mutate != nil {
		mutate(hdr, entries)
	}
	binary.LittleEndian.PutUint32(hdr[88:], crc32.ChecksumIEEE(entries[:4*128]))
	binary.LittleEndian.PutUint32(hdr[16:], 0)
	binary.LittleEndian.PutUint32(hdr[16:], crc32.ChecksumIEEE(hdr[:92]))
	return img
}

func TestReadGPT(t *testing.T) {
	parts, err := ReadGPT(bytes.NewReader(gptImage(nil)), 64*Sector)
	if err != nil {
		t.Fatal(err)
	}
	want := Partition{Index: 1, Type: ESPType, GUID: "00000001-0000-0000-0000-000000000000", FirstLBA: 34, LastLBA: 63, Name: "ESP"}
	if len(parts) != 1 || parts[0] != want {
		t.Errorf("ReadGPT = %+v; want [%+v]", parts, want)
	}
	if got := parts[0].Size(); got != 30*Sector {
		t.Errorf("Size() = %d; want %d", got, 30*Sector)
	}
}

func TestReadGPTErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		img  []byte
		want string
	}{
		{"mbr only", make([]byte, 64*Sector), "signature"},
		{"short", gptImage(nil)[:Sector+10], "reading header"},
		{"header crc", func() []byte { b := gptImage(nil); b[Sector+40]++; return b }(), "header CRC32"},
		{"entry crc", func() []byte { b := gptImage(nil); b[2*Sector+60]++; return b }(), "entry array CRC32"},
		{"huge count", gptImage(func(h, _ []byte) { binary.LittleEndian.PutUint32(h[80:], 1<<20) }), "entries"},
		{"entry size", gptImage(func(h, _ []byte) { binary.LittleEndian.PutUint32(h[84:], 100) }), "entry size"},
		{"backwards", gptImage(func(_, e []byte) { binary.LittleEndian.PutUint64(e[40:], 10) }), "before it starts"},
		{"empty", gptImage(func(_, e []byte) { clear(e) }), "no used entries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadGPT(bytes.NewReader(tc.img), int64(len(tc.img)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadGPT(%s) = %v; want an error mentioning %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestAutobootScriptIsBootefiCommand(t *testing.T) {
	if got := BootefiCommand("0:1", "snp-go.efi"); got != AutobootScript {
		t.Errorf("BootefiCommand(0:1, snp-go.efi) = %q; want AutobootScript %q", got, AutobootScript)
	}
}
