// Package lineedit is snp-go's console input: a Key type for printable
// runes and special keys, a decoder for the ANSI/VT100 byte sequences a
// serial terminal sends, a key hub that hands keys to readers and turns
// Ctrl-C into an interrupt while a command runs, and a line editor with
// history and completion.
//
// The EFI console yields EFI scan codes and Unicode characters
// (UEFI spec 2.10 §12.3 EFI_SIMPLE_TEXT_INPUT_PROTOCOL); the firmware side
// maps them to Keys and feeds them to a Console with Put.
package lineedit

import (
	"fmt"
	"unicode"
)

// Key is one key press: a Unicode character (printable or an ASCII
// control character such as KeyCtrlC), or one of the special keys above
// the Unicode range.
type Key rune

// Control characters as keys (ASCII).
const (
	KeyCtrlA     Key = 0x01
	KeyCtrlB     Key = 0x02
	KeyCtrlC     Key = 0x03
	KeyCtrlD     Key = 0x04
	KeyCtrlE     Key = 0x05
	KeyCtrlF     Key = 0x06
	KeyBackspace Key = 0x08 // also Ctrl-H; the decoder maps DEL (0x7f) here
	KeyTab       Key = 0x09
	KeyCtrlK     Key = 0x0b
	KeyCtrlL     Key = 0x0c
	KeyEnter     Key = 0x0d // the decoder maps CR, LF and CR LF here
	KeyCtrlN     Key = 0x0e
	KeyCtrlP     Key = 0x10
	KeyCtrlU     Key = 0x15
	KeyCtrlW     Key = 0x17
	KeyEsc       Key = 0x1b
)

// Special keys, numbered above the Unicode range.
const (
	KeyUp Key = 0x110000 + iota
	KeyDown
	KeyRight
	KeyLeft
	KeyHome
	KeyEnd
	KeyInsert
	KeyDelete
	KeyPageUp
	KeyPageDown
)

// Ctrl returns the key Ctrl+c for a letter c ('a'..'z' or 'A'..'Z').
func Ctrl(c rune) Key { return Key(c & 0x1f) }

// IsPrint reports whether k inserts a character into a line.
func (k Key) IsPrint() bool { return k < 0x110000 && unicode.IsPrint(rune(k)) }

var specialNames = map[Key]string{
	KeyUp: "Up", KeyDown: "Down", KeyRight: "Right", KeyLeft: "Left",
	KeyHome: "Home", KeyEnd: "End", KeyInsert: "Insert", KeyDelete: "Delete",
	KeyPageUp: "PageUp", KeyPageDown: "PageDown",
	KeyBackspace: "Backspace", KeyTab: "Tab", KeyEnter: "Enter", KeyEsc: "Esc",
}

// String names the key ("a", "Ctrl-C", "Up").
func (k Key) String() string {
	if n, ok := specialNames[k]; ok {
		return n
	}
	switch {
	case k.IsPrint():
		return string(rune(k))
	case k >= 1 && k < 0x20:
		return "Ctrl-" + string(rune('A'+k-1))
	}
	return fmt.Sprintf("Key(%#x)", int32(k))
}
