package lab

import (
	"errors"
	"io"

	"github.com/snp-go/snp-go/blockio/gptfat"
)

// Sector is the logical block size of the lab's disk images.
const Sector = 512

// ESPType is the partition type GUID of an EFI System Partition
// (gptfat.ESPType), in its text form.
var ESPType = gptfat.ESPType.String()

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

// ReadGPT reads the primary GUID partition table of a disk image of size
// bytes with 512-byte sectors and returns its used entries. The parsing is
// blockio/gptfat's (signature, header and entry-array CRC32s, bounds; UEFI
// 2.10 §5.3.2); a table without any used entry is an error here.
func ReadGPT(r io.ReaderAt, size int64) ([]Partition, error) {
	ps, err := gptfat.ReadGPT(r, Sector, uint64(size/Sector))
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		return nil, errors.New("GPT: partition table has no used entries")
	}
	parts := make([]Partition, len(ps))
	for i, p := range ps {
		parts[i] = Partition{Index: p.Index, Type: p.Type.String(), GUID: p.GUID.String(), FirstLBA: p.FirstLBA, LastLBA: p.LastLBA, Name: p.Name}
	}
	return parts, nil
}
