package ipstack

import (
	"math/rand/v2"
	stdnet "net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// The tests below build frames by hand; checksum and header come from
// gVisor, the code under test only checks them.

// queueNIC hands out the frames queued with push, then reports none
// pending: frames pushed together arrive in one poll round, as a burst
// waiting in U-Boot's ring does.
type queueNIC struct {
	mac    stdnet.HardwareAddr
	mu     sync.Mutex
	frames [][]byte
	last   []byte   // the last frame the stack transmitted
	sent   [][]byte // every frame transmitted since the last take
}

func (q *queueNIC) MAC() stdnet.HardwareAddr { return q.mac }
func (q *queueNIC) MTU() int                 { return 1500 }

func (q *queueNIC) Transmit(frame []byte) error {
	q.mu.Lock()
	q.last = append(q.last[:0], frame...)
	q.sent = append(q.sent, append([]byte(nil), frame...))
	q.mu.Unlock()
	return nil
}

// take returns the frames transmitted since the last take.
func (q *queueNIC) take() (sent [][]byte) {
	q.mu.Lock()
	sent, q.sent = q.sent, nil
	q.mu.Unlock()
	return sent
}

// lastSent returns a copy of the last frame the stack transmitted.
func (q *queueNIC) lastSent() []byte {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]byte(nil), q.last...)
}

// queueHost is a stack with one interface, 10.0.0.1/24 on MAC
// 02:00:00:00:00:01, over a queueNIC; the test plays the peer 10.0.0.2 at
// 02:00:00:00:00:02.
type queueHost struct {
	s         *Stack
	ifc       *Interface
	nic       *queueNIC
	mac, peer stdnet.HardwareAddr
	me, them  netip.Addr
}

func newQueueHost(tb testing.TB) *queueHost {
	tb.Helper()
	s, err := NewStack(Options{Idle: func() {}})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	h := &queueHost{s: s, mac: stdnet.HardwareAddr{2, 0, 0, 0, 0, 1}, peer: stdnet.HardwareAddr{2, 0, 0, 0, 0, 2},
		me: netip.MustParseAddr("10.0.0.1"), them: netip.MustParseAddr("10.0.0.2")}
	h.nic = &queueNIC{mac: h.mac}
	if h.ifc, err = s.AddInterface("net0", h.nic); err != nil {
		tb.Fatal(err)
	}
	if err := h.ifc.Configure(Config{Address: netip.PrefixFrom(h.me, 24)}); err != nil {
		tb.Fatal(err)
	}
	return h
}
func (q *queueNIC) Receive(buf []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) == 0 {
		return 0, nil
	}
	f := q.frames[0]
	q.frames = q.frames[1:]
	return copy(buf, f), nil
}

func (q *queueNIC) push(frames ...[]byte) {
	q.mu.Lock()
	q.frames = append(q.frames, frames...)
	q.mu.Unlock()
}

// tcpFrame builds an Ethernet frame with one TCP segment from src:sport to
// dst:dport carrying payload at sequence number seq (acknowledging 1).
func tcpFrame(dstMAC, srcMAC []byte, src, dst netip.Addr, sport, dport uint16, seq uint32, flags header.TCPFlags, payload []byte) []byte {
	return tcpSegment(dstMAC, srcMAC, src, dst, sport, dport, seq, 1, flags, payload)
}

