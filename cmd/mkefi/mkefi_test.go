package main

import (
	"bytes"
	"debug/elf"
	"debug/pe"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/cmd/mkefi/internal/fixture"
)

const delta = 0x10000000 // fixture.HighText - fixture.LowText

// loaded is a PE image as a UEFI loader places it: SizeOfImage bytes with
// each section's raw data at its RVA and the rest zero.
type loaded struct {
	f      *pe.File
	oh     *pe.OptionalHeader64
	mem    []byte
	relocs []uint32 // RVAs of DIR64 entries, in file order
}

// load parses the PE with debug/pe, lays it out and decodes .reloc (PE/COFF
// §6.6) independently of the writer.
func load(t *testing.T, file []byte) *loaded {
	t.Helper()
	f, err := pe.NewFile(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("debug/pe cannot read the image: %v", err)
	}
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok {
		t.Fatalf("OptionalHeader is %T; want *pe.OptionalHeader64 (PE32+)", f.OptionalHeader)
	}
	l := &loaded{f: f, oh: oh, mem: make([]byte, oh.SizeOfImage)}
	copy(l.mem, file[:oh.SizeOfHeaders])
	for _, s := range f.Sections {
		if uint64(s.VirtualAddress)+uint64(s.VirtualSize) > uint64(oh.SizeOfImage) {
			t.Fatalf("section %s [%#x,+%#x) beyond SizeOfImage %#x", s.Name, s.VirtualAddress, s.VirtualSize, oh.SizeOfImage)
		}
		data, err := s.Data()
		if err != nil {
			t.Fatalf("section %s: %v", s.Name, err)
		}
		n := min(len(data), int(s.VirtualSize))
		copy(l.mem[s.VirtualAddress:], data[:n])
	}
	dir := oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_BASERELOC]
	rel := l.mem[dir.VirtualAddress : dir.VirtualAddress+dir.Size]
	for len(rel) > 0 {
		if len(rel) < 8 {
			t.Fatalf("%d trailing bytes in .reloc", len(rel))
		}
		page, size := binary.LittleEndian.Uint32(rel), binary.LittleEndian.Uint32(rel[4:])
		if page%0x1000 != 0 || page == 0 || size < 10 || size%4 != 0 || int(size) > len(rel) {
			t.Fatalf(".reloc block page %#x size %d: want a non-zero page-aligned page and a size ≥ 10, multiple of 4, within the section", page, size)
		}
		entries := rel[8:size]
		for i := 0; i < len(entries); i += 2 {
			e := binary.LittleEndian.Uint16(entries[i:])
			switch typ := e >> 12; {
			case typ == 10: // IMAGE_REL_BASED_DIR64
				l.relocs = append(l.relocs, page+uint32(e&0xfff))
			case typ == 0 && i == len(entries)-2 && e == 0: // padding
			default:
				t.Fatalf(".reloc block %#x entry %d = %#04x; want DIR64 (10<<12|off) or final ABSOLUTE padding", page, i/2, e)
			}
		}
		rel = rel[size:]
	}
	return l
}

// relocate applies the DIR64 relocations for a load at newBase, the way
// U-Boot's efi_loader_relocate does: add newBase - ImageBase to each word.
func (l *loaded) relocate(newBase uint64) []byte {
	mem := append([]byte(nil), l.mem...)
	d := newBase - l.oh.ImageBase
	for _, r := range l.relocs {
		binary.LittleEndian.PutUint64(mem[r:], binary.LittleEndian.Uint64(mem[r:])+d)
	}
	return mem
}

// diffWords lists, independently of the tool, the LOW addresses of aligned
// words of ALLOC PROGBITS sections that differ between the two links.
func diffWords(t *testing.T, lf, hf *elf.File) map[uint64]bool {
	words := map[uint64]bool{}
	for i, ls := range lf.Sections {
		if ls.Flags&elf.SHF_ALLOC == 0 || ls.Type != elf.SHT_PROGBITS {
			continue
		}
		lb, _ := ls.Data()
		hb, _ := hf.Sections[i].Data()
		for off := 0; off+8 <= len(lb); off += 8 {
			if !bytes.Equal(lb[off:off+8], hb[off:off+8]) {
				words[ls.Addr+uint64(off)] = true
			}
		}
	}
	return words
}

