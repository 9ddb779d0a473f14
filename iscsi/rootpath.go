package iscsi

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// DefaultPort is the iSCSI well-known TCP port (IANA "iscsi-target", RFC 7143 §13).
const DefaultPort = 3260

// LUN is an 8-byte SCSI logical unit number as carried in iSCSI PDUs
// (SAM-5 §4.7), e.g. LUN 1 with peripheral addressing is 00 01 00 00 00 00 00 00.
type LUN [8]byte

// ParseLUN parses a LUN the way iPXE's scsi_parse_lun does: up to four
// '-'-separated groups of hexadecimal digits, each giving 16 bits of the LUN
// (first group first), missing groups zero. "" is LUN 0. Like iPXE's
// strtoul, each group may start with white space and a sign ('-' negates,
// modulo 2^16), and has no "0x" prefix.
func ParseLUN(s string) (LUN, error) {
	var l LUN
	p := s
	for i := 0; i < 4; i++ {
		v, rest := ipxeStrtoul(p, 16)
		l[2*i], l[2*i+1] = byte(v>>8), byte(v)
		p = rest
		if p == "" {
			break
		}
		if p[0] != '-' {
			return LUN{}, fmt.Errorf("iscsi: invalid LUN %q: want up to four hexadecimal groups separated by '-' (e.g. 0 or 1 or 0-1)", s)
		}
		p = p[1:]
	}
	if p != "" {
		return LUN{}, fmt.Errorf("iscsi: invalid LUN %q: more than four '-'-separated groups", s)
	}
	return l, nil
}

// String formats the LUN as ParseLUN accepts it: hexadecimal 16-bit groups,
// trailing zero groups left out ("0", "1", "0-1", "4000-0-0-1").
func (l LUN) String() string {
	n := 4
	for n > 1 && l[2*n-2] == 0 && l[2*n-1] == 0 {
		n--
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.FormatUint(uint64(l[2*i])<<8|uint64(l[2*i+1]), 16))
	}
	return b.String()
}

// ipxeStrtoul mirrors iPXE's strtoul (core/string.c) for a fixed base: skip
// white space (" \f\n\r\t\v"), an optional sign, then digits; the value
// wraps modulo 2^64 and '-' negates it. It returns the unparsed rest.
func ipxeStrtoul(s string, base uint64) (uint64, string) {
	s = strings.TrimLeft(s, " \f\n\r\t\v")
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var v uint64
	for s != "" {
		c := s[0]
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case c >= 'a' && c <= 'z':
			d = uint64(c-'a') + 10
		case c >= 'A' && c <= 'Z':
			d = uint64(c-'A') + 10
		default:
			d = base
		}
		if d >= base {
			break
		}
		v = v*base + d
		s = s[1:]
	}
	if neg {
		v = -v
	}
	return v, s
}

// RootPath is an iPXE iSCSI root path,
// iscsi:<server>:<protocol>:<port>:<LUN>:<targetname> (RFC 4173 §5 as iPXE
// reads it in net/tcp/iscsi.c).
type RootPath struct {
	Server   string // host name or IP address, without IPv6 brackets
	Protocol string // kept as written; iPXE (and snp-go) ignore it
	Port     uint16 // DefaultPort when the field was empty or 0
	LUN      LUN
	Target   string // target IQN; may contain ':'
}

// ErrRootPath is wrapped by all ParseRootPath errors.
var ErrRootPath = errors.New("invalid iSCSI root path")

