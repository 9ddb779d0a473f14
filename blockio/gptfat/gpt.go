// Package gptfat reads disks, read-only: the GUID partition table (UEFI
// spec 2.10 §5.3), files on a FAT12, FAT16 or FAT32 file system with long
// file names (Microsoft "FAT: General Overview of On-Disk Format" v1.03,
// and the VFAT long name entries), and the machine type of an EFI
// executable found there. `snpctl run` uses it to show which EFI System
// Partition and boot file a sanboot would start; the lab reads its disk
// images with it. Everything read is treated as untrusted input. (Package
// blockio/memdisk writes such disks.)
package gptfat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// ErrNoGPT is returned when a disk has no valid GPT header.
var ErrNoGPT = errors.New("no GUID partition table")

// ESPType is the EFI System Partition type GUID
// C12A7328-F81F-11D2-BA4B-00A0C93EC93B (UEFI spec 2.10 Table 5.7).
var ESPType = MustParseGUID("C12A7328-F81F-11D2-BA4B-00A0C93EC93B")

// Partition is one used GPT entry.
type Partition struct {
	Index    int // 1-based entry number
	Type     GUID
	GUID     GUID
	FirstLBA uint64
	LastLBA  uint64
	Name     string
}

// IsESP reports whether the partition is an EFI System Partition.
func (p Partition) IsESP() bool { return p.Type == ESPType }

// Limits on what a GPT may ask us to read.
const (
	maxEntries   = 4096
	maxEntrySize = 4096
)

// ReadGPT reads the primary GPT of a disk of blocks blocks of blockSize
// bytes: it checks the header signature, size and CRC32, and the CRC32
// of the entry array, and returns the used entries.
func ReadGPT(r io.ReaderAt, blockSize int, blocks uint64) ([]Partition, error) {
	if blockSize < 512 || blockSize > 65536 || blockSize&(blockSize-1) != 0 {
		return nil, fmt.Errorf("GPT: block size %d is not a power of two from 512", blockSize)
	}
	hdr := make([]byte, blockSize)
	if _, err := r.ReadAt(hdr, int64(blockSize)); err != nil {
		return nil, fmt.Errorf("GPT: reading header at LBA 1: %w", err)
	}
	if string(hdr[0:8]) != "EFI PART" {
		return nil, fmt.Errorf("%w: LBA 1 has no \"EFI PART\" signature", ErrNoGPT)
	}
	hsize := binary.LittleEndian.Uint32(hdr[12:16])
	if hsize < 92 || int(hsize) > blockSize {
		return nil, fmt.Errorf("GPT: header size %d out of range", hsize)
	}
	want := binary.LittleEndian.Uint32(hdr[16:20])
	h := append([]byte(nil), hdr[:hsize]...)
	binary.LittleEndian.PutUint32(h[16:20], 0)
	if got := crc32.ChecksumIEEE(h); got != want {
		return nil, fmt.Errorf("GPT: header CRC32 %#08x, header says %#08x", got, want)
	}
	entryLBA := binary.LittleEndian.Uint64(hdr[72:80])
	n := binary.LittleEndian.Uint32(hdr[80:84])
	esize := binary.LittleEndian.Uint32(hdr[84:88])
	ecrc := binary.LittleEndian.Uint32(hdr[88:92])
	if n > maxEntries {
		return nil, fmt.Errorf("GPT: %d partition entries, more than the %d this reader accepts", n, maxEntries)
	}
	if esize < 128 || esize > maxEntrySize || esize%8 != 0 {
		return nil, fmt.Errorf("GPT: partition entry size %d invalid (want a multiple of 8 from 128 to %d)", esize, maxEntrySize)
	}
	total := uint64(n) * uint64(esize)
	if entryLBA < 2 || entryLBA >= blocks || (blocks-entryLBA)*uint64(blockSize) < total {
		return nil, fmt.Errorf("GPT: entry array at LBA %d does not fit a disk of %d blocks", entryLBA, blocks)
	}
	arr := make([]byte, total)
	if _, err := r.ReadAt(arr, int64(entryLBA)*int64(blockSize)); err != nil {
		return nil, fmt.Errorf("GPT: reading entries at LBA %d: %w", entryLBA, err)
	}
	if got := crc32.ChecksumIEEE(arr); got != ecrc {
		return nil, fmt.Errorf("GPT: entry array CRC32 %#08x, header says %#08x", got, ecrc)
	}
	var parts []Partition
	for i := uint32(0); i < n; i++ {
		e := arr[i*esize : (i+1)*esize]
		var p Partition
		copy(p.Type[:], e[0:16])
		if p.Type == (GUID{}) {
			continue
		}
		copy(p.GUID[:], e[16:32])
		p.Index = int(i) + 1
		p.FirstLBA = binary.LittleEndian.Uint64(e[32:40])
		p.LastLBA = binary.LittleEndian.Uint64(e[40:48])
		if p.FirstLBA > p.LastLBA {
			return nil, fmt.Errorf("GPT: partition %d ends (LBA %d) before it starts (LBA %d)", p.Index, p.LastLBA, p.FirstLBA)
		}
		if p.LastLBA >= blocks {
			return nil, fmt.Errorf("GPT: partition %d spans LBA %d-%d on a disk of %d blocks", p.Index, p.FirstLBA, p.LastLBA, blocks)
		}
		p.Name = utf16String(e[56:128])
		parts = append(parts, p)
	}
	return parts, nil
}

// utf16String decodes a NUL-terminated UTF-16LE string.
func utf16String(b []byte) string {
	var u []uint16
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}

// BlockReader adapts a block device (read whole blocks at an LBA) to an
// io.ReaderAt.
type BlockReader struct {
	BlockSize int
	Blocks    uint64
	Read      func(lba uint64, buf []byte) error
}

// ReadAt reads len(p) bytes at off, reading the whole blocks around them.
func (b *BlockReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	size := int64(b.Blocks) * int64(b.BlockSize)
	if off >= size {
		return 0, io.EOF
	}
	n := len(p)
	var err error
	if int64(n) > size-off {
		n, err = int(size-off), io.EOF
	}
	bs := int64(b.BlockSize)
	first := off / bs
	last := (off + int64(n) + bs - 1) / bs
	const chunk = 256 // blocks per read
	done := 0
	for lba := first; lba < last; lba += chunk {
		cnt := min(last-lba, chunk)
		buf := make([]byte, cnt*bs)
		if rerr := b.Read(uint64(lba), buf); rerr != nil {
			return done, rerr
		}
		start := int64(0)
		if lba == first {
			start = off - first*bs
		}
		done += copy(p[done:n], buf[start:])
	}
	return n, err
}