func mustELF(t *testing.T, b []byte) *elf.File {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// checkImage verifies a converted pair with debug/pe against the ELF files.
func checkImage(t *testing.T, p *fixture.Pair, file []byte) *loaded {
	t.Helper()
	lf, hf := mustELF(t, p.Low), mustELF(t, p.High)
	l := load(t, file)
	f, oh := l.f, l.oh
	base := oh.ImageBase
	text := lf.Section(".text")

	checks := []struct {
		name      string
		got, want uint64
	}{
		{"Machine", uint64(f.Machine), pe.IMAGE_FILE_MACHINE_ARM64},
		{"Magic", uint64(oh.Magic), 0x20b},
		{"Subsystem", uint64(oh.Subsystem), pe.IMAGE_SUBSYSTEM_EFI_APPLICATION},
		{"ImageBase", base, (text.Addr - 0x1000) &^ 0xffff},
		{"AddressOfEntryPoint", uint64(oh.AddressOfEntryPoint), lf.Entry - base},
		{"RELOCS_STRIPPED", uint64(f.Characteristics & pe.IMAGE_FILE_RELOCS_STRIPPED), 0},
		{"SizeOfImage % SectionAlignment", uint64(oh.SizeOfImage % oh.SectionAlignment), 0},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#x; want %#x", c.name, c.got, c.want)
		}
	}

	// Every ALLOC PROGBITS/NOBITS ELF section lies inside one PE section
	// at RVA = address - ImageBase with the same bytes (zero for NOBITS),
	// and the PE sections cover nothing else but alignment gaps.
	relocSec := f.Section(".reloc")
	if relocSec == nil {
		t.Fatal("no .reloc section")
	}
	dir := oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_BASERELOC]
	if dir.VirtualAddress != relocSec.VirtualAddress || dir.Size != relocSec.VirtualSize {
		t.Errorf("BASERELOC directory = %#x+%#x; want .reloc %#x+%#x", dir.VirtualAddress, dir.Size, relocSec.VirtualAddress, relocSec.VirtualSize)
	}
	for _, es := range lf.Sections {
		if es.Flags&elf.SHF_ALLOC == 0 || es.Type == elf.SHT_NOTE {
			continue
		}
		rva := es.Addr - base
		var in *pe.Section
		for _, s := range f.Sections {
			if s != relocSec && rva >= uint64(s.VirtualAddress) && rva+es.Size <= uint64(s.VirtualAddress)+uint64(s.VirtualSize) {
				in = s
			}
		}
		if in == nil {
			t.Errorf("ELF section %s [%#x,+%#x) is in no PE section", es.Name, rva, es.Size)
			continue
		}
		wantChar := uint32(pe.IMAGE_SCN_MEM_READ)
		switch {
		case es.Flags&elf.SHF_EXECINSTR != 0:
			wantChar |= pe.IMAGE_SCN_CNT_CODE | pe.IMAGE_SCN_MEM_EXECUTE
		case es.Flags&elf.SHF_WRITE != 0:
			wantChar |= pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_WRITE
		default:
			wantChar |= pe.IMAGE_SCN_CNT_INITIALIZED_DATA
		}
		if in.Characteristics != wantChar {
			t.Errorf("ELF section %s is in PE section %s with characteristics %#x; want %#x", es.Name, in.Name, in.Characteristics, wantChar)
		}
		want := make([]byte, es.Size)
		if es.Type != elf.SHT_NOBITS {
			want, _ = es.Data()
		}
		if !bytes.Equal(l.mem[rva:rva+es.Size], want) {
			t.Errorf("ELF section %s: loaded bytes at RVA %#x differ from the ELF", es.Name, rva)
		}
	}

	// The relocations are exactly the differing words.
	want := diffWords(t, lf, hf)
	if len(l.relocs) != len(want) {
		t.Errorf("%d relocations; want %d (differing words)", len(l.relocs), len(want))
	}
	seen := map[uint32]bool{}
	for _, r := range l.relocs {
		if seen[r] {
			t.Errorf("relocation at RVA %#x appears twice", r)
		}
		seen[r] = true
		if !want[base+uint64(r)] {
			t.Errorf("relocation at RVA %#x (address %#x) is not a differing word", r, base+uint64(r))
		}
	}
	return l
}

