package ipstack

import (
	"context"
	"errors"
	"fmt"
	stdnet "net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// fullAddr converts an IPv4 (or unspecified) address and port.
func fullAddr(ap netip.AddrPort) (tcpip.FullAddress, error) {
	fa := tcpip.FullAddress{Port: ap.Port()}
	a := ap.Addr().Unmap()
	switch {
	case !a.IsValid() || a.IsUnspecified():
	case a.Is4():
		fa.Addr = tcpip.AddrFrom4(a.As4())
	default:
		return fa, fmt.Errorf("net: %v: only IPv4 is supported", ap)
	}
	return fa, nil
}

// tcpipErr turns a gVisor error into a Go error.
func tcpipErr(e tcpip.Error) error {
	if e == nil {
		return nil
	}
	return errors.New(e.String())
}

// TCPConn is a TCP connection of this stack; its receive buffer is part of
// the stack's receive budget until Close.
type TCPConn struct {
	*gonet.TCPConn // writes, addresses, shutdown
	r              *tcpReader
	ep             tcpip.Endpoint
	b              *budget
	once           sync.Once
	read           *atomic.Uint64 // the stack's count of bytes read
}

func newTCPConn(wq *waiter.Queue, ep tcpip.Endpoint, b *budget, read *atomic.Uint64) *TCPConn {
	return &TCPConn{TCPConn: gonet.NewTCPConn(wq, ep), r: newTCPReader(ep, wq), ep: ep, b: b, read: read}
}

// Read reads from the connection (see tcpReader), counting the bytes for
// ipstat.
func (c *TCPConn) Read(b []byte) (int, error) {
	n, err := c.r.read(b, c)
	c.read.Add(uint64(n))
	return n, err
}

// SetReadDeadline implements net.Conn.
func (c *TCPConn) SetReadDeadline(t time.Time) error {
	c.r.setDeadline(t)
	return nil
}

// SetDeadline implements net.Conn.
func (c *TCPConn) SetDeadline(t time.Time) error {
	c.r.setDeadline(t)
	return c.TCPConn.SetWriteDeadline(t)
}

// Close releases the connection's share of the receive budget and closes it.
func (c *TCPConn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(func() {
		c.b.remove(c.ep)
		c.r.close() // after the endpoint: a blocked Read sees it closed
	})
	return err
}

// ReceiveBuffer returns the connection's current receive buffer size.
func (c *TCPConn) ReceiveBuffer() int { return int(c.ep.SocketOptions().GetReceiveBufferSize()) }

// DialTCP connects to raddr (IPv4) from laddr (zero value: any).
func (s *Stack) DialTCP(ctx context.Context, laddr, raddr netip.AddrPort) (*TCPConn, error) {
	opErr := func(err error) error {
		return &stdnet.OpError{Op: "dial", Net: "tcp", Addr: stdnet.TCPAddrFromAddrPort(raddr), Err: err}
	}
	rfa, err := fullAddr(raddr)
	if err != nil {
		return nil, opErr(err)
	}
	lfa, err := fullAddr(laddr)
	if err != nil {
		return nil, opErr(err)
	}
	var wq waiter.Queue
	ep, terr := s.s.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, opErr(tcpipErr(terr))
	}
	s.budget.add(ep) // before Connect: the SYN carries the window scale
	fail := func(err error) (*TCPConn, error) {
		s.budget.remove(ep)
		ep.Close()
		return nil, opErr(err)
	}
	if lfa != (tcpip.FullAddress{}) {
		if terr := ep.Bind(lfa); terr != nil {
			return fail(tcpipErr(terr))
		}
	}
	we, ch := waiter.NewChannelEntry(waiter.WritableEvents)
	wq.EventRegister(&we)
	defer wq.EventUnregister(&we)
	terr = ep.Connect(rfa)
	if _, ok := terr.(*tcpip.ErrConnectStarted); ok {
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-ch:
		}
		terr = ep.LastError()
	}
	if terr != nil {
		return fail(tcpipErr(terr))
	}
	return newTCPConn(&wq, ep, s.budget, &s.tcpRead), nil
}

