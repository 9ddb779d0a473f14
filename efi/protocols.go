//go:build tamago && arm64

package efi

import (
	"errors"
	"unsafe"
)

// Console output (EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL, §12.4): OutputString is
// at offset 8. conOutString is called from Printk, on any stack, so it
// uses callRaw and static memory only.

var conBuf [256]uint16

//go:nosplit
func conOutString(n int) {
	out := uintptr(load64(systemTable + stConOut))
	if out == 0 {
		return
	}
	conBuf[n] = 0
	a := [8]uintptr{out, uintptr(unsafe.Pointer(&conBuf[0]))}
	callRaw(uintptr(load64(out+8)), &a)
}

var (
	conLen  int
	utfNeed int    // continuation bytes still expected
	utfRune uint32 // code point being decoded
)

// ConsoleWrite buffers one byte of UTF-8 console output, turning "\n" into
// "\r\n" and UTF-8 into UCS-2 (characters outside the BMP become '?'),
// and writes the buffer to ConOut at the end of each line or when full.
//
//go:nosplit
func ConsoleWrite(c byte) {
	switch {
	case c < 0x80:
		utfNeed = 0
	case c&0xc0 == 0x80: // continuation
		if utfNeed == 0 {
			c = '?'
			break
		}
		utfRune = utfRune<<6 | uint32(c&0x3f)
		if utfNeed--; utfNeed > 0 {
			return
		}
		if utfRune > 0xffff {
			utfRune = '?'
		}
		conPut(uint16(utfRune))
		return
	case c&0xe0 == 0xc0:
		utfNeed, utfRune = 1, uint32(c&0x1f)
		return
	case c&0xf0 == 0xe0:
		utfNeed, utfRune = 2, uint32(c&0x0f)
		return
	default:
		utfNeed, utfRune = 3, uint32(c&0x07)
		return
	}
	if c == '\n' {
		conPut('\r')
	}
	conPut(uint16(c))
	if c == '\n' {
		ConsoleFlush()
	}
}

//go:nosplit
func conPut(u uint16) {
	conBuf[conLen] = u
	conLen++
	if conLen >= len(conBuf)-3 {
		ConsoleFlush()
	}
}

// ConsoleFlush writes out buffered console output.
//
//go:nosplit
func ConsoleFlush() {
	if conLen > 0 {
		conOutString(conLen)
		conLen = 0
	}
}

// Key is an EFI_INPUT_KEY (§12.3.3): a scan code for special keys or a
// UCS-2 character.
type Key struct {
	ScanCode    uint16
	UnicodeChar uint16
}

// Scan codes, §12.3 Table 12.4.
const (
	ScanUp     = 0x01
	ScanDown   = 0x02
	ScanRight  = 0x03
	ScanLeft   = 0x04
	ScanHome   = 0x05
	ScanEnd    = 0x06
	ScanInsert = 0x07
	ScanDelete = 0x08
	ScanEsc    = 0x17
)

// ReadKey polls ConIn's ReadKeyStroke (§12.3.3). ok is false when no key
// is waiting.
func ReadKey() (k Key, ok bool, err error) {
	in := uintptr(load64(systemTable + stConIn))
	if in == 0 {
		return k, false, errors.New("efi: no console input")
	}
	p := alloc[Key]()
	s := Call(fn(in, 8), in, ptr(p))
	if s == NotReady {
		return k, false, nil
	}
	if err := wrap("SimpleTextInput.ReadKeyStroke", s); err != nil {
		return k, false, err
	}
	return *p, true, nil
}

// LoadedImage is the part of EFI_LOADED_IMAGE_PROTOCOL (§9.1.1) snp-go uses.
type LoadedImage struct {
	DeviceHandle Handle
	FilePath     DevicePath
	LoadOptions  string
	ImageBase    uintptr
	ImageSize    uint64
}

