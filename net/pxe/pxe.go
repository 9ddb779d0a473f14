// Package pxe decodes the PXE vendor options a PXE-aware DHCP or
// ProxyDHCP server puts in DHCP option 43 (Intel PXE specification 2.1,
// "PXE DHCP options"): the boot menu, its prompt and where the boot
// servers are, and encodes the boot item a client asks a boot server for.
// It has no dependencies: the script engine shows the menu, net/dhcp
// talks to the boot servers.
package pxe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Sub-option codes of option 43 (PXE 2.1; iPXE's DHCP_PXE_* in dhcp.h).
const (
	SubDiscoveryControl = 6  // PXE_DISCOVERY_CONTROL: bit field below
	SubMulticastAddr    = 7  // DISCOVERY_MCAST_ADDR
	SubBootServers      = 8  // PXE_BOOT_SERVERS: type, count, addresses...
	SubBootMenu         = 9  // PXE_BOOT_MENU: type, length, description...
	SubMenuPrompt       = 10 // PXE_MENU_PROMPT: timeout, text
	SubBootItem         = 71 // PXE_BOOT_ITEM: type, layer
)

// Discovery control bits (sub-option 6).
const (
	NoBroadcast  = 1 << 0 // do not broadcast boot server requests
	NoMulticast  = 1 << 1 // do not multicast them
	OnlyListed   = 1 << 2 // accept answers only from the listed boot servers
	SkipIfFile   = 1 << 3 // a boot file is present: skip the menu and discovery
	WaitForever  = 255    // a prompt timeout of 255 s waits for a choice
	BroadcastDst = "255.255.255.255"
)

// MenuItem is one boot menu entry. Type 0 is "local boot".
type MenuItem struct {
	Type uint16
	Desc string
}

// Server lists the boot servers of one type.
type Server struct {
	Type  uint16
	Addrs []netip.Addr
}

// Options are the decoded PXE sub-options.
type Options struct {
	Control   byte
	Multicast netip.Addr // zero if absent
	Servers   []Server
	Menu      []MenuItem
	// PromptText and PromptTimeout come from sub-option 10; HasPrompt
	// says whether it was there. A timeout of 255 means wait forever.
	HasPrompt     bool
	PromptTimeout int
	PromptText    string
}

// Parse decodes option 43's value. Data is network input: anything
// truncated is an error naming the sub-option.
func Parse(opt43 []byte) (Options, error) {
	var o Options
	subs := map[byte][]byte{}
	for i := 0; i < len(opt43); {
		c := opt43[i]
		if c == 0 {
			i++
			continue
		}
		if c == 255 {
			break
		}
		if i+1 >= len(opt43) || i+2+int(opt43[i+1]) > len(opt43) {
			return o, fmt.Errorf("PXE option 43: sub-option %d at offset %d runs past the end (%d bytes)", c, i, len(opt43))
		}
		n := int(opt43[i+1])
		subs[c] = append(subs[c], opt43[i+2:i+2+n]...)
		i += 2 + n
	}
	if v := subs[SubDiscoveryControl]; len(v) > 0 {
		o.Control = v[0]
	}
	if v := subs[SubMulticastAddr]; len(v) >= 4 {
		o.Multicast = netip.AddrFrom4([4]byte(v[:4]))
	}
	for b := subs[SubBootServers]; len(b) > 0; {
		if len(b) < 3 || len(b) < 3+4*int(b[2]) {
			return o, errors.New("PXE boot server list (43.8): truncated entry")
		}
		s := Server{Type: binary.BigEndian.Uint16(b)}
		for k := 0; k < int(b[2]); k++ {
			s.Addrs = append(s.Addrs, netip.AddrFrom4([4]byte(b[3+4*k:7+4*k])))
		}
		o.Servers = append(o.Servers, s)
		b = b[3+4*int(b[2]):]
	}
	for b := subs[SubBootMenu]; len(b) > 0; {
		if len(b) < 3 || len(b) < 3+int(b[2]) {
			return o, errors.New("PXE boot menu (43.9): truncated item")
		}
		o.Menu = append(o.Menu, MenuItem{Type: binary.BigEndian.Uint16(b), Desc: string(b[3 : 3+int(b[2])])})
		b = b[3+int(b[2]):]
	}
	if v, ok := subs[SubMenuPrompt]; ok && len(v) > 0 {
		o.HasPrompt, o.PromptTimeout, o.PromptText = true, int(v[0]), string(v[1:])
	}
	return o, nil
}

// Targets returns where a boot server request for type goes, in order
// (iPXE's start_pxebs): the multicast address unless NoMulticast, the
// broadcast address unless NoBroadcast, then the listed servers of that
// type; and, with OnlyListed, the servers whose answers are accepted
// (nil: any).
func (o Options) Targets(typ uint16) (attempt, accept []netip.Addr) {
	if o.Control&NoMulticast == 0 && o.Multicast.IsValid() && !o.Multicast.IsUnspecified() {
		attempt = append(attempt, o.Multicast)
	}
	if o.Control&NoBroadcast == 0 {
		attempt = append(attempt, netip.MustParseAddr(BroadcastDst))
	}
	var listed []netip.Addr
	for _, s := range o.Servers {
		if s.Type == typ {
			listed = append(listed, s.Addrs...)
		}
	}
	attempt = append(attempt, listed...)
	if o.Control&OnlyListed != 0 {
		accept = append([]netip.Addr{}, listed...)
	}
	return attempt, accept
}

// BootItem is sub-option 71's value asking for type, layer 0.
func BootItem(typ uint16) []byte { return []byte{byte(typ >> 8), byte(typ), 0, 0} }

// ItemType decodes sub-option 71 from option 43 (ok false if absent).
func ItemType(opt43 []byte) (uint16, bool) {
	for i := 0; i+1 < len(opt43); {
		c, n := opt43[i], int(opt43[i+1])
		if c == 0 {
			i++
			continue
		}
		if c == 255 || i+2+n > len(opt43) {
			return 0, false
		}
		if c == SubBootItem && n >= 2 {
			return binary.BigEndian.Uint16(opt43[i+2:]), true
		}
		i += 2 + n
	}
	return 0, false
}
