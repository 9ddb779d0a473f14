// Package vlan adds IEEE 802.1Q VLAN tagging to snp-go's link layer. U-Boot's
// SNP does not tag, so tagging happens here: a Mux wraps one physical NIC and
// hands out one NIC per VLAN (plus the untagged "native" NIC). Each becomes its
// own stack interface (iPXE's `vcreate --tag N net0` gives net0-N) with its
// own address and DHCP; frames are demultiplexed by VLAN ID.
package vlan

import (
	"encoding/binary"
	"errors"
	"fmt"
	stdnet "net"
	"sync"

	"github.com/snp-go/snp-go/net/ipstack"
)

// 802.1Q tag layout (IEEE 802.1Q-2018 section 9.6): TPID 0x8100, then TCI =
// PCP(3 bits) DEI(1) VID(12).
const (
	TPID    = 0x8100
	tagLen  = 4
	macsLen = 12
	// VID 0 marks a priority-tagged frame that belongs to the native VLAN;
	// 4095 is reserved (802.1Q table 9-2).
	MinVID = 1
	MaxVID = 4094
	// MaxPCP is the largest priority code point (3 bits).
	MaxPCP = 7
)

// Frame is a parsed view of an Ethernet frame's VLAN tag.
type Frame struct {
	Tagged bool
	VID    uint16
	PCP    uint8
}

// Parse reports the 802.1Q tag of frame, if any.
func Parse(frame []byte) (Frame, error) {
	if len(frame) < macsLen+2 {
		return Frame{}, errors.New("vlan: frame shorter than an Ethernet header")
	}
	if binary.BigEndian.Uint16(frame[macsLen:]) != TPID {
		return Frame{}, nil
	}
	if len(frame) < macsLen+tagLen+2 {
		return Frame{}, errors.New("vlan: tagged frame truncated inside the tag")
	}
	tci := binary.BigEndian.Uint16(frame[macsLen+2:])
	return Frame{Tagged: true, VID: tci & 0x0fff, PCP: uint8(tci >> 13)}, nil
}

// Strip removes the tag in place and returns the shortened frame.
func Strip(frame []byte) []byte {
	copy(frame[tagLen:], frame[:macsLen])
	return frame[tagLen:]
}

// Insert returns frame with a tag for vid (priority pcp) after the MACs,
// written into dst (grown as needed).
func Insert(dst, frame []byte, vid uint16, pcp uint8) []byte {
	dst = append(dst[:0], frame[:macsLen]...)
	dst = binary.BigEndian.AppendUint16(dst, TPID)
	dst = binary.BigEndian.AppendUint16(dst, uint16(pcp&7)<<13|vid&0x0fff)
	return append(dst, frame[macsLen:]...)
}

// Stats count demultiplexing outcomes.
type Stats struct {
	Delivered   uint64 // frames queued for a registered VLAN (or native)
	UnknownVLAN uint64 // tagged frames for a VLAN nobody registered
	QueueFull   uint64 // frames dropped because a VLAN's queue was full
	Malformed   uint64
}

// Mux demultiplexes one physical NIC by VLAN ID. All its NICs share the
// parent's receive ring: any of them calling Receive drains the parent.
type Mux struct {
	parent ipstack.NIC
	depth  int

	mu       sync.Mutex        // guards everything below and serialises parent calls
	children map[uint16]*child // 0 = native (untagged / priority-tagged)
	buf      []byte
	txBuf    []byte
	stats    Stats
	stop     chan struct{}
	closed   bool
}

// QueueDepth is the per-VLAN receive queue length (frames). The parent ring
// is the real limit (32 on U-Boot); this only smooths one poll round.
const QueueDepth = 64

// NewMux wraps parent. If parent is a ipstack.Readier (host wire), the NICs
// the Mux returns are Readiers too.
func NewMux(parent ipstack.NIC) *Mux {
	m := &Mux{parent: parent, depth: QueueDepth, children: map[uint16]*child{}, buf: make([]byte, 65536), stop: make(chan struct{})}
	if r, ok := parent.(ipstack.Readier); ok {
		go m.pump(r.Ready())
	}
	return m
}

// pump forwards the parent's arrival signal to every child.
func (m *Mux) pump(ready <-chan struct{}) {
	for {
		select {
		case <-m.stop:
			return
		case <-ready:
		}
		m.mu.Lock()
		for _, c := range m.children {
			c.signal()
		}
		m.mu.Unlock()
	}
}

// Close stops the Mux's helper goroutine; the parent NIC stays open.
func (m *Mux) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.closed = true
		close(m.stop)
	}
	return nil
}

// Stats returns the demultiplexing counters.
func (m *Mux) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Native returns the NIC for untagged (and VID 0 priority-tagged) frames.
func (m *Mux) Native() ipstack.NIC { return m.get(0) }

