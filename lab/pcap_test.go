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
