package memdisk

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"
)

// This file is an independent FAT12/16 reader used only by the tests: it
// recomputes the FAT type from the BPB the way Microsoft's FAT spec §3.5
// says every driver must, walks the directory tree assembling long names
// (checking ordinals and checksums), and checks that every allocated
// cluster belongs to exactly one chain of the right length.

type fatVolume struct {
	label     string // from the root directory volume-label entry
	bpbLabel  string // BS_VolLab
	fsType    string // BS_FilSysType
	bits      int
	spc       int
	clusters  int
	files     map[string][]byte // path -> content
	dirs      map[string]bool
	shortOf   map[string]string // path -> short name
	used      map[int]string    // cluster -> owner path
	fat       []byte
	vol       []byte
	dataStart int
}

func readFAT(vol []byte) (*fatVolume, error) {
	if len(vol) < 512 {
		return nil, fmt.Errorf("volume of %d bytes has no boot sector", len(vol))
	}
	b := vol[:512]
	le := binary.LittleEndian
	if b[510] != 0x55 || b[511] != 0xAA {
		return nil, fmt.Errorf("boot sector signature = % x; want 55 aa", b[510:512])
	}
	if b[0] != 0xEB || b[2] != 0x90 {
		return nil, fmt.Errorf("BS_jmpBoot = % x; want eb ?? 90", b[0:3])
	}
	bps := int(le.Uint16(b[11:]))
	if bps != 512 {
		return nil, fmt.Errorf("BPB_BytsPerSec = %d; want 512", bps)
	}
	v := &fatVolume{vol: vol, files: map[string][]byte{}, dirs: map[string]bool{}, shortOf: map[string]string{}, used: map[int]string{}}
	v.spc = int(b[13])
	if v.spc == 0 || v.spc&(v.spc-1) != 0 || v.spc > 64 {
		return nil, fmt.Errorf("BPB_SecPerClus = %d; want a power of two <= 64", v.spc)
	}
	rsvd := int(le.Uint16(b[14:]))
	nFATs := int(b[16])
	rootEnt := int(le.Uint16(b[17:]))
	tot := int(le.Uint16(b[19:]))
	if tot == 0 {
		tot = int(le.Uint32(b[32:]))
	} else if le.Uint32(b[32:]) != 0 {
		return nil, fmt.Errorf("both BPB_TotSec16 and BPB_TotSec32 are set")
	}
	if b[21] != 0xF8 {
		return nil, fmt.Errorf("BPB_Media = %#x; want 0xf8", b[21])
	}
	fatSz := int(le.Uint16(b[22:]))
	if rsvd < 1 || nFATs != 2 || fatSz == 0 || rootEnt == 0 {
		return nil, fmt.Errorf("BPB: RsvdSecCnt=%d NumFATs=%d FATSz16=%d RootEntCnt=%d; want >=1, 2, >0, >0", rsvd, nFATs, fatSz, rootEnt)
	}
	if tot*512 > len(vol) {
		return nil, fmt.Errorf("BPB says %d sectors; volume has %d", tot, len(vol)/512)
	}
	if b[38] != 0x29 {
		return nil, fmt.Errorf("BS_BootSig = %#x; want 0x29", b[38])
	}
	v.bpbLabel = strings.TrimRight(string(b[43:54]), " ")
	v.fsType = strings.TrimRight(string(b[54:62]), " ")
	rootSecs := (rootEnt*32 + bps - 1) / bps
	v.dataStart = rsvd + nFATs*fatSz + rootSecs
	v.clusters = (tot - v.dataStart) / v.spc
	switch {
	case v.clusters < 4085:
		v.bits = 12
	case v.clusters < 65525:
		v.bits = 16
	default:
		return nil, fmt.Errorf("%d clusters means FAT32, which this reader does not handle", v.clusters)
	}
	if need := (v.clusters + 2) * v.bits / 8; fatSz*512 < need {
		return nil, fmt.Errorf("FAT of %d sectors cannot hold %d FAT%d entries", fatSz, v.clusters+2, v.bits)
	}
	v.fat = vol[rsvd*512 : (rsvd+fatSz)*512]
	if second := vol[(rsvd+fatSz)*512 : (rsvd+2*fatSz)*512]; string(second) != string(v.fat) {
		return nil, fmt.Errorf("the two FATs differ")
	}
	if e0 := v.entry(0); e0&0xFF != 0xF8 || e0|0xFF != v.eoc()|0xFF {
		return nil, fmt.Errorf("FAT[0] = %#x; want media byte 0xf8 with the other bits set", e0)
	}
	if e1 := v.entry(1); e1 < v.eoc()&^7 {
		return nil, fmt.Errorf("FAT[1] = %#x; want an end-of-chain mark", e1)
	}
	rootStart := (rsvd + nFATs*fatSz) * 512
	if err := v.readDir(vol[rootStart:rootStart+rootEnt*32], "", true, 0, 0); err != nil {
		return nil, err
	}
	for c := 2; c < v.clusters+2; c++ {
		if v.entry(c) != 0 && v.used[c] == "" {
			return nil, fmt.Errorf("cluster %d is allocated (FAT = %#x) but in no chain", c, v.entry(c))
		}
	}
	return v, nil
}

func (v *fatVolume) eoc() int {
	if v.bits == 12 {
		return 0xFFF
	}
	return 0xFFFF
}

