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

// IsSigned reports whether t is a signed integer type.
func (t *Type) IsSigned() bool { return t.signed }

// ErrInvalid is returned (wrapped) when text does not parse as the
// requested type or raw bytes do not fit it.
var ErrInvalid = errors.New("invalid value for setting type")

// ErrNoParse is returned (wrapped) by Parse of a type that only formats
// values (busdevfn, as in iPXE): text cannot be stored as it.
var ErrNoParse = errors.New("setting type cannot be parsed from text")

func noParse(name string) func(string) ([]byte, error) {
	return func(string) ([]byte, error) { return nil, fmt.Errorf("%w: %s", ErrNoParse, name) }
}

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
	GUID      = &Type{Name: "guid", Parse: parseGUID, Format: formatGUID}
	BusDevFn  = &Type{Name: "busdevfn", Parse: noParse("busdevfn"), Format: formatBusDevFn}
	Int8      = intType("int8", 1, true)
	Int16     = intType("int16", 2, true)
	Int32     = intType("int32", 4, true)
	Uint8     = intType("uint8", 1, false)
	Uint16    = intType("uint16", 2, false)
	Uint32    = intType("uint32", 4, false)
)

var types = []*Type{String, URIString, IPv4, Hex, HexHyp, HexRaw, Base64, UUID, GUID, BusDevFn,
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

// parseUUID accepts 32 hex digits, a '-' allowed between any two bytes
// (iPXE uuid_aton: hex_decode with an optional '-' separator), so both
// the 8-4-4-4-12 form (RFC 9562 §4) and bare hex work.
func parseUUID(s string) ([]byte, error) {
	var out []byte
	for i := 0; i < len(s); {
		if len(out) > 0 && s[i] == '-' {
			i++
		}
		if i+2 > len(s) || hexDigit(s[i]) < 0 || hexDigit(s[i+1]) < 0 {
			return nil, invalid("uuid", "%q is not a UUID (32 hex digits, '-' between bytes allowed)", s)
		}
		out = append(out, byte(hexDigit(s[i])<<4|hexDigit(s[i+1])))
		i += 2
	}
	if len(out) != 16 {
		return nil, invalid("uuid", "%q has %d bytes, need 16", s, len(out))
	}
	return out, nil
}

func formatUUID(raw []byte) (string, error) {
	if len(raw) != 16 {
		return "", invalid("uuid", "%d bytes, need 16", len(raw))
	}
	h, _ := hexFormatter(0)(raw)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// mangleGUID converts between a UUID's byte order and a GUID's, whose
// first three fields are little-endian (iPXE uuid_mangle; UEFI spec 2.10
// Appendix A).
func mangleGUID(raw []byte) []byte {
	b := append([]byte(nil), raw...)
	b[0], b[1], b[2], b[3] = b[3], b[2], b[1], b[0]
	b[4], b[5] = b[5], b[4]
	b[6], b[7] = b[7], b[6]
	return b
}

// parseGUID reads a UUID and stores it in GUID byte order.
func parseGUID(s string) ([]byte, error) {
	b, err := parseUUID(s)
	if err != nil {
		return nil, err
	}
	return mangleGUID(b), nil
}

// formatGUID shows 16 bytes in GUID byte order as a UUID.
func formatGUID(raw []byte) (string, error) {
	if len(raw) != 16 {
		return "", invalid("guid", "%d bytes, need 16", len(raw))
	}
	return formatUUID(mangleGUID(raw))
}

// formatBusDevFn shows an unsigned integer as a PCI address,
// segment:bus:device.function (iPXE format_busdevfn_setting).
func formatBusDevFn(raw []byte) (string, error) {
	v, err := Numeric(raw, false)
	if err != nil {
		return "", invalid("busdevfn", "%v", err)
	}
	return fmt.Sprintf("%04x:%02x:%02x.%x", v>>16&0xffff, v>>8&0xff, v>>3&0x1f, v&7), nil
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
		// iPXE formats unsigned types with "%#lx", and its vsprintf
		// prints the 0x prefix for zero too ("0x0").
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

// ParseInteger parses text the way iPXE's strtoul(text, &end, 0) does
// when the whole string must be consumed (src/core/string.c): leading
// whitespace, an optional sign, then "0x" hex, a leading "0" octal, or
// decimal. As in iPXE the prefix alone is a number ("0x" is 0), there is
// no range check (the value wraps at 64 bits) and a negative value wraps.
// Only the empty string and text left over after the digits are errors.
func ParseInteger(s string) (uint64, error) {
	orig := s
	if s == "" {
		return 0, fmt.Errorf("%q: invalid integer value", orig)
	}
	s = strings.TrimLeft(s, " \t\n\v\f\r")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := uint64(10)
	if s != "" && s[0] == '0' {
		base, s = 8, s[1:]
		if s != "" && (s[0] == 'x' || s[0] == 'X') {
			base, s = 16, s[1:]
		}
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := hexDigit(s[i])
		if d < 0 || uint64(d) >= base {
			return 0, fmt.Errorf("%q: invalid integer value", orig)
		}
		v = v*base + uint64(d)
	}
	if neg {
		v = -v
	}
	return v, nil
}
