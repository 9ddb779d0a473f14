package memdisk

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unicode/utf16"

	"github.com/snp-go/snp-go/blockio/gptfat"
)

// GUID is an EFI_GUID in its on-disk byte order (gptfat.GUID, which the
// reader of these disks uses too).
type GUID = gptfat.GUID

// GPT constants (UEFI 2.10 §5.3.2, Table 5-5 and §5.3.3, Table 5-6).
const (
	gptSignature     = "EFI PART"
	gptRevision      = 0x00010000
	gptHeaderSize    = 92
	gptNumEntries    = 128
	gptEntrySize     = 128
	gptEntryLBAs     = gptNumEntries * gptEntrySize / BlockSize // 32
	gptPartNameUnits = 36
)

type gptLayout struct {
	numLBA             uint64
	diskGUID, partGUID GUID
	typeGUID           GUID
	partName           string
	partStart, partEnd uint64
}

// write puts the protective MBR, both GPT headers and both entry arrays
// into img.
func (g *gptLayout) write(img []byte) error {
	name := utf16.Encode([]rune(g.partName))
	if len(name) > gptPartNameUnits {
		return fmt.Errorf("memdisk: partition name %q is %d UTF-16 units; at most %d fit (UEFI 2.10 Table 5-6)", g.partName, len(name), gptPartNameUnits)
	}
	writeProtectiveMBR(img[:BlockSize], g.numLBA)

	// One entry (UEFI 2.10 Table 5-6); the other 127 stay zero (unused).
	entries := make([]byte, gptNumEntries*gptEntrySize)
	e := entries[:gptEntrySize]
	copy(e[0:16], g.typeGUID[:])
	copy(e[16:32], g.partGUID[:])
	binary.LittleEndian.PutUint64(e[32:], g.partStart)
	binary.LittleEndian.PutUint64(e[40:], g.partEnd)
	binary.LittleEndian.PutUint64(e[48:], 0) // attributes
	for i, u := range name {
		binary.LittleEndian.PutUint16(e[56+2*i:], u)
	}
	entriesCRC := crc32.ChecksumIEEE(entries)

	lastLBA := g.numLBA - 1
	backupEntries := lastLBA - gptEntryLBAs
	// §5.3.2: the primary header is at LBA 1 with its entries from LBA 2; the
	// backup header is at the last LBA with its entries just before it.
	g.writeHeader(img[1*BlockSize:2*BlockSize], 1, lastLBA, 2, entriesCRC)
	g.writeHeader(img[lastLBA*BlockSize:], lastLBA, 1, backupEntries, entriesCRC)
	copy(img[2*BlockSize:], entries)
	copy(img[backupEntries*BlockSize:], entries)
	return nil
}

func (g *gptLayout) writeHeader(b []byte, myLBA, altLBA, entryLBA uint64, entriesCRC uint32) {
	le := binary.LittleEndian
	copy(b[0:8], gptSignature)
	le.PutUint32(b[8:], gptRevision)
	le.PutUint32(b[12:], gptHeaderSize)
	le.PutUint32(b[16:], 0) // HeaderCRC32, computed with this field zero
	le.PutUint32(b[20:], 0) // reserved
	le.PutUint64(b[24:], myLBA)
	le.PutUint64(b[32:], altLBA)
	le.PutUint64(b[40:], 2+gptEntryLBAs)          // FirstUsableLBA: after MBR, header, entries
	le.PutUint64(b[48:], g.numLBA-2-gptEntryLBAs) // LastUsableLBA: before backup entries and header
	copy(b[56:72], g.diskGUID[:])
	le.PutUint64(b[72:], entryLBA)
	le.PutUint32(b[80:], gptNumEntries)
	le.PutUint32(b[84:], gptEntrySize)
	le.PutUint32(b[88:], entriesCRC)
	le.PutUint32(b[16:], crc32.ChecksumIEEE(b[:gptHeaderSize]))
}

// writeProtectiveMBR fills LBA 0 per UEFI 2.10 §5.2.3 (Tables 5-3, 5-4):
// one partition of type 0xEE from LBA 1 covering the disk (or 0xFFFFFFFF
// blocks when the disk is larger).
func writeProtectiveMBR(b []byte, numLBA uint64) {
	p := b[446:462]
	p[0] = 0x00                         // BootIndicator: not bootable
	copy(p[1:4], []byte{0x00, 0x02, 0}) // StartingCHS 0x000200
	p[4] = 0xEE                         // OSType: GPT protective
	copy(p[5:8], chs(numLBA-1))
	binary.LittleEndian.PutUint32(p[8:], 1)
	size := numLBA - 1
	if size > 0xFFFFFFFF {
		size = 0xFFFFFFFF
	}
	binary.LittleEndian.PutUint32(p[12:], uint32(size))
	b[510], b[511] = 0x55, 0xAA
}

// chs encodes lba as an MBR CHS address with 255 heads and 63 sectors per
// track, or 0xFFFFFF when it is beyond cylinder 1023 (UEFI 2.10 Table 5-4,
// EndingCHS).
func chs(lba uint64) []byte {
	const heads, sectors = 255, 63
	c := lba / (heads * sectors)
	if c > 1023 {
		return []byte{0xFF, 0xFF, 0xFF}
	}
	h := (lba / sectors) % heads
	s := lba%sectors + 1
	return []byte{byte(h), byte(s) | byte(c>>8)<<6, byte(c)}
}
