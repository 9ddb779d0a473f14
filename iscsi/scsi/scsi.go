// Package scsi builds the SCSI command descriptor blocks (CDBs) snp-go sends
// over iSCSI and decodes what comes back: standard INQUIRY data, the unit
// serial number VPD page, READ CAPACITY(10)/(16), REPORT LUNS, MODE SENSE(6)
// header and sense data. Opcodes and layouts are from SBC-3 (block
// commands) and SPC-4 (primary commands).
//
// CDB builders fill a 16-byte array (the iSCSI CDB field, RFC 7143 §11.3.5);
// shorter CDBs leave the remaining bytes zero.
package scsi

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Operation codes (SPC-4 §D.3.1, SBC-3 §5).
const (
	OpTestUnitReady   = 0x00
	OpInquiry         = 0x12
	OpModeSense6      = 0x1a
	OpReadCapacity10  = 0x25
	OpRead10          = 0x28
	OpWrite10         = 0x2a
	OpSyncCache10     = 0x35
	OpRead16          = 0x88
	OpWrite16         = 0x8a
	OpSyncCache16     = 0x91
	OpServiceActionIn = 0x9e // with service action 0x10: READ CAPACITY(16)
	OpReportLUNs      = 0xa0
)

// CDB is an iSCSI CDB field.
type CDB [16]byte

// Status codes (SAM-5 §5.3).
const (
	StatusGood                = 0x00
	StatusCheckCondition      = 0x02
	StatusConditionMet        = 0x04
	StatusBusy                = 0x08
	StatusReservationConflict = 0x18
	StatusTaskSetFull         = 0x28
	StatusACAActive           = 0x30
	StatusTaskAborted         = 0x40
)

// StatusName names a SCSI status byte.
func StatusName(s byte) string {
	switch s {
	case StatusGood:
		return "GOOD"
	case StatusCheckCondition:
		return "CHECK CONDITION"
	case StatusConditionMet:
		return "CONDITION MET"
	case StatusBusy:
		return "BUSY"
	case StatusReservationConflict:
		return "RESERVATION CONFLICT"
	case StatusTaskSetFull:
		return "TASK SET FULL"
	case StatusACAActive:
		return "ACA ACTIVE"
	case StatusTaskAborted:
		return "TASK ABORTED"
	}
	return fmt.Sprintf("status 0x%02x", s)
}

// TestUnitReady fills a TEST UNIT READY CDB (SPC-4 §6.47).
func TestUnitReady(c *CDB) { *c = CDB{OpTestUnitReady} }

// Inquiry fills an INQUIRY CDB (SPC-4 §6.6); evpd selects VPD page.
func Inquiry(c *CDB, evpd bool, page byte, alloc uint16) {
	*c = CDB{OpInquiry}
	if evpd {
		c[1] = 1
		c[2] = page
	}
	binary.BigEndian.PutUint16(c[3:], alloc)
}

// ModeSense6 fills a MODE SENSE(6) CDB (SPC-4 §6.11) with DBD set.
func ModeSense6(c *CDB, page byte, alloc byte) {
	*c = CDB{OpModeSense6, 0x08, page & 0x3f, 0, alloc}
}

// ReadCapacity10 fills a READ CAPACITY(10) CDB (SBC-3 §5.15).
func ReadCapacity10(c *CDB) { *c = CDB{OpReadCapacity10} }

// ReadCapacity16 fills a READ CAPACITY(16) CDB (SBC-3 §5.16).
func ReadCapacity16(c *CDB, alloc uint32) {
	*c = CDB{OpServiceActionIn, 0x10}
	binary.BigEndian.PutUint32(c[10:], alloc)
}

// ReportLUNs fills a REPORT LUNS CDB (SPC-4 §6.33), select report 0.
func ReportLUNs(c *CDB, alloc uint32) {
	*c = CDB{OpReportLUNs}
	binary.BigEndian.PutUint32(c[6:], alloc)
}

// fits10 reports whether lba and blocks fit the 10-byte CDB forms
// (32-bit LBA, 16-bit transfer length).
func fits10(lba uint64, blocks uint32) bool {
	return lba+uint64(blocks) <= 1<<32 && blocks <= 0xffff
}

func rw(c *CDB, op10, op16 byte, lba uint64, blocks uint32) {
	if fits10(lba, blocks) {
		*c = CDB{op10}
		binary.BigEndian.PutUint32(c[2:], uint32(lba))
		binary.BigEndian.PutUint16(c[7:], uint16(blocks))
		return
	}
	*c = CDB{op16}
	binary.BigEndian.PutUint64(c[2:], lba)
	binary.BigEndian.PutUint32(c[10:], blocks)
}

