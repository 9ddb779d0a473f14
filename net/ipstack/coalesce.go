package ipstack

import (
	"encoding/binary"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// coalescer joins the in-order TCP segments of one flow that arrive in one
// poll round into one IPv4 packet before the stack sees them (receive
// offload, as Linux's GRO does in a NIC driver): IP and TCP then process,
// and TCP acknowledges, a burst once instead of per segment. A round holds
// at most what U-Boot's receive ring held, so nothing waits for more.
//
// Segments are copied, payload only, into the run's views as they arrive
// (one copy of each byte; the frame buffer is reused for the next frame):
// no packet, view or pool object per segment.
//
// A segment joins the run when it continues it exactly: same addresses and
// ports, the next sequence number, the same acknowledgment number, the same
// TCP options (timestamps must match), plain ACK (a PSH joins and ends the
// run), no IP options or fragmentation, same TTL and TOS. Anything else
// ends the run and is handled on its own.
type coalescer struct {
	hdr     [header.IPv4MaximumHeaderSize + tcpMaxHeaderLen]byte
	hdrLen  int // IPv4 + TCP header bytes in hdr (0: no run); the IPv4 header is 20 bytes
	nextSeq uint32
	window  uint16 // the latest segment's window
	flags   header.TCPFlags
	payload []*buffer.View // payload copied so far
	size    int            // payload bytes
	done    bool           // the run must end after its last segment (PSH, size)
}

// tcpMaxHeaderLen is the largest TCP header: data offset 15 words (RFC
// 9293 §3.1).
const tcpMaxHeaderLen = 60

// runViewSize is the size of the views a run's payload is copied into: a
// whole chunk of gVisor's pool holds 11 full segments.
const runViewSize = 16 << 10

// maxRunPayload keeps a coalesced packet within IPv4's 64 KiB total length.
const maxRunPayload = 0xffff - header.IPv4MaximumHeaderSize - tcpMaxHeaderLen

// add offers one unfragmented IPv4 packet without options, ip, carrying the
// TCP segment tcp, its checksums checked (checkIPv4). It returns true when
// the segment joined or started a run; then, if done is set, the run must
// be flushed now. False means the segment cannot join the open run (or
// cannot be coalesced at all): the caller flushes the run, so that order
// within a flow is kept, and offers it again or delivers it alone.
func (c *coalescer) add(ip []byte, tcp header.TCP) bool {
	off := int(tcp.DataOffset())
	if off < header.TCPMinimumSize || off > len(tcp) {
		return false
	}
	flags := tcp.Flags()
	payload := tcp[off:]
	if len(payload) == 0 || flags&^(header.TCPFlagAck|header.TCPFlagPsh) != 0 || flags&header.TCPFlagAck == 0 {
		return false
	}
	hdrLen := header.IPv4MinimumSize + off
	if c.hdrLen == 0 {
		c.hdrLen = copy(c.hdr[:], ip[:hdrLen])
		c.nextSeq = tcp.SequenceNumber()
		c.flags = 0
	} else if !c.continues(ip[:hdrLen], tcp, off) {
		return false
	}
	c.nextSeq += uint32(len(payload))
	c.window = tcp.WindowSize()
	c.flags |= flags
	c.size += len(payload)
	for len(payload) > 0 {
		var v *buffer.View
		if n := len(c.payload); n > 0 && c.payload[n-1].AvailableSize() > 0 {
			v = c.payload[n-1]
		} else {
			v = buffer.NewView(runViewSize)
			c.payload = append(c.payload, v)
		}
		k := min(len(payload), v.AvailableSize())
		v.Write(payload[:k])
		payload = payload[k:]
	}
	c.done = flags&header.TCPFlagPsh != 0 || c.size > maxRunPayload-1500
	return true
}

// continues reports whether the segment with headers hdr continues the run.
func (c *coalescer) continues(hdr []byte, tcp header.TCP, off int) bool {
	run := header.IPv4(c.hdr[:header.IPv4MinimumSize])
	ip := header.IPv4(hdr)
	rt := header.TCP(c.hdr[header.IPv4MinimumSize:c.hdrLen])
	if len(hdr) != c.hdrLen || c.size+len(tcp)-off > maxRunPayload {
		return false
	}
	tos, _ := ip.TOS()
	rtos, _ := run.TOS()
	return ip.SourceAddress() == run.SourceAddress() && ip.DestinationAddress() == run.DestinationAddress() &&
		ip.TTL() == run.TTL() && tos == rtos &&
		tcp.SourcePort() == rt.SourcePort() && tcp.DestinationPort() == rt.DestinationPort() &&
		tcp.SequenceNumber() == c.nextSeq && tcp.AckNumber() == rt.AckNumber() &&
		string(tcp[header.TCPMinimumSize:off]) == string(rt[header.TCPMinimumSize:])
}

// flush returns the run as one packet's bytes (headers with the total length,
// flags and window of the whole run, then the payload views) and starts
// afresh. It returns false when no run is open.
func (c *coalescer) flush() (buffer.Buffer, bool) {
	if c.hdrLen == 0 {
		return buffer.Buffer{}, false
	}
	binary.BigEndian.PutUint16(c.hdr[2:], uint16(c.hdrLen+c.size)) // IPv4 total length
	rt := header.TCP(c.hdr[header.IPv4MinimumSize:c.hdrLen])
	rt.SetFlags(uint8(c.flags))
	rt.SetWindowSize(c.window)
	b := buffer.MakeWithData(c.hdr[:c.hdrLen])
	for i, v := range c.payload {
		b.Append(v)
		c.payload[i] = nil
	}
	c.payload = c.payload[:0]
	c.hdrLen, c.size, c.done = 0, 0, false
	return b, true
}
