package memdisk

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"
)

// FAT layout constants from Microsoft's "FAT: General Overview of On-Disk
// Format" v1.03 (cited as "FAT spec").
const (
	dirEntrySize   = 32
	rootEntries    = 512 // BPB_RootEntCnt; 32 sectors, the customary FAT16 value
	reservedSecs   = 1   // BPB_RsvdSecCnt: 1 for FAT12/16 (§3.1)
	numFATs        = 2   // BPB_NumFATs (§3.1)
	mediaFixed     = 0xF8
	attrReadOnly   = 0x01
	attrVolumeID   = 0x08
	attrDirectory  = 0x10
	attrArchive    = 0x20
	attrLongName   = 0x0F // READ_ONLY|HIDDEN|SYSTEM|VOLUME_ID (§7)
	fat12MaxCount  = 4084 // §3.5: fewer than 4085 clusters is FAT12
	fat16MaxCount  = 65524
	thresholdGuard = 16 // stay this far from the limits: some drivers compute counts slightly differently
	maxClusterSecs = 64 // 32 KiB clusters; larger ones are not portable (§3.1, BPB_SecPerClus)
)

type fatParams struct {
	hiddenSectors uint32
	label         string
	volumeID      uint32
	modTime       time.Time
}

// fatGeom is a FAT12/16 volume layout, all counts in sectors unless named.
type fatGeom struct {
	bits      int // 12 or 16
	spc       int // sectors per cluster
	totSec    int
	fatSz     int
	rootSecs  int
	dataStart int // first sector of cluster 2
	clusters  int // CountofClusters (§3.5)
}

func (g *fatGeom) clusterBytes() int { return g.spc * BlockSize }

// computeGeom sizes the FATs for a volume of totSec sectors with the given
// FAT width and cluster size, following §3.5: the FAT must hold an entry
// for each data cluster plus the two reserved entries. It takes the
// smallest FAT that does (a FAT16 FAT is at most 256 sectors, so counting
// up is cheap).
func computeGeom(totSec, bits, spc int) (fatGeom, bool) {
	g := fatGeom{bits: bits, spc: spc, totSec: totSec, rootSecs: rootEntries * dirEntrySize / BlockSize}
	for g.fatSz = 1; ; g.fatSz++ {
		data := totSec - reservedSecs - numFATs*g.fatSz - g.rootSecs
		if data < spc {
			return g, false
		}
		g.clusters = data / spc
		if g.fatSz*BlockSize*8 >= (g.clusters+2)*bits {
			break
		}
	}
	g.dataStart = reservedSecs + numFATs*g.fatSz + g.rootSecs
	return g, true
}

// chooseGeom prefers FAT16 with the smallest cluster that gives a FAT16
// cluster count; volumes too small for that get FAT12. Counts within
// thresholdGuard of a type boundary are avoided (§3.5 notes that some
// implementations get the boundary wrong).
func chooseGeom(totSec int) (fatGeom, error) {
	for spc := 1; spc <= maxClusterSecs; spc *= 2 {
		g, ok := computeGeom(totSec, 16, spc)
		if ok && g.clusters >= fat12MaxCount+1+thresholdGuard && g.clusters <= fat16MaxCount-thresholdGuard {
			return g, nil
		}
	}
	for spc := 1; spc <= maxClusterSecs; spc *= 2 {
		g, ok := computeGeom(totSec, 12, spc)
		if ok && g.clusters <= fat12MaxCount-thresholdGuard {
			return g, nil
		}
	}
	return fatGeom{}, fmt.Errorf("memdisk: no FAT12/FAT16 layout fits a %d-sector volume", totSec)
}

// node is a file or directory of the volume being built.
type node struct {
	name     string
	dir      bool
	data     []byte
	children []*node
	byKey    map[string]*node // children by upper-case name: FAT names are case-insensitive

	short    shortName
	lfn      bool
	cluster  int // first cluster, 0 for empty files and the root
	nclus    int
	nentries int // directory entries this directory needs
}

func newDir(name string) *node {
	return &node{name: name, dir: true, byKey: map[string]*node{}}
}

// buildTree turns the file list into a directory tree.
func buildTree(files []File) (*node, error) {
	root := newDir("")
	for _, f := range files {
		parts := strings.Split(strings.Trim(f.Path, "/"), "/")
		dir := root
		for i, part := range parts {
			if err := checkLongName(part); err != nil {
				return nil, fmt.Errorf("memdisk: file %q: %v", f.Path, err)
			}
			key := strings.ToUpper(part)
			last := i == len(parts)-1
			existing := dir.byKey[key]
			switch {
			case last && existing != nil:
				return nil, fmt.Errorf("memdisk: file %q: %q already exists in that directory (FAT names ignore case)", f.Path, existing.name)
			case last:
				n := &node{name: part, data: f.Data}
				dir.children = append(dir.children, n)
				dir.byKey[key] = n
			case existing != nil && !existing.dir:
				return nil, fmt.Errorf("memdisk: file %q: %q is a file, not a directory", f.Path, existing.name)
			case existing != nil:
				dir = existing
			default:
				n := newDir(part)
				dir.children = append(dir.children, n)
				dir.byKey[key] = n
				dir = n
			}
		}
	}
	return root, nil
}

