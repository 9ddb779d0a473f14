package gptfat

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
)

// GUID is an EFI_GUID in its in-memory and on-disk byte order: the first
// three fields little-endian, the last 8 bytes as written (UEFI 2.10
// Appendix A). This is the order GPT (§5.3) and device path nodes use.
type GUID [16]byte

// ParseGUID parses the textual form "C12A7328-F81F-11D2-BA4B-00A0C93EC93B".
func ParseGUID(s string) (GUID, error) {
	var g GUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return g, fmt.Errorf("GUID %q is not of the form XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX", s)
	}
	var be [16]byte // RFC 9562 (big-endian) order
	if _, err := hex.Decode(be[:], []byte(s[0:8]+s[9:13]+s[14:18]+s[19:23]+s[24:36])); err != nil {
		return g, fmt.Errorf("GUID %q: %v", s, err)
	}
	return guidFromBE(be), nil
}

// MustParseGUID is ParseGUID that panics; for constants.
func MustParseGUID(s string) GUID {
	g, err := ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

func guidFromBE(be [16]byte) GUID {
	var g GUID
	g[0], g[1], g[2], g[3] = be[3], be[2], be[1], be[0]
	g[4], g[5] = be[5], be[4]
	g[6], g[7] = be[7], be[6]
	copy(g[8:], be[8:])
	return g
}

// String formats g as upper-case "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX".
func (g GUID) String() string {
	return fmt.Sprintf("%08X-%04X-%04X-%X-%X",
		binary.LittleEndian.Uint32(g[0:4]), binary.LittleEndian.Uint16(g[4:6]),
		binary.LittleEndian.Uint16(g[6:8]), g[8:10], g[10:16])
}

// NewGUIDv4 makes a random-layout GUID (RFC 9562 §5.4: version 4, variant 10)
// from 16 bytes.
func NewGUIDv4(b []byte) GUID {
	var be [16]byte
	copy(be[:], b)
	be[6] = be[6]&0x0f | 0x40
	be[8] = be[8]&0x3f | 0x80
	return guidFromBE(be)
}
