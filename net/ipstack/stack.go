package ipstack

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

// Receive-window defaults. They come from measurements through U-Boot's SNP
// (QEMU virtio-net): U-Boot's driver posts 32 receive buffers and never
// notifies the device when it returns them, so when more than 32 frames
// arrive between two polls the receive path dies for good (transmit keeps
// working; a connection just goes silent). gVisor advertises half of the
// free receive buffer (tcp rcvAdvWndScale = 1), so a 48 KiB buffer is a
// 24 KiB window: 17 full-size segments. The SAN read benchmark
// (BenchmarkQEMUSAN, which reports the most data segments the guest had
// not yet acknowledged) saw at most 12 frames in flight with 32 KiB, 18 with
// 48 KiB and 20 with 56 KiB; 64 KiB overflowed the ring there (iSCSI then
// failed with "no route to host", ARP replies no longer arriving). 48 KiB
// took Grub's read from 6,600 to 5,400 app instructions per frame (fewer
// poll rounds, ACKs and goroutine hand-offs per byte) and keeps 14 frames
// of the ring spare. The budget is shared by all open TCP connections so
// that together they stay inside the ring. snp-go's --tcp-window option
// overrides both.
const (
	DefaultReceiveBuffer    = 48 << 10
	DefaultReceiveBudget    = 48 << 10
	DefaultMinReceiveBuffer = 8 << 10
)

// Options configure a Stack. The zero value is usable.
type Options struct {
	// ReceiveBuffer is the TCP receive buffer of one connection when it is
	// the only one open (default DefaultReceiveBuffer). Receive-buffer
	// auto-tuning is always off: it would grow the window past the ring.
	ReceiveBuffer int
	// ReceiveBudget bounds the sum of the receive buffers of all open TCP
	// connections made through this package (default DefaultReceiveBudget).
	// With n connections open each gets min(ReceiveBuffer,
	// max(MinReceiveBuffer, ReceiveBudget/n)), and existing ones shrink.
	ReceiveBudget int
	// MinReceiveBuffer is the floor of the per-connection share
	// (default DefaultMinReceiveBuffer).
	MinReceiveBuffer int
	// PollBatch bounds the frames taken from one NIC per poll round before
	// the loop yields (default 64).
	PollBatch int
	// Idle is called by the poll goroutine after a round that found no
	// frame. Nil means: wait for a Readier signal when every NIC is a
	// Readier (host tests), else runtime.Gosched (firmware: keep polling,
	// never WFI).
	Idle func()
	// Logf receives diagnostic lines; nil discards them.
	Logf func(format string, args ...any)
}

func (o *Options) setDefaults() {
	if o.ReceiveBuffer <= 0 {
		o.ReceiveBuffer = DefaultReceiveBuffer
	}
	if o.ReceiveBudget <= 0 {
		o.ReceiveBudget = DefaultReceiveBudget
	}
	if o.MinReceiveBuffer <= 0 {
		o.MinReceiveBuffer = DefaultMinReceiveBuffer
	}
	if o.MinReceiveBuffer > o.ReceiveBuffer {
		o.MinReceiveBuffer = o.ReceiveBuffer
	}
	if o.PollBatch <= 0 {
		o.PollBatch = 64
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
}

// Stack is a gVisor TCP/IP stack (IPv4, ARP, ICMPv4, UDP, TCP) over NICs,
// driven by one poll goroutine.
type Stack struct {
	opt    Options
	s      *stack.Stack
	budget *budget

	mu     sync.Mutex
	ifaces []*Interface
	hooks  []func(*Interface, Config)
	nextID tcpip.NICID

	links atomic.Pointer[[]*linkEndpoint] // copy-on-write for the poller
	kick  chan struct{}                   // wakes an idle poller when links change
	// tcpRead counts the bytes applications read from TCP connections
	// (ipstat's TCP InOctetsGood).
	tcpRead atomic.Uint64
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewStack creates the stack and starts its poll goroutine.
func NewStack(opt Options) (*Stack, error) {
	opt.setDefaults()
	gs := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, arp.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4},
	})
	s := &Stack{opt: opt, s: gs, nextID: 1, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.budget = &budget{total: opt.ReceiveBudget, max: opt.ReceiveBuffer, min: opt.MinReceiveBuffer, eps: map[tcpip.Endpoint]struct{}{}}
	s.links.Store(&[]*linkEndpoint{})

	rng := tcpip.TCPReceiveBufferSizeRangeOption{Min: 4096, Default: opt.ReceiveBuffer, Max: opt.ReceiveBuffer}
	mod := tcpip.TCPModerateReceiveBufferOption(false)
	sack := tcpip.TCPSACKEnabled(true)
	for name, o := range map[string]tcpip.SettableTransportProtocolOption{
		"receive buffer range": &rng, "receive buffer moderation off": &mod, "SACK": &sack,
	} {
		if err := gs.SetTransportProtocolOption(tcp.ProtocolNumber, o); err != nil {
			gs.Close()
			return nil, fmt.Errorf("net: setting TCP %s: %s", name, err)
		}
	}
	go s.poll()
	return s, nil
}

// GVisor returns the underlying gVisor stack (for code in this module that
// needs raw endpoints; not a stable API).
func (s *Stack) GVisor() *stack.Stack { return s.s }

// Options returns the effective options.
func (s *Stack) Options() Options { return s.opt }

