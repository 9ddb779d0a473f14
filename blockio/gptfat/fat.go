package gptfat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"unicode/utf16"
)

// FS is a FAT file system opened read-only.
type FS struct {
	r           io.ReaderAt
	kind        string // "FAT12", "FAT16", "FAT32"
	bytesPerSec uint32
	clusterSize uint32
	fatOffset   int64
	fatSize     int64
	rootOffset  int64 // FAT12/16 fixed root directory
	rootEntries uint32
	rootCluster uint32 // FAT32
	dataOffset  int64
	clusters    uint32 // number of data clusters
	label       string
}

// Entry is a file or directory found on the file system.
type Entry struct {
	Name    string // long name if there is one, else the 8.3 name
	Short   string // 8.3 name "NAME.EXT"
	Dir     bool
	Size    uint32
	cluster uint32
}

// OpenFAT reads the boot sector of a FAT file system in r (the partition,
// size bytes long) and works out its type from the cluster count, as the
// FAT specification (§3.5) says to.
func OpenFAT(r io.ReaderAt, size int64) (*FS, error) {
	bs := make([]byte, 512)
	if _, err := r.ReadAt(bs, 0); err != nil {
		return nil, fmt.Errorf("FAT: reading boot sector: %w", err)
	}
	if bs[510] != 0x55 || bs[511] != 0xAA {
		return nil, errors.New("FAT: boot sector lacks the 0x55AA signature")
	}
	f := &FS{r: r}
	f.bytesPerSec = uint32(binary.LittleEndian.Uint16(bs[11:13]))
	secPerClus := uint32(bs[13])
	reserved := uint32(binary.LittleEndian.Uint16(bs[14:16]))
	numFATs := uint32(bs[16])
	f.rootEntries = uint32(binary.LittleEndian.Uint16(bs[17:19]))
	total := uint32(binary.LittleEndian.Uint16(bs[19:21]))
	fatSz := uint32(binary.LittleEndian.Uint16(bs[22:24]))
	if total == 0 {
		total = binary.LittleEndian.Uint32(bs[32:36])
	}
	if fatSz == 0 {
		fatSz = binary.LittleEndian.Uint32(bs[36:40])
	}
	switch f.bytesPerSec {
	case 512, 1024, 2048, 4096:
	default:
		return nil, fmt.Errorf("FAT: %d bytes per sector is not valid", f.bytesPerSec)
	}
	if secPerClus == 0 || secPerClus&(secPerClus-1) != 0 || reserved == 0 || numFATs == 0 || fatSz == 0 {
		return nil, fmt.Errorf("FAT: invalid BPB (sectors/cluster %d, reserved %d, FATs %d, FAT size %d)", secPerClus, reserved, numFATs, fatSz)
	}
	f.clusterSize = secPerClus * f.bytesPerSec
	rootSecs := (f.rootEntries*32 + f.bytesPerSec - 1) / f.bytesPerSec
	meta := uint64(reserved) + uint64(numFATs)*uint64(fatSz) + uint64(rootSecs)
	if meta >= uint64(total) || int64(total)*int64(f.bytesPerSec) > size {
		return nil, fmt.Errorf("FAT: %d sectors (%d of them metadata) do not fit a %d-byte partition", total, meta, size)
	}
	f.clusters = uint32((uint64(total) - meta) / uint64(secPerClus))
	switch {
	case f.clusters < 4085:
		f.kind = "FAT12"
	case f.clusters < 65525:
		f.kind = "FAT16"
	default:
		f.kind = "FAT32"
	}
	f.fatOffset = int64(reserved) * int64(f.bytesPerSec)
	f.fatSize = int64(fatSz) * int64(f.bytesPerSec)
	f.rootOffset = f.fatOffset + int64(numFATs)*f.fatSize
	f.dataOffset = f.rootOffset + int64(rootSecs)*int64(f.bytesPerSec)
	if need := map[string]int64{"FAT12": int64(f.clusters+2)*3/2 + 1, "FAT16": int64(f.clusters+2) * 2, "FAT32": int64(f.clusters+2) * 4}[f.kind]; f.fatSize < need {
		return nil, fmt.Errorf("FAT: %s table of %d bytes is too small for %d clusters", f.kind, f.fatSize, f.clusters)
	}
	labelOff := 43
	if f.kind == "FAT32" {
		f.rootCluster = binary.LittleEndian.Uint32(bs[44:48])
		if f.rootEntries != 0 || !f.validCluster(f.rootCluster) {
			return nil, fmt.Errorf("FAT32: invalid root directory cluster %d", f.rootCluster)
		}
		labelOff = 71
	}
	f.label = strings.TrimRight(string(bs[labelOff:labelOff+11]), " ")
	return f, nil
}

