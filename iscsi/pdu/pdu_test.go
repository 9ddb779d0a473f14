package pdu

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
)

// TestCRC32CVectors checks the digest and its wire byte order against
// RFC 3720 Appendix B.4.
func TestCRC32CVectors(t *testing.T) {
	inc, dec := make([]byte, 32), make([]byte, 32)
	for i := range inc {
		inc[i], dec[i] = byte(i), byte(31-i)
	}
	tests := []struct {
		name string
		in   []byte
		wire string
	}{
		{"32 zeros", make([]byte, 32), "aa36918a"},
		{"32 0xff", bytes.Repeat([]byte{0xff}, 32), "43aba862"},
		{"incrementing", inc, "4e79dd46"},
		{"decrementing", dec, "5cdb3f11"},
	}
	for _, tt := range tests {
		var b [4]byte
		putDigest(b[:], CRC32C(tt.in))
		if got := hex.EncodeToString(b[:]); got != tt.wire {
			t.Errorf("digest(%s) on the wire = %s; want %s", tt.name, got, tt.wire)
		}
	}
}

func writePDUs(t *testing.T, hd, dd bool, pdus []struct {
	op   Opcode
	data []byte
}) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw := bufio.NewWriter(&buf)
	w := NewWriter(bw)
	w.HeaderDigest, w.DataDigest = hd, dd
	for i, p := range pdus {
		var b BHS
		b.SetOpcode(p.op, false)
		b.SetFlags(FlagFinal)
		b.SetITT(uint32(i))
		if err := w.Write(&b, p.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	pdus := []struct {
		op   Opcode
		data []byte
	}{
		{OpNOPIn, nil},
		{OpDataIn, []byte("abc")},
		{OpSCSIResp, bytes.Repeat([]byte{7}, 4)},
		{OpDataIn, bytes.Repeat([]byte{9}, 70001)},
		{OpLoginResp, []byte("a=b\x00")},
	}
	for _, hd := range []bool{false, true} {
		for _, dd := range []bool{false, true} {
			wire := writePDUs(t, hd, dd, pdus)
			r := NewReader(bufio.NewReader(bytes.NewReader(wire)))
			r.HeaderDigest, r.DataDigest, r.MaxDataLen = hd, dd, 1<<20
			for i, p := range pdus {
				if err := r.Next(); err != nil {
					t.Fatalf("hd=%t dd=%t PDU %d: Next: %v", hd, dd, i, err)
				}
				if r.BHS.Opcode() != p.op || r.BHS.ITT() != uint32(i) || r.DataLen() != len(p.data) {
					t.Fatalf("hd=%t dd=%t PDU %d = %v itt %d len %d; want %v itt %d len %d", hd, dd, i,
						r.BHS.Opcode(), r.BHS.ITT(), r.DataLen(), p.op, i, len(p.data))
				}
				if i == 2 {
					continue // left unread: Next must skip it
				}
				var got []byte
				if i%2 == 1 {
					got = make([]byte, r.DataLen())
					if err := r.ReadData(got); err != nil {
						t.Fatal(err)
					}
				} else {
					d, err := r.Data()
					if err != nil {
						t.Fatal(err)
					}
					got = d
				}
				if !bytes.Equal(got, p.data) {
					t.Fatalf("PDU %d data differs", i)
				}
			}
			if err := r.Next(); err != io.EOF {
				t.Errorf("Next at end = %v; want io.EOF", err)
			}
		}
	}
}

func TestReaderErrors(t *testing.T) {
	pdus := []struct {
		op   Opcode
		data []byte
	}{{OpDataIn, []byte("hello world")}}
	wire := writePDUs(t, true, true, pdus)

	read := func(b []byte, max int) error {
		r := NewReader(bytes.NewReader(b))
		r.HeaderDigest, r.DataDigest, r.MaxDataLen = true, true, max
		if err := r.Next(); err != nil {
			return err
		}
		_, err := r.Data()
		return err
	}
	if err := read(wire, 0); err != nil {
		t.Fatalf("intact PDU: %v", err)
	}
	for _, off := range []int{3, BHSLen + 1, BHSLen + 4 + 2, len(wire) - 1} {
		bad := bytes.Clone(wire)
		bad[off] ^= 0x10
		if err := read(bad, 0); !errors.Is(err, ErrDigest) {
			t.Errorf("flipped byte %d: error %v; want ErrDigest", off, err)
		}
	}
	for n := 1; n < len(wire); n += 7 {
		if err := read(wire[:n], 0); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("truncated to %d bytes: error %v; want io.ErrUnexpectedEOF", n, err)
		}
	}
	if err := read(wire, 8); err == nil || !strings.Contains(err.Error(), "MaxRecvDataSegmentLength") {
		t.Errorf("11-byte segment with MaxDataLen 8: error %v; want MaxRecvDataSegmentLength error", err)
	}
}

