package scsi

import "fmt"

// Sense keys (SPC-4 §4.5.6, table 27).
const (
	SenseNoSense        = 0x0
	SenseRecoveredError = 0x1
	SenseNotReady       = 0x2
	SenseMediumError    = 0x3
	SenseHardwareError  = 0x4
	SenseIllegalRequest = 0x5
	SenseUnitAttention  = 0x6
	SenseDataProtect    = 0x7
	SenseAbortedCommand = 0xb
	SenseMiscompare     = 0xe
)

var senseKeyNames = [16]string{
	"NO SENSE", "RECOVERED ERROR", "NOT READY", "MEDIUM ERROR", "HARDWARE ERROR",
	"ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT", "BLANK CHECK", "VENDOR SPECIFIC",
	"COPY ABORTED", "ABORTED COMMAND", "RESERVED (0xc)", "VOLUME OVERFLOW", "MISCOMPARE", "COMPLETED",
}

// Sense is decoded sense data (fixed or descriptor format, SPC-4 §4.5).
type Sense struct {
	Key  byte // sense key
	ASC  byte // additional sense code
	ASCQ byte // additional sense code qualifier
}

// ascNames are the additional sense codes an initiator of a disk meets most
// (SPC-4 annex D.2). Entries with ASCQ 0xff match any qualifier.
var ascNames = map[[2]byte]string{
	{0x04, 0xff}: "logical unit not ready",
	{0x0c, 0x00}: "write error",
	{0x11, 0x00}: "unrecovered read error",
	{0x1a, 0x00}: "parameter list length error",
	{0x20, 0x00}: "invalid command operation code",
	{0x21, 0x00}: "logical block address out of range",
	{0x24, 0x00}: "invalid field in CDB",
	{0x25, 0x00}: "logical unit not supported",
	{0x26, 0x00}: "invalid field in parameter list",
	{0x27, 0xff}: "write protected",
	{0x28, 0x00}: "not ready to ready change, medium may have changed",
	{0x29, 0xff}: "power on, reset, or bus device reset occurred",
	{0x2a, 0xff}: "parameters changed",
	{0x3a, 0xff}: "medium not present",
	{0x3f, 0x0e}: "reported LUNs data has changed",
	{0x3f, 0xff}: "target operating conditions have changed",
	{0x44, 0x00}: "internal target failure",
	{0x47, 0xff}: "SCSI parity error",
	{0x55, 0xff}: "system resource failure",
}

// KeyName names the sense key.
func (s Sense) KeyName() string { return senseKeyNames[s.Key&0xf] }

// Description names the additional sense code, or gives it in hex.
func (s Sense) Description() string {
	if n, ok := ascNames[[2]byte{s.ASC, s.ASCQ}]; ok {
		return n
	}
	if n, ok := ascNames[[2]byte{s.ASC, 0xff}]; ok {
		return n
	}
	return fmt.Sprintf("ASC/ASCQ 0x%02x/0x%02x", s.ASC, s.ASCQ)
}

func (s Sense) String() string {
	return fmt.Sprintf("%s: %s (ASC/ASCQ 0x%02x/0x%02x)", s.KeyName(), s.Description(), s.ASC, s.ASCQ)
}

// ParseSense decodes fixed-format (response codes 0x70/0x71, SPC-4 §4.5.3)
// or descriptor-format (0x72/0x73, SPC-4 §4.5.2) sense data.
func ParseSense(b []byte) (Sense, error) {
	if len(b) < 1 {
		return Sense{}, fmt.Errorf("scsi: empty sense data")
	}
	switch b[0] & 0x7f {
	case 0x70, 0x71:
		if len(b) < 3 {
			return Sense{}, fmt.Errorf("scsi: fixed sense data is %d bytes, need 3", len(b))
		}
		s := Sense{Key: b[2] & 0xf}
		if len(b) >= 14 {
			s.ASC, s.ASCQ = b[12], b[13]
		}
		return s, nil
	case 0x72, 0x73:
		if len(b) < 4 {
			return Sense{}, fmt.Errorf("scsi: descriptor sense data is %d bytes, need 4", len(b))
		}
		return Sense{Key: b[1] & 0xf, ASC: b[2], ASCQ: b[3]}, nil
	}
	return Sense{}, fmt.Errorf("scsi: unknown sense response code 0x%02x", b[0]&0x7f)
}

// StatusError is a command that completed with a status other than GOOD.
type StatusError struct {
	Op     byte // CDB operation code
	Status byte
	Sense  *Sense // decoded sense data for CHECK CONDITION, if any
}

func (e *StatusError) Error() string {
	if e.Sense != nil {
		return fmt.Sprintf("SCSI command 0x%02x: %s, %v", e.Op, StatusName(e.Status), *e.Sense)
	}
	return fmt.Sprintf("SCSI command 0x%02x: %s", e.Op, StatusName(e.Status))
}

// UnitAttention reports whether the error is a UNIT ATTENTION condition,
// which just reports an event (e.g. the reset of a fresh login) and is
// cleared by reporting it: the command should be retried.
func (e *StatusError) UnitAttention() bool {
	return e.Status == StatusCheckCondition && e.Sense != nil && e.Sense.Key == SenseUnitAttention
}

// Transient reports whether retrying the same command later may succeed:
// BUSY, TASK SET FULL, UNIT ATTENTION, a unit becoming ready, or an aborted
// command.
func (e *StatusError) Transient() bool {
	switch e.Status {
	case StatusBusy, StatusTaskSetFull:
		return true
	case StatusCheckCondition:
		if e.Sense == nil {
			return false
		}
		switch e.Sense.Key {
		case SenseUnitAttention, SenseAbortedCommand:
			return true
		case SenseNotReady:
			return e.Sense.ASC == 0x04 && (e.Sense.ASCQ == 0x01 || e.Sense.ASCQ == 0x00)
		}
	}
	return false
}
