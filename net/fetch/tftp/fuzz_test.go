package tftp

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzParsePacket feeds arbitrary datagrams to the packet decoder: it must
// not panic, DATA must alias the payload exactly, and every OACK it accepts
// must survive the client's option checks without panicking.
func FuzzParsePacket(f *testing.F) {
	f.Add([]byte("\x00\x03\x00\x01hello"))
	f.Add([]byte("\x00\x04\x00\x07"))
	f.Add([]byte("\x00\x05\x00\x01File not found\x00"))
	f.Add([]byte("\x00\x06blksize\x001428\x00tsize\x00123456\x00"))
	f.Add([]byte("\x00\x06BLKSIZE\x0099999999999999999999\x00"))
	f.Add([]byte("\x00\x05\x00\x09\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePacket(b)
		if err != nil {
			return
		}
		switch p.op {
		case opDATA:
			if !bytes.Equal(p.data, b[4:]) || p.block != binary.BigEndian.Uint16(b[2:]) {
				t.Fatalf("parsePacket(%q) DATA = block %d %q", b, p.block, p.data)
			}
		case opERROR:
			for _, r := range p.err.Error() {
				if r < 0x20 {
					t.Fatalf("parsePacket(%q) error text has control character %q", b, r)
				}
			}
		case opOACK:
			tr := &transfer{cfg: &Config{BlockSize: DefaultBlockSize}, blksize: 512, tsize: -1}
			if err := tr.accept(p.opts); err == nil && (tr.blksize < 8 || tr.blksize > DefaultBlockSize || tr.tsize < -1) {
				t.Fatalf("accept(%q) = blksize %d tsize %d; want within limits", p.opts, tr.blksize, tr.tsize)
			}
		}
	})
}