// Listener accepts TCP connections; accepted connections join the receive
// budget.
type Listener struct {
	s      *Stack
	ep     tcpip.Endpoint
	wq     *waiter.Queue
	addr   stdnet.Addr
	closed chan struct{}
	once   sync.Once
}

// ListenTCP listens on laddr (address may be unspecified).
func (s *Stack) ListenTCP(laddr netip.AddrPort) (*Listener, error) {
	opErr := func(err error) error {
		return &stdnet.OpError{Op: "listen", Net: "tcp", Addr: stdnet.TCPAddrFromAddrPort(laddr), Err: err}
	}
	fa, err := fullAddr(laddr)
	if err != nil {
		return nil, opErr(err)
	}
	wq := new(waiter.Queue)
	ep, terr := s.s.NewEndpoint(tcp.ProtocolNumber, ipv4.ProtocolNumber, wq)
	if terr != nil {
		return nil, opErr(tcpipErr(terr))
	}
	ep.SocketOptions().SetReceiveBufferSize(int64(s.budget.share(s.budget.count()+1)), true)
	if terr := ep.Bind(fa); terr != nil {
		ep.Close()
		return nil, opErr(tcpipErr(terr))
	}
	if terr := ep.Listen(64); terr != nil {
		ep.Close()
		return nil, opErr(tcpipErr(terr))
	}
	la, _ := ep.GetLocalAddress()
	addr := &stdnet.TCPAddr{IP: stdnet.IP(la.Addr.AsSlice()), Port: int(la.Port)}
	return &Listener{s: s, ep: ep, wq: wq, addr: addr, closed: make(chan struct{})}, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (stdnet.Conn, error) {
	we, ch := waiter.NewChannelEntry(waiter.ReadableEvents)
	l.wq.EventRegister(&we)
	defer l.wq.EventUnregister(&we)
	for {
		ep, wq, terr := l.ep.Accept(nil)
		if _, ok := terr.(*tcpip.ErrWouldBlock); ok {
			select {
			case <-ch:
				continue
			case <-l.closed:
				return nil, &stdnet.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: stdnet.ErrClosed}
			}
		}
		if terr != nil {
			return nil, &stdnet.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: tcpipErr(terr)}
		}
		l.s.budget.add(ep)
		return newTCPConn(wq, ep, l.s.budget, &l.s.tcpRead), nil
	}
}

// Close stops listening.
func (l *Listener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.ep.Close()
	})
	return nil
}

// Addr returns the listening address.
func (l *Listener) Addr() stdnet.Addr { return l.addr }

// ListenUDP opens a UDP socket bound to laddr.
func (s *Stack) ListenUDP(laddr netip.AddrPort) (*gonet.UDPConn, error) {
	fa, err := fullAddr(laddr)
	if err != nil {
		return nil, &stdnet.OpError{Op: "listen", Net: "udp", Addr: stdnet.UDPAddrFromAddrPort(laddr), Err: err}
	}
	c, err := gonet.DialUDP(s.s, &fa, nil, ipv4.ProtocolNumber)
	if err != nil {
		return nil, &stdnet.OpError{Op: "listen", Net: "udp", Addr: stdnet.UDPAddrFromAddrPort(laddr), Err: err}
	}
	return c, nil
}

// DialUDP opens a UDP socket connected to raddr, bound to laddr (zero: any).
func (s *Stack) DialUDP(laddr, raddr netip.AddrPort) (*gonet.UDPConn, error) {
	opErr := func(err error) error {
		return &stdnet.OpError{Op: "dial", Net: "udp", Addr: stdnet.UDPAddrFromAddrPort(raddr), Err: err}
	}
	rfa, err := fullAddr(raddr)
	if err != nil {
		return nil, opErr(err)
	}
	var lp *tcpip.FullAddress
	if laddr.IsValid() {
		lfa, err := fullAddr(laddr)
		if err != nil {
			return nil, opErr(err)
		}
		lp = &lfa
	}
	c, err := gonet.DialUDP(s.s, lp, &rfa, ipv4.ProtocolNumber)
	if err != nil {
		return nil, opErr(err)
	}
	return c, nil
}