// ParseRootPath parses an iPXE iSCSI root path exactly as iPXE does:
//
//   - iPXE's URI parser first cuts "##params..." and a "#fragment", and the
//     scheme ("iscsi", any case) must be followed by an opaque part (not
//     "/...");
//   - the rest splits at the first four ':' outside '[...]' into server,
//     protocol, port, LUN and target name; the target name keeps any further
//     colons;
//   - the protocol is ignored; the port is decimal with iPXE's strtoul
//     leniency (leading blanks and sign, trailing garbage ignored) and an
//     empty or zero port means 3260;
//   - the LUN is parsed by ParseLUN.
//
// Where iPXE would accept a root path and only fail later (no server, no
// target name, a port beyond 65535, a NUL byte, stray brackets in the
// server), ParseRootPath reports the error at once.
func ParseRootPath(s string) (RootPath, error) {
	bad := func(format string, args ...any) (RootPath, error) {
		return RootPath{}, fmt.Errorf("%w %q: %s", ErrRootPath, s, fmt.Sprintf(format, args...))
	}
	if strings.IndexByte(s, 0) >= 0 {
		return bad("contains a NUL byte")
	}
	raw := s
	if i := strings.Index(raw, "##params"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw = raw[:i]
	}
	colon := strings.IndexByte(raw, ':')
	if colon < 0 || !strings.EqualFold(raw[:colon], "iscsi") {
		return bad("want iscsi:<server>:<protocol>:<port>:<LUN>:<targetname>")
	}
	rp := raw[colon+1:]
	if strings.HasPrefix(rp, "/") {
		return bad("iscsi:/... is not an iSCSI root path (want iscsi:<server>:...)")
	}
	var comp [5]string
	skip := false
	pos, start := 0, 0
	for i := 0; i < 4; i++ {
		for ; pos < len(rp) && (rp[pos] != ':' || skip); pos++ {
			switch rp[pos] {
			case '[':
				skip = true
			case ']':
				skip = false
			}
		}
		if pos == len(rp) {
			return bad("too short: want 5 fields separated by ':' (server:protocol:port:LUN:targetname)")
		}
		comp[i] = rp[start:pos]
		pos++
		start = pos
	}
	comp[4] = rp[start:]

	var r RootPath
	r.Server = comp[0]
	if len(r.Server) >= 2 && r.Server[0] == '[' && r.Server[len(r.Server)-1] == ']' {
		r.Server = r.Server[1 : len(r.Server)-1]
	}
	if r.Server == "" {
		return bad("no server (iSCSI discovery is not supported: give the target's address)")
	}
	if strings.ContainsAny(r.Server, "[]") {
		return bad("server %q has stray brackets (write IPv6 addresses as [addr])", comp[0])
	}
	r.Protocol = comp[1]
	port, _ := ipxeStrtoul(comp[2], 10)
	port &= 0xffffffff // iPXE stores the port in an unsigned int
	switch {
	case port == 0:
		r.Port = DefaultPort
	case port > 0xffff:
		return bad("port %q out of range", comp[2])
	default:
		r.Port = uint16(port)
	}
	var err error
	if r.LUN, err = ParseLUN(comp[3]); err != nil {
		return RootPath{}, fmt.Errorf("%w %q: %v", ErrRootPath, s, err)
	}
	r.Target = comp[4]
	if r.Target == "" {
		return bad("no target name")
	}
	return r, nil
}

// String formats r as a root path that ParseRootPath reads back to r. The
// port is left empty when it is 3260.
func (r RootPath) String() string {
	server := r.Server
	if strings.IndexByte(server, ':') >= 0 {
		server = "[" + server + "]"
	}
	port := ""
	if r.Port != DefaultPort && r.Port != 0 {
		port = strconv.Itoa(int(r.Port))
	}
	return "iscsi:" + server + ":" + r.Protocol + ":" + port + ":" + r.LUN.String() + ":" + r.Target
}

// Portal is the target's "host:port" address for dialing.
func (r RootPath) Portal() string {
	p := r.Port
	if p == 0 {
		p = DefaultPort
	}
	return net.JoinHostPort(r.Server, strconv.Itoa(int(p)))
}

// DefaultIQNPrefix is iPXE's prefix for default initiator names
// (ISCSI_DEFAULT_IQN_PREFIX). snp-go uses the same prefix so that target
// ACLs written for iPXE's default names keep working.
const DefaultIQNPrefix = "iqn.2010-04.org.ipxe"

// DefaultInitiatorName derives an initiator IQN as iPXE does when the
// initiator-iqn setting is empty: "iqn.2010-04.org.ipxe:<hostname>", else
// "iqn.2010-04.org.ipxe:<uuid>" with the machine UUID in canonical byte
// order, formatted lower-case 8-4-4-4-12. A zero UUID counts as absent.
func DefaultInitiatorName(hostname string, uuid [16]byte) (string, error) {
	if hostname != "" {
		return DefaultIQNPrefix + ":" + hostname, nil
	}
	if uuid == ([16]byte{}) {
		return "", errors.New("iscsi: no initiator name: set initiator-iqn, or a hostname, or provide the machine UUID")
	}
	const hx = "0123456789abcdef"
	b := make([]byte, 0, 36)
	for i, c := range uuid {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, hx[c>>4], hx[c&15])
	}
	return DefaultIQNPrefix + ":" + string(b), nil
}
