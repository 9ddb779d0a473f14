package settings

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Tag identifies a DHCP option: the option code (RFC 2132), or for an
// option encapsulated in another one (175 = iPXE's options, 43 = vendor
// specific, RFC 2132 §8.4) outer<<8 | inner, written "175.190".
type Tag uint32

// EncapTag returns the tag of option inner encapsulated in option outer.
func EncapTag(outer, inner uint8) Tag { return Tag(outer)<<8 | Tag(inner) }

// String returns the dotted decimal form ("67", "175.190").
func (t Tag) String() string {
	if t > 0xff {
		return fmt.Sprintf("%d.%d", t>>8, t&0xff)
	}
	return strconv.Itoa(int(t))
}

// Encapsulating DHCP options whose contents are decoded into sub-options.
const (
	OptVendorEncap = 43  // RFC 2132 §8.4 vendor specific information
	OptIPXEEncap   = 175 // iPXE's encapsulated options (src/include/ipxe/dhcp.h DHCP_EB_ENCAP)
)

// Def describes a well-known setting: its name, DHCP tag (0 if it has
// none), default type, and whether its value is a secret.
type Def struct {
	Name        string
	Tag         Tag
	Type        *Type
	Secret      bool
	Description string
}

// Defs are the well-known settings, with the names, tags and types iPXE
// gives them (src/core/settings.c, src/net/ipv4.c, src/net/tcp/iscsi.c,
// src/net/udp/dns.c, src/include/ipxe/dhcp.h).
var Defs = []Def{
	{"ip", EncapTag(175, 2), IPv4, false, "IP address (DHCP yiaddr)"},
	{"next-server", EncapTag(175, 3), IPv4, false, "TFTP server (DHCP siaddr)"},
	{"netmask", 1, IPv4, false, "Subnet mask"},
	{"gateway", 3, IPv4, false, "Default gateway"},
	{"dns", 6, IPv4, false, "DNS server"},
	{"syslog", 7, IPv4, false, "Syslog server"},
	{"hostname", 12, String, false, "Host name"},
	{"domain", 15, String, false, "DNS domain"},
	{"root-path", 17, String, false, "SAN root path"},
	{"mtu", 26, Int16, false, "MTU"},
	{"ntp", 42, IPv4, false, "NTP server"},
	{"dhcp-server", 54, IPv4, false, "DHCP server"},
	{"vendor-class", 60, String, false, "DHCP vendor class"},
	{"filename", 67, String, false, "Boot filename"},
	{"user-class", 77, String, false, "DHCP user class"},
	{"static-routes", 121, Hex, false, "Static routes"},
	{"initiator-iqn", 203, String, false, "iSCSI initiator name"},
	{"priority", EncapTag(175, 0x01), Int8, false, "Settings priority"},
	{"keep-san", EncapTag(175, 0x08), Int8, false, "Preserve SAN connection"},
	{"skip-san-boot", EncapTag(175, 0x09), Int8, false, "Do not boot from SAN device"},
	{"scriptlet", EncapTag(175, 0x51), String, false, "Boot scriptlet"},
	{"syslogs", EncapTag(175, 0x55), String, false, "Encrypted syslog server"},
	{"san-retries", EncapTag(175, 0xbb), Int8, false, "SAN retries"},
	{"san-filename", EncapTag(175, 0xbc), String, false, "SAN filename"},
	{"san-drive", EncapTag(175, 0xbd), Uint8, false, "SAN drive number"},
	{"username", EncapTag(175, 0xbe), String, false, "User name"},
	{"password", EncapTag(175, 0xbf), String, true, "Password"},
	{"reverse-username", EncapTag(175, 0xc0), String, false, "Reverse user name"},
	{"reverse-password", EncapTag(175, 0xc1), String, true, "Reverse password"},
	{"uid", EncapTag(175, 0xc2), Uint32, false, "User ID"},
	{"gid", EncapTag(175, 0xc3), Uint32, false, "Group ID"},
	// Per-interface settings (src/net/netdev_settings.c).
	{"mac", 0, Hex, false, "MAC address"},
	{"hwaddr", 0, Hex, false, "Hardware address"},
	{"bustype", 0, String, false, "Bus type"},
	{"busid", 0, Hex, false, "Bus ID"},
	{"linktype", 0, String, false, "Link-layer type"},
	{"chip", 0, String, false, "Chip"},
	{"ifname", 0, String, false, "Interface name"},
	// Built-in settings (src/core/settings.c builtin scope).
	{"errno", 0, Uint32, false, "Last error"},
	{"unixtime", 0, Uint32, false, "Seconds since the Epoch"},
	{"version", 0, String, false, "Version"},
	{"buildarch", 0, String, false, "Build architecture"},
	{"platform", 0, String, false, "Platform"},
	{"cwuri", 0, String, false, "Current working URI"},
	{"cwduri", 0, String, false, "Current working directory URI"},
}

// LookupDef returns the well-known setting called name or carrying tag
// (when tag is not 0), or nil.
func LookupDef(name string, tag Tag) *Def {
	for i := range Defs {
		d := &Defs[i]
		if d.Name == name || (tag != 0 && d.Tag == tag) {
			return d
		}
	}
	return nil
}

// Ref is a parsed setting name "[scope/]name[:type]".
type Ref struct {
	Scope string // scope as written ("net0.dhcp"); "" for the global scope
	Name  string // name as written, without scope and type
	Key   string // canonical name: a well-known name, a dotted tag, or Name
	Tag   Tag    // DHCP tag if Name is numeric or well-known with a tag
	Type  *Type  // type after ':', or nil
	Def   *Def   // well-known setting, or nil
}

// ErrUnknownType is returned (wrapped) for a ":type" suffix that names no
// type.
var ErrUnknownType = errors.New("unknown setting type")

// ParseName parses "[scope/]name[:type]" (iPXE parse_setting_name).
func ParseName(s string) (Ref, error) {
	var r Ref
	rest := s
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		r.Scope, rest = rest[:i], rest[i+1:]
	}
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		tn := rest[i+1:]
		rest = rest[:i]
		if r.Type = TypeByName(tn); r.Type == nil {
			return Ref{}, fmt.Errorf("%q: %w %q (known: %s)", s, ErrUnknownType, tn, strings.Join(TypeNames(), ", "))
		}
	}
	r.Name = rest
	r.Tag = parseTag(rest)
	r.Def = LookupDef(rest, r.Tag)
	switch {
	case r.Def != nil:
		r.Key = r.Def.Name
		r.Tag = r.Def.Tag
	case r.Tag != 0:
		r.Key = r.Tag.String()
	default:
		r.Key = rest
	}
	return r, nil
}

// parseTag reads "67", "0x43" or "175.190" as a tag; anything else is 0.
func parseTag(s string) Tag {
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return 0
	}
	var t Tag
	for _, p := range parts {
		v, err := ParseInteger(p)
		if err != nil || v > 0xff || strings.HasPrefix(p, "-") || strings.HasPrefix(p, "+") {
			return 0
		}
		t = t<<8 | Tag(v)
	}
	return t
}

// IsSecret reports whether a setting's value must not be shown in clear:
// the well-known password settings and anything whose name says
// "password" or "secret".
func (r Ref) IsSecret() bool {
	if r.Def != nil && r.Def.Secret {
		return true
	}
	n := strings.ToLower(r.Key)
	return strings.Contains(n, "password") || strings.Contains(n, "secret")
}
