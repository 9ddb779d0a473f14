//go:build tamago

package ipstack

import (
	"context"
	stdnet "net"
	"net/netip"
	"syscall"
)

// InstallSocketFunc makes s the standard library's network on GOOS=tamago:
// net.Dial, net.Listen, http.Get and tls.Dial then go through s. It also
// keeps the standard resolver's name servers (net.SetDefaultNS) in step with
// the DNS servers that Configure (for example DHCP) sets.
func InstallSocketFunc(s *Stack) {
	stdnet.SocketFunc = func(ctx context.Context, network string, family, sotype int, laddr, raddr stdnet.Addr) (interface{}, error) {
		return s.Socket(ctx, network, sotype == syscall.SOCK_STREAM, laddr, raddr)
	}
	s.OnConfigure(func(*Interface, Config) {
		servers, _ := s.DNS()
		ns := make([]string, 0, len(servers))
		for _, a := range servers {
			ns = append(ns, netip.AddrPortFrom(a, 53).String())
		}
		stdnet.SetDefaultNS(ns)
	})
}
