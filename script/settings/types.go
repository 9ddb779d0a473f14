// Package settings is snp-go's implementation of iPXE's settings model:
// values are stored as raw bytes in a tree of scopes ("net0", "net0.dhcp",
// the global scope) and a type is applied when a value is written from or
// read into text. Names follow iPXE: "[scope/]name[:type]", where name may
// be a well-known name ("filename"), a DHCP option number ("67") or an
// encapsulated DHCP option ("175.190").
//
// The package has no firmware or network dependencies.
package settings

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
)

// Type converts between a setting's raw bytes and its text form.
type Type struct {
	// Name is the type name as written after ':' in a setting name.
	Name string
	// Parse turns text into raw bytes.
	Parse func(text string) ([]byte, error)
	// Format turns raw bytes into text.
	Format func(raw []byte) (string, error)

	width  int  // integer types: size in bytes; 0 for non-integer types
	signed bool // integer types: signed
}

// IsNumeric reports whether t is one of the integer types (int8..uint32),
// the types `inc` can count with.
func (t *Type) IsNumeric() bool { return t.width != 0 }

// ErrInvalid is returned (wrapped) when text does not parse as the
// requested type or raw bytes do not fit it.
var ErrInvalid = errors.New("invalid value for setting type")

func invalid(t, format string, a ...any) error {
	return fmt.Errorf("%w %s: %s", ErrInvalid, t, fmt.Sprintf(format, a...))
}

// The setting types, named as in iPXE (src/core/settings.c).
var (
	String    = &Type{Name: "string", Parse: parseString, Format: formatString}
	URIString = &Type{Name: "uristring", Parse: parseURIString, Format: formatURIString}
	IPv4      = &Type{Name: "ipv4", Parse: parseIPv4, Format: formatIPv4}
	Hex       = &Type{Name: "hex", Parse: hexParser(':'), Format: hexFormatter(':')}
	HexHyp    = &Type{Name: "hexhyp", Parse: hexParser('-'), Format: hexFormatter('-')}
	HexRaw    = &Type{Name: "hexraw", Parse: hexParser(0), Format: hexFormatter(0)}
	Base64    = &Type{Name: "base64", Parse: parseBase64, Format: formatBase64}
	UUID      = &Type{Name: "uuid", Parse: parseUUID, Format: formatUUID}
	Int8      = intType("int8", 1, true)
	Int16     = intType("int16", 2, true)
	Int32     = intType("int32", 4, true)
	Uint8     = intType("uint8", 1, false)
	Uint16    = intType("uint16", 2, false)
	Uint32    = intType("uint32", 4, false)
)

var types = []*Type{String, URIString, IPv4, Hex, HexHyp, HexRaw, Base64, UUID,
	Int8, Int16, Int32, Uint8, Uint16, Uint32}

// TypeByName returns the type called name, or nil.
func TypeByName(name string) *Type {
	for _, t := range types {
		if t.Name == name {
			return t
		}
	}
	return nil
}

// TypeNames lists the supported type names.
func TypeNames() []string {
	n := make([]string, len(types))
	for i, t := range types {
		n[i] = t.Name
	}
	return n
}

func parseString(s string) ([]byte, error) { return []byte(s), nil }

// formatString returns the raw bytes as text. Like iPXE, which hands the
// value around as a C string, the text ends at the first NUL byte.
func formatString(raw []byte) (string, error) {
	if i := strings.IndexByte(string(raw), 0); i >= 0 {
		raw = raw[:i]
	}
	return string(raw), nil
}

