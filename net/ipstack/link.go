package ipstack

import (
	"errors"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

var errShortFrame = errors.New("net: frame shorter than an Ethernet header")

// LinkStats are per-interface link-layer counters.
type LinkStats struct {
	RxFrames, RxBytes uint64
	RxShort           uint64 // frames shorter than an Ethernet header
	RxErrors          uint64 // Receive returned an error
	TxFrames, TxBytes uint64
	TxErrors          uint64 // Transmit returned an error
	RxChecksum        uint64 // IPv4 packets dropped for a bad IP, TCP, UDP or ICMP checksum
	// RxRounds counts the poll rounds that found at least one frame;
	// RxFrames/RxRounds is how many frames a round takes from the ring.
	RxRounds uint64
	// TxACKsMerged counts pure TCP ACKs never sent because a later frame
	// of their connection superseded them (see ackhold.go).
	TxACKsMerged uint64
}

// linkEndpoint is a gVisor stack.LinkEndpoint over a NIC. It adds and strips
// the Ethernet II header itself (IEEE 802.3 clause 3.2.6 / RFC 894) and
// serialises every call into the NIC with mu.
type linkEndpoint struct {
	nic NIC
	mu  *sync.Mutex // serialises NIC calls; a SharedNIC's, shared by the links on its device
	// rx and tx are the NIC's Receive and Transmit, called with mu held
	// (a SharedNIC's Locked variants).
	rx func([]byte) (int, error)
	tx func([]byte) error

	mtu     atomic.Uint32
	addr    tcpip.LinkAddress
	txBuf   []byte // guarded by mu
	onClose func()

	dispMu     sync.RWMutex
	dispatcher stack.NetworkDispatcher

	// Owned by the poll goroutine: the buffer frames are received into,
	// and the coalescing of one poll round's TCP segments.
	frame []byte
	run   coalescer
	tally rxTally

	rxFrames, rxBytes, rxShort, rxErrors atomic.Uint64
	rxRounds, rxChecksum                 atomic.Uint64
	txFrames, txBytes, txErrors          atomic.Uint64
	ip                                   ipCounters // for ipstat

	held         heldACK     // guarded by mu; see ackhold.go
	heldPending  atomic.Bool // held is an ACK to send (written with mu held)
	txACKsMerged atomic.Uint64
	wake         func() // wakes an idle poller (set by Stack.AddInterface)
}

var _ stack.LinkEndpoint = (*linkEndpoint)(nil)

func newLinkEndpoint(nic NIC) *linkEndpoint {
	l := &linkEndpoint{nic: nic, mu: new(sync.Mutex), rx: nic.Receive, tx: nic.Transmit, addr: tcpip.LinkAddress(nic.MAC())}
	if s, ok := nic.(SharedNIC); ok {
		l.mu, l.rx, l.tx = s.Mutex(), s.ReceiveLocked, s.TransmitLocked
	}
	l.mtu.Store(uint32(nic.MTU()))
	return l
}

func (l *linkEndpoint) MTU() uint32                    { return l.mtu.Load() }
func (l *linkEndpoint) SetMTU(mtu uint32)              { l.mtu.Store(mtu) }
func (l *linkEndpoint) MaxHeaderLength() uint16        { return ethHeaderLen }
func (l *linkEndpoint) LinkAddress() tcpip.LinkAddress { return l.addr }
func (l *linkEndpoint) SetLinkAddress(a tcpip.LinkAddress) {
	// The station address belongs to the NIC (U-Boot's SNP refuses
	// StationAddress); changing it here would make us deaf.
}

// Capabilities: RX checksum offload means the stack trusts the
// checksums of what the link delivers, because receive validates them
// itself (see checkIPv4): coalesced TCP packets carry headers whose
// checksums no longer match, and the stack would drop them. TX checksum
// offload means the stack leaves TCP and UDP checksums to WritePackets
// (txChecksum), which sums with this package's faster code.
func (l *linkEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired | stack.CapabilityRXChecksumOffload | stack.CapabilityTXChecksumOffload
}
func (l *linkEndpoint) Attach(d stack.NetworkDispatcher) {
	l.dispMu.Lock()
	l.dispatcher = d
	l.dispMu.Unlock()
}

// dispatch hands a packet to the stack (poller only). The round's counts
// are made visible first, so a reader never sees a packet delivered that
// the counters have not yet received.
func (l *linkEndpoint) dispatch(pkt *stack.PacketBuffer) {
	l.tally.commit(l)
	l.dispMu.RLock()
	d := l.dispatcher
	l.dispMu.RUnlock()
	if d != nil {
		d.DeliverNetworkPacket(pkt.NetworkProtocolNumber, pkt)
	}
}

func (l *linkEndpoint) IsAttached() bool {
	l.dispMu.RLock()
	defer l.dispMu.RUnlock()
	return l.dispatcher != nil
}
func (l *linkEndpoint) Wait()                                   {}
func (l *linkEndpoint) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareEther }
func (l *linkEndpoint) Close() {
	if l.onClose != nil {
		l.onClose()
	}
}
func (l *linkEndpoint) SetOnCloseAction(f func()) { l.onClose = f }

