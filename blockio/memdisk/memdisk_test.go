package memdisk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// volumeOf returns the partition of a built disk.
func volumeOf(d *Disk) []byte {
	l := d.Layout()
	return d.Bytes()[l.PartitionStartLBA*BlockSize : (l.PartitionEndLBA+1)*BlockSize]
}

func randomData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// bootFiles is a typical ESP content plus names that exercise the
// short-name generator and long names of every length class.
func bootFiles() []File {
	return []File{
		{"EFI/BOOT/BOOTAA64.EFI", randomData(1, 70000)},
		{"EFI/BOOT/grub.cfg", []byte("set timeout=1\nconfigfile /grub/grub.cfg\n")},
		{"EFI/BOOT/FILE.TXT", []byte("hello from snp-go\r\n")},
		{"grub/grub.cfg", []byte("menuentry x {}\n")},
		{"README", nil},
		{"A long file name with spaces.text", []byte("x")},
		{"A long file name with dots.and.more.text", []byte("y")},
		{"thirteen_char", []byte("exactly 13 UTF-16 units, no terminator")},
		{"Übergröße ☃.txt", []byte("non-ASCII")},
		{"boot/Image-6.1.0-arm64", randomData(2, 3000)},
		{"boot/initrd.img-6.1.0-arm64", randomData(3, 1025)},
		{"boot/empty", []byte{}},
		{"deep/a/b/c/d/e/f/leaf.bin", randomData(4, 512)},
	}
}

func TestRoundTrip(t *testing.T) {
	many := make([]File, 0, 300)
	for i := range 300 {
		// 300 long names sharing a prefix: tails ~1..~300, and a directory
		// spanning many clusters.
		many = append(many, File{Path: fmt.Sprintf("many/long file name %03d.data", i), Data: []byte(fmt.Sprint(i))})
	}
	tests := []struct {
		name     string
		size     int64
		label    string
		files    []File
		wantBits int
	}{
		{"fat12 2MiB", 2 << 20, "SNPGO", bootFiles(), 12},
		{"fat16 default", DefaultSize, "snp go", bootFiles(), 16},
		{"fat16 64MiB", 64 << 20, "", bootFiles(), 16},
		{"minimum", MinSize, "MIN", []File{{"EFI/BOOT/X.EFI", []byte("x")}}, 12},
		{"many names", DefaultSize, "MANY", many, 16},
		{"empty", DefaultSize, "", nil, 16},
		// mtools 4.0.32 shows characters outside the BMP as "__", so this
		// surrogate pair is only checked here.
		{"surrogates", DefaultSize, "", []File{{"smile 😀.txt", []byte(":)")}, {"EFI/😀😀😀😀😀😀😀", nil}}, 16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.size, tt.label, tt.files, WithSeed([]byte(tt.name)))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if _, err := checkGPT(d.Bytes()); err != nil {
				t.Fatalf("GPT: %v", err)
			}
			v, err := readFAT(volumeOf(d))
			if err != nil {
				t.Fatalf("reading FAT back: %v", err)
			}
			l := d.Layout()
			if v.bits != tt.wantBits || l.FATType != tt.wantBits || v.fsType != fmt.Sprintf("FAT%d", tt.wantBits) {
				t.Errorf("FAT type: spec count says FAT%d, Layout says FAT%d, BS_FilSysType %q; want FAT%d", v.bits, l.FATType, v.fsType, tt.wantBits)
			}
			if v.clusters != l.Clusters || v.spc*512 != l.ClusterSize {
				t.Errorf("Layout clusters %d of %d bytes; BPB gives %d of %d", l.Clusters, l.ClusterSize, v.clusters, v.spc*512)
			}
			wantLabel := strings.ToUpper(tt.label)
			wantBPB := wantLabel
			if wantBPB == "" {
				wantBPB = "NO NAME"
			}
			if v.label != wantLabel || v.bpbLabel != wantBPB {
				t.Errorf("label: root entry %q, BS_VolLab %q; want %q, %q", v.label, v.bpbLabel, wantLabel, wantBPB)
			}
			if len(v.files) != len(tt.files) {
				t.Errorf("read %d files; want %d", len(v.files), len(tt.files))
			}
			for _, f := range tt.files {
				got, ok := v.files[f.Path]
				if !ok {
					t.Errorf("file %q missing; have %d files", f.Path, len(v.files))
					continue
				}
				if !bytes.Equal(got, f.Data) {
					t.Errorf("file %q: read %d bytes that differ from the %d written", f.Path, len(got), len(f.Data))
				}
			}
		})
	}
}

