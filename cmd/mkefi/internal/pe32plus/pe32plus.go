// Package pe32plus writes a relocatable PE32+ image for a UEFI firmware
// loader: headers, sections and a .reloc section of DIR64 base relocations.
//
// References are to the Microsoft "PE Format" specification (PE/COFF), the
// section numbers of its current online edition, and to UEFI 2.10 §2.1.1
// (UEFI images are PE32+ with subsystem 10, 11 or 12).
package pe32plus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Constants from the PE/COFF specification.
const (
	// §3.3.1 Machine Types.
	MachineARM64 = 0xaa64

	// §3.4 Optional Header: magic for PE32+.
	magicPE32Plus = 0x20b

	// §3.3.2 Characteristics.
	fileExecutableImage   = 0x0002
	fileLargeAddressAware = 0x0020
	fileDebugStripped     = 0x0200

	// §3.4.2 Windows Subsystem; UEFI 2.10 §2.1.1.
	SubsystemEFIApplication       = 10
	SubsystemEFIBootServiceDriver = 11
	SubsystemEFIRuntimeDriver     = 12

	// §3.4.2 DLL Characteristics: the image can be relocated at load time.
	dllDynamicBase = 0x0040

	// §4.1 Section Flags.
	scnCntCode              = 0x00000020
	scnCntInitializedData   = 0x00000040
	scnCntUninitializedData = 0x00000080
	scnMemDiscardable       = 0x02000000
	scnMemExecute           = 0x20000000
	scnMemRead              = 0x40000000
	scnMemWrite             = 0x80000000

	// §6.6.2 Base Relocation Types.
	relBasedAbsolute = 0
	relBasedDir64    = 10

	// §3.4.3 Optional Header Data Directories: index of the Base
	// Relocation Table.
	dirBaseReloc = 5
	numDirs      = 16

	// SectionAlignment and FileAlignment (§3.4.2): sections on 4 KiB pages
	// in memory, on 512-byte boundaries in the file (the specification's
	// default and minimum FileAlignment).
	SectionAlignment = 0x1000
	FileAlignment    = 0x200

	// ImageBaseAlignment: §3.4.2 "ImageBase ... must be a multiple of 64 K".
	ImageBaseAlignment = 0x10000

	dosHeaderSize  = 0x40 // §3.2 the PE offset is at file offset 0x3c
	peSigSize      = 4    // "PE\0\0"
	coffHeaderSize = 20   // §3.3
	optHeaderSize  = 112 + numDirs*8
	sectionHdrSize = 40 // §3.5 Section Table
	maxSectionName = 8
)

// Section is one section of the image.
type Section struct {
	Name        string // at most 8 bytes (§3.5: images have no string table)
	RVA         uint32 // SectionAlignment-aligned, ascending, above the headers
	Data        []byte // initialized bytes
	VirtualSize uint32 // ≥ len(Data); the loader zero-fills the rest
	Exec        bool
	Write       bool
}

// Image describes the PE32+ to write.
type Image struct {
	Machine   uint16
	Subsystem uint16
	ImageBase uint64 // ImageBaseAlignment-aligned
	Entry     uint32 // RVA of the entry point
	Sections  []Section
	// Relocs are the RVAs of 8-byte words holding absolute addresses
	// (IMAGE_REL_BASED_DIR64), in any order, without duplicates.
	Relocs []uint32
}

// HeaderSize returns SizeOfHeaders for an image with n sections plus .reloc,
// before rounding to SectionAlignment for the first section's RVA.
func HeaderSize(nsections int) uint32 {
	return alignUp(uint32(dosHeaderSize+peSigSize+coffHeaderSize+optHeaderSize+sectionHdrSize*(nsections+1)), FileAlignment)
}

// Result reports the layout of a written image.
type Result struct {
	File        []byte
	RelocRVA    uint32 // RVA of .reloc
	RelocSize   uint32 // bytes of relocation blocks
	SizeOfImage uint32
}