// tcpSegment is tcpFrame with an acknowledgment number.
func tcpSegment(dstMAC, srcMAC []byte, src, dst netip.Addr, sport, dport uint16, seq, ack uint32, flags header.TCPFlags, payload []byte) []byte {
	f := make([]byte, header.EthernetMinimumSize+header.IPv4MinimumSize+header.TCPMinimumSize+len(payload))
	header.Ethernet(f).Encode(&header.EthernetFields{SrcAddr: tcpip.LinkAddress(srcMAC), DstAddr: tcpip.LinkAddress(dstMAC), Type: header.IPv4ProtocolNumber})
	ip := header.IPv4(f[header.EthernetMinimumSize:])
	ip.Encode(&header.IPv4Fields{TotalLength: uint16(len(f) - header.EthernetMinimumSize), TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
		SrcAddr: tcpip.AddrFrom4(src.As4()), DstAddr: tcpip.AddrFrom4(dst.As4())})
	ip.SetChecksum(^ip.CalculateChecksum())
	tcp := header.TCP(ip[header.IPv4MinimumSize:])
	tcp.Encode(&header.TCPFields{SrcPort: sport, DstPort: dport, SeqNum: seq, AckNum: ack, DataOffset: header.TCPMinimumSize, Flags: flags, WindowSize: 65535})
	copy(tcp[header.TCPMinimumSize:], payload)
	sum := header.PseudoHeaderChecksum(header.TCPProtocolNumber, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(tcp)))
	sum = checksum.Checksum(payload, sum)
	tcp.SetChecksum(^tcp.CalculateChecksum(sum))
	return f
}

// TestPollCoalescesRound: the in-order, equal-sized TCP segments that one
// poll round takes from the NIC reach IP as one packet; a segment with PSH
// ends the coalesced packet; a segment of another flow stays apart.
func TestPollCoalescesRound(t *testing.T) {
	h := newQueueHost(t)
	s, ifc, nic, mac, peer, me, them := h.s, h.ifc, h.nic, h.mac, h.peer, h.me, h.them
	ipIn := s.GVisor().Stats().IP.PacketsReceived
	before := ipIn.Value()
	payload := make([]byte, 1440)
	var frames [][]byte
	seq := uint32(1000)
	for i := 0; i < 5; i++ { // five full segments, the last one pushed
		flags := header.TCPFlagAck
		if i == 4 {
			flags |= header.TCPFlagPsh
		}
		frames = append(frames, tcpFrame(mac, peer, them, me, 3260, 40000, seq, flags, payload))
		seq += uint32(len(payload))
	}
	frames = append(frames,
		tcpFrame(mac, peer, them, me, 3260, 40000, seq, header.TCPFlagAck, payload), // after PSH: a new packet
		tcpFrame(mac, peer, them, me, 80, 40001, 5, header.TCPFlagAck, payload))     // another flow
	nic.push(frames...)
	deadline := time.Now().Add(5 * time.Second)
	for st := ifc.Stats(); (st.RxFrames < uint64(len(frames)) || st.RxRounds == 0) && time.Now().Before(deadline); st = ifc.Stats() {
		time.Sleep(time.Millisecond)
	}
	st := ifc.Stats()
	if st.RxFrames != uint64(len(frames)) || st.RxRounds != 1 {
		t.Fatalf("link stats %+v; want %d frames in 1 round", st, len(frames))
	}
	for time.Now().Before(deadline) && ipIn.Value()-before < 3 {
		time.Sleep(time.Millisecond)
	}
	if got := ipIn.Value() - before; got != 3 {
		t.Errorf("IP packets received from %d frames in one round = %d; want 3 (5 coalesced, then 1, then another flow's 1)", len(frames), got)
	}
	if bad := s.GVisor().Stats().IP.MalformedPacketsReceived.Value(); bad != 0 {
		t.Errorf("IP found %d of the packets malformed; want 0", bad)
	}

	// A corrupted segment is dropped by the link, which checks checksums
	// for the stack (RX checksum offload).
	bad := tcpFrame(mac, peer, them, me, 3260, 40000, seq+1440, header.TCPFlagAck, payload)
	bad[len(bad)-1] ^= 1
	nic.push(bad)
	for time.Now().Before(deadline) && ifc.Stats().RxChecksum == 0 {
		time.Sleep(time.Millisecond)
	}
	if st := ifc.Stats(); st.RxChecksum != 1 {
		t.Errorf("link stats after a corrupted segment %+v; want RxChecksum 1", st)
	}
	if got := ipIn.Value() - before; got != 3 {
		t.Errorf("IP packets received after a corrupted segment = %d; want still 3", got)
	}
}

