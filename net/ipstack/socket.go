package ipstack

import (
	"context"
	"fmt"
	stdnet "net"
	"net/netip"
)

// Socket implements the body of TamaGo's net.SocketFunc (see
// InstallSocketFunc, GOOS=tamago only): it returns a net.Conn for a dial, a
// net.Listener for a stream socket with only a local address, and a
// net.PacketConn for a datagram socket with only a local address. stream
// tells SOCK_STREAM from SOCK_DGRAM.
func (s *Stack) Socket(ctx context.Context, network string, stream bool, laddr, raddr stdnet.Addr) (any, error) {
	la, err := addrPort(laddr)
	if err != nil {
		return nil, fmt.Errorf("net: socket %s: local address: %w", network, err)
	}
	ra, err := addrPort(raddr)
	if err != nil {
		return nil, fmt.Errorf("net: socket %s: remote address: %w", network, err)
	}
	switch {
	case stream && ra.IsValid():
		return s.DialTCP(ctx, la, ra)
	case stream:
		return s.ListenTCP(la)
	case ra.IsValid():
		return s.DialUDP(la, ra)
	default:
		return s.ListenUDP(la)
	}
}

// addrPort converts a *net.TCPAddr / *net.UDPAddr (nil: invalid AddrPort).
func addrPort(a stdnet.Addr) (netip.AddrPort, error) {
	var ip stdnet.IP
	var port int
	switch a := a.(type) {
	case nil:
		return netip.AddrPort{}, nil
	case *stdnet.TCPAddr:
		if a == nil {
			return netip.AddrPort{}, nil
		}
		ip, port = a.IP, a.Port
	case *stdnet.UDPAddr:
		if a == nil {
			return netip.AddrPort{}, nil
		}
		ip, port = a.IP, a.Port
	default:
		return netip.AddrPort{}, fmt.Errorf("unsupported address type %T", a)
	}
	if len(ip) == 0 {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), nil
	}
	addr, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("bad IP %v", ip)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}
