// Package linkdiff finds the absolute addresses in a Go program by comparing
// two links of it made at different text addresses.
//
// The Go linker cannot emit relocations for a static arm64 executable, but
// linking the same program twice, once with -T LOW and once with -T HIGH,
// gives two images that differ only where an absolute address is stored.
// Every such place is an aligned 8-byte word whose value in the HIGH image is
// its value in the LOW image plus delta = HIGH - LOW. Anything else that
// differs means the two inputs are not the same build, and is rejected.
//
// The result is the LOW image grouped into loadable segments plus the list of
// words a loader must adjust when it places the image elsewhere.
package linkdiff

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// PageSize is the alignment every segment start must have: it becomes the PE
// SectionAlignment (PE/COFF spec §3.4.2, "SectionAlignment").
const PageSize = 0x1000

// Segment is one loadable part of the image, made of the ELF sections of one
// PT_LOAD segment.
type Segment struct {
	Addr    uint64 // link address (LOW) of the first section, PageSize-aligned
	Data    []byte // initialized bytes from Addr; gaps between sections are zero
	MemSize uint64 // bytes in memory, ≥ len(Data); the rest is zero (.bss)
	Exec    bool   // PF_X
	Write   bool   // PF_W
	// Sections names the ELF sections in the segment, in address order.
	Sections []string
}

// Image is the LOW link with the relocations the HIGH link revealed.
type Image struct {
	Entry    uint64 // ELF entry point (LOW)
	Delta    uint64 // HIGH - LOW link addresses (two's complement)
	Segments []Segment
	// Relocs holds the LOW link address of every 8-byte word that contains
	// an absolute address, sorted ascending.
	Relocs []uint64
	// Skipped names ALLOC sections that are not loaded (ELF notes such as
	// tamago's .note.go.pvh, which lies in the ELF header page).
	Skipped []string
}

// Diff compares two ELF64 little-endian aarch64 executables of the same
// program linked at different addresses. low's addresses become the image's
// addresses; high only serves to find the absolute addresses.
func Diff(low, high []byte) (*Image, error) {
	lf, err := open("first (LOW)", low)
	if err != nil {
		return nil, err
	}
	hf, err := open("second (HIGH)", high)
	if err != nil {
		return nil, err
	}
	delta, err := layoutDelta(lf, hf)
	if err != nil {
		return nil, err
	}
	img := &Image{Entry: lf.Entry, Delta: delta}

	// Loadable content: ALLOC sections. Notes are not program content (the
	// Go linker puts them in the ELF header page, which is not loaded as part
	// of a PE image); anything but PROGBITS/NOBITS/NOTE is unexpected from
	// the Go linker and rejected rather than guessed at.
	var content []int
	for i, s := range lf.Sections {
		if s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		switch s.Type {
		case elf.SHT_PROGBITS, elf.SHT_NOBITS:
			content = append(content, i)
		case elf.SHT_NOTE:
			img.Skipped = append(img.Skipped, s.Name)
		default:
			return nil, fmt.Errorf("section %s: unsupported ALLOC section type %v (expected PROGBITS, NOBITS or NOTE from the Go linker)", s.Name, s.Type)
		}
	}
	if len(content) == 0 {
		return nil, errors.New("no loadable PROGBITS/NOBITS sections in the ELF files")
	}

	for _, i := range content {
		relocs, err := diffSection(lf.Sections[i], hf.Sections[i], delta)
		if err != nil {
			return nil, err
		}
		img.Relocs = append(img.Relocs, relocs...)
	}
	sort.Slice(img.Relocs, func(a, b int) bool { return img.Relocs[a] < img.Relocs[b] })

	img.Segments, err = segments(lf, content)
	if err != nil {
		return nil, err
	}
	if !inExec(img.Segments, img.Entry) {
		return nil, fmt.Errorf("entry point %#x is not inside an executable segment; check the -E symbol", img.Entry)
	}
	return img, nil
}

