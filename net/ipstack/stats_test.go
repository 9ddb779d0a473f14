package ipstack_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"github.com/snp-go/snp-go/net/ipstack"
	"github.com/snp-go/snp-go/net/nettest"
)

// TestIPv4StatsTransfer: a 300000-byte TCP download is counted packet by
// packet even though the link coalesces segments, and the peer's ARP
// entry is listed.
func TestIPv4StatsTransfer(t *testing.T) {
	a, b := nettest.Pair(t, nettest.HostOptions{}, nettest.HostOptions{})
	const size = 300000
	serveSource(t, b, 80, size)
	sum, n, err := fetchAll(t, a, netip.AddrPortFrom(b.Addr, 80), 2*time.Second)
	if err != nil || n != size || sum != patternSum(size) {
		t.Fatalf("fetch = %d bytes, %v; want %d intact", n, err, size)
	}
	// A packet that arrives after the last byte was read (the close's
	// segments) is counted received just before it is delivered
	// (linkEndpoint.dispatch): a snapshot in between sees InReceives one
	// ahead. Wait for the stack to settle.
	ip := a.Stack.IPv4Stats()
	for deadline := time.Now().Add(2 * time.Second); ip.InDelivers != ip.InReceives && time.Now().Before(deadline); ip = a.Stack.IPv4Stats() {
		time.Sleep(time.Millisecond)
	}
	tcp := a.Stack.TCPStats()
	t.Logf("%+v %+v", ip, tcp)
	// Each data segment carries at most 1460 bytes.
	if ip.InReceives < size/1460 || ip.InOctets < size || ip.InDelivers != ip.InReceives {
		t.Errorf("IPv4Stats() = %+v; want InReceives >= %d, InOctets >= %d, InDelivers == InReceives", ip, size/1460, size)
	}
	if ip.OutTransmits == 0 || ip.OutRequests != ip.OutTransmits || ip.OutOctets < 40*ip.OutTransmits {
		t.Errorf("IPv4Stats() = %+v; want OutRequests == OutTransmits > 0, OutOctets >= 40 per packet", ip)
	}
	if ip.InHdrErrors+ip.InAddrErrors+ip.InBcastPkts+ip.InMcastPkts+ip.OutBcastPkts+ip.OutMcastPkts != 0 {
		t.Errorf("IPv4Stats() = %+v; want no errors, broadcasts or multicasts", ip)
	}
	// InOctets also counts retransmitted segments' payload (a slow run, as
	// under -race, sees some); InOctetsGood counts each byte read once.
	if tcp.InSegs < size/1460 || tcp.InOctets < size || tcp.InOctetsGood != size || tcp.InDiscards != 0 {
		t.Errorf("TCPStats() = %+v; want InSegs >= %d, InOctets >= InOctetsGood == %d, no discards", tcp, size/1460, size)
	}
	got := a.Stack.Neighbours()
	if len(got) != 1 || got[0].Interface != "net0" || got[0].Addr != b.Addr || got[0].MAC.String() != nettest.MAC(2).String() || got[0].Incomplete {
		t.Errorf("Neighbours() = %+v; want net0 %v is %v", got, b.Addr, nettest.MAC(2))
	}
}

// frame builds an Ethernet frame to dst carrying an IPv4 packet from
// 10.0.0.9 to to with the given protocol and payload; edit may spoil it.
func frame(dst tcpip.LinkAddress, to string, proto tcpip.TransportProtocolNumber, payload []byte, edit func(ip header.IPv4)) []byte {
	b := make([]byte, header.EthernetMinimumSize+header.IPv4MinimumSize+len(payload))
	header.Ethernet(b).Encode(&header.EthernetFields{SrcAddr: tcpip.LinkAddress(nettest.MAC(9)), DstAddr: dst, Type: header.IPv4ProtocolNumber})
	ip := header.IPv4(b[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(ip)), TTL: 64, Protocol: uint8(proto),
		SrcAddr: tcpip.AddrFrom4([4]byte{10, 0, 0, 9}), DstAddr: tcpip.AddrFrom4(netip.MustParseAddr(to).As4())})
	ip.SetChecksum(^ip.CalculateChecksum())
	copy(ip[header.IPv4MinimumSize:], payload)
	if edit != nil {
		edit(ip)
	}
	return b
}

