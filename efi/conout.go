//go:build tamago && arm64

package efi

import "unsafe"

// Console output (EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL, §12.4). conOutString is
// called from Printk, on any stack, so it uses callRaw and static memory
// only.

var conBuf [256]uint16

//go:nosplit
func conOutString(n int) {
	out := uintptr(load64(systemTable + stConOut))
	if out == 0 {
		return
	}
	conBuf[n] = 0
	a := [8]uintptr{out, uintptr(unsafe.Pointer(&conBuf[0]))}
	callRaw(uintptr(load64(out+conOutOutputString)), &a)
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
		conPutRune(uint16(utfRune))
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

// Console glyph support: EDK2's serial terminal prints every character
// outside its table as '?' (Go's "µs" came out "?s"), U-Boot's passes
// UTF-8 through. TestString (§12.4.5) says which: it is asked once, for
// U+00B5, on the first non-ASCII character; when the console cannot show
// it, a few common characters are written as ASCII instead.
var (
	conTested  bool
	conUnicode bool
	conTest    = [2]uint16{0xb5, 0}
)

// conASCII is what a console without the glyphs shows instead.
var conASCII = [...]struct {
	r uint16
	s [3]byte
}{
	{0xb5, [3]byte{'u'}},             // µ (micro sign)
	{0x3bc, [3]byte{'u'}},            // μ (Greek mu)
	{0x2013, [3]byte{'-'}},           // – (en dash)
	{0x2014, [3]byte{'-', '-'}},      // — (em dash)
	{0x2026, [3]byte{'.', '.', '.'}}, // … (ellipsis)
	{0x2018, [3]byte{'\''}},          // ‘
	{0x2019, [3]byte{'\''}},          // ’
	{0x201c, [3]byte{'"'}},           // “
	{0x201d, [3]byte{'"'}},           // ”
	{0xd7, [3]byte{'x'}},             // × (multiplication sign)
	{0x2192, [3]byte{'-', '>'}},      // → (right arrow)
}

//go:nosplit
func conPutRune(u uint16) {
	if !conTested {
		conTested = true
		if out := uintptr(load64(systemTable + stConOut)); out != 0 {
			a := [8]uintptr{out, uintptr(unsafe.Pointer(&conTest[0]))}
			conUnicode = !callRaw(uintptr(load64(out+conOutTestString)), &a).IsError()
		}
	}
	if conUnicode {
		conPut(u)
		return
	}
	for i := range conASCII {
		if conASCII[i].r == u {
			for _, c := range conASCII[i].s {
				if c != 0 {
					conPut(uint16(c))
				}
			}
			return
		}
	}
	conPut(u)
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
