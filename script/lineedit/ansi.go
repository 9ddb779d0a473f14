package lineedit

import (
	"unicode/utf8"
)

// Decoder turns the bytes a terminal sends into Keys: UTF-8 characters,
// control characters, and the ANSI X3.64 / ECMA-48 escape sequences for
// cursor and editing keys (CSI "ESC [" and SS3 "ESC O" forms, with or
// without modifier parameters such as "ESC [1;5C").
//
// A lone ESC cannot be told from the start of a sequence until more bytes
// arrive or some time passes; Feed keeps it pending and the caller calls
// Flush when the line has been quiet for a moment.
type Decoder struct {
	buf    []byte
	lastCR bool // swallow the LF of a CR LF pair
}

// Feed decodes p and returns the complete keys it finishes.
func (d *Decoder) Feed(p []byte) []Key {
	d.buf = append(d.buf, p...)
	return d.decode(false)
}

// Pending reports whether an incomplete sequence is buffered.
func (d *Decoder) Pending() bool { return len(d.buf) > 0 }

// Flush gives up waiting for the rest of a sequence: a pending ESC becomes
// KeyEsc, the bytes after it are decoded as ordinary input, and a partial
// UTF-8 character is dropped.
func (d *Decoder) Flush() []Key { return d.decode(true) }

func (d *Decoder) decode(flush bool) []Key {
	var out []Key
	for len(d.buf) > 0 {
		b := d.buf[0]
		if b == 0x0a && d.lastCR {
			d.lastCR = false
			d.buf = d.buf[1:]
			continue
		}
		d.lastCR = false
		switch {
		case b == 0x1b:
			k, n, ok := parseEscape(d.buf)
			if !ok {
				if !flush {
					return out
				}
				k, n = KeyEsc, 1
			}
			if k != 0 {
				out = append(out, k)
			}
			d.buf = d.buf[n:]
		case b == 0x0d || b == 0x0a:
			d.lastCR = b == 0x0d
			out = append(out, KeyEnter)
			d.buf = d.buf[1:]
		case b == 0x7f:
			out = append(out, KeyBackspace)
			d.buf = d.buf[1:]
		case b == 0:
			d.buf = d.buf[1:] // NUL: telnet's CR NUL, or line noise
		case b < 0x80:
			out = append(out, Key(b))
			d.buf = d.buf[1:]
		default:
			if !utf8.FullRune(d.buf) {
				if !flush {
					return out
				}
				d.buf = d.buf[1:]
				continue
			}
			r, n := utf8.DecodeRune(d.buf)
			if r != utf8.RuneError {
				out = append(out, Key(r))
			}
			d.buf = d.buf[n:]
		}
	}
	return out
}

// parseEscape decodes an escape sequence at the start of b (b[0] is ESC).
// It returns the key (0 for a complete but unknown sequence, which is
// dropped), the bytes consumed, and ok=false if b ends before the
// sequence does.
func parseEscape(b []byte) (Key, int, bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	switch b[1] {
	case '[':
		// CSI: parameter bytes 0x30-0x3f, intermediate bytes 0x20-0x2f,
		// one final byte 0x40-0x7e (ECMA-48 §5.4).
		i := 2
		for i < len(b) && b[i] >= 0x20 && b[i] <= 0x3f {
			i++
		}
		if i >= len(b) {
			return 0, 0, false
		}
		final := b[i]
		if final < 0x40 || final > 0x7e {
			// Not a valid sequence: report ESC and resume at '['.
			return KeyEsc, 1, true
		}
		params := b[2:i]
		first := 0
		for _, c := range params {
			if c < '0' || c > '9' {
				break
			}
			first = first*10 + int(c-'0')
			if first > 1000 {
				break
			}
		}
		switch final {
		case 'A':
			return KeyUp, i + 1, true
		case 'B':
			return KeyDown, i + 1, true
		case 'C':
			return KeyRight, i + 1, true
		case 'D':
			return KeyLeft, i + 1, true
		case 'H':
			return KeyHome, i + 1, true
		case 'F':
			return KeyEnd, i + 1, true
		case '~':
			// VT220 editing keys.
			switch first {
			case 1, 7:
				return KeyHome, i + 1, true
			case 2:
				return KeyInsert, i + 1, true
			case 3:
				return KeyDelete, i + 1, true
			case 4, 8:
				return KeyEnd, i + 1, true
			case 5:
				return KeyPageUp, i + 1, true
			case 6:
				return KeyPageDown, i + 1, true
			}
		}
		return 0, i + 1, true
	case 'O':
		// SS3: application cursor keys mode.
		if len(b) < 3 {
			return 0, 0, false
		}
		switch b[2] {
		case 'A':
			return KeyUp, 3, true
		case 'B':
			return KeyDown, 3, true
		case 'C':
			return KeyRight, 3, true
		case 'D':
			return KeyLeft, 3, true
		case 'H':
			return KeyHome, 3, true
		case 'F':
			return KeyEnd, 3, true
		}
		return 0, 3, true
	}
	// ESC followed by anything else (Alt+key, or Esc typed before a key):
	// report Esc and decode the next byte on its own.
	return KeyEsc, 1, true
}