// DialContext dials "tcp", "tcp4", "udp" or "udp4" to a literal IPv4
// address:port. It does not resolve names: use the dns package (fetch does).
func (s *Stack) DialContext(ctx context.Context, network, address string) (stdnet.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, &stdnet.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%q is not an IP:port (resolve names first): %v", address, err)}
	}
	switch network {
	case "tcp", "tcp4":
		return s.DialTCP(ctx, netip.AddrPort{}, ap)
	case "udp", "udp4":
		return s.DialUDP(netip.AddrPort{}, ap)
	}
	return nil, &stdnet.OpError{Op: "dial", Net: network, Err: stdnet.UnknownNetworkError(network)}
}

// BootstrapUDP opens a UDP socket on this interface that can send to and
// receive from the limited broadcast address before the interface has an
// address (source 0.0.0.0), as DHCP needs (RFC 2131 section 4.1). While it
// is open the interface is promiscuous so that replies unicast to the
// offered address arrive too. Close restores the interface.
func (i *Interface) BootstrapUDP(port uint16) (stdnet.PacketConn, error) {
	s := i.stack.s
	fail := func(what string, e tcpip.Error) (stdnet.PacketConn, error) {
		return nil, fmt.Errorf("net: %s: bootstrap UDP port %d: %s: %s", i.name, port, what, e)
	}
	any4 := tcpip.ProtocolAddress{Protocol: ipv4.ProtocolNumber, AddressWithPrefix: tcpip.AddressWithPrefix{Address: tcpip.AddrFrom4([4]byte{}), PrefixLen: 0}}
	if e := s.AddProtocolAddress(i.id, any4, stackAddrProps); e != nil {
		if _, dup := e.(*tcpip.ErrDuplicateAddress); !dup {
			return fail("adding 0.0.0.0", e)
		}
	}
	undo := func() {
		s.RemoveAddress(i.id, any4.AddressWithPrefix.Address)
		s.SetPromiscuousMode(i.id, false)
	}
	s.SetPromiscuousMode(i.id, true)
	var wq waiter.Queue
	ep, e := s.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if e != nil {
		undo()
		return fail("new endpoint", e)
	}
	ep.SocketOptions().SetBroadcast(true)
	if e := ep.SocketOptions().SetBindToDevice(int32(i.id)); e != nil {
		ep.Close()
		undo()
		return fail("bind to device", e)
	}
	if e := ep.Bind(tcpip.FullAddress{NIC: i.id, Port: port}); e != nil {
		ep.Close()
		undo()
		return fail("bind", e)
	}
	return &bootstrapConn{UDPConn: gonet.NewUDPConn(&wq, ep), undo: undo}, nil
}

type bootstrapConn struct {
	*gonet.UDPConn
	once sync.Once
	undo func()
}

func (c *bootstrapConn) Close() error {
	err := c.UDPConn.Close()
	c.once.Do(c.undo)
	return err
}

// ListenUDPBroadcast opens a UDP socket bound to laddr on ifc that may send
// to broadcast addresses (SO_BROADCAST), e.g. for a DHCP or TFTP server peer
// in tests, or ProxyDHCP.
func (s *Stack) ListenUDPBroadcast(ifc *Interface, laddr netip.AddrPort) (*gonet.UDPConn, error) {
	opErr := func(err error) error {
		return &stdnet.OpError{Op: "listen", Net: "udp", Addr: stdnet.UDPAddrFromAddrPort(laddr), Err: err}
	}
	fa, err := fullAddr(laddr)
	if err != nil {
		return nil, opErr(err)
	}
	var wq waiter.Queue
	ep, terr := s.s.NewEndpoint(udp.ProtocolNumber, ipv4.ProtocolNumber, &wq)
	if terr != nil {
		return nil, opErr(tcpipErr(terr))
	}
	ep.SocketOptions().SetBroadcast(true)
	if terr := ep.SocketOptions().SetBindToDevice(int32(ifc.id)); terr != nil {
		ep.Close()
		return nil, opErr(tcpipErr(terr))
	}
	fa.NIC = ifc.id
	if terr := ep.Bind(fa); terr != nil {
		ep.Close()
		return nil, opErr(tcpipErr(terr))
	}
	return gonet.NewUDPConn(&wq, ep), nil
}