// parseURIString decodes %XX escapes; a '%' not followed by hex digits is
// kept literally (iPXE uri_decode).
func parseURIString(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			n, v := 0, 0
			for n < 2 && i+1+n < len(s) {
				d := hexDigit(s[i+1+n])
				if d < 0 {
					break
				}
				v = v<<4 | d
				n++
			}
			if n > 0 {
				c = byte(v)
				i += n
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// formatURIString escapes what iPXE's uri_encode escapes for field 0:
// non-printing characters, space, '%' and "/#:@?=&+".
func formatURIString(raw []byte) (string, error) {
	var b strings.Builder
	for _, c := range raw {
		if c <= ' ' || c >= 0x7f || c == '%' || strings.IndexByte("/#:@?=&+", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func parseIPv4(s string) ([]byte, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return nil, invalid("ipv4", "%q is not a dotted-quad IPv4 address", s)
	}
	b := a.As4()
	return b[:], nil
}

// formatIPv4 shows the first address of the value (a DHCP option such as
// routers or DNS servers may list several), as iPXE does.
func formatIPv4(raw []byte) (string, error) {
	if len(raw) < 4 {
		return "", invalid("ipv4", "%d bytes, need 4", len(raw))
	}
	return netip.AddrFrom4([4]byte(raw[:4])).String(), nil
}

func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// hexParser decodes pairs of hex digits separated by sep (0: none).
func hexParser(sep byte) func(string) ([]byte, error) {
	name := map[byte]string{':': "hex", '-': "hexhyp", 0: "hexraw"}[sep]
	return func(s string) ([]byte, error) {
		var out []byte
		for i := 0; i < len(s); {
			if len(out) > 0 && sep != 0 {
				if s[i] != sep {
					return nil, invalid(name, "%q: expected %q at offset %d", s, sep, i)
				}
				i++
			}
			if i+2 > len(s) {
				return nil, invalid(name, "%q: odd number of hex digits", s)
			}
			hi, lo := hexDigit(s[i]), hexDigit(s[i+1])
			if hi < 0 || lo < 0 {
				return nil, invalid(name, "%q: %q is not a hex byte", s, s[i:i+2])
			}
			out = append(out, byte(hi<<4|lo))
			i += 2
		}
		return out, nil
	}
}

func hexFormatter(sep byte) func([]byte) (string, error) {
	return func(raw []byte) (string, error) {
		var b strings.Builder
		for i, c := range raw {
			if i > 0 && sep != 0 {
				b.WriteByte(sep)
			}
			fmt.Fprintf(&b, "%02x", c)
		}
		return b.String(), nil
	}
}

func parseBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid("base64", "%v", err)
	}
	return b, nil
}

func formatBase64(raw []byte) (string, error) { return base64.StdEncoding.EncodeToString(raw), nil }

// parseUUID accepts the 8-4-4-4-12 hex form (RFC 9562 §4).
func parseUUID(s string) ([]byte, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, invalid("uuid", "%q is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	return hexParser(0)(strings.ReplaceAll(s, "-", ""))
}

func formatUUID(raw []byte) (string, error) {
	if len(raw) != 16 {
		return "", invalid("uuid", "%d bytes, need 16", len(raw))
	}
	h, _ := hexFormatter(0)(raw)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

func intType(name string, width int, signed bool) *Type {
	t := &Type{Name: name, width: width, signed: signed}
	t.Parse = func(s string) ([]byte, error) {
		v, err := ParseInteger(s)
		if err != nil {
			return nil, invalid(name, "%v", err)
		}
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], v)
		return append([]byte(nil), b[8-width:]...), nil
	}
	t.Format = func(raw []byte) (string, error) {
		v, err := Numeric(raw, signed)
		if err != nil {
			return "", invalid(name, "%v", err)
		}
		if signed {
			return fmt.Sprintf("%d", int64(v)), nil
		}
		if v == 0 {
			return "0", nil // C's "%#lx" prints a bare 0
		}
		return fmt.Sprintf("%#x", v), nil
	}
	return t
}

// Numeric interprets raw as a big-endian integer of up to 8 bytes (DHCP
// carries integers in network byte order, RFC 2132 §2), sign-extending it
// when signed is true.
func Numeric(raw []byte, signed bool) (uint64, error) {
	if len(raw) > 8 {
		return 0, fmt.Errorf("%d bytes is too long for an integer", len(raw))
	}
	var v uint64
	if signed && len(raw) > 0 && raw[0]&0x80 != 0 {
		v = ^uint64(0)
	}
	for _, c := range raw {
		v = v<<8 | uint64(c)
	}
	return v, nil
}

// Encode returns v as raw bytes of type t (which must be numeric).
func (t *Type) Encode(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return append([]byte(nil), b[8-t.width:]...)
}

// ParseInteger parses text the way C's strtoul(text, &end, 0) does when
// the whole string must be consumed: optional sign, then "0x" hex, a
// leading "0" octal, or decimal. A negative value wraps like strtoul.
func ParseInteger(s string) (uint64, error) {
	orig := s
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := uint64(10)
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, s = 16, s[2:]
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	if s == "" {
		return 0, fmt.Errorf("%q: invalid integer value", orig)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := uint64(hexDigit(s[i]))
		if hexDigit(s[i]) < 0 || d >= base {
			return 0, fmt.Errorf("%q: invalid integer value", orig)
		}
		if v > (math.MaxUint64-d)/base {
			return 0, fmt.Errorf("%q: integer out of range", orig)
		}
		v = v*base + d
	}
	if neg {
		v = -v
	}
	return v, nil
}