// AddHeader prepends the Ethernet II header.
func (l *linkEndpoint) AddHeader(pkt *stack.PacketBuffer) {
	eth := header.Ethernet(pkt.LinkHeader().Push(header.EthernetMinimumSize))
	eth.Encode(&header.EthernetFields{
		SrcAddr: pkt.EgressRoute.LocalLinkAddress,
		DstAddr: pkt.EgressRoute.RemoteLinkAddress,
		Type:    pkt.NetworkProtocolNumber,
	})
}

// ParseHeader consumes the Ethernet II header.
func (l *linkEndpoint) ParseHeader(pkt *stack.PacketBuffer) bool {
	_, ok := pkt.LinkHeader().Consume(header.EthernetMinimumSize)
	return ok
}

// WritePackets transmits each packet as one frame.
func (l *linkEndpoint) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n := 0
	var terr tcpip.Error
	l.mu.Lock()
	for _, pkt := range pkts.AsSlice() {
		frame := l.txBuf[:0]
		for _, s := range pkt.AsSlices() {
			frame = append(frame, s...)
		}
		l.txBuf = frame
		txChecksum(frame)
		held, err := l.holdTx(frame)
		if err == nil && !held {
			err = l.send(frame)
		}
		if err != nil {
			terr = &tcpip.ErrClosedForSend{}
			if !errors.Is(err, ErrNICDown) {
				terr = &tcpip.ErrAborted{}
			}
			break
		}
		// IP handed it to the link: ipstat counts it even if the link
		// merges it with a later ACK (LinkStats.TxACKsMerged).
		l.ip.countOut(frame)
		n++
	}
	l.mu.Unlock()
	return n, terr
}

// send transmits one frame and counts it in the link's counters (mu held).
func (l *linkEndpoint) send(frame []byte) error {
	if err := l.tx(frame); err != nil {
		l.txErrors.Add(1)
		return err
	}
	l.txFrames.Add(1)
	l.txBytes.Add(uint64(len(frame)))
	return nil
}

// poll calls Receive until the NIC reports no pending frame (or max frames
// were delivered), hands each frame to the stack, and returns the number of
// frames delivered.
//
// Frames are received straight into the link's frame buffer (the NIC
// copies each once, from its ring; U-Boot's SNP writes it there itself),
// checked here on the contiguous bytes (see checkIPv4), and the
// in-order TCP segments of the round are coalesced (see coalescer) before
// IP and TCP see them.
func (l *linkEndpoint) poll(max int) int {
	if l.frame == nil {
		l.frame = make([]byte, rxBufLen)
	}
	got := 0
	for got < max {
		l.mu.Lock()
		n, err := l.rx(l.frame)
		l.mu.Unlock()
		if err != nil {
			l.rxErrors.Add(1)
			break
		}
		if n == 0 {
			break
		}
		got++
		l.receive(l.frame[:n])
	}
	if got > 0 {
		l.rxRounds.Add(1)
		l.flushRun()
		l.tally.commit(l) // frames that were dropped, not dispatched
	}
	return got
}

