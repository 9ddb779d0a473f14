//go:build tamago && arm64

package efi

import "unsafe"

// LoadedImage is the part of EFI_LOADED_IMAGE_PROTOCOL (§9.1.1) snp-go uses.
type LoadedImage struct {
	DeviceHandle Handle
	FilePath     DevicePath
	LoadOptions  string
	ImageBase    uintptr
	ImageSize    uint64
}

// Image returns snp-go's own Loaded Image data.
func Image() (*LoadedImage, error) {
	li, err := HandleProtocol(ImageHandle(), &LoadedImageProtocolGUID)
	if err != nil {
		return nil, err
	}
	l := &LoadedImage{
		DeviceHandle: Handle(load64(li + liDeviceHandle)),
		ImageBase:    uintptr(load64(li + liImageBase)),
		ImageSize:    load64(li + liImageSize),
	}
	if fp := uintptr(load64(li + liFilePath)); fp != 0 {
		l.FilePath, _, _ = ParseDevicePath(unsafe.Slice((*byte)(unsafe.Pointer(fp)), 4096))
	}
	if n, p := load32(li+liLoadOptionsSize), uintptr(load64(li+liLoadOptions)); n > 0 && p != 0 {
		u := unsafe.Slice((*uint16)(unsafe.Pointer(p)), n/2)
		l.LoadOptions = GoString(uintptr(unsafe.Pointer(&u[0])))
	}
	return l, nil
}

// SetLoadOptions gives a loaded (not yet started) image its command line
// (EFI_LOADED_IMAGE_PROTOCOL LoadOptions, §9.1.1), as UCS-2 in pool memory.
func SetLoadOptions(h Handle, cmdline string) error {
	li, err := HandleProtocol(h, &LoadedImageProtocolGUID)
	if err != nil {
		return err
	}
	u := UCS2(cmdline)
	mem, err := AllocatePool(2 * len(u))
	if err != nil {
		return err
	}
	copy(unsafe.Slice((*uint16)(mem), len(u)), u)
	store32(li+liLoadOptionsSize, uint32(2*len(u)))
	store64(li+liLoadOptions, uint64(uintptr(mem)))
	return nil
}