// Image returns snp-go's own Loaded Image data.
func Image() (*LoadedImage, error) {
	li, err := HandleProtocol(ImageHandle(), &LoadedImageProtocolGUID)
	if err != nil {
		return nil, err
	}
	l := &LoadedImage{
		DeviceHandle: Handle(load64(li + 24)),
		ImageBase:    uintptr(load64(li + 64)),
		ImageSize:    load64(li + 72),
	}
	if fp := uintptr(load64(li + 32)); fp != 0 {
		l.FilePath, _, _ = ParseDevicePath(unsafe.Slice((*byte)(unsafe.Pointer(fp)), 4096))
	}
	if n, p := load32(li+48), uintptr(load64(li+56)); n > 0 && p != 0 {
		u := unsafe.Slice((*uint16)(unsafe.Pointer(p)), n/2)
		l.LoadOptions = GoString(uintptr(unsafe.Pointer(&u[0])))
	}
	return l, nil
}

// HandleDevicePath returns the device path installed on h.
func HandleDevicePath(h Handle) (DevicePath, error) {
	p, err := HandleProtocol(h, &DevicePathProtocolGUID)
	if err != nil {
		return nil, err
	}
	dp, _, err := ParseDevicePath(unsafe.Slice((*byte)(unsafe.Pointer(p)), 64<<10))
	return dp, err
}

// RNG (EFI_RNG_PROTOCOL, §37.5): GetRNG at offset 8. Used by the runtime
// before it is initialised, hence static memory and callRaw.

var rngIface uintptr
var rngOut uintptr

// RNGStatus is the status of the last failed EFI_RNG_PROTOCOL call, for
// diagnostics.
var RNGStatus Status

// InitRNG locates EFI_RNG_PROTOCOL and reports whether it is present.
//
//go:nosplit
func InitRNG() bool {
	if rngIface != 0 {
		return true
	}
	a := [8]uintptr{uintptr(unsafe.Pointer(&RNGProtocolGUID)), 0, uintptr(unsafe.Pointer(&rngOut))}
	if s := callRaw(uintptr(load64(bs()+bsLocateProtocol)), &a); s.IsError() {
		RNGStatus = s
		return false
	}
	rngIface = rngOut
	return rngIface != 0
}

// GetRNG fills b from EFI_RNG_PROTOCOL with the default algorithm and
// reports success. b must not be on a goroutine stack that can move while
// the call runs (it cannot: callRaw accepts no callbacks).
//
//go:nosplit
func GetRNG(b []byte) bool {
	if rngIface == 0 || len(b) == 0 {
		return rngIface != 0
	}
	for off := 0; off < len(b); {
		n := len(b) - off
		if n > 4096 {
			n = 4096
		}
		a := [8]uintptr{rngIface, 0, uintptr(n), uintptr(unsafe.Pointer(&b[off]))}
		if s := callRaw(uintptr(load64(rngIface+8)), &a); s.IsError() {
			RNGStatus = s
			return false
		}
		off += n
	}
	return true
}

// SetLoadOptions gives a loaded (not yet started) image its command line
// (EFI_LOADED_IMAGE_PROTOCOL LoadOptions, §9.1.1), as UCS-2 in pool memory.
func SetLoadOptions(h Handle, cmdline string) error {
	li, err := HandleProtocol(h, &LoadedImageProtocolGUID)
	if err != nil {
		return err
	}
	u := UCS2(cmdline)
	mem, err := AllocatePool(2 * len(u))
	if err != nil {
		return err
	}
	copy(unsafe.Slice((*uint16)(mem), len(u)), u)
	store32(li+48, uint32(2*len(u)))
	store64(li+56, uint64(uintptr(mem)))
	return nil
}

// Console is an io.Writer on ConOut that flushes at the end of every
// Write, for prompts and progress lines that do not end in a newline.
// (Printk, behind os.Stdout, flushes only at newlines.)
type Console struct{}

// Write implements io.Writer.
func (Console) Write(p []byte) (int, error) {
	for _, b := range p {
		ConsoleWrite(b)
	}
	ConsoleFlush()
	return len(p), nil
}