// Type is "FAT12", "FAT16" or "FAT32".
func (f *FS) Type() string { return f.kind }

// Label is the volume label from the boot sector.
func (f *FS) Label() string { return f.label }

func (f *FS) validCluster(c uint32) bool { return c >= 2 && c < f.clusters+2 }

// next returns the FAT entry of cluster c.
func (f *FS) next(c uint32) (uint32, error) {
	var b [4]byte
	switch f.kind {
	case "FAT12":
		off := int64(c) * 3 / 2
		if _, err := f.r.ReadAt(b[:2], f.fatOffset+off); err != nil {
			return 0, err
		}
		v := uint32(binary.LittleEndian.Uint16(b[:2]))
		if c&1 == 1 {
			v >>= 4
		}
		v &= 0xFFF
		if v >= 0xFF8 {
			return 0xFFFFFFFF, nil
		}
		return v, nil
	case "FAT16":
		if _, err := f.r.ReadAt(b[:2], f.fatOffset+int64(c)*2); err != nil {
			return 0, err
		}
		v := uint32(binary.LittleEndian.Uint16(b[:2]))
		if v >= 0xFFF8 {
			return 0xFFFFFFFF, nil
		}
		return v, nil
	}
	if _, err := f.r.ReadAt(b[:], f.fatOffset+int64(c)*4); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(b[:]) & 0x0FFFFFFF
	if v >= 0x0FFFFFF8 {
		return 0xFFFFFFFF, nil
	}
	return v, nil
}

// chain reads up to limit bytes of the cluster chain starting at c.
func (f *FS) chain(c uint32, limit int64) ([]byte, error) {
	var out []byte
	for steps := uint32(0); int64(len(out)) < limit; steps++ {
		if !f.validCluster(c) {
			return nil, fmt.Errorf("FAT: cluster chain reaches invalid cluster %#x", c)
		}
		if steps > f.clusters {
			return nil, errors.New("FAT: cluster chain loops")
		}
		buf := make([]byte, f.clusterSize)
		if _, err := f.r.ReadAt(buf, f.dataOffset+int64(c-2)*int64(f.clusterSize)); err != nil {
			return nil, fmt.Errorf("FAT: reading cluster %d: %w", c, err)
		}
		out = append(out, buf...)
		n, err := f.next(c)
		if err != nil {
			return nil, fmt.Errorf("FAT: reading table entry %d: %w", c, err)
		}
		if n == 0xFFFFFFFF {
			break
		}
		c = n
	}
	if int64(len(out)) > limit {
		out = out[:limit]
	}
	return out, nil
}

// maxDir bounds the size of a directory we read (64 Ki entries).
const maxDir = 65536 * 32

func (f *FS) dirData(e *Entry) ([]byte, error) {
	if e == nil { // the root directory
		if f.kind == "FAT32" {
			return f.chain(f.rootCluster, maxDir)
		}
		buf := make([]byte, f.rootEntries*32)
		if _, err := f.r.ReadAt(buf, f.rootOffset); err != nil {
			return nil, fmt.Errorf("FAT: reading root directory: %w", err)
		}
		return buf, nil
	}
	if e.cluster == 0 {
		return nil, nil
	}
	return f.chain(e.cluster, maxDir)
}