// receive hands one frame to the stack, or to the round's coalescing. The
// frame's bytes are copied: its buffer is reused.
func (l *linkEndpoint) receive(frame []byte) {
	if len(frame) < ethHeaderLen {
		l.rxShort.Add(1)
		return
	}
	l.tally.frames++
	l.tally.bytes += uint64(len(frame))
	eth := header.Ethernet(frame)
	// The destination's group bit (IEEE 802.3 §3.2.3), then the bytes
	// compared in place.
	var pktType tcpip.PacketType
	switch dst := frame[:6]; {
	case dst[0]&1 == 0 && string(dst) == string(l.addr):
		pktType = tcpip.PacketHost
	case dst[0]&1 == 0:
		pktType = tcpip.PacketOtherHost
	case string(dst) == string(header.EthernetBroadcastAddress):
		pktType = tcpip.PacketBroadcast
	default:
		pktType = tcpip.PacketMulticast
	}
	proto := eth.Type()
	if proto == header.IPv4ProtocolNumber {
		ip := frame[ethHeaderLen:]
		tcp, pseudo, ok := inspectIPv4(ip)
		if tcp != nil {
			r := addNo
			if pktType == tcpip.PacketHost {
				r = l.coalesce(ip, tcp, pseudo)
			}
			switch {
			case r == addJoined:
				l.ip.countTCP(&l.tally, len(ip), len(tcp)-int(tcp.DataOffset()))
				return
			case r == addBadSum || segmentSum(tcp, pseudo) != 0xffff: // not coalesced: delivered alone
				ok = false
			}
		}
		l.ip.countIn(&l.tally, ip, pktType, ok)
		if !ok {
			l.rxChecksum.Add(1)
			return
		}
	}
	l.flushRun()
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	defer pkt.DecRef()
	if !l.ParseHeader(pkt) {
		return
	}
	pkt.PktType = pktType
	pkt.NetworkProtocolNumber = proto
	pkt.RXChecksumValidated = proto == header.IPv4ProtocolNumber
	l.dispatch(pkt)
}

// coalesce offers a TCP segment to the round's run (see coalescer.add),
// flushing the open run first when the segment cannot continue it.
func (l *linkEndpoint) coalesce(ip []byte, tcp header.TCP, pseudo uint64) addResult {
	open := l.run.hdrLen > 0
	r := l.run.add(ip, tcp, pseudo)
	if r == addNo && open {
		l.flushRun() // keep the flow's order
		r = l.run.add(ip, tcp, pseudo)
	} else if r == addJoined && open {
		l.tally.coalesced++
	}
	if r == addJoined && l.run.done {
		l.flushRun()
	}
	return r
}

// flushRun passes the round's coalesced TCP packet, if any, to the stack.
func (l *linkEndpoint) flushRun() {
	b, ok := l.run.flush()
	if !ok {
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: b})
	defer pkt.DecRef()
	pkt.PktType = tcpip.PacketHost // only frames to our MAC are coalesced
	pkt.NetworkProtocolNumber = header.IPv4ProtocolNumber
	pkt.RXChecksumValidated = true
	l.dispatch(pkt)
}

// udpChecksumOffset is where a UDP header's checksum is (RFC 768).
const udpChecksumOffset = 6

// txChecksum fills in the TCP (RFC 9293 §3.1) or UDP (RFC 768) checksum of
// an outgoing Ethernet frame carrying an unfragmented IPv4 packet: the link
// declares TX checksum offload, so the stack leaves them zero (it still
// computes the IPv4 header checksum). A UDP datagram the stack fragmented
// keeps checksum zero, "no checksum" in IPv4; TCP never fragments.
func txChecksum(frame []byte) {
	if len(frame) < ethHeaderLen+header.IPv4MinimumSize || header.Ethernet(frame).Type() != header.IPv4ProtocolNumber {
		return
	}
	ip := frame[ethHeaderLen:]
	h := header.IPv4(ip)
	_, seg, ok := ipv4Parts(ip)
	if !ok || h.More() || h.FragmentOffset() != 0 {
		return
	}
	var at int
	switch tcpip.TransportProtocolNumber(h.Protocol()) {
	case header.TCPProtocolNumber:
		if len(seg) < header.TCPMinimumSize {
			return
		}
		at = header.TCPChecksumOffset
	case header.UDPProtocolNumber:
		if len(seg) < header.UDPMinimumSize {
			return
		}
		at = udpChecksumOffset
	default:
		return
	}
	seg[at], seg[at+1] = 0, 0
	sum := ^segmentSum(seg, pseudoSum(ip, len(seg)))
	if sum == 0 && at == udpChecksumOffset {
		sum = 0xffff // zero means no checksum in UDP (RFC 768)
	}
	seg[at], seg[at+1] = byte(sum>>8), byte(sum)
}

