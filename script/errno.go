package script

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// Errno is a command's exit status as iPXE reports it in ${errno}: 0 for
// success, the number given to `exit`, or an error code laid out as in
// iPXE's src/include/errno.h: bits 30-24 the POSIX-like error class and
// bits 7-0 the EFI status it maps to (src/include/ipxe/errno/efi.h, with
// the EFI error bit folded into bit 7). iPXE also encodes the source
// file in bits 23-8; snp-go leaves those bits zero.
type Errno uint32

func mkErrno(posix uint8, efiStatus uint8) Errno {
	return Errno(posix)<<24 | Errno(0x80|efiStatus)
}

// EFI status codes (UEFI spec 2.10 Appendix D) used by the mapping.
const (
	efiLoadError        = 1
	efiInvalidParameter = 2
	efiUnsupported      = 3
	efiBufferTooSmall   = 5
	efiNotReady         = 6
	efiDeviceError      = 7
	efiWriteProtected   = 8
	efiOutOfResources   = 9
	efiVolumeCorrupted  = 10
	efiVolumeFull       = 11
	efiNotFound         = 14
	efiAccessDenied     = 15
	efiNoResponse       = 16
	efiTimeout          = 18
	efiNotStarted       = 19
	efiAlreadyStarted   = 20
	efiAborted          = 21
	efiProtocolError    = 24
)

// Error codes, with iPXE's POSIX class numbers and EFI mappings.
var (
	E2BIG        = mkErrno(0x01, efiBufferTooSmall)
	EACCES       = mkErrno(0x02, efiAccessDenied)
	EADDRINUSE   = mkErrno(0x03, efiAlreadyStarted)
	ECANCELED    = mkErrno(0x0b, efiAborted)
	ECONNREFUSED = mkErrno(0x0e, efiNoResponse)
	ECONNRESET   = mkErrno(0x0f, efiAborted)
	EEXIST       = mkErrno(0x14, efiWriteProtected)
	EHOSTUNREACH = mkErrno(0x17, efiNoResponse)
	EINVAL       = mkErrno(0x1c, efiInvalidParameter)
	EIO          = mkErrno(0x1d, efiProtocolError)
	ELOOP        = mkErrno(0x20, efiVolumeCorrupted)
	ENETUNREACH  = mkErrno(0x28, efiNoResponse)
	ENODEV       = mkErrno(0x2c, efiDeviceError)
	ENOENT       = mkErrno(0x2d, efiNotFound)
	ENOEXEC      = mkErrno(0x2e, efiLoadError)
	ENOMEM       = mkErrno(0x31, efiOutOfResources)
	ENOSPC       = mkErrno(0x34, efiVolumeFull)
	ENOTCONN     = mkErrno(0x38, efiNotStarted)
	ENOTSUP      = mkErrno(0x3c, efiUnsupported)
	ENOTTY       = mkErrno(0x3d, efiUnsupported)
	EPERM        = mkErrno(0x41, efiAccessDenied)
	EPROTO       = mkErrno(0x43, efiProtocolError)
	ERANGE       = mkErrno(0x46, efiBufferTooSmall)
	ETIMEDOUT    = mkErrno(0x4c, efiTimeout)
	EBUSY        = mkErrno(0x0a, efiNoResponse)
	EAGAIN       = mkErrno(0x06, efiNotReady)
)

var errnoText = map[Errno]string{
	E2BIG: "Argument list too long", EACCES: "Permission denied",
	EADDRINUSE: "Address already in use", ECANCELED: "Operation canceled",
	ECONNREFUSED: "Connection refused", ECONNRESET: "Connection reset",
	EEXIST: "File exists", EHOSTUNREACH: "Host is unreachable",
	EINVAL: "Invalid argument", EIO: "Input/output error",
	ELOOP: "Too many levels of symbolic links", ENETUNREACH: "Network unreachable",
	ENODEV: "No such device", ENOENT: "No such file or directory",
	ENOEXEC: "Exec format error", ENOMEM: "Not enough space",
	ENOSPC: "No space left on device", ENOTCONN: "The socket is not connected",
	ENOTSUP: "Operation not supported", ENOTTY: "Inappropriate I/O control operation",
	EPERM: "Operation not permitted", EPROTO: "Protocol error",
	ERANGE: "Result too large", ETIMEDOUT: "Connection timed out",
	EBUSY: "Device or resource busy", EAGAIN: "Resource temporarily unavailable",
}

// String describes the code ("No such file or directory (0x2d00008e)").
func (n Errno) String() string {
	if t, ok := errnoText[n]; ok {
		return fmt.Sprintf("%s (%#x)", t, uint32(n))
	}
	return fmt.Sprintf("status %#x", uint32(n))
}

// Error is a failed command: a status code and what went wrong.
type Error struct {
	Errno Errno
	Err   error
	// Quiet errors are expected outcomes (isset, iseq, exit N) that the
	// executor does not print.
	Quiet bool
	// Said errors are failures iPXE reports with a message of its own
	// ("Could not store "x": ...", "\"abc\": invalid integer value"):
	// the executor prints Err's text alone on a line, as iPXE does,
	// instead of its usual report.
	Said bool
	exit bool // the status of `exit N`
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Errno.String()
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with code n and a formatted message.
func Errorf(n Errno, format string, a ...any) error {
	return &Error{Errno: n, Err: fmt.Errorf(format, a...)}
}

// saidf returns a Said *Error: its message is printed as iPXE prints it.
func saidf(n Errno, format string, a ...any) error {
	return &Error{Errno: n, Err: fmt.Errorf(format, a...), Said: true}
}

func quietError(n Errno, format string, a ...any) error {
	return &Error{Errno: n, Err: fmt.Errorf(format, a...), Quiet: true}
}

// ErrNotAvailable is wrapped by the error of a command whose backend
// (network, SAN, booter, ...) is not present in this build or host.
var ErrNotAvailable = errors.New("not available yet")

// Errnoer is implemented by errors that carry their own status code;
// backends may return such errors to choose the code scripts see.
type Errnoer interface {
	Errno() Errno
}

// StatusOf returns the status code for err: 0 for nil, the code of an
// *Error or Errnoer, and for other errors the closest code (timeouts,
// cancellation, missing files, permissions), else EIO.
func StatusOf(err error) Errno {
	if err == nil {
		return 0
	}
	var se *Error
	if errors.As(err, &se) {
		return se.Errno
	}
	var en Errnoer
	if errors.As(err, &en) {
		return en.Errno()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return ETIMEDOUT
	case errors.Is(err, context.Canceled):
		return ECANCELED
	case errors.Is(err, ErrNotAvailable), errors.Is(err, errors.ErrUnsupported):
		return ENOTSUP
	case errors.Is(err, fs.ErrNotExist):
		return ENOENT
	case errors.Is(err, fs.ErrPermission):
		return EACCES
	}
	return EIO
}

func isQuiet(err error) bool {
	var se *Error
	return errors.As(err, &se) && se.Quiet
}

func isSaid(err error) bool {
	var se *Error
	return errors.As(err, &se) && se.Said
}