// parseDir decodes directory entries, joining VFAT long names to the
// short entry they precede when their checksum matches.
func parseDir(data []byte, kind string) []Entry {
	var out []Entry
	var lfn []uint16
	var lfnSum byte
	lfnOK := false
	for i := 0; i+32 <= len(data); i += 32 {
		d := data[i : i+32]
		if d[0] == 0x00 {
			break
		}
		if d[0] == 0xE5 {
			lfnOK = false
			continue
		}
		attr := d[11]
		if attr&0x3F == 0x0F { // long name entry
			seq := d[0]
			part := make([]uint16, 0, 13)
			for _, r := range [][2]int{{1, 11}, {14, 26}, {28, 32}} {
				for j := r[0]; j < r[1]; j += 2 {
					part = append(part, binary.LittleEndian.Uint16(d[j:]))
				}
			}
			if seq&0x40 != 0 {
				lfn, lfnSum, lfnOK = part, d[13], true
			} else if lfnOK && d[13] == lfnSum {
				lfn = append(part, lfn...)
			} else {
				lfnOK = false
			}
			continue
		}
		if attr&0x08 != 0 { // volume label
			lfnOK = false
			continue
		}
		e := Entry{Dir: attr&0x10 != 0, Size: binary.LittleEndian.Uint32(d[28:32])}
		e.cluster = uint32(binary.LittleEndian.Uint16(d[26:28]))
		if kind == "FAT32" {
			e.cluster |= uint32(binary.LittleEndian.Uint16(d[20:22])) << 16
		}
		e.Short = shortName(d)
		e.Name = e.Short
		if lfnOK && checksum(d[:11]) == lfnSum {
			for k, c := range lfn {
				if c == 0 {
					lfn = lfn[:k]
					break
				}
			}
			e.Name = string(utf16.Decode(lfn))
		}
		lfnOK = false
		out = append(out, e)
	}
	return out
}

// checksum is the VFAT short-name checksum that long name entries carry.
func checksum(name []byte) byte {
	var s byte
	for _, c := range name {
		s = (s>>1 | s<<7) + c
	}
	return s
}

// shortName formats an 8.3 entry as "NAME.EXT", honouring the lower-case
// flags Windows NT keeps in byte 12.
func shortName(d []byte) string {
	base := strings.TrimRight(string(d[0:8]), " ")
	ext := strings.TrimRight(string(d[8:11]), " ")
	if len(base) > 0 && base[0] == 0x05 {
		base = "\xe5" + base[1:]
	}
	if d[12]&0x08 != 0 {
		base = strings.ToLower(base)
	}
	if d[12]&0x10 != 0 {
		ext = strings.ToLower(ext)
	}
	if ext == "" {
		return base
	}
	return base + "." + ext
}

// ReadDir lists a directory ("" or "/" for the root). Separators may be
// '/' or '\'; names match without regard to case, as on FAT.
func (f *FS) ReadDir(path string) ([]Entry, error) {
	var dir *Entry
	if p := strings.Trim(strings.ReplaceAll(path, "\\", "/"), "/"); p != "" {
		e, err := f.Stat(p)
		if err != nil {
			return nil, err
		}
		if !e.Dir {
			return nil, fmt.Errorf("%s: not a directory", path)
		}
		dir = &e
	}
	data, err := f.dirData(dir)
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, e := range parseDir(data, f.kind) {
		if e.Name != "." && e.Name != ".." {
			out = append(out, e)
		}
	}
	return out, nil
}

// Stat finds a file or directory by path.
func (f *FS) Stat(path string) (Entry, error) {
	parts := strings.Split(strings.Trim(strings.ReplaceAll(path, "\\", "/"), "/"), "/")
	var cur *Entry
	for i, name := range parts {
		data, err := f.dirData(cur)
		if err != nil {
			return Entry{}, err
		}
		var found *Entry
		for _, e := range parseDir(data, f.kind) {
			if strings.EqualFold(e.Name, name) || strings.EqualFold(e.Short, name) {
				e := e
				found = &e
				break
			}
		}
		if found == nil {
			return Entry{}, fmt.Errorf("%s: %w", strings.Join(parts[:i+1], "\\"), fs.ErrNotExist)
		}
		if i < len(parts)-1 && !found.Dir {
			return Entry{}, fmt.Errorf("%s: not a directory", strings.Join(parts[:i+1], "\\"))
		}
		cur = found
	}
	return *cur, nil
}

// ReadFile reads a whole file; files larger than max bytes are refused.
func (f *FS) ReadFile(path string, max int64) ([]byte, error) {
	e, err := f.Stat(path)
	if err != nil {
		return nil, err
	}
	if e.Dir {
		return nil, fmt.Errorf("%s: is a directory", path)
	}
	if int64(e.Size) > max {
		return nil, fmt.Errorf("%s: %d bytes is more than the %d-byte limit", path, e.Size, max)
	}
	if e.Size == 0 {
		return []byte{}, nil
	}
	data, err := f.chain(e.cluster, int64(e.Size))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) < int(e.Size) {
		return nil, fmt.Errorf("%s: cluster chain holds %d bytes, directory says %d", path, len(data), e.Size)
	}
	return data, nil
}
