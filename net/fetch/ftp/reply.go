package ftp

import (
	"bufio"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Reply is one server reply (RFC 959 section 4.2): a three-digit code and
// its text (lines of a multi-line reply joined with "\n").
type Reply struct {
	Code int
	Text string
}

func (r Reply) String() string { return strconv.Itoa(r.Code) + " " + r.Text }

// Limits on what a server may send, so that a hostile one cannot exhaust
// memory.
const (
	maxLine  = 4096
	maxLines = 200
)

// readReply reads one reply. A multi-line reply starts with "ddd-" and
// ends with a line starting with the same code and a space (RFC 959 section
// 4.2); lines in between are free text.
func readReply(r *bufio.Reader) (Reply, error) {
	line, err := readLine(r)
	if err != nil {
		return Reply{}, err
	}
	code, sep, text, err := splitLine(line)
	if err != nil {
		return Reply{}, err
	}
	if sep == ' ' {
		return Reply{Code: code, Text: text}, nil
	}
	lines := []string{text}
	prefix := line[:3] + " "
	for {
		if len(lines) >= maxLines {
			return Reply{}, fmt.Errorf("multi-line %d reply longer than %d lines", code, maxLines)
		}
		l, err := readLine(r)
		if err != nil {
			return Reply{}, err
		}
		if strings.HasPrefix(l, prefix) || l == line[:3] {
			lines = append(lines, strings.TrimPrefix(l[3:], " "))
			return Reply{Code: code, Text: strings.Join(lines, "\n")}, nil
		}
		lines = append(lines, l)
	}
}

// readLine reads one CRLF- (or LF-) terminated line without the terminator,
// with control characters replaced so that it is safe to print.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		b = append(b, frag...)
		if len(b) > maxLine {
			return "", fmt.Errorf("reply line longer than %d bytes", maxLine)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	s := strings.TrimRight(string(b), "\r\n")
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '.'
		}
		return r
	}, strings.ToValidUTF8(s, "?")), nil
}

func splitLine(l string) (code int, sep byte, text string, err error) {
	if len(l) < 3 || l[0] < '1' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9' {
		return 0, 0, "", fmt.Errorf("malformed reply %q", clip(l))
	}
	code, _ = strconv.Atoi(l[:3])
	switch {
	case len(l) == 3:
		return code, ' ', "", nil
	case l[3] == ' ' || l[3] == '-':
		return code, l[3], l[4:], nil
	}
	return 0, 0, "", fmt.Errorf("malformed reply %q", clip(l))
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// parsePASV extracts the port from a 227 reply text, "Entering Passive Mode
// (h1,h2,h3,h4,p1,p2)" (RFC 959 section 4.1.2, PASV; the parentheses are
// customary, not required). The address is returned too, but callers
// connect to the control connection's peer instead (RFC 2577 section 3:
// a server could name any host).
func parsePASV(text string) (netip.AddrPort, error) {
	i := strings.IndexAny(text, "0123456789")
	for ; i >= 0 && i < len(text); i++ {
		// Find the first run "d+,d+,d+,d+,d+,d+".
		var v [6]int
		j, k := i, 0
		for ; k < 6; k++ {
			n, l := 0, 0
			for j < len(text) && text[j] >= '0' && text[j] <= '9' && l < 4 {
				n = n*10 + int(text[j]-'0')
				j++
				l++
			}
			if l == 0 || n > 255 {
				break
			}
			v[k] = n
			if k < 5 {
				if j >= len(text) || text[j] != ',' {
					break
				}
				j++
			}
		}
		if k == 6 {
			a := netip.AddrFrom4([4]byte{byte(v[0]), byte(v[1]), byte(v[2]), byte(v[3])})
			port := uint16(v[4]<<8 | v[5])
			if port == 0 {
				return netip.AddrPort{}, errors.New("PASV reply names port 0")
			}
			return netip.AddrPortFrom(a, port), nil
		}
		// skip to the next digit run
		for i < len(text) && text[i] >= '0' && text[i] <= '9' {
			i++
		}
	}
	return netip.AddrPort{}, fmt.Errorf("no h1,h2,h3,h4,p1,p2 in PASV reply %q", clip(text))
}

// parseEPSV extracts the port from a 229 reply text, "Entering Extended
// Passive Mode (|||port|)" (RFC 2428 section 3): the delimiter is the first
// character inside the parentheses, the network and address fields are
// empty.
func parseEPSV(text string) (uint16, error) {
	i := strings.IndexByte(text, '(')
	j := strings.LastIndexByte(text, ')')
	if i < 0 || j < i+1 {
		return 0, fmt.Errorf("no (|||port|) in EPSV reply %q", clip(text))
	}
	f := text[i+1 : j]
	if len(f) < 5 || f[0] < 33 || f[0] > 126 {
		return 0, fmt.Errorf("malformed EPSV reply %q", clip(text))
	}
	parts := strings.Split(f, string(f[0]))
	if len(parts) != 5 || parts[0] != "" || parts[1] != "" || parts[2] != "" || parts[4] != "" {
		return 0, fmt.Errorf("malformed EPSV reply %q", clip(text))
	}
	p, err := strconv.ParseUint(parts[3], 10, 16)
	if err != nil || p == 0 || strings.TrimLeft(parts[3], "0123456789") != "" {
		return 0, fmt.Errorf("bad port in EPSV reply %q", clip(text))
	}
	return uint16(p), nil
}

// parseSize reads the 213 reply to SIZE (RFC 3659 section 4): a decimal
// byte count.
func parseSize(text string) (int64, error) {
	s := strings.TrimSpace(text)
	if s == "" || len(s) > 18 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("SIZE reply %q is not a byte count", clip(text))
	}
	return strconv.ParseInt(s, 10, 64)
}
