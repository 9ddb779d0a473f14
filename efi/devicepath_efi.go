//go:build tamago && arm64

package efi

import "unsafe"

// HandleDevicePath returns the device path installed on h.
func HandleDevicePath(h Handle) (DevicePath, error) {
	p, err := HandleProtocol(h, &DevicePathProtocolGUID)
	if err != nil {
		return nil, err
	}
	dp, _, err := ParseDevicePath(unsafe.Slice((*byte)(unsafe.Pointer(p)), 64<<10))
	return dp, err
}
