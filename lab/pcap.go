package lab

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/seqnum"
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
	err := d.each(func(frame []byte, orig int) {
		if fromSlirp(frame) {
			c.ToGuest++
			c.BytesToGuest += int64(orig)
		} else {
			c.FromGuest++
		}
	})
	return c, err
}

func fromSlirp(frame []byte) bool { return len(frame) >= 12 && string(frame[6:11]) == string(slirpMAC) }

// MaxInFlight reads the dump as written so far and returns the largest
// number of TCP segments carrying data to the guest that the guest had not
// yet acknowledged, summed over its connections: the most frames that can
// have waited in the guest NIC's receive ring at once. Through U-Boot's SNP
// that must stay below 32 (see ipstack.DefaultReceiveBuffer).
func (d FrameDump) MaxInFlight() (int, error) {
	type conn struct {
		host, guest tcpip.Address
		hostPort    uint16
		guestPort   uint16
	}
	outstanding := map[conn][]uint32{} // sequence numbers that end unacknowledged segments
	n, most := 0, 0
	err := d.each(func(frame []byte, _ int) {
		eth := header.Ethernet(frame)
		if len(frame) < header.EthernetMinimumSize || eth.Type() != header.IPv4ProtocolNumber {
			return
		}
		ip := header.IPv4(frame[header.EthernetMinimumSize:])
		if !ip.IsValid(len(ip)) || ip.TransportProtocol() != header.TCPProtocolNumber {
			return
		}
		tcp := header.TCP(ip.Payload())
		if len(tcp) < header.TCPMinimumSize || int(tcp.DataOffset()) < header.TCPMinimumSize || int(tcp.DataOffset()) > len(tcp) {
			return
		}
		if fromSlirp(frame) {
			if data := len(tcp.Payload()); data > 0 {
				k := conn{ip.SourceAddress(), ip.DestinationAddress(), tcp.SourcePort(), tcp.DestinationPort()}
				outstanding[k] = append(outstanding[k], tcp.SequenceNumber()+uint32(data))
				n++
				most = max(most, n)
			}
			return
		}
		if tcp.Flags()&header.TCPFlagAck == 0 {
			return
		}
		k := conn{ip.DestinationAddress(), ip.SourceAddress(), tcp.DestinationPort(), tcp.SourcePort()}
		ends, ack := outstanding[k], tcp.AckNumber()
		kept := ends[:0]
		for _, end := range ends {
			if seqnum.Value(ack).LessThan(seqnum.Value(end)) { // not yet covered
				kept = append(kept, end)
			}
		}
		n -= len(ends) - len(kept)
		outstanding[k] = kept
	})
	return most, err
}

// each calls fn with every complete record of the dump written so far and
// the frame's original length.
func (d FrameDump) each(fn func(frame []byte, orig int)) error {
	f, err := os.Open(string(d))
	if err != nil {
		return err
	}
	defer f.Close()
	// pcap: a 24-byte file header (magic a1b2c3d4 in the writer's byte
	// order), then per frame a 16-byte record header (seconds,
	// microseconds, captured length, original length) and the frame.
	var hdr [24]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return fmt.Errorf("lab: %s: pcap header: %w", d, err)
	}
	var bo binary.ByteOrder
	switch {
	case binary.LittleEndian.Uint32(hdr[:]) == 0xa1b2c3d4:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[:]) == 0xa1b2c3d4:
		bo = binary.BigEndian
	default:
		return fmt.Errorf("lab: %s: not a pcap file (magic %x)", d, hdr[:4])
	}
	buf := make([]byte, 65536)
	var rec [16]byte
	for {
		if _, err := io.ReadFull(f, rec[:]); err != nil {
			return nil
		}
		n := int(bo.Uint32(rec[8:]))
		if n > len(buf) {
			return fmt.Errorf("lab: %s: record of %d bytes", d, n)
		}
		if _, err := io.ReadFull(f, buf[:n]); err != nil {
			return nil
		}
		fn(buf[:n], int(bo.Uint32(rec[12:])))
	}
}