func convertFile(t *testing.T, p *fixture.Pair) []byte {
	t.Helper()
	dir := t.TempDir()
	lowPath, highPath, out := filepath.Join(dir, "low.elf"), filepath.Join(dir, "high.elf"), filepath.Join(dir, "snp-go.efi")
	os.WriteFile(lowPath, p.Low, 0o644)
	os.WriteFile(highPath, p.High, 0o644)
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-o", out, lowPath, highPath}, &stdout, &stderr); err != nil {
		t.Fatalf("mkefi -o %s low.elf high.elf = %v\n%s", out, err, stderr.String())
	}
	t.Logf("%s", stdout.String())
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConvertLinux(t *testing.T) {
	p := fixture.Linux(t, true)
	checkImage(t, p, convertFile(t, p))
}

// TestRelocateToHigh is the strongest check: loading the image built from
// the LOW link at the HIGH link's base and applying .reloc must give exactly
// the HIGH link's bytes, section by section. Loads at other addresses (one
// below ImageBase, one not 64 KiB-aligned like U-Boot's) must change exactly
// the relocated words, by exactly the load offset.
func TestRelocateToHigh(t *testing.T) {
	p := fixture.Linux(t, true)
	l := checkImage(t, p, convertFile(t, p))
	base := l.oh.ImageBase
	hf := mustELF(t, p.High)

	high := l.relocate(base + delta)
	for _, es := range hf.Sections {
		if es.Flags&elf.SHF_ALLOC == 0 || es.Type == elf.SHT_NOTE {
			continue
		}
		rva := es.Addr - (base + delta)
		want := make([]byte, es.Size)
		if es.Type != elf.SHT_NOBITS {
			want, _ = es.Data()
		}
		if got := high[rva : rva+es.Size]; !bytes.Equal(got, want) {
			i := 0
			for got[i] == want[i] {
				i++
			}
			t.Errorf("loaded at %#x, section %s differs from the HIGH link at offset %#x", base+delta, es.Name, i)
		}
	}

	isReloc := map[uint32]bool{}
	for _, r := range l.relocs {
		isReloc[r] = true
	}
	for _, newBase := range []uint64{0x7dc18000, 0x40000000, base} {
		mem := l.relocate(newBase)
		for _, s := range l.f.Sections {
			if s.Name == ".reloc" {
				continue
			}
			for rva := s.VirtualAddress; rva < s.VirtualAddress+s.VirtualSize-7; rva += 8 {
				orig, got := binary.LittleEndian.Uint64(l.mem[rva:]), binary.LittleEndian.Uint64(mem[rva:])
				want := orig
				if isReloc[rva] {
					want = orig - base + newBase
				}
				if got != want {
					t.Fatalf("loaded at %#x: word at RVA %#x = %#x; want %#x", newBase, rva, got, want)
				}
			}
		}
	}
}

