package pdu

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// castagnoli is the CRC32C table (RFC 7143 §13.1, "CRC32C"; polynomial
// 0x1EDC6F41, RFC 3385).
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the iSCSI digest of the concatenation of parts.
func CRC32C(parts ...[]byte) uint32 {
	var c uint32
	for _, p := range parts {
		c = crc32.Update(c, castagnoli, p)
	}
	return c
}

// Digests travel least significant byte first: RFC 3720 Appendix B.4 shows
// 32 zero bytes giving the bytes aa 36 91 8a on the wire (CRC 0x8a9136aa).
func putDigest(b []byte, c uint32) { binary.LittleEndian.PutUint32(b, c) }
func getDigest(b []byte) uint32    { return binary.LittleEndian.Uint32(b) }

// pad is the number of padding bytes after an n-byte data segment
// (RFC 7143 §11.2.4: segments are padded to a multiple of 4 bytes).
func pad(n int) int { return -n & 3 }

// ErrDigest is wrapped by errors from a header or data digest mismatch.
var ErrDigest = errors.New("iSCSI digest mismatch")

// Reader reads PDUs from a byte stream. Call Next to read a header; then
// consume the data segment with ReadData (into your buffer), Data (into the
// Reader's scratch buffer) or Discard; Next discards an unconsumed segment.
// A Reader is not safe for concurrent use.
type Reader struct {
	r io.Reader
	// HeaderDigest and DataDigest enable CRC32C digests (negotiated
	// HeaderDigest/DataDigest keys, RFC 7143 §13.1).
	HeaderDigest, DataDigest bool
	// MaxDataLen bounds accepted data segments: our declared
	// MaxRecvDataSegmentLength (RFC 7143 §13.12). 0 means 8192, the
	// RFC's default.
	MaxDataLen int

	BHS     BHS
	ahs     [255 * 4]byte
	ahsLen  int
	pending int // data bytes (without padding) still unread; -1: none
	scratch []byte
	small   [8]byte
}

// NewReader returns a Reader on r, which should be buffered (a *bufio.Reader).
func NewReader(r io.Reader) *Reader { return &Reader{r: r, pending: -1} }

func (r *Reader) maxData() int {
	if r.MaxDataLen <= 0 {
		return 8192
	}
	return min(r.MaxDataLen, MaxDataSegmentLength)
}

// Next reads the next BHS, its AHS and header digest. io.EOF is returned
// only at a clean PDU boundary.
func (r *Reader) Next() error {
	if r.pending >= 0 {
		if err := r.Discard(); err != nil {
			return err
		}
	}
	if _, err := io.ReadFull(r.r, r.BHS[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return fmt.Errorf("iscsi: connection closed inside a PDU header: %w", err)
		}
		return err
	}
	r.ahsLen = r.BHS.AHSLen()
	if r.ahsLen > 0 {
		if _, err := io.ReadFull(r.r, r.ahs[:r.ahsLen]); err != nil {
			return unexpected(err, "AHS")
		}
	}
	if r.HeaderDigest {
		if _, err := io.ReadFull(r.r, r.small[:4]); err != nil {
			return unexpected(err, "header digest")
		}
		if got, want := getDigest(r.small[:4]), CRC32C(r.BHS[:], r.ahs[:r.ahsLen]); got != want {
			return fmt.Errorf("iscsi: %v header digest 0x%08x, computed 0x%08x: %w", r.BHS.Opcode(), got, want, ErrDigest)
		}
	}
	n := r.BHS.DataLen()
	if n > r.maxData() {
		return fmt.Errorf("iscsi: %v carries a %d-byte data segment, more than our MaxRecvDataSegmentLength %d (protocol error)",
			r.BHS.Opcode(), n, r.maxData())
	}
	r.pending = n
	return nil
}

func unexpected(err error, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("iscsi: connection closed inside a PDU (%s): %w", what, io.ErrUnexpectedEOF)
	}
	return err
}

// AHS returns the additional header segments of the current PDU.
func (r *Reader) AHS() []byte { return r.ahs[:r.ahsLen] }

// DataLen is the current PDU's data segment length (without padding).
func (r *Reader) DataLen() int { return max(r.pending, 0) }

// ReadData reads the whole data segment into dst, which must have exactly
// DataLen bytes, then the padding and the data digest.
func (r *Reader) ReadData(dst []byte) error {
	if r.pending < 0 || len(dst) != r.pending {
		return fmt.Errorf("iscsi: ReadData of %d bytes, %d pending (bug)", len(dst), r.pending)
	}
	r.pending = -1
	if _, err := io.ReadFull(r.r, dst); err != nil {
		return unexpected(err, "data segment")
	}
	p := pad(len(dst))
	extra := p
	if r.DataDigest && len(dst) > 0 {
		extra += 4
	}
	if extra == 0 {
		return nil
	}
	if _, err := io.ReadFull(r.r, r.small[:extra]); err != nil {
		return unexpected(err, "data padding/digest")
	}
	if r.DataDigest && len(dst) > 0 {
		want := crc32.Update(crc32.Update(0, castagnoli, dst), castagnoli, r.small[:p])
		if got := getDigest(r.small[p : p+4]); got != want {
			return fmt.Errorf("iscsi: %v data digest 0x%08x, computed 0x%08x: %w", r.BHS.Opcode(), got, want, ErrDigest)
		}
	}
	return nil
}

// Data reads the data segment into the Reader's scratch buffer; the slice is
// valid until the next call on r.
func (r *Reader) Data() ([]byte, error) {
	n := r.DataLen()
	if cap(r.scratch) < n {
		r.scratch = make([]byte, n)
	}
	d := r.scratch[:n]
	return d, r.ReadData(d)
}

// Discard skips the data segment (still checking its digest).
func (r *Reader) Discard() error {
	if r.pending < 0 {
		return nil
	}
	_, err := r.Data()
	return err
}

// Writer writes PDUs to a buffered stream. It is not safe for concurrent
// use; callers serialize PDUs (a PDU must not interleave with another).
type Writer struct {
	w *bufio.Writer
	// HeaderDigest and DataDigest enable CRC32C digests.
	HeaderDigest, DataDigest bool
	tail                     [8]byte
}

// NewWriter returns a Writer on w.
func NewWriter(w *bufio.Writer) *Writer { return &Writer{w: w} }

// Write writes one PDU with header b (no AHS) and data segment data,
// setting b's TotalAHSLength and DataSegmentLength. It does not flush.
func (w *Writer) Write(b *BHS, data []byte) error {
	if len(data) > MaxDataSegmentLength {
		return fmt.Errorf("iscsi: %d-byte data segment too long", len(data))
	}
	b[4] = 0
	b.SetDataLen(len(data))
	if _, err := w.w.Write(b[:]); err != nil {
		return err
	}
	if w.HeaderDigest {
		putDigest(w.tail[:4], CRC32C(b[:]))
		if _, err := w.w.Write(w.tail[:4]); err != nil {
			return err
		}
	}
	if len(data) == 0 {
		return nil
	}
	if _, err := w.w.Write(data); err != nil {
		return err
	}
	p := pad(len(data))
	clear(w.tail[:p])
	n := p
	if w.DataDigest {
		putDigest(w.tail[p:], crc32.Update(crc32.Update(0, castagnoli, data), castagnoli, w.tail[:p]))
		n += 4
	}
	if n > 0 {
		_, err := w.w.Write(w.tail[:n])
		return err
	}
	return nil
}

// Flush sends buffered PDUs.
func (w *Writer) Flush() error { return w.w.Flush() }
