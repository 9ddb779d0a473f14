package dhcp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/snp-go/snp-go/net/ipstack"
)

// BOOTP field offsets (RFC 2131 section 2, figure 1).
const (
	offSname   = 44
	offFile    = 108
	offOptions = 236
	lenSname   = 64
	lenFile    = 128
)

// Option codes this package interprets (RFC 2132 unless noted).
const (
	optSubnetMask      = 1
	optRouter          = 3
	optDNS             = 6
	optHostname        = 12
	optDomainName      = 15
	optLeaseTime       = 51
	optOverload        = 52 // RFC 2132 section 9.3
	optServerID        = 54
	optDomainSearch    = 119 // RFC 3397
	optClasslessRoutes = 121 // RFC 3442
)

// reply is a parsed server message.
type reply struct {
	msg  *dhcpv4.DHCPv4
	opts map[uint8][]byte // options incl. overloaded sname/file, concatenated (RFC 3396)
	// sname/file are the fixed fields unless they carry options.
	sname, file string
}

// parseReply decodes a BOOTREPLY. It applies option overload (option 52):
// options found in the file field follow those of the options field, then
// those of sname (RFC 3396 section 7).
func parseReply(b []byte) (*reply, error) {
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("malformed DHCP message: %w", err)
	}
	if m.OpCode != dhcpv4.OpcodeBootReply {
		return nil, errors.New("not a BOOTREPLY")
	}
	r := &reply{msg: m, opts: map[uint8][]byte{}, sname: m.ServerHostName, file: m.BootFileName}
	for k, v := range m.Options {
		r.opts[k] = append([]byte(nil), v...)
	}
	if ov, ok := r.opts[optOverload]; ok && len(ov) == 1 && len(b) >= offOptions {
		if ov[0]&1 != 0 { // file holds options
			if err := parseOptions(b[offFile:offFile+lenFile], r.opts); err != nil {
				return nil, fmt.Errorf("options overloaded into the file field: %w", err)
			}
			r.file = ""
		}
		if ov[0]&2 != 0 { // sname holds options
			if err := parseOptions(b[offSname:offSname+lenSname], r.opts); err != nil {
				return nil, fmt.Errorf("options overloaded into the sname field: %w", err)
			}
			r.sname = ""
		}
	}
	return r, nil
}

// parseOptions decodes code/length/value options from b into opts,
// concatenating repeated codes (RFC 3396). It stops at End (255); Pad (0)
// is skipped.
func parseOptions(b []byte, opts map[uint8][]byte) error {
	for i := 0; i < len(b); {
		code := b[i]
		switch code {
		case 0:
			i++
			continue
		case 255:
			return nil
		}
		if i+1 >= len(b) {
			return fmt.Errorf("option %d: missing length", code)
		}
		n := int(b[i+1])
		if i+2+n > len(b) {
			return fmt.Errorf("option %d: length %d runs past the field", code, n)
		}
		opts[code] = append(opts[code], b[i+2:i+2+n]...)
		i += 2 + n
	}
	return nil
}

func addr4(b []byte) (netip.Addr, bool) {
	if len(b) < 4 {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte(b[:4])), true
}

func addrs4(b []byte) []netip.Addr {
	var out []netip.Addr
	for ; len(b) >= 4; b = b[4:] {
		out = append(out, netip.AddrFrom4([4]byte(b[:4])))
	}
	return out
}

// maskBits returns the prefix length of a contiguous IPv4 mask.
func maskBits(b []byte) (int, bool) {
	if len(b) != 4 {
		return 0, false
	}
	v := binary.BigEndian.Uint32(b)
	n := 0
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	return n, v == 0
}

// classfulBits is the historical default mask for a (RFC 791 classes),
// used when the server sends no option 1.
func classfulBits(a netip.Addr) int {
	switch b := a.As4()[0]; {
	case b < 128:
		return 8
	case b < 192:
		return 16
	default:
		return 24
	}
}

// classlessRoutes decodes option 121 (RFC 3442 section 2): width, the
// significant octets of the destination, router.
func classlessRoutes(b []byte) ([]ipstack.Route, error) {
	var rs []ipstack.Route
	for len(b) > 0 {
		w := int(b[0])
		if w > 32 {
			return nil, fmt.Errorf("route width %d > 32", w)
		}
		sig := (w + 7) / 8
		if len(b) < 1+sig+4 {
			return nil, errors.New("truncated route")
		}
		var d [4]byte
		copy(d[:], b[1:1+sig])
		gw := netip.AddrFrom4([4]byte(b[1+sig : 1+sig+4]))
		r := ipstack.Route{Dst: netip.PrefixFrom(netip.AddrFrom4(d), w).Masked()}
		if !gw.IsUnspecified() {
			r.Gateway = gw
		}
		rs = append(rs, r)
		b = b[1+sig+4:]
	}
	return rs, nil
}

// domainSearch decodes option 119 (RFC 3397: RFC 1035 names, with
// compression pointers relative to the start of the option data).
func domainSearch(b []byte) ([]string, error) {
	var out []string
	for off := 0; off < len(b); {
		name, next, err := readName(b, off)
		if err != nil {
			return out, err
		}
		out = append(out, name)
		off = next
	}
	return out, nil
}

// readName reads one RFC 1035 section 4.1.4 name at off; next is the offset
// after it in b (after the first pointer, if any).
func readName(b []byte, off int) (string, int, error) {
	var labels []string
	next := -1
	for hops := 0; ; hops++ {
		if hops > len(b) {
			return "", 0, errors.New("domain search: pointer loop")
		}
		if off >= len(b) {
			return "", 0, errors.New("domain search: truncated name")
		}
		l := int(b[off])
		switch {
		case l == 0:
			if next < 0 {
				next = off + 1
			}
			return strings.Join(labels, "."), next, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return "", 0, errors.New("domain search: truncated pointer")
			}
			if next < 0 {
				next = off + 2
			}
			off = (l&0x3f)<<8 | int(b[off+1])
		case l&0xc0 != 0:
			return "", 0, fmt.Errorf("domain search: bad label type %#x", l)
		default:
			if off+1+l > len(b) {
				return "", 0, errors.New("domain search: truncated label")
			}
			labels = append(labels, string(b[off+1:off+1+l]))
			off += 1 + l
		}
	}
}

// configFrom derives the interface configuration from an ACK.
func configFrom(yiaddr netip.Addr, opts map[uint8][]byte) ipstack.Config {
	bits, ok := maskBits(opts[optSubnetMask])
	if !ok {
		bits = classfulBits(yiaddr)
	}
	c := ipstack.Config{Address: netip.PrefixFrom(yiaddr, bits)}
	if gws := addrs4(opts[optRouter]); len(gws) > 0 {
		c.Gateway = gws[0]
	}
	if rs, err := classlessRoutes(opts[optClasslessRoutes]); err == nil {
		c.Routes = rs
	}
	c.DNS = addrs4(opts[optDNS])
	c.Domain = strings.TrimRight(string(opts[optDomainName]), "\x00")
	if c.Domain == "" {
		if s, _ := domainSearch(opts[optDomainSearch]); len(s) > 0 {
			c.Domain = s[0]
		}
	}
	return c
}
