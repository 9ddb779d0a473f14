package memdisk

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Name rules from Microsoft's FAT specification v1.03: §6 (short names),
// §7 (long names).

const maxLongNameUnits = 255 // §7: a long name is at most 255 UTF-16 units

// validShortChar reports whether c may appear in a short (8.3) name: upper
// case letters, digits and $ % ' - _ @ ~ ` ! ( ) { } ^ # & (§6). Bytes
// above 127 are legal there too but depend on the OEM code page, so this
// package never produces them.
func validShortChar(c rune) bool {
	switch {
	case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.ContainsRune("$%'-_@~`!(){}^#&", c)
}

// checkLongName rejects names no FAT implementation accepts as a long
// name: empty, "." and "..", control characters and " * / : < > ? \ |
// (§7), trailing dots or spaces (Windows strips them, so the file could
// not be opened by the name given), and names over 255 UTF-16 units.
func checkLongName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("empty path component")
	case name == "." || name == "..":
		return fmt.Errorf("path component %q is not allowed", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("name %q is not valid UTF-8", name)
	case strings.HasSuffix(name, ".") || strings.HasSuffix(name, " "):
		return fmt.Errorf("name %q ends in a dot or space", name)
	}
	for _, c := range name {
		if c < 0x20 || strings.ContainsRune(`"*/:<>?\|`, c) {
			return fmt.Errorf("name %q contains %q, which FAT does not allow", name, c)
		}
	}
	if n := len(utf16.Encode([]rune(name))); n > maxLongNameUnits {
		return fmt.Errorf("name %q is %d UTF-16 units long; FAT allows %d", name, n, maxLongNameUnits)
	}
	return nil
}

// shortName is a directory entry name: 8 bytes of base, 3 of extension,
// space padded.
type shortName [11]byte

func (s shortName) String() string {
	base := strings.TrimRight(string(s[:8]), " ")
	ext := strings.TrimRight(string(s[8:]), " ")
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// basisName derives the short-name basis from a long name following
// §7 (generating short names for long names): upper-case, drop spaces and leading
// periods, keep up to 8 characters before the last period and 3 after it,
// replacing characters not valid in short names with '_'. exact reports
// that nothing was lost, i.e. the long name is the basis up to case.
func basisName(long string) (primary, ext string, exact bool) {
	up := strings.ToUpper(long)
	exact = true
	s := strings.ReplaceAll(up, " ", "")
	if s != up {
		exact = false
	}
	if t := strings.TrimLeft(s, "."); t != s {
		exact = false
		s = t
	}
	base, extPart := s, ""
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		base, extPart = s[:i], s[i+1:]
	}
	conv := func(in string, max int) string {
		var b strings.Builder
		for _, c := range in {
			if c == '.' { // embedded periods of the primary part are dropped
				exact = false
				continue
			}
			if b.Len() == max {
				exact = false
				break
			}
			if !validShortChar(c) {
				exact = false
				c = '_'
			}
			b.WriteRune(c)
		}
		return b.String()
	}
	primary, ext = conv(base, 8), conv(extPart, 3)
	if primary == "" {
		primary, exact = "_", false
	}
	if extPart == "" && strings.HasSuffix(s, ".") {
		exact = false
	}
	return primary, ext, exact
}

func makeShort(primary, ext string) shortName {
	var s shortName
	for i := range s {
		s[i] = ' '
	}
	copy(s[:8], primary)
	copy(s[8:], ext)
	return s
}

// assignShortNames gives every child of a directory a unique short name
// and decides whether it needs long-name entries. Children whose long name
// is already a valid 8.3 name (up to case) claim that short name first;
// the rest get a numeric tail "~N" (§7) that avoids every claimed name.
func assignShortNames(children []*node) error {
	taken := make(map[shortName]bool, len(children))
	var rest []*node
	for _, n := range children {
		p, e, exact := basisName(n.name)
		if !exact {
			rest = append(rest, n)
			continue
		}
		n.short = makeShort(p, e)
		n.lfn = n.short.String() != n.name
		taken[n.short] = true
	}
	for _, n := range rest {
		p, e, _ := basisName(n.name)
		n.lfn = true
		found := false
		for i := 1; i < 1000000; i++ {
			tail := "~" + strconv.Itoa(i)
			keep := min(len(p), 8-len(tail))
			s := makeShort(p[:keep]+tail, e)
			if !taken[s] {
				n.short, taken[s], found = s, true, true
				break
			}
		}
		if !found {
			return fmt.Errorf("no free short name for %q", n.name)
		}
	}
	return nil
}

// labelName pads a volume label to the 11 bytes of a directory entry name
// or BS_VolLab.
func labelName(label string) shortName {
	var s shortName
	for i := range s {
		s[i] = ' '
	}
	copy(s[:], label)
	return s
}

// lfnCount is the number of long-name entries name needs: 13 UTF-16 units
// each (§7).
func lfnCount(name string) int {
	return (len(utf16.Encode([]rune(name))) + 12) / 13
}

// shortChecksum is the checksum of a short name stored in each of its long
// name entries (§7).
func shortChecksum(s shortName) byte {
	var sum byte
	for _, c := range s {
		sum = (sum&1)<<7 + sum>>1 + c
	}
	return sum
}

// lfnEntries returns the long-name directory entries for name, in the
// order they are stored (last part first), §7.
func lfnEntries(name string, short shortName) [][dirEntrySize]byte {
	units := utf16.Encode([]rune(name))
	n := (len(units) + 12) / 13
	// Terminate with 0x0000 unless the name fills the last entry, then pad
	// with 0xFFFF.
	padded := make([]uint16, n*13)
	for i := range padded {
		switch {
		case i < len(units):
			padded[i] = units[i]
		case i == len(units):
			padded[i] = 0
		default:
			padded[i] = 0xFFFF
		}
	}
	sum := shortChecksum(short)
	// Offsets of the 13 characters inside an entry: Name1, Name2, Name3.
	offs := [13]int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30}
	out := make([][dirEntrySize]byte, n)
	for ord := 1; ord <= n; ord++ {
		var e [dirEntrySize]byte
		e[0] = byte(ord)
		if ord == n {
			e[0] |= 0x40 // LAST_LONG_ENTRY
		}
		e[11] = attrLongName
		e[13] = sum
		for j, off := range offs {
			u := padded[(ord-1)*13+j]
			e[off], e[off+1] = byte(u), byte(u>>8)
		}
		out[n-ord] = e
	}
	return out
}