// Write lays out and encodes img. It appends a .reloc section after the last
// section. Output is deterministic: TimeDateStamp and CheckSum are zero
// (§3.3, §3.4.2: the checksum is only checked for drivers loaded by Windows).
func Write(img *Image) (*Result, error) {
	if len(img.Sections) == 0 {
		return nil, errors.New("pe32plus: no sections")
	}
	if img.ImageBase%ImageBaseAlignment != 0 {
		return nil, fmt.Errorf("pe32plus: ImageBase %#x is not a multiple of %#x", img.ImageBase, ImageBaseAlignment)
	}
	sizeOfHeaders := HeaderSize(len(img.Sections))
	prevEnd := sizeOfHeaders
	for _, s := range img.Sections {
		switch {
		case len(s.Name) == 0 || len(s.Name) > maxSectionName:
			return nil, fmt.Errorf("pe32plus: section name %q must have 1 to %d bytes", s.Name, maxSectionName)
		case s.RVA%SectionAlignment != 0:
			return nil, fmt.Errorf("pe32plus: section %s RVA %#x is not %#x-aligned", s.Name, s.RVA, SectionAlignment)
		case s.RVA < prevEnd:
			return nil, fmt.Errorf("pe32plus: section %s at RVA %#x overlaps the headers or the previous section (ends at %#x)", s.Name, s.RVA, prevEnd)
		case uint64(len(s.Data)) > uint64(s.VirtualSize):
			return nil, fmt.Errorf("pe32plus: section %s has %#x bytes of data but VirtualSize %#x", s.Name, len(s.Data), s.VirtualSize)
		case uint64(s.RVA)+uint64(s.VirtualSize) > 1<<31:
			return nil, fmt.Errorf("pe32plus: section %s ends beyond 2 GiB", s.Name)
		}
		prevEnd = s.RVA + s.VirtualSize
	}
	if !inSection(img.Sections, img.Entry, 4, true) {
		return nil, fmt.Errorf("pe32plus: entry RVA %#x is not inside an executable section", img.Entry)
	}
	relocs, err := encodeRelocs(img.Relocs, img.Sections)
	if err != nil {
		return nil, err
	}

	secs := append([]Section(nil), img.Sections...)
	var relocRVA uint32
	if len(relocs) > 0 {
		// Without relocations the image is position independent as it is:
		// no .reloc section and an empty directory entry.
		relocRVA = alignUp(prevEnd, SectionAlignment)
		secs = append(secs, Section{Name: ".reloc", RVA: relocRVA, Data: relocs, VirtualSize: uint32(len(relocs))})
	}
	last := secs[len(secs)-1]
	sizeOfImage := alignUp(last.RVA+last.VirtualSize, SectionAlignment)

	// File layout: headers, then each section's raw data at the next
	// FileAlignment boundary (§3.4.2 FileAlignment, §3.5 PointerToRawData).
	raw := make([]uint32, len(secs)) // PointerToRawData
	rawSize := make([]uint32, len(secs))
	off := sizeOfHeaders
	for i, s := range secs {
		rawSize[i] = alignUp(uint32(len(s.Data)), FileAlignment)
		if rawSize[i] != 0 {
			raw[i] = off
			off += rawSize[i]
		}
	}
	out := make([]byte, off)
	le := binary.LittleEndian

	// §3.2 MS-DOS header: "MZ" and, at 0x3c, the offset of the signature.
	copy(out, "MZ")
	le.PutUint32(out[0x3c:], dosHeaderSize)
	copy(out[dosHeaderSize:], "PE\x00\x00")

	var sizeOfCode, sizeOfInit, sizeOfUninit, baseOfCode uint32
	for i, s := range secs {
		switch {
		case s.Exec:
			sizeOfCode += rawSize[i]
			if baseOfCode == 0 {
				baseOfCode = s.RVA
			}
		case len(s.Data) == 0:
			sizeOfUninit += alignUp(s.VirtualSize, FileAlignment)
		default:
			sizeOfInit += rawSize[i]
		}
	}

	// §3.3 COFF File Header.
	h := out[dosHeaderSize+peSigSize:]
	le.PutUint16(h[0:], img.Machine)
	le.PutUint16(h[2:], uint16(len(secs)))
	le.PutUint32(h[4:], 0)  // TimeDateStamp: zero for reproducible output
	le.PutUint32(h[8:], 0)  // PointerToSymbolTable: none in images
	le.PutUint32(h[12:], 0) // NumberOfSymbols
	le.PutUint16(h[16:], optHeaderSize)
	// No IMAGE_FILE_RELOCS_STRIPPED (0x0001): the image has .reloc.
	le.PutUint16(h[18:], fileExecutableImage|fileLargeAddressAware|fileDebugStripped)

	// §3.4.1 standard fields (PE32+ has no BaseOfData).
	o := h[coffHeaderSize:]
	le.PutUint16(o[0:], magicPE32Plus)
	// o[2], o[3]: linker version, left zero.
	le.PutUint32(o[4:], sizeOfCode)
	le.PutUint32(o[8:], sizeOfInit)
	le.PutUint32(o[12:], sizeOfUninit)
	le.PutUint32(o[16:], img.Entry)
	le.PutUint32(o[20:], baseOfCode)
	// §3.4.2 Windows-specific fields (PE32+ offsets).
	le.PutUint64(o[24:], img.ImageBase)
	le.PutUint32(o[32:], SectionAlignment)
	le.PutUint32(o[36:], FileAlignment)
	// o[40:56]: OS, image and subsystem versions, Win32VersionValue: zero.
	le.PutUint32(o[56:], sizeOfImage)
	le.PutUint32(o[60:], sizeOfHeaders)
	le.PutUint32(o[64:], 0) // CheckSum
	le.PutUint16(o[68:], img.Subsystem)
	le.PutUint16(o[70:], dllDynamicBase)
	// o[72:104]: stack and heap reserve/commit: zero, UEFI ignores them.
	// o[104]: LoaderFlags zero.
	le.PutUint32(o[108:], numDirs)
	// §3.4.3 data directories: only the Base Relocation Table (§6.6).
	d := o[112+dirBaseReloc*8:]
	le.PutUint32(d[0:], relocRVA)
	le.PutUint32(d[4:], uint32(len(relocs)))

	// §3.5 Section Table.
	st := o[optHeaderSize:]
	for i, s := range secs {
		e := st[i*sectionHdrSize:]
		copy(e[0:8], s.Name)
		le.PutUint32(e[8:], s.VirtualSize)
		le.PutUint32(e[12:], s.RVA)
		le.PutUint32(e[16:], rawSize[i])
		le.PutUint32(e[20:], raw[i])
		// PointerToRelocations, PointerToLinenumbers and counts: zero in images.
		le.PutUint32(e[36:], characteristics(s))
		copy(out[raw[i]:], s.Data)
	}
	return &Result{File: out, RelocRVA: relocRVA, RelocSize: uint32(len(relocs)), SizeOfImage: sizeOfImage}, nil
}

