package efi

import "unsafe"

// Mirrors of the UEFI tables and protocol structures snp-go reads or
// calls through, field for field as UEFI 2.10 gives them (AAPCS64 layout:
// pointers and UINTN 8 bytes, natural alignment). Only their layout is
// used: the offsets below are derived from them and checked against the
// specification's tables by TestTableLayout, so no offset is copied by
// hand. A field named _ is one snp-go does not use.

// tableHeader is EFI_TABLE_HEADER (§4.2).
type tableHeader struct {
	Signature            uint64
	Revision, HeaderSize uint32
	CRC32, Reserved      uint32
}

// systemTableLayout is EFI_SYSTEM_TABLE (§4.3).
type systemTableLayout struct {
	Hdr                  tableHeader
	FirmwareVendor       uintptr
	FirmwareRevision     uint32
	ConsoleInHandle      uintptr
	ConIn                uintptr
	ConsoleOutHandle     uintptr
	ConOut               uintptr
	StandardErrorHandle  uintptr
	StdErr               uintptr
	RuntimeServices      uintptr
	BootServices         uintptr
	NumberOfTableEntries uint64
	ConfigurationTable   uintptr
}

// bootServices is EFI_BOOT_SERVICES (§4.4).
type bootServices struct {
	Hdr                                 tableHeader
	RaiseTPL, RestoreTPL                uintptr
	AllocatePages, FreePages            uintptr
	GetMemoryMap                        uintptr
	AllocatePool, FreePool              uintptr
	CreateEvent, SetTimer, WaitForEvent uintptr
	SignalEvent, CloseEvent, CheckEvent uintptr
	InstallProtocolInterface            uintptr
	ReinstallProtocolInterface          uintptr
	UninstallProtocolInterface          uintptr
	HandleProtocol                      uintptr
	Reserved                            uintptr
	RegisterProtocolNotify              uintptr
	LocateHandle, LocateDevicePath      uintptr
	InstallConfigurationTable           uintptr
	LoadImage, StartImage, Exit         uintptr
	UnloadImage, ExitBootServices       uintptr
	GetNextMonotonicCount, Stall        uintptr
	SetWatchdogTimer                    uintptr
	ConnectController                   uintptr
	DisconnectController                uintptr
	OpenProtocol, CloseProtocol         uintptr
	OpenProtocolInformation             uintptr
	ProtocolsPerHandle                  uintptr
	LocateHandleBuffer, LocateProtocol  uintptr
	InstallMultipleProtocolInterfaces   uintptr
	UninstallMultipleProtocolInterfaces uintptr
	CalculateCrc32, CopyMem, SetMem     uintptr
	CreateEventEx                       uintptr
}

// runtimeServices is EFI_RUNTIME_SERVICES (§4.5).
type runtimeServices struct {
	Hdr                                    tableHeader
	GetTime, SetTime                       uintptr
	GetWakeupTime, SetWakeupTime           uintptr
	SetVirtualAddressMap, ConvertPointer   uintptr
	GetVariable, GetNextVariableName       uintptr
	SetVariable, GetNextHighMonotonicCount uintptr
	ResetSystem                            uintptr
}

// textOutput is EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL (§12.4.1), up to the
// functions snp-go calls.
type textOutput struct {
	Reset, OutputString, TestString uintptr
}

// textInput is EFI_SIMPLE_TEXT_INPUT_PROTOCOL (§12.3.1).
type textInput struct {
	Reset, ReadKeyStroke, WaitForKey uintptr
}

// loadedImage is EFI_LOADED_IMAGE_PROTOCOL (§9.1.1).
type loadedImage struct {
	Revision                     uint32
	ParentHandle, SystemTable    uintptr
	DeviceHandle, FilePath       uintptr
	Reserved                     uintptr
	LoadOptionsSize              uint32
	LoadOptions                  uintptr
	ImageBase                    uintptr
	ImageSize                    uint64
	ImageCodeType, ImageDataType uint32
	Unload                       uintptr
}

// rngProtocol is EFI_RNG_PROTOCOL (§37.5.1).
type rngProtocol struct {
	GetInfo, GetRNG uintptr
}

// simpleNetwork is EFI_SIMPLE_NETWORK_PROTOCOL (§24.1).
type simpleNetwork struct {
	Revision                                 uint64
	Start, Stop, Initialize, Reset, Shutdown uintptr
	ReceiveFilters, StationAddress           uintptr
	Statistics, MCastIPtoMAC, NvData         uintptr
	GetStatus, Transmit, Receive             uintptr
	WaitForPacket, Mode                      uintptr
}