// udp is a UDP datagram to port 9 without a checksum.
func udp() []byte {
	u := make([]byte, 12)
	binary.BigEndian.PutUint16(u[0:], 1234)
	binary.BigEndian.PutUint16(u[2:], 9)
	binary.BigEndian.PutUint16(u[4:], 12)
	return u
}

// TestIPv4StatsErrors: malformed and misdirected packets are counted as
// RFC 4293 says, and an address being resolved is listed incomplete.
func TestIPv4StatsErrors(t *testing.T) {
	w := ipstack.NewWire()
	a := nettest.AddHost(t, w, 1, nettest.HostOptions{Prefix: netip.MustParsePrefix("10.0.0.1/24")})
	raw := w.NewPort(nettest.MAC(9), ipstack.PortOptions{})
	us := tcpip.LinkAddress(nettest.MAC(1))
	tcpSeg := make([]byte, 20)
	tcpSeg[12] = 5 << 4 // data offset; checksum left 0: wrong
	for _, f := range [][]byte{
		frame(us, "10.0.0.1", header.UDPProtocolNumber, udp(), func(ip header.IPv4) { ip.SetChecksum(ip.Checksum() + 1) }), // InHdrErrors
		frame(us, "10.0.0.77", header.UDPProtocolNumber, udp(), nil),                                                       // InAddrErrors
		frame(header.EthernetBroadcastAddress, "10.0.0.255", header.UDPProtocolNumber, udp(), nil),                         // InBcastPkts
		frame(us, "10.0.0.1", 253, []byte("experimental"), nil),                                                            // InUnknownProtos
		frame(us, "10.0.0.1", header.TCPProtocolNumber, tcpSeg, nil),                                                       // TCP InDiscards
	} {
		if err := raw.Transmit(f); err != nil {
			t.Fatal(err)
		}
	}
	// An ARP request nobody answers.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	a.Stack.DialTCP(ctx, netip.AddrPort{}, netip.MustParseAddrPort("10.0.0.50:80"))

	deadline := time.Now().Add(5 * time.Second)
	var ip ipstack.IPStats
	for {
		ip = a.Stack.IPv4Stats()
		if ip.InReceives >= 5 && ip.InUnknownProtos+ip.InAddrErrors >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	want := ipstack.IPStats{InReceives: 5, InOctets: ip.InOctets, InBcastPkts: 1, InHdrErrors: 1, InAddrErrors: 1, InUnknownProtos: 1,
		InDelivers: ip.InDelivers, OutRequests: ip.OutRequests, OutTransmits: ip.OutTransmits, OutOctets: ip.OutOctets}
	// Four 32-byte packets and the 40-byte TCP one; the replies (ICMP
	// protocol unreachable) and the SYN wait for ARP: requested, not sent.
	if ip != want || ip.InOctets != 4*32+40 || ip.OutTransmits != 0 || ip.OutRequests == 0 {
		t.Errorf("IPv4Stats() = %+v; want %+v, InOctets %d, OutRequests > 0, OutTransmits 0", ip, want, 4*32+40)
	}
	if tcp := a.Stack.TCPStats(); tcp.InDiscards != 1 || tcp.InSegs != 0 {
		t.Errorf("TCPStats() = %+v; want 1 discard (bad checksum), no segments", tcp)
	}
	// 10.0.0.9 (the sender, owed a reply) and 10.0.0.50 never answer ARP.
	got := a.Stack.Neighbours()
	if len(got) != 2 || got[0].Addr != netip.MustParseAddr("10.0.0.9") || got[1].Addr != netip.MustParseAddr("10.0.0.50") ||
		!got[0].Incomplete || !got[1].Incomplete || got[0].MAC != nil {
		t.Errorf("Neighbours() = %+v; want 10.0.0.9 and 10.0.0.50, incomplete", got)
	}
}