func TestShortNames(t *testing.T) {
	tests := []struct {
		names []string // siblings, in order
		want  []string // their short names
		lfn   []bool
	}{
		{[]string{"BOOTAA64.EFI", "README", "A", "X.Y"}, []string{"BOOTAA64.EFI", "README", "A", "X.Y"}, []bool{false, false, false, false}},
		{[]string{"grub.cfg", "Boot"}, []string{"GRUB.CFG", "BOOT"}, []bool{true, true}},
		{[]string{"long file name.txt", "long file name 2.txt"}, []string{"LONGFI~1.TXT", "LONGFI~2.TXT"}, []bool{true, true}},
		// A plain 8.3 name keeps its short name even after a sibling whose
		// generated short name would have been the same.
		{[]string{"longfi 1.txt", "LONGFI~1.TXT"}, []string{"LONGFI~2.TXT", "LONGFI~1.TXT"}, []bool{true, false}},
		{[]string{".bashrc", "a.b.c", "x.html", "a+b=c", "Übung"}, []string{"BASHRC~1", "AB~1.C", "X~1.HTM", "A_B_C~1", "_BUNG~1"}, []bool{true, true, true, true, true}},
		{[]string{"ABCDEFGHI"}, []string{"ABCDEF~1"}, []bool{true}},
	}
	for _, tt := range tests {
		var nodes []*node
		for _, n := range tt.names {
			nodes = append(nodes, &node{name: n})
		}
		if err := assignShortNames(nodes); err != nil {
			t.Fatalf("assignShortNames(%q): %v", tt.names, err)
		}
		for i, n := range nodes {
			if n.short.String() != tt.want[i] || n.lfn != tt.lfn[i] {
				t.Errorf("assignShortNames(%q): %q -> %q lfn=%v; want %q lfn=%v", tt.names, n.name, n.short.String(), n.lfn, tt.want[i], tt.lfn[i])
			}
		}
	}
}