// simpleNetworkMode is EFI_SIMPLE_NETWORK_MODE (§24.1).
type simpleNetworkMode struct {
	State, HwAddressSize, MediaHeaderSize, MaxPacketSize uint32
	NvRAMSize, NvRAMAccessSize                           uint32
	ReceiveFilterMask, ReceiveFilterSetting              uint32
	MaxMCastFilterCount, MCastFilterCount                uint32
	MCastFilter                                          [16][32]byte
	CurrentAddress, BroadcastAddress, PermanentAddress   [32]byte
	IfType                                               uint8
	MacAddressChangeable, MultipleTxSupported            bool
	MediaPresentSupported, MediaPresent                  bool
}

// blockIO is EFI_BLOCK_IO_PROTOCOL (§13.9); its Media points to a
// BlockMedia, whose Go layout is EFI_BLOCK_IO_MEDIA's (revision 3).
type blockIO struct {
	Revision                                  uint64
	Media                                     uintptr
	Reset, ReadBlocks, WriteBlocks, FlushBlks uintptr
}

// simpleFileSystem is EFI_SIMPLE_FILE_SYSTEM_PROTOCOL (§13.4.1).
type simpleFileSystem struct {
	Revision   uint64
	OpenVolume uintptr
}

// fileProtocol is EFI_FILE_PROTOCOL (§13.5.1), up to GetInfo.
type fileProtocol struct {
	Revision                 uint64
	Open, Close, Delete      uintptr
	Read, Write              uintptr
	GetPosition, SetPosition uintptr
	GetInfo                  uintptr
}

