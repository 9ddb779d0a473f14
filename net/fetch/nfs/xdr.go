package nfs

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// XDR (RFC 4506): big-endian 4-byte units; variable-length opaque data and
// strings carry a 4-byte length and are padded to a multiple of 4 (section
// 4.10, 4.11).

func putU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func putU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func putOpaque(b, v []byte) []byte {
	b = putU32(b, uint32(len(v)))
	b = append(b, v...)
	for i := len(v); i%4 != 0; i++ {
		b = append(b, 0)
	}
	return b
}

func putString(b []byte, s string) []byte { return putOpaque(b, []byte(s)) }

var errTruncated = errors.New("XDR data truncated")

// decoder reads XDR items; the first error sticks and later reads return
// zero values, so callers check d.err once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) u32() uint32 {
	if d.err != nil || len(d.b) < 4 {
		d.fail(errTruncated)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *decoder) u64() uint64 { return uint64(d.u32())<<32 | uint64(d.u32()) }

// bool reads an XDR boolean; values other than 0 and 1 are an error
// (RFC 4506 section 4.4).
func (d *decoder) bool() bool {
	v := d.u32()
	if v > 1 {
		d.fail(fmt.Errorf("XDR boolean %d", v))
	}
	return v == 1
}

// opaque reads variable-length data of at most max bytes; the result
// aliases the input.
func (d *decoder) opaque(max int) []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(max) {
		d.fail(fmt.Errorf("XDR opaque of %d bytes exceeds %d", n, max))
		return nil
	}
	padded := (uint64(n) + 3) &^ 3
	if uint64(len(d.b)) < padded {
		d.fail(errTruncated)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[padded:]
	return v
}

func (d *decoder) skip(n int) {
	if d.err != nil || len(d.b) < n {
		d.fail(errTruncated)
		return
	}
	d.b = d.b[n:]
}
