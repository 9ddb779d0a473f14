package ipstack

import (
	"bytes"
	stdnet "net"
	"sync"
)

// Wire is an in-memory Ethernet segment for tests and host tools. Every frame
// a port transmits is offered to every other port; a port accepts frames
// addressed to its MAC, broadcast and multicast frames, and everything when
// promiscuous. It is a pure Go stand-in for the firmware NIC.
type Wire struct {
	mu    sync.Mutex
	ports []*Port
}

// NewWire returns an empty segment.
func NewWire() *Wire { return &Wire{} }

// PortOptions configure one port of a Wire.
type PortOptions struct {
	// MTU is the IP MTU reported by the port (default 1500).
	MTU int
	// Promiscuous accepts frames for any destination MAC.
	Promiscuous bool
	// RingLimit bounds the receive queue like U-Boot's SNP receive ring
	// (32 frames): a frame that arrives while RingLimit frames are queued is
	// dropped. 0 means 4096.
	RingLimit int
	// DieOnOverflow emulates U-Boot's virtio-net behaviour: after the first
	// overflow the port never receives again (transmit keeps working).
	DieOnOverflow bool
	// Drop, if set, is called for every frame offered to this port; returning
	// true discards it (loss injection in tests). Called without locks held.
	Drop func(frame []byte) bool
}

// PortStats counts what happened on a port's receive side.
type PortStats struct {
	Received  int // frames accepted into the queue
	Overflows int // frames dropped because the queue was full
	Dropped   int // frames discarded by PortOptions.Drop
	HighWater int // largest queue length seen
	Dead      bool
	Sent      int // frames transmitted
}

// Port is one NIC attached to a Wire. It implements NIC and Readier.
type Port struct {
	wire  *Wire
	mac   stdnet.HardwareAddr
	opt   PortOptions
	ready chan struct{}

	mu    sync.Mutex
	queue [][]byte
	stats PortStats
	down  bool
}

// NewPort attaches a port with the given MAC to the wire.
func (w *Wire) NewPort(mac stdnet.HardwareAddr, opt PortOptions) *Port {
	if opt.MTU == 0 {
		opt.MTU = 1500
	}
	if opt.RingLimit == 0 {
		opt.RingLimit = 4096
	}
	p := &Port{wire: w, mac: append(stdnet.HardwareAddr(nil), mac...), opt: opt, ready: make(chan struct{}, 1)}
	w.mu.Lock()
	w.ports = append(w.ports, p)
	w.mu.Unlock()
	return p
}

// MAC implements NIC.
func (p *Port) MAC() stdnet.HardwareAddr { return p.mac }

// MTU implements NIC.
func (p *Port) MTU() int { return p.opt.MTU }

// Ready implements Readier.
func (p *Port) Ready() <-chan struct{} { return p.ready }

// Transmit implements NIC: the frame is copied and offered to all other ports.
func (p *Port) Transmit(frame []byte) error {
	if len(frame) < ethHeaderLen {
		return errShortFrame
	}
	p.mu.Lock()
	down := p.down
	p.stats.Sent++
	p.mu.Unlock()
	if down {
		return ErrNICDown
	}
	p.wire.mu.Lock()
	ports := append([]*Port(nil), p.wire.ports...)
	p.wire.mu.Unlock()
	for _, q := range ports {
		if q != p {
			q.offer(frame)
		}
	}
	return nil
}

func (p *Port) offer(frame []byte) {
	dst := frame[:6]
	if !p.opt.Promiscuous && dst[0]&1 == 0 && !bytes.Equal(dst, p.mac) {
		return // unicast for someone else
	}
	if p.opt.Drop != nil && p.opt.Drop(frame) {
		p.mu.Lock()
		p.stats.Dropped++
		p.mu.Unlock()
		return
	}
	p.mu.Lock()
	switch {
	case p.down || p.stats.Dead:
		p.mu.Unlock()
		return
	case len(p.queue) >= p.opt.RingLimit:
		p.stats.Overflows++
		if p.opt.DieOnOverflow {
			p.stats.Dead = true
			p.queue = nil
		}
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, append([]byte(nil), frame...))
	p.stats.Received++
	if len(p.queue) > p.stats.HighWater {
		p.stats.HighWater = len(p.queue)
	}
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// Receive implements NIC.
func (p *Port) Receive(buf []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return 0, ErrNICDown
	}
	if len(p.queue) == 0 {
		return 0, nil
	}
	f := p.queue[0]
	p.queue[0] = nil
	p.queue = p.queue[1:]
	return copy(buf, f), nil
}

// Stats returns a snapshot of the port's counters.
func (p *Port) Stats() PortStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close takes the port down: Transmit and Receive return ErrNICDown.
func (p *Port) Close() error {
	p.mu.Lock()
	p.down = true
	p.queue = nil
	p.mu.Unlock()
	return nil
}