// VLAN returns the NIC for VLAN vid (1..4094). Its frames leave tagged with
// priority code point pcp (0..7, IEEE 802.1Q §6.9.3; iPXE's vcreate
// --priority); its MAC and MTU are the parent's (the NIC must accept
// 1518-byte frames; U-Boot accepts up to 1522).
func (m *Mux) VLAN(vid uint16, pcp uint8) (ipstack.NIC, error) {
	if vid < MinVID || vid > MaxVID {
		return nil, fmt.Errorf("vlan: tag %d out of range %d..%d", vid, MinVID, MaxVID)
	}
	if pcp > MaxPCP {
		return nil, fmt.Errorf("vlan: priority %d out of range 0..%d", pcp, MaxPCP)
	}
	n := m.get(vid)
	m.mu.Lock()
	m.children[vid].pcp = pcp
	m.mu.Unlock()
	return n, nil
}

func (m *Mux) get(vid uint16) ipstack.NIC {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.children[vid]
	if !ok {
		c = &child{m: m, vid: vid, ready: make(chan struct{}, 1)}
		m.children[vid] = c
	}
	if _, ok := m.parent.(ipstack.Readier); ok {
		return readyChild{c}
	}
	return c
}

// drainLocked moves every pending parent frame into its VLAN's queue.
func (m *Mux) drainLocked() error {
	for {
		n, err := m.parent.Receive(m.buf)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		f := m.buf[:n]
		tag, err := Parse(f)
		if err != nil {
			m.stats.Malformed++
			continue
		}
		vid := uint16(0)
		if tag.Tagged {
			vid = tag.VID
		}
		c, ok := m.children[vid]
		if !ok {
			m.stats.UnknownVLAN++
			continue
		}
		if len(c.queue) >= m.depth {
			m.stats.QueueFull++
			continue
		}
		frame := append([]byte(nil), f...)
		if tag.Tagged {
			frame = Strip(frame)
		}
		c.queue = append(c.queue, frame)
		m.stats.Delivered++
		c.signal()
	}
}

// child is one VLAN's NIC.
type child struct {
	m     *Mux
	vid   uint16
	pcp   uint8    // priority code point of transmitted frames; guarded by m.mu
	queue [][]byte // guarded by m.mu
	ready chan struct{}
}

func (c *child) signal() {
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

func (c *child) MAC() stdnet.HardwareAddr { return c.m.parent.MAC() }
func (c *child) MTU() int                 { return c.m.parent.MTU() }

// Mutex is the lock that serialises all calls on the parent
// (ipstack.SharedNIC): the stack's links on this Mux share it.
func (c *child) Mutex() *sync.Mutex { return &c.m.mu }

// Transmit tags the frame (VLAN children) and sends it on the parent.
func (c *child) Transmit(frame []byte) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.TransmitLocked(frame)
}

// TransmitLocked is Transmit with the Mutex held.
func (c *child) TransmitLocked(frame []byte) error {
	if c.vid == 0 {
		return c.m.parent.Transmit(frame)
	}
	if len(frame) < macsLen+2 {
		return errors.New("vlan: frame shorter than an Ethernet header")
	}
	c.m.txBuf = Insert(c.m.txBuf, frame, c.vid, c.pcp)
	return c.m.parent.Transmit(c.m.txBuf)
}

// Receive drains the parent, then returns this VLAN's next frame.
func (c *child) Receive(buf []byte) (int, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	return c.ReceiveLocked(buf)
}

// ReceiveLocked is Receive with the Mutex held.
func (c *child) ReceiveLocked(buf []byte) (int, error) {
	if c.vid == 0 && len(c.m.children) == 1 && len(c.queue) == 0 {
		return c.receiveDirect(buf)
	}
	err := c.m.drainLocked()
	if len(c.queue) > 0 {
		f := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		return copy(buf, f), nil
	}
	return 0, err
}

// receiveDirect is the native NIC's path while no VLAN exists (the usual
// case): frames go from the parent straight into buf, without the
// per-frame queue allocation and copy. Tagged frames are handled as
// drainLocked does: VID 0 (priority-tagged) is stripped, others dropped.
func (c *child) receiveDirect(buf []byte) (int, error) {
	for {
		n, err := c.m.parent.Receive(buf)
		if err != nil || n == 0 {
			return 0, err
		}
		tag, err := Parse(buf[:n])
		switch {
		case err != nil:
			c.m.stats.Malformed++
		case !tag.Tagged:
			c.m.stats.Delivered++
			return n, nil
		case tag.VID != 0:
			c.m.stats.UnknownVLAN++
		default:
			c.m.stats.Delivered++
			return copy(buf, Strip(buf[:n])), nil
		}
	}
}

var _ ipstack.SharedNIC = (*child)(nil)

// readyChild is a child of a Readier parent.
type readyChild struct{ *child }

func (r readyChild) Ready() <-chan struct{} { return r.ready }