// RemoveInterface detaches the interface called name (iPXE's vdestroy):
// its addresses and routes go, and the poller stops reading its NIC. The
// NIC itself is not closed.
func (s *Stack) RemoveInterface(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ifc := range s.ifaces {
		if ifc.name != name {
			continue
		}
		if err := s.s.RemoveNIC(ifc.id); err != nil {
			return fmt.Errorf("net: removing interface %s: %s", name, err)
		}
		s.ifaces = append(s.ifaces[:i:i], s.ifaces[i+1:]...)
		var links []*linkEndpoint
		for _, l := range *s.links.Load() {
			if l != ifc.link {
				links = append(links, l)
			}
		}
		s.links.Store(&links)
		return nil
	}
	return fmt.Errorf("net: no interface %s", name)
}

// Close stops the poll goroutine and the stack. It does not close the NICs.
func (s *Stack) Close() error {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
		s.s.Close()
		s.s.Wait()
	})
	return nil
}

// AddInterface attaches nic as a new interface called name (iPXE style:
// "net0", "net0-7" for VLAN 7). The interface is up but has no address.
func (s *Stack) AddInterface(name string, nic NIC) (*Interface, error) {
	if nic == nil {
		return nil, errors.New("net: AddInterface: nil NIC")
	}
	if len(nic.MAC()) != 6 {
		return nil, fmt.Errorf("net: AddInterface %s: MAC %v is not 6 bytes", name, nic.MAC())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.ifaces {
		if i.name == name {
			return nil, fmt.Errorf("net: interface %s already exists", name)
		}
	}
	id := s.nextID
	l := newLinkEndpoint(nic)
	l.wake = s.wake
	if err := s.s.CreateNICWithOptions(id, l, stack.NICOptions{Name: name}); err != nil {
		return nil, fmt.Errorf("net: creating interface %s: %s", name, err)
	}
	s.nextID++
	ifc := &Interface{stack: s, name: name, id: id, nic: nic, link: l}
	s.ifaces = append(s.ifaces, ifc)
	links := append(append([]*linkEndpoint(nil), *s.links.Load()...), l)
	s.links.Store(&links)
	select {
	case s.kick <- struct{}{}:
	default:
	}
	return ifc, nil
}

// wake makes an idle poller start a turn (it waits only on Readier NICs).
func (s *Stack) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// FlushACKs sends the TCP acknowledgments the links hold until the end of
// the poll turn (see ackhold.go). Call it before giving the CPU back to
// firmware that will not call into Go for a while (a served Block IO
// read), so that no ACK waits for the next call.
func (s *Stack) FlushACKs() {
	for _, l := range *s.links.Load() {
		l.flushHeld()
	}
}

// Interface returns the interface called name, or nil.
func (s *Stack) Interface(name string) *Interface {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.ifaces {
		if i.name == name {
			return i
		}
	}
	return nil
}

// Interfaces returns all interfaces in creation order.
func (s *Stack) Interfaces() []*Interface {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*Interface(nil), s.ifaces...)
}

// OnConfigure registers f to run after any interface's Configure (for
// example to point the standard resolver at the new DNS servers).
func (s *Stack) OnConfigure(f func(*Interface, Config)) {
	s.mu.Lock()
	s.hooks = append(s.hooks, f)
	s.mu.Unlock()
}

// DNS returns the DNS servers and search domains of all configured
// interfaces, in interface order, without duplicates.
func (s *Stack) DNS() (servers []netip.Addr, search []string) {
	seenS := map[netip.Addr]bool{}
	seenD := map[string]bool{}
	for _, i := range s.Interfaces() {
		c := i.Config()
		for _, a := range c.DNS {
			if !seenS[a] {
				seenS[a] = true
				servers = append(servers, a)
			}
		}
		if c.Domain != "" && !seenD[c.Domain] {
			seenD[c.Domain] = true
			search = append(search, c.Domain)
		}
	}
	return servers, search
}

// poll is the single receive goroutine: it drains every NIC until Receive
// reports nothing pending, delivers the frames to the stack, and yields. It
// never blocks in firmware and never waits for an interrupt.
func (s *Stack) poll() {
	defer close(s.done)
	var timer *time.Timer
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		links := *s.links.Load()
		got := 0
		for _, l := range links {
			l.flushHeld() // the goroutines the last turn woke have run
			got += l.poll(s.opt.PollBatch)
		}
		switch {
		case got > 0:
			runtime.Gosched()
		case s.opt.Idle != nil:
			s.opt.Idle()
		default:
			if timer == nil {
				timer = time.NewTimer(time.Hour)
			}
			s.idleWait(links, timer)
		}
	}
}

// idleWait blocks until a Readier NIC signals, the link set changes or the
// stack stops; with any non-Readier NIC it only yields.
func (s *Stack) idleWait(links []*linkEndpoint, timer *time.Timer) {
	cases := make([]reflect.SelectCase, 0, len(links)+3)
	for _, l := range links {
		r, ok := l.nic.(Readier)
		if !ok {
			runtime.Gosched()
			return
		}
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(r.Ready())})
	}
	// A backstop timeout keeps a lost wake-up from hanging the stack.
	timer.Reset(100 * time.Millisecond)
	cases = append(cases,
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.stop)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.kick)},
		reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)})
	chosen, _, _ := reflect.Select(cases)
	if chosen != len(cases)-1 && !timer.Stop() {
		select {
		case <-timer.C:
		default:
		}
	}
}