func TestParseText(t *testing.T) {
	tests := []struct {
		in   string
		want Text
		err  bool
	}{
		{"A=1\x00B=x=y\x00", Text{{"A", "1"}, {"B", "x=y"}}, false},
		{"A=1\x00\x00\x00", Text{{"A", "1"}}, false},
		{"A=\x00", Text{{"A", ""}}, false},
		{"TargetAddress=[::1]:3260,1", Text{{"TargetAddress", "[::1]:3260,1"}}, false},
		{"", nil, false},
		{"A\x00", nil, true},
		{"=1\x00", nil, true},
		{"A B=1\x00", nil, true},
		{"A=1\x00A=2\x00", nil, true},
		{strings.Repeat("k", 64) + "=1", nil, true},
		{"K=" + strings.Repeat("v", MaxTextValueLen+1), nil, true},
	}
	for _, tt := range tests {
		got, err := ParseText([]byte(tt.in))
		if (err != nil) != tt.err || len(got) != len(tt.want) {
			t.Errorf("ParseText(%.30q) = %v, %v; want %v, error %t", tt.in, got, err, tt.want, tt.err)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("ParseText(%.30q)[%d] = %v; want %v", tt.in, i, got[i], tt.want[i])
			}
		}
	}
	txt := Text{{"HeaderDigest", "CRC32C,None"}, {"MaxBurstLength", "262144"}}
	if got := string(txt.Append(nil)); got != "HeaderDigest=CRC32C,None\x00MaxBurstLength=262144\x00" {
		t.Errorf("Append = %q", got)
	}
}

func BenchmarkReadDataIn(b *testing.B) {
	data := make([]byte, 65536)
	var buf bytes.Buffer
	w := NewWriter(bufio.NewWriter(&buf))
	var h BHS
	h.SetOpcode(OpDataIn, false)
	w.Write(&h, data)
	w.Flush()
	wire := buf.Bytes()
	rd := bytes.NewReader(wire)
	r := NewReader(rd)
	r.MaxDataLen = len(data)
	dst := make([]byte, len(data))
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		rd.Reset(wire)
		if err := r.Next(); err != nil {
			b.Fatal(err)
		}
		if err := r.ReadData(dst); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add(writePDUs(&testing.T{}, false, false, []struct {
		op   Opcode
		data []byte
	}{{OpDataIn, []byte("abc")}, {OpNOPIn, nil}}), false, false)
	f.Add(writePDUs(&testing.T{}, true, true, []struct {
		op   Opcode
		data []byte
	}{{OpLoginResp, []byte("A=B\x00")}}), true, true)
	f.Fuzz(func(t *testing.T, b []byte, hd, dd bool) {
		r := NewReader(bytes.NewReader(b))
		r.HeaderDigest, r.DataDigest, r.MaxDataLen = hd, dd, 4096
		for i := 0; ; i++ {
			if err := r.Next(); err != nil {
				return
			}
			if r.DataLen() > 4096 || len(r.AHS()) != r.BHS.AHSLen() {
				t.Fatalf("PDU %d: data %d ahs %d", i, r.DataLen(), len(r.AHS()))
			}
			if i%2 == 0 {
				if _, err := r.Data(); err != nil {
					return
				}
			}
		}
	})
}

func FuzzParseText(f *testing.F) {
	f.Add([]byte("AuthMethod=CHAP,None\x00TargetName=iqn.2001-04.com.example:disk\x00"))
	f.Add([]byte("CHAP_A=5\x00CHAP_I=1\x00CHAP_C=0x0102\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		txt, err := ParseText(b)
		if err != nil {
			return
		}
		again, err := ParseText(txt.Append(nil))
		if err != nil || len(again) != len(txt) {
			t.Fatalf("re-parse of %q = %v, %v", txt.Append(nil), again, err)
		}
		for i := range txt {
			if again[i] != txt[i] {
				t.Fatalf("pair %d: %v != %v", i, again[i], txt[i])
			}
		}
	})
}
