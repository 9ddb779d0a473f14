package main

import (
	"debug/pe"
	"testing"

	"github.com/snp-go/snp-go/lab"
)

// maxZeroFill bounds the part of snp-go.efi's memory image that is not in
// the file (a section's VirtualSize beyond its SizeOfRawData: Go's .bss and
// .noptrbss). EFI loaders have no demand paging: U-Boot and EDK2 allocate
// and zero all of it at every load (UEFI 2.10 §2.1.1 loads the whole
// SizeOfImage). Today it is about 0.25 MiB.
const maxZeroFill = 4 << 20

// TestEFIImageZeroFill keeps large zero-initialised variables out of the
// image. Go 1.26's FIPS DRBG declares a 32 MiB scratch buffer; in the BSS it
// took U-Boot ~80 ms per load to allocate and zero (bootefi -> banner
// 160-170 ms -> 70-100 ms once board/_goroot moved it to first use).
func TestEFIImageZeroFill(t *testing.T) {
	efi := lab.NeedEFI(t, lab.EFIBuild{})
	f, err := pe.Open(efi)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var zero, image uint64
	for _, s := range f.Sections {
		if s.VirtualSize > s.Size {
			zero += uint64(s.VirtualSize - s.Size)
		}
	}
	if oh, ok := f.OptionalHeader.(*pe.OptionalHeader64); ok {
		image = uint64(oh.SizeOfImage)
	}
	t.Logf("%s: SizeOfImage %d KiB, %d KiB zero-filled by the loader", efi, image>>10, zero>>10)
	if zero > maxZeroFill {
		t.Errorf("snp-go.efi has %d KiB of zero-filled sections (bss); want <= %d KiB: the firmware zeroes it at every load. "+
			"Find the variable with `go tool nm -size -sort size` on an unstripped build (make LDFLAGS without -s -w) and allocate it at first use",
			zero>>10, maxZeroFill>>10)
	}
}
