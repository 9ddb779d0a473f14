package pe32plus

import (
	"bytes"
	"debug/pe"
	"encoding/hex"
	"strings"
	"testing"
)

func testSections() []Section {
	return []Section{
		{Name: ".text", RVA: 0x1000, Data: bytes.Repeat([]byte{0x1f, 0x20, 0x03, 0xd5}, 0x300), VirtualSize: 0xc00, Exec: true},
		{Name: ".rodata", RVA: 0x2000, Data: []byte("read only"), VirtualSize: 9},
		{Name: ".data", RVA: 0x3000, Data: make([]byte, 0x1010), VirtualSize: 0x3000, Write: true},
	}
}

func TestEncodeRelocs(t *testing.T) {
	// Expected bytes follow PE/COFF §6.6: Page RVA, Block Size (with the
	// 8-byte header), then entries 0xA000|offset (DIR64 = 10), padded to a
	// multiple of 4 bytes with a type-0 (ABSOLUTE) entry.
	tests := []struct {
		name string
		rvas []uint32
		want string // hex
	}{
		{"none", nil, ""},
		{"one, padded", []uint32{0x3008}, "00300000" + "0c000000" + "08a0" + "0000"},
		{"two, no padding", []uint32{0x3000, 0x3ff8}, "00300000" + "0c000000" + "00a0" + "f8af"},
		{"unsorted across pages", []uint32{0x4008, 0x3010, 0x2000},
			"00200000" + "0c000000" + "00a0" + "0000" +
				"00300000" + "0c000000" + "10a0" + "0000" +
				"00400000" + "0c000000" + "08a0" + "0000"},
		{"three in a page", []uint32{0x3000, 0x3008, 0x3010},
			"00300000" + "10000000" + "00a0" + "08a0" + "10a0" + "0000"},
	}
	for _, tt := range tests {
		got, err := encodeRelocs(tt.rvas, testSections())
		if err != nil {
			t.Errorf("encodeRelocs(%s %#x) = %v; want success", tt.name, tt.rvas, err)
			continue
		}
		if h := hex.EncodeToString(got); h != tt.want {
			t.Errorf("encodeRelocs(%s %#x) = %s; want %s", tt.name, tt.rvas, h, tt.want)
		}
	}
}

func TestEncodeRelocsRejects(t *testing.T) {
	tests := []struct {
		name string
		rvas []uint32
		want string
	}{
		{"duplicate", []uint32{0x3008, 0x3008}, "duplicate"},
		{"unaligned", []uint32{0x3004}, "not 8-byte aligned"},
		{"in headers", []uint32{0x100}, "not inside"},
		{"in bss", []uint32{0x4010}, "not inside"},
		{"straddles end of data", []uint32{0x2008}, "not inside"},
		{"past image", []uint32{0x9000}, "not inside"},
	}
	for _, tt := range tests {
		_, err := encodeRelocs(tt.rvas, testSections())
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("encodeRelocs(%s %#x) error = %v; want one containing %q", tt.name, tt.rvas, err, tt.want)
		}
	}
}