// TestConvertTamago converts a pair built by the TamaGo compiler, whose ELF
// has a .note.go.pvh section (holding the entry address) in the ELF header
// page; it must be left out of the PE, not turned into a relocation.
func TestConvertTamago(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short: TamaGo fixture build takes ~15 s when not cached")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "-n", "tamago")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Skip("SKIP: TamaGo compiler not available (`go tool -n tamago` failed); install it to test a tamago/arm64 pair")
	}
	tamagoGo := strings.TrimSpace(string(out))
	if _, err := os.Stat(tamagoGo); err != nil {
		t.Skipf("SKIP: TamaGo compiler %s missing; install it to test a tamago/arm64 pair", tamagoGo)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	p := fixture.Tamago(t, tamagoGo, sum)
	lf := mustELF(t, p.Low)
	if lf.Section(".note.go.pvh") == nil {
		t.Log("note: this TamaGo build has no .note.go.pvh section")
	}
	l := checkImage(t, p, convertFile(t, p))
	for _, s := range l.f.Sections {
		if s.VirtualAddress < l.oh.SizeOfHeaders {
			t.Errorf("section %s at RVA %#x overlaps the headers (SizeOfHeaders %#x)", s.Name, s.VirtualAddress, l.oh.SizeOfHeaders)
		}
	}
}

func TestRunSummary(t *testing.T) {
	p := fixture.Linux(t, true)
	dir := t.TempDir()
	lowPath, highPath, out := filepath.Join(dir, "low.elf"), filepath.Join(dir, "high.elf"), filepath.Join(dir, "x.efi")
	os.WriteFile(lowPath, p.Low, 0o644)
	os.WriteFile(highPath, p.High, 0o644)

	var stdout, stderr bytes.Buffer
	if err := run([]string{"-o", out, "--subsystem", "efi-app", lowPath, highPath}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^mkefi: .*x\.efi: (\d+) bytes, ImageBase 0x50000000, entry RVA 0x[0-9a-f]+, SizeOfImage 0x[0-9a-f]+, (\d+) DIR64 relocations, sections \.text 0x10000\+0x[0-9a-f]+, \.rodata .*, \.data .*/0x[0-9a-f]+, \.reloc .*\n$`)
	m := re.FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("summary = %q; want it to match %s", stdout.String(), re)
	}
	fi, _ := os.Stat(out)
	if m[1] != itoa(fi.Size()) {
		t.Errorf("summary says %s bytes; file has %d", m[1], fi.Size())
	}
	if n := len(load(t, mustRead(t, out)).relocs); m[2] != itoa(int64(n)) {
		t.Errorf("summary says %s relocations; file has %d", m[2], n)
	}

	stdout.Reset()
	if err := run([]string{"-q", "-o", out, lowPath, highPath}, &stdout, &stderr); err != nil || stdout.Len() != 0 {
		t.Errorf("mkefi -q = %v, output %q; want success and no output", err, stdout.String())
	}
	stdout.Reset()
	if err := run([]string{"-o", out, "--subsystem", "efi-bsd", lowPath, highPath}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if f, _ := pe.NewFile(bytes.NewReader(mustRead(t, out))); f.OptionalHeader.(*pe.OptionalHeader64).Subsystem != pe.IMAGE_SUBSYSTEM_EFI_BOOT_SERVICE_DRIVER {
		t.Errorf("--subsystem efi-bsd did not give subsystem 11")
	}
}

func TestRunErrors(t *testing.T) {
	p := fixture.Linux(t, true)
	dir := t.TempDir()
	lowPath, highPath, out := filepath.Join(dir, "low.elf"), filepath.Join(dir, "high.elf"), filepath.Join(dir, "x.efi")
	os.WriteFile(lowPath, p.Low, 0o644)
	os.WriteFile(highPath, p.High, 0o644)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{lowPath, highPath}, "need -o"},
		{"one input", []string{"-o", out, lowPath}, "exactly two"},
		{"subsystem", []string{"-o", out, "--subsystem", "windows", lowPath, highPath}, "unknown --subsystem"},
		{"missing file", []string{"-o", out, lowPath, filepath.Join(dir, "nope.elf")}, "nope.elf"},
		{"same file", []string{"-o", out, lowPath, lowPath}, "two different -T"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		err := run(tt.args, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("mkefi %s (%s) = %v; want an error containing %q", strings.Join(tt.args, " "), tt.name, err, tt.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s behind", out)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
