package tftp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Opcodes (RFC 1350 section 5; OACK from RFC 2347).
const (
	opRRQ   = 1
	opWRQ   = 2
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// Error codes (RFC 1350 appendix; 8 from RFC 2347).
const (
	ErrUndefined       = 0
	ErrFileNotFound    = 1
	ErrAccessViolation = 2
	ErrDiskFull        = 3
	ErrIllegalOp       = 4
	ErrUnknownTID      = 5
	ErrFileExists      = 6
	ErrNoSuchUser      = 7
	ErrOptionRefused   = 8
)

var codeNames = [...]string{
	"not defined", "file not found", "access violation", "disk full or allocation exceeded",
	"illegal TFTP operation", "unknown transfer ID", "file already exists", "no such user",
	"option negotiation refused",
}

// ServerError is an ERROR packet received from the server.
type ServerError struct {
	Code    uint16
	Message string
}

func (e *ServerError) Error() string {
	name := "unknown error code"
	if int(e.Code) < len(codeNames) {
		name = codeNames[e.Code]
	}
	if e.Message == "" {
		return fmt.Sprintf("server says %s (TFTP error %d)", name, e.Code)
	}
	return fmt.Sprintf("server says %s: %q (TFTP error %d)", name, e.Message, e.Code)
}

// NotFound reports whether the server said the file does not exist.
func (e *ServerError) NotFound() bool { return e.Code == ErrFileNotFound }

// packet is one decoded TFTP packet the client can receive.
type packet struct {
	op    uint16
	block uint16            // DATA, ACK
	data  []byte            // DATA payload (aliases the input)
	err   *ServerError      // ERROR
	opts  map[string]string // OACK, keys lower case
}

var errShort = errors.New("packet shorter than 4 bytes")

// parsePacket decodes a packet received from the network. Anything that is
// not DATA, ACK, ERROR or OACK, or is malformed, is an error.
func parsePacket(b []byte) (packet, error) {
	if len(b) < 2 {
		return packet{}, errShort
	}
	p := packet{op: binary.BigEndian.Uint16(b)}
	switch p.op {
	case opDATA, opACK:
		if len(b) < 4 {
			return p, errShort
		}
		p.block = binary.BigEndian.Uint16(b[2:])
		if p.op == opDATA {
			p.data = b[4:]
		} else if len(b) > 4 {
			return p, fmt.Errorf("ACK with %d trailing bytes", len(b)-4)
		}
	case opERROR:
		if len(b) < 4 {
			return p, errShort
		}
		msg := b[4:]
		// RFC 1350: the message is NUL-terminated netascii; be lenient
		// about a missing terminator, strict about what we print.
		if i := strings.IndexByte(string(msg), 0); i >= 0 {
			msg = msg[:i]
		}
		p.err = &ServerError{Code: binary.BigEndian.Uint16(b[2:]), Message: printable(msg)}
	case opOACK:
		opts, err := parseOptions(b[2:])
		if err != nil {
			return p, fmt.Errorf("OACK: %w", err)
		}
		p.opts = opts
	default:
		return p, fmt.Errorf("unexpected opcode %d", p.op)
	}
	return p, nil
}

// parseOptions decodes the NUL-terminated name/value pairs of an OACK
// (RFC 2347). Names are case-insensitive; a repeated name is an error.
func parseOptions(b []byte) (map[string]string, error) {
	opts := map[string]string{}
	for len(b) > 0 {
		var f [2]string
		for i := range f {
			j := strings.IndexByte(string(b), 0)
			if j < 0 {
				return nil, errors.New("option not NUL-terminated")
			}
			f[i], b = string(b[:j]), b[j+1:]
		}
		name := strings.ToLower(f[0])
		if name == "" {
			return nil, errors.New("empty option name")
		}
		if _, dup := opts[name]; dup {
			return nil, fmt.Errorf("option %q repeated", printable([]byte(name)))
		}
		opts[name] = f[1]
	}
	return opts, nil
}

// printable keeps server text safe to show on a console: at most 200
// bytes, control characters replaced.
func printable(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '.'
		}
		return r
	}, strings.ToValidUTF8(string(b), "?"))
}

// rrq encodes a read request for file in octet mode with options (RFC 2347
// section "Packet Formats"), in the order given.
func rrq(file string, opts [][2]string) []byte {
	b := binary.BigEndian.AppendUint16(nil, opRRQ)
	b = append(append(b, file...), 0)
	b = append(b, "octet\x00"...)
	for _, o := range opts {
		b = append(append(b, o[0]...), 0)
		b = append(append(b, o[1]...), 0)
	}
	return b
}

func ack(block uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, opACK), block)
}

func errPacket(code uint16, msg string) []byte {
	b := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, opERROR), code)
	return append(append(b, msg...), 0)
}

// parseUint reads a decimal option value (RFC 2348/2349 values are ASCII
// decimal octets).
func parseUint(s string, max int64) (int64, error) {
	if s == "" || len(s) > 19 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a decimal number", printable([]byte(s)))
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > max {
		return 0, fmt.Errorf("%s out of range (max %d)", s, max)
	}
	return v, nil
}