// Offsets snp-go uses, from the mirrors.
const (
	stFirmwareVendor   = unsafe.Offsetof(systemTableLayout{}.FirmwareVendor)
	stFirmwareRevision = unsafe.Offsetof(systemTableLayout{}.FirmwareRevision)
	stConIn            = unsafe.Offsetof(systemTableLayout{}.ConIn)
	stConOut           = unsafe.Offsetof(systemTableLayout{}.ConOut)
	stRuntimeServices  = unsafe.Offsetof(systemTableLayout{}.RuntimeServices)
	stBootServices     = unsafe.Offsetof(systemTableLayout{}.BootServices)
	stNumTables        = unsafe.Offsetof(systemTableLayout{}.NumberOfTableEntries)
	stConfigTable      = unsafe.Offsetof(systemTableLayout{}.ConfigurationTable)

	bsRaiseTPL                  = unsafe.Offsetof(bootServices{}.RaiseTPL)
	bsRestoreTPL                = unsafe.Offsetof(bootServices{}.RestoreTPL)
	bsAllocatePages             = unsafe.Offsetof(bootServices{}.AllocatePages)
	bsFreePages                 = unsafe.Offsetof(bootServices{}.FreePages)
	bsGetMemoryMap              = unsafe.Offsetof(bootServices{}.GetMemoryMap)
	bsAllocatePool              = unsafe.Offsetof(bootServices{}.AllocatePool)
	bsFreePool                  = unsafe.Offsetof(bootServices{}.FreePool)
	bsCreateEvent               = unsafe.Offsetof(bootServices{}.CreateEvent)
	bsSetTimer                  = unsafe.Offsetof(bootServices{}.SetTimer)
	bsWaitForEvent              = unsafe.Offsetof(bootServices{}.WaitForEvent)
	bsSignalEvent               = unsafe.Offsetof(bootServices{}.SignalEvent)
	bsCloseEvent                = unsafe.Offsetof(bootServices{}.CloseEvent)
	bsCheckEvent                = unsafe.Offsetof(bootServices{}.CheckEvent)
	bsHandleProtocol            = unsafe.Offsetof(bootServices{}.HandleProtocol)
	bsLocateHandle              = unsafe.Offsetof(bootServices{}.LocateHandle)
	bsLocateDevicePath          = unsafe.Offsetof(bootServices{}.LocateDevicePath)
	bsInstallConfigurationTable = unsafe.Offsetof(bootServices{}.InstallConfigurationTable)
	bsLoadImage                 = unsafe.Offsetof(bootServices{}.LoadImage)
	bsStartImage                = unsafe.Offsetof(bootServices{}.StartImage)
	bsUnloadImage               = unsafe.Offsetof(bootServices{}.UnloadImage)
	bsStall                     = unsafe.Offsetof(bootServices{}.Stall)
	bsSetWatchdogTimer          = unsafe.Offsetof(bootServices{}.SetWatchdogTimer)
	bsConnectController         = unsafe.Offsetof(bootServices{}.ConnectController)
	bsDisconnectController      = unsafe.Offsetof(bootServices{}.DisconnectController)
	bsOpenProtocol              = unsafe.Offsetof(bootServices{}.OpenProtocol)
	bsCloseProtocol             = unsafe.Offsetof(bootServices{}.CloseProtocol)
	bsLocateHandleBuffer        = unsafe.Offsetof(bootServices{}.LocateHandleBuffer)
	bsLocateProtocol            = unsafe.Offsetof(bootServices{}.LocateProtocol)
	bsInstallMultipleProtocols  = unsafe.Offsetof(bootServices{}.InstallMultipleProtocolInterfaces)
	bsUninstallMultipleProtocol = unsafe.Offsetof(bootServices{}.UninstallMultipleProtocolInterfaces)
	bsCreateEventEx             = unsafe.Offsetof(bootServices{}.CreateEventEx)

	rtGetTime     = unsafe.Offsetof(runtimeServices{}.GetTime)
	rtGetVariable = unsafe.Offsetof(runtimeServices{}.GetVariable)
	rtResetSystem = unsafe.Offsetof(runtimeServices{}.ResetSystem)

	conOutOutputString = unsafe.Offsetof(textOutput{}.OutputString)
	conOutTestString   = unsafe.Offsetof(textOutput{}.TestString)
	conInReadKeyStroke = unsafe.Offsetof(textInput{}.ReadKeyStroke)

	liDeviceHandle    = unsafe.Offsetof(loadedImage{}.DeviceHandle)
	liFilePath        = unsafe.Offsetof(loadedImage{}.FilePath)
	liLoadOptionsSize = unsafe.Offsetof(loadedImage{}.LoadOptionsSize)
	liLoadOptions     = unsafe.Offsetof(loadedImage{}.LoadOptions)
	liImageBase       = unsafe.Offsetof(loadedImage{}.ImageBase)
	liImageSize       = unsafe.Offsetof(loadedImage{}.ImageSize)

	rngGetRNG = unsafe.Offsetof(rngProtocol{}.GetRNG)

	snpStart          = unsafe.Offsetof(simpleNetwork{}.Start)
	snpStop           = unsafe.Offsetof(simpleNetwork{}.Stop)
	snpInitialize     = unsafe.Offsetof(simpleNetwork{}.Initialize)
	snpShutdown       = unsafe.Offsetof(simpleNetwork{}.Shutdown)
	snpReceiveFilters = unsafe.Offsetof(simpleNetwork{}.ReceiveFilters)
	snpGetStatus      = unsafe.Offsetof(simpleNetwork{}.GetStatus)
	snpTransmit       = unsafe.Offsetof(simpleNetwork{}.Transmit)
	snpReceive        = unsafe.Offsetof(simpleNetwork{}.Receive)
	snpMode           = unsafe.Offsetof(simpleNetwork{}.Mode)

	modeState          = unsafe.Offsetof(simpleNetworkMode{}.State)
	modeHwAddressSize  = unsafe.Offsetof(simpleNetworkMode{}.HwAddressSize)
	modeMediaHeader    = unsafe.Offsetof(simpleNetworkMode{}.MediaHeaderSize)
	modeMaxPacketSize  = unsafe.Offsetof(simpleNetworkMode{}.MaxPacketSize)
	modeCurrentAddress = unsafe.Offsetof(simpleNetworkMode{}.CurrentAddress)
	modeMediaPresentOK = unsafe.Offsetof(simpleNetworkMode{}.MediaPresentSupported)
	modeMediaPresent   = unsafe.Offsetof(simpleNetworkMode{}.MediaPresent)

	bioMedia  = unsafe.Offsetof(blockIO{}.Media)
	bioReset  = unsafe.Offsetof(blockIO{}.Reset)
	bioRead   = unsafe.Offsetof(blockIO{}.ReadBlocks)
	bioWrite  = unsafe.Offsetof(blockIO{}.WriteBlocks)
	bioFlush  = unsafe.Offsetof(blockIO{}.FlushBlks)
	bioSize   = unsafe.Sizeof(blockIO{})
	mediaSize = unsafe.Sizeof(BlockMedia{})

	sfsOpenVolume = unsafe.Offsetof(simpleFileSystem{}.OpenVolume)
	fileOpen      = unsafe.Offsetof(fileProtocol{}.Open)
	fileClose     = unsafe.Offsetof(fileProtocol{}.Close)
	fileRead      = unsafe.Offsetof(fileProtocol{}.Read)
	fileGetInfo   = unsafe.Offsetof(fileProtocol{}.GetInfo)
)