// checkLabel validates a volume label (§3.2 BS_VolLab, §6 name
// characters; spaces are allowed inside a label) and returns it upper-case.
func checkLabel(label string) (string, error) {
	up := strings.ToUpper(label)
	if len(up) > 11 {
		return "", fmt.Errorf("memdisk: volume label %q is longer than 11 characters", label)
	}
	if strings.HasPrefix(up, " ") {
		return "", fmt.Errorf("memdisk: volume label %q starts with a space", label)
	}
	for _, c := range up {
		if c != ' ' && !validShortChar(c) {
			return "", fmt.Errorf("memdisk: volume label %q contains %q; use A-Z, 0-9, space and $%%'-_@~`!(){}^#&", label, c)
		}
	}
	return up, nil
}

// formatFAT writes a FAT12/16 file system holding files into vol, which is
// the whole partition.
func formatFAT(vol []byte, p fatParams, files []File) (*fatGeom, error) {
	label, err := checkLabel(p.label)
	if err != nil {
		return nil, err
	}
	root, err := buildTree(files)
	if err != nil {
		return nil, err
	}
	g, err := chooseGeom(len(vol) / BlockSize)
	if err != nil {
		return nil, err
	}

	// Name every entry, count directory entries and allocate clusters in
	// depth-first order: each directory's clusters, then its contents.
	next := 2
	var alloc func(d *node) error
	alloc = func(d *node) error {
		if err := assignShortNames(d.children); err != nil {
			return fmt.Errorf("memdisk: directory %q: %v", d.name, err)
		}
		for _, c := range d.children {
			d.nentries++
			if c.lfn {
				d.nentries += lfnCount(c.name)
			}
		}
		if d == root {
			if label != "" {
				d.nentries++
			}
			if d.nentries > rootEntries {
				return fmt.Errorf("memdisk: root directory needs %d entries; it has %d (move files into a subdirectory)", d.nentries, rootEntries)
			}
		} else {
			d.nentries += 2 // "." and ".."
			d.nclus = ceilDiv(d.nentries*dirEntrySize, g.clusterBytes())
			d.cluster, next = next, next+d.nclus
		}
		for _, c := range d.children {
			if c.dir {
				if err := alloc(c); err != nil {
					return err
				}
			} else if len(c.data) > 0 {
				c.nclus = ceilDiv(len(c.data), g.clusterBytes())
				c.cluster, next = next, next+c.nclus
			}
		}
		return nil
	}
	if err := alloc(root); err != nil {
		return nil, err
	}
	if used := next - 2; used > g.clusters {
		return nil, fmt.Errorf("memdisk: files need %d clusters of %d bytes; the FAT%d volume has %d; make the disk at least %d bytes larger",
			used, g.clusterBytes(), g.bits, g.clusters, int64(used-g.clusters)*int64(g.clusterBytes())*11/10+BlockSize)
	}

	writeBootSector(vol[:BlockSize], &g, p, label)
	fat := make([]byte, g.fatSz*BlockSize)
	// §4: entry 0 holds the media byte in its low 8 bits with all other bits
	// set; entry 1 is end-of-chain with the "clean" and "no error" bits set.
	putFAT(fat, g.bits, 0, 0xFF00|mediaFixed)
	putFAT(fat, g.bits, 1, 0xFFFF)
	ts := dosTime(p.modTime)
	var write func(d *node, parent *node)
	write = func(d *node, parent *node) {
		var dirBuf []byte
		if d == root {
			dirBuf = vol[(reservedSecs+numFATs*g.fatSz)*BlockSize : g.dataStart*BlockSize]
		} else {
			dirBuf = g.clusterSlice(vol, d.cluster, d.nclus)
			chain(fat, g.bits, d.cluster, d.nclus)
		}
		i := 0
		put := func(e [dirEntrySize]byte) {
			copy(dirBuf[i*dirEntrySize:], e[:])
			i++
		}
		if d == root {
			if label != "" {
				put(dirEntry(labelName(label), attrVolumeID, 0, 0, ts))
			}
		} else {
			// §6: "." points at this directory, ".." at the parent (0 for
			// the root).
			put(dirEntry(makeShort(".", ""), attrDirectory, d.cluster, 0, ts))
			pc := 0
			if parent != root {
				pc = parent.cluster
			}
			put(dirEntry(makeShort("..", ""), attrDirectory, pc, 0, ts))
		}
		for _, c := range d.children {
			if c.lfn {
				for _, e := range lfnEntries(c.name, c.short) {
					put(e)
				}
			}
			if c.dir {
				put(dirEntry(c.short, attrDirectory, c.cluster, 0, ts))
				write(c, d)
				continue
			}
			put(dirEntry(c.short, attrArchive, c.cluster, uint32(len(c.data)), ts))
			if c.nclus > 0 {
				copy(g.clusterSlice(vol, c.cluster, c.nclus), c.data)
				chain(fat, g.bits, c.cluster, c.nclus)
			}
		}
	}
	write(root, nil)
	for i := 0; i < numFATs; i++ {
		copy(vol[(reservedSecs+i*g.fatSz)*BlockSize:], fat)
	}
	return &g, nil
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

func (g *fatGeom) clusterSlice(vol []byte, first, n int) []byte {
	off := (g.dataStart + (first-2)*g.spc) * BlockSize
	return vol[off : off+n*g.clusterBytes()]
}

// chain links n clusters from first into one chain ending in end-of-chain.
func chain(fat []byte, bits, first, n int) {
	for c := first; c < first+n-1; c++ {
		putFAT(fat, bits, c, uint16(c+1))
	}
	putFAT(fat, bits, first+n-1, 0xFFFF) // EOC; FAT12 keeps the low 12 bits
}

// putFAT stores entry n (§4: FAT12 entries are 12 bits packed in 1.5
// bytes, FAT16 entries 16-bit little-endian).
func putFAT(fat []byte, bits, n int, v uint16) {
	if bits == 16 {
		binary.LittleEndian.PutUint16(fat[2*n:], v)
		return
	}
	v &= 0x0FFF
	off := n + n/2
	if n%2 == 0 {
		fat[off] = byte(v)
		fat[off+1] = fat[off+1]&0xF0 | byte(v>>8)
	} else {
		fat[off] = fat[off]&0x0F | byte(v<<4)
		fat[off+1] = byte(v >> 4)
	}
}

type dosStamp struct{ date, time uint16 }

// dosTime encodes t in the directory entry date and time formats (§6),
// clamped to 1980..2107.
func dosTime(t time.Time) dosStamp {
	y := t.Year()
	switch {
	case y < 1980:
		return dosStamp{date: 1<<5 | 1}
	case y > 2107:
		return dosStamp{date: 127<<9 | 12<<5 | 31, time: 23<<11 | 59<<5 | 29}
	}
	return dosStamp{
		date: uint16(y-1980)<<9 | uint16(t.Month())<<5 | uint16(t.Day()),
		time: uint16(t.Hour())<<11 | uint16(t.Minute())<<5 | uint16(t.Second()/2),
	}
}

// dirEntry builds a short directory entry (§6, Table "FAT 32 Byte Directory
// Entry Structure").
func dirEntry(name shortName, attr byte, cluster int, size uint32, ts dosStamp) [dirEntrySize]byte {
	var e [dirEntrySize]byte
	le := binary.LittleEndian
	copy(e[0:11], name[:])
	e[11] = attr
	le.PutUint16(e[14:], ts.time) // DIR_CrtTime
	le.PutUint16(e[16:], ts.date) // DIR_CrtDate
	le.PutUint16(e[18:], ts.date) // DIR_LstAccDate
	le.PutUint16(e[20:], 0)       // DIR_FstClusHI: 0 on FAT12/16
	le.PutUint16(e[22:], ts.time) // DIR_WrtTime
	le.PutUint16(e[24:], ts.date) // DIR_WrtDate
	le.PutUint16(e[26:], uint16(cluster))
	le.PutUint32(e[28:], size)
	return e
}

// writeBootSector fills the BPB and extended boot record of a FAT12/16
// volume (§3.1, §3.2).
func writeBootSector(b []byte, g *fatGeom, p fatParams, label string) {
	le := binary.LittleEndian
	copy(b[0:3], []byte{0xEB, 0x3C, 0x90}) // BS_jmpBoot: jump to offset 0x3E
	copy(b[3:11], "MSWIN4.1")              // BS_OEMName, the value §3.1 recommends
	le.PutUint16(b[11:], BlockSize)
	b[13] = byte(g.spc)
	le.PutUint16(b[14:], reservedSecs)
	b[16] = numFATs
	le.PutUint16(b[17:], rootEntries)
	if g.totSec < 0x10000 {
		le.PutUint16(b[19:], uint16(g.totSec)) // BPB_TotSec16
	} else {
		le.PutUint32(b[32:], uint32(g.totSec)) // BPB_TotSec32
	}
	b[21] = mediaFixed
	le.PutUint16(b[22:], uint16(g.fatSz))
	le.PutUint16(b[24:], 63)  // BPB_SecPerTrk
	le.PutUint16(b[26:], 255) // BPB_NumHeads
	le.PutUint32(b[28:], p.hiddenSectors)
	b[36] = 0x80 // BS_DrvNum: hard disk
	b[38] = 0x29 // BS_BootSig: the next three fields are present
	le.PutUint32(b[39:], p.volumeID)
	vl := label
	if vl == "" {
		vl = "NO NAME" // §3.2: the value when there is no label
	}
	vlab := labelName(vl)
	copy(b[43:54], vlab[:])
	copy(b[54:62], fmt.Sprintf("FAT%-5d", g.bits)) // BS_FilSysType, informational only
	// Boot code: this volume is not bootable from BIOS; halt if anyone tries.
	copy(b[62:], []byte{0xFA, 0xF4, 0xEB, 0xFD}) // cli; hlt; jmp hlt
	b[510], b[511] = 0x55, 0xAA
}
