package lab

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// FrameDump records every frame of the lab's user-mode network in a pcap
// file (QEMU's filter-dump object on netdev n0). Counting its records at two
// moments gives the frames of what ran in between.
type FrameDump string

// Args are the QEMU arguments that attach the dump to netdev n0.
func (d FrameDump) Args() []string {
	return []string{"-object", "filter-dump,id=dump0,netdev=n0,file=" + qemuEscape(string(d))}
}

// FrameCount counts frames by direction.
type FrameCount struct {
	ToGuest, FromGuest int // from slirp's hosts to the guest; from the guest
	BytesToGuest       int64
}

// Sub returns the frames counted since old.
func (c FrameCount) Sub(old FrameCount) FrameCount {
	return FrameCount{c.ToGuest - old.ToGuest, c.FromGuest - old.FromGuest, c.BytesToGuest - old.BytesToGuest}
}

// slirpMAC is the prefix of the MAC addresses slirp's virtual hosts
// (gateway 10.0.2.2, DNS 10.0.2.3) send from: 52:55:0a:00:02:xx.
var slirpMAC = []byte{0x52, 0x55, 0x0a, 0x00, 0x02}

// Count reads the dump as written so far. A record still being written at
// the end is not counted.
func (d FrameDump) Count() (FrameCount, error) {
	var c FrameCount
	f, err := os.Open(string(d))
	if err != nil {
		return c, err
	}
	defer f.Close()
	// pcap: a 24-byte file header (magic a1b2c3d4 in the writer's byte
	// order), then per frame a 16-byte record header (seconds,
	// microseconds, captured length, original length) and the frame.
	var hdr [24]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return c, fmt.Errorf("lab: %s: pcap header: %w", d, err)
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(hdr[:]) == 0xa1b2c3d4:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[:]) == 0xa1b2c3d4:
		bo = binary.BigEndian
	default:
		return c, fmt.Errorf("lab: %s: not a pcap file (magic %x)", d, hdr[:4])
	}
	buf := make([]byte, 65536)
	var rec [16]byte
	for {
		if _, err := io.ReadFull(f, rec[:]); err != nil {
			return c, nil
		}
		n := int(bo.Uint32(rec[8:]))
		if n > len(buf) {
			return c, fmt.Errorf("lab: %s: record of %d bytes", d, n)
		}
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			return c, nil
		}
		if n >= 12 && string(buf[6:11]) == string(slirpMAC) {
			c.ToGuest++
			c.BytesToGuest += int64(bo.Uint32(rec[12:]))
		} else {
			c.FromGuest++
		}
	}
}