// checkIPv4 checks an IPv4 packet's checksums, as the stack would without
// RX checksum offload: the header checksum (RFC 791 §3.1) and, in an
// unfragmented packet, the TCP (RFC 9293 §3.1), UDP (RFC 768; zero means
// none) or ICMP (RFC 792) checksum. A fragment's transport checksum covers
// the reassembled datagram, which the link never sees: fragments are
// checked at the IP layer only (slirp and iSCSI/HTTP traffic never
// fragment toward us; DNS and TFTP stay below the MTU). Packets too short
// or inconsistent to check are passed on (ok) for IP to reject.
//
// For a good unfragmented TCP segment in a packet without IP options it
// also returns the segment.
func checkIPv4(ip []byte) (tcp header.TCP, ok bool) {
	tcp, pseudo, ok := inspectIPv4(ip)
	if tcp != nil && segmentSum(tcp, pseudo) != 0xffff {
		return nil, false
	}
	return tcp, ok
}

// ipv4Parts returns an IPv4 packet's header length and transport segment
// (from the header to the total length); ok is false when the packet is too
// short, not version 4 or its lengths are inconsistent (IP rejects it).
func ipv4Parts(ip []byte) (hlen int, seg []byte, ok bool) {
	if len(ip) < header.IPv4MinimumSize || ip[0]>>4 != 4 {
		return 0, nil, false
	}
	h := header.IPv4(ip)
	hlen, total := int(h.HeaderLength()), int(h.TotalLength())
	if hlen < header.IPv4MinimumSize || total < hlen || total > len(ip) {
		return 0, nil, false
	}
	return hlen, ip[hlen:total], true
}

// inspectIPv4 is checkIPv4 that leaves one checksum to its caller: for an
// unfragmented TCP segment in a packet without IP options (the data path)
// it returns the segment, unchecked, and its pseudo-header's partial sum;
// the caller checks it with segmentSum, or the coalescer as it copies the
// payload.
func inspectIPv4(ip []byte) (tcp header.TCP, pseudo uint64, ok bool) {
	hlen, payload, ok := ipv4Parts(ip)
	if !ok {
		return nil, 0, true // IP rejects it
	}
	if foldSum(headerSum(ip[:hlen])) != 0xffff {
		return nil, 0, false
	}
	h := header.IPv4(ip)
	if h.More() || h.FragmentOffset() != 0 {
		return nil, 0, true
	}
	switch tcpip.TransportProtocolNumber(h.Protocol()) {
	case header.TCPProtocolNumber:
		if len(payload) < header.TCPMinimumSize {
			return nil, 0, true // TCP rejects it
		}
		if hlen == header.IPv4MinimumSize {
			return header.TCP(payload), pseudoSum(ip, len(payload)), true
		}
	case header.UDPProtocolNumber:
		if len(payload) < header.UDPMinimumSize || header.UDP(payload).Checksum() == 0 {
			return nil, 0, true
		}
	case header.ICMPv4ProtocolNumber:
		return nil, 0, len(payload) < header.ICMPv4MinimumSize || onesSum(payload, 0) == 0xffff
	default:
		return nil, 0, true
	}
	return nil, 0, segmentSum(payload, pseudoSum(ip, len(payload))) == 0xffff
}

func (l *linkEndpoint) stats() LinkStats {
	return LinkStats{
		RxFrames: l.rxFrames.Load(), RxBytes: l.rxBytes.Load(),
		RxShort: l.rxShort.Load(), RxErrors: l.rxErrors.Load(), RxRounds: l.rxRounds.Load(), RxChecksum: l.rxChecksum.Load(),
		TxFrames: l.txFrames.Load(), TxBytes: l.txBytes.Load(), TxErrors: l.txErrors.Load(),
		TxACKsMerged: l.txACKsMerged.Load(),
	}
}
