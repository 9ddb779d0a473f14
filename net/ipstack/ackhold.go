package ipstack

import (
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/seqnum"
)

// Pure TCP acknowledgments are held until the end of the poll turn, and
// one that a later frame of the same connection supersedes before then is
// never sent.
//
// Why: gVisor acknowledges a burst as soon as TCP has processed it, before
// the application has read it, and its receive window is the buffer left
// after the unread bytes (Endpoint.selectWindowLocked): with the window the
// 32-frame ring allows, that first ACK advertises an almost closed window
// (96 bytes in the SAN benchmark's pcap). The reader then takes the data
// and gVisor sends a second ACK, the window update, which is what lets the
// sender go on. Every burst cost two frames, and a frame costs: U-Boot's
// virtio-net Transmit waits until QEMU has taken the frame (115 us a
// frame in the lab, measured around the SNP call, a third of the time
// snp-go spent serving Grub's reads); firmware drivers on hardware commonly
// wait for transmit completion too. Held until the poller's next turn, by
// when the reader has run, the first ACK is replaced by the window update
// and the sender gets one frame, with the open window, no later than it got
// the update before.
//
// Only ACKs without data, SYN, FIN, RST or SACK blocks are held (a SACK
// ACK signals loss: it and its duplicates go out as they are made, after
// any held ACK). A held ACK is superseded by a later pure ACK of the same
// connection that acknowledges at least as much (its window is the current
// one) and by a segment of the same connection carrying data or FIN that
// acknowledges at least as much; any other frame first sends the held ACK,
// so the link never reorders what it transmits.

// heldACK is the one pure ACK a link holds (guarded by linkEndpoint.mu;
// linkEndpoint.heldPending says whether it holds one).
type heldACK struct {
	frame []byte
	flow  [12]byte // IPv4 source and destination addresses, TCP ports
	ack   seqnum.Value
}

// txKind is what classifyTx found in an outgoing frame.
type txKind int

const (
	txOther   txKind = iota // not a TCP segment over IPv4, or SYN or RST
	txPureACK               // ACK alone: no data, FIN or SACK blocks
	txSACK                  // ACK with SACK blocks, no data or FIN
	txACK                   // ACK with data or FIN
)

// classifyTx looks at a frame about to be transmitted (Ethernet II, then
// IPv4 as the stack wrote it) and returns its kind and, for TCP, the
// connection and acknowledgment number.
func classifyTx(frame []byte) (kind txKind, flow [12]byte, ack seqnum.Value) {
	if len(frame) < ethHeaderLen || header.Ethernet(frame).Type() != header.IPv4ProtocolNumber {
		return txOther, flow, 0
	}
	ip := frame[ethHeaderLen:]
	_, seg, ok := ipv4Parts(ip)
	if !ok || header.IPv4(ip).Protocol() != uint8(header.TCPProtocolNumber) || len(seg) < header.TCPMinimumSize {
		return txOther, flow, 0
	}
	tcp := header.TCP(seg)
	off := int(tcp.DataOffset())
	flags := tcp.Flags()
	if off < header.TCPMinimumSize || off > len(seg) || flags&header.TCPFlagAck == 0 || flags&(header.TCPFlagSyn|header.TCPFlagRst) != 0 {
		return txOther, flow, 0
	}
	copy(flow[:8], ip[12:20])
	copy(flow[8:], seg[:4])
	switch {
	case len(seg) > off || flags&header.TCPFlagFin != 0:
		kind = txACK
	case len(header.ParseTCPOptions(seg[header.TCPMinimumSize:off]).SACKBlocks) > 0:
		kind = txSACK
	default:
		kind = txPureACK
	}
	return kind, flow, seqnum.Value(tcp.AckNumber())
}

// holdTx decides, for a frame about to be transmitted with mu held,
// whether to hold it instead (it returns true) and settles the ACK held
// before: superseded (dropped) or sent first. It returns an error only
// from sending the held ACK.
func (l *linkEndpoint) holdTx(frame []byte) (bool, error) {
	kind, flow, ack := classifyTx(frame)
	h := &l.held
	if l.heldPending.Load() {
		l.heldPending.Store(false)
		superseded := (kind == txPureACK || kind == txACK) && h.flow == flow && !ack.LessThan(h.ack)
		if superseded {
			l.txACKsMerged.Add(1)
		} else if err := l.send(h.frame); err != nil {
			return false, err
		}
	}
	if kind != txPureACK {
		return false, nil
	}
	h.frame = append(h.frame[:0], frame...)
	h.flow, h.ack = flow, ack
	l.heldPending.Store(true)
	if l.wake != nil {
		l.wake()
	}
	return true, nil
}

// flushHeld sends the held ACK, if any: the poller calls it at the start
// of every turn, and Stack.FlushACKs before the CPU goes back to firmware.
func (l *linkEndpoint) flushHeld() {
	if !l.heldPending.Load() {
		return
	}
	l.mu.Lock()
	if l.heldPending.Load() {
		l.heldPending.Store(false)
		_ = l.send(l.held.frame) // a NIC error is counted in TxErrors
	}
	l.mu.Unlock()
}
