package ipstack

import (
	"encoding/binary"
	"fmt"
	stdnet "net"
	"net/netip"
	"slices"
	"testing"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// writeFrames hands whole frames to the link as the stack would.
func (l *linkEndpoint) writeFrames(frames ...[]byte) {
	var pkts stack.PacketBufferList
	for _, f := range frames {
		pkts.PushBack(stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(f)}))
	}
	l.WritePackets(pkts)
	pkts.DecRef()
}

// sackFrame is an ACK carrying one SACK block (RFC 2018), as a receiver
// sends on seeing a hole.
func sackFrame(mac, peer []byte, me, them netip.Addr, sport, dport uint16, seq, ack uint32) []byte {
	f := tcpSegment(peer, mac, me, them, sport, dport, seq, ack, header.TCPFlagAck, nil)
	opts := []byte{header.TCPOptionNOP, header.TCPOptionNOP, header.TCPOptionSACK, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0}
	f = append(f, opts...)
	ip := header.IPv4(f[header.EthernetMinimumSize:])
	ip.SetTotalLength(uint16(len(ip)))
	ip.SetChecksum(0)
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(ip[header.IPv4MinimumSize:])
	tcp[12] = byte((header.TCPMinimumSize + len(opts)) / 4 << 4)
	tcp.SetChecksum(0)
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(tcp)))
	tcp.SetChecksum(^checksum.Checksum(tcp, sum))
	return f
}

// TestHeldACKs: pure ACKs wait for the end of the poll turn; a later pure
// ACK or a data segment of the same connection that acknowledges at least
// as much replaces the held one; SACK ACKs, other connections' frames and
// other protocols first send the held ACK, so nothing is reordered.
func TestHeldACKs(t *testing.T) {
	nic := &queueNIC{mac: stdnet.HardwareAddr{2, 0, 0, 0, 0, 1}}
	l := newLinkEndpoint(nic)
	mac, peer := []byte(nic.MAC()), []byte{2, 0, 0, 0, 0, 2}
	me, them := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	ack := func(sport uint16, ackN uint32, win uint16) []byte {
		f := tcpSegment(peer, mac, me, them, sport, 3260, 500, ackN, header.TCPFlagAck, nil)
		header.TCP(f[header.EthernetMinimumSize+header.IPv4MinimumSize:]).SetWindowSize(win)
		return f
	}
	data := tcpSegment(peer, mac, me, them, 40000, 3260, 500, 2000, header.TCPFlagAck|header.TCPFlagPsh, []byte("a SCSI command"))
	udp := make([]byte, 60)
	copy(udp, peer)
	copy(udp[6:], mac)
	binary.BigEndian.PutUint16(udp[12:], 0x0806) // ARP: not TCP
	describe := func(frames [][]byte) (d []string) {
		for _, f := range frames {
			kind, _, a := classifyTx(f)
			win := uint16(0)
			if kind != txOther {
				win = header.TCP(f[header.EthernetMinimumSize+header.IPv4MinimumSize:]).WindowSize()
			}
			d = append(d, [...]string{"other", "ack", "sack", "data"}[kind]+fmt.Sprintf("/%d/%d", a, win))
		}
		return d
	}
	for _, tc := range []struct {
		name   string
		frames [][]byte
		before []string // sent before the turn ends
		after  []string // sent by flushHeld
		merged uint64
	}{
		{"the window update replaces the ACK", [][]byte{ack(40000, 1000, 96), ack(40000, 1000, 24576)}, nil, []string{"ack/1000/24576"}, 1},
		{"a later ACK replaces it", [][]byte{ack(40000, 1000, 96), ack(40000, 3000, 96)}, nil, []string{"ack/3000/96"}, 1},
		{"data acknowledging as much replaces it", [][]byte{ack(40000, 1000, 96), data}, []string{"data/2000/65535"}, nil, 1},
		{"an older ACK does not", [][]byte{ack(40000, 3000, 96), ack(40000, 1000, 96)}, []string{"ack/3000/96"}, []string{"ack/1000/96"}, 0},
		{"another connection's ACK sends it first", [][]byte{ack(40000, 1000, 96), ack(40001, 1000, 96)}, []string{"ack/1000/96"}, []string{"ack/1000/96"}, 0},
		{"a SACK sends it first", [][]byte{ack(40000, 1000, 96), sackFrame(mac, peer, me, them, 40000, 3260, 500, 1000)}, []string{"ack/1000/96", "sack/1000/65535"}, nil, 0},
		{"other protocols send it first", [][]byte{ack(40000, 1000, 96), udp}, []string{"ack/1000/96", "other/0/0"}, nil, 0},
	} {
		before := l.txACKsMerged.Load()
		l.writeFrames(tc.frames...)
		if got := describe(nic.take()); !slices.Equal(got, tc.before) {
			t.Errorf("%s: sent before the turn ended %q; want %q", tc.name, got, tc.before)
		}
		l.flushHeld()
		if got := describe(nic.take()); !slices.Equal(got, tc.after) {
			t.Errorf("%s: sent at the end of the turn %q; want %q", tc.name, got, tc.after)
		}
		if got := l.txACKsMerged.Load() - before; got != tc.merged {
			t.Errorf("%s: ACKs merged %d; want %d", tc.name, got, tc.merged)
		}
	}
}
