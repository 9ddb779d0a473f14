// Package blockio serves a disk as EFI_BLOCK_IO_PROTOCOL: it checks every
// request the way UEFI 2.10 §13.9 specifies (media ID, alignment, range,
// write protection) and turns disk errors into the specified status codes.
// It has no firmware code: package efi installs a Device on a handle.
package blockio

import (
	"errors"
	"fmt"
	"sync"

	"github.com/snp-go/snp-go/efi"
)

// Disk is a block device: an iSCSI LUN, a memory disk, ...
type Disk interface {
	BlockSize() int                           // bytes per logical block, a power of two >= 512
	NumBlocks() uint64                        // number of logical blocks
	ReadOnly() bool                           // writes are refused with EFI_WRITE_PROTECTED
	ReadBlocks(lba uint64, buf []byte) error  // len(buf) is a multiple of BlockSize
	WriteBlocks(lba uint64, buf []byte) error // len(buf) is a multiple of BlockSize
	Flush() error
}

// ErrNoMedia may be returned by a Disk when the medium is gone (for
// example a LUN that no longer answers); it becomes EFI_NO_MEDIA.
var ErrNoMedia = errors.New("blockio: no media")

// Device adapts a Disk to efi.BlockDevice.
type Device struct {
	disk    Disk
	mediaID uint32

	mu    sync.Mutex
	stats Stats
	// Log, if set, receives one line per failed request (never data).
	Log func(format string, args ...any)
}

// Stats counts the requests a Device served.
type Stats struct {
	Reads, Writes, Flushes  uint64
	BytesRead, BytesWritten uint64
	Errors                  uint64
}

// New returns a Device for d. mediaID identifies the medium; change it
// (with a new Device) when the medium changes.
func New(d Disk, mediaID uint32) *Device {
	return &Device{disk: d, mediaID: mediaID}
}

// Stats returns a snapshot of the counters.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Media describes the disk (§13.9 EFI_BLOCK_IO_MEDIA).
func (d *Device) Media() efi.BlockMedia {
	bs := d.disk.BlockSize()
	n := d.disk.NumBlocks()
	last := uint64(0)
	if n > 0 {
		last = n - 1
	}
	return efi.BlockMedia{
		MediaID:                          d.mediaID,
		Present:                          n > 0,
		ReadOnly:                         d.disk.ReadOnly(),
		BlockSize:                        uint32(bs),
		IOAlign:                          0,
		LastBlock:                        last,
		LogicalBlocksPerPhysicalBlock:    1,
		OptimalTransferLengthGranularity: 0,
	}
}

// Reset resets the device; there is nothing to reset in a Disk.
func (d *Device) Reset(extended bool) efi.Status { return efi.Success }

// check validates a read or write request as §13.9.3/§13.9.4 specify.
func (d *Device) check(mediaID uint32, lba uint64, n int) efi.Status {
	bs := d.disk.BlockSize()
	switch {
	case d.disk.NumBlocks() == 0:
		return efi.NoMedia
	case mediaID != d.mediaID:
		return efi.MediaChanged
	case n%bs != 0:
		return efi.BadBufferSize
	case lba >= d.disk.NumBlocks() || uint64(n/bs) > d.disk.NumBlocks()-lba:
		return efi.InvalidParameter
	}
	return efi.Success
}

func (d *Device) fail(op string, lba uint64, n int, err error) efi.Status {
	d.mu.Lock()
	d.stats.Errors++
	d.mu.Unlock()
	if d.Log != nil {
		d.Log("blockio: %s of %d bytes at LBA %d failed: %v", op, n, lba, err)
	}
	if errors.Is(err, ErrNoMedia) {
		return efi.NoMedia
	}
	return efi.DeviceError
}

// ReadBlocks reads len(buf) bytes from lba (§13.9.3). A zero-length read
// succeeds without touching the disk.
func (d *Device) ReadBlocks(mediaID uint32, lba uint64, buf []byte) efi.Status {
	return d.transfer(false, mediaID, lba, buf)
}

// WriteBlocks writes buf at lba (§13.9.4).
func (d *Device) WriteBlocks(mediaID uint32, lba uint64, buf []byte) efi.Status {
	if d.disk.ReadOnly() {
		return efi.WriteProtected
	}
	return d.transfer(true, mediaID, lba, buf)
}

// transfer checks and runs one read or write and counts it.
func (d *Device) transfer(write bool, mediaID uint32, lba uint64, buf []byte) efi.Status {
	if len(buf) == 0 {
		if mediaID != d.mediaID {
			return efi.MediaChanged
		}
		return efi.Success
	}
	if s := d.check(mediaID, lba, len(buf)); s != efi.Success {
		return s
	}
	op, io := "read", d.disk.ReadBlocks
	if write {
		op, io = "write", d.disk.WriteBlocks
	}
	if err := io(lba, buf); err != nil {
		return d.fail(op, lba, len(buf), err)
	}
	d.mu.Lock()
	if write {
		d.stats.Writes++
		d.stats.BytesWritten += uint64(len(buf))
	} else {
		d.stats.Reads++
		d.stats.BytesRead += uint64(len(buf))
	}
	d.mu.Unlock()
	return efi.Success
}

// FlushBlocks writes cached data to the disk (§13.9.5).
func (d *Device) FlushBlocks() efi.Status {
	if d.disk.NumBlocks() == 0 {
		return efi.NoMedia
	}
	if err := d.disk.Flush(); err != nil {
		return d.fail("flush", 0, 0, err)
	}
	d.mu.Lock()
	d.stats.Flushes++
	d.mu.Unlock()
	return efi.Success
}

// SliceDisk is a Disk over a byte slice held in memory (Block bytes per
// block; Protected makes it read-only). Package blockio/memdisk builds
// GPT+FAT images to put in one.
type SliceDisk struct {
	Data      []byte
	Block     int
	Protected bool
}

func (m *SliceDisk) BlockSize() int    { return m.Block }
func (m *SliceDisk) NumBlocks() uint64 { return uint64(len(m.Data) / m.Block) }
func (m *SliceDisk) ReadOnly() bool    { return m.Protected }
func (m *SliceDisk) Flush() error      { return nil }

func (m *SliceDisk) ReadBlocks(lba uint64, buf []byte) error {
	off := lba * uint64(m.Block)
	if off+uint64(len(buf)) > uint64(len(m.Data)) {
		return fmt.Errorf("blockio: SliceDisk read of %d bytes at LBA %d runs past its %d bytes", len(buf), lba, len(m.Data))
	}
	copy(buf, m.Data[off:])
	return nil
}

func (m *SliceDisk) WriteBlocks(lba uint64, buf []byte) error {
	off := lba * uint64(m.Block)
	if off+uint64(len(buf)) > uint64(len(m.Data)) {
		return fmt.Errorf("blockio: SliceDisk write of %d bytes at LBA %d runs past its %d bytes", len(buf), lba, len(m.Data))
	}
	copy(m.Data[off:], buf)
	return nil
}
