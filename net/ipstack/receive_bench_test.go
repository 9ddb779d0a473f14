package ipstack

import (
	"io"
	"net/netip"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// BenchmarkReceivePath measures what one received frame costs on the way
// from the NIC to a reader of the TCP connection: rounds of 16 in-order
// full-size segments, as a burst waits in U-Boot's ring, taken by the poll
// loop, checked, coalesced, through IP and TCP to a goroutine reading the
// connection. One op is one frame (allocations per frame with -benchmem).
func BenchmarkReceivePath(b *testing.B) {
	h := newQueueHost(b)
	s, ifc, nic, mac, peer, me, them := h.s, h.ifc, h.nic, h.mac, h.peer, h.me, h.them
	if terr := s.GVisor().AddStaticNeighbor(ifc.ID(), header.IPv4ProtocolNumber, tcpip.AddrFrom4(them.As4()), tcpip.LinkAddress(peer)); terr != nil {
		b.Fatal(terr)
	}
	ln, err := s.ListenTCP(netip.AddrPortFrom(me, 3260))
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()

	// Handshake by hand: SYN, read the SYN-ACK's sequence number, ACK.
	const sport, iss = 40000, 1000
	nic.push(tcpFrame(mac, peer, them, me, sport, 3260, iss, header.TCPFlagSyn, nil))
	var ack uint32
	for deadline := time.Now().Add(5 * time.Second); ack == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("no SYN-ACK")
		}
		if last := nic.lastSent(); len(last) > 54 {
			t := header.TCP(last[34:])
			if t.Flags() == header.TCPFlagSyn|header.TCPFlagAck {
				ack = t.SequenceNumber() + 1
			}
		}
	}
	seq := uint32(iss + 1)
	nic.push(tcpSegment(mac, peer, them, me, sport, 3260, seq, ack, header.TCPFlagAck, nil))
	c, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go io.Copy(io.Discard, c)

	const perRound, size = 16, 1448
	payload := make([]byte, size)
	frames := make([][]byte, perRound)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	sent := 0
	for sent < b.N {
		b.StopTimer()
		n := min(perRound, b.N-sent)
		for i := range n {
			frames[i] = tcpSegment(mac, peer, them, me, sport, 3260, seq, ack, header.TCPFlagAck, payload)
			seq += size
		}
		b.StartTimer()
		nic.push(frames[:n]...)
		sent += n
		// Wait until the round is taken (the stack ACKs it), keeping the
		// data in flight within the window as a real peer would.
		for ifc.Stats().RxFrames < uint64(sent+2) {
			time.Sleep(10 * time.Microsecond)
		}
	}
	b.StopTimer()
}
