// Package memdisk builds a small disk image in memory: a protective MBR, a
// GPT (UEFI 2.10 §5.3) with one partition (EFI System Partition or Basic
// Data) at LBA 2048 that fills the disk, formatted FAT12 or FAT16 (Microsoft
// "FAT: General Overview of On-Disk Format", v1.03) and holding the files it
// is given, in subdirectories, with VFAT long file names where a name is not
// a plain upper-case 8.3 name.
//
//	img, err := memdisk.Build(memdisk.DefaultSize, "SNPGO", []memdisk.File{
//		{Path: "EFI/BOOT/BOOTAA64.EFI", Data: grub},
//		{Path: "grub/grub.cfg", Data: cfg},
//	}, memdisk.WithSeed([]byte("lun0")))
//
// [New] returns the same image as a [Disk], an io.ReaderAt/io.WriterAt with
// the GUIDs and partition bounds an EFI Block IO handle and its device path
// (UEFI 2.10 §10.3.5.1, Hard Drive media path) need.
//
// The package is pure Go and builds for GOOS=tamago.
package memdisk

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/snp-go/snp-go/blockio/gptfat"
)

const (
	// BlockSize is the logical block size of the image in bytes.
	BlockSize = 512
	// DefaultSize is a disk size that holds a FAT16 volume of about 3 MiB.
	DefaultSize = 4 << 20
	// PartitionStartLBA is where the only partition starts (1 MiB, the
	// customary alignment).
	PartitionStartLBA = 2048
	// MaxSize is the largest disk Build accepts: its FAT16 volume then has
	// 32 KiB clusters and just under 65525 of them (FAT spec §3.5).
	MaxSize = 2040 << 20
)

// File is one file to put on the volume. Path uses '/' as separator;
// directories are created as needed.
type File struct {
	Path string
	Data []byte
}

// PartitionType selects the GPT partition type GUID.
type PartitionType int

const (
	// EFISystem is the EFI System Partition, C12A7328-F81F-11D2-BA4B-00A0C93EC93B
	// (UEFI 2.10 §5.3.3, Table 5-7).
	EFISystem PartitionType = iota
	// BasicData is Microsoft Basic Data, EBD0A0A2-B9E5-4433-87C0-68B6B72699C7.
	BasicData
)

// Partition type GUIDs.
var (
	EFISystemGUID = gptfat.ESPType
	BasicDataGUID = gptfat.MustParseGUID("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7")
)

func (t PartitionType) guid() (GUID, string, error) {
	switch t {
	case EFISystem:
		return EFISystemGUID, "EFI System Partition", nil
	case BasicData:
		return BasicDataGUID, "Basic data partition", nil
	}
	return GUID{}, "", fmt.Errorf("memdisk: unknown partition type %d; use EFISystem or BasicData", int(t))
}

// Option changes how Build and New lay out the disk.
type Option func(*config)

type config struct {
	seed     []byte
	partType PartitionType
	partName string
	modTime  time.Time
}

// WithSeed makes the disk GUID, partition GUID and FAT volume serial number
// a function of seed, so equal inputs give byte-identical images. Without it
// they come from crypto/rand.
func WithSeed(seed []byte) Option {
	return func(c *config) { c.seed = append([]byte{}, seed...) }
}

// WithPartitionType selects the partition type (default EFISystem).
func WithPartitionType(t PartitionType) Option {
	return func(c *config) { c.partType = t }
}

// WithPartitionName sets the GPT partition name (at most 36 UTF-16 code
// units, UEFI 2.10 Table 5-6). The default is "EFI System Partition" or
// "Basic data partition".
func WithPartitionName(name string) Option {
	return func(c *config) { c.partName = name }
}

// WithTime sets the timestamps of all files and directories. The default is
// the FAT epoch, 1980-01-01 00:00:00, so images are reproducible.
func WithTime(t time.Time) Option {
	return func(c *config) { c.modTime = t }
}

// Layout describes a built disk.
type Layout struct {
	DiskGUID          GUID
	PartitionGUID     GUID
	PartitionType     GUID
	PartitionStartLBA uint64 // first LBA of the partition
	PartitionEndLBA   uint64 // last LBA of the partition, inclusive
	FATType           int    // 12 or 16
	ClusterSize       int    // bytes
	Clusters          int    // count of data clusters
	VolumeID          uint32
}

// Disk is a built image. ReadAt may be called concurrently; WriteAt takes a
// lock so reads never see a half-written block.
type Disk struct {
	mu     sync.RWMutex
	img    []byte
	layout Layout
}

// Build returns a disk image of sizeBytes bytes (a multiple of BlockSize,
// between MinSize and MaxSize) with one FAT partition labelled label
// (at most 11 characters, may be empty) holding files.
func Build(sizeBytes int64, label string, files []File, opts ...Option) ([]byte, error) {
	d, err := New(sizeBytes, label, files, opts...)
	if err != nil {
		return nil, err
	}
	return d.img, nil
}