func characteristics(s Section) uint32 {
	switch {
	case s.Name == ".reloc":
		return scnCntInitializedData | scnMemRead | scnMemDiscardable
	case s.Exec:
		return scnCntCode | scnMemExecute | scnMemRead
	case len(s.Data) == 0:
		return scnCntUninitializedData | scnMemRead | scnMemWrite
	case s.Write:
		return scnCntInitializedData | scnMemRead | scnMemWrite
	default:
		return scnCntInitializedData | scnMemRead
	}
}

// encodeRelocs builds the .reloc section (§6.6): one block per 4 KiB page
// with relocations, each an 8-byte header (Page RVA, Block Size) followed by
// 2-byte entries type<<12 | offset-in-page. Every block starts on a 32-bit
// boundary, so an odd entry count is padded with an IMAGE_REL_BASED_ABSOLUTE
// entry, which loaders skip.
func encodeRelocs(rvas []uint32, secs []Section) ([]byte, error) {
	sorted := append([]uint32(nil), rvas...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for i, r := range sorted {
		if i > 0 && r == sorted[i-1] {
			return nil, fmt.Errorf("pe32plus: duplicate relocation at RVA %#x", r)
		}
		if r%8 != 0 {
			return nil, fmt.Errorf("pe32plus: relocation at RVA %#x is not 8-byte aligned", r)
		}
		// Only initialized bytes: the loader adds to the word in place.
		if !inSection(secs, r, 8, false) {
			return nil, fmt.Errorf("pe32plus: relocation at RVA %#x is not inside a section's initialized data", r)
		}
	}
	var out []byte
	le := binary.LittleEndian
	for i := 0; i < len(sorted); {
		page := sorted[i] &^ (SectionAlignment - 1)
		start := len(out)
		out = le.AppendUint32(out, page)
		out = le.AppendUint32(out, 0) // Block Size, filled in below
		for ; i < len(sorted) && sorted[i]&^(SectionAlignment-1) == page; i++ {
			out = le.AppendUint16(out, relBasedDir64<<12|uint16(sorted[i]&(SectionAlignment-1)))
		}
		if (len(out)-start)%4 != 0 {
			out = le.AppendUint16(out, relBasedAbsolute<<12)
		}
		le.PutUint32(out[start+4:], uint32(len(out)-start))
	}
	return out, nil
}

// inSection reports whether [rva, rva+n) lies in one section's initialized
// data, and in an executable section if exec is set.
func inSection(secs []Section, rva, n uint32, exec bool) bool {
	for _, s := range secs {
		if (!exec || s.Exec) && rva >= s.RVA && uint64(rva)+uint64(n) <= uint64(s.RVA)+uint64(len(s.Data)) {
			return true
		}
	}
	return false
}

func alignUp(v, a uint32) uint32 { return (v + a - 1) &^ (a - 1) }
