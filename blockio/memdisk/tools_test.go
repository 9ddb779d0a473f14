package memdisk

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The tests in this file check built images with the tools people will use
// on them: gdisk's sgdisk, mtools and dosfstools' fsck.fat.

func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not found (install Debian package %s)", name, pkg)
	}
	return p
}

// run runs a tool with a fixed UTF-8 locale and mtools' geometry check off
// (partitions rarely end on a track boundary, which mtools otherwise
// refuses).
func run(t *testing.T, name string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1", "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return out, nil
}

type toolCase struct {
	name  string
	size  int64
	label string
	opts  []Option
	code  string // sgdisk type code
}

var toolCases = []toolCase{
	{"fat12", 2 << 20, "SNPGO", nil, "EF00"},
	{"fat16", DefaultSize, "snp-go", nil, "EF00"},
	{"fat16-64MiB", 64 << 20, "", []Option{WithPartitionType(BasicData)}, "0700"},
}

func buildToFile(t *testing.T, tc toolCase) (*Disk, string, string) {
	t.Helper()
	d, err := New(tc.size, tc.label, bootFiles(), tc.opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.img")
	part := filepath.Join(dir, "part.img")
	if err := os.WriteFile(img, d.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(part, volumeOf(d), 0o644); err != nil {
		t.Fatal(err)
	}
	return d, img, part
}

func TestSgdisk(t *testing.T) {
	sgdisk := needTool(t, "sgdisk", "gdisk")
	for _, tc := range toolCases {
		t.Run(tc.name, func(t *testing.T) {
			d, img, _ := buildToFile(t, tc)
			l := d.Layout()
			out, err := run(t, sgdisk, "-v", img)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(out, []byte("No problems found")) {
				t.Errorf("sgdisk -v: no \"No problems found\" in:\n%s", out)
			}
			out, err = run(t, sgdisk, "-p", img)
			if err != nil {
				t.Fatal(err)
			}
			if want := "Disk identifier (GUID): " + l.DiskGUID.String(); !bytes.Contains(out, []byte(want)) {
				t.Errorf("sgdisk -p: no %q in:\n%s", want, out)
			}
			row := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+1\s+2048\s+%d\s+.*\s%s\s`, l.PartitionEndLBA, tc.code))
			if !row.Match(out) {
				t.Errorf("sgdisk -p: no partition 1 at 2048..%d type %s in:\n%s", l.PartitionEndLBA, tc.code, out)
			}
			out, err = run(t, sgdisk, "-i", "1", img)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Partition GUID code: " + l.PartitionType.String(), "Partition unique GUID: " + l.PartitionGUID.String()} {
				if !bytes.Contains(out, []byte(want)) {
					t.Errorf("sgdisk -i 1: no %q in:\n%s", want, out)
				}
			}
		})
	}
}

func TestMtools(t *testing.T) {
	mdir := needTool(t, "mdir", "mtools")
	mtype := needTool(t, "mtype", "mtools")
	for _, tc := range toolCases {
		t.Run(tc.name, func(t *testing.T) {
			_, img, _ := buildToFile(t, tc)
			vol := img + "@@1M"
			out, err := run(t, mdir, "-i", vol, "::/")
			if err != nil {
				t.Fatal(err)
			}
			wantLabel := "has no label"
			if tc.label != "" {
				wantLabel = "is " + strings.ToUpper(tc.label)
			}
			if !bytes.Contains(out, []byte("Volume in drive : "+wantLabel)) {
				t.Errorf("mdir ::/: label line %q missing in:\n%s", wantLabel, out)
			}
			for _, name := range []string{"EFI", "grub", "README", "A long file name with spaces.text", "Übergröße ☃.txt", "thirteen_char"} {
				if !bytes.Contains(out, []byte(name)) {
					t.Errorf("mdir ::/: %q missing in:\n%s", name, out)
				}
			}
			out, err = run(t, mdir, "-i", vol, "::/EFI/BOOT")
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"BOOTAA64 EFI     70000", "grub.cfg", "FILE     TXT"} {
				if !bytes.Contains(out, []byte(name)) {
					t.Errorf("mdir ::/EFI/BOOT: %q missing in:\n%s", name, out)
				}
			}
			for _, f := range bootFiles() {
				got, err := run(t, mtype, "-i", vol, "::/"+f.Path)
				if err != nil {
					t.Error(err)
					continue
				}
				if !bytes.Equal(got, f.Data) {
					t.Errorf("mtype ::/%s = %d bytes that differ from the %d written", f.Path, len(got), len(f.Data))
				}
			}
		})
	}
}

func TestFsckFat(t *testing.T) {
	fsck := needTool(t, "fsck.fat", "dosfstools")
	for _, tc := range toolCases {
		t.Run(tc.name, func(t *testing.T) {
			d, _, part := buildToFile(t, tc)
			out, err := run(t, fsck, "-n", "-v", part)
			if err != nil {
				t.Fatal(err)
			}
			bad := regexp.MustCompile(`(?i)warn|error|wrong|differ|invalid|bad|lost|reclaim|free cluster|mark`)
			if m := bad.Find(out); m != nil {
				t.Errorf("fsck.fat -n -v reported %q:\n%s", m, out)
			}
			if want := fmt.Sprintf("%d bit entries", d.Layout().FATType); !bytes.Contains(out, []byte(want)) {
				t.Errorf("fsck.fat -n -v: no %q in:\n%s", want, out)
			}

			// The same check must fail on a broken volume: point a FAT
			// entry of the first file somewhere else in the first FAT.
			vol := append([]byte{}, volumeOf(d)...)
			fat := vol[512:]
			for i := 4; i < 64; i++ {
				fat[i] ^= 0x5A
			}
			broken := part + ".broken"
			if err := os.WriteFile(broken, vol, 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := run(t, fsck, "-n", broken); err == nil {
				t.Errorf("fsck.fat -n on a volume with a corrupted FAT reported no problem:\n%s", out)
			}
		})
	}
}

// TestShortChecksumMtools checks shortChecksum against long-name entries
// written by mtools into a volume made by mkfs.fat.
func TestShortChecksumMtools(t *testing.T) {
	mkfs := needTool(t, "mkfs.fat", "dosfstools")
	mcopy := needTool(t, "mcopy", "mtools")
	dir := t.TempDir()
	img := filepath.Join(dir, "v.img")
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, mkfs, "-C", img, "8192"); err != nil {
		t.Fatal(err)
	}
	// Names that need long-name entries (mtools stores all-lower-case 8.3
	// names such as "grub.cfg" with the NT case flags instead).
	names := []string{"long file name.txt", "Grub.cfg", "Übergröße ☃.txt", "thirteen_char", "a b"}
	for _, n := range names {
		if _, err := run(t, mcopy, "-i", img, src, "::/"+n); err != nil {
			t.Fatal(err)
		}
	}
	vol, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	v, err := readFAT(vol)
	if err != nil {
		t.Fatalf("reading the mkfs.fat/mcopy volume: %v", err)
	}
	// readFAT only accepts a long name whose checksum shortChecksum
	// reproduces; a wrong checksum would surface as an error above or as a
	// missing long name here.
	for _, n := range names {
		if _, ok := v.files[n]; !ok {
			t.Errorf("long name %q written by mcopy not found; read %d files", n, len(v.files))
		}
	}
}
