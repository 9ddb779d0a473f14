package efi

// BlockMedia is EFI_BLOCK_IO_MEDIA (UEFI 2.10 §13.9), revision 3 fields.
type BlockMedia struct {
	MediaID                          uint32
	Removable, Present, Partition    bool
	ReadOnly, WriteCaching           bool
	BlockSize, IOAlign               uint32
	LastBlock                        uint64
	LowestAlignedLBA                 uint64
	LogicalBlocksPerPhysicalBlock    uint32
	OptimalTransferLengthGranularity uint32
}

// BlockDevice is what snp-go serves as EFI_BLOCK_IO_PROTOCOL. The methods
// return the status codes §13.9 specifies; the efi package only converts
// arguments. Package blockio implements it over a disk.
type BlockDevice interface {
	Media() BlockMedia
	Reset(extended bool) Status
	ReadBlocks(mediaID uint32, lba uint64, buf []byte) Status
	WriteBlocks(mediaID uint32, lba uint64, buf []byte) Status
	FlushBlocks() Status
}