// Read fills READ(10) or, beyond 2^32 blocks or 65535 blocks per command,
// READ(16) (SBC-3 §5.11, §5.13).
func Read(c *CDB, lba uint64, blocks uint32) { rw(c, OpRead10, OpRead16, lba, blocks) }

// Write fills WRITE(10) or WRITE(16) (SBC-3 §5.32, §5.34).
func Write(c *CDB, lba uint64, blocks uint32) { rw(c, OpWrite10, OpWrite16, lba, blocks) }

// SynchronizeCache fills SYNCHRONIZE CACHE(10) or (16) (SBC-3 §5.22-23);
// blocks 0 means "to the end of the medium".
func SynchronizeCache(c *CDB, lba uint64, blocks uint32) {
	rw(c, OpSyncCache10, OpSyncCache16, lba, blocks)
}

// InquiryData is the decoded standard INQUIRY data (SPC-4 §6.6.2).
type InquiryData struct {
	PeripheralQualifier byte // 0: a device is connected to this LUN
	PeripheralType      byte // 0: direct access block device
	Removable           bool
	Version             byte
	Vendor              string // T10 vendor identification, trimmed
	Product             string
	Revision            string
	Serial              string // unit serial number (VPD page 0x80), if known
}

// ParseInquiry decodes standard INQUIRY data (at least 36 bytes).
func ParseInquiry(b []byte) (InquiryData, error) {
	if len(b) < 36 {
		return InquiryData{}, fmt.Errorf("scsi: INQUIRY data is %d bytes, need 36", len(b))
	}
	return InquiryData{
		PeripheralQualifier: b[0] >> 5,
		PeripheralType:      b[0] & 0x1f,
		Removable:           b[1]&0x80 != 0,
		Version:             b[2],
		Vendor:              ascii(b[8:16]),
		Product:             ascii(b[16:32]),
		Revision:            ascii(b[32:36]),
	}, nil
}

// ascii trims an ASCII field and replaces non-printable bytes.
func ascii(b []byte) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '.'
		}
		return r
	}, string(b)))
}

// VPDUnitSerial is the Unit Serial Number VPD page (SPC-4 §7.8.18).
const VPDUnitSerial = 0x80

// ParseUnitSerial decodes the Unit Serial Number VPD page.
func ParseUnitSerial(b []byte) (string, error) {
	if len(b) < 4 || b[1] != VPDUnitSerial {
		return "", fmt.Errorf("scsi: not a unit serial number VPD page (%d bytes)", len(b))
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if 4+n > len(b) {
		n = len(b) - 4
	}
	return ascii(b[4 : 4+n]), nil
}

// Capacity is the result of READ CAPACITY.
type Capacity struct {
	LastLBA   uint64 // address of the last block
	BlockSize uint32 // bytes per logical block
}

// Blocks is the number of logical blocks.
func (c Capacity) Blocks() uint64 { return c.LastLBA + 1 }

// ParseCapacity10 decodes READ CAPACITY(10) data (SBC-3 §5.15.2). A LastLBA
// of 0xffffffff means "use READ CAPACITY(16)".
func ParseCapacity10(b []byte) (Capacity, error) {
	if len(b) < 8 {
		return Capacity{}, fmt.Errorf("scsi: READ CAPACITY(10) data is %d bytes, need 8", len(b))
	}
	return Capacity{uint64(binary.BigEndian.Uint32(b)), binary.BigEndian.Uint32(b[4:])}, nil
}

// ParseCapacity16 decodes READ CAPACITY(16) data (SBC-3 §5.16.2).
func ParseCapacity16(b []byte) (Capacity, error) {
	if len(b) < 12 {
		return Capacity{}, fmt.Errorf("scsi: READ CAPACITY(16) data is %d bytes, need 12", len(b))
	}
	return Capacity{binary.BigEndian.Uint64(b), binary.BigEndian.Uint32(b[8:])}, nil
}

// ParseReportLUNs decodes REPORT LUNS parameter data (SPC-4 §6.33.2).
func ParseReportLUNs(b []byte) ([][8]byte, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("scsi: REPORT LUNS data is %d bytes, need 8", len(b))
	}
	n := int(binary.BigEndian.Uint32(b)) / 8
	var luns [][8]byte
	for i := 0; i < n && 8+8*i+8 <= len(b); i++ {
		luns = append(luns, [8]byte(b[8+8*i:]))
	}
	return luns, nil
}

// ModeSenseWriteProtected reports the WP bit of a MODE SENSE(6) header
// (SBC-3 §6.3.1: device-specific parameter bit 7).
func ModeSenseWriteProtected(b []byte) (bool, error) {
	if len(b) < 4 {
		return false, fmt.Errorf("scsi: MODE SENSE(6) data is %d bytes, need 4", len(b))
	}
	return b[2]&0x80 != 0, nil
}
