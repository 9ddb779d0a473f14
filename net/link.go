package net

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
}

// linkEndpoint is a gVisor stack.LinkEndpoint over a NIC. It adds and strips
// the Ethernet II header itself (IEEE 802.3 clause 3.2.6 / RFC 894) and
// serialises every call into the NIC with mu.
type linkEndpoint struct {
	nic NIC
	mu  *sync.Mutex // serialises NIC calls; shared by links on one NIC

	mtu     atomic.Uint32
	addr    tcpip.LinkAddress
	txBuf   []byte // guarded by mu
	onClose func()

	dispMu     sync.RWMutex
	dispatcher stack.NetworkDispatcher

	rxFrames, rxBytes, rxShort, rxErrors atomic.Uint64
	txFrames, txBytes, txErrors          atomic.Uint64
}

var _ stack.LinkEndpoint = (*linkEndpoint)(nil)

func newLinkEndpoint(nic NIC) *linkEndpoint {
	l := &linkEndpoint{nic: nic, mu: new(sync.Mutex), addr: tcpip.LinkAddress(nic.MAC())}
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
func (l *linkEndpoint) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityResolutionRequired
}
func (l *linkEndpoint) Attach(d stack.NetworkDispatcher) {
	l.dispMu.Lock()
	l.dispatcher = d
	l.dispMu.Unlock()
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
		if err := l.nic.Transmit(frame); err != nil {
			l.txErrors.Add(1)
			terr = &tcpip.ErrClosedForSend{}
			if !errors.Is(err, ErrNICDown) {
				terr = &tcpip.ErrAborted{}
			}
			break
		}
		l.txFrames.Add(1)
		l.txBytes.Add(uint64(len(frame)))
		n++
	}
	l.mu.Unlock()
	return n, terr
}

// poll calls Receive until the NIC reports no pending frame (or max frames
// were delivered) and hands each frame to the stack. It returns the number of
// frames delivered.
func (l *linkEndpoint) poll(buf []byte, max int) int {
	got := 0
	for got < max {
		l.mu.Lock()
		n, err := l.nic.Receive(buf)
		l.mu.Unlock()
		if err != nil {
			l.rxErrors.Add(1)
			return got
		}
		if n == 0 {
			return got
		}
		got++
		l.deliver(buf[:n])
	}
	return got
}

// deliver hands one received frame to the stack. frame is copied.
func (l *linkEndpoint) deliver(frame []byte) {
	if len(frame) < ethHeaderLen {
		l.rxShort.Add(1)
		return
	}
	l.rxFrames.Add(1)
	l.rxBytes.Add(uint64(len(frame)))
	l.dispMu.RLock()
	d := l.dispatcher
	l.dispMu.RUnlock()
	if d == nil {
		return
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		Payload: buffer.MakeWithData(append([]byte(nil), frame...)),
	})
	defer pkt.DecRef()
	if !l.ParseHeader(pkt) {
		return
	}
	eth := header.Ethernet(pkt.LinkHeader().Slice())
	switch dst := eth.DestinationAddress(); {
	case dst == header.EthernetBroadcastAddress:
		pkt.PktType = tcpip.PacketBroadcast
	case header.IsMulticastEthernetAddress(dst):
		pkt.PktType = tcpip.PacketMulticast
	case dst == l.addr:
		pkt.PktType = tcpip.PacketHost
	default:
		pkt.PktType = tcpip.PacketOtherHost
	}
	d.DeliverNetworkPacket(eth.Type(), pkt)
}

func (l *linkEndpoint) stats() LinkStats {
	return LinkStats{
		RxFrames: l.rxFrames.Load(), RxBytes: l.rxBytes.Load(),
		RxShort: l.rxShort.Load(), RxErrors: l.rxErrors.Load(),
		TxFrames: l.txFrames.Load(), TxBytes: l.txBytes.Load(), TxErrors: l.txErrors.Load(),
	}
}