func open(which string, b []byte) (*elf.File, error) {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s input: not a readable ELF file: %w", which, err)
	}
	switch {
	case f.Class != elf.ELFCLASS64:
		return nil, fmt.Errorf("%s input: ELF class %v, want ELFCLASS64", which, f.Class)
	case f.Data != elf.ELFDATA2LSB:
		return nil, fmt.Errorf("%s input: ELF data %v, want little-endian", which, f.Data)
	case f.Machine != elf.EM_AARCH64:
		return nil, fmt.Errorf("%s input: ELF machine %v, want EM_AARCH64 (build with GOARCH=arm64)", which, f.Machine)
	case f.Type != elf.ET_EXEC:
		return nil, fmt.Errorf("%s input: ELF type %v, want ET_EXEC (a statically linked executable)", which, f.Type)
	}
	return f, nil
}

// layoutDelta checks that the two files have the same sections and segments
// with addresses that differ by one delta, and returns it.
func layoutDelta(l, h *elf.File) (uint64, error) {
	if len(l.Sections) != len(h.Sections) {
		return 0, fmt.Errorf("inputs have %d and %d sections: they are not two links of the same build", len(l.Sections), len(h.Sections))
	}
	var delta uint64
	found := false
	for i, ls := range l.Sections {
		hs := h.Sections[i]
		if ls.Name != hs.Name || ls.Type != hs.Type || ls.Flags != hs.Flags || ls.Size != hs.Size || ls.Addralign != hs.Addralign {
			return 0, fmt.Errorf("section %d differs between the inputs (%s %v %v size %#x vs %s %v %v size %#x): they are not two links of the same build",
				i, ls.Name, ls.Type, ls.Flags, ls.Size, hs.Name, hs.Type, hs.Flags, hs.Size)
		}
		if ls.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		d := hs.Addr - ls.Addr
		if !found {
			delta, found = d, true
			if delta == 0 {
				return 0, fmt.Errorf("section %s is at %#x in both inputs: link them at two different -T addresses", ls.Name, ls.Addr)
			}
			if delta%PageSize != 0 {
				return 0, fmt.Errorf("link addresses differ by %#x, not a multiple of %#x: use page-aligned -T addresses", delta, PageSize)
			}
		} else if d != delta {
			return 0, fmt.Errorf("section %s moved by %#x but earlier sections by %#x: the section layouts differ beyond the link address", ls.Name, d, delta)
		}
	}
	if !found {
		return 0, errors.New("no ALLOC sections in the inputs")
	}
	if h.Entry-l.Entry != delta {
		return 0, fmt.Errorf("entry points %#x and %#x differ by %#x, not by the section delta %#x", l.Entry, h.Entry, h.Entry-l.Entry, delta)
	}
	if len(l.Progs) != len(h.Progs) {
		return 0, fmt.Errorf("inputs have %d and %d program headers: they are not two links of the same build", len(l.Progs), len(h.Progs))
	}
	for i, lp := range l.Progs {
		hp := h.Progs[i]
		if lp.Type != hp.Type || lp.Flags != hp.Flags || lp.Filesz != hp.Filesz || lp.Memsz != hp.Memsz || lp.Off != hp.Off {
			return 0, fmt.Errorf("program header %d (%v) differs between the inputs in type, flags, offset or size", i, lp.Type)
		}
		if lp.Type == elf.PT_LOAD && hp.Vaddr-lp.Vaddr != delta {
			return 0, fmt.Errorf("PT_LOAD %d moved by %#x, sections by %#x", i, hp.Vaddr-lp.Vaddr, delta)
		}
	}
	return delta, nil
}

