//go:build tamago && arm64

package main

import (
	"fmt"
	"unsafe"

	"github.com/snp-go/snp-go/efi"
)

// efiDeviceTree installs the device tree chosen with `fdt` as the
// EFI_DTB_TABLE_GUID configuration table for the image about to start,
// as iPXE's efi_fdt_install does, and reinstalls the firmware's own table
// (U-Boot's, which stays in U-Boot's memory) when the image returns.
type efiDeviceTree struct {
	installed unsafe.Pointer // our copy, in EfiACPIReclaimMemory
	firmware  uintptr        // the firmware's table, 0 if it had none
}

func (d *efiDeviceTree) InstallFDT(blob []byte) error {
	if d.installed != nil {
		if err := d.RestoreFDT(); err != nil {
			return err
		}
	}
	p, err := efi.AllocatePoolOf(efi.ACPIReclaimMemory, len(blob))
	if err != nil {
		return err
	}
	copy(unsafe.Slice((*byte)(p), len(blob)), blob)
	firmware := efi.ConfigurationTable(&efi.DTBTableGUID)
	if err := efi.InstallConfigurationTable(&efi.DTBTableGUID, uintptr(p)); err != nil {
		efi.FreePool(p)
		return err
	}
	d.installed, d.firmware = p, firmware
	return nil
}

func (d *efiDeviceTree) RestoreFDT() error {
	if d.installed == nil {
		return nil
	}
	// With firmware 0 this removes our entry: the firmware had none.
	if err := efi.InstallConfigurationTable(&efi.DTBTableGUID, d.firmware); err != nil {
		return fmt.Errorf("reinstalling the firmware's device tree %#x: %w", d.firmware, err)
	}
	efi.FreePool(d.installed)
	d.installed = nil
	return nil
}