func TestWrite(t *testing.T) {
	img := &Image{
		Machine: MachineARM64, Subsystem: SubsystemEFIApplication, ImageBase: 0x50000000,
		Entry: 0x1010, Sections: testSections(), Relocs: []uint32{0x3000, 0x3008, 0x4008},
	}
	res, err := Write(img)
	if err != nil {
		t.Fatalf("Write = %v", err)
	}
	f, err := pe.NewFile(bytes.NewReader(res.File))
	if err != nil {
		t.Fatalf("debug/pe cannot read the output: %v", err)
	}
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok {
		t.Fatalf("OptionalHeader is %T; want PE32+", f.OptionalHeader)
	}
	checks := []struct {
		name      string
		got, want uint64
	}{
		{"Machine", uint64(f.Machine), pe.IMAGE_FILE_MACHINE_ARM64},
		{"Magic", uint64(oh.Magic), 0x20b},
		{"Subsystem", uint64(oh.Subsystem), pe.IMAGE_SUBSYSTEM_EFI_APPLICATION},
		{"ImageBase", oh.ImageBase, 0x50000000},
		{"AddressOfEntryPoint", uint64(oh.AddressOfEntryPoint), 0x1010},
		{"BaseOfCode", uint64(oh.BaseOfCode), 0x1000},
		{"SectionAlignment", uint64(oh.SectionAlignment), 0x1000},
		{"FileAlignment", uint64(oh.FileAlignment), 0x200},
		{"SizeOfHeaders", uint64(oh.SizeOfHeaders), 0x200},
		{"SizeOfImage", uint64(oh.SizeOfImage), 0x7000}, // .reloc at 0x6000
		{"SizeOfCode", uint64(oh.SizeOfCode), 0xc00},
		{"CheckSum", uint64(oh.CheckSum), 0},
		{"TimeDateStamp", uint64(f.TimeDateStamp), 0},
		{"RELOCS_STRIPPED", uint64(f.Characteristics & pe.IMAGE_FILE_RELOCS_STRIPPED), 0},
		{"EXECUTABLE_IMAGE", uint64(f.Characteristics & pe.IMAGE_FILE_EXECUTABLE_IMAGE), pe.IMAGE_FILE_EXECUTABLE_IMAGE},
		{"DYNAMIC_BASE", uint64(oh.DllCharacteristics & pe.IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE), pe.IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE},
		{"NumberOfRvaAndSizes", uint64(oh.NumberOfRvaAndSizes), 16},
		{"BASERELOC VirtualAddress", uint64(oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_BASERELOC].VirtualAddress), 0x6000},
		{"BASERELOC Size", uint64(oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_BASERELOC].Size), 24},
		{"NumberOfSections", uint64(len(f.Sections)), 4},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %#x; want %#x", c.name, c.got, c.want)
		}
	}
	secs := append(testSections(), Section{Name: ".reloc", RVA: 0x6000, VirtualSize: 24})
	wantChar := []uint32{
		pe.IMAGE_SCN_CNT_CODE | pe.IMAGE_SCN_MEM_EXECUTE | pe.IMAGE_SCN_MEM_READ,
		pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ,
		pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ | pe.IMAGE_SCN_MEM_WRITE,
		pe.IMAGE_SCN_CNT_INITIALIZED_DATA | pe.IMAGE_SCN_MEM_READ | pe.IMAGE_SCN_MEM_DISCARDABLE,
	}
	for i, s := range f.Sections {
		w := secs[i]
		if s.Name != w.Name || s.VirtualAddress != w.RVA || s.VirtualSize != w.VirtualSize || s.Characteristics != wantChar[i] {
			t.Errorf("section %d = %s RVA %#x VirtualSize %#x char %#x; want %s %#x %#x %#x",
				i, s.Name, s.VirtualAddress, s.VirtualSize, s.Characteristics, w.Name, w.RVA, w.VirtualSize, wantChar[i])
		}
		if s.Offset%FileAlignment != 0 || s.Size%FileAlignment != 0 {
			t.Errorf("section %s raw data at %#x size %#x; want both multiples of %#x", s.Name, s.Offset, s.Size, FileAlignment)
		}
		data, err := s.Data()
		if err != nil {
			t.Fatal(err)
		}
		if w.Data != nil && !bytes.Equal(data[:len(w.Data)], w.Data) {
			t.Errorf("section %s data differs from the input", s.Name)
		}
	}
	again, err := Write(img)
	if err != nil || !bytes.Equal(again.File, res.File) {
		t.Errorf("second Write differs from the first (err %v): output must be deterministic", err)
	}
}

func TestWriteRejects(t *testing.T) {
	mod := func(f func(*Image)) *Image {
		img := &Image{Machine: MachineARM64, Subsystem: SubsystemEFIApplication, ImageBase: 0x50000000, Entry: 0x1000, Sections: testSections()}
		f(img)
		return img
	}
	tests := []struct {
		name string
		img  *Image
		want string
	}{
		{"no sections", mod(func(i *Image) { i.Sections = nil }), "no sections"},
		{"image base", mod(func(i *Image) { i.ImageBase = 0x50001000 }), "multiple of 0x10000"},
		{"long name", mod(func(i *Image) { i.Sections[1].Name = ".gopclntab" }), "1 to 8 bytes"},
		{"unaligned RVA", mod(func(i *Image) { i.Sections[1].RVA = 0x2100 }), "not 0x1000-aligned"},
		{"overlap", mod(func(i *Image) { i.Sections[0].VirtualSize = 0x1001 }), "overlaps"},
		{"over headers", mod(func(i *Image) { i.Sections[0].RVA = 0 }), "overlaps the headers"},
		{"data > virtual size", mod(func(i *Image) { i.Sections[1].VirtualSize = 1 }), "VirtualSize"},
		{"entry in data", mod(func(i *Image) { i.Entry = 0x2000 }), "entry RVA"},
		{"entry past code", mod(func(i *Image) { i.Entry = 0x1c00 }), "entry RVA"},
		{"reloc in bss", mod(func(i *Image) { i.Relocs = []uint32{0x5000} }), "not inside"},
	}
	for _, tt := range tests {
		_, err := Write(tt.img)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Write(%s) error = %v; want one containing %q", tt.name, err, tt.want)
		}
	}
}
