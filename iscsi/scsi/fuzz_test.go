package scsi

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"
)

// printable reports whether s holds only what ascii lets through.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return utf8.ValidString(s) && s == strings.TrimSpace(s)
}

// FuzzParsers runs every decoder of target data on the same bytes: none may
// panic, strings must come out printable and trimmed, and lengths must stay
// within the input.
func FuzzParsers(f *testing.F) {
	f.Add([]byte("\x00\x80\x05\x02\x1f\x00\x00\x00IET     VIRTUAL-DISK    0001"))
	f.Add([]byte("\x00\x80\x00\x06beaf11"))
	f.Add([]byte{0, 0, 0x1f, 0xff, 0, 0, 2, 0})
	f.Add([]byte{0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0x10, 0})
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0x70, 0, 6, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0})
	f.Add([]byte{0x72, 7, 0x27, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xf8, 0x80, 0xfe})
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := ParseInquiry(b); err == nil {
			for _, s := range []string{d.Vendor, d.Product, d.Revision} {
				if !printable(s) {
					t.Errorf("ParseInquiry field %q is not printable trimmed ASCII", s)
				}
			}
			if len(d.Vendor) > 8 || len(d.Product) > 16 || len(d.Revision) > 4 || d.PeripheralType > 0x1f || d.PeripheralQualifier > 7 {
				t.Errorf("ParseInquiry = %+v; fields exceed their sizes", d)
			}
		} else if len(b) >= 36 {
			t.Errorf("ParseInquiry(%d bytes) = %v; want success", len(b), err)
		}
		if s, err := ParseUnitSerial(b); err == nil {
			if !printable(s) || len(s) > len(b)-4 {
				t.Errorf("ParseUnitSerial = %q; want printable ASCII of at most %d bytes", s, len(b)-4)
			}
		}
		if c, err := ParseCapacity10(b); err == nil {
			if c.LastLBA != uint64(binary.BigEndian.Uint32(b)) {
				t.Errorf("ParseCapacity10 = %+v", c)
			}
		}
		if c, err := ParseCapacity16(b); err == nil {
			if c.LastLBA != binary.BigEndian.Uint64(b) {
				t.Errorf("ParseCapacity16 = %+v", c)
			}
		}
		if luns, err := ParseReportLUNs(b); err == nil {
			if max := (len(b) - 8) / 8; len(luns) > max || len(luns) > int(binary.BigEndian.Uint32(b)/8) {
				t.Errorf("ParseReportLUNs(%d bytes, list length %d) = %d LUNs", len(b), binary.BigEndian.Uint32(b), len(luns))
			}
		}
		if _, err := ModeSenseWriteProtected(b); err != nil && len(b) >= 4 {
			t.Errorf("ModeSenseWriteProtected(%d bytes) = %v; want success", len(b), err)
		}
		s, err := ParseSense(b)
		if err != nil {
			return
		}
		if s.Key > 0xf {
			t.Errorf("ParseSense = %+v; sense key above 0xf", s)
		}
		if s.KeyName() == "" || s.Description() == "" || s.String() == "" {
			t.Errorf("Sense %+v has an empty name", s)
		}
		for _, st := range []byte{StatusGood, StatusCheckCondition, StatusBusy, b[0]} {
			e := &StatusError{Op: b[0], Status: st, Sense: &s}
			_ = e.Error()
			_ = e.Transient()
			_ = e.UnitAttention()
		}
	})
}
