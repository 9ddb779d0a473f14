package linkdiff

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/snp-go/snp-go/cmd/mkefi/internal/fixture"
)

func mustELF(t *testing.T, b []byte) *elf.File {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func section(t *testing.T, f *elf.File, name string) *elf.Section {
	t.Helper()
	s := f.Section(name)
	if s == nil {
		t.Fatalf("fixture has no section %s", name)
	}
	return s
}

func TestDiffFixture(t *testing.T) {
	p := fixture.Linux(t, true)
	img, err := Diff(p.Low, p.High)
	if err != nil {
		t.Fatalf("Diff(fixture) = %v; want success", err)
	}
	lf, hf := mustELF(t, p.Low), mustELF(t, p.High)
	if want := uint64(0x10000000); img.Delta != want {
		t.Errorf("Delta = %#x; want %#x", img.Delta, want)
	}
	if img.Entry != lf.Entry {
		t.Errorf("Entry = %#x; want ELF entry %#x", img.Entry, lf.Entry)
	}

	// Independently: every differing aligned word of every ALLOC PROGBITS
	// section, which must all differ by the delta.
	var want []uint64
	for i, ls := range lf.Sections {
		if ls.Flags&elf.SHF_ALLOC == 0 || ls.Type != elf.SHT_PROGBITS {
			continue
		}
		lb, _ := ls.Data()
		hb, _ := hf.Sections[i].Data()
		for off := 0; off+8 <= len(lb); off += 8 {
			lw, hw := binary.LittleEndian.Uint64(lb[off:]), binary.LittleEndian.Uint64(hb[off:])
			if lw != hw {
				if hw-lw != img.Delta {
					t.Fatalf("fixture word at %s+%#x differs by %#x", ls.Name, off, hw-lw)
				}
				want = append(want, ls.Addr+uint64(off))
			}
		}
	}
	if len(want) < 100 {
		t.Fatalf("fixture has only %d absolute addresses; the test program is too small to mean anything", len(want))
	}
	if len(img.Relocs) != len(want) {
		t.Fatalf("len(Relocs) = %d; want %d", len(img.Relocs), len(want))
	}
	for i := range want {
		if img.Relocs[i] != want[i] {
			t.Fatalf("Relocs[%d] = %#x; want %#x", i, img.Relocs[i], want[i])
		}
	}

	// Segments: text, rodata, data+bss, with the ELF sections' bytes.
	if len(img.Segments) != 3 {
		t.Fatalf("len(Segments) = %d; want 3", len(img.Segments))
	}
	flags := [][2]bool{{true, false}, {false, false}, {false, true}}
	for i, s := range img.Segments {
		if s.Exec != flags[i][0] || s.Write != flags[i][1] {
			t.Errorf("Segments[%d] (%v) Exec, Write = %v, %v; want %v, %v", i, s.Sections, s.Exec, s.Write, flags[i][0], flags[i][1])
		}
		for _, name := range s.Sections {
			es := section(t, lf, name)
			if es.Addr < s.Addr || es.Addr+es.Size > s.Addr+s.MemSize {
				t.Errorf("section %s [%#x,%#x) outside segment [%#x,%#x)", name, es.Addr, es.Addr+es.Size, s.Addr, s.Addr+s.MemSize)
				continue
			}
			if es.Type == elf.SHT_NOBITS {
				if es.Addr-s.Addr < uint64(len(s.Data)) {
					t.Errorf("NOBITS section %s at %#x is inside the initialized data (ends %#x)", name, es.Addr, s.Addr+uint64(len(s.Data)))
				}
				continue
			}
			b, _ := es.Data()
			if got := s.Data[es.Addr-s.Addr:][:len(b)]; !bytes.Equal(got, b) {
				t.Errorf("segment bytes for %s differ from the ELF section", name)
			}
		}
	}
	if got := img.Segments[0].Sections[0]; got != ".text" {
		t.Errorf("first section = %s; want .text", got)
	}
	last := img.Segments[2]
	nb := section(t, lf, ".noptrbss")
	if end := last.Addr + last.MemSize; end != nb.Addr+nb.Size {
		t.Errorf("data segment ends at %#x; want end of .noptrbss %#x", end, nb.Addr+nb.Size)
	}
}

// patch returns a copy of b with v written little-endian at off.
func patch(b []byte, off uint64, v any) []byte {
	c := append([]byte(nil), b...)
	var w bytes.Buffer
	binary.Write(&w, binary.LittleEndian, v)
	copy(c[off:], w.Bytes())
	return c
}

func TestDiffRejects(t *testing.T) {
	p := fixture.Linux(t, true)
	lf := mustELF(t, p.Low)
	img, err := Diff(p.Low, p.High)
	if err != nil {
		t.Fatal(err)
	}
	data := section(t, lf, ".data")
	var dataReloc uint64
	for _, r := range img.Relocs {
		if r >= data.Addr && r < data.Addr+data.Size {
			dataReloc = r
			break
		}
	}
	if dataReloc == 0 {
		t.Fatal("fixture has no absolute address in .data")
	}
	off := dataReloc - data.Addr
	lowWord := binary.LittleEndian.Uint64(p.Low[data.Offset+off:])
	text := section(t, lf, ".text")
	rodata := section(t, lf, ".rodata")
	var dataIdx int
	for i, s := range lf.Sections {
		if s == data {
			dataIdx = i
		}
	}
	const shdrSize, shSizeField = 64, 32 // Elf64_Shdr and its sh_size offset; e_shoff is at 40

	tests := []struct {
		name      string
		low, high []byte
		want      []string // substrings of the error
	}{
		{"address off by 8", p.Low, patch(p.High, data.Offset+off, lowWord+0x10000000+8),
			[]string{"section .data", "offset " + hex(off), "not by the link delta 0x10000000"}},
		{"code byte", p.Low, patch(p.High, text.Offset+0x40, p.High[text.Offset+0x40]^1),
			[]string{"section .text", "offset 0x40 "}},
		{"small constant", p.Low, patch(p.High, rodata.Offset+8, binary.LittleEndian.Uint64(p.Low[rodata.Offset+8:])+1),
			[]string{"section .rodata", "offset 0x8 ", "differ by 0x1,"}},
		{"section size", p.Low, patch(p.High, binary.LittleEndian.Uint64(p.High[40:])+uint64(dataIdx)*shdrSize+shSizeField, data.Size+8),
			[]string{"differs between the inputs", ".data"}},
		{"entry", p.Low, patch(p.High, 24, lf.Entry+0x10000000+4), []string{"entry points", "not by the section delta"}},
		{"same link twice", p.Low, p.Low, []string{"two different -T addresses"}},
		{"machine", patch(p.Low, 18, uint16(elf.EM_X86_64)), p.High, []string{"first (LOW) input", "EM_AARCH64"}},
		{"not ELF", p.Low, []byte("#!/bin/sh\n"), []string{"second (HIGH) input", "not a readable ELF"}},
		{"truncated", p.Low, p.High[:len(p.High)/2], []string{"second (HIGH)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Diff(tt.low, tt.high)
			if err == nil {
				t.Fatalf("Diff(%s) = success; want an error", tt.name)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Diff(%s) error = %q; want it to contain %q", tt.name, err, w)
				}
			}
		})
	}
}

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }

// TestDiffNoTrimpath: without -trimpath cmd/go records -ldflags, including
// the -T address, in the build info. The inputs then differ in text, which
// must be rejected with a hint to build with -trimpath.
func TestDiffNoTrimpath(t *testing.T) {
	p := fixture.Linux(t, false)
	_, err := Diff(p.Low, p.High)
	if err == nil {
		t.Fatal("Diff(pair built without -trimpath) = success; want an error about the recorded -ldflags")
	}
	if !strings.Contains(err.Error(), "-trimpath") {
		t.Errorf("Diff(pair built without -trimpath) error = %q; want a hint to use -trimpath", err)
	}
}