func (v *fatVolume) entry(n int) int {
	if v.bits == 16 {
		return int(binary.LittleEndian.Uint16(v.fat[2*n:]))
	}
	x := int(binary.LittleEndian.Uint16(v.fat[n+n/2:]))
	if n%2 == 1 {
		return x >> 4
	}
	return x & 0xFFF
}

// chain follows the cluster chain from first and returns its content.
func (v *fatVolume) chain(first int, owner string) ([]byte, error) {
	var out []byte
	cb := v.spc * 512
	for c := first; ; {
		if c < 2 || c >= v.clusters+2 {
			return nil, fmt.Errorf("%s: chain reaches cluster %#x, outside 2..%d", owner, c, v.clusters+1)
		}
		if prev := v.used[c]; prev != "" {
			return nil, fmt.Errorf("%s: cluster %d is also used by %s", owner, c, prev)
		}
		v.used[c] = owner
		off := (v.dataStart + (c-2)*v.spc) * 512
		out = append(out, v.vol[off:off+cb]...)
		next := v.entry(c)
		if next >= v.eoc()&^7 {
			return out, nil
		}
		c = next
	}
}

func shortDisplay(name []byte) string {
	base := strings.TrimRight(string(name[:8]), " ")
	ext := strings.TrimRight(string(name[8:11]), " ")
	if ext == "" {
		return base
	}
	return base + "." + ext
}

func (v *fatVolume) readDir(buf []byte, dir string, root bool, self, parent int) error {
	var lfn []uint16
	lfnSum, lfnNext := byte(0), 0
	seenLong := map[string]string{}
	seenShort := map[string]bool{}
	le := binary.LittleEndian
	for i := 0; i+32 <= len(buf); i += 32 {
		e := buf[i : i+32]
		if e[0] == 0 {
			break
		}
		if e[0] == 0xE5 {
			continue
		}
		attr := e[11]
		if attr&0x3F == 0x0F {
			ord := int(e[0] & 0x3F)
			if e[0]&0x40 != 0 {
				lfn, lfnSum, lfnNext = make([]uint16, ord*13), e[13], ord
			}
			if ord != lfnNext || ord == 0 || e[13] != lfnSum || lfn == nil {
				return fmt.Errorf("dir %q entry %d: long-name entry out of sequence (ord %d, want %d)", dir, i/32, ord, lfnNext)
			}
			for j, off := range []int{1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30} {
				lfn[(ord-1)*13+j] = le.Uint16(e[off:])
			}
			lfnNext--
			continue
		}
		name := shortDisplay(e[:11])
		long := name
		if lfn != nil {
			if lfnNext != 0 {
				return fmt.Errorf("dir %q: long name before %q is missing parts", dir, name)
			}
			var s shortName
			copy(s[:], e[:11])
			if shortChecksum(s) != lfnSum {
				return fmt.Errorf("dir %q: long-name checksum %#x does not match short name %q", dir, lfnSum, name)
			}
			end := len(lfn)
			for k, u := range lfn {
				if u == 0 {
					end = k
					break
				}
			}
			for _, u := range lfn[end+min(1, len(lfn)-end):] {
				if u != 0xFFFF {
					return fmt.Errorf("dir %q: long name of %q not padded with 0xFFFF", dir, name)
				}
			}
			long = string(utf16.Decode(lfn[:end]))
			lfn = nil
		}
		cluster := int(le.Uint16(e[26:]))
		size := int(le.Uint32(e[28:]))
		if attr&0x08 != 0 {
			if !root || v.label != "" {
				return fmt.Errorf("dir %q: unexpected volume label entry %q", dir, name)
			}
			v.label = strings.TrimRight(string(e[:11]), " ")
			continue
		}
		if name == "." || name == ".." {
			want := self
			if name == ".." {
				want = parent
			}
			if root || attr&0x10 == 0 || cluster != want {
				return fmt.Errorf("dir %q: %q entry points at cluster %d; want %d", dir, name, cluster, want)
			}
			continue
		}
		key := strings.ToUpper(long)
		if prev, ok := seenLong[key]; ok {
			return fmt.Errorf("dir %q: names %q and %q collide", dir, prev, long)
		}
		if seenShort[name] {
			return fmt.Errorf("dir %q: short name %q used twice", dir, name)
		}
		seenLong[key], seenShort[name] = long, true
		path := long
		if dir != "" {
			path = dir + "/" + long
		}
		v.shortOf[path] = name
		if attr&0x10 != 0 {
			content, err := v.chain(cluster, path)
			if err != nil {
				return err
			}
			v.dirs[path] = true
			if err := v.readDir(content, path, false, cluster, self); err != nil {
				return err
			}
			continue
		}
		if size == 0 {
			if cluster != 0 {
				return fmt.Errorf("%s: empty file has cluster %d; want 0", path, cluster)
			}
			v.files[path] = []byte{}
			continue
		}
		content, err := v.chain(cluster, path)
		if err != nil {
			return err
		}
		if cb := v.spc * 512; len(content) != (size+cb-1)/cb*cb {
			return fmt.Errorf("%s: %d bytes need %d clusters; chain has %d", path, size, (size+cb-1)/cb, len(content)/cb)
		}
		v.files[path] = content[:size]
	}
	if lfn != nil {
		return fmt.Errorf("dir %q: dangling long-name entries at the end", dir)
	}
	return nil
}
