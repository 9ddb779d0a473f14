//go:build tamago && arm64

package efi

import (
	"sync"
	"unsafe"
)

// EFI_BLOCK_IO_PROTOCOL (§13.9) as served by snp-go: the protocol struct
// and its media live in firmware pool memory; the four functions are
// callback thunks shared by all instances, which find the device by the
// This pointer.
// Offsets in tables.go.
const blockIORevision3 = 0x00020031

var (
	blockMu      sync.Mutex
	blockDevs    = map[uintptr]BlockDevice{}
	blockThunks  [4]uintptr
	blockInitErr error
	blockOnce    sync.Once
)

func blockDev(this uintptr) BlockDevice {
	blockMu.Lock()
	defer blockMu.Unlock()
	return blockDevs[this]
}

func initBlockThunks() {
	// on runs f for the device behind This (a[0]); an unknown This is
	// EFI_INVALID_PARAMETER.
	on := func(f func(d BlockDevice, a *[8]uintptr) Status) Handler {
		return func(a *[8]uintptr) uintptr {
			d := blockDev(a[0])
			if d == nil {
				return uintptr(InvalidParameter)
			}
			return uintptr(f(d, a))
		}
	}
	// transfer decodes (This, MediaId, LBA, BufferSize, Buffer).
	transfer := func(io func(d BlockDevice, media uint32, lba uint64, buf []byte) Status) Handler {
		return on(func(d BlockDevice, a *[8]uintptr) Status {
			if a[3] > 0 && a[4] == 0 {
				return InvalidParameter
			}
			return io(d, uint32(a[1]), uint64(a[2]), bufAt(a[4], a[3]))
		})
	}
	hs := []Handler{
		on(func(d BlockDevice, a *[8]uintptr) Status { return d.Reset(a[1]&0xff != 0) }), // Reset(This, ExtendedVerification)
		transfer(BlockDevice.ReadBlocks),
		transfer(BlockDevice.WriteBlocks),
		on(func(d BlockDevice, _ *[8]uintptr) Status { return d.FlushBlocks() }), // FlushBlocks(This)
	}
	for i, h := range hs {
		p, err := NewCallback(h)
		if err != nil {
			blockInitErr = err
			return
		}
		blockThunks[i] = p
	}
}

func bufAt(p, n uintptr) []byte {
	if n == 0 {
		return []byte{}
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), n)
}

func store64(p uintptr, v uint64) { *(*uint64)(unsafe.Pointer(p)) = v }
func store32(p uintptr, v uint32) { *(*uint32)(unsafe.Pointer(p)) = v }

// writeMedia stores md as EFI_BLOCK_IO_MEDIA at m: BlockMedia has its
// layout (TestTableLayout).
func writeMedia(m uintptr, md BlockMedia) { *(*BlockMedia)(unsafe.Pointer(m)) = md }

// BlockIOHandle is an installed Block IO + Device Path handle.
type BlockIOHandle struct {
	Handle Handle
	proto  uintptr
	media  uintptr
	path   unsafe.Pointer
}

// InstallBlockIO installs dev as EFI_BLOCK_IO_PROTOCOL together with the
// device path dp on a new handle. U-Boot binds its block driver only when
// dp's last node is not a media node. Call ConnectController on the handle
// to make the firmware create partition and file-system handles.
func InstallBlockIO(dev BlockDevice, dp DevicePath) (*BlockIOHandle, error) {
	blockOnce.Do(initBlockThunks)
	if blockInitErr != nil {
		return nil, blockInitErr
	}
	if len(dp) > 0 && dp[len(dp)-1].IsMedia() {
		return nil, &Error{Op: "efi.InstallBlockIO: device path ends in a media node", Status: InvalidParameter}
	}
	mem, err := AllocatePool(int(bioSize + mediaSize))
	if err != nil {
		return nil, err
	}
	dpb := dp.Bytes()
	path, err := AllocatePool(len(dpb))
	if err != nil {
		FreePool(mem)
		return nil, err
	}
	copy(unsafe.Slice((*byte)(path), len(dpb)), dpb)
	b := &BlockIOHandle{proto: uintptr(mem), media: uintptr(mem) + bioSize, path: path}
	writeMedia(b.media, dev.Media())
	*(*blockIO)(unsafe.Pointer(b.proto)) = blockIO{
		Revision: blockIORevision3, Media: b.media,
		Reset: blockThunks[0], ReadBlocks: blockThunks[1], WriteBlocks: blockThunks[2], FlushBlks: blockThunks[3],
	}

	blockMu.Lock()
	blockDevs[b.proto] = dev
	blockMu.Unlock()

	h := alloc[Handle]()
	if err := InstallMultipleProtocolInterfaces(h, ptr(&BlockIOProtocolGUID), b.proto, ptr(&DevicePathProtocolGUID), uintptr(path)); err != nil {
		blockMu.Lock()
		delete(blockDevs, b.proto)
		blockMu.Unlock()
		FreePool(mem)
		FreePool(path)
		return nil, err
	}
	b.Handle = *h
	return b, nil
}
