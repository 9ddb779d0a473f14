package lab

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFrameDumpCount(t *testing.T) {
	p := filepath.Join(t.TempDir(), "n0.pcap")
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = append(b, make([]byte, 20)...)
	frame := func(src []byte, n int) {
		b = binary.LittleEndian.AppendUint64(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		b = binary.LittleEndian.AppendUint32(b, uint32(n))
		f := make([]byte, n)
		copy(f[6:], src)
		b = append(b, f...)
	}
	slirp := []byte{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}
	guest := []byte{0x52, 0x52, 0x52, 0x52, 0x52, 0x52}
	frame(slirp, 1514)
	frame(guest, 54)
	frame(slirp, 60)
	b = append(b, 1, 2, 3) // a record header still being written
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := FrameDump(p).Count()
	want := FrameCount{ToGuest: 2, FromGuest: 1, BytesToGuest: 1574}
	if err != nil || got != want {
		t.Errorf("Count() = %+v, %v; want %+v", got, err, want)
	}
	if d := got.Sub(FrameCount{ToGuest: 1, FromGuest: 1, BytesToGuest: 1514}); d != (FrameCount{1, 0, 60}) {
		t.Errorf("Sub = %+v; want {1 0 60}", d)
	}
	if err := os.WriteFile(p, make([]byte, 24), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := FrameDump(p).Count(); err == nil || !strings.Contains(err.Error(), "not a pcap") {
		t.Errorf("Count(zeros) = %v; want 'not a pcap'", err)
	}
}

func TestFrameDumpMaxInFlight(t *testing.T) {
	p := filepath.Join(t.TempDir(), "n0.pcap")
	b := binary.LittleEndian.AppendUint32(nil, 0xa1b2c3d4)
	b = append(b, make([]byte, 20)...)
	slirp := []byte{0x52, 0x55, 0x0a, 0x00, 0x02, 0x02}
	guest := []byte{0x52, 0x52, 0x52, 0x52, 0x52, 0x52}
	// seg writes an Ethernet/IPv4/TCP frame: from the host (port hp) to
	// the guest (port gp) when toGuest, else back.
	seg := func(toGuest bool, hp, gp uint16, seq, ack uint32, flags byte, data int) {
		f := make([]byte, 14+20+20+data)
		src, sport, dport := guest, gp, hp
		if toGuest {
			src, sport, dport = slirp, hp, gp
		}
		copy(f[6:], src)
		binary.BigEndian.PutUint16(f[12:], 0x0800)
		ip := f[14:]
		ip[0], ip[9] = 0x45, 6
		binary.BigEndian.PutUint16(ip[2:], uint16(40+data))
		copy(ip[12:], []byte{10, 0, 2, 2})
		copy(ip[16:], []byte{10, 0, 2, 15})
		if !toGuest {
			copy(ip[12:], []byte{10, 0, 2, 15})
			copy(ip[16:], []byte{10, 0, 2, 2})
		}
		tcp := ip[20:]
		binary.BigEndian.PutUint16(tcp[0:], sport)
		binary.BigEndian.PutUint16(tcp[2:], dport)
		binary.BigEndian.PutUint32(tcp[4:], seq)
		binary.BigEndian.PutUint32(tcp[8:], ack)
		tcp[12], tcp[13] = 5<<4, flags
		b = binary.LittleEndian.AppendUint64(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	const ack, push = 0x10, 0x18
	base := uint32(0xffffff00) // the sequence numbers wrap
	seg(true, 3260, 1000, base, 0, push, 1000)
	seg(true, 3260, 1000, base+1000, 0, push, 1000)
	seg(true, 3260, 1000, base+2000, 0, push, 1000) // 3 in flight on A
	seg(false, 3260, 1000, 0, base+2000, ack, 0)    // 1
	seg(true, 80, 2000, 7, 0, push, 500)            // 2, a second connection (B)
	seg(true, 80, 2000, 507, 0, push, 500)          // 3
	seg(true, 3260, 1000, base+3000, 0, ack, 0)     // no data: not counted
	seg(true, 3260, 1000, base+3000, 0, push, 1000) // 4: the most
	seg(false, 3260, 1000, 0, base+3999, 0x08, 0)   // no ACK flag: ignored
	seg(false, 80, 2000, 0, 507, ack, 0)            // 3
	seg(false, 3260, 1000, 0, base+4000, ack, 0)    // 1
	seg(true, 3260, 1000, base+4000, 0, push, 1000) // 2
	seg(false, 80, 2000, 0, 1007, ack, 0)           // 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := FrameDump(p).MaxInFlight(); got != 4 || err != nil {
		t.Errorf("MaxInFlight() = %d, %v; want 4", got, err)
	}
}
