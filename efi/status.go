package efi

import "fmt"

// Status is an EFI_STATUS (UEFI 2.10 §Appendix D "Status Codes"). Error
// codes have the high bit set; warnings do not.
type Status uint64

const errorBit = 1 << 63

// Status codes, UEFI 2.10 Appendix D, Tables D.3 (success), D.4 (errors)
// and D.5 (warnings).
const (
	Success Status = 0

	LoadError           Status = errorBit | 1
	InvalidParameter    Status = errorBit | 2
	Unsupported         Status = errorBit | 3
	BadBufferSize       Status = errorBit | 4
	BufferTooSmall      Status = errorBit | 5
	NotReady            Status = errorBit | 6
	DeviceError         Status = errorBit | 7
	WriteProtected      Status = errorBit | 8
	OutOfResources      Status = errorBit | 9
	VolumeCorrupted     Status = errorBit | 10
	VolumeFull          Status = errorBit | 11
	NoMedia             Status = errorBit | 12
	MediaChanged        Status = errorBit | 13
	NotFound            Status = errorBit | 14
	AccessDenied        Status = errorBit | 15
	NoResponse          Status = errorBit | 16
	NoMapping           Status = errorBit | 17
	Timeout             Status = errorBit | 18
	NotStarted          Status = errorBit | 19
	AlreadyStarted      Status = errorBit | 20
	Aborted             Status = errorBit | 21
	ICMPError           Status = errorBit | 22
	TFTPError           Status = errorBit | 23
	ProtocolError       Status = errorBit | 24
	IncompatibleVersion Status = errorBit | 25
	SecurityViolation   Status = errorBit | 26
	CRCError            Status = errorBit | 27
	EndOfMedia          Status = errorBit | 28
	EndOfFile           Status = errorBit | 31
	InvalidLanguage     Status = errorBit | 32
	CompromisedData     Status = errorBit | 33
	IPAddressConflict   Status = errorBit | 34
	HTTPError           Status = errorBit | 35

	WarnUnknownGlyph   Status = 1
	WarnDeleteFailure  Status = 2
	WarnWriteFailure   Status = 3
	WarnBufferTooSmall Status = 4
	WarnStaleData      Status = 5
	WarnFileSystem     Status = 6
	WarnResetRequired  Status = 7
)

var statusNames = map[Status]string{
	Success:             "EFI_SUCCESS",
	LoadError:           "EFI_LOAD_ERROR",
	InvalidParameter:    "EFI_INVALID_PARAMETER",
	Unsupported:         "EFI_UNSUPPORTED",
	BadBufferSize:       "EFI_BAD_BUFFER_SIZE",
	BufferTooSmall:      "EFI_BUFFER_TOO_SMALL",
	NotReady:            "EFI_NOT_READY",
	DeviceError:         "EFI_DEVICE_ERROR",
	WriteProtected:      "EFI_WRITE_PROTECTED",
	OutOfResources:      "EFI_OUT_OF_RESOURCES",
	VolumeCorrupted:     "EFI_VOLUME_CORRUPTED",
	VolumeFull:          "EFI_VOLUME_FULL",
	NoMedia:             "EFI_NO_MEDIA",
	MediaChanged:        "EFI_MEDIA_CHANGED",
	NotFound:            "EFI_NOT_FOUND",
	AccessDenied:        "EFI_ACCESS_DENIED",
	NoResponse:          "EFI_NO_RESPONSE",
	NoMapping:           "EFI_NO_MAPPING",
	Timeout:             "EFI_TIMEOUT",
	NotStarted:          "EFI_NOT_STARTED",
	AlreadyStarted:      "EFI_ALREADY_STARTED",
	Aborted:             "EFI_ABORTED",
	ICMPError:           "EFI_ICMP_ERROR",
	TFTPError:           "EFI_TFTP_ERROR",
	ProtocolError:       "EFI_PROTOCOL_ERROR",
	IncompatibleVersion: "EFI_INCOMPATIBLE_VERSION",
	SecurityViolation:   "EFI_SECURITY_VIOLATION",
	CRCError:            "EFI_CRC_ERROR",
	EndOfMedia:          "EFI_END_OF_MEDIA",
	EndOfFile:           "EFI_END_OF_FILE",
	InvalidLanguage:     "EFI_INVALID_LANGUAGE",
	CompromisedData:     "EFI_COMPROMISED_DATA",
	IPAddressConflict:   "EFI_IP_ADDRESS_CONFLICT",
	HTTPError:           "EFI_HTTP_ERROR",
	WarnUnknownGlyph:    "EFI_WARN_UNKNOWN_GLYPH",
	WarnDeleteFailure:   "EFI_WARN_DELETE_FAILURE",
	WarnWriteFailure:    "EFI_WARN_WRITE_FAILURE",
	WarnBufferTooSmall:  "EFI_WARN_BUFFER_TOO_SMALL",
	WarnStaleData:       "EFI_WARN_STALE_DATA",
	WarnFileSystem:      "EFI_WARN_FILE_SYSTEM",
	WarnResetRequired:   "EFI_WARN_RESET_REQUIRED",
}

// IsError reports whether s is an error code (high bit set).
func (s Status) IsError() bool { return s&errorBit != 0 }

// String returns the specification's name of s, e.g. "EFI_NOT_FOUND".
func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	if s.IsError() {
		return fmt.Sprintf("EFI error %#x", uint64(s&^errorBit))
	}
	return fmt.Sprintf("EFI warning %#x", uint64(s))
}

// Err returns nil for Success and warnings, and an *Error otherwise.
func (s Status) Err() error {
	if !s.IsError() {
		return nil
	}
	return s
}

// Error makes a Status usable as an error.
func (s Status) Error() string { return s.String() }

// Error is a failed firmware call: which call failed and its status.
type Error struct {
	Op     string // e.g. "BootServices.LocateProtocol"
	Status Status
}

func (e *Error) Error() string { return e.Op + ": " + e.Status.String() }

// Unwrap lets errors.Is(err, efi.NotFound) work.
func (e *Error) Unwrap() error { return e.Status }

// wrap turns a failed status into an *Error naming op, or nil.
func wrap(op string, s Status) error {
	if !s.IsError() {
		return nil
	}
	return &Error{Op: op, Status: s}
}