// fixIPChecksum recomputes the IPv4 header checksum after a test changed
// the header.
func fixIPChecksum(ip []byte) []byte {
	h := header.IPv4(ip)
	h.SetChecksum(0)
	h.SetChecksum(^h.CalculateChecksum())
	return ip
}

func TestCheckIPv4(t *testing.T) {
	me, them := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	good := tcpFrame(make([]byte, 6), make([]byte, 6), them, me, 1, 2, 3, header.TCPFlagAck, []byte("data"))[header.EthernetMinimumSize:]
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	// A UDP datagram: the TCP segment's bytes re-labelled, checksum redone
	// or zeroed (no checksum), and an ICMP echo.
	udp := func(sum bool) []byte {
		return mutate(func(b []byte) []byte {
			b[9] = uint8(header.UDPProtocolNumber)
			fixIPChecksum(b)
			u := header.UDP(b[20:])
			u.SetLength(uint16(len(u)))
			u.SetChecksum(0)
			if sum {
				h := header.IPv4(b)
				x := header.PseudoHeaderChecksum(header.UDPProtocolNumber, h.SourceAddress(), h.DestinationAddress(), uint16(len(u)))
				u.SetChecksum(^checksum.Checksum(u, x))
			}
			return b
		})
	}
	icmp := mutate(func(b []byte) []byte {
		b[9] = uint8(header.ICMPv4ProtocolNumber)
		fixIPChecksum(b)
		m := header.ICMPv4(b[20:])
		m.SetType(header.ICMPv4Echo)
		m.SetChecksum(0)
		m.SetChecksum(^checksum.Checksum(m, 0))
		return b
	})
	flip := func(b []byte, i int) []byte { b = append([]byte(nil), b...); b[i] ^= 1; return b }
	for _, tc := range []struct {
		name string
		ip   []byte
		want bool
	}{
		{"TCP", good, true},
		{"TCP in a padded frame", append(append([]byte(nil), good...), 0, 0, 0), true},
		{"TCP payload bit flipped", flip(good, len(good)-1), false},
		{"IP header bit flipped", flip(good, 8), false},
		{"UDP", udp(true), true},
		{"UDP payload bit flipped", flip(udp(true), len(good)-1), false},
		{"UDP without checksum", flip(udp(false), len(good)-1), true},
		{"ICMP", icmp, true},
		{"ICMP bit flipped", flip(icmp, len(icmp)-1), false},
		{"fragment: IP header only", mutate(func(b []byte) []byte { b[6] |= 0x20; b[len(b)-1] ^= 1; return fixIPChecksum(b) }), true},
		{"truncated: left to IP", good[:len(good)-1], true},
		{"not IPv4: left to IP", mutate(func(b []byte) []byte { b[0] = 0x65; return b }), true},
	} {
		if _, got := checkIPv4(tc.ip); got != tc.want {
			t.Errorf("checkIPv4(%s) ok = %v; want %v", tc.name, got, tc.want)
		}
	}
	if tcp, _ := checkIPv4(good); len(tcp) != len(good)-header.IPv4MinimumSize {
		t.Errorf("checkIPv4(TCP) segment of %d bytes; want the %d after the IP header", len(tcp), len(good)-header.IPv4MinimumSize)
	}
	if tcp, _ := checkIPv4(udp(true)); tcp != nil {
		t.Errorf("checkIPv4(UDP) returned a TCP segment")
	}
}