// MinSize is the smallest disk Build accepts: the 1 MiB gap before the
// partition, both GPT copies, and a FAT12 volume of 64 sectors.
const MinSize = (PartitionStartLBA + 64 + 33) * BlockSize

// New is Build returning a Disk.
func New(sizeBytes int64, label string, files []File, opts ...Option) (*Disk, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.modTime.IsZero() {
		c.modTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if sizeBytes%BlockSize != 0 {
		return nil, fmt.Errorf("memdisk: disk size %d is not a multiple of %d bytes; round it to whole blocks", sizeBytes, BlockSize)
	}
	if sizeBytes < MinSize || sizeBytes > MaxSize {
		return nil, fmt.Errorf("memdisk: disk size %d bytes is outside [%d, %d]", sizeBytes, int64(MinSize), int64(MaxSize))
	}
	typeGUID, defName, err := c.partType.guid()
	if err != nil {
		return nil, err
	}
	if c.partName == "" {
		c.partName = defName
	}

	ids, err := newIDs(c.seed)
	if err != nil {
		return nil, err
	}
	img := make([]byte, sizeBytes)
	numLBA := uint64(sizeBytes / BlockSize)
	g := gptLayout{
		numLBA:    numLBA,
		diskGUID:  ids.disk,
		partGUID:  ids.part,
		typeGUID:  typeGUID,
		partName:  c.partName,
		partStart: PartitionStartLBA,
		partEnd:   numLBA - 1 - gptEntryLBAs - 1, // last usable LBA
	}
	if err := g.write(img); err != nil {
		return nil, err
	}
	vol := img[g.partStart*BlockSize : (g.partEnd+1)*BlockSize]
	fat, err := formatFAT(vol, fatParams{
		hiddenSectors: uint32(g.partStart),
		label:         label,
		volumeID:      ids.volume,
		modTime:       c.modTime,
	}, files)
	if err != nil {
		return nil, err
	}
	return &Disk{img: img, layout: Layout{
		DiskGUID:          g.diskGUID,
		PartitionGUID:     g.partGUID,
		PartitionType:     typeGUID,
		PartitionStartLBA: g.partStart,
		PartitionEndLBA:   g.partEnd,
		FATType:           fat.bits,
		ClusterSize:       fat.clusterBytes(),
		Clusters:          fat.clusters,
		VolumeID:          ids.volume,
	}}, nil
}

type idSet struct {
	disk, part GUID
	volume     uint32
}

// newIDs derives the GUIDs (RFC 9562 version 4 layout) and volume serial
// from seed with SHA-256, or draws them from crypto/rand when seed is nil.
func newIDs(seed []byte) (idSet, error) {
	var raw [36]byte
	if seed == nil {
		if _, err := io.ReadFull(rand.Reader, raw[:]); err != nil {
			return idSet{}, fmt.Errorf("memdisk: reading random GUIDs: %w", err)
		}
	} else {
		for i, what := range []string{"disk", "partition", "volume"} {
			h := sha256.New()
			h.Write([]byte("snp-go memdisk " + what + "\x00"))
			h.Write(seed)
			copy(raw[i*16:], h.Sum(nil))
		}
	}
	var ids idSet
	ids.disk = gptfat.NewGUIDv4(raw[0:16])
	ids.part = gptfat.NewGUIDv4(raw[16:32])
	ids.volume = uint32(raw[32]) | uint32(raw[33])<<8 | uint32(raw[34])<<16 | uint32(raw[35])<<24
	return ids, nil
}

// Bytes returns the image itself (not a copy).
func (d *Disk) Bytes() []byte { return d.img }

// Size returns the image size in bytes.
func (d *Disk) Size() int64 { return int64(len(d.img)) }

// NumBlocks returns the number of BlockSize blocks.
func (d *Disk) NumBlocks() uint64 { return uint64(len(d.img)) / BlockSize }

// Layout returns the GUIDs and partition geometry of the image.
func (d *Disk) Layout() Layout { return d.layout }

// ReadAt implements io.ReaderAt.
func (d *Disk) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("memdisk: read at negative offset %d", off)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if off >= int64(len(d.img)) {
		return 0, io.EOF
	}
	n := copy(p, d.img[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// ErrOutOfRange is returned by WriteAt for writes past the end of the disk.
var ErrOutOfRange = errors.New("memdisk: write past end of disk")

// WriteAt implements io.WriterAt. It never grows the disk.
func (d *Disk) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(d.img)) || int64(len(p)) > int64(len(d.img))-off {
		return 0, fmt.Errorf("%w: %d bytes at offset %d, disk is %d bytes", ErrOutOfRange, len(p), off, len(d.img))
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return copy(d.img[off:], p), nil
}
