// Command mkefi turns a Go arm64 ELF executable into a relocatable PE32+ EFI
// application.
//
// The Go linker cannot emit relocations for a static executable, and U-Boot
// (like any UEFI loader) places an image wherever it finds memory and applies
// the image's .reloc section. mkefi recovers the relocations by comparing two
// links of the same program at different text addresses:
//
//	go build -trimpath -ldflags "-s -w -buildid= -B none -E ENTRY -T 0x50010000 -R 0x1000" -o low.elf
//	go build -trimpath -ldflags "-s -w -buildid= -B none -E ENTRY -T 0x60010000 -R 0x1000" -o high.elf
//	mkefi -o snp-go.efi low.elf high.elf
//
// -trimpath is required: without it cmd/go records -ldflags, and with it the
// -T address, as text in the program's build info, and the links differ there.
//
// Every aligned 8-byte word whose values differ by exactly the link delta is
// an absolute address and becomes an IMAGE_REL_BASED_DIR64 base relocation;
// any other difference is an error. The PE32+ is written directly (no
// objcopy): one section per PT_LOAD segment (.text, .rodata, .data with .bss
// as zero-filled virtual size) and .reloc. ImageBase is the LOW link's first
// address rounded down to 64 KiB below room for the headers.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/snp-go/snp-go/cmd/mkefi/internal/linkdiff"
	"github.com/snp-go/snp-go/cmd/mkefi/internal/pe32plus"
)

// subsystems maps --subsystem names (as objcopy spells them) to PE/COFF
// §3.4.2 Windows Subsystem values.
var subsystems = map[string]uint16{
	"efi-app": pe32plus.SubsystemEFIApplication,
	"efi-bsd": pe32plus.SubsystemEFIBootServiceDriver,
	"efi-rtd": pe32plus.SubsystemEFIRuntimeDriver,
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "mkefi:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("mkefi", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.StringP("output", "o", "", "write the PE32+ image to `FILE` (required)")
	subsystem := fs.String("subsystem", "efi-app", "PE subsystem: efi-app, efi-bsd (boot service driver) or efi-rtd (runtime driver)")
	quiet := fs.BoolP("quiet", "q", false, "do not print the summary line")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mkefi -o OUT.efi [--subsystem efi-app] LOW.elf HIGH.elf\n\n"+
			"LOW.elf and HIGH.elf are the same Go arm64 program linked with\n"+
			"go build -trimpath -ldflags \"-s -w -buildid= -B none -E ENTRY -R 0x1000 -T ADDR\"\n"+
			"at two text addresses (e.g. 0x50010000 and 0x60010000).\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 2 {
		fs.Usage()
		return errors.New("need -o OUT and exactly two ELF inputs (LOW.elf HIGH.elf)")
	}
	sub, ok := subsystems[*subsystem]
	if !ok {
		return fmt.Errorf("unknown --subsystem %q: use efi-app, efi-bsd or efi-rtd", *subsystem)
	}
	low, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	high, err := os.ReadFile(fs.Arg(1))
	if err != nil {
		return err
	}
	res, err := convert(low, high, sub)
	if err != nil {
		return fmt.Errorf("%s + %s: %w", fs.Arg(0), fs.Arg(1), err)
	}
	if err := writeFile(*out, res.file); err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(stdout, "mkefi: %s: %s\n", *out, res.summary)
	}
	return nil
}

type result struct {
	file      []byte
	imageBase uint64
	relocs    int
	summary   string
}

// convert builds the PE32+ bytes from the two links.
func convert(low, high []byte, subsystem uint16) (*result, error) {
	img, err := linkdiff.Diff(low, high)
	if err != nil {
		return nil, err
	}
	base, err := imageBase(img)
	if err != nil {
		return nil, err
	}
	rva := func(addr uint64) uint32 { return uint32(addr - base) }

	pi := &pe32plus.Image{
		Machine:   pe32plus.MachineARM64,
		Subsystem: subsystem,
		ImageBase: base,
		Entry:     rva(img.Entry),
	}
	var parts []string
	for _, s := range img.Segments {
		name := ".rodata"
		switch {
		case s.Exec:
			name = ".text"
		case s.Write:
			name = ".data"
		}
		if s.MemSize > 1<<31 {
			return nil, fmt.Errorf("segment at %#x (%s) is %#x bytes, too large for a PE image", s.Addr, strings.Join(s.Sections, " "), s.MemSize)
		}
		pi.Sections = append(pi.Sections, pe32plus.Section{
			Name: name, RVA: rva(s.Addr), Data: s.Data, VirtualSize: uint32(s.MemSize),
			Exec: s.Exec, Write: s.Write,
		})
		part := fmt.Sprintf("%s %#x+%#x", name, rva(s.Addr), len(s.Data))
		if s.MemSize > uint64(len(s.Data)) {
			part += fmt.Sprintf("/%#x", s.MemSize)
		}
		parts = append(parts, part)
	}
	for _, r := range img.Relocs {
		pi.Relocs = append(pi.Relocs, rva(r))
	}
	w, err := pe32plus.Write(pi)
	if err != nil {
		return nil, err
	}
	if w.RelocSize > 0 {
		parts = append(parts, fmt.Sprintf(".reloc %#x+%#x", w.RelocRVA, w.RelocSize))
	}
	summary := fmt.Sprintf("%d bytes, ImageBase %#x, entry RVA %#x, SizeOfImage %#x, %d DIR64 relocations, sections %s",
		len(w.File), base, pi.Entry, w.SizeOfImage, len(pi.Relocs), strings.Join(parts, ", "))
	return &result{file: w.File, imageBase: base, relocs: len(pi.Relocs), summary: summary}, nil
}

// imageBase chooses ImageBase for the LOW link: the highest 64 KiB-aligned
// address (PE/COFF §3.4.2) that leaves room for the headers below the first
// segment, so every section has an RVA ≥ SizeOfHeaders. With -T 0x50010000
// this is 0x50000000 and .text is at RVA 0x10000: the Go linker starts text
// exactly at -T (its ELF header page sits at -T - 0x1000 and is not loaded).
func imageBase(img *linkdiff.Image) (uint64, error) {
	first := img.Segments[0].Addr
	hdr := uint64(pe32plus.HeaderSize(len(img.Segments)))
	hdr = (hdr + pe32plus.SectionAlignment - 1) &^ (pe32plus.SectionAlignment - 1)
	if first < hdr {
		return 0, fmt.Errorf("first segment at %#x leaves no room for the PE headers below it: link with a higher -T", first)
	}
	base := (first - hdr) &^ (pe32plus.ImageBaseAlignment - 1)
	last := img.Segments[len(img.Segments)-1]
	if last.Addr+last.MemSize-base > 1<<31 {
		return 0, fmt.Errorf("image spans %#x bytes from %#x, too large for a PE image", last.Addr+last.MemSize-base, base)
	}
	return base, nil
}

// writeFile replaces path atomically so a failed run leaves no half image.
func writeFile(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mkefi-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