func TestGeometry(t *testing.T) {
	// Every size from the minimum up to the maximum in uneven steps, plus
	// the sizes that land near the FAT12/FAT16 boundary.
	var sizes []int
	for s := int(MinSize / 512); s <= MaxSize/512; s = s*9/8 + 1 {
		sizes = append(sizes, s)
	}
	for s := 4000; s < 4300; s++ {
		sizes = append(sizes, s+2048+33)
	}
	sizes = append(sizes, MaxSize/512)
	for _, diskSecs := range sizes {
		tot := diskSecs - 2048 - 33
		g, err := chooseGeom(tot)
		if err != nil {
			t.Fatalf("chooseGeom(%d): %v", tot, err)
		}
		// Recompute the way §3.5 says drivers do.
		rootSecs := (rootEntries*32 + 511) / 512
		count := (tot - (reservedSecs + numFATs*g.fatSz + rootSecs)) / g.spc
		bits := 16
		if count < 4085 {
			bits = 12
		}
		if count != g.clusters || bits != g.bits {
			t.Errorf("chooseGeom(%d) = FAT%d with %d clusters; the BPB it implies gives FAT%d with %d", tot, g.bits, g.clusters, bits, count)
		}
		if count < 1 || count > 65524 || (count > 4084-16 && count < 4085+16) {
			t.Errorf("chooseGeom(%d): %d clusters is out of range or within 16 of the FAT12/16 boundary", tot, count)
		}
		if g.fatSz*512*8 < (count+2)*g.bits {
			t.Errorf("chooseGeom(%d): FAT of %d sectors is too small for %d entries", tot, g.fatSz, count+2)
		}
		// Minimal: one sector less of FAT leaves room for clusters it could
		// not describe.
		if c1 := (tot - (reservedSecs + numFATs*(g.fatSz-1) + rootSecs)) / g.spc; g.fatSz > 1 && (g.fatSz-1)*512*8 >= (c1+2)*g.bits {
			t.Errorf("chooseGeom(%d): FAT of %d sectors; %d would do", tot, g.fatSz, g.fatSz-1)
		}
		if g.spc > 64 {
			t.Errorf("chooseGeom(%d): %d sectors per cluster; want <= 64", tot, g.spc)
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name  string
		size  int64
		label string
		files []File
		opts  []Option
		want  string
	}{
		{"unaligned", DefaultSize + 1, "", nil, nil, "multiple of 512"},
		{"too small", MinSize - 512, "", nil, nil, "outside"},
		{"too large", MaxSize + 512, "", nil, nil, "outside"},
		{"long label", DefaultSize, "TWELVE CHARS", nil, nil, "longer than 11"},
		{"bad label", DefaultSize, "A.B", nil, nil, "contains"},
		{"space label", DefaultSize, " A", nil, nil, "starts with a space"},
		{"dup", DefaultSize, "", []File{{"a/B.txt", nil}, {"A/b.TXT", nil}}, nil, "already exists"},
		{"file as dir", DefaultSize, "", []File{{"a", nil}, {"a/b", nil}}, nil, "is a file"},
		{"dir as file", DefaultSize, "", []File{{"a/b", nil}, {"a", nil}}, nil, "already exists"},
		{"empty component", DefaultSize, "", []File{{"a//b", nil}}, nil, "empty path component"},
		{"empty path", DefaultSize, "", []File{{"", nil}}, nil, "empty path component"},
		{"dotdot", DefaultSize, "", []File{{"a/../b", nil}}, nil, "not allowed"},
		{"bad char", DefaultSize, "", []File{{"a?b", nil}}, nil, "does not allow"},
		{"trailing dot", DefaultSize, "", []File{{"a.", nil}}, nil, "ends in a dot"},
		{"bad utf8", DefaultSize, "", []File{{"a\xff", nil}}, nil, "UTF-8"},
		{"name too long", DefaultSize, "", []File{{strings.Repeat("n", 256), nil}}, nil, "255"},
		{"full", DefaultSize, "", []File{{"big", make([]byte, 4<<20)}}, nil, "make the disk at least"},
		{"root full", DefaultSize, "", manyRootFiles(513), nil, "root directory needs"},
		{"part name", DefaultSize, "", nil, []Option{WithPartitionName(strings.Repeat("x", 37))}, "UTF-16 units"},
		{"part type", DefaultSize, "", nil, []Option{WithPartitionType(7)}, "unknown partition type"},
	}
	for _, tt := range tests {
		img, err := Build(tt.size, tt.label, tt.files, tt.opts...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Build error = %v (image %d bytes); want one containing %q", tt.name, err, len(img), tt.want)
		}
	}
	// Just fitting: the root holds exactly 512 entries.
	if _, err := Build(DefaultSize, "L", manyRootFiles(511)); err != nil {
		t.Errorf("Build with 511 root files and a label: %v; want success", err)
	}
	if _, err := Build(DefaultSize, "L", manyRootFiles(512)); err == nil {
		t.Errorf("Build with 512 root files and a label succeeded; want an error")
	}
}

func manyRootFiles(n int) []File {
	var fs []File
	for i := range n {
		fs = append(fs, File{Path: fmt.Sprintf("F%d", i)})
	}
	return fs
}

func TestDeterminism(t *testing.T) {
	files := bootFiles()
	a, err := New(DefaultSize, "X", files, WithSeed([]byte("s1")))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(DefaultSize, "X", files, WithSeed([]byte("s1")))
	c, _ := New(DefaultSize, "X", files, WithSeed([]byte("s2")))
	r1, _ := New(DefaultSize, "X", files)
	r2, _ := New(DefaultSize, "X", files)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Errorf("two builds with the same seed differ")
	}
	la, lc, l1, l2 := a.Layout(), c.Layout(), r1.Layout(), r2.Layout()
	if la.DiskGUID == lc.DiskGUID || la.PartitionGUID == lc.PartitionGUID || la.VolumeID == lc.VolumeID {
		t.Errorf("seeds s1 and s2 give equal IDs: %+v %+v", la, lc)
	}
	if l1.DiskGUID == l2.DiskGUID || l1.PartitionGUID == l2.PartitionGUID {
		t.Errorf("two random builds give equal GUIDs: %v %v", l1.DiskGUID, l2.DiskGUID)
	}
	if la.DiskGUID == la.PartitionGUID {
		t.Errorf("disk and partition GUID are equal: %v", la.DiskGUID)
	}
	for _, g := range []GUID{la.DiskGUID, la.PartitionGUID, l1.DiskGUID, l1.PartitionGUID} {
		// RFC 9562 version 4, variant 10: "xxxxxxxx-xxxx-4xxx-[89AB]xxx-...".
		s := g.String()
		if s[14] != '4' || !strings.ContainsRune("89AB", rune(s[19])) {
			t.Errorf("GUID %s is not version 4 / variant 10", s)
		}
	}
}

