package gptfat

import (
	"encoding/binary"
	"errors"
)

// PE machine types (PE/COFF specification, "Machine Types").
const (
	MachineARM64 = 0xAA64
	MachineAMD64 = 0x8664
)

// PEMachine returns the machine type of a PE/COFF image (the format of
// EFI executables, UEFI spec 2.10 §2.1.1).
func PEMachine(img []byte) (uint16, error) {
	if len(img) < 0x40 || img[0] != 'M' || img[1] != 'Z' {
		return 0, errors.New("not a PE/COFF image: no MZ header")
	}
	off := binary.LittleEndian.Uint32(img[0x3c:0x40])
	if uint64(off)+6 > uint64(len(img)) || string(img[off:off+4]) != "PE\x00\x00" {
		return 0, errors.New("not a PE/COFF image: no PE signature")
	}
	return binary.LittleEndian.Uint16(img[off+4 : off+6]), nil
}
