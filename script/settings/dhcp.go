package settings

import (
	"fmt"
	"net/netip"
	"sort"
)

// Lease is what a DHCP exchange yields, in the form the network code has
// it: the raw options of the ACK and the fixed BOOTP header fields
// (RFC 2131 §2).
type Lease struct {
	Options  map[uint8][]byte // option code -> value (RFC 2132); long options already concatenated (RFC 3396)
	YourIP   netip.Addr       // yiaddr
	ServerIP netip.Addr       // siaddr: the next server
	BootFile string           // the "file" header field, used when option 67 is absent

	// Proxy is a ProxyDHCP server's answer to the same exchange, if one
	// was used (PXE 2.1): iPXE's settings scope "proxydhcp"
	// (ProxyDHCPScope). ProxyFrom says where it came from, for the
	// console ("10.0.0.3 port 4011"). ProxyNote says why a ProxyDHCP
	// service that announced itself gave nothing.
	Proxy     *Lease
	ProxyFrom string
	ProxyNote string
}

// ProxyDHCPScope is the settings scope of a ProxyDHCP answer (iPXE's
// PROXYDHCP_SETTINGS_NAME): ${proxydhcp/filename}. Like iPXE's block it
// is a top-level scope registered after the interfaces', so a setting in
// netX.dhcp wins over the same setting from the ProxyDHCP server.
const ProxyDHCPScope = "proxydhcp"

// PXEBSScope is the settings scope of a PXE boot server's answer (iPXE's
// PXEBS_SETTINGS_NAME): ${pxebs/filename}.
const PXEBSScope = "pxebs"

// DHCP option codes (RFC 2132) with special handling.
const (
	optPad      = 0
	optEnd      = 255
	optBootFile = 67
)

// DecodeEncapsulated splits the value of an encapsulating option (43,
// 175) into its sub-options: a sequence of code, length, value, where
// code 0 is a single pad byte and code 255 ends the list (RFC 2132 §8.4).
// A sub-option repeated is concatenated (RFC 3396 §7). Data is network
// input: a truncated sub-option is an error.
func DecodeEncapsulated(data []byte) (map[uint8][]byte, error) {
	out := map[uint8][]byte{}
	for i := 0; i < len(data); {
		code := data[i]
		if code == optPad {
			i++
			continue
		}
		if code == optEnd {
			break
		}
		if i+1 >= len(data) {
			return nil, fmt.Errorf("encapsulated DHCP option %d at offset %d: length byte missing", code, i)
		}
		n := int(data[i+1])
		if i+2+n > len(data) {
			return nil, fmt.Errorf("encapsulated DHCP option %d at offset %d: length %d runs past the end (%d bytes)", code, i, n, len(data))
		}
		out[code] = append(append([]byte{}, out[code]...), data[i+2:i+2+n]...)
		i += 2 + n
	}
	return out, nil
}

// ApplyDHCP replaces the contents of scope (for example "net0.dhcp") with
// the lease: every option under its code, the sub-options of options 43
// and 175 under "43.N" and "175.N" as well, yiaddr as "ip" (175.2) and
// siaddr as "next-server" (175.3) the way iPXE maps the BOOTP header
// (src/net/dhcppkt.c), and the header's file field as "filename" when
// option 67 is absent. A malformed encapsulated option is kept raw and
// reported in the returned error; everything else is still applied.
func ApplyDHCP(s *Store, scope string, l Lease) error {
	if err := s.ClearScope(scope); err != nil {
		return err
	}
	var firstErr error
	codes := make([]int, 0, len(l.Options))
	for c := range l.Options {
		codes = append(codes, int(c))
	}
	sort.Ints(codes)
	for _, ci := range codes {
		c := uint8(ci)
		v := l.Options[c]
		if c == optPad || c == optEnd {
			continue
		}
		if err := s.StoreRaw(tagRef(scope, Tag(c)), v, nil); err != nil {
			return err
		}
		if c != OptVendorEncap && c != OptIPXEEncap {
			continue
		}
		subs, err := DecodeEncapsulated(v)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("DHCP option %d: %w", c, err)
			}
			continue
		}
		for sc, sv := range subs {
			if err := s.StoreRaw(tagRef(scope, EncapTag(c, sc)), sv, nil); err != nil {
				return err
			}
		}
	}
	if l.YourIP.Is4() && !l.YourIP.IsUnspecified() {
		b := l.YourIP.As4()
		if err := s.StoreRaw(tagRef(scope, EncapTag(OptIPXEEncap, 2)), b[:], nil); err != nil {
			return err
		}
	}
	if l.ServerIP.Is4() && !l.ServerIP.IsUnspecified() {
		b := l.ServerIP.As4()
		if err := s.StoreRaw(tagRef(scope, EncapTag(OptIPXEEncap, 3)), b[:], nil); err != nil {
			return err
		}
	}
	if _, ok := l.Options[optBootFile]; !ok && l.BootFile != "" {
		if err := s.StoreRaw(tagRef(scope, optBootFile), []byte(l.BootFile), nil); err != nil {
			return err
		}
	}
	return firstErr
}

func tagRef(scope string, t Tag) Ref {
	r := refForKey(t.String())
	r.Scope = scope
	return r
}