func TestWithTime(t *testing.T) {
	when := time.Date(2024, 2, 29, 13, 37, 42, 0, time.UTC)
	d, err := New(DefaultSize, "", []File{{"f", []byte("x")}}, WithTime(when))
	if err != nil {
		t.Fatal(err)
	}
	v := volumeOf(d)
	g, _ := chooseGeom(len(v) / 512)
	e := v[(reservedSecs+numFATs*g.fatSz)*512:]
	// "f" has one long-name entry, then the short entry.
	short := e[32:64]
	date, tm := uint16(short[24])|uint16(short[25])<<8, uint16(short[22])|uint16(short[23])<<8
	wantDate, wantTime := uint16(44<<9|2<<5|29), uint16(13<<11|37<<5|21)
	if date != wantDate || tm != wantTime {
		t.Errorf("DIR_WrtDate/Time = %#x/%#x; want %#x/%#x", date, tm, wantDate, wantTime)
	}
}

func TestDiskReadWriteAt(t *testing.T) {
	d, err := New(MinSize, "", nil, WithSeed(nil))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 512)
	if n, err := d.ReadAt(buf, 0); n != 512 || err != nil || buf[510] != 0x55 {
		t.Errorf("ReadAt(0) = %d, %v, sig %#x; want 512, nil, 0x55", n, err, buf[510])
	}
	if n, err := d.ReadAt(buf, d.Size()-100); n != 100 || err != io.EOF {
		t.Errorf("ReadAt(size-100) = %d, %v; want 100, EOF", n, err)
	}
	if n, err := d.ReadAt(buf, d.Size()); n != 0 || err != io.EOF {
		t.Errorf("ReadAt(size) = %d, %v; want 0, EOF", n, err)
	}
	if _, err := d.ReadAt(buf, -1); err == nil {
		t.Errorf("ReadAt(-1) succeeded; want an error")
	}
	blk := bytes.Repeat([]byte{0xA5}, 512)
	if n, err := d.WriteAt(blk, d.Size()-512); n != 512 || err != nil {
		t.Errorf("WriteAt(last block) = %d, %v; want 512, nil", n, err)
	}
	d.ReadAt(buf, d.Size()-512)
	if !bytes.Equal(buf, blk) {
		t.Errorf("ReadAt after WriteAt returned other data")
	}
	for _, off := range []int64{-1, d.Size() - 511, d.Size() + 1} {
		if _, err := d.WriteAt(blk, off); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("WriteAt(%d) error = %v; want ErrOutOfRange", off, err)
		}
	}
}

func FuzzBuild(f *testing.F) {
	f.Add("EFI/BOOT/BOOTAA64.EFI\nEFI/boot/grub.cfg\nlong file name.txt", []byte("some data to split"), "LABEL")
	f.Add("a\nA/b\n.x\nx.\n..", []byte{}, "")
	f.Fuzz(func(t *testing.T, paths string, data []byte, label string) {
		var files []File
		for i, p := range strings.Split(paths, "\n") {
			if i >= 64 {
				break
			}
			cut := min(len(data), i*37%(len(data)+1))
			files = append(files, File{Path: p, Data: data[:cut]})
		}
		d, err := New(2<<20, label, files, WithSeed(data))
		if err != nil {
			return
		}
		if _, err := checkGPT(d.Bytes()); err != nil {
			t.Fatalf("GPT: %v", err)
		}
		v, err := readFAT(volumeOf(d))
		if err != nil {
			t.Fatalf("FAT for %q: %v", paths, err)
		}
		// Directory names are matched ignoring case, so "a/x" and "A/y"
		// land in the directory spelled as first given.
		byUpper := map[string][]byte{}
		for p, data := range v.files {
			byUpper[strings.ToUpper(p)] = data
		}
		if len(byUpper) != len(files) {
			t.Fatalf("read back %d files; wrote %d", len(byUpper), len(files))
		}
		for _, f := range files {
			p := strings.ToUpper(strings.Trim(f.Path, "/"))
			if got, ok := byUpper[p]; !ok || !bytes.Equal(got, f.Data) {
				t.Fatalf("file %q: present=%v, %d bytes; want %d bytes", p, ok, len(got), len(f.Data))
			}
		}
	})
}

func BenchmarkBuildDefault(b *testing.B) {
	files := bootFiles()
	b.SetBytes(DefaultSize)
	for b.Loop() {
		if _, err := Build(DefaultSize, "SNPGO", files, WithSeed([]byte("bench"))); err != nil {
			b.Fatal(err)
		}
	}
}
