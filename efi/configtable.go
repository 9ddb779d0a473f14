//go:build tamago && arm64

package efi

import "unsafe"

// DTBTableGUID is EFI_DTB_TABLE_GUID, the configuration table holding the
// flattened devicetree the firmware hands to an OS loader (UEFI 2.10
// §4.6.1.3; EBBR 2.1 §2.6.2, "Devicetree").
var DTBTableGUID = MustGUID("b1b621d5-f19c-41a5-830b-d9152c69aae0")

// ACPIReclaimMemory is EfiACPIReclaimMemory (§7.2.1): memory the OS may
// reclaim once it has read the tables in it, the type U-Boot gives the
// devicetree it installs.
const ACPIReclaimMemory = 9

// configTableEntrySize is sizeof(EFI_CONFIGURATION_TABLE) (§4.6): an
// EFI_GUID and a pointer.
const configTableEntrySize = 24

// ConfigurationTable returns the VendorTable of the configuration table
// g in the System Table, or 0 if the firmware has none (§4.6).
func ConfigurationTable(g *GUID) uintptr {
	n := load64(systemTable + stNumTables)
	t := uintptr(load64(systemTable + stConfigTable))
	for i := uintptr(0); i < uintptr(n); i++ {
		e := t + i*configTableEntrySize
		if *(*GUID)(unsafe.Pointer(e)) == *g {
			return uintptr(load64(e + 16))
		}
	}
	return 0
}

// InstallConfigurationTable adds, replaces or (with table 0) removes the
// configuration table g (§7.3.16).
func InstallConfigurationTable(g *GUID, table uintptr) error {
	return callBS("InstallConfigurationTable", bsInstallConfigurationTable, ptr(g), table)
}

// AllocatePoolOf is AllocatePool with a memory type of the caller's
// choosing; the memory is freed at exit unless FreePool freed it.
func AllocatePoolOf(memType uintptr, size int) (unsafe.Pointer, error) {
	p := alloc[uintptr]()
	if err := callBS("AllocatePool", bsAllocatePool, memType, uintptr(size), ptr(p)); err != nil {
		return nil, err
	}
	poolMu.Lock()
	if pools == nil {
		pools = map[uintptr]bool{}
		AtExit(freePools)
	}
	pools[*p] = true
	poolMu.Unlock()
	return unsafe.Pointer(*p), nil
}
