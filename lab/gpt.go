package lab

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"unicode/utf16"
)

// Sector is the logical block size of the lab's disk images.
const Sector = 512

// ESPType is the partition type GUID of an EFI System Partition
// (UEFI 2.10 §5.3.3, table 5-7), in its text form.
const ESPType = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"

// Partition is one used entry of a GUID partition table.
type Partition struct {
	Index    int    // 1-based, as U-Boot's "virtio 0:N" counts
	Type     string // partition type GUID, upper-case text form
	GUID     string // unique partition GUID
	FirstLBA uint64
	LastLBA  uint64 // inclusive
	Name     string
}

// Size returns the partition's size in bytes.
func (p Partition) Size() int64 { return int64(p.LastLBA-p.FirstLBA+1) * Sector }

// GPT header and entry layout: UEFI 2.10 §5.3.2 (table 5-5) and §5.3.3
// (table 5-6).
const (
	gptSignature    = "EFI PART"
	gptMinHeader    = 92
	gptMaxEntries   = 1024 // far above the 128 every tool writes
	gptMinEntrySize = 128
	gptMaxEntrySize = 4096
)

// ReadGPT reads the primary GUID partition table of a disk image with
// 512-byte sectors and returns its used entries. It checks the header
// signature and both CRC32s (UEFI 2.10 §5.3.2).
func ReadGPT(r io.ReaderAt) ([]Partition, error) {
	hdr := make([]byte, Sector)
	if _, err := r.ReadAt(hdr, Sector); err != nil {
		return nil, fmt.Errorf("gpt: reading header at LBA 1: %w", err)
	}
	if string(hdr[:8]) != gptSignature {
		return nil, fmt.Errorf("gpt: no %q signature at LBA 1 (not a GPT disk)", gptSignature)
	}
	hsize := binary.LittleEndian.Uint32(hdr[12:])
	if hsize < gptMinHeader || hsize > Sector {
		return nil, fmt.Errorf("gpt: header size %d outside [%d, %d]", hsize, gptMinHeader, Sector)
	}
	want := binary.LittleEndian.Uint32(hdr[16:])
	h := bytes.Clone(hdr[:hsize])
	clear(h[16:20]) // the CRC covers the header with its own CRC field zeroed
	if got := crc32.ChecksumIEEE(h); got != want {
		return nil, fmt.Errorf("gpt: header CRC32 %#08x, header says %#08x (corrupt table)", got, want)
	}
	entryLBA := binary.LittleEndian.Uint64(hdr[72:])
	count := binary.LittleEndian.Uint32(hdr[80:])
	esize := binary.LittleEndian.Uint32(hdr[84:])
	if count > gptMaxEntries {
		return nil, fmt.Errorf("gpt: %d partition entries, more than the %d this reader accepts", count, gptMaxEntries)
	}
	if esize < gptMinEntrySize || esize > gptMaxEntrySize || esize%8 != 0 {
		return nil, fmt.Errorf("gpt: partition entry size %d invalid (want a multiple of 8, >= 128)", esize)
	}
	if entryLBA < 2 || entryLBA > 1<<40 {
		return nil, fmt.Errorf("gpt: partition entry array at LBA %d is outside the disk", entryLBA)
	}
	arr := make([]byte, int(count)*int(esize))
	if _, err := r.ReadAt(arr, int64(entryLBA)*Sector); err != nil {
		return nil, fmt.Errorf("gpt: reading %d entries at LBA %d: %w", count, entryLBA, err)
	}
	if got, want := crc32.ChecksumIEEE(arr), binary.LittleEndian.Uint32(hdr[88:]); got != want {
		return nil, fmt.Errorf("gpt: entry array CRC32 %#08x, header says %#08x (corrupt table)", got, want)
	}
	var parts []Partition
	for i := 0; i < int(count); i++ {
		e := arr[i*int(esize) : (i+1)*int(esize)]
		if allZero(e[:16]) { // unused entry
			continue
		}
		p := Partition{
			Index:    i + 1,
			Type:     guidString(e[0:16]),
			GUID:     guidString(e[16:32]),
			FirstLBA: binary.LittleEndian.Uint64(e[32:]),
			LastLBA:  binary.LittleEndian.Uint64(e[40:]),
			Name:     utf16Name(e[56:128]),
		}
		if p.LastLBA < p.FirstLBA {
			return nil, fmt.Errorf("gpt: partition %d ends (LBA %d) before it starts (LBA %d)", p.Index, p.LastLBA, p.FirstLBA)
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return nil, errors.New("gpt: partition table has no used entries")
	}
	return parts, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// guidString formats a GUID stored in the EFI mixed-endian layout
// (UEFI 2.10 appendix A): the first three fields little-endian.
func guidString(b []byte) string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(b[0:]), binary.LittleEndian.Uint16(b[4:]),
		binary.LittleEndian.Uint16(b[6:]), b[8:10], b[10:16])
}

func utf16Name(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		c := binary.LittleEndian.Uint16(b[i:])
		if c == 0 {
			break
		}
		u = append(u, c)
	}
	return string(utf16.Decode(u))
}