// diffSection compares one section's bytes word by word and returns the link
// addresses (LOW) of the words that differ by exactly delta.
func diffSection(ls, hs *elf.Section, delta uint64) ([]uint64, error) {
	if ls.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	lb, err := ls.Data()
	if err != nil {
		return nil, fmt.Errorf("first (LOW) input: reading section %s: %w", ls.Name, err)
	}
	hb, err := hs.Data()
	if err != nil {
		return nil, fmt.Errorf("second (HIGH) input: reading section %s: %w", hs.Name, err)
	}
	// Words are aligned by address, which is what an absolute pointer in
	// Go data is; Go sections are at least 8-byte aligned in practice, but
	// ragged edges are compared byte by byte.
	first := int((8 - ls.Addr%8) % 8)
	if first > len(lb) {
		first = len(lb)
	}
	last := first + (len(lb)-first)/8*8
	if i := mismatch(lb[:first], hb[:first]); i >= 0 {
		return nil, notDelta(ls, i, delta)
	}
	if i := mismatch(lb[last:], hb[last:]); i >= 0 {
		return nil, notDelta(ls, last+i, delta)
	}
	var relocs []uint64
	for off := first; off < last; off += 8 {
		lw := binary.LittleEndian.Uint64(lb[off:])
		hw := binary.LittleEndian.Uint64(hb[off:])
		if lw == hw {
			continue
		}
		if hw-lw != delta {
			hint := "the inputs are not two links of the same build"
			if isText(lb[off:off+8]) && isText(hb[off:off+8]) {
				// cmd/go records -ldflags, and so the -T address, in
				// the build info unless -trimpath is given.
				hint = "this looks like text, probably -ldflags recorded in the Go build info: build both with -trimpath"
			}
			return nil, fmt.Errorf("section %s offset %#x (address %#x): words %#x and %#x differ by %#x, not by the link delta %#x: %s",
				ls.Name, off, ls.Addr+uint64(off), lw, hw, hw-lw, delta, hint)
		}
		relocs = append(relocs, ls.Addr+uint64(off))
	}
	return relocs, nil
}

// isText reports whether b is printable ASCII.
func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func mismatch(a, b []byte) int {
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return -1
}

func notDelta(s *elf.Section, off int, delta uint64) error {
	return fmt.Errorf("section %s offset %#x (address %#x): bytes differ outside an aligned 8-byte word, so not by the link delta %#x: the inputs are not two links of the same build",
		s.Name, off, s.Addr+uint64(off), delta)
}

// segments groups the content sections by PT_LOAD segment.
func segments(f *elf.File, content []int) ([]Segment, error) {
	var segs []Segment
	var cur *Segment
	var curProg *elf.Prog
	for _, i := range content {
		s := f.Sections[i]
		p := loadProg(f, s)
		if p == nil {
			return nil, fmt.Errorf("section %s at %#x (size %#x) is not inside one PT_LOAD segment", s.Name, s.Addr, s.Size)
		}
		if p != curProg {
			if s.Addr%PageSize != 0 {
				return nil, fmt.Errorf("section %s starts a segment at %#x, which is not %#x-aligned: link with a page-aligned -T and -R 0x1000", s.Name, s.Addr, PageSize)
			}
			segs = append(segs, Segment{
				Addr:  s.Addr,
				Exec:  p.Flags&elf.PF_X != 0,
				Write: p.Flags&elf.PF_W != 0,
			})
			cur, curProg = &segs[len(segs)-1], p
		}
		if s.Addr < cur.Addr+cur.MemSize {
			return nil, fmt.Errorf("section %s at %#x overlaps the previous section or is out of address order", s.Name, s.Addr)
		}
		cur.Sections = append(cur.Sections, s.Name)
		off := s.Addr - cur.Addr
		cur.MemSize = off + s.Size
		if s.Type == elf.SHT_NOBITS {
			continue
		}
		b, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("reading section %s: %w", s.Name, err)
		}
		// Gaps between sections (alignment padding) are zero.
		cur.Data = append(cur.Data, make([]byte, int(off)-len(cur.Data))...)
		cur.Data = append(cur.Data, b...)
	}
	for i := 1; i < len(segs); i++ {
		if segs[i].Addr < segs[i-1].Addr+segs[i-1].MemSize {
			return nil, fmt.Errorf("segments at %#x and %#x overlap or are out of order", segs[i-1].Addr, segs[i].Addr)
		}
	}
	return segs, nil
}

// loadProg returns the PT_LOAD segment containing all of s, or nil.
func loadProg(f *elf.File, s *elf.Section) *elf.Prog {
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && s.Addr >= p.Vaddr && s.Addr+s.Size <= p.Vaddr+p.Memsz {
			return p
		}
	}
	return nil
}

func inExec(segs []Segment, addr uint64) bool {
	for _, s := range segs {
		if s.Exec && addr >= s.Addr && addr < s.Addr+uint64(len(s.Data)) {
			return true
		}
	}
	return false
}
