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
	payload []*buffer.View // payload copied so far; all but the last full
	tail    []byte         // the last view's unwritten rest (it is grown to its capacity until flush)
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

// addResult is what coalescer.add did with a segment.
type addResult int

const (
	addNo     addResult = iota // cannot join the open run, or cannot be coalesced: nothing changed
	addJoined                  // joined or started the run, its checksum good
	addBadSum                  // its TCP checksum is wrong: dropped, the run unchanged
)

// add offers one unfragmented IPv4 packet without options, ip, carrying the
// TCP segment tcp, whose IPv4 header is checked and whose TCP checksum is
// not: pseudo is its pseudo-header's partial sum (inspectIPv4). The payload
// is summed as it is copied into the run, and the segment joins only if
// the sum is right. On addJoined, if done is set, the run must be flushed
// now. On addNo the caller flushes the open run, so that order within a
// flow is kept, and offers the segment again or delivers it alone.
func (c *coalescer) add(ip []byte, tcp header.TCP, pseudo uint64) addResult {
	off := int(tcp.DataOffset())
	if off < header.TCPMinimumSize || off > len(tcp) {
		return addNo
	}
	flags := tcp.Flags()
	payload := tcp[off:]
	if len(payload) == 0 || flags&^(header.TCPFlagAck|header.TCPFlagPsh) != 0 || flags&header.TCPFlagAck == 0 {
		return addNo
	}
	hdrLen := header.IPv4MinimumSize + off
	if c.hdrLen != 0 && !c.continues(ip[:hdrLen], tcp, off) {
		return addNo
	}
	if !c.copyPayload(payload, add1c(pseudo, headerSum(tcp[:off]))) {
		return addBadSum
	}
	if c.hdrLen == 0 {
		c.hdrLen = copy(c.hdr[:], ip[:hdrLen])
		c.nextSeq = tcp.SequenceNumber()
		c.flags = 0
	}
	c.nextSeq += uint32(len(payload))
	c.window = tcp.WindowSize()
	c.flags |= flags
	c.size += len(payload)
	c.done = flags&header.TCPFlagPsh != 0 || c.size > maxRunPayload-1500
	return addJoined
}

// copyPayload appends a segment's payload to the run's views, adding its
// sum to the partial sum of the segment's pseudo-header and header, sum.
// If the total is not all ones the copy is undone and copyPayload returns
// false. A piece of the payload that starts at an odd offset (it continues
// after a view boundary) is summed as if even and byte-swapped (RFC 1071
// §2(B)), which foldSum does.
func (c *coalescer) copyPayload(payload []byte, sum uint64) bool {
	views, tail := len(c.payload), c.tail
	odd := false
	for rest := payload; len(rest) > 0; {
		if len(c.tail) == 0 {
			v := buffer.NewView(runViewSize)
			v.Grow(runViewSize)
			c.payload = append(c.payload, v)
			c.tail = v.AsSlice()
		}
		k := min(len(rest), len(c.tail))
		s := copySum(c.tail, rest[:k])
		if odd {
			s = uint64(foldSum(s))
		}
		sum = add1c(sum, s)
		odd = odd != (k&1 == 1)
		c.tail = c.tail[k:]
		rest = rest[k:]
	}
	if foldSum(sum) == 0xffff {
		return true
	}
	for i := views; i < len(c.payload); i++ {
		c.payload[i].Release()
		c.payload[i] = nil
	}
	c.payload, c.tail = c.payload[:views], tail
	return false
}

// continues reports whether the segment with headers hdr (IPv4 without
// options, then TCP) continues the run: the same TOS, TTL, addresses,
// ports, acknowledgment number and TCP options, the next sequence number.
// The bytes are compared a word at a time.
func (c *coalescer) continues(hdr []byte, tcp header.TCP, off int) bool {
	run := c.hdr[:c.hdrLen]
	if len(hdr) != len(run) || c.size+len(tcp)-off > maxRunPayload || tcp.SequenceNumber() != c.nextSeq {
		return false
	}
	le := binary.LittleEndian
	_, _ = hdr[39], run[39]
	if hdr[1] != run[1] || hdr[8] != run[8] || // TOS, TTL
		le.Uint64(hdr[12:]) != le.Uint64(run[12:]) || // addresses
		le.Uint32(hdr[20:]) != le.Uint32(run[20:]) || // ports
		le.Uint32(hdr[28:]) != le.Uint32(run[28:]) { // acknowledgment
		return false
	}
	for i := 40; i < len(hdr); i += 4 { // options: a whole number of words
		if le.Uint32(hdr[i:]) != le.Uint32(run[i:]) {
			return false
		}
	}
	return true
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
	if n := len(c.payload); n > 0 {
		c.payload[n-1].CapLength(runViewSize - len(c.tail))
	}
	c.tail = nil
	b := buffer.MakeWithData(c.hdr[:c.hdrLen])
	for i, v := range c.payload {
		b.Append(v)
		c.payload[i] = nil
	}
	c.payload = c.payload[:0]
	c.hdrLen, c.size, c.done = 0, 0, false
	return b, true
}
