package ipstack

import (
	stdnet "net"
	"net/netip"
	"sort"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// IPStats are the IPv4 counters of RFC 4293's ipSystemStatsTable, the
// ones iPXE's ipstat shows. The link counts what it sees of each frame
// (receives, octets, broadcast and multicast, header checksum errors,
// fragments, transmits), since it coalesces TCP segments before gVisor's
// IP layer sees them; gVisor counts the rest. Counters neither can tell
// stay 0: InTruncatedPkts (gVisor counts such packets as header errors),
// ReasmOKs and OutNoRoutes. InDelivers also counts the stack's own
// broadcasts, which gVisor loops back (iPXE does not): after DHCP it can
// exceed InReceives by the DHCP requests.
type IPStats struct {
	InReceives, InOctets, InMcastPkts, InBcastPkts              uint64
	InHdrErrors, InAddrErrors, InUnknownProtos, InTruncatedPkts uint64
	ReasmReqds, ReasmOKs, ReasmFails                            uint64
	InDelivers, OutRequests, OutNoRoutes                        uint64
	OutTransmits, OutMcastPkts, OutBcastPkts, OutOctets         uint64
}

// TCPStats are the TCP counters iPXE's ipstat shows: segments received
// with a good checksum and their payload octets (counted by the link,
// before coalescing), the octets read by applications (InOctetsGood:
// new in-order data), and the segments dropped for a bad checksum or
// found invalid by gVisor (InDiscards). InOutOfOrder is not counted.
type TCPStats struct {
	InSegs, InOctets, InOctetsGood, InDiscards, InOutOfOrder uint64
}

// ipCounters are a link's per-frame IPv4 and TCP counts.
type ipCounters struct {
	inReceives, inOctets, inMcast, inBcast, inHdrErrors, inFragments atomic.Uint64
	outTransmits, outOctets, outMcast, outBcast                      atomic.Uint64
	tcpSegs, tcpOctets, tcpBadChecksum, coalesced                    atomic.Uint64
}

// rxTally is a poll round's counts of every received frame, kept by the
// poller alone without atomics and added to the shared counters once per
// round (commit): an atomic add per counter and frame cost more than the
// rest of the accounting under QEMU TCG. Rare events (errors, fragments)
// go to the atomics at once.
type rxTally struct {
	frames, bytes                                              uint64 // LinkStats
	inReceives, inOctets, inMcast, inBcast, tcpSegs, tcpOctets uint64 // ipCounters
	coalesced                                                  uint64
}

// commit adds the round's counts to the link's counters and clears them.
func (r *rxTally) commit(l *linkEndpoint) {
	if r.frames == 0 {
		return // every count below comes with a frame
	}
	l.rxFrames.Add(r.frames)
	l.rxBytes.Add(r.bytes)
	c := &l.ip
	c.inReceives.Add(r.inReceives)
	c.inOctets.Add(r.inOctets)
	if r.inMcast != 0 {
		c.inMcast.Add(r.inMcast)
	}
	if r.inBcast != 0 {
		c.inBcast.Add(r.inBcast)
	}
	c.tcpSegs.Add(r.tcpSegs)
	c.tcpOctets.Add(r.tcpOctets)
	c.coalesced.Add(r.coalesced)
	*r = rxTally{}
}

// countIn counts a received IPv4 packet ip (frame type t) before its
// checks, into the round's tally r; ok is checkIPv4's verdict.
func (c *ipCounters) countIn(r *rxTally, ip []byte, t tcpip.PacketType, ok bool) {
	r.inReceives++
	r.inOctets += uint64(len(ip))
	switch t {
	case tcpip.PacketBroadcast:
		r.inBcast++
	case tcpip.PacketMulticast:
		r.inMcast++
	}
	hlen, seg, valid := ipv4Parts(ip)
	if !valid {
		return
	}
	h := header.IPv4(ip)
	if !ok {
		if foldSum(headerSum(ip[:hlen])) != 0xffff {
			c.inHdrErrors.Add(1)
		} else if h.Protocol() == uint8(header.TCPProtocolNumber) {
			c.tcpBadChecksum.Add(1)
		}
		return
	}
	if h.More() || h.FragmentOffset() != 0 {
		c.inFragments.Add(1)
		return
	}
	if h.Protocol() == uint8(header.TCPProtocolNumber) && len(seg) >= header.TCPMinimumSize {
		tcp := header.TCP(seg)
		if off := int(tcp.DataOffset()); off >= header.TCPMinimumSize && off <= len(tcp) {
			r.tcpSegs++
			r.tcpOctets += uint64(len(tcp) - off)
		}
	}
}

// countTCP counts a received IPv4 packet of ipLen bytes (frame to this
// host) whose TCP segment, with payload bytes, was checked and coalesced:
// what countIn counts for it, without parsing it again.
func (c *ipCounters) countTCP(r *rxTally, ipLen, payload int) {
	r.inReceives++
	r.inOctets += uint64(ipLen)
	r.tcpSegs++
	r.tcpOctets += uint64(payload)
}

// countOut counts a transmitted frame if it carries IPv4.
func (c *ipCounters) countOut(frame []byte) {
	if len(frame) < ethHeaderLen {
		return
	}
	eth := header.Ethernet(frame)
	if eth.Type() != header.IPv4ProtocolNumber {
		return
	}
	c.outTransmits.Add(1)
	c.outOctets.Add(uint64(len(frame) - ethHeaderLen))
	switch dst := eth.DestinationAddress(); {
	case dst == header.EthernetBroadcastAddress:
		c.outBcast.Add(1)
	case header.IsMulticastEthernetAddress(dst):
		c.outMcast.Add(1)
	}
}

// IPv4Stats returns the stack's IPv4 counters (all interfaces).
func (s *Stack) IPv4Stats() IPStats {
	var st IPStats
	for _, l := range *s.links.Load() {
		c := &l.ip
		st.InReceives += c.inReceives.Load()
		st.InOctets += c.inOctets.Load()
		st.InMcastPkts += c.inMcast.Load()
		st.InBcastPkts += c.inBcast.Load()
		st.InHdrErrors += c.inHdrErrors.Load()
		st.ReasmReqds += c.inFragments.Load()
		st.InDelivers += c.coalesced.Load() // segments joined into one packet were each delivered
		st.OutTransmits += c.outTransmits.Load()
		st.OutOctets += c.outOctets.Load()
		st.OutMcastPkts += c.outMcast.Load()
		st.OutBcastPkts += c.outBcast.Load()
	}
	g := s.s.Stats()
	st.InHdrErrors += g.IP.MalformedPacketsReceived.Value()
	st.InAddrErrors = g.IP.InvalidDestinationAddressesReceived.Value()
	st.ReasmFails = g.IP.MalformedFragmentsReceived.Value()
	st.InDelivers += g.IP.PacketsDelivered.Value()
	st.OutRequests = g.IP.PacketsSent.Value() + g.IP.OutgoingPacketErrors.Value()
	m := g.NICs.UnknownL4ProtocolRcvdPacketCounts
	for _, k := range m.Keys() {
		if n, ok := m.Get(k); ok {
			st.InUnknownProtos += n.Value()
		}
	}
	return st
}

// TCPStats returns the stack's TCP receive counters.
func (s *Stack) TCPStats() TCPStats {
	var st TCPStats
	for _, l := range *s.links.Load() {
		st.InSegs += l.ip.tcpSegs.Load()
		st.InOctets += l.ip.tcpOctets.Load()
		st.InDiscards += l.ip.tcpBadChecksum.Load()
	}
	st.InOctetsGood = s.tcpRead.Load()
	st.InDiscards += s.s.Stats().TCP.InvalidSegmentsReceived.Value()
	return st
}

// Neighbour is one entry of the ARP cache (RFC 826).
type Neighbour struct {
	Interface  string
	Addr       netip.Addr
	MAC        stdnet.HardwareAddr // nil while Incomplete
	Incomplete bool                // ARP request sent, no reply yet
}

// Neighbours returns the ARP cache of every interface, in interface
// order and by address within one. Entries whose resolution failed are
// left out (iPXE forgets them).
func (s *Stack) Neighbours() []Neighbour {
	var out []Neighbour
	for _, ifc := range s.Interfaces() {
		es, err := s.s.Neighbors(ifc.id, ipv4.ProtocolNumber)
		if err != nil {
			continue
		}
		var list []Neighbour
		for _, e := range es {
			n := Neighbour{Interface: ifc.name, Addr: netip.AddrFrom4(e.Addr.As4())}
			switch e.State {
			case stack.Unreachable, stack.Unknown:
				continue
			case stack.Incomplete:
				n.Incomplete = true
			default:
				n.MAC = stdnet.HardwareAddr(e.LinkAddr)
			}
			list = append(list, n)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].Addr.Less(list[j].Addr) })
		out = append(out, list...)
	}
	return out
}
