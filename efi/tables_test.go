package efi

import (
	"testing"
	"unsafe"
)

// TestTableLayout checks the mirror structures against the offsets the
// UEFI 2.10 specification's tables give (counting 8 bytes per pointer or
// UINTN after the 24-byte EFI_TABLE_HEADER, with natural alignment), and
// BlockMedia against EFI_BLOCK_IO_MEDIA.
func TestTableLayout(t *testing.T) {
	hdr := uintptr(24)
	fnAt := func(i uintptr) uintptr { return hdr + 8*i } // i-th function of a services table
	for _, tt := range []struct {
		name      string
		got, want uintptr
	}{
		{"EFI_TABLE_HEADER size", unsafe.Sizeof(tableHeader{}), 24},
		{"EFI_SYSTEM_TABLE.FirmwareVendor", stFirmwareVendor, 24},
		{"EFI_SYSTEM_TABLE.FirmwareRevision", stFirmwareRevision, 32},
		{"EFI_SYSTEM_TABLE.ConIn", stConIn, 48},
		{"EFI_SYSTEM_TABLE.ConOut", stConOut, 64},
		{"EFI_SYSTEM_TABLE.RuntimeServices", stRuntimeServices, 88},
		{"EFI_SYSTEM_TABLE.BootServices", stBootServices, 96},
		{"EFI_SYSTEM_TABLE.NumberOfTableEntries", stNumTables, 104},
		{"EFI_SYSTEM_TABLE.ConfigurationTable", stConfigTable, 112},
		{"EFI_BOOT_SERVICES.RaiseTPL", bsRaiseTPL, fnAt(0)},
		{"EFI_BOOT_SERVICES.AllocatePages", bsAllocatePages, fnAt(2)},
		{"EFI_BOOT_SERVICES.GetMemoryMap", bsGetMemoryMap, fnAt(4)},
		{"EFI_BOOT_SERVICES.AllocatePool", bsAllocatePool, fnAt(5)},
		{"EFI_BOOT_SERVICES.CreateEvent", bsCreateEvent, fnAt(7)},
		{"EFI_BOOT_SERVICES.CheckEvent", bsCheckEvent, fnAt(12)},
		{"EFI_BOOT_SERVICES.HandleProtocol", bsHandleProtocol, fnAt(16)},
		{"EFI_BOOT_SERVICES.LocateHandle", bsLocateHandle, fnAt(19)},
		{"EFI_BOOT_SERVICES.InstallConfigurationTable", bsInstallConfigurationTable, fnAt(21)},
		{"EFI_BOOT_SERVICES.LoadImage", bsLoadImage, fnAt(22)},
		{"EFI_BOOT_SERVICES.UnloadImage", bsUnloadImage, fnAt(25)},
		{"EFI_BOOT_SERVICES.Stall", bsStall, fnAt(28)},
		{"EFI_BOOT_SERVICES.ConnectController", bsConnectController, fnAt(30)},
		{"EFI_BOOT_SERVICES.OpenProtocol", bsOpenProtocol, fnAt(32)},
		{"EFI_BOOT_SERVICES.LocateHandleBuffer", bsLocateHandleBuffer, fnAt(36)},
		{"EFI_BOOT_SERVICES.InstallMultipleProtocolInterfaces", bsInstallMultipleProtocols, fnAt(38)},
		{"EFI_BOOT_SERVICES.CreateEventEx", bsCreateEventEx, fnAt(43)},
		{"EFI_RUNTIME_SERVICES.GetTime", rtGetTime, fnAt(0)},
		{"EFI_RUNTIME_SERVICES.GetVariable", rtGetVariable, fnAt(6)},
		{"EFI_RUNTIME_SERVICES.ResetSystem", rtResetSystem, fnAt(10)},
		{"EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL.OutputString", conOutOutputString, 8},
		{"EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL.TestString", conOutTestString, 16},
		{"EFI_SIMPLE_TEXT_INPUT_PROTOCOL.ReadKeyStroke", conInReadKeyStroke, 8},
		{"EFI_LOADED_IMAGE_PROTOCOL.DeviceHandle", liDeviceHandle, 24},
		{"EFI_LOADED_IMAGE_PROTOCOL.FilePath", liFilePath, 32},
		{"EFI_LOADED_IMAGE_PROTOCOL.LoadOptionsSize", liLoadOptionsSize, 48},
		{"EFI_LOADED_IMAGE_PROTOCOL.LoadOptions", liLoadOptions, 56},
		{"EFI_LOADED_IMAGE_PROTOCOL.ImageBase", liImageBase, 64},
		{"EFI_LOADED_IMAGE_PROTOCOL.ImageSize", liImageSize, 72},
		{"EFI_LOADED_IMAGE_PROTOCOL.Unload", unsafe.Offsetof(loadedImage{}.Unload), 88},
		{"EFI_RNG_PROTOCOL.GetRNG", rngGetRNG, 8},
		{"EFI_SIMPLE_NETWORK_PROTOCOL.Start", snpStart, 8},
		{"EFI_SIMPLE_NETWORK_PROTOCOL.Shutdown", snpShutdown, 40},
		{"EFI_SIMPLE_NETWORK_PROTOCOL.GetStatus", snpGetStatus, 88},
		{"EFI_SIMPLE_NETWORK_PROTOCOL.Receive", snpReceive, 104},
		{"EFI_SIMPLE_NETWORK_PROTOCOL.Mode", snpMode, 120},
		{"EFI_SIMPLE_NETWORK_MODE.MaxPacketSize", modeMaxPacketSize, 12},
		{"EFI_SIMPLE_NETWORK_MODE.CurrentAddress", modeCurrentAddress, 40 + 16*32},
		{"EFI_SIMPLE_NETWORK_MODE.MediaPresentSupported", modeMediaPresentOK, 40 + 19*32 + 3},
		{"EFI_SIMPLE_NETWORK_MODE.MediaPresent", modeMediaPresent, 40 + 19*32 + 4},
		{"EFI_BLOCK_IO_PROTOCOL.Media", bioMedia, 8},
		{"EFI_BLOCK_IO_PROTOCOL.FlushBlocks", bioFlush, 40},
		{"EFI_BLOCK_IO_PROTOCOL size", bioSize, 48},
		{"EFI_BLOCK_IO_MEDIA.Removable", unsafe.Offsetof(BlockMedia{}.Removable), 4},
		{"EFI_BLOCK_IO_MEDIA.WriteCaching", unsafe.Offsetof(BlockMedia{}.WriteCaching), 8},
		{"EFI_BLOCK_IO_MEDIA.BlockSize", unsafe.Offsetof(BlockMedia{}.BlockSize), 12},
		{"EFI_BLOCK_IO_MEDIA.LastBlock", unsafe.Offsetof(BlockMedia{}.LastBlock), 24},
		{"EFI_BLOCK_IO_MEDIA.OptimalTransferLengthGranularity", unsafe.Offsetof(BlockMedia{}.OptimalTransferLengthGranularity), 44},
		{"EFI_BLOCK_IO_MEDIA size", mediaSize, 48},
		{"EFI_SIMPLE_FILE_SYSTEM_PROTOCOL.OpenVolume", sfsOpenVolume, 8},
		{"EFI_FILE_PROTOCOL.Read", fileRead, 32},
		{"EFI_FILE_PROTOCOL.GetInfo", fileGetInfo, 64},
	} {
		if tt.got != tt.want {
			t.Errorf("offset of %s = %d; want %d", tt.name, tt.got, tt.want)
		}
	}
}
