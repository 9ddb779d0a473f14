package tcgprof

import (
	"debug/elf"
	"debug/gosym"
	"fmt"
	"strings"
)

// GoImage names the functions of a Go program linked as an ELF (a stripped
// -s -w build works: the pclntab stays) that ran somewhere else: an EFI
// application is relocated by the firmware.
type GoImage struct {
	table   *gosym.Table
	linkEnd uint64 // end of the last loaded segment, as linked
}

// OpenGoImage reads the pclntab of the Go ELF at path.
func OpenGoImage(path string) (*GoImage, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		return nil, fmt.Errorf("tcgprof: %s has no .gopclntab or .text: not a Go ELF", path)
	}
	data, err := pcln.Data()
	if err != nil {
		return nil, fmt.Errorf("tcgprof: %s: reading .gopclntab: %w", path, err)
	}
	t, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		return nil, fmt.Errorf("tcgprof: %s: %w", path, err)
	}
	g := &GoImage{table: t}
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD {
			g.linkEnd = max(g.linkEnd, p.Vaddr+p.Memsz)
		}
	}
	return g, nil
}

// Funcs is the flat profile, by function, of the counts that fall in the
// image when the address linkBase was loaded at loadBase (for an EFI
// application: its ImageBase as linked, and where the firmware put it).
// Counts outside the image are left out; the second result is their sum.
func (g *GoImage) Funcs(c Counts, loadBase, linkBase uint64) (funcs map[string]uint64, outside uint64) {
	funcs = map[string]uint64{}
	size := g.linkEnd - linkBase
	for pc, n := range c {
		if pc < loadBase || pc-loadBase >= size {
			outside += n
			continue
		}
		name := "?"
		if fn := g.table.PCToFunc(pc - loadBase + linkBase); fn != nil {
			name = fn.Name
		}
		funcs[name] += n
	}
	return funcs, outside
}

// Packages folds a flat profile by function into one by package (the
// import path before the function or method name).
func Packages(funcs map[string]uint64) map[string]uint64 {
	pkgs := map[string]uint64{}
	for name, n := range funcs {
		pkgs[packageOf(name)] += n
	}
	return pkgs
}

// packageOf returns the import path of a Go symbol name such as
// "gvisor.dev/gvisor/pkg/buffer.(*Buffer).PullUp" or "runtime.memmove".
func packageOf(name string) string {
	slash := strings.LastIndexByte(name, '/')
	if i := strings.IndexByte(name[slash+1:], '.'); i >= 0 {
		return name[:slash+1+i]
	}
	return name
}
