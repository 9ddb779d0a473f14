package efi

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// GUID is an EFI_GUID in its in-memory layout (UEFI 2.10 Appendix A): the
// first three fields little-endian, the last eight bytes as they are.
type GUID [16]byte

// MustGUID parses a GUID in registry format ("8be4df61-93ca-11d2-aa0d-00e098032b8c")
// and panics on malformed input; it is for constants.
func MustGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// ParseGUID parses a GUID in registry format.
func ParseGUID(s string) (GUID, error) {
	var g GUID
	p := strings.Split(s, "-")
	if len(p) != 5 || len(p[0]) != 8 || len(p[1]) != 4 || len(p[2]) != 4 || len(p[3]) != 4 || len(p[4]) != 12 {
		return g, fmt.Errorf("efi: malformed GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	b, err := hex.DecodeString(strings.Join(p, ""))
	if err != nil {
		return g, fmt.Errorf("efi: malformed GUID %q: %v", s, err)
	}
	binary.LittleEndian.PutUint32(g[0:], binary.BigEndian.Uint32(b[0:]))
	binary.LittleEndian.PutUint16(g[4:], binary.BigEndian.Uint16(b[4:]))
	binary.LittleEndian.PutUint16(g[6:], binary.BigEndian.Uint16(b[6:]))
	copy(g[8:], b[8:])
	return g, nil
}

// String formats g in registry format, lower case.
func (g GUID) String() string {
	return fmt.Sprintf("%08x-%04x-%04x-%x-%x",
		binary.LittleEndian.Uint32(g[0:]), binary.LittleEndian.Uint16(g[4:]),
		binary.LittleEndian.Uint16(g[6:]), g[8:10], g[10:])
}

// Protocol and table GUIDs used by snp-go. Each cites the UEFI 2.10 section
// that defines it.
var (
	LoadedImageProtocolGUID      = MustGUID("5b1b31a1-9562-11d2-8e3f-00a0c969723b") // §9.1
	DevicePathProtocolGUID       = MustGUID("09576e91-6d3f-11d2-8e39-00a0c969723b") // §10.2
	SimpleTextInputProtocolGUID  = MustGUID("387477c1-69c7-11d2-8e39-00a0c969723b") // §12.3
	SimpleTextOutputProtocolGUID = MustGUID("387477c2-69c7-11d2-8e39-00a0c969723b") // §12.4
	SimpleFileSystemProtocolGUID = MustGUID("964e5b22-6459-11d2-8e39-00a0c969723b") // §13.4
	FileInfoGUID                 = MustGUID("09576e92-6d3f-11d2-8e39-00a0c969723b") // §13.5.16
	FileSystemInfoGUID           = MustGUID("09576e93-6d3f-11d2-8e39-00a0c969723b") // §13.5.17
	BlockIOProtocolGUID          = MustGUID("964e5b21-6459-11d2-8e39-00a0c969723b") // §13.9
	SimpleNetworkProtocolGUID    = MustGUID("a19832b9-ac25-11d3-9a2d-0090273fc14d") // §24.1
	PCIIOProtocolGUID            = MustGUID("4cf5b200-68b8-4ca5-9eec-b23e3f50029a") // §14.4
	RNGAlgorithmRaw              = MustGUID("e43176d7-b6e8-4827-b784-7ffdc4b68561") // §37.5.1
	FDTTableGUID                 = MustGUID("b1b621d5-f19c-41a5-830b-d9152c69aae0") // EBBR §4.2
)

// RNGProtocolGUID is EFI_RNG_PROTOCOL_GUID 3152bca5-eade-433d-862e-c01cdc291f44
// (§37.5), written out as bytes because the runtime asks for random numbers
// before package initialisation runs (a MustGUID value would still be zero).
var RNGProtocolGUID = GUID{0xa5, 0xbc, 0x52, 0x31, 0xde, 0xea, 0x3d, 0x43, 0x86, 0x2e, 0xc0, 0x1c, 0xdc, 0x29, 0x1f, 0x44}

// guidNames names well-known GUIDs for diagnostics.
var guidNames = map[GUID]string{
	LoadedImageProtocolGUID:      "LoadedImage",
	DevicePathProtocolGUID:       "DevicePath",
	SimpleTextInputProtocolGUID:  "SimpleTextInput",
	SimpleTextOutputProtocolGUID: "SimpleTextOutput",
	SimpleFileSystemProtocolGUID: "SimpleFileSystem",
	BlockIOProtocolGUID:          "BlockIO",
	SimpleNetworkProtocolGUID:    "SimpleNetwork",
	PCIIOProtocolGUID:            "PciIo",
	RNGProtocolGUID:              "RNG",
}

// Name returns a short protocol name for well-known GUIDs, else the GUID.
func (g GUID) Name() string {
	if n, ok := guidNames[g]; ok {
		return n
	}
	return g.String()
}