// TestCoalescerChecksums: the coalescer sums each payload as it copies it;
// a segment whose checksum is wrong, wherever it falls against the run's
// 16 KiB views (odd sizes put the view boundaries at odd offsets), is
// refused and leaves the run as it was; good segments after it join.
func TestCoalescerChecksums(t *testing.T) {
	me, them := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	mac := make([]byte, 6)
	r := rand.New(rand.NewPCG(7, 8))
	for _, size := range []int{1, 7, 1447, 1448, 1449} {
		var c coalescer
		var want []byte
		seq := uint32(100)
		for i := 0; len(want) < 3*runViewSize; i++ {
			payload := make([]byte, size)
			for j := range payload {
				payload[j] = byte(r.Uint32())
			}
			ip := tcpSegment(mac, mac, them, me, 3260, 40000, seq, 1, header.TCPFlagAck, payload)[header.EthernetMinimumSize:]
			bad := i%3 == 1
			if bad {
				ip[len(ip)-1-r.IntN(size)] ^= 0x40
			}
			tcp, pseudo, ok := inspectIPv4(ip)
			if !ok || tcp == nil {
				t.Fatalf("inspectIPv4(segment %d) = %v, %v; want a TCP segment", i, tcp, ok)
			}
			got := c.add(ip, tcp, pseudo)
			if want := map[bool]addResult{false: addJoined, true: addBadSum}[bad]; got != want {
				t.Fatalf("size %d: add(segment %d, corrupted %v) = %v; want %v", size, i, bad, got, want)
			}
			if !bad {
				want = append(want, payload...)
				seq += uint32(size)
			}
			if c.done {
				break
			}
		}
		b, ok := c.flush()
		if !ok {
			t.Fatalf("size %d: flush found no run", size)
		}
		got := b.Flatten()[header.IPv4MinimumSize+header.TCPMinimumSize:]
		if string(got) != string(want) {
			t.Errorf("size %d: coalesced payload of %d bytes differs from the %d good segments' bytes", size, len(got), len(want))
		}
		b.Release()
	}
}

// TestTxChecksum: the link fills in the TCP and UDP checksums the stack
// leaves to it (TX checksum offload) as gVisor would have, and leaves
// fragments and other protocols alone.
func TestTxChecksum(t *testing.T) {
	me, them := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	mac := make([]byte, 6)
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{0, 1, 2, 7, 100, 1447, 1448} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(r.Uint32())
		}
		want := tcpSegment(mac, mac, me, them, 40000, 3260, r.Uint32(), r.Uint32(), header.TCPFlagAck|header.TCPFlagPsh, payload)
		udp := append([]byte(nil), want...)
		ip := header.IPv4(udp[header.EthernetMinimumSize:])
		ip[9] = uint8(header.UDPProtocolNumber)
		fixIPChecksum(ip)
		u := header.UDP(ip[header.IPv4MinimumSize:])
		u.SetLength(uint16(len(u)))
		u.SetChecksum(0)
		u.SetChecksum(^checksum.Checksum(u, header.PseudoHeaderChecksum(header.UDPProtocolNumber, ip.SourceAddress(), ip.DestinationAddress(), uint16(len(u)))))
		for _, tc := range []struct {
			name  string
			frame []byte
			at    int
		}{{"TCP", want, header.TCPChecksumOffset}, {"UDP", udp, udpChecksumOffset}} {
			at := header.EthernetMinimumSize + header.IPv4MinimumSize + tc.at
			got := append([]byte(nil), tc.frame...)
			got[at], got[at+1] = 0, 0
			txChecksum(got)
			if string(got) != string(tc.frame) {
				t.Errorf("txChecksum(%s, %d bytes payload) checksum %x; want %x", tc.name, n, got[at:at+2], tc.frame[at:at+2])
			}
		}
	}
	frag := tcpSegment(mac, mac, me, them, 1, 2, 3, 4, header.TCPFlagAck, []byte("data"))
	ip := header.IPv4(frag[header.EthernetMinimumSize:])
	ip[6] |= 0x20 // more fragments
	fixIPChecksum(ip)
	at := header.EthernetMinimumSize + header.IPv4MinimumSize + header.TCPChecksumOffset
	frag[at], frag[at+1] = 0, 0
	before := string(frag)
	if txChecksum(frag); string(frag) != before {
		t.Errorf("txChecksum changed a fragment")
	}
}
