//go:build tamago && arm64

package efi

import "errors"

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
	s := Call(fn(in, conInReadKeyStroke), in, ptr(p))
	if s == NotReady {
		return k, false, nil
	}
	if err := wrap("SimpleTextInput.ReadKeyStroke", s); err != nil {
		return k, false, err
	}
	return *p, true, nil
}
