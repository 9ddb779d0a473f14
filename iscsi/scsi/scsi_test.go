package scsi

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestCDBs(t *testing.T) {
	var c CDB
	tests := []struct {
		name  string
		build func()
		want  string
	}{
		{"READ(10)", func() { Read(&c, 0x12345678, 0x80) }, "28001234567800008000"},
		{"READ(10) last 32-bit LBA", func() { Read(&c, 0xffffffff, 1) }, "2800ffffffff00000100"},
		{"READ(16) beyond 2^32", func() { Read(&c, 0x100000000, 8) }, "88000000000100000000000000080000"},
		{"READ(16) >65535 blocks", func() { Read(&c, 0, 0x10000) }, "88000000000000000000000100000000"},
		{"WRITE(10)", func() { Write(&c, 1, 2) }, "2a000000000100000200"},
		{"WRITE(16)", func() { Write(&c, 1<<40, 2) }, "8a000000010000000000000000020000"},
		{"SYNCHRONIZE CACHE(10)", func() { SynchronizeCache(&c, 0, 0) }, "35000000000000000000"},
		{"READ CAPACITY(16)", func() { ReadCapacity16(&c, 32) }, "9e100000000000000000000000200000"},
		{"INQUIRY VPD 0x80", func() { Inquiry(&c, true, 0x80, 255) }, "12018000ff00"},
		{"REPORT LUNS", func() { ReportLUNs(&c, 4096) }, "a00000000000000010000000"},
		{"MODE SENSE(6)", func() { ModeSense6(&c, 0x3f, 192) }, "1a083f00c000"},
	}
	for _, tt := range tests {
		tt.build()
		got := hex.EncodeToString(c[:])
		if !strings.HasPrefix(got, tt.want) || strings.Trim(got[len(tt.want):], "0") != "" {
			t.Errorf("%s = %s; want %s then zeros", tt.name, got, tt.want)
		}
	}
}

func TestParsers(t *testing.T) {
	inq := []byte("\x00\x80\x05\x02\x1f\x00\x00\x00IET     VIRTUAL-DISK    0001")
	d, err := ParseInquiry(inq)
	if err != nil || d.Vendor != "IET" || d.Product != "VIRTUAL-DISK" || d.Revision != "0001" || !d.Removable || d.PeripheralType != 0 {
		t.Errorf("ParseInquiry = %+v, %v; want IET/VIRTUAL-DISK/0001 removable", d, err)
	}
	if _, err := ParseInquiry(inq[:35]); err == nil {
		t.Errorf("ParseInquiry(35 bytes) succeeded; want error")
	}
	if s, err := ParseUnitSerial([]byte("\x00\x80\x00\x06beaf11")); err != nil || s != "beaf11" {
		t.Errorf("ParseUnitSerial = %q, %v; want beaf11", s, err)
	}
	c, err := ParseCapacity10([]byte{0, 0, 0x1f, 0xff, 0, 0, 2, 0})
	if err != nil || c.Blocks() != 0x2000 || c.BlockSize != 512 {
		t.Errorf("ParseCapacity10 = %+v, %v; want 8192 blocks of 512", c, err)
	}
	c, err = ParseCapacity16([]byte{0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0x10, 0})
	if err != nil || c.Blocks() != 0x180000000 || c.BlockSize != 4096 {
		t.Errorf("ParseCapacity16 = %+v, %v; want 0x180000000 blocks of 4096", c, err)
	}
	luns, err := ParseReportLUNs([]byte{0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0})
	if err != nil || len(luns) != 2 || luns[1][1] != 1 {
		t.Errorf("ParseReportLUNs = %v, %v; want LUNs 0 and 1", luns, err)
	}
	if wp, err := ModeSenseWriteProtected([]byte{3, 0, 0x80, 0}); err != nil || !wp {
		t.Errorf("ModeSenseWriteProtected(WP set) = %t, %v; want true", wp, err)
	}
}

func TestSense(t *testing.T) {
	tests := []struct {
		in        string
		want      Sense
		text      string
		transient bool
	}{
		{"70000600000000000000000029000000", Sense{6, 0x29, 0}, "UNIT ATTENTION: power on, reset, or bus device reset occurred", true},
		{"f0000500000000000000000021000000", Sense{5, 0x21, 0}, "ILLEGAL REQUEST: logical block address out of range", false},
		{"72072700", Sense{7, 0x27, 0}, "DATA PROTECT: write protected", false},
		{"700002000000000000000000040100", Sense{2, 4, 1}, "NOT READY: logical unit not ready", true},
	}
	for _, tt := range tests {
		b, _ := hex.DecodeString(tt.in)
		s, err := ParseSense(b)
		if err != nil || s != tt.want || !strings.HasPrefix(s.String(), tt.text) {
			t.Errorf("ParseSense(%s) = %v (%v); want %v %q", tt.in, s, err, tt.want, tt.text)
		}
		e := &StatusError{Op: OpRead10, Status: StatusCheckCondition, Sense: &s}
		if e.Transient() != tt.transient {
			t.Errorf("%v.Transient() = %t; want %t", e, e.Transient(), tt.transient)
		}
	}
	for _, bad := range []string{"", "7000", "01020304"} {
		b, _ := hex.DecodeString(bad)
		if _, err := ParseSense(b); err == nil {
			t.Errorf("ParseSense(%q) succeeded; want error", bad)
		}
	}
}
